// fanion::norms against values computed here from at::linalg_svdvals and elementwise ops in
// fp64, on random, rank-deficient, tall, wide, 1 x n, 1-D and N-D (conv-shaped) inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "fanion/matrix.h"
#include "fanion/norms.h"
#include "test_util.h"

namespace {

using namespace fanion_test;
namespace norms = fanion::norms;

// The library promises fp64 results; both sides use LAPACK in fp64 on the same values.
constexpr double kRelTol = 1e-10;

at::Tensor svdvals64(const at::Tensor& M) { return at::linalg_svdvals(mat64(M)); }

double schatten_ref(const at::Tensor& M, double p) { return vec_p_norm(svdvals64(M), p); }

std::vector<MatrixCase> norm_cases(at::ScalarType dtype) {
  std::vector<MatrixCase> c = standard_cases(dtype);
  c.push_back({"conv_6x4x5", randn({6, 4, 5}, 201, dtype)});
  c.push_back({"conv_4x2x3x3x2", randn({4, 2, 3, 3, 2}, 202, dtype)});
  c.push_back({"rank1_9x13", with_singular_values(9, 13, {2.5}, 203, dtype), true});
  c.push_back(
      {"tiny_2x2", at::tensor({1.0, -2.0, 3.0, 0.5}, at::kDouble).reshape({2, 2}).to(dtype)});
  return c;
}

void check_all_norms(const MatrixCase& c) {
  SCOPED_TRACE(c.name + " " + dtype_name(c.M.scalar_type()));
  const at::Tensor before = c.M.clone();
  const at::Tensor A = mat64(c.M);
  const at::Tensor s = svdvals64(c.M);
  const int64_t mn = std::min(A.size(0), A.size(1));
  const double fro_ref = A.pow(2).sum().sqrt().item<double>();
  const double spec_ref = s[0].item<double>();
  const double nuc_ref = s.sum().item<double>();

  EXPECT_LE(rel_diff(norms::frobenius(c.M), fro_ref), kRelTol);
  EXPECT_LE(rel_diff(norms::spectral(c.M), spec_ref), kRelTol);
  EXPECT_LE(rel_diff(norms::nuclear(c.M), nuc_ref), kRelTol);
  EXPECT_LE(rel_diff(norms::chebyshev(c.M), A.abs().max().item<double>()), kRelTol);
  EXPECT_LE(rel_diff(norms::l1(c.M), A.abs().sum().item<double>()), kRelTol);

  for (int64_t k = 1; k <= mn + 2; ++k) {
    SCOPED_TRACE("k=" + std::to_string(k));
    const double kf = s.narrow(0, 0, std::min(k, mn)).sum().item<double>();
    EXPECT_LE(rel_diff(norms::ky_fan(c.M, k), kf), kRelTol);
    EXPECT_LE(
        rel_diff(norms::ky_fan_dual(c.M, k), std::max(nuc_ref / static_cast<double>(k), spec_ref)),
        kRelTol);
  }
  for (double p : {1.0, 1.5, 2.0, 3.0, 7.0, kInf}) {
    SCOPED_TRACE("p=" + std::to_string(p));
    EXPECT_LE(rel_diff(norms::schatten(c.M, p), schatten_ref(c.M, p)), kRelTol);
  }

  const at::Tensor sv = norms::singular_values(c.M);
  EXPECT_EQ(sv.scalar_type(), at::kDouble);
  ASSERT_EQ(sv.dim(), 1);
  ASSERT_EQ(sv.size(0), mn);
  EXPECT_LE(max_abs(sv - s), kRelTol * spec_ref);
  if (mn > 1) {
    EXPECT_TRUE((sv.narrow(0, 0, mn - 1) >= sv.narrow(0, 1, mn - 1)).all().item<bool>())
        << "singular values not descending";
  }

  EXPECT_TRUE(at::equal(c.M, before)) << "a norm mutated its input";
}

TEST(NormsValues, MatchFp64ReferenceFloat64) {
  for (const auto& c : norm_cases(at::kDouble)) check_all_norms(c);
}

// fp32 inputs are measured in fp64: the reference is the fp64 computation on the same
// (fp32-representable) values, to fp64 accuracy.
TEST(NormsValues, MatchFp64ReferenceFloat32) {
  for (const auto& c : norm_cases(at::kFloat)) check_all_norms(c);
}

TEST(NormsValues, BFloat16InputIsMeasuredInFp64) {
  const at::Tensor M = randn({7, 5}, 210, at::kBFloat16);
  check_all_norms({"bf16_7x5", M});
}

TEST(NormsValues, ResultsAreDoublesForFp32Inputs) {
  // Values that lose precision if reduced in fp32: many entries of different magnitudes.
  at::Tensor M = randn({48, 40}, 211, at::kFloat) * 1e3;
  M[0][0].fill_(1e7);
  const at::Tensor A = M.to(at::kDouble);
  EXPECT_LE(rel_diff(norms::frobenius(M), A.norm().item<double>()), 1e-13);
  EXPECT_LE(rel_diff(norms::l1(M), A.abs().sum().item<double>()), 1e-13);
  EXPECT_LE(rel_diff(norms::nuclear(M), at::linalg_svdvals(A).sum().item<double>()), 1e-11);
}

TEST(NormsValues, KnownSpectrum) {
  const std::vector<double> s = {7.0, 4.0, 2.5, 1.0, 0.25};
  const at::Tensor M = with_singular_values(11, 9, s, 220);
  EXPECT_NEAR(norms::spectral(M), 7.0, 1e-12);
  EXPECT_NEAR(norms::nuclear(M), 14.75, 1e-12);
  EXPECT_NEAR(norms::frobenius(M), std::sqrt(49 + 16 + 6.25 + 1 + 0.0625), 1e-12);
  EXPECT_NEAR(norms::ky_fan(M, 2), 11.0, 1e-12);
  EXPECT_NEAR(norms::ky_fan(M, 3), 13.5, 1e-12);
  EXPECT_NEAR(norms::ky_fan(M, 9), 14.75, 1e-12);    // k clamped to min(m, n)
  EXPECT_NEAR(norms::ky_fan(M, 100), 14.75, 1e-12);  // k clamped to min(m, n)
  EXPECT_NEAR(norms::ky_fan_dual(M, 1), 14.75, 1e-12);
  EXPECT_NEAR(norms::ky_fan_dual(M, 2), 7.375, 1e-12);
  EXPECT_NEAR(norms::ky_fan_dual(M, 3), 7.0, 1e-12);  // max(14.75/3, 7) = 7
  EXPECT_NEAR(norms::schatten(M, 3.0), std::cbrt(343.0 + 64.0 + 15.625 + 1.0 + 0.015625), 1e-12);
  const at::Tensor sv = norms::singular_values(M);
  ASSERT_EQ(sv.size(0), 9);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(sv[i].item<double>(), s[i], 1e-12);
  for (int i = 5; i < 9; ++i) EXPECT_NEAR(sv[i].item<double>(), 0.0, 1e-12);
}

TEST(NormsRelations, KyFanAndSchattenEndpoints) {
  for (auto dtype : {at::kDouble, at::kFloat}) {
    for (const auto& c : norm_cases(dtype)) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const at::Tensor A = mat64(c.M);
      const int64_t mn = std::min(A.size(0), A.size(1));
      const double spec = norms::spectral(c.M);
      const double nuc = norms::nuclear(c.M);
      const double frob = norms::frobenius(c.M);
      EXPECT_LE(rel_diff(norms::ky_fan(c.M, 1), spec), kRelTol);
      EXPECT_LE(rel_diff(norms::ky_fan(c.M, mn), nuc), kRelTol);
      EXPECT_LE(rel_diff(norms::ky_fan_dual(c.M, 1), nuc), kRelTol);
      EXPECT_LE(rel_diff(norms::ky_fan_dual(c.M, mn), spec), kRelTol);
      EXPECT_LE(rel_diff(norms::schatten(c.M, 1.0), nuc), kRelTol);
      EXPECT_LE(rel_diff(norms::schatten(c.M, 2.0), frob), kRelTol);
      EXPECT_LE(rel_diff(norms::schatten(c.M, kInf), spec), kRelTol);
      // Orderings that hold for every matrix.
      EXPECT_LE(spec, frob * (1 + 1e-12));
      EXPECT_LE(frob, nuc * (1 + 1e-12));
      EXPECT_LE(norms::chebyshev(c.M), spec * (1 + 1e-12));
      for (int64_t k = 1; k < mn; ++k) {
        EXPECT_LE(norms::ky_fan(c.M, k), norms::ky_fan(c.M, k + 1) * (1 + 1e-12));
        EXPECT_GE(norms::ky_fan_dual(c.M, k) * (1 + 1e-12), norms::ky_fan_dual(c.M, k + 1));
        // Duality pairing: ||M||_(k) * ||M||_(k)^dual >= ||M||_F^2.
        EXPECT_GE(norms::ky_fan(c.M, k) * norms::ky_fan_dual(c.M, k) * (1 + 1e-10), frob * frob);
      }
    }
  }
}

TEST(NormsShapes, NdTensorsAreMeasuredAsTheirMatrixView) {
  const at::Tensor W = randn({8, 3, 3, 3}, 230);
  const at::Tensor W2 = W.reshape({8, 27});
  const std::vector<std::pair<std::string, std::function<double(const at::Tensor&)>>> fns = {
      {"frobenius", norms::frobenius},
      {"spectral", norms::spectral},
      {"nuclear", norms::nuclear},
      {"chebyshev", norms::chebyshev},
      {"l1", norms::l1},
      {"ky_fan3", [](const at::Tensor& t) { return norms::ky_fan(t, 3); }},
      {"ky_fan_dual3", [](const at::Tensor& t) { return norms::ky_fan_dual(t, 3); }},
      {"schatten3", [](const at::Tensor& t) { return norms::schatten(t, 3.0); }},
  };
  for (const auto& f : fns) {
    SCOPED_TRACE(f.first);
    EXPECT_LE(rel_diff(f.second(W), f.second(W2)), kRelTol);
  }
  // The flattening is (out, rest), not (rest, out) or any other grouping: the spectrum of
  // (8, 27) differs from the spectrum of (24, 9).
  EXPECT_LE(rel_diff(norms::spectral(W), at::linalg_svdvals(W2)[0].item<double>()), kRelTol);
  EXPECT_GT(rel_diff(norms::spectral(W), at::linalg_svdvals(W.reshape({24, 9}))[0].item<double>()),
            1e-6);
  EXPECT_EQ(norms::singular_values(W).size(0), 8);
}

TEST(NormsShapes, VectorIsARow) {
  const at::Tensor v = randn({13}, 231);
  const double l2 = v.norm().item<double>();
  EXPECT_LE(rel_diff(norms::spectral(v), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::nuclear(v), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::frobenius(v), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::ky_fan(v, 5), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::ky_fan_dual(v, 5), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::schatten(v, 1.5), l2), kRelTol);
  EXPECT_LE(rel_diff(norms::l1(v), v.abs().sum().item<double>()), kRelTol);
  const at::Tensor sv = norms::singular_values(v);
  ASSERT_EQ(sv.numel(), 1);
  EXPECT_NEAR(sv[0].item<double>(), l2, 1e-12 * l2);
}

TEST(NormsShapes, NonContiguousInputAndTranspose) {
  const at::Tensor M = randn({9, 14}, 232);
  const at::Tensor T = M.t();  // a non-contiguous view
  ASSERT_FALSE(T.is_contiguous());
  EXPECT_LE(rel_diff(norms::frobenius(T), norms::frobenius(M)), kRelTol);
  EXPECT_LE(rel_diff(norms::spectral(T), norms::spectral(M)), kRelTol);
  EXPECT_LE(rel_diff(norms::nuclear(T), norms::nuclear(M)), kRelTol);
  EXPECT_LE(rel_diff(norms::ky_fan(T, 4), norms::ky_fan(M, 4)), kRelTol);
  EXPECT_LE(rel_diff(norms::ky_fan_dual(T, 4), norms::ky_fan_dual(M, 4)), kRelTol);
  EXPECT_LE(rel_diff(norms::schatten(T, 2.5), norms::schatten(M, 2.5)), kRelTol);
  EXPECT_LE(rel_diff(norms::chebyshev(T), norms::chebyshev(M)), kRelTol);
  EXPECT_LE(rel_diff(norms::l1(T), norms::l1(M)), kRelTol);
  // A strided slice (every other column).
  const at::Tensor S = M.slice(1, 0, 14, 2);
  EXPECT_LE(rel_diff(norms::nuclear(S), at::linalg_svdvals(S.contiguous()).sum().item<double>()),
            kRelTol);
}

TEST(NormsShapes, ScalingIsHomogeneous) {
  const at::Tensor M = randn({10, 6}, 233);
  for (double c : {1e-6, 0.37, 25.0, 1e6}) {
    SCOPED_TRACE("c=" + std::to_string(c));
    const at::Tensor cM = M * c;
    EXPECT_LE(rel_diff(norms::spectral(cM), c * norms::spectral(M)), 1e-12);
    EXPECT_LE(rel_diff(norms::nuclear(cM), c * norms::nuclear(M)), 1e-12);
    EXPECT_LE(rel_diff(norms::ky_fan_dual(cM, 2), c * norms::ky_fan_dual(M, 2)), 1e-12);
    EXPECT_LE(rel_diff(norms::schatten(cM, 4.0), c * norms::schatten(M, 4.0)), 1e-12);
    // Sign does not matter either.
    EXPECT_LE(rel_diff(norms::schatten(-cM, 4.0), c * norms::schatten(M, 4.0)), 1e-12);
  }
}

TEST(NormsEdge, ZeroMatrixGivesZeroEverywhere) {
  for (auto dtype : {at::kDouble, at::kFloat}) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{{5, 3}, {1, 4}, {4}, {3, 2, 2}}) {
      const at::Tensor Z = at::zeros(shape, at::TensorOptions().dtype(dtype));
      SCOPED_TRACE(fanion::shape_string(Z) + " " + dtype_name(dtype));
      EXPECT_EQ(norms::frobenius(Z), 0.0);
      EXPECT_EQ(norms::spectral(Z), 0.0);
      EXPECT_EQ(norms::nuclear(Z), 0.0);
      EXPECT_EQ(norms::ky_fan(Z, 2), 0.0);
      EXPECT_EQ(norms::ky_fan_dual(Z, 2), 0.0);
      EXPECT_EQ(norms::chebyshev(Z), 0.0);
      EXPECT_EQ(norms::l1(Z), 0.0);
      for (double p : {1.0, 1.5, 2.0, 3.0, kInf}) EXPECT_EQ(norms::schatten(Z, p), 0.0);
      const at::Tensor sv = norms::singular_values(Z);
      EXPECT_TRUE(all_finite(sv));
      EXPECT_EQ(max_abs(sv), 0.0);
    }
  }
}

TEST(NormsEdge, ZeroDimensionalInputThrows) {
  const at::Tensor x = at::scalar_tensor(3.0, at::kDouble);
  ASSERT_EQ(x.dim(), 0);
  EXPECT_ANY_THROW(norms::frobenius(x));
  EXPECT_ANY_THROW(norms::spectral(x));
  EXPECT_ANY_THROW(norms::nuclear(x));
  EXPECT_ANY_THROW(norms::ky_fan(x, 1));
  EXPECT_ANY_THROW(norms::ky_fan_dual(x, 1));
  EXPECT_ANY_THROW(norms::chebyshev(x));
  EXPECT_ANY_THROW(norms::l1(x));
  EXPECT_ANY_THROW(norms::schatten(x, 2.0));
  EXPECT_ANY_THROW(norms::singular_values(x));
}

// The matrix view that every norm relies on (matrix.h).
TEST(NormsMatrixView, AsMatrixShapes) {
  const at::Tensor W = randn({8, 3, 3, 3}, 240);
  const at::Tensor A = fanion::as_matrix(W);
  ASSERT_EQ(A.dim(), 2);
  EXPECT_EQ(A.size(0), 8);
  EXPECT_EQ(A.size(1), 27);
  EXPECT_TRUE(at::equal(A, W.reshape({8, 27})));
  const at::Tensor v = randn({5}, 241);
  const at::Tensor r = fanion::as_matrix(v);
  ASSERT_EQ(r.dim(), 2);
  EXPECT_EQ(r.size(0), 1);
  EXPECT_EQ(r.size(1), 5);
  const at::Tensor M = randn({4, 6}, 242);
  EXPECT_TRUE(at::equal(fanion::as_matrix(M), M));
  EXPECT_TRUE(at::equal(fanion::as_matrix(M.t()), M.t()));
  EXPECT_ANY_THROW(fanion::as_matrix(at::scalar_tensor(1.0)));
  EXPECT_EQ(fanion::shape_string(W), "[8, 3, 3, 3]");
}

TEST(NormsMatrixView, DefaultComputeDtype) {
  EXPECT_EQ(fanion::default_compute_dtype(at::kDouble), at::kDouble);
  EXPECT_EQ(fanion::default_compute_dtype(at::kFloat), at::kFloat);
  EXPECT_EQ(fanion::default_compute_dtype(at::kBFloat16), at::kFloat);
  EXPECT_EQ(fanion::default_compute_dtype(at::kHalf), at::kFloat);
}

// --- the F-Fanion-k primal norm (no closed form): against its dual characterization ------------

/// The dual of the dual: max over w of <y, w> / (alpha KF-k(w) + (1 - alpha) ||w||_2), for
/// singular values y >= 0 — any w gives a lower bound of the norm, the best w the norm itself.
double brute_force(const std::vector<double>& y, int64_t k, double alpha,
                   const std::vector<std::vector<double>>& ws) {
  double best = 0.0;
  for (const auto& w : ws) {
    std::vector<double> a(w.size());
    double dot = 0.0, l2 = 0.0;
    for (size_t i = 0; i < w.size(); ++i) {
      a[i] = std::abs(w[i]);
      dot += y[i] * w[i];
      l2 += w[i] * w[i];
    }
    std::sort(a.rbegin(), a.rend());
    double kf = 0.0;
    for (size_t i = 0; i < a.size() && static_cast<int64_t>(i) < k; ++i) kf += a[i];
    best = std::max(best, dot / (alpha * kf + (1 - alpha) * std::sqrt(l2)));
  }
  return best;
}

at::Tensor diag(const std::vector<double>& y) {
  return at::diag(at::tensor(y, at::TensorOptions().dtype(at::kDouble)));
}

TEST(NormsFFanionPrimal, TwoSingularValuesMatchABruteForceMaximum) {
  // A dense grid of directions w on the quarter circle: the maximum is flat there, so the grid
  // is within ~1e-10 of it; the bisection must land between that and a hair above.
  std::vector<std::vector<double>> ws;
  for (int i = 0; i <= 200000; ++i) {
    const double th = 0.5 * M_PI * i / 200000.0;
    ws.push_back({std::cos(th), std::sin(th)});
  }
  for (const std::vector<double>& y :
       {std::vector<double>{1.0, 0.3}, {2.0, 2.0}, {1.0, 0.0}, {5.0, 4.0}}) {
    for (double alpha : {0.1, 0.5, 0.9}) {
      for (int64_t k : {1, 2}) {
        const double ours = norms::f_fanion_primal(diag(y), k, alpha);
        const double brute = brute_force(y, k, alpha, ws);
        EXPECT_NEAR(ours, brute, 1e-8 * brute)
            << "y=(" << y[0] << "," << y[1] << ") k=" << k << " alpha=" << alpha;
      }
    }
  }
}

TEST(NormsFFanionPrimal, ThreeSingularValuesBoundedByRandomDirections) {
  at::manual_seed(5);
  const at::Tensor W = at::randn({200000, 3}, at::TensorOptions().dtype(at::kDouble));
  std::vector<std::vector<double>> ws;
  for (int64_t i = 0; i < W.size(0); ++i)
    ws.push_back({W[i][0].item<double>(), W[i][1].item<double>(), W[i][2].item<double>()});
  const std::vector<double> y = {1.5, 0.7, 0.2};
  for (int64_t k : {1, 2, 3}) {
    const double ours = norms::f_fanion_primal(diag(y), k, 0.4);
    const double brute = brute_force(y, k, 0.4, ws);
    EXPECT_GE(ours, brute * (1 - 1e-12)) << k;  // never below a lower bound
    EXPECT_LE(ours, brute * (1 + 1e-3)) << k;   // and the sampled maximum comes close
  }
}

TEST(NormsFFanionPrimal, EndpointsHomogeneityAndTheBallBetween) {
  at::manual_seed(6);
  const at::Tensor M = at::randn({7, 5}, at::TensorOptions().dtype(at::kDouble));
  EXPECT_DOUBLE_EQ(norms::f_fanion_primal(M, 2, 0.0), norms::frobenius(M));
  EXPECT_DOUBLE_EQ(norms::f_fanion_primal(M, 2, 1.0), norms::ky_fan_dual(M, 2));
  // F-Muon's (k = min(m, n)) at alpha = 1 is the spectral norm; F-Neon's (k = 1) the nuclear.
  EXPECT_NEAR(norms::f_fanion_primal(M, 5, 1.0), norms::spectral(M), 1e-12);
  EXPECT_NEAR(norms::f_fanion_primal(M, 1, 1.0), norms::nuclear(M), 1e-12);
  for (double c : {1e-150, 1e-8, 3.0, 1e150}) {
    EXPECT_NEAR(norms::f_fanion_primal(M * c, 3, 0.3) / c, norms::f_fanion_primal(M, 3, 0.3),
                1e-13 * norms::f_fanion_primal(M, 3, 0.3))
        << c;
  }
  // The F-Fanion-k direction has this norm exactly 1 (it lies on the ball's boundary; its own
  // LMO, <M, d> = alpha ||M||_KF-k + (1 - alpha) ||M||_F).
  at::Tensor U, S, Vh;
  std::tie(U, S, Vh) = at::linalg_svd(M, false);
  const at::Tensor d = 0.3 * at::matmul(U.narrow(1, 0, 3), Vh.narrow(0, 0, 3)) + 0.7 * M / M.norm();
  EXPECT_NEAR(norms::f_fanion_primal(d, 3, 0.3), 1.0, 1e-12);
  EXPECT_THROW(norms::f_fanion_primal(M, 2, 1.5), std::invalid_argument);
  EXPECT_THROW(norms::f_fanion_primal(M, 0, 0.5), std::invalid_argument);
}

}  // namespace
