// Solvers (docs/design.md §3): polar factor (exact and Newton–Schulz) and top-k singular
// triplets, against at::linalg_svd computed here in fp64 on matrices with known spectra.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "fanion/solvers/polar.h"
#include "fanion/solvers/status.h"
#include "fanion/solvers/top_k.h"
#include "test_util.h"

namespace {

using namespace fanion_test;
using fanion::NewtonSchulzCoefficients;
using fanion::NewtonSchulzSchedule;
using fanion::polar_factor;
using fanion::PolarMethod;
using fanion::PolarOptions;
using fanion::PolarResult;
using fanion::SolverStatus;
using fanion::top_k_svd;
using fanion::TopKMethod;
using fanion::TopKOptions;
using fanion::TopKResult;

const std::vector<at::ScalarType> kDtypes = {at::kDouble, at::kFloat};

std::string tag(const std::string& name, at::ScalarType dtype) {
  return name + " " + dtype_name(dtype);
}

/// Full-rank, well-conditioned inputs of several shapes.
std::vector<MatrixCase> full_rank_cases(at::ScalarType dtype) {
  std::vector<MatrixCase> c;
  c.push_back(
      {"distinct_20x12", with_singular_values(20, 12, geometric(12, 10.0, 0.8), 301, dtype)});
  c.push_back({"wide_7x30", with_singular_values(7, 30, {8, 6, 4.5, 3, 2, 1.2, 0.7}, 302, dtype)});
  c.push_back({"square_16x16", with_singular_values(16, 16, geometric(16, 5.0, 0.85), 303, dtype)});
  c.push_back({"gaussian_12x8", randn({12, 8}, 304, dtype)});
  c.push_back({"row_1x17", randn({1, 17}, 305, dtype)});
  c.push_back({"col_9x1", randn({9, 1}, 306, dtype)});
  c.push_back({"tall_48x10", with_singular_values(48, 10, geometric(10, 3.0, 0.8), 307, dtype)});
  return c;
}

PolarOptions cubic(int64_t steps) {
  return PolarOptions{}.set_schedule(NewtonSchulzSchedule::cubic()).set_steps(steps);
}

// ================================================================ polar factor

TEST(SolversPolar, ScheduleTables) {
  const auto q = NewtonSchulzSchedule::quintic();
  ASSERT_FALSE(q.steps.empty());
  for (const auto& row : q.steps) {
    EXPECT_DOUBLE_EQ(row.a, 3.4445);
    EXPECT_DOUBLE_EQ(row.b, -4.7750);
    EXPECT_DOUBLE_EQ(row.c, 2.0315);
  }
  const auto c = NewtonSchulzSchedule::cubic();
  ASSERT_FALSE(c.steps.empty());
  for (const auto& row : c.steps) {
    EXPECT_DOUBLE_EQ(row.a, 1.5);
    EXPECT_DOUBLE_EQ(row.b, -0.5);
    EXPECT_DOUBLE_EQ(row.c, 0.0);
  }
  EXPECT_FALSE(q.name.empty());
  EXPECT_FALSE(c.name.empty());
  EXPECT_NE(q.name, c.name);
  // Defaults documented in polar.h.
  const PolarOptions d;
  EXPECT_EQ(d.method, PolarMethod::kNewtonSchulz);
  EXPECT_EQ(d.steps, 5);
  EXPECT_EQ(PolarOptions::exact().method, PolarMethod::kExact);
}

TEST(SolversPolar, ExactMatchesSvdPolarFactor) {
  for (auto dtype : kDtypes) {
    for (const auto& c : full_rank_cases(dtype)) {
      SCOPED_TRACE(tag(c.name, dtype));
      const at::Tensor before = c.M.clone();
      const auto r = polar_factor(c.M, PolarOptions::exact());
      ASSERT_EQ(r.Q.sizes(), c.M.sizes());
      EXPECT_EQ(r.Q.scalar_type(), dtype);
      EXPECT_TRUE(all_finite(r.Q));
      // The exact path runs in fp64, so fp32 inputs only lose the final rounding.
      EXPECT_LE(rel_err(r.Q, polar_ref(exact_svd(c.M))), dtype == at::kDouble ? 1e-10 : 1e-6);
      EXPECT_EQ(r.stats.status, SolverStatus::kConverged);
      EXPECT_EQ(r.stats.residual, 0.0);
      EXPECT_TRUE(at::equal(c.M, before)) << "polar_factor mutated its input";
    }
  }
}

TEST(SolversPolar, ExactRankDeficientUsesTheNumericalRange) {
  const at::Tensor M = with_singular_values(20, 16, {5, 3, 1.5}, 310);
  const Svd svd = exact_svd(M);
  const at::Tensor ref = svd.U.narrow(1, 0, 3).mm(svd.V.narrow(1, 0, 3).t());
  const auto r = polar_factor(M, PolarOptions::exact());
  EXPECT_LE(rel_err(r.Q, ref), 1e-9);
  const at::Tensor sv = at::linalg_svdvals(mat64(r.Q));
  EXPECT_LE(max_abs(sv.narrow(0, 0, 3) - 1.0), 1e-9);
  EXPECT_LE(max_abs(sv.narrow(0, 3, 13)), 1e-9);
  // fp32 rounding lifts the zero singular values to ~1e-7 * sigma_1: a rank tolerance above
  // that level recovers the rank-3 answer.
  PolarOptions loose = PolarOptions::exact();
  loose.rel_rank_tol = 1e-5;
  const at::Tensor M32 = M.to(at::kFloat);
  const auto r32 = polar_factor(M32, loose);
  EXPECT_EQ(r32.Q.scalar_type(), at::kFloat);
  EXPECT_LE(rel_err(r32.Q, ref), 1e-4);
}

TEST(SolversPolar, CubicNewtonSchulzConvergesToExactFactor) {
  for (const auto& c : std::vector<MatrixCase>{
           {"tall_20x12", with_singular_values(20, 12, geometric(12, 4.0, 0.88), 320)},
           {"wide_12x20", with_singular_values(12, 20, geometric(12, 4.0, 0.88), 321)},
           {"square_10x10", with_singular_values(10, 10, geometric(10, 2.0, 0.9), 322)},
           {"row_1x9", randn({1, 9}, 323)}}) {
    SCOPED_TRACE(c.name);
    const at::Tensor before = c.M.clone();
    const auto r = polar_factor(c.M, cubic(40));
    const at::Tensor ref = polar_ref(exact_svd(c.M));
    EXPECT_EQ(r.Q.scalar_type(), at::kDouble);
    EXPECT_LE(max_abs(mat64(r.Q) - ref), 1e-6);
    EXPECT_LE(rel_err(r.Q, ref), 1e-6);
    EXPECT_GE(r.stats.iterations, 1);
    EXPECT_LE(r.stats.iterations, 40);
    EXPECT_GT(r.stats.matmuls, 0);
    EXPECT_NE(r.stats.status, SolverStatus::kNumericalIssue);
    EXPECT_TRUE(at::equal(c.M, before));
  }
  // fp32 converges to fp32 accuracy.
  const at::Tensor M32 = with_singular_values(20, 12, geometric(12, 4.0, 0.88), 324, at::kFloat);
  const auto r32 = polar_factor(M32, cubic(40));
  EXPECT_EQ(r32.Q.scalar_type(), at::kFloat);
  EXPECT_LE(rel_err(r32.Q, polar_ref(exact_svd(M32))), 1e-5);
}

TEST(SolversPolar, QuinticIsApproximateAndCountsItsWork) {
  for (auto dtype : kDtypes) {
    for (const auto& c : full_rank_cases(dtype)) {
      SCOPED_TRACE(tag(c.name, dtype));
      const at::Tensor before = c.M.clone();
      const Svd svd = exact_svd(c.M);
      const auto r = polar_factor(c.M);  // defaults: quintic, 5 steps
      ASSERT_EQ(r.Q.sizes(), c.M.sizes());
      EXPECT_EQ(r.Q.scalar_type(), dtype);
      EXPECT_TRUE(all_finite(r.Q));
      EXPECT_EQ(r.stats.iterations, 5);
      EXPECT_GE(r.stats.matmuls, 5);
      EXPECT_NE(r.stats.status, SolverStatus::kNumericalIssue);
      const at::Tensor sv = at::linalg_svdvals(mat64(r.Q));
      EXPECT_GE(sv.min().item<double>(), 0.6);
      EXPECT_LE(sv.max().item<double>(), 1.25);
      EXPECT_LT(rel_err(r.Q, polar_ref(svd)), 0.35);
      EXPECT_GT(inner64(c.M, r.Q), 0.6 * svd.S.sum().item<double>());
      EXPECT_TRUE(at::equal(c.M, before));
    }
  }
  const at::Tensor M = with_singular_values(20, 12, geometric(12, 10.0, 0.8), 330);
  for (int64_t steps : {1, 3, 8}) {
    SCOPED_TRACE("steps=" + std::to_string(steps));
    const auto r = polar_factor(M, PolarOptions{}.set_steps(steps));
    EXPECT_EQ(r.stats.iterations, steps);
    EXPECT_GE(r.stats.matmuls, steps);
  }
}

TEST(SolversPolar, ShortScheduleRepeatsItsLastRow) {
  const at::Tensor M = with_singular_values(18, 11, geometric(11, 3.0, 0.85), 340);
  const NewtonSchulzCoefficients q = NewtonSchulzSchedule::quintic().steps.front();
  const NewtonSchulzCoefficients c3 = NewtonSchulzSchedule::cubic().steps.front();
  const NewtonSchulzCoefficients odd{2.0, -1.5, 0.5};
  // One quintic row then the cubic row repeated: converges to the exact factor.
  NewtonSchulzSchedule mixed{"mixed", {q, c3}};
  const auto rm = polar_factor(M, PolarOptions{}.set_schedule(mixed).set_steps(40));
  EXPECT_LE(rel_err(rm.Q, polar_ref(exact_svd(M))), 1e-6);
  // A one-row table run three times equals the row written out three times.
  NewtonSchulzSchedule one{"one", {odd}};
  NewtonSchulzSchedule three{"three", {odd, odd, odd}};
  const auto r1 = polar_factor(M, PolarOptions{}.set_schedule(one).set_steps(3));
  const auto r3 = polar_factor(M, PolarOptions{}.set_schedule(three).set_steps(3));
  EXPECT_LE(rel_err(r1.Q, r3.Q), 1e-13);
  // Fewer steps than rows: only the first rows are used.
  NewtonSchulzSchedule qc{"qc", {q, c3}};
  NewtonSchulzSchedule qcq{"qcq", {q, c3, q}};
  const auto a = polar_factor(M, PolarOptions{}.set_schedule(qc).set_steps(2));
  const auto b = polar_factor(M, PolarOptions{}.set_schedule(qcq).set_steps(2));
  EXPECT_LE(rel_err(a.Q, b.Q), 1e-13);
  // ...and the order of the rows matters (the table is really followed per step).
  NewtonSchulzSchedule cq{"cq", {c3, q}};
  const auto d = polar_factor(M, PolarOptions{}.set_schedule(cq).set_steps(2));
  EXPECT_GT(rel_err(a.Q, d.Q), 1e-6);
}

TEST(SolversPolar, IterationDtypeOption) {
  const at::Tensor M64 = with_singular_values(16, 10, geometric(10, 3.0, 0.85), 350);
  const at::Tensor M32 = M64.to(at::kFloat);
  const at::Tensor ref = polar_ref(exact_svd(M32));
  // fp32 input iterated in fp64: fp32 result, accurate up to the final rounding.
  const auto r = polar_factor(M32, cubic(40).set_dtype(at::kDouble));
  EXPECT_EQ(r.Q.scalar_type(), at::kFloat);
  EXPECT_LE(rel_err(r.Q, ref), 1e-6);
  // fp64 input iterated in fp32: fp64 result with fp32 accuracy.
  const auto r2 = polar_factor(M64, cubic(40).set_dtype(at::kFloat));
  EXPECT_EQ(r2.Q.scalar_type(), at::kDouble);
  EXPECT_LE(rel_err(r2.Q, polar_ref(exact_svd(M64))), 1e-4);
  EXPECT_GT(rel_err(r2.Q, polar_ref(exact_svd(M64))), 1e-10) << "did not iterate in fp32";
}

TEST(SolversPolar, Bfloat16IterationOnTheCpu) {
  // A bf16 iteration on a CPU. The default runs LibTorch's own bf16 kernels, as torch.optim.Muon
  // does: product for product Keller Jordan's bf16 loop. fp32_products (each product in fp32,
  // rounded once: a GPU's rule) is within bf16 accuracy of the fp32 iteration. Both did iterate
  // in bf16. (torch 1.13's bf16 CPU kernels lose more than 2.x's: ~5% here against ~1%.)
  const at::Tensor M = with_singular_values(48, 32, geometric(32, 3.0, 0.9), 361).to(at::kFloat);
  const PolarOptions quintic3 =
      PolarOptions{}.set_steps(3).set_gram_normalization(false).set_dtype(at::kBFloat16);
  at::Tensor X = M.t().to(at::kBFloat16);  // native bf16, Keller Jordan's loop
  X = X / X.norm();
  for (int t = 0; t < 3; ++t) {
    const at::Tensor A = at::matmul(X, X.t());
    const at::Tensor B = at::addmm(A, A, A, -4.7750, 2.0315);
    X = at::addmm(X, B, X, 3.4445);
  }
  const auto fp32 = polar_factor(M, PolarOptions{quintic3}.set_dtype(at::kFloat));
  const auto native = polar_factor(M, quintic3);
  EXPECT_EQ(native.Q.scalar_type(), at::kFloat);
  EXPECT_LE(rel_err(native.Q, X.t().to(at::kFloat)), 1e-6);
  EXPECT_LE(rel_err(native.Q, fp32.Q), 8e-2);
  EXPECT_GT(rel_err(native.Q, fp32.Q), 1e-3) << "did not iterate in bf16";
  const auto fast = polar_factor(M, PolarOptions{quintic3}.set_fp32_products(true));
  EXPECT_EQ(fast.Q.scalar_type(), at::kFloat);
  EXPECT_LE(rel_err(fast.Q, fp32.Q), 3e-2);
  EXPECT_GT(rel_err(fast.Q, fp32.Q), 1e-3) << "did not iterate in bf16";
}

TEST(SolversPolar, TransposeCommutes) {
  const at::Tensor M = with_singular_values(19, 8, geometric(8, 3.0, 0.8), 360);
  for (const auto& opts :
       std::vector<PolarOptions>{PolarOptions::exact(), PolarOptions{}, cubic(30)}) {
    SCOPED_TRACE(opts.method == PolarMethod::kExact ? "exact" : opts.schedule.name);
    const auto a = polar_factor(M, opts);
    const auto b = polar_factor(M.t(), opts);  // non-contiguous view
    ASSERT_EQ(b.Q.sizes(), M.t().sizes());
    EXPECT_LE(rel_err(b.Q, a.Q.t()), 1e-10);
  }
}

TEST(SolversPolar, ScaleInvariance) {
  const at::Tensor M = with_singular_values(12, 9, geometric(9, 3.0, 0.8), 365);
  for (const auto& opts :
       std::vector<PolarOptions>{PolarOptions::exact(), PolarOptions{}, cubic(30)}) {
    SCOPED_TRACE(opts.method == PolarMethod::kExact ? "exact" : opts.schedule.name);
    const at::Tensor Q = polar_factor(M, opts).Q;
    for (double c : {1e-3, 0.5, 7.0, 1e3}) {
      EXPECT_LE(rel_err(polar_factor(M * c, opts).Q, Q), 1e-6) << "c=" << c;
    }
  }
}

TEST(SolversPolar, ZeroMatrixGivesZeros) {
  for (auto dtype : kDtypes) {
    for (const auto& shape : std::vector<std::vector<int64_t>>{{6, 4}, {4, 6}, {1, 5}, {5, 1}}) {
      const at::Tensor Z = at::zeros(shape, at::TensorOptions().dtype(dtype));
      for (const auto& opts :
           std::vector<PolarOptions>{PolarOptions::exact(), PolarOptions{}, cubic(20)}) {
        SCOPED_TRACE(tag(std::to_string(shape[0]) + "x" + std::to_string(shape[1]), dtype) +
                     (opts.method == PolarMethod::kExact ? " exact" : " " + opts.schedule.name));
        const auto r = polar_factor(Z, opts);
        ASSERT_EQ(r.Q.sizes(), Z.sizes());
        EXPECT_EQ(r.Q.scalar_type(), dtype);
        EXPECT_TRUE(all_finite(r.Q));
        EXPECT_EQ(max_abs(r.Q), 0.0);
      }
    }
  }
}

TEST(SolversPolar, RowVectorIsNormalized) {
  const at::Tensor v = randn({1, 11}, 370);
  EXPECT_LE(rel_err(polar_factor(v, PolarOptions::exact()).Q, v / fro(v)), 1e-12);
  EXPECT_LE(rel_err(polar_factor(v, cubic(40)).Q, v / fro(v)), 1e-10);
  EXPECT_LE(rel_err(polar_factor(v.t(), PolarOptions::exact()).Q, v.t() / fro(v)), 1e-12);
}

TEST(SolversPolar, PolarExpressSchedules) {
  // polar_express: 5 steps, at least as close to U V^T as Keller Jordan's quintic;
  // polar_express_exact: converges to U V^T given 8 or more steps (polar.h).
  EXPECT_EQ(NewtonSchulzSchedule::by_name("quintic").name, NewtonSchulzSchedule::quintic().name);
  EXPECT_EQ(NewtonSchulzSchedule::by_name("cubic").name, NewtonSchulzSchedule::cubic().name);
  EXPECT_EQ(NewtonSchulzSchedule::by_name("polar_express").name,
            NewtonSchulzSchedule::polar_express().name);
  EXPECT_EQ(NewtonSchulzSchedule::by_name("polar_express_exact").name,
            NewtonSchulzSchedule::polar_express_exact().name);
  EXPECT_THROW(NewtonSchulzSchedule::by_name("no_such_schedule"), std::invalid_argument);
  for (auto dtype : kDtypes) {
    for (const auto& c : full_rank_cases(dtype)) {
      SCOPED_TRACE(tag(c.name, dtype));
      const at::Tensor ref = polar_ref(exact_svd(c.M));
      const auto pe = polar_factor(
          c.M, PolarOptions{}.set_schedule(NewtonSchulzSchedule::polar_express()).set_steps(5));
      const auto q = polar_factor(c.M);
      const at::Tensor sv = at::linalg_svdvals(mat64(pe.Q));
      EXPECT_GE(sv.min().item<double>(), 0.6);
      EXPECT_LE(sv.max().item<double>(), 1.25);
      EXPECT_LE(rel_err(pe.Q, ref), rel_err(q.Q, ref) + 1e-6);
      for (int64_t steps : {8, 12}) {
        const auto pex =
            polar_factor(c.M, PolarOptions{}
                                  .set_schedule(NewtonSchulzSchedule::polar_express_exact())
                                  .set_steps(steps));
        EXPECT_LE(rel_err(pex.Q, ref), dtype == at::kDouble ? 1e-6 : 1e-4) << "steps=" << steps;
        EXPECT_EQ(pex.stats.iterations, steps);
      }
    }
  }
}

TEST(SolversPolar, EarlyStoppingTolerance) {
  const at::Tensor M = with_singular_values(20, 12, geometric(12, 4.0, 0.88), 380);
  const at::Tensor ref = polar_ref(exact_svd(M));
  // Enough steps: stops early, converged, accurate.
  const auto r = polar_factor(M, cubic(100).set_tol(1e-12));
  EXPECT_LT(r.stats.iterations, 100);
  EXPECT_GE(r.stats.iterations, 5);
  EXPECT_EQ(r.stats.status, SolverStatus::kConverged);
  EXPECT_LE(r.stats.residual, 1e-12);
  EXPECT_LE(rel_err(r.Q, ref), 1e-9);
  // Too few steps: the budget is spent, reported as not converged, not as an exception.
  PolarResult short_run;
  EXPECT_NO_THROW(short_run = polar_factor(M, cubic(3).set_tol(1e-12)));
  EXPECT_EQ(short_run.stats.iterations, 3);
  EXPECT_EQ(short_run.stats.status, SolverStatus::kNotConverged);
  EXPECT_GT(short_run.stats.residual, 1e-12);
  EXPECT_TRUE(all_finite(short_run.Q));
  // tol = 0 runs every step.
  EXPECT_EQ(polar_factor(M, cubic(17)).stats.iterations, 17);
}

// ================================================================ batched polar factor

/// B matrices of one shape with different spectra, slice `zero` set to 0 (-1: none).
at::Tensor polar_stack(int64_t B, int64_t m, int64_t n, at::ScalarType dtype, int64_t zero = -1) {
  std::vector<at::Tensor> slices;
  for (int64_t b = 0; b < B; ++b) {
    slices.push_back(
        b == zero ? at::zeros({m, n}, at::TensorOptions().dtype(dtype))
                  : with_singular_values(m, n, geometric(std::min(m, n), 3.0 + b, 0.7 + 0.05 * b),
                                         500 + b, dtype));
  }
  return at::stack(slices);
}

TEST(SolversPolarBatched, NewtonSchulzSliceEqualsTheTwoDimensionalResult) {
  // Each slice of a stack is normalized by its own norms and iterated by the same products,
  // so it must equal the 2-D polar factor of that slice up to the products' rounding: 1e-12
  // relative in fp64, 1e-5 in fp32 (ATen multiplies tiny batched matrices by its own loop,
  // not the BLAS GEMM, and the steps amplify the difference to ~1e-6: the size of the fp32
  // rounding of the 2-D result itself). The zero slice stays exactly zero.
  const auto pe =
      PolarOptions{}.set_schedule(NewtonSchulzSchedule::polar_express_exact()).set_steps(10);
  for (auto dtype : kDtypes) {
    const double tol = dtype == at::kDouble ? 1e-12 : 1e-5;
    for (const auto& shape :
         std::vector<std::vector<int64_t>>{{4, 16, 16}, {3, 7, 30}, {5, 40, 9}}) {
      const at::Tensor S = polar_stack(shape[0], shape[1], shape[2], dtype, /*zero=*/1);
      const at::Tensor before = S.clone();
      for (const auto& opts : std::vector<PolarOptions>{
               PolarOptions{}, pe, cubic(30), PolarOptions{}.set_gram_normalization(false)}) {
        SCOPED_TRACE(tag(
            std::to_string(shape[1]) + "x" + std::to_string(shape[2]) + " " + opts.schedule.name,
            dtype));
        const auto r = polar_factor(S, opts);
        ASSERT_EQ(r.Q.sizes(), S.sizes());
        EXPECT_EQ(r.Q.scalar_type(), dtype);
        EXPECT_EQ(r.stats.status, SolverStatus::kConverged);
        EXPECT_EQ(max_abs(r.Q[1]), 0.0);
        for (int64_t b = 0; b < S.size(0); ++b) {
          if (b == 1) continue;
          const auto one = polar_factor(S[b], opts);
          EXPECT_LE(rel_err(r.Q[b], one.Q), tol) << "slice " << b;
          // Counters: a batched product counts once, matvecs count every slice.
          EXPECT_EQ(r.stats.matmuls, one.stats.matmuls);
          EXPECT_EQ(r.stats.iterations, one.stats.iterations);
          EXPECT_EQ(r.stats.matvecs, one.stats.matvecs * S.size(0));
        }
        EXPECT_TRUE(at::equal(S, before)) << "polar_factor mutated its input";
      }
    }
  }
}

TEST(SolversPolarBatched, ExactAndGramSolveEverySlice) {
  for (auto dtype : kDtypes) {
    const at::Tensor S = polar_stack(3, 12, 20, dtype, /*zero=*/2);
    for (const auto& opts : {PolarOptions::exact(), PolarOptions::gram()}) {
      SCOPED_TRACE(tag(opts.method == PolarMethod::kExact ? "exact" : "gram", dtype));
      const auto r = polar_factor(S, opts);
      ASSERT_EQ(r.Q.sizes(), S.sizes());
      EXPECT_EQ(r.Q.scalar_type(), dtype);
      for (int64_t b = 0; b < 2; ++b) {
        EXPECT_LE(rel_err(r.Q[b], polar_ref(exact_svd(S[b]))), dtype == at::kDouble ? 1e-10 : 1e-5);
      }
      EXPECT_EQ(max_abs(r.Q[2]), 0.0);
      EXPECT_EQ(r.stats.passes, polar_factor(S[0], opts).stats.passes * 3);
    }
  }
}

TEST(SolversPolarBatched, EarlyStopWaitsForTheSlowestSlice) {
  // Slices with different conditioning need different numbers of cubic steps: the stack
  // stops when the slowest one meets tol, and a zero slice does not hold it back.
  std::vector<at::Tensor> slices = {with_singular_values(20, 12, geometric(12, 4.0, 0.95), 510),
                                    with_singular_values(20, 12, geometric(12, 4.0, 0.6), 511),
                                    at::zeros({20, 12}, at::kDouble)};
  const at::Tensor S = at::stack(slices);
  const auto opts = cubic(200).set_tol(1e-12);
  int64_t slowest = 0;
  for (int64_t b = 0; b < 2; ++b) {
    const auto one = polar_factor(S[b], opts);
    ASSERT_EQ(one.stats.status, SolverStatus::kConverged);
    slowest = std::max(slowest, one.stats.iterations);
  }
  const auto r = polar_factor(S, opts);
  EXPECT_EQ(r.stats.status, SolverStatus::kConverged);
  EXPECT_EQ(r.stats.iterations, slowest);
  EXPECT_LE(r.stats.residual, 1e-12);
  for (int64_t b = 0; b < 2; ++b) EXPECT_LE(rel_err(r.Q[b], polar_ref(exact_svd(S[b]))), 1e-9);
  EXPECT_EQ(max_abs(r.Q[2]), 0.0);
  // Too few steps: reported, not raised.
  EXPECT_EQ(polar_factor(S, cubic(3).set_tol(1e-12)).stats.status, SolverStatus::kNotConverged);
  // A lone zero matrix has converged too (residual 0, not 0 / 0).
  const auto z = polar_factor(slices[2], opts);
  EXPECT_EQ(z.stats.status, SolverStatus::kConverged);
  EXPECT_EQ(z.stats.iterations, 1);
  EXPECT_EQ(z.stats.residual, 0.0);
}

TEST(SolversPolarBatched, EmptyStacksAndBadRanks) {
  EXPECT_EQ(polar_factor(at::zeros({0, 4, 5}, at::kDouble)).Q.sizes(),
            (std::vector<int64_t>{0, 4, 5}));
  EXPECT_EQ(polar_factor(at::zeros({3, 0, 5}, at::kDouble)).Q.sizes(),
            (std::vector<int64_t>{3, 0, 5}));
  EXPECT_THROW(polar_factor(at::zeros({2, 3, 4, 5}, at::kDouble)), std::invalid_argument);
  EXPECT_THROW(polar_factor(at::zeros({5}, at::kDouble)), std::invalid_argument);
}

// ================================================================ top-k SVD

struct TopKTol {
  double value;     ///< |S - S_ref| / sigma_1, orthonormality, triplet residuals
  double subspace;  ///< projector error, multiplied by sigma_1 / gap
};

TopKTol exact_tol(at::ScalarType dtype) {
  return dtype == at::kDouble ? TopKTol{1e-10, 1e-12} : TopKTol{2e-5, 1e-5};
}

/// Checks r = expected_r triplets of M against the test's SVD. The subspace check runs
/// only when sigma_r > sigma_{r+1} (a well-defined top-r subspace).
void check_top_k(const at::Tensor& M, const TopKResult& res, int64_t expected_r, TopKTol tol) {
  const Svd svd = exact_svd(M);
  const at::Tensor A = mat64(M);
  const int64_t m = A.size(0), n = A.size(1);
  ASSERT_TRUE(res.U.defined() && res.S.defined() && res.V.defined());
  ASSERT_EQ(res.U.dim(), 2);
  ASSERT_EQ(res.S.dim(), 1);
  ASSERT_EQ(res.V.dim(), 2);
  EXPECT_EQ(res.U.size(0), m);
  EXPECT_EQ(res.V.size(0), n);
  const int64_t r = res.S.size(0);
  EXPECT_EQ(r, expected_r);
  ASSERT_EQ(res.U.size(1), r);
  ASSERT_EQ(res.V.size(1), r);
  EXPECT_TRUE(all_finite(res.U) && all_finite(res.S) && all_finite(res.V));
  if (r == 0) return;
  const double s1 = svd.S[0].item<double>();
  const at::Tensor U = res.U.to(at::kDouble), S = res.S.to(at::kDouble), V = res.V.to(at::kDouble);
  const int64_t rr = std::min<int64_t>(r, svd.S.size(0));

  if (r > 1) {
    EXPECT_TRUE((S.narrow(0, 0, r - 1) >= S.narrow(0, 1, r - 1)).all().item<bool>())
        << "S not descending: " << S;
  }
  EXPECT_GT(S.min().item<double>(), 0.0);
  EXPECT_LE(max_abs(S.narrow(0, 0, rr) - svd.S.narrow(0, 0, rr)), tol.value * s1)
      << "S = " << S << "\nreference = " << svd.S.narrow(0, 0, rr);
  EXPECT_LE(orthonormality_error(U), tol.value * 10) << "U not orthonormal";
  EXPECT_LE(orthonormality_error(V), tol.value * 10) << "V not orthonormal";
  // Genuine singular triplets: M v_i = s_i u_i and M^T u_i = s_i v_i.
  EXPECT_LE(max_abs(A.mm(V) - U * S.unsqueeze(0)), tol.value * 10 * s1);
  EXPECT_LE(max_abs(A.t().mm(U) - V * S.unsqueeze(0)), tol.value * 10 * s1);

  const double s_next = rr < svd.S.size(0) ? svd.S[rr].item<double>() : 0.0;
  const double gap = svd.S[rr - 1].item<double>() - s_next;
  if (gap > 1e-9 * s1) {
    const at::Tensor Ur = svd.U.narrow(1, 0, rr), Vr = svd.V.narrow(1, 0, rr);
    const double bound = std::max(tol.subspace * s1 / gap, tol.value * 10);
    EXPECT_LE(fro(U.mm(U.t()) - Ur.mm(Ur.t())), bound) << "left subspace";
    EXPECT_LE(fro(V.mm(V.t()) - Vr.mm(Vr.t())), bound) << "right subspace";
  }
}

struct SpectrumCase {
  std::string name;
  int64_t m, n;
  std::vector<double> s;
  std::vector<int64_t> ks;
};

std::vector<SpectrumCase> spectrum_cases(at::ScalarType dtype) {
  const bool f64 = dtype == at::kDouble;
  return {
      {"distinct_20x12", 20, 12, geometric(12, 10.0, 0.8), {1, 3, 6, 12}},
      {"clustered_18x14", 18, 14, {10, 9.99, 9.98, 9.97, 2, 1.5, 1, 0.5, 0.25}, {1, 2, 4, 5}},
      {"repeated_15x10", 15, 10, {5, 5, 5, 2, 2, 1, 0.5, 0.3, 0.2, 0.1}, {2, 3, 4, 5}},
      {"tiny_gap_16x12",
       16,
       12,
       {4, 3, f64 ? 2 + 1e-7 : 2.01, 2, 1, 0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05},
       {2, 3, 4}},
      {"tall_48x10", 48, 10, geometric(10, 3.0, 0.75), {1, 4, 10}},
      {"wide_10x48", 10, 48, geometric(10, 3.0, 0.75), {1, 4, 10}},
      {"row_1x17", 1, 17, {2.5}, {1}},
      {"col_13x1", 13, 1, {1.5}, {1}},
  };
}

// The floors inside the solvers are relative to M's scale (docs/design.md §3): at 1e-30 ... 1e30
// every method converges to the top-k subspace, <M, U Vᵀ> = the Ky Fan k-norm.
TEST(SolversTopK, EveryMethodAtEveryScale) {
  const int64_t k = 5;
  for (auto dtype : {at::kFloat, at::kDouble}) {
    const at::Tensor M = randn({120, 100}, 23, dtype);
    const double ky_fan = exact_svd(M).S.narrow(0, 0, k).sum().item<double>();
    for (auto method : {TopKMethod::kExact, TopKMethod::kGram, TopKMethod::kLanczos,
                        TopKMethod::kBlockKrylov, TopKMethod::kSubspaceIteration}) {
      for (double c : {1e-30, 1e-20, 1e-12, 1.0, 1e12, 1e20, 1e30}) {
        SCOPED_TRACE(fanion::to_string(method) + " c=" + std::to_string(c) +
                     (dtype == at::kDouble ? " fp64" : " fp32"));
        const auto r = top_k_svd(M * c, k, TopKOptions().set_method(method));
        EXPECT_EQ(r.stats.status, fanion::SolverStatus::kConverged);
        ASSERT_EQ(r.S.size(0), k);
        const double inner =
            (M.to(at::kDouble) * at::matmul(r.U, r.V.t()).to(at::kDouble)).sum().item<double>();
        EXPECT_NEAR(inner / ky_fan, 1.0, dtype == at::kDouble ? 1e-9 : 1e-4);
        EXPECT_NEAR(r.S.sum().item<double>() / (c * ky_fan), 1.0,
                    dtype == at::kDouble ? 1e-9 : 1e-4);
      }
    }
  }
}

TEST(SolversTopK, ExactMatchesSvdOnKnownSpectra) {
  for (auto dtype : kDtypes) {
    for (const auto& sc : spectrum_cases(dtype)) {
      const at::Tensor M = with_singular_values(sc.m, sc.n, sc.s, 400 + sc.m * 7 + sc.n, dtype);
      for (int64_t k : sc.ks) {
        SCOPED_TRACE(tag(sc.name, dtype) + " k=" + std::to_string(k));
        const at::Tensor before = M.clone();
        const auto res = top_k_svd(M, k, TopKOptions().set_method(TopKMethod::kExact));
        check_top_k(M, res, std::min<int64_t>(k, static_cast<int64_t>(sc.s.size())),
                    exact_tol(dtype));
        EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
        EXPECT_TRUE(at::equal(M, before)) << "top_k_svd mutated its input";
      }
    }
  }
}

TEST(SolversTopK, KBeyondRankClampsToNumericalRank) {
  // fp64: exact rank 3, default rel_rank_tol.
  const at::Tensor M = with_singular_values(20, 16, {5, 3, 1.5}, 420);
  for (int64_t k : {3, 4, 5, 16, 40}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    for (auto method : {TopKMethod::kExact, TopKMethod::kAuto}) {
      const auto res = top_k_svd(M, k, TopKOptions().set_method(method));
      check_top_k(M, res, 3,
                  method == TopKMethod::kExact ? exact_tol(at::kDouble) : TopKTol{1e-6, 1e-5});
      EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
    }
  }
  // fp32 rounding makes the "zero" singular values ~1e-7 * sigma_1: a tolerance above that
  // level clamps to rank 3 again.
  const at::Tensor M32 = M.to(at::kFloat);
  TopKOptions loose = TopKOptions().set_method(TopKMethod::kExact);
  loose.rel_rank_tol = 1e-5;
  const auto res32 = top_k_svd(M32, 6, loose);
  check_top_k(M32, res32, 3, exact_tol(at::kFloat));
  // k > min(m, n) on a full-rank matrix clamps to min(m, n).
  const at::Tensor W = with_singular_values(7, 30, {8, 6, 4.5, 3, 2, 1.2, 0.7}, 421);
  check_top_k(W, top_k_svd(W, 10, TopKOptions().set_method(TopKMethod::kExact)), 7,
              exact_tol(at::kDouble));
}

TEST(SolversTopK, AutoMatchesExact) {
  for (auto dtype : kDtypes) {
    const std::vector<std::pair<std::string, at::Tensor>> cases = {
        {"distinct_20x12", with_singular_values(20, 12, geometric(12, 10.0, 0.8), 430, dtype)},
        {"tall_48x10", with_singular_values(48, 10, geometric(10, 3.0, 0.75), 431, dtype)},
        {"wide_10x48", with_singular_values(10, 48, geometric(10, 3.0, 0.75), 432, dtype)},
        {"big_64x48", with_singular_values(64, 48, geometric(48, 10.0, 0.9), 433, dtype)},
        {"gaussian_40x30", randn({40, 30}, 434, dtype)}};
    for (const auto& c : cases) {
      for (int64_t k : {1, 2, 4}) {
        SCOPED_TRACE(tag(c.first, dtype) + " k=" + std::to_string(k));
        const at::Tensor before = c.second.clone();
        const auto res = top_k_svd(c.second, k);
        check_top_k(c.second, res, k,
                    dtype == at::kDouble ? TopKTol{1e-6, 1e-6} : TopKTol{5e-5, 1e-5});
        EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
        EXPECT_TRUE(at::equal(c.second, before));
      }
    }
  }
}

TEST(SolversTopK, DeterministicWithTheSameSeed) {
  const at::Tensor M = with_singular_values(64, 48, geometric(48, 10.0, 0.92), 440);
  for (auto method : {TopKMethod::kAuto, TopKMethod::kExact}) {
    for (uint64_t seed : {0u, 3u}) {
      SCOPED_TRACE("seed=" + std::to_string(seed));
      const TopKOptions o = TopKOptions().set_method(method).set_seed(seed);
      const auto a = top_k_svd(M, 4, o);
      at::manual_seed(12345);  // disturb the global generator between the two calls
      (void)at::randn({1000});
      const auto b = top_k_svd(M, 4, o);
      EXPECT_TRUE(at::equal(a.U, b.U));
      EXPECT_TRUE(at::equal(a.S, b.S));
      EXPECT_TRUE(at::equal(a.V, b.V));
      EXPECT_EQ(a.stats.matvecs, b.stats.matvecs);
      EXPECT_EQ(a.stats.passes, b.stats.passes);
      EXPECT_EQ(a.stats.iterations, b.stats.iterations);
    }
  }
}

TEST(SolversTopK, WarmStartIsUsedButNotMutated) {
  const at::Tensor M = with_singular_values(40, 30, geometric(30, 8.0, 0.85), 450);
  const Svd svd = exact_svd(M);
  for (int64_t width : {3, 2, 5}) {
    SCOPED_TRACE("warm start width " + std::to_string(width));
    at::Tensor warm =
        svd.V.narrow(1, 0, std::min<int64_t>(width, 30)).clone() + 1e-3 * randn({30, width}, 451);
    const at::Tensor before = warm.clone();
    const auto res = top_k_svd(M, 3, TopKOptions(), warm);
    check_top_k(M, res, 3, TopKTol{1e-6, 1e-6});
    EXPECT_TRUE(at::equal(warm, before)) << "warm start mutated";
  }
  // A poor warm start (random) still gives the right answer.
  const at::Tensor bad = randn({30, 3}, 452);
  const auto res = top_k_svd(M, 3, TopKOptions(), bad);
  check_top_k(M, res, 3, TopKTol{1e-6, 1e-6});
}

TEST(SolversTopK, ZeroMatrixGivesEmptyFactors) {
  for (auto dtype : kDtypes) {
    for (auto method : {TopKMethod::kExact, TopKMethod::kAuto}) {
      SCOPED_TRACE(tag(method == TopKMethod::kExact ? "exact" : "auto", dtype));
      const at::Tensor Z = at::zeros({9, 6}, at::TensorOptions().dtype(dtype));
      const auto res = top_k_svd(Z, 3, TopKOptions().set_method(method));
      ASSERT_TRUE(res.U.defined() && res.S.defined() && res.V.defined());
      EXPECT_EQ(res.U.sizes(), (std::vector<int64_t>{9, 0}));
      EXPECT_EQ(res.S.sizes(), (std::vector<int64_t>{0}));
      EXPECT_EQ(res.V.sizes(), (std::vector<int64_t>{6, 0}));
      EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
    }
  }
}

TEST(SolversTopK, RowAndNonContiguousInputs) {
  const at::Tensor v = randn({1, 17}, 460);
  for (auto method : {TopKMethod::kExact, TopKMethod::kAuto}) {
    const auto res = top_k_svd(v, 3, TopKOptions().set_method(method));
    check_top_k(v, res, 1, TopKTol{1e-10, 1e-10});
    EXPECT_NEAR(res.S[0].item<double>(), fro(v), 1e-12 * fro(v));
    const at::Tensor T = v.t();  // 17 x 1 view
    check_top_k(T, top_k_svd(T, 1, TopKOptions().set_method(method)), 1, TopKTol{1e-10, 1e-10});
  }
  const at::Tensor M = with_singular_values(12, 20, geometric(12, 5.0, 0.8), 461);
  const at::Tensor Mt = M.t();
  ASSERT_FALSE(Mt.is_contiguous());
  check_top_k(Mt, top_k_svd(Mt, 4, TopKOptions().set_method(TopKMethod::kExact)), 4,
              exact_tol(at::kDouble));
  check_top_k(Mt, top_k_svd(Mt, 4), 4, TopKTol{1e-6, 1e-6});
}

// ---------------------------------------------------------------- iterative top-k methods

const std::vector<TopKMethod> kIterative = {TopKMethod::kLanczos, TopKMethod::kBlockKrylov,
                                            TopKMethod::kSubspaceIteration};

std::string method_name(TopKMethod m) { return fanion::to_string(m); }

TEST(SolversTopKIterative, MatchExactOnKnownSpectra) {
  for (auto method : kIterative) {
    for (auto dtype : kDtypes) {
      const bool f64 = dtype == at::kDouble;
      const std::vector<std::pair<std::string, at::Tensor>> cases = {
          {"distinct_20x12", with_singular_values(20, 12, geometric(12, 10.0, 0.8), 470, dtype)},
          {"tall_48x10", with_singular_values(48, 10, geometric(10, 3.0, 0.75), 471, dtype)},
          {"wide_10x48", with_singular_values(10, 48, geometric(10, 3.0, 0.75), 472, dtype)},
          {"big_64x48", with_singular_values(64, 48, geometric(48, 10.0, 0.9), 473, dtype)},
          {"clustered_top_30x20",
           with_singular_values(30, 20, {10, 9.99, 9.98, 9.97, 5, 4, 3, 2, 1, 0.5}, 474, dtype)},
          {"gaussian_40x30", randn({40, 30}, 475, dtype)}};
      for (const auto& c : cases) {
        for (int64_t k : {1, 2, 4}) {
          SCOPED_TRACE(method_name(method) + " " + tag(c.first, dtype) + " k=" + std::to_string(k));
          // Clustered top values with k = 1, 2: the top-k subspace is well defined but
          // separated by a relative gap of 1e-3 only; the stopping test is relative to it.
          const TopKOptions o = TopKOptions().set_method(method).set_tol(f64 ? 1e-10 : 1e-4);
          const at::Tensor before = c.second.clone();
          const auto res = top_k_svd(c.second, k, o);
          EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
          check_top_k(c.second, res, k, f64 ? TopKTol{1e-8, 1e-9} : TopKTol{5e-5, 2e-4});
          EXPECT_GT(res.stats.passes, 0);
          EXPECT_GT(res.stats.matvecs, 0);
          EXPECT_LE(res.stats.passes, o.max_passes + 2);
          EXPECT_TRUE(at::equal(c.second, before)) << "top_k_svd mutated its input";
        }
      }
    }
  }
}

TEST(SolversTopKIterative, RankDeficientAndZeroInputs) {
  const at::Tensor M = with_singular_values(30, 24, {5, 3, 1.5}, 480);
  const at::Tensor Z = at::zeros({12, 9}, at::kDouble);
  for (auto method : kIterative) {
    SCOPED_TRACE(method_name(method));
    const TopKOptions o = TopKOptions().set_method(method).set_tol(1e-10);
    for (int64_t k : {3, 5, 10}) {
      SCOPED_TRACE("k=" + std::to_string(k));
      const auto res = top_k_svd(M, k, o);
      check_top_k(M, res, 3, TopKTol{1e-8, 1e-9});
      EXPECT_NE(res.stats.status, SolverStatus::kNumericalIssue);
    }
    const auto rz = top_k_svd(Z, 2, o);
    EXPECT_EQ(rz.S.numel(), 0);
    EXPECT_EQ(rz.U.sizes(), (std::vector<int64_t>{12, 0}));
    EXPECT_EQ(rz.V.sizes(), (std::vector<int64_t>{9, 0}));
    EXPECT_EQ(rz.stats.status, SolverStatus::kConverged);
  }
}

TEST(SolversTopKIterative, SeededAndWarmStarted) {
  const at::Tensor M = with_singular_values(64, 48, geometric(48, 10.0, 0.93), 490);
  const Svd svd = exact_svd(M);
  for (auto method : kIterative) {
    SCOPED_TRACE(method_name(method));
    const TopKOptions o = TopKOptions().set_method(method).set_seed(11).set_tol(1e-9);
    const auto a = top_k_svd(M, 4, o);
    at::manual_seed(999);
    (void)at::randn({1000});
    const auto b = top_k_svd(M, 4, o);
    EXPECT_TRUE(at::equal(a.U, b.U) && at::equal(a.S, b.S) && at::equal(a.V, b.V))
        << "same seed, different answer";
    const auto c = top_k_svd(M, 4, TopKOptions(o).set_seed(12));
    check_top_k(M, c, 4, TopKTol{1e-8, 1e-8});
    // Warm start near the answer: still correct, not mutated, and no more work than cold.
    if (fanion::accepts_warm_start(method)) {
      const at::Tensor warm = svd.V.narrow(1, 0, 4) + 1e-6 * randn({48, 4}, 491);
      const at::Tensor before = warm.clone();
      const auto w = top_k_svd(M, 4, o, warm);
      check_top_k(M, w, 4, TopKTol{1e-8, 1e-8});
      EXPECT_TRUE(at::equal(warm, before));
      EXPECT_LE(w.stats.passes, a.stats.passes);
    }
  }
}

TEST(SolversTopKIterative, BudgetExhaustedIsAStatusNotAnError) {
  // Slowly decaying spectrum (relative gaps 1e-2), tiny tolerance, ten passes — enough to
  // build a basis of k = 4 vectors even one vector at a time, not enough to converge.
  const at::Tensor M = with_singular_values(64, 48, geometric(48, 1.0, 0.99), 495);
  for (auto method : kIterative) {
    SCOPED_TRACE(method_name(method));
    const TopKOptions o = TopKOptions().set_method(method).set_tol(1e-13).set_max_passes(10);
    fanion::TopKResult res;
    EXPECT_NO_THROW(res = top_k_svd(M, 4, o));
    EXPECT_EQ(res.stats.status, SolverStatus::kNotConverged);
    EXPECT_LE(res.stats.passes, 12);
    ASSERT_EQ(res.S.numel(), 4);
    EXPECT_TRUE(all_finite(res.U) && all_finite(res.S) && all_finite(res.V));
    EXPECT_LE(orthonormality_error(res.U), 1e-8);
    EXPECT_LE(orthonormality_error(res.V), 1e-8);
  }
}

TEST(SolversStatus, ToStringNamesEveryStatus) {
  const std::set<std::string> names = {fanion::to_string(SolverStatus::kConverged),
                                       fanion::to_string(SolverStatus::kNotConverged),
                                       fanion::to_string(SolverStatus::kNumericalIssue)};
  EXPECT_EQ(names.size(), 3u);
  for (const auto& n : names) EXPECT_FALSE(n.empty());
  const fanion::SolverStats s;
  EXPECT_EQ(s.status, SolverStatus::kConverged);
  EXPECT_EQ(s.matvecs, 0);
}

}  // namespace

namespace {

TEST(SolversGram, TopKMatchesSvdOnKnownSpectra) {
  // Gram + eigh in fp64: the squared condition number costs accuracy only far below sigma_1.
  for (auto dtype : kDtypes) {
    for (const auto& sc : spectrum_cases(dtype)) {
      const at::Tensor M = with_singular_values(sc.m, sc.n, sc.s, 900 + sc.m * 7 + sc.n, dtype);
      for (int64_t k : sc.ks) {
        SCOPED_TRACE(tag(sc.name, dtype) + " k=" + std::to_string(k));
        const at::Tensor before = M.clone();
        const auto res = top_k_svd(M, k, TopKOptions().set_method(TopKMethod::kGram));
        check_top_k(M, res, std::min<int64_t>(k, static_cast<int64_t>(sc.s.size())),
                    dtype == at::kDouble ? TopKTol{1e-7, 1e-7} : exact_tol(dtype));
        EXPECT_EQ(res.stats.status, SolverStatus::kConverged);
        EXPECT_TRUE(at::equal(M, before));
      }
    }
  }
}

TEST(SolversGram, PolarMatchesSvdAndClampsRank) {
  for (auto [m, n] : {std::pair<int64_t, int64_t>{30, 20}, {20, 30}, {25, 25}}) {
    const at::Tensor M = with_singular_values(m, n, geometric(std::min(m, n), 5.0, 0.8), 950 + m);
    const auto res = polar_factor(M, PolarOptions::gram());
    EXPECT_LE(rel_err(res.Q, polar_ref(exact_svd(M))), 1e-9) << m << "x" << n;
  }
  // Rank 3: the Gram path keeps exactly the numerical range, like the SVD path.
  const at::Tensor R = with_singular_values(20, 16, {5, 3, 1.5}, 960);
  const auto res = polar_factor(R, PolarOptions::gram());
  EXPECT_LE(rel_err(res.Q, polar_ref(exact_svd(R))), 1e-9);
  EXPECT_NEAR(fro(res.Q), std::sqrt(3.0), 1e-9);
}

TEST(SolversTopK, AutoPicksGramForLargeRanksAndKrylovForSmall) {
  EXPECT_EQ(fanion::top_k_auto_method(40, 30, 2), TopKMethod::kExact);    // small matrix
  EXPECT_EQ(fanion::top_k_auto_method(512, 256, 64), TopKMethod::kGram);  // k >= p / 10
  EXPECT_EQ(fanion::top_k_auto_method(512, 256, 16), TopKMethod::kBlockKrylov);
  EXPECT_EQ(fanion::top_k_method_from_string("gram"), TopKMethod::kGram);
  EXPECT_THROW(fanion::top_k_method_from_string("svds"), std::invalid_argument);
}

}  // namespace

namespace {

TEST(SolversGram, AutoOnFloatUsesAFastGramPathThatMatchesTheTopK) {
  // 10k >= p: auto takes the Gram path, in fp32 for fp32 input; the top part agrees with the
  // SVD to fp32 Gram accuracy and nothing non-finite comes back.
  const at::Tensor M = with_singular_values(120, 80, geometric(80, 10.0, 0.97), 990, at::kFloat);
  const auto res = top_k_svd(M, 20);
  ASSERT_EQ(res.S.numel(), 20);
  EXPECT_TRUE(all_finite(res.U) && all_finite(res.V));
  const Svd svd = exact_svd(M);
  EXPECT_LE(rel_err(at::matmul(res.U, res.V.t()), top_k_sum(svd, 20)), 1e-3);
  EXPECT_LE(orthonormality_error(res.U), 1e-4);
  EXPECT_LE(orthonormality_error(res.V), 1e-4);
}

}  // namespace
