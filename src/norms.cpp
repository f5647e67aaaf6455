#include "fanion/norms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fanion/matrix.h"

namespace fanion::norms {
namespace {

at::Tensor as_fp64_matrix(const at::Tensor& M) { return as_matrix(M).to(at::kDouble); }

int64_t check_k(int64_t k) {
  if (k < 1) throw std::invalid_argument("fanion::norms: k must be >= 1, got " + std::to_string(k));
  return k;
}

/// Bisection of [lo, hi] down to one ulp: `below(x)` is true left of the boundary and false
/// right of it; returns the smallest x found where it is false (hi if none was tried).
template <class Below>
double bisect(double lo, double hi, Below below) {
  for (int it = 0; it < 200; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;  // the interval is one ulp wide
    (below(mid) ? lo : hi) = mid;
  }
  return hi;
}

/// Distance (Euclidean) from y >= 0 to the ball {z : |z_i| <= c, sum |z_i| <= k c} (the KF-k
/// dual ball of radius c in singular-value space). Its projection is
/// z_i = min(c, (y_i - tau)_+), tau >= 0 the smallest shift with sum z_i <= k c.
double distance_to_ky_fan_dual_ball(const std::vector<double>& y, int64_t k, double c) {
  auto mass = [&](double tau) {
    double m = 0.0;
    for (double v : y) m += std::min(c, std::max(0.0, v - tau));
    return m;
  };
  const double cap = static_cast<double>(k) * c;
  const double tau = mass(0.0) > cap ? bisect(0.0, *std::max_element(y.begin(), y.end()),
                                              [&](double t) { return mass(t) > cap; })
                                     : 0.0;
  double d2 = 0.0;
  for (double v : y) {
    const double r = v - std::min(c, std::max(0.0, v - tau));
    d2 += r * r;
  }
  return std::sqrt(d2);
}

}  // namespace

double f_fanion_primal(const at::Tensor& M, int64_t k, double alpha) {
  check_k(k);
  if (!(alpha >= 0.0 && alpha <= 1.0)) {
    throw std::invalid_argument("fanion::norms::f_fanion_primal: alpha must be in [0, 1], got " +
                                std::to_string(alpha));
  }
  if (alpha == 0.0) return frobenius(M);
  if (alpha == 1.0) return ky_fan_dual(M, k);
  const at::Tensor s = singular_values(M);
  if (s.numel() == 0) return 0.0;
  // Work at unit scale (the norm is homogeneous): the largest singular value is 1.
  const double s1 = s[0].item<double>();
  if (s1 == 0.0) return 0.0;
  const at::Tensor unit = (s / s1).contiguous();
  const std::vector<double> y(unit.data_ptr<double>(), unit.data_ptr<double>() + unit.numel());
  // g(t) = dist(y, alpha t B) - (1 - alpha) t is strictly decreasing; its root is the norm.
  // Z = 0 and Z = M are feasible, so the root is below both ||y||_F / (1 - alpha) and
  // ||y||_{KF-k dual} / alpha.
  double fro = 0.0, sum = 0.0;
  for (double v : y) fro += v * v, sum += v;
  const double hi =
      std::min(std::sqrt(fro) / (1.0 - alpha), std::max(sum / static_cast<double>(k), 1.0) / alpha);
  return s1 * bisect(0.0, hi, [&](double t) {
           return distance_to_ky_fan_dual_ball(y, k, alpha * t) > (1.0 - alpha) * t;
         });
}

at::Tensor singular_values(const at::Tensor& M) { return at::linalg_svdvals(as_fp64_matrix(M)); }

double frobenius(const at::Tensor& M) {
  return as_fp64_matrix(M).pow(2).sum().sqrt().item<double>();
}

double spectral(const at::Tensor& M) {
  auto s = singular_values(M);
  return s.numel() ? s[0].item<double>() : 0.0;
}

double nuclear(const at::Tensor& M) { return singular_values(M).sum().item<double>(); }

double ky_fan(const at::Tensor& M, int64_t k) {
  auto s = singular_values(M);
  return s.narrow(0, 0, std::min<int64_t>(check_k(k), s.numel())).sum().item<double>();
}

double ky_fan_dual(const at::Tensor& M, int64_t k) {
  auto s = singular_values(M);
  if (s.numel() == 0) return 0.0;
  return std::max(s.sum().item<double>() / static_cast<double>(check_k(k)), s[0].item<double>());
}

double chebyshev(const at::Tensor& M) { return as_fp64_matrix(M).abs().max().item<double>(); }

double l1(const at::Tensor& M) { return as_fp64_matrix(M).abs().sum().item<double>(); }

double schatten(const at::Tensor& M, double p) {
  if (!(p >= 1.0)) {
    throw std::invalid_argument("fanion::norms::schatten: p must be in [1, inf], got " +
                                std::to_string(p));
  }
  auto s = singular_values(M);
  if (s.numel() == 0) return 0.0;
  if (std::isinf(p)) return s[0].item<double>();
  // Scale by sigma_1 first so that large p neither overflows nor underflows.
  double s1 = s[0].item<double>();
  if (s1 == 0.0) return 0.0;
  return s1 * (s / s1).pow(p).sum().pow(1.0 / p).item<double>();
}

}  // namespace fanion::norms
