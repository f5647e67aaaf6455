#include "fanion/norms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fanion/matrix.h"

namespace fanion::norms {
namespace {

at::Tensor as_fp64_matrix(const at::Tensor& M) { return as_matrix(M).to(at::kDouble); }

int64_t check_k(int64_t k) {
  if (k < 1) throw std::invalid_argument("fanion::norms: k must be >= 1, got " + std::to_string(k));
  return k;
}

}  // namespace

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
