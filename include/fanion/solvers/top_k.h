#pragma once
// Top-k singular triplets of a matrix (Neon and Fanion-k, paper eq. 10).
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

#include "fanion/solvers/status.h"

namespace fanion {

enum class TopKMethod {
  kAuto,   ///< chosen by shape and k
  kExact,  ///< full SVD (fp64 when the input is fp64, else the input dtype)
};

struct TopKOptions {
  TopKMethod method = TopKMethod::kAuto;
  double tol = 1e-6;        ///< subspace tolerance for iterative methods
  int64_t max_passes = 200;  ///< pass budget for iterative methods
  uint64_t seed = 0;         ///< random starts are seeded (DESIGN.md §5)
  /// Singular values at or below rel_rank_tol * sigma_1 are dropped: k is clamped to the
  /// numerical rank so that the direction stays unique and d(0) = 0.
  double rel_rank_tol = 1e-12;

  TopKOptions& set_method(TopKMethod m) { method = m; return *this; }
  TopKOptions& set_tol(double t) { tol = t; return *this; }
  TopKOptions& set_max_passes(int64_t p) { max_passes = p; return *this; }
  TopKOptions& set_seed(uint64_t s) { seed = s; return *this; }
};

struct TopKResult {
  at::Tensor U;  ///< m x r, r = min(k, numerical rank)
  at::Tensor S;  ///< r, descending
  at::Tensor V;  ///< n x r
  SolverStats stats;
};

/// Top-k singular triplets of a 2-D tensor. `warm_start` (n x k', optional) is a guess of
/// the right singular basis, used by iterative methods. Never mutates its inputs.
TopKResult top_k_svd(const at::Tensor& M, int64_t k, const TopKOptions& options = {},
                     const at::Tensor& warm_start = {});

}  // namespace fanion
