#pragma once
// The linear least-squares problem of the paper's §6.1, eq. 15:
//   F(X) = 1/2 <X - S, A (X - S) B>,  grad F(X) = A (X - S) B   (A, B symmetric PSD)
// with spectra of A (m x m) and B (n x n) uniform on (0, 1) in random orthogonal bases, S = 0,
// and X0 with i.i.d. N(0, init_std^2) entries. The paper calls A and B "M" and "N".
#include <ATen/ATen.h>

#include <cstdint>

namespace fanion::app {

struct LsqProblem {
  at::Tensor A, B, S, X0;
  double loss(const at::Tensor& X) const;
  at::Tensor grad(const at::Tensor& X) const;
};

struct LsqConfig {
  int64_t m = 500;
  int64_t n = 500;
  uint64_t seed = 0;
  double init_std = 0.1;  ///< the paper's N(0, 0.01) read as variance 0.01
  at::ScalarType dtype = at::kDouble;
};

/// Deterministic for a given config (own generator; the global RNG is untouched).
LsqProblem make_lsq_problem(const LsqConfig& config);

}  // namespace fanion::app
