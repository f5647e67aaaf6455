// Steepest directions (docs/design.md §1) against an exact SVD computed here in fp64:
//   <M, d(M)> = dual norm, ||d(M)|| <= 1 in the primal norm, d(cM) = d(M) for c > 0,
//   d(0) = 0 (no NaN), d(M^T) = d(M)^T, shape and dtype kept, input never mutated,
// plus the exact answers of every basic direction and of the F-/S- combinations.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fanion/directions.h"
#include "fanion/matrix.h"
#include "fanion/norms.h"
#include "test_util.h"

namespace {

using namespace fanion_test;
using fanion::Direction;
using fanion::DirectionKind;
using fanion::DirectionState;
using fanion::DirectionTerm;
using fanion::kFullRank;
using fanion::PolarMethod;
using fanion::PolarOptions;
using fanion::TopKMethod;
using fanion::TopKOptions;
namespace norms = fanion::norms;

// ---------------------------------------------------------------- the directions under test

struct Spec {
  std::string name;
  Direction dir;
};

Direction exact_muon() { return Direction::muon(PolarOptions::exact()); }
TopKOptions exact_top_k() { return TopKOptions().set_method(TopKMethod::kExact); }

std::vector<Spec> basic_specs() {
  std::vector<Spec> s;
  s.push_back({"nsgd", Direction::nsgd()});
  s.push_back({"sign", Direction::sign()});
  s.push_back({"muon_exact", exact_muon()});
  s.push_back({"muon_quintic", Direction::muon()});
  s.push_back({"neon", Direction::neon()});
  s.push_back({"fanion1", Direction::fanion(1)});
  s.push_back({"fanion2", Direction::fanion(2)});
  s.push_back({"fanion3", Direction::fanion(3)});
  s.push_back({"fanion5", Direction::fanion(5)});
  s.push_back({"fanion100", Direction::fanion(100)});
  s.push_back({"fanion2_exact_top_k", Direction::fanion(2, exact_top_k())});
  s.push_back({"fanion3_block_krylov",
               Direction::fanion(3, TopKOptions().set_method(TopKMethod::kBlockKrylov))});
  s.push_back({"neon_lanczos", Direction::neon(TopKOptions().set_method(TopKMethod::kLanczos))});
  s.push_back({"fanion2_subspace",
               Direction::fanion(2, TopKOptions().set_method(TopKMethod::kSubspaceIteration))});
  s.push_back(
      {"fanion_full_exact", Direction::fanion(kFullRank).with_polar(PolarOptions::exact())});
  s.push_back({"schatten1.5", Direction::schatten(1.5)});
  s.push_back({"schatten2", Direction::schatten(2.0)});
  s.push_back({"schatten3", Direction::schatten(3.0)});
  s.push_back({"schatten_inf", Direction::schatten(kInf)});
  return s;
}

std::vector<Spec> combination_specs() {
  std::vector<Spec> s;
  s.push_back({"f_fanion2_a0.5", fanion::f_fanion(2, 0.5)});
  s.push_back({"f_neon_a0.3", fanion::f_fanion(1, 0.3)});
  s.push_back(
      {"f_muon_exact_a0.7", fanion::f_fanion(kFullRank, 0.7).with_polar(PolarOptions::exact())});
  s.push_back({"s_fanion3_a0.6_eta0.05", fanion::s_fanion(3, 0.6, 0.05)});
  s.push_back({"s_muon_exact_a0.5_eta0.1",
               fanion::s_fanion(kFullRank, 0.5, 0.1).with_polar(PolarOptions::exact())});
  s.push_back({"make_s_neon", fanion::make_direction("s_neon", 1, 0.4, 0.2)});
  s.push_back(
      {"expr", 0.5 * exact_muon() + 0.25 * Direction::nsgd() + 0.1 * (Direction::sign() * 2.0)});
  s.push_back({"scaled_fanion2", 2.5 * Direction::fanion(2)});
  return s;
}

std::vector<Spec> all_specs() {
  std::vector<Spec> s = basic_specs();
  for (auto& c : combination_specs()) s.push_back(c);
  return s;
}

// ---------------------------------------------------------------- properties from terms()

bool term_is_newton_schulz(const DirectionTerm& t) {
  const bool polar_term =
      t.kind == DirectionKind::kMuon || (t.kind == DirectionKind::kFanion && t.k == kFullRank);
  return polar_term && t.polar.method == PolarMethod::kNewtonSchulz;
}

bool is_approximate(const Direction& d) {
  for (const auto& t : d.terms())
    if (term_is_newton_schulz(t)) return true;
  return false;
}

bool uses_iterative_top_k(const Direction& d) {
  for (const auto& t : d.terms())
    if (t.kind == DirectionKind::kFanion && t.k != kFullRank &&
        t.top_k.method != TopKMethod::kExact)
      return true;
  return false;
}

/// Depends on singular vectors of small singular values (ill-posed on an fp32-rounded
/// rank-deficient matrix, whose "zero" singular values are rounding noise).
bool is_spectral(const Direction& d) {
  for (const auto& t : d.terms()) {
    if (t.kind == DirectionKind::kMuon || t.kind == DirectionKind::kFanion) return true;
    if (t.kind == DirectionKind::kSchatten && t.p != 2.0) return true;
  }
  return false;
}

bool has_mid_schatten(const Direction& d) {
  for (const auto& t : d.terms())
    if (t.kind == DirectionKind::kSchatten && t.p > 2.0 && std::isfinite(t.p)) return true;
  return false;
}

bool is_conic(const Direction& d) {
  for (const auto& t : d.terms())
    if (!(t.weight >= 0)) return false;
  return true;
}

bool is_unit_single(const Direction& d) {
  return d.terms().size() == 1 && d.terms()[0].weight == 1.0;
}

/// Relative Frobenius tolerance for comparing directions.
double mat_tol(at::ScalarType dtype, const Direction& d) {
  if (dtype == at::kDouble) {
    if (uses_iterative_top_k(d)) return 1e-5;  // default TopKOptions: tol = 1e-6 on subspaces
    if (is_approximate(d)) return 1e-6;
    // sigma^(q-1) with q < 2 lifts fp64 rounding noise (1e-16) of a rank-deficient matrix's
    // zero singular values to ~1e-8.
    if (has_mid_schatten(d)) return 1e-6;
    return 1e-8;
  }
  return is_approximate(d) ? 5e-4 : 2e-4;
}

/// Relative tolerance for scalar identities.
double scalar_tol(at::ScalarType dtype) { return dtype == at::kDouble ? 1e-8 : 2e-5; }

bool ill_posed(const MatrixCase& c, const Direction& d) {
  return c.rank_deficient && c.M.scalar_type() != at::kDouble && is_spectral(d);
}

// ---------------------------------------------------------------- references from the SVD

double term_dual_ref(const DirectionTerm& t, const at::Tensor& M, const Svd& svd) {
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return fro(M);
    case DirectionKind::kSign:
      return mat64(M).abs().sum().item<double>();
    case DirectionKind::kMuon:
      return svd.S.sum().item<double>();
    case DirectionKind::kFanion:
      return ky_fan_ref(svd, t.k);
    case DirectionKind::kSchatten:
      return vec_p_norm(svd.S, conjugate(t.p));
  }
  return std::nan("");
}

double dual_ref(const Direction& d, const at::Tensor& M) {
  const Svd svd = exact_svd(M);
  double acc = 0;
  for (const auto& t : d.terms()) acc += t.weight * term_dual_ref(t, M, svd);
  return acc;
}

std::optional<at::Tensor> term_direction_ref(const DirectionTerm& t, const at::Tensor& M,
                                             const Svd& svd) {
  const at::Tensor A = mat64(M);
  switch (t.kind) {
    case DirectionKind::kNsgd: {
      const double f = fro(A);
      return f > 0 ? A / f : at::zeros_like(A);
    }
    case DirectionKind::kSign:
      return at::sign(A);
    case DirectionKind::kMuon:
      if (t.polar.method != PolarMethod::kExact) return std::nullopt;
      return polar_ref(svd);
    case DirectionKind::kFanion:
      if (term_is_newton_schulz(t)) return std::nullopt;
      return top_k_sum(svd, t.k);
    case DirectionKind::kSchatten:
      return schatten_direction_ref(svd, t.p);
  }
  return std::nullopt;
}

/// The exact d(M) (fp64 matrix view), or nullopt when a term is Newton–Schulz.
std::optional<at::Tensor> direction_ref(const Direction& d, const at::Tensor& M) {
  const Svd svd = exact_svd(M);
  at::Tensor acc = at::zeros_like(mat64(M));
  for (const auto& t : d.terms()) {
    auto r = term_direction_ref(t, M, svd);
    if (!r) return std::nullopt;
    acc = acc + t.weight * *r;
  }
  return acc;
}

/// The primal norm of D for a single unit-weight term, through fanion::norms.
double primal_via_norms(const DirectionTerm& t, const at::Tensor& D) {
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return norms::frobenius(D);
    case DirectionKind::kSign:
      return norms::chebyshev(D);
    case DirectionKind::kMuon:
      return norms::spectral(D);
    case DirectionKind::kFanion:
      return norms::ky_fan_dual(D, t.k);
    case DirectionKind::kSchatten:
      return norms::schatten(D, t.p);
  }
  return std::nan("");
}

/// The same primal norm from the test's own SVD / elementwise ops.
double primal_ref(const DirectionTerm& t, const at::Tensor& D) {
  const at::Tensor A = mat64(D);
  const at::Tensor s = at::linalg_svdvals(A);
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return fro(A);
    case DirectionKind::kSign:
      return max_abs(A);
    case DirectionKind::kMuon:
      return s[0].item<double>();
    case DirectionKind::kFanion:
      return std::max(s.sum().item<double>() / static_cast<double>(t.k), s[0].item<double>());
    case DirectionKind::kSchatten:
      return vec_p_norm(s, t.p);
  }
  return std::nan("");
}

std::string trace_name(const Spec& s, const MatrixCase& c) {
  return s.name + " on " + c.name + " " + dtype_name(c.M.scalar_type());
}

const std::vector<at::ScalarType> kDtypes = {at::kDouble, at::kFloat};

// ---------------------------------------------------------------- sanity of the test inputs

TEST(DirectionsInputs, StandardCasesHaveSeparatedLeadingSpectrum) {
  // The exactness checks below need sigma_1 > sigma_2 > ... with real gaps among the
  // leading values (Neon, Fanion-k) — make sure the seeded inputs provide them.
  for (const auto& c : standard_cases(at::kDouble)) {
    SCOPED_TRACE(c.name);
    const std::vector<double> s = to_vector(exact_svd(c.M).S);
    const int64_t r = numerical_rank(exact_svd(c.M));
    for (int64_t i = 0; i + 1 < std::min<int64_t>(r, 6); ++i)
      EXPECT_GT((s[i] - s[i + 1]) / s[0], 1e-2) << "i=" << i;
  }
}

// ---------------------------------------------------------------- invariants

TEST(DirectionsInvariants, InnerProductEqualsDualNorm) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      for (const auto& s : all_specs()) {
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(c.M);
        const double ref = dual_ref(s.dir, c.M);
        const double ip = inner64(c.M, D);
        EXPECT_LE(rel_diff(s.dir.dual_norm(c.M), ref), scalar_tol(dtype))
            << "Direction::dual_norm " << s.dir.dual_norm(c.M) << " vs SVD " << ref;
        if (is_approximate(s.dir)) {
          // Quintic Newton–Schulz: singular values land in roughly [0.68, 1.2].
          EXPECT_GE(ip, 0.6 * ref);
          EXPECT_LE(ip, 1.25 * ref);
        } else {
          EXPECT_LE(rel_diff(ip, ref), scalar_tol(dtype)) << "<M, d(M)> = " << ip << " vs " << ref;
        }
      }
    }
  }
}

TEST(DirectionsInvariants, PrimalNormIsOne) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      for (const auto& s : all_specs()) {
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(c.M);
        const auto lib = s.dir.primal_norm(D);
        if (!is_unit_single(s.dir)) {
          if (s.dir.terms().size() > 1) {
            EXPECT_FALSE(lib.has_value());
          }
          continue;
        }
        const DirectionTerm& t = s.dir.terms()[0];
        const double via_norms = primal_via_norms(t, D);
        const double mine = primal_ref(t, D);
        EXPECT_LE(rel_diff(via_norms, mine), 1e-9);
        ASSERT_TRUE(lib.has_value()) << "primal_norm must have a closed form for one term";
        EXPECT_LE(rel_diff(*lib, mine), std::max(1e-9, scalar_tol(dtype)));
        if (is_approximate(s.dir)) {
          EXPECT_LE(mine, 1.25);
          EXPECT_GE(mine, 0.6);
        } else {
          // For M != 0 the maximizer lies on the sphere: ||d(M)|| = 1 exactly.
          EXPECT_LE(std::abs(mine - 1.0), scalar_tol(dtype)) << "||d(M)|| = " << mine;
        }
      }
    }
  }
}

TEST(DirectionsInvariants, DirectionLiesInTheBall) {
  // d(M) is in the unit ball of the (Minkowski-sum) norm iff <N, d(M)> <= ||N||^dual for
  // every N; probe with random N and with M itself. This also covers combinations, whose
  // primal norm has no closed form.
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      const at::Tensor A = mat64(c.M);
      for (const auto& s : all_specs()) {
        if (is_approximate(s.dir) || !is_conic(s.dir)) continue;
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(c.M);
        for (uint64_t seed = 0; seed < 6; ++seed) {
          at::Tensor N = randn({A.size(0), A.size(1)}, 500 + seed);
          if (seed == 5) N = A;
          const double bound = dual_ref(s.dir, N);
          EXPECT_LE(inner64(N, D), bound + scalar_tol(dtype) * (std::abs(bound) + fro(N)))
              << "probe " << seed;
        }
      }
    }
  }
}

TEST(DirectionsInvariants, ScaleInvariance) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      for (const auto& s : all_specs()) {
        if (ill_posed(c, s.dir)) continue;
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(c.M);
        std::vector<double> scales = {1e-3, 0.5, 3.7, 1e3};
        if (dtype == at::kDouble && !is_approximate(s.dir)) {
          scales.push_back(1e-20);
          scales.push_back(1e20);
        }
        for (double k : scales) {
          const at::Tensor Dc = s.dir(c.M * k);
          EXPECT_TRUE(all_finite(Dc)) << "c=" << k;
          EXPECT_LE(rel_err(Dc, D), mat_tol(dtype, s.dir)) << "c=" << k;
        }
      }
    }
  }
}

// d(cM) = d(M) for c from the smallest normal number to the largest finite one over the matrix
// size, in fp32 and fp64 (docs/design.md §2). The entries of M are at least 1 in magnitude, so
// that c M has no subnormal entries at the bottom of the range (which would lose bits before the
// direction sees them).
TEST(DirectionsInvariants, ScaleInvarianceOverTheWholeRangeOfTheDtype) {
  for (auto dtype : kDtypes) {
    const bool fp64 = dtype == at::kDouble;
    const double lowest = fp64 ? std::numeric_limits<double>::min()
                               : static_cast<double>(std::numeric_limits<float>::min());
    const double highest = fp64 ? std::numeric_limits<double>::max()
                                : static_cast<double>(std::numeric_limits<float>::max());
    const int64_t m = 12, n = 9;
    const at::Tensor G = randn({m, n}, 41);
    const at::Tensor M = (at::sign(G) * (1.0 + G.abs())).to(dtype);  // |M_ij| in [1, ~4.5]
    const double top = max_abs(M);
    std::vector<double> scales = {lowest, 1e-30, 1e-20, 1e-10,
                                  1e10,   1e20,  1e30,  highest / (top * m * n)};
    if (fp64) {
      for (double c : {1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300}) scales.push_back(c);
    }
    for (const auto& s : all_specs()) {
      SCOPED_TRACE(s.name + (fp64 ? " fp64" : " fp32"));
      const at::Tensor D = s.dir(M);
      for (double c : scales) {
        const at::Tensor Dc = s.dir(M * c);
        ASSERT_TRUE(all_finite(Dc)) << "c=" << c;
        EXPECT_LE(rel_err(Dc, D), mat_tol(dtype, s.dir)) << "c=" << c;
      }
    }
  }
}

TEST(DirectionsInvariants, ZeroGivesZero) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      const at::Tensor Z = at::zeros_like(c.M);
      for (const auto& s : all_specs()) {
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(Z);
        EXPECT_EQ(D.sizes(), Z.sizes());
        EXPECT_EQ(D.scalar_type(), dtype);
        EXPECT_TRUE(all_finite(D)) << "d(0) has NaN/Inf";
        EXPECT_EQ(max_abs(D), 0.0);
        EXPECT_EQ(s.dir.dual_norm(Z), 0.0);
      }
    }
  }
}

TEST(DirectionsInvariants, TransposeCommutes) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      // Work on the 2-D view: d(A^T) = d(A)^T, with A^T a non-contiguous view.
      const at::Tensor A = mat64(c.M).to(dtype);
      const at::Tensor At = A.t();
      for (const auto& s : all_specs()) {
        if (ill_posed(c, s.dir)) continue;
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor D = s.dir(A);
        const at::Tensor Dt = s.dir(At);
        ASSERT_EQ(Dt.sizes(), At.sizes());
        EXPECT_LE(rel_err(Dt, D.t()), mat_tol(dtype, s.dir));
      }
    }
  }
}

TEST(DirectionsInvariants, ShapeDtypeFiniteAndInputUntouched) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      for (const auto& s : all_specs()) {
        SCOPED_TRACE(trace_name(s, c));
        const at::Tensor before = c.M.clone();
        at::Tensor D = s.dir(c.M);
        EXPECT_EQ(D.sizes(), c.M.sizes());
        EXPECT_EQ(D.scalar_type(), c.M.scalar_type());
        EXPECT_EQ(D.device(), c.M.device());
        EXPECT_TRUE(all_finite(D));
        EXPECT_TRUE(at::equal(c.M, before)) << "d(M) mutated M";
        // The result must not alias the input.
        D.mul_(2.0).add_(1.0);
        EXPECT_TRUE(at::equal(c.M, before)) << "d(M) aliases M";
        // Same through apply() with a state.
        DirectionState st;
        at::Tensor D2 = s.dir.apply(c.M, &st);
        EXPECT_EQ(D2.sizes(), c.M.sizes());
        EXPECT_EQ(D2.scalar_type(), c.M.scalar_type());
        EXPECT_TRUE(at::equal(c.M, before)) << "apply() mutated M";
      }
    }
  }
}

TEST(DirectionsInvariants, NdInputIsTheDirectionOfItsMatrixView) {
  for (auto dtype : kDtypes) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{{8, 3, 3, 3}, {6, 4, 5}, {17}}) {
      const at::Tensor W = randn(shape, 600 + shape.size(), dtype);
      const at::Tensor A = mat64(W).to(dtype).contiguous();
      for (const auto& s : all_specs()) {
        SCOPED_TRACE(s.name + " " + fanion::shape_string(W) + " " + dtype_name(dtype));
        const at::Tensor D = s.dir(W);
        ASSERT_EQ(D.sizes(), W.sizes());
        EXPECT_LE(rel_err(mat64(D), mat64(s.dir(A))), mat_tol(dtype, s.dir));
      }
    }
  }
}

// ---------------------------------------------------------------- exact answers

TEST(DirectionsExact, EveryDirectionMatchesItsSvdFormula) {
  // Fanion-k = sum_{i<=min(k, rank)} u_i v_i^T, Schatten-p formula, NSGD, sign, exact Muon,
  // and every combination as the weighted sum of its terms' exact directions.
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      for (const auto& s : all_specs()) {
        if (ill_posed(c, s.dir)) continue;
        const auto ref = direction_ref(s.dir, c.M);
        if (!ref) continue;
        SCOPED_TRACE(trace_name(s, c));
        EXPECT_LE(rel_err(s.dir(c.M), *ref), mat_tol(dtype, s.dir));
      }
    }
  }
}

/// Matrices with chosen, distinct, well separated singular values.
std::vector<MatrixCase> spectrum_cases(at::ScalarType dtype) {
  std::vector<MatrixCase> c;
  c.push_back(
      {"distinct_20x12", with_singular_values(20, 12, geometric(12, 10.0, 0.8), 700, dtype)});
  c.push_back(
      {"distinct_7x30", with_singular_values(7, 30, {8, 6, 4.5, 3, 2, 1.2, 0.7}, 701, dtype)});
  c.push_back(
      {"distinct_16x16", with_singular_values(16, 16, geometric(16, 5.0, 0.82), 702, dtype)});
  if (dtype == at::kDouble)
    c.push_back({"rank4_24x18", with_singular_values(24, 18, {6, 4, 2.5, 1}, 703, dtype), true});
  return c;
}

TEST(DirectionsExact, FanionKIsSumOfTopKSingularPairs) {
  for (auto dtype : kDtypes) {
    for (const auto& c : spectrum_cases(dtype)) {
      const Svd svd = exact_svd(c.M);
      const int64_t mn = std::min(svd.U.size(0), svd.V.size(0));
      for (int64_t k : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{5}, mn - 1, mn, mn + 3}) {
        SCOPED_TRACE(c.name + " k=" + std::to_string(k) + " " + dtype_name(dtype));
        const at::Tensor ref = top_k_sum(svd, k);
        const double tol_exact = dtype == at::kDouble ? 1e-9 : 1e-4;
        const double tol_auto = dtype == at::kDouble ? 1e-5 : 1e-4;
        const at::Tensor De = Direction::fanion(k, exact_top_k())(c.M);
        EXPECT_LE(rel_err(De, ref), tol_exact) << "exact top-k";
        const at::Tensor Da = Direction::fanion(k)(c.M);
        EXPECT_LE(rel_err(Da, ref), tol_auto) << "default top-k";
        // Its own structure: r = min(k, rank) singular values, all equal to one.
        const at::Tensor sv = at::linalg_svdvals(mat64(Da));
        const int64_t r = std::min<int64_t>(k, numerical_rank(svd));
        EXPECT_LE(max_abs(sv.narrow(0, 0, r) - 1.0), 1e-4);
        if (r < sv.size(0)) {
          EXPECT_LE(max_abs(sv.narrow(0, r, sv.size(0) - r)), 1e-4);
        }
      }
    }
  }
}

TEST(DirectionsExact, FanionMinMNEqualsExactMuon) {
  for (auto dtype : kDtypes) {
    for (const auto& c : spectrum_cases(dtype)) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const Svd svd = exact_svd(c.M);
      const int64_t mn = std::min(svd.U.size(0), svd.V.size(0));
      const at::Tensor ref = polar_ref(svd);
      const double tol = dtype == at::kDouble ? 1e-5 : 1e-4;
      const at::Tensor muon = exact_muon()(c.M);
      EXPECT_LE(rel_err(muon, ref), dtype == at::kDouble ? 1e-9 : 1e-4);
      EXPECT_LE(rel_err(Direction::fanion(mn)(c.M), muon), tol);
      EXPECT_LE(rel_err(Direction::fanion(mn, exact_top_k())(c.M), muon), tol);
      EXPECT_LE(rel_err(Direction::fanion(kFullRank).with_polar(PolarOptions::exact())(c.M), muon),
                tol);
    }
  }
}

TEST(DirectionsExact, NeonIsFanionOneIsTopSingularPair) {
  for (auto dtype : kDtypes) {
    std::vector<MatrixCase> cases = spectrum_cases(dtype);
    for (const auto& c : standard_cases(dtype)) cases.push_back(c);
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const Svd svd = exact_svd(c.M);
      const at::Tensor u1v1 = svd.U.narrow(1, 0, 1).mm(svd.V.narrow(1, 0, 1).t());
      const double tol = dtype == at::kDouble ? 1e-5 : 1e-4;
      const at::Tensor neon = Direction::neon()(c.M);
      EXPECT_LE(rel_err(neon, u1v1), tol);
      EXPECT_LE(rel_err(Direction::fanion(1)(c.M), neon), tol);
      EXPECT_LE(rel_err(Direction::neon(exact_top_k())(c.M), u1v1),
                dtype == at::kDouble ? 1e-9 : 1e-4);
      // Schatten-1 (nuclear ball) has the same maximizer when sigma_1 is simple.
      EXPECT_LE(rel_err(Direction::schatten(1.0)(c.M), u1v1), tol);
    }
  }
}

TEST(DirectionsExact, SchattenEndpointsAreNsgdAndMuon) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const at::Tensor A = mat64(c.M);
      const double tol = dtype == at::kDouble ? 1e-9 : 1e-4;
      const at::Tensor s2 = Direction::schatten(2.0)(c.M);
      EXPECT_LE(rel_err(s2, A / fro(A)), tol);
      EXPECT_LE(rel_err(s2, Direction::nsgd()(c.M)), tol);
      if (c.rank_deficient && dtype != at::kDouble) continue;  // ill-posed polar factor
      const at::Tensor sinf = Direction::schatten(kInf)(c.M);
      EXPECT_LE(rel_err(sinf, polar_ref(exact_svd(c.M))), tol);
      EXPECT_LE(rel_err(sinf, exact_muon()(c.M)), tol);
    }
  }
}

TEST(DirectionsExact, NsgdAndSignClosedForms) {
  for (auto dtype : kDtypes) {
    for (const auto& c : standard_cases(dtype)) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const at::Tensor A = mat64(c.M);
      EXPECT_LE(rel_err(Direction::nsgd()(c.M), A / fro(A)), dtype == at::kDouble ? 1e-14 : 1e-6);
      // sign is exact, including sign(0) = 0.
      EXPECT_TRUE(at::equal(Direction::sign()(c.M), at::sign(c.M)));
    }
  }
}

TEST(DirectionsExact, RankOneRowEveryDirectionIsTheNormalizedRow) {
  // For a 1 x n matrix every unitarily invariant direction is v / ||v||.
  const at::Tensor v = randn({1, 23}, 710);
  const at::Tensor ref = v / fro(v);
  for (const auto& s : basic_specs()) {
    if (is_approximate(s.dir) || s.name == "sign") continue;
    SCOPED_TRACE(s.name);
    EXPECT_LE(rel_err(s.dir(v), ref), uses_iterative_top_k(s.dir) ? 1e-5 : 1e-9);
  }
}

// ---------------------------------------------------------------- quintic Newton–Schulz

TEST(DirectionsQuintic, ApproximatesThePolarFactor) {
  for (auto dtype : kDtypes) {
    std::vector<MatrixCase> cases = spectrum_cases(dtype);
    for (const auto& c : standard_cases(dtype))
      if (!c.rank_deficient) cases.push_back(c);
    for (const auto& c : cases) {
      if (c.rank_deficient) continue;
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      const Svd svd = exact_svd(c.M);
      const at::Tensor Q = Direction::muon()(c.M);
      const at::Tensor sv = at::linalg_svdvals(mat64(Q));
      EXPECT_GE(sv.min().item<double>(), 0.6);
      EXPECT_LE(sv.max().item<double>(), 1.25);
      EXPECT_LT(rel_err(Q, polar_ref(svd)), 0.35);
      const double nuc = svd.S.sum().item<double>();
      // A 1 x n input has a single singular value equal to ||M||_F, which five quintic
      // steps from 1 send to about 0.70: allow that case its lower value.
      const bool single_sv = svd.S.numel() == 1;
      EXPECT_GT(inner64(c.M, Q), (single_sv ? 0.65 : 0.8) * nuc);
      // Aligned with the exact factor: same singular vectors up to the scalar map.
      const at::Tensor UtQV = svd.U.t().mm(mat64(Q)).mm(svd.V);
      const at::Tensor offdiag = UtQV - at::diag_embed(at::diagonal(UtQV));
      EXPECT_LE(fro(offdiag), dtype == at::kDouble ? 1e-8 : 1e-3);
    }
  }
}

TEST(DirectionsQuintic, MatchesPolarFactorWithSameOptions) {
  const at::Tensor M = with_singular_values(20, 12, geometric(12, 10.0, 0.8), 720);
  const auto r = fanion::polar_factor(M);
  EXPECT_LE(rel_err(Direction::muon()(M), r.Q), 1e-12);
  PolarOptions seven;
  seven.set_steps(7);
  EXPECT_LE(rel_err(Direction::muon(seven)(M), fanion::polar_factor(M, seven).Q), 1e-12);
  // A cubic schedule with many steps converges to the exact factor through the direction too.
  PolarOptions cubic;
  cubic.set_schedule(fanion::NewtonSchulzSchedule::cubic()).set_steps(60);
  EXPECT_LE(rel_err(Direction::muon(cubic)(M), polar_ref(exact_svd(M))), 1e-6);
}

// ---------------------------------------------------------------- combinations

TEST(DirectionsCombination, FFanionIsWeightedSum) {
  for (auto dtype : kDtypes) {
    for (const auto& c : spectrum_cases(dtype)) {
      const Svd svd = exact_svd(c.M);
      const at::Tensor A = mat64(c.M);
      const at::Tensor nsgd = A / fro(A);
      for (double alpha : {0.0, 0.3, 0.5, 1.0, 1.1}) {
        for (int64_t k : {int64_t{1}, int64_t{3}}) {
          SCOPED_TRACE(c.name + " k=" + std::to_string(k) + " alpha=" + std::to_string(alpha) +
                       " " + dtype_name(dtype));
          const auto d = fanion::f_fanion(k, alpha);
          const at::Tensor ref = alpha * top_k_sum(svd, k) + (1 - alpha) * nsgd;
          EXPECT_LE(rel_err(d(c.M), ref), dtype == at::kDouble ? 1e-5 : 1e-4);
          const double dual = alpha * ky_fan_ref(svd, k) + (1 - alpha) * fro(A);
          EXPECT_LE(rel_diff(d.dual_norm(c.M), dual), scalar_tol(dtype));
          EXPECT_LE(rel_diff(inner64(c.M, d(c.M)), dual), scalar_tol(dtype));
          // The same as the expression built by hand from the separate directions.
          const auto by_hand = alpha * Direction::fanion(k) + (1 - alpha) * Direction::nsgd();
          EXPECT_LE(rel_err(d(c.M), by_hand(c.M)), 1e-6);
        }
        SCOPED_TRACE("F-Muon alpha=" + std::to_string(alpha));
        auto fm = fanion::f_fanion(kFullRank, alpha);
        fm.with_polar(PolarOptions::exact());
        const at::Tensor ref = alpha * polar_ref(svd) + (1 - alpha) * nsgd;
        EXPECT_LE(rel_err(fm(c.M), ref), dtype == at::kDouble ? 1e-9 : 1e-4);
        // Default F-Muon (quintic) is alpha * Muon() + (1 - alpha) * NSGD exactly.
        const at::Tensor fm_default = fanion::f_fanion(kFullRank, alpha)(c.M);
        const at::Tensor by_hand = alpha * mat64(Direction::muon()(c.M)) + (1 - alpha) * nsgd;
        EXPECT_LE(rel_err(fm_default, by_hand), dtype == at::kDouble ? 1e-9 : 1e-5);
      }
    }
  }
}

TEST(DirectionsCombination, SFanionIsWeightedSum) {
  for (auto dtype : kDtypes) {
    for (const auto& c : spectrum_cases(dtype)) {
      const Svd svd = exact_svd(c.M);
      const at::Tensor A = mat64(c.M);
      const at::Tensor sgn = at::sign(A);
      const double l1 = A.abs().sum().item<double>();
      for (double alpha : {0.0, 0.5, 0.9}) {
        for (double eta : {1.0, 0.01}) {
          for (int64_t k : {int64_t{1}, int64_t{4}}) {
            SCOPED_TRACE(c.name + " k=" + std::to_string(k) + " alpha=" + std::to_string(alpha) +
                         " eta=" + std::to_string(eta) + " " + dtype_name(dtype));
            const auto d = fanion::s_fanion(k, alpha, eta);
            const at::Tensor ref = alpha * top_k_sum(svd, k) + (1 - alpha) * eta * sgn;
            EXPECT_LE(rel_err(d(c.M), ref), dtype == at::kDouble ? 1e-5 : 1e-4);
            const double dual = alpha * ky_fan_ref(svd, k) + (1 - alpha) * eta * l1;
            EXPECT_LE(rel_diff(d.dual_norm(c.M), dual), scalar_tol(dtype));
            EXPECT_LE(rel_diff(inner64(c.M, d(c.M)), dual), scalar_tol(dtype));
          }
          SCOPED_TRACE("S-Muon");
          auto sm = fanion::s_fanion(kFullRank, alpha, eta);
          sm.with_polar(PolarOptions::exact());
          const at::Tensor ref = alpha * polar_ref(svd) + (1 - alpha) * eta * sgn;
          EXPECT_LE(rel_err(sm(c.M), ref), dtype == at::kDouble ? 1e-9 : 1e-4);
        }
      }
    }
  }
}

TEST(DirectionsCombination, ExpressionsAddAndScale) {
  const at::Tensor M = with_singular_values(14, 9, geometric(9, 4.0, 0.7), 730);
  const Svd svd = exact_svd(M);
  const at::Tensor A = mat64(M);
  const auto expr = 0.5 * exact_muon() + 0.25 * Direction::nsgd() + 0.1 * (Direction::sign() * 2.0);
  ASSERT_EQ(expr.terms().size(), 3u);
  const at::Tensor ref = 0.5 * polar_ref(svd) + 0.25 * A / fro(A) + 0.2 * at::sign(A);
  EXPECT_LE(rel_err(expr(M), ref), 1e-9);
  const double dual =
      0.5 * svd.S.sum().item<double>() + 0.25 * fro(A) + 0.2 * A.abs().sum().item<double>();
  EXPECT_LE(rel_diff(expr.dual_norm(M), dual), 1e-10);
  EXPECT_LE(rel_diff(inner64(M, expr(M)), dual), 1e-10);

  // Scaling distributes over a sum; the same direction added twice doubles it.
  const auto sum = (Direction::fanion(2, exact_top_k()) + Direction::nsgd()) * 3.0;
  const at::Tensor ref2 = 3.0 * (top_k_sum(svd, 2) + A / fro(A));
  EXPECT_LE(rel_err(sum(M), ref2), 1e-9);
  const auto twice = Direction::nsgd() + Direction::nsgd();
  EXPECT_LE(rel_err(twice(M), 2.0 * A / fro(A)), 1e-12);
  EXPECT_LE(rel_diff(twice.dual_norm(M), 2.0 * fro(A)), 1e-12);
  // Operands are values: building expressions does not change them.
  const auto nsgd = Direction::nsgd();
  const auto combined = nsgd + 2.0 * nsgd;
  (void)combined;
  EXPECT_EQ(nsgd.terms().size(), 1u);
  EXPECT_EQ(nsgd.terms()[0].weight, 1.0);
  // Negative (non-conic) weights are accepted and still give the weighted sum.
  const auto neg = Direction::nsgd() + (-0.25) * Direction::sign();
  EXPECT_NO_THROW(neg.validate());
  EXPECT_LE(rel_err(neg(M), A / fro(A) - 0.25 * at::sign(A)), 1e-12);
}

TEST(DirectionsCombination, TermsDescribeTheCombination) {
  const auto f = fanion::f_fanion(3, 0.3);
  ASSERT_EQ(f.terms().size(), 2u);
  double w_fanion = 0, w_nsgd = 0;
  for (const auto& t : f.terms()) {
    if (t.kind == DirectionKind::kFanion) {
      EXPECT_EQ(t.k, 3);
      w_fanion += t.weight;
    } else if (t.kind == DirectionKind::kNsgd) {
      w_nsgd += t.weight;
    } else {
      ADD_FAILURE() << "unexpected term kind in f_fanion";
    }
  }
  EXPECT_DOUBLE_EQ(w_fanion, 0.3);
  EXPECT_DOUBLE_EQ(w_nsgd, 0.7);

  const auto s = fanion::s_fanion(2, 0.6, 0.01);
  ASSERT_EQ(s.terms().size(), 2u);
  double w_sign = 0;
  w_fanion = 0;
  for (const auto& t : s.terms()) {
    if (t.kind == DirectionKind::kFanion) w_fanion += t.weight;
    if (t.kind == DirectionKind::kSign) w_sign += t.weight;
  }
  EXPECT_DOUBLE_EQ(w_fanion, 0.6);
  EXPECT_NEAR(w_sign, 0.4 * 0.01, 1e-15);

  const auto neon = Direction::neon();
  ASSERT_EQ(neon.terms().size(), 1u);
  EXPECT_EQ(neon.terms()[0].kind, DirectionKind::kFanion);
  EXPECT_EQ(neon.terms()[0].k, 1);
  EXPECT_EQ(Direction::schatten(3.0).terms()[0].kind, DirectionKind::kSchatten);
  EXPECT_EQ(Direction::schatten(3.0).terms()[0].p, 3.0);
  EXPECT_EQ(Direction::muon().terms()[0].kind, DirectionKind::kMuon);
  EXPECT_EQ(Direction::sign().terms()[0].kind, DirectionKind::kSign);
  EXPECT_EQ(Direction::nsgd().terms()[0].kind, DirectionKind::kNsgd);

  // with_polar / with_top_k reach every term that uses them.
  auto fm = fanion::f_fanion(kFullRank, 0.5) + exact_muon();
  fm.with_polar(PolarOptions::exact().set_steps(9));
  for (const auto& t : fm.terms()) {
    if (t.kind == DirectionKind::kMuon || t.kind == DirectionKind::kFanion) {
      EXPECT_EQ(t.polar.method, PolarMethod::kExact);
      EXPECT_EQ(t.polar.steps, 9);
    }
  }
  auto ff = fanion::f_fanion(4, 0.5) + Direction::neon();
  ff.with_top_k(exact_top_k().set_seed(77));
  int fanion_terms = 0;
  for (const auto& t : ff.terms()) {
    if (t.kind == DirectionKind::kFanion) {
      ++fanion_terms;
      EXPECT_EQ(t.top_k.method, TopKMethod::kExact);
      EXPECT_EQ(t.top_k.seed, 77u);
    }
  }
  EXPECT_EQ(fanion_terms, 2);
  EXPECT_FALSE(Direction::nsgd().name().empty());
  EXPECT_FALSE(f.name().empty());
}

TEST(DirectionsCombination, MakeDirectionFamilies) {
  const at::Tensor M = with_singular_values(15, 10, geometric(10, 6.0, 0.75), 740);
  const double alpha = 0.35, eta = 0.2;
  struct Pair {
    std::string family;
    int64_t k;
    double p;
    Direction expected;
  };
  const std::vector<Pair> pairs = {
      {"nsgd", kFullRank, 2.0, Direction::nsgd()},
      {"sign", kFullRank, 2.0, Direction::sign()},
      {"muon", kFullRank, 2.0, Direction::muon()},
      {"neon", kFullRank, 2.0, Direction::neon()},
      {"fanion", 3, 2.0, Direction::fanion(3)},
      {"f_fanion", 3, 2.0, fanion::f_fanion(3, alpha)},
      {"s_fanion", 3, 2.0, fanion::s_fanion(3, alpha, eta)},
      {"f_muon", kFullRank, 2.0, fanion::f_fanion(kFullRank, alpha)},
      {"f_neon", kFullRank, 2.0, fanion::f_fanion(1, alpha)},
      {"s_muon", kFullRank, 2.0, fanion::s_fanion(kFullRank, alpha, eta)},
      {"s_neon", kFullRank, 2.0, fanion::s_fanion(1, alpha, eta)},
      {"schatten", kFullRank, 3.0, Direction::schatten(3.0)},
      {"schatten", kFullRank, kInf, Direction::schatten(kInf)},
  };
  for (const auto& pr : pairs) {
    SCOPED_TRACE(pr.family + " p=" + std::to_string(pr.p));
    Direction d = fanion::make_direction(pr.family, pr.k, alpha, eta, pr.p);
    EXPECT_NO_THROW(d.validate());
    EXPECT_LE(rel_err(d(M), pr.expected(M)), 1e-9);
    EXPECT_LE(rel_diff(d.dual_norm(M), pr.expected.dual_norm(M)), 1e-12);
    EXPECT_LE(rel_diff(d.dual_norm(M), dual_ref(pr.expected, M)), 1e-9);
  }
  // fanion with k = kFullRank is Muon (the polar factor).
  Direction full = fanion::make_direction("fanion", kFullRank);
  full.with_polar(PolarOptions::exact());
  EXPECT_LE(rel_err(full(M), polar_ref(exact_svd(M))), 1e-9);
  EXPECT_ANY_THROW(fanion::make_direction("adamw"));
  EXPECT_ANY_THROW(fanion::make_direction(""));
}

// ---------------------------------------------------------------- state and dtypes

TEST(DirectionsState, WarmStartedApplyStaysExact) {
  const at::Tensor M0 = with_singular_values(40, 30, geometric(30, 8.0, 0.85), 750);
  const auto subspace = TopKOptions().set_method(TopKMethod::kSubspaceIteration);
  const auto krylov = TopKOptions().set_method(TopKMethod::kBlockKrylov);
  const auto lanczos = TopKOptions().set_method(TopKMethod::kLanczos);
  for (const auto& s : std::vector<Spec>{
           {"fanion3_default", Direction::fanion(3)},
           {"fanion3_subspace", Direction::fanion(3, subspace)},
           {"neon_lanczos", Direction::neon(lanczos)},
           {"f_fanion4_block_krylov", fanion::f_fanion(4, 0.5).with_top_k(krylov)},
           {"s_fanion2_subspace", fanion::s_fanion(2, 0.5, 0.1).with_top_k(subspace)},
           {"expr", Direction::fanion(2, subspace) + exact_muon() + Direction::neon(krylov)}}) {
    SCOPED_TRACE(s.name);
    const bool iterative = s.name != "fanion3_default";
    DirectionState st;
    at::Tensor M = M0.clone();
    for (int step = 0; step < 4; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      const at::Tensor before = M.clone();
      const at::Tensor D = s.dir.apply(M, &st);
      EXPECT_TRUE(at::equal(M, before));
      EXPECT_LE(rel_err(D, *direction_ref(s.dir, M)), 1e-5);
      EXPECT_LE(rel_err(D, s.dir(M)), 1e-5);
      int64_t kept = 0;
      for (const auto& b : st.bases) {
        if (!b.defined()) continue;
        ++kept;
        EXPECT_TRUE(all_finite(b));
        EXPECT_EQ(b.size(0), 30) << "a right basis has n rows";
      }
      // Iterative solvers keep their right basis for the next step (directions.h).
      if (iterative) {
        EXPECT_GE(kept, 1);
      }
      // The next "gradient" is close to the last one, as in training.
      M = M + 0.05 * randn({40, 30}, 760 + step);
    }
  }
}

TEST(DirectionsDtype, ComputeDtypeIsRespectedAndResultKeepsParamDtype) {
  const at::Tensor M64 = with_singular_values(18, 11, geometric(11, 5.0, 0.8), 770);
  const at::Tensor M32 = M64.to(at::kFloat);
  for (const auto& s : std::vector<Spec>{{"muon_exact", exact_muon()},
                                         {"fanion3_exact", Direction::fanion(3, exact_top_k())},
                                         {"schatten3", Direction::schatten(3.0)},
                                         {"nsgd", Direction::nsgd()}}) {
    SCOPED_TRACE(s.name);
    // fp32 parameter, fp64 computation: only the final rounding to fp32 is lost.
    const at::Tensor D = s.dir.apply(M32, nullptr, at::kDouble);
    EXPECT_EQ(D.scalar_type(), at::kFloat);
    EXPECT_LE(rel_err(D, *direction_ref(s.dir, M32)), 1e-6);
    // fp64 parameter, fp32 computation: result is fp64 but only fp32 accurate.
    const at::Tensor D2 = s.dir.apply(M64, nullptr, at::kFloat);
    EXPECT_EQ(D2.scalar_type(), at::kDouble);
    EXPECT_LE(rel_err(D2, *direction_ref(s.dir, M64)), 1e-4);
  }
}

TEST(DirectionsDtype, HalfPrecisionInputsKeepTheirDtype) {
  const at::Tensor M64 = with_singular_values(12, 8, geometric(8, 3.0, 0.7), 780);
  for (auto dtype : {at::kBFloat16, at::kHalf}) {
    const at::Tensor M = M64.to(dtype);
    for (const auto& s : basic_specs()) {
      SCOPED_TRACE(s.name + " " + dtype_name(dtype));
      const at::Tensor D = s.dir(M);
      EXPECT_EQ(D.scalar_type(), dtype);
      EXPECT_EQ(D.sizes(), M.sizes());
      EXPECT_TRUE(all_finite(D));
      const auto ref = direction_ref(s.dir, M);
      if (ref) {
        EXPECT_LE(rel_err(D, *ref), 2e-2);
      }
    }
  }
}

// ---------------------------------------------------------------- validate()

template <class F>
void expect_invalid_argument(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected std::invalid_argument, nothing was thrown";
  } catch (const std::invalid_argument& e) {
    const std::string msg = lower(e.what());
    for (const auto& n : needles)
      EXPECT_NE(msg.find(lower(n)), std::string::npos)
          << "message \"" << e.what() << "\" does not name \"" << n << "\"";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected std::invalid_argument, got another exception: " << e.what();
  }
}

TEST(DirectionsValidate, RejectsBadParametersNamingTheValue) {
  expect_invalid_argument([] { Direction::fanion(0).validate(); }, {"0"});
  expect_invalid_argument([] { Direction::fanion(-3).validate(); }, {"-3"});
  expect_invalid_argument([] { Direction::schatten(0.5).validate(); }, {"0.5"});
  expect_invalid_argument([] { Direction::schatten(-2.0).validate(); }, {"-2"});
  expect_invalid_argument([] { Direction::schatten(std::nan("")).validate(); }, {"nan"});
  expect_invalid_argument([] { (Direction::nsgd() * std::nan("")).validate(); }, {"nan"});
  expect_invalid_argument([] { (kInf * Direction::sign()).validate(); }, {"inf"});
  expect_invalid_argument([] { (Direction::muon() + (-kInf) * Direction::nsgd()).validate(); },
                          {"inf"});
  expect_invalid_argument([] { fanion::f_fanion(2, std::nan("")).validate(); }, {"nan"});
  expect_invalid_argument([] { fanion::s_fanion(2, 0.5, kInf).validate(); }, {"inf"});
  expect_invalid_argument([] { fanion::f_fanion(0, 0.5).validate(); }, {"0"});
  expect_invalid_argument([] { fanion::make_direction("fanion", 0).validate(); }, {"0"});
  expect_invalid_argument(
      [] { fanion::make_direction("schatten", kFullRank, 0.5, 1.0, 0.25).validate(); }, {"0.25"});
}

TEST(DirectionsValidate, AcceptsTheWholeDocumentedRange) {
  EXPECT_NO_THROW(Direction::fanion(1).validate());
  EXPECT_NO_THROW(Direction::fanion(kFullRank).validate());
  EXPECT_NO_THROW(Direction::schatten(1.0).validate());
  EXPECT_NO_THROW(Direction::schatten(kInf).validate());
  EXPECT_NO_THROW(Direction::muon().validate());
  EXPECT_NO_THROW(Direction::neon().validate());
  EXPECT_NO_THROW(fanion::f_fanion(1, 1.1).validate());  // the paper's "no ball" runs
  EXPECT_NO_THROW(fanion::s_fanion(kFullRank, -0.5, 0.01).validate());
  EXPECT_NO_THROW((0.0 * Direction::nsgd()).validate());
}

TEST(DirectionsValidate, NoBallAlphaStillGivesWeightedSumAndDual) {
  // alpha = 1.1: not a norm ball any more, but the direction and <M, d> are still sums.
  const at::Tensor M = with_singular_values(13, 10, geometric(10, 4.0, 0.7), 790);
  const Svd svd = exact_svd(M);
  const at::Tensor A = mat64(M);
  const auto d = fanion::f_fanion(2, 1.1);
  const at::Tensor ref = 1.1 * top_k_sum(svd, 2) - 0.1 * A / fro(A);
  EXPECT_LE(rel_err(d(M), ref), 1e-5);
  const double dual = 1.1 * ky_fan_ref(svd, 2) - 0.1 * fro(A);
  EXPECT_LE(rel_diff(d.dual_norm(M), dual), 1e-9);
  EXPECT_LE(rel_diff(inner64(M, d(M)), dual), 1e-8);
}

}  // namespace
