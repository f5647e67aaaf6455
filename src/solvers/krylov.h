#pragma once
// Iterative top-k solvers (docs/design.md §3). Internal: top_k_svd dispatches to these.
#include <ATen/ATen.h>

#include "fanion/solvers/top_k.h"

namespace fanion::detail {

/// Thick-restart block Golub–Kahan bidiagonalization with full reorthogonalization.
/// Block size 1 is thick-restart Lanczos; larger blocks trade matvecs for fewer passes.
TopKResult block_golub_kahan(const at::Tensor& M, int64_t k, int64_t block,
                             const TopKOptions& options, const at::Tensor& warm_start);

/// Subspace (block power) iteration on M^T M with a Rayleigh–Ritz step every iteration.
TopKResult subspace_iteration(const at::Tensor& M, int64_t k, int64_t block,
                              const TopKOptions& options, const at::Tensor& warm_start);

}  // namespace fanion::detail
