#pragma once
// Shared helpers for the fanion GoogleTest suites: seeded random matrices with chosen
// singular values, and exact fp64 SVD pieces computed independently of the library
// (at::linalg_svd / at::linalg_svdvals), so the tests never trust the code they test.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace fanion_test {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------- random inputs

inline at::Generator make_gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

/// Standard normal entries drawn in fp64 from a private generator, then cast to `dtype`.
inline at::Tensor randn(at::IntArrayRef shape, uint64_t seed, at::ScalarType dtype = at::kDouble) {
  at::Generator gen = make_gen(seed);
  return at::randn(shape, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype);
}

/// m x r matrix with orthonormal columns (r <= m), fp64.
inline at::Tensor orthonormal(int64_t m, int64_t r, uint64_t seed) {
  at::Tensor Q, R;
  std::tie(Q, R) = at::linalg_qr(randn({m, r}, seed));
  return Q;
}

/// U diag(s) V^T with random orthonormal U (m x r), V (n x r), r = s.size() <= min(m, n).
/// Built in fp64, then cast to `dtype`.
inline at::Tensor with_singular_values(int64_t m, int64_t n, const std::vector<double>& s,
                                       uint64_t seed, at::ScalarType dtype = at::kDouble) {
  const auto r = static_cast<int64_t>(s.size());
  TORCH_CHECK(r <= std::min(m, n), "with_singular_values: too many singular values");
  if (r == 0) return at::zeros({m, n}, at::TensorOptions().dtype(dtype));
  at::Tensor U = orthonormal(m, r, seed);
  at::Tensor V = orthonormal(n, r, seed * 7919 + 13);
  at::Tensor S = at::tensor(s, at::TensorOptions().dtype(at::kDouble));
  return (U * S.unsqueeze(0)).mm(V.t()).to(dtype);
}

/// top, top*ratio, top*ratio^2, ... (r values, strictly decreasing for ratio < 1).
inline std::vector<double> geometric(int64_t r, double top, double ratio) {
  std::vector<double> s;
  double v = top;
  for (int64_t i = 0; i < r; ++i, v *= ratio) s.push_back(v);
  return s;
}

// ---------------------------------------------------------------- matrix view and SVD

/// The matrix view of docs/design.md §2, computed here (not with fanion::as_matrix), in fp64:
/// 1-D -> 1 x n, N-D (out, d1, ...) -> (out, d1*...).
inline at::Tensor mat64(const at::Tensor& t) {
  TORCH_CHECK(t.dim() >= 1, "mat64: 0-D tensor");
  at::Tensor d = t.to(at::kDouble);
  if (d.dim() == 1) return d.reshape({1, d.size(0)});
  if (d.dim() == 2) return d;
  return d.reshape({d.size(0), -1});
}

struct Svd {
  at::Tensor U;  ///< m x r, fp64
  at::Tensor S;  ///< r, descending, fp64
  at::Tensor V;  ///< n x r, fp64 (right singular vectors as columns)
};

/// Thin SVD of the fp64 matrix view.
inline Svd exact_svd(const at::Tensor& M) {
  at::Tensor U, S, Vh;
  std::tie(U, S, Vh) = at::linalg_svd(mat64(M), /*full_matrices=*/false);
  return {U, S, Vh.t().contiguous()};
}

inline std::vector<double> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(at::kDouble).contiguous().reshape({-1});
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

/// Number of singular values strictly above rel_tol * sigma_1 (0 for the zero matrix).
inline int64_t numerical_rank(const Svd& svd, double rel_tol = 1e-12) {
  if (svd.S.numel() == 0) return 0;
  const double s1 = svd.S[0].item<double>();
  if (!(s1 > 0)) return 0;
  return (svd.S > rel_tol * s1).sum().item<int64_t>();
}

/// sum_{i < min(k, rank)} u_i v_i^T (fp64, m x n).
inline at::Tensor top_k_sum(const Svd& svd, int64_t k, double rel_tol = 1e-12) {
  const int64_t r = std::min<int64_t>(k, numerical_rank(svd, rel_tol));
  const int64_t m = svd.U.size(0), n = svd.V.size(0);
  if (r <= 0) return at::zeros({m, n}, at::TensorOptions().dtype(at::kDouble));
  return svd.U.narrow(1, 0, r).mm(svd.V.narrow(1, 0, r).t());
}

/// Exact polar factor U V^T over the numerical range (zero for the zero matrix).
inline at::Tensor polar_ref(const Svd& svd, double rel_tol = 1e-12) {
  return top_k_sum(svd, std::numeric_limits<int64_t>::max(), rel_tol);
}

/// Ky Fan k-norm from the test's SVD (k clamped to the number of singular values).
inline double ky_fan_ref(const Svd& svd, int64_t k) {
  const int64_t r = std::min<int64_t>(k, svd.S.numel());
  if (r <= 0) return 0.0;
  return svd.S.narrow(0, 0, r).sum().item<double>();
}

/// ||sigma||_p for p in [1, inf].
inline double vec_p_norm(const at::Tensor& s, double p) {
  if (s.numel() == 0) return 0.0;
  if (std::isinf(p)) return s.abs().max().item<double>();
  return s.abs().pow(p).sum().pow(1.0 / p).item<double>();
}

/// Hoelder conjugate q of p (1/p + 1/q = 1).
inline double conjugate(double p) {
  if (std::isinf(p)) return 1.0;
  if (p == 1.0) return kInf;
  return p / (p - 1.0);
}

/// Steepest direction of the Schatten-p ball from the test's SVD:
/// U diag(s^(q-1)) V^T / ||s||_q^(q-1); p = inf gives U V^T, p = 1 gives u1 v1^T
/// (assumes sigma_1 > sigma_2 there).
inline at::Tensor schatten_direction_ref(const Svd& svd, double p, double rel_tol = 1e-12) {
  const int64_t m = svd.U.size(0), n = svd.V.size(0);
  const int64_t r = numerical_rank(svd, rel_tol);
  if (r == 0) return at::zeros({m, n}, at::TensorOptions().dtype(at::kDouble));
  if (std::isinf(p)) return polar_ref(svd, rel_tol);
  if (p == 1.0) return top_k_sum(svd, 1, rel_tol);
  const double q = conjugate(p);
  at::Tensor s = svd.S.narrow(0, 0, r);
  at::Tensor w = s.pow(q - 1.0) / std::pow(vec_p_norm(s, q), q - 1.0);
  return (svd.U.narrow(1, 0, r) * w.unsqueeze(0)).mm(svd.V.narrow(1, 0, r).t());
}

// ---------------------------------------------------------------- comparisons

/// <A, B> = sum_ij A_ij B_ij over the matrix views, in fp64.
inline double inner64(const at::Tensor& A, const at::Tensor& B) {
  return (mat64(A) * mat64(B)).sum().item<double>();
}

inline double fro(const at::Tensor& A) { return mat64(A).norm().item<double>(); }

/// ||A - B||_F / ||B||_F over the matrix views (absolute when B = 0).
inline double rel_err(const at::Tensor& A, const at::Tensor& B) {
  const double nb = fro(B);
  const double d = (mat64(A) - mat64(B)).norm().item<double>();
  return nb > 0 ? d / nb : d;
}

inline double max_abs(const at::Tensor& A) {
  if (A.numel() == 0) return 0.0;
  return A.to(at::kDouble).abs().max().item<double>();
}

inline bool all_finite(const at::Tensor& A) {
  if (A.numel() == 0) return true;
  return at::isfinite(A.to(at::kDouble)).all().item<bool>();
}

/// Relative difference |a - b| / max(|b|, floor).
inline double rel_diff(double a, double b, double floor = 1e-300) {
  return std::abs(a - b) / std::max(std::abs(b), floor);
}

/// ||Q^T Q - I||_max for the columns of Q.
inline double orthonormality_error(const at::Tensor& Q) {
  at::Tensor q = Q.to(at::kDouble);
  const int64_t r = q.size(1);
  if (r == 0) return 0.0;
  return max_abs(q.t().mm(q) - at::eye(r, at::TensorOptions().dtype(at::kDouble)));
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

inline std::string dtype_name(at::ScalarType t) { return std::string(c10::toString(t)); }

// ---------------------------------------------------------------- standard cases

struct MatrixCase {
  std::string name;
  at::Tensor M;                 ///< any rank >= 1, in the requested dtype
  bool rank_deficient = false;  ///< exactly rank deficient in fp64 (not after fp32 rounding)
};

/// Random, structured and odd-shaped inputs used by several suites. All are seeded.
/// Every case has sigma_1 > sigma_2 with a clear gap, and distinct leading singular values.
inline std::vector<MatrixCase> standard_cases(at::ScalarType dtype) {
  std::vector<MatrixCase> c;
  c.push_back({"gaussian_12x8", randn({12, 8}, 101, dtype)});
  c.push_back({"tall_40x6", with_singular_values(40, 6, {9, 7, 5.5, 4, 3, 2}, 102, dtype)});
  c.push_back({"wide_5x33", with_singular_values(5, 33, {6, 4.5, 3.2, 2.1, 1.3}, 103, dtype)});
  c.push_back(
      {"square_16x16", with_singular_values(16, 16, geometric(16, 10.0, 0.85), 104, dtype)});
  c.push_back({"rank3_20x16", with_singular_values(20, 16, {5, 3, 1.5}, 105, dtype), true});
  c.push_back({"row_1x17", randn({1, 17}, 106, dtype)});
  c.push_back({"col_9x1", randn({9, 1}, 107, dtype)});
  {
    at::Tensor s = randn({10, 7}, 108);
    at::Tensor mask = randn({10, 7}, 109) > 0.3;  // about 40% exact zeros
    c.push_back({"sparse_10x7", (s * mask.to(at::kDouble)).to(dtype)});
  }
  c.push_back({"conv_8x3x3x3", randn({8, 3, 3, 3}, 110, dtype)});
  c.push_back({"vector_17", randn({17}, 111, dtype)});
  return c;
}

}  // namespace fanion_test
