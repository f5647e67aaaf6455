#pragma once
// The exact path shared by the polar factor, top-k and Schatten directions: one SVD in fp64,
// truncated to the numerical rank so that directions are unique and d(0) = 0.
#include <ATen/ATen.h>

namespace fanion::detail {

struct TruncatedSvd {
  at::Tensor U;  ///< m x r, fp64
  at::Tensor S;  ///< r, descending, fp64
  at::Tensor V;  ///< n x r, fp64
};

/// Singular triplets with sigma_i > tol * sigma_1, where tol is the larger of `rel_rank_tol`
/// and max(m, n) * eps(dtype of M) (the usual numerical-rank rule: an fp32 matrix carries
/// rounding noise at that level).
TruncatedSvd truncated_svd(const at::Tensor& M, double rel_rank_tol);

/// The same from the Gram matrix of the smaller side and a symmetric eigensolver, in fp64:
/// 2-3x cheaper than an SVD on the CPU. Squaring costs accuracy below sqrt(eps) * sigma_1,
/// so singular values under max(rel_rank_tol, kGramRankTol) * sigma_1 count as zero.
inline constexpr double kGramRankTol = 1e-6;
/// `dtype` kFloat trades accuracy (singular values under ~1e-3 * sigma_1 dropped) for a 2x
/// faster eigensolver: what `auto` uses for fp32 inputs.
TruncatedSvd gram_svd(const at::Tensor& M, double rel_rank_tol, at::ScalarType dtype = at::kDouble);

}  // namespace fanion::detail
