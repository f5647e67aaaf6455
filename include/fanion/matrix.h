#pragma once
// How tensors of any rank are seen as matrices (docs/design.md §2).
#include <ATen/ATen.h>

#include <string>

namespace fanion {

/// The matrix view of a weight: 2-D stays as is, N-D `(out, d1, d2, ...)` becomes
/// `(out, d1*d2*...)` (conv filters), 1-D becomes a `1 x n` row. 0-D is an error.
at::Tensor as_matrix(const at::Tensor& t);

/// "[3, 4]" — used in error messages.
std::string shape_string(const at::Tensor& t);

/// The dtype directions are computed in when the caller does not choose one:
/// fp64 stays fp64, everything else is computed in fp32 (docs/design.md §2, precision).
at::ScalarType default_compute_dtype(at::ScalarType param_dtype);

}  // namespace fanion
