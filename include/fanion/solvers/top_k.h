#pragma once
// Top-k singular triplets of a matrix (Neon and Fanion-k, paper eq. 10).
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fanion/solvers/status.h"

namespace fanion {

enum class TopKMethod {
  kAuto,               ///< chosen by shape and k (see top_k_auto_method)
  kExact,              ///< full SVD in fp64
  kGram,               ///< Gram matrix + eigh in fp64 (see PolarMethod::kGram)
  kLanczos,            ///< thick-restart Golub–Kahan–Lanczos (block size 1)
  kBlockKrylov,        ///< thick-restart block Golub–Kahan (block Krylov): fewest passes
  kSubspaceIteration,  ///< block power iteration with Rayleigh–Ritz; warm-startable
};

/// "exact", "gram", "lanczos", "block_krylov", "subspace", "auto".
std::string to_string(TopKMethod m);
TopKMethod top_k_method_from_string(const std::string& name);

struct TopKOptions {
  TopKMethod method = TopKMethod::kAuto;
  /// Iterative methods stop when the estimated sine of the angle between the computed and
  /// the exact top-k subspaces, max_i ||M^T u_i - s_i v_i|| / (s_k - s_{k+1}), is <= tol.
  double tol = 1e-6;
  int64_t max_passes = 1000;  ///< budget of passes over M (one block product = one pass)
  int64_t block_size = 0;     ///< block Krylov / subspace iteration; 0 = auto
  int64_t max_basis = 0;      ///< Krylov basis size before a thick restart; 0 = auto
  uint64_t seed = 0;          ///< random starts are seeded (docs/design.md §5)
  /// Singular values at or below rel_rank_tol * sigma_1 are dropped: k is clamped to the
  /// numerical rank so that the direction stays unique and d(0) = 0.
  double rel_rank_tol = 1e-12;

  // One chainable setter per line (kept by hand).
  // clang-format off
  TopKOptions& set_method(TopKMethod m) { method = m; return *this; }
  TopKOptions& set_tol(double t) { tol = t; return *this; }
  TopKOptions& set_max_passes(int64_t p) { max_passes = p; return *this; }
  TopKOptions& set_seed(uint64_t s) { seed = s; return *this; }
  TopKOptions& set_block_size(int64_t b) { block_size = b; return *this; }
  TopKOptions& set_max_basis(int64_t d) { max_basis = d; return *this; }
  // clang-format on
};

struct TopKResult {
  at::Tensor U;  ///< m x r, r = min(k, numerical rank)
  at::Tensor S;  ///< r, descending
  at::Tensor V;  ///< n x r
  SolverStats stats;
};

/// Top-k singular triplets of a 2-D tensor. `warm_start` (n x k', optional) is a guess of
/// the right singular basis, used by iterative methods. Never mutates its inputs.
/// The method kAuto resolves to for an m x n matrix and rank k.
TopKMethod top_k_auto_method(int64_t m, int64_t n, int64_t k);

/// Whether a method uses the warm_start argument.
bool accepts_warm_start(TopKMethod m);

TopKResult top_k_svd(const at::Tensor& M, int64_t k, const TopKOptions& options = {},
                     const at::Tensor& warm_start = {});

}  // namespace fanion
