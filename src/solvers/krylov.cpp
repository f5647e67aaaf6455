#include "krylov.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace fanion::detail {
namespace {

double machine_eps(at::ScalarType t) {
  return t == at::kDouble ? 2.220446049250313e-16 : 1.1920928955078125e-07;
}

// Seeded Gaussian block, drawn on the CPU so that every device gets the same numbers.
at::Tensor random_block(int64_t rows, int64_t cols, uint64_t seed, const at::Tensor& like) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, cols}, gen, at::TensorOptions().dtype(at::kDouble)).to(like.options());
}

// Columns of W made orthonormal and orthogonal to the orthonormal columns of Q (classical
// Gram–Schmidt twice, then QR). A column that vanishes — the Krylov space is exhausted, M is
// rank deficient — is replaced by a fresh random direction so that the basis keeps its size.
at::Tensor orthonormalize(at::Tensor W, const at::Tensor& Q, uint64_t seed) {
  const double eps = machine_eps(W.scalar_type());
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto norms_before = W.norm(2, {0});
    for (int round = 0; round < 2; ++round) {
      if (Q.defined() && Q.size(1) > 0)
        W = at::addmm(W, Q, at::matmul(Q.transpose(0, 1), W), 1, -1);
    }
    if (W.size(1) == 1) {
      // One column (Lanczos): a norm is all QR would do, at a fraction of the overhead.
      const double before = norms_before.item<double>(), after = W.norm().item<double>();
      if (after > std::max(before, eps) * 100.0 * eps * W.size(0)) return W / after;
      W = random_block(W.size(0), 1, seed + 7919 * (attempt + 1), W);
      continue;
    }
    auto [Qw, R] = at::linalg_qr(W, "reduced");
    const auto diag = R.diagonal().abs();
    const auto lost = diag.le(norms_before.clamp_min(eps) * (100.0 * eps * W.size(0)));
    if (!lost.any().item<bool>()) return Qw;
    // Refill the lost columns with random vectors and orthonormalize again.
    const auto fresh = random_block(W.size(0), W.size(1), seed + 7919 * (attempt + 1), W);
    W = at::where(lost.unsqueeze(0), fresh, Qw);
  }
  return std::get<0>(at::linalg_qr(W, "reduced"));  // best effort; the caller's residuals will tell
}

struct Ritz {
  at::Tensor X, S, Y;  // T = X diag(S) Y^T for the projected matrix T = U^T M V
};

Ritz ritz(const at::Tensor& AtU, const at::Tensor& V) {
  // T = U^T M V = (M^T U)^T V, computed from the stored M^T U so no pass over M is needed.
  auto [X, S, Yh] = at::linalg_svd(at::matmul(AtU.transpose(0, 1), V), false);
  return {X, S, Yh.transpose(0, 1)};
}

// max_i ||M^T u_i - s_i v_i|| / gap for the top k Ritz triplets: a Wedin-type bound on the
// sine of the angle to the exact top-k subspace (Ritz values estimate s_{k+1}).
double subspace_error(const at::Tensor& AtU, const at::Tensor& V, const Ritz& r, int64_t k,
                      double* residual_out) {
  // Below the numerical rank there is nothing to converge to: test the nonzero part only.
  const double rank_tol =
      machine_eps(V.scalar_type()) * static_cast<double>(std::max(AtU.size(0), V.size(0))) * 10.0;
  const int64_t nonzero =
      r.S.narrow(0, 0, k).gt(rank_tol * r.S[0].item<double>()).sum().item<int64_t>();
  if (nonzero == 0) return 0.0;
  k = nonzero;
  const auto Xk = r.X.narrow(1, 0, k), Yk = r.Y.narrow(1, 0, k), Sk = r.S.narrow(0, 0, k);
  const auto R = at::matmul(AtU, Xk) - at::matmul(V, Yk) * Sk;
  const double res = R.norm(2, {0}).max().item<double>();
  const double s1 = r.S[0].item<double>();
  const double sk = r.S[k - 1].item<double>();
  const double sk1 = r.S.numel() > k ? r.S[k].item<double>() : 0.0;
  const double gap = std::max(sk - sk1, machine_eps(V.scalar_type()) * s1);
  if (residual_out) *residual_out = res;
  // Residuals cannot fall below rounding: once they reach it the subspace is as accurate as
  // this dtype allows, and the test passes whatever the gap.
  const double floor =
      10.0 * std::sqrt(static_cast<double>(V.size(0))) * machine_eps(V.scalar_type()) * s1;
  if (res <= floor) return 0.0;
  return s1 > 0 ? res / gap : 0.0;
}

TopKResult finish(const at::Tensor& U, const at::Tensor& V, const Ritz& r, int64_t k,
                  double rel_rank_tol, SolverStats stats) {
  // Clamp to the numerical rank, as the exact path does.
  const double s1 = r.S.numel() ? r.S[0].item<double>() : 0.0;
  const double tol =
      std::max(rel_rank_tol,
               machine_eps(V.scalar_type()) * static_cast<double>(std::max(U.size(0), V.size(0))));
  const int64_t rank = s1 > 0 ? r.S.narrow(0, 0, k).gt(tol * s1).sum().item<int64_t>() : 0;
  TopKResult out;
  out.U = at::matmul(U, r.X.narrow(1, 0, rank));
  out.V = at::matmul(V, r.Y.narrow(1, 0, rank));
  out.S = r.S.narrow(0, 0, rank).clone();
  out.stats = stats;
  if (!at::isfinite(out.S).all().item<bool>()) out.stats.status = SolverStatus::kNumericalIssue;
  return out;
}

at::Tensor start_block(const at::Tensor& M, int64_t block, const at::Tensor& warm, uint64_t seed) {
  const int64_t n = M.size(1);
  // A warm basis enters whole (the first block may be wider than the rest).
  const bool use_warm = warm.defined() && warm.dim() == 2 && warm.size(0) == n && warm.size(1) > 0;
  const int64_t w = use_warm ? std::min(warm.size(1), std::min(M.size(0), n)) : 0;
  at::Tensor V0 = random_block(n, std::max(block, w), seed, M);
  if (w > 0) V0.narrow(1, 0, w).copy_(warm.narrow(1, 0, w));
  return orthonormalize(V0, at::Tensor(), seed + 1);
}

}  // namespace

TopKResult block_golub_kahan(const at::Tensor& M, int64_t k, int64_t block,
                             const TopKOptions& options, const at::Tensor& warm_start) {
  const int64_t m = M.size(0), n = M.size(1), p = std::min(m, n);
  const at::Tensor Mt = M.transpose(0, 1);
  at::Tensor V = start_block(M, block, warm_start, options.seed);  // n x d (+ next block)
  // A wider warm block makes this a block method: the residuals of all its Ritz vectors
  // must enter the next block, or the Krylov structure (and convergence) is lost.
  block = V.size(1);
  // Room for the wanted triplets, a buffer of the next ones, and a few blocks of new search
  // directions; the restart keeps `keep` Ritz vectors (thick restart).
  int64_t max_dim = options.max_basis > 0
                        ? options.max_basis
                        : std::max<int64_t>(3 * k, k + std::max<int64_t>(30, 8 * block));
  max_dim = std::min(max_dim, p);
  max_dim = std::max(max_dim, std::min(p, k + block));
  const int64_t keep = std::min<int64_t>(std::max<int64_t>(k + (max_dim - k) / 3, k),
                                         std::max<int64_t>(max_dim - block, k));

  // Work of one iteration (two block products) in flops, to pace the O(d^3) projected SVDs.
  const double pass_work = 4.0 * static_cast<double>(m) * static_cast<double>(n) * block;
  double work_since_check = 0.0;
  const int64_t min_interval = (4 + block - 1) / block;
  SolverStats stats;
  stats.status = SolverStatus::kNotConverged;
  at::Tensor U = at::empty({m, 0}, M.options());
  at::Tensor AtU = at::empty({n, 0}, M.options());
  Ritz r;
  uint64_t seed = options.seed + 100;
  while (true) {
    const at::Tensor Vj = V.narrow(1, U.size(1), V.size(1) - U.size(1));
    at::Tensor Uj = orthonormalize(at::matmul(M, Vj), U, seed++);
    at::Tensor Zj = at::matmul(Mt, Uj);
    stats.passes += 2;
    stats.matvecs += 2 * Vj.size(1);
    stats.iterations += 1;
    U = at::cat({U, Uj}, 1);
    AtU = at::cat({AtU, Zj}, 1);
    const int64_t d = V.size(1);
    const int64_t next = std::min(block, p - d);
    const bool restart = d + next > max_dim && d > keep;
    const bool last = stats.passes + 2 > options.max_passes || next <= 0;
    // The projected SVD costs O(d^3): test convergence once the passes since the last test
    // outweigh it (every iteration for small bases), always before a restart or giving up.
    work_since_check += pass_work;
    // (A small dense SVD runs ~10x slower per flop than a matrix product: weigh it so.)
    const double svd_work = 20.0 * static_cast<double>(d) * static_cast<double>(d) * d;
    // Narrow blocks: bookkeeping, not flops, dominates small problems; test every
    // ceil(4 / block) iterations at most (an overshoot of a few matvecs).
    const bool due = work_since_check >= svd_work && stats.iterations % min_interval == 0;
    if (d >= k && (restart || last || due)) {
      work_since_check = 0.0;
      r = ritz(AtU, V);
      const double err = subspace_error(AtU, V, r, k, &stats.residual);
      if (!std::isfinite(err)) {
        stats.status = SolverStatus::kNumericalIssue;
        break;
      }
      if (err <= options.tol || d >= p) {
        stats.status = SolverStatus::kConverged;
        stats.residual = err;
        break;
      }
      stats.residual = err;
    }
    if (last) {
      if (!r.S.defined() || r.S.numel() != d) r = ritz(AtU, V);
      break;
    }
    // Next block: the new directions M^T U_j brings, orthogonal to the basis so far.
    at::Tensor Vnext = orthonormalize(Zj.narrow(1, 0, next), V, seed++);
    if (restart) {
      // Thick restart: keep the best `keep` Ritz pairs; the residuals of all of them lie in
      // span(Vnext), so the Krylov structure carries over.
      U = at::matmul(U, r.X.narrow(1, 0, keep));
      AtU = at::matmul(AtU, r.X.narrow(1, 0, keep));
      V = at::matmul(V, r.Y.narrow(1, 0, keep));
      stats.matmuls += 3;
    }
    V = at::cat({V, Vnext}, 1);
  }
  return finish(U, V.narrow(1, 0, U.size(1)), r, std::min<int64_t>(k, r.S.numel()),
                options.rel_rank_tol, stats);
}

TopKResult subspace_iteration(const at::Tensor& M, int64_t k, int64_t block,
                              const TopKOptions& options, const at::Tensor& warm_start) {
  const at::Tensor Mt = M.transpose(0, 1);
  SolverStats stats;
  stats.status = SolverStatus::kNotConverged;
  at::Tensor V = start_block(M, block, warm_start, options.seed);
  at::Tensor U, Z;
  Ritz r;
  uint64_t seed = options.seed + 100;
  while (true) {
    // M V = U R, R = X S Y^T  =>  M (V Y) = (U X) S: Ritz triplets of span(V).
    auto [Uq, R] = at::linalg_qr(at::matmul(M, V), "reduced");
    U = Uq;
    Z = at::matmul(Mt, U);
    stats.passes += 2;
    stats.matvecs += 2 * V.size(1);
    stats.iterations += 1;
    auto [X, S, Yh] = at::linalg_svd(R, false);
    r = {X, S, Yh.transpose(0, 1)};
    const double err = subspace_error(Z, V, r, k, &stats.residual);
    if (!std::isfinite(err)) {
      stats.status = SolverStatus::kNumericalIssue;
      break;
    }
    stats.residual = err;
    if (err <= options.tol) {
      stats.status = SolverStatus::kConverged;
      break;
    }
    if (stats.passes + 2 > options.max_passes) break;
    V = orthonormalize(Z, at::Tensor(), seed++);  // V <- orth(M^T M V)
  }
  return finish(U, V, r, k, options.rel_rank_tol, stats);
}

}  // namespace fanion::detail
