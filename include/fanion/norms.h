#pragma once
// Matrix norms of the paper (§2–§4). Every function accepts a tensor of rank >= 1 and
// measures its matrix view (fanion::as_matrix). Results are doubles computed in fp64.
#include <ATen/ATen.h>

#include <cstdint>

namespace fanion::norms {

double frobenius(const at::Tensor& M);  ///< sqrt(sum M_ij^2)
double spectral(const at::Tensor& M);   ///< sigma_1
double nuclear(const at::Tensor& M);    ///< sum_i sigma_i
/// Ky Fan k-norm: sum of the k largest singular values (k is clamped to min(m, n)).
double ky_fan(const at::Tensor& M, int64_t k);
/// Dual of the Ky Fan k-norm: max(||M||_* / k, ||M||_2) (the Fanion-k primal norm, Lemma 2).
double ky_fan_dual(const at::Tensor& M, int64_t k);
double chebyshev(const at::Tensor& M);  ///< max_ij |M_ij|
double l1(const at::Tensor& M);         ///< sum_ij |M_ij| (entrywise)
/// Schatten-p: ||sigma||_p for p in [1, inf]; p = inf gives the spectral norm.
double schatten(const at::Tensor& M, double p);

/// The norm whose unit ball F-Fanion-k steps in: the dual of alpha ||.||_KF-k + (1 - alpha)
/// ||.||_F, whose ball is the Minkowski sum alpha B_{KF-k dual} + (1 - alpha) B_F (Lemma 3):
///   min t  s.t.  ||Z||_{KF-k dual} <= alpha t,  ||M - Z||_F <= (1 - alpha) t.
/// k = min(m, n) is F-Muon's (the paper's ||.||_{F*}^dagger, eq. 16), k = 1 F-Neon's
/// (||.||_{F2}^dagger, eq. 17). No closed form: on the singular values, a bisection on t around
/// the exact distance to the scaled KF-k dual ball (itself a bisection), to ~1e-14 relative.
/// alpha in [0, 1]; alpha = 0 gives ||M||_F, alpha = 1 ky_fan_dual(M, k).
double f_fanion_primal(const at::Tensor& M, int64_t k, double alpha);

/// Singular values of the matrix view, descending, fp64 — shared by the norms above.
at::Tensor singular_values(const at::Tensor& M);

}  // namespace fanion::norms
