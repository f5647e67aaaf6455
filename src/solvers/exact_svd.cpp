#include "exact_svd.h"

#include <algorithm>

namespace fanion::detail {

TruncatedSvd truncated_svd(const at::Tensor& M, double rel_rank_tol) {
  const int64_t m = M.size(0), n = M.size(1);
  const double eps = M.scalar_type() == at::kDouble  ? 2.220446049250313e-16
                     : M.scalar_type() == at::kFloat ? 1.1920928955078125e-07
                                                     : 7.8125e-03;  // bf16 / fp16
  const double tol = std::max(rel_rank_tol, static_cast<double>(std::max(m, n)) * eps);
  auto [U, S, Vh] = at::linalg_svd(M.to(at::kDouble), /*full_matrices=*/false);
  int64_t r = 0;
  if (S.numel() > 0) {
    const double s1 = S[0].item<double>();
    r = s1 > 0 ? S.gt(tol * s1).sum().item<int64_t>() : 0;
  }
  return {U.narrow(1, 0, r), S.narrow(0, 0, r), Vh.narrow(0, 0, r).transpose(0, 1)};
}

TruncatedSvd gram_svd(const at::Tensor& M, double rel_rank_tol, at::ScalarType dtype) {
  const bool wide = M.size(0) < M.size(1);
  const at::Tensor A = (wide ? M.transpose(0, 1) : M).to(dtype);            // tall: n <= m
  auto [evals, evecs] = at::linalg_eigh(at::matmul(A.transpose(0, 1), A));  // ascending
  const at::Tensor S_all = evals.flip(0).clamp_min(0).sqrt();
  const at::Tensor V_all = evecs.flip(1);
  // Squaring: eigenvalue errors of eps * sigma_1^2 become singular-value errors of
  // sqrt(eps) * sigma_1 (1.5e-8 in fp64, 3.5e-4 in fp32).
  const double tol =
      std::max({rel_rank_tol, kGramRankTol, dtype == at::kDouble ? 0.0 : 4.0 * 3.4526698e-4});
  int64_t r = 0;
  if (S_all.numel() > 0) {
    const double s1 = S_all[0].item<double>();
    r = s1 > 0 ? S_all.gt(tol * s1).sum().item<int64_t>() : 0;
  }
  const at::Tensor S = S_all.narrow(0, 0, r), V = V_all.narrow(1, 0, r);
  at::Tensor U = at::matmul(A, V) / S;
  // One re-orthonormalization pass: U = A V / S inherits the Gram matrix's rounding.
  if (r > 0) {
    auto [Q, R] = at::linalg_qr(U, "reduced");
    U = Q * at::sign(R.diagonal());
  }
  if (wide) return {V, S, U};
  return {U, S, V};
}

}  // namespace fanion::detail
