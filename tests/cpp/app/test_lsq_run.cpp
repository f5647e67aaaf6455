// `fanion lsq`'s pieces: torch's CUDA generator on the CPU (app/lsq/cuda_philox.h), the
// authors' problem instance, and a run's two counts (app/lsq/run.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "lsq/cuda_philox.h"
#include "lsq/problem.h"
#include "lsq/run.h"

using fanion::app::CudaGeometry;
using fanion::app::CudaPhiloxGenerator;
using fanion::app::LsqConfig;
using fanion::app::LsqInstance;
using fanion::app::LsqProblem;
using fanion::app::make_lsq_problem;

namespace {

const CudaGeometry kA4000{48, 1536};
const CudaGeometry kH100{132, 2048};

}  // namespace

TEST(CudaPhilox, SeedFortyTwoGivesTorchsCudaValues) {
  // torch.manual_seed(42); torch.randn(10, device="cuda"), as torch prints it (4 decimals):
  // the same on every GPU, since 10 values fit in one block.
  const std::vector<double> expected = {0.1940, 2.1614,  -0.1721, 0.8491, -1.9244,
                                        0.6530, -0.6494, -0.8175, 0.5280, -1.2753};
  for (const CudaGeometry& g : {kA4000, kH100}) {
    CudaPhiloxGenerator gen(42, g);
    const at::Tensor x = gen.randn({10});
    ASSERT_EQ(x.scalar_type(), at::kFloat);
    for (int64_t i = 0; i < 10; ++i) EXPECT_NEAR(x[i].item<double>(), expected[i], 5.1e-5) << i;
  }
}

TEST(CudaPhilox, OffsetAdvancesAsTorchs) {
  // One round per thread holds 4 x 256 x blocks values; torch moves the offset by 4 per round.
  CudaPhiloxGenerator gen(7, kA4000);
  const int64_t all_threads = 48 * (1536 / 256) * 256;
  (void)gen.randn({10});
  EXPECT_EQ(gen.offset(), 4u);
  (void)gen.rand({4 * all_threads});
  EXPECT_EQ(gen.offset(), 8u);
  (void)gen.randn({4 * all_threads + 1});
  EXPECT_EQ(gen.offset(), 16u);
  (void)gen.randn({0});
  EXPECT_EQ(gen.offset(), 16u);

  // Thread 0's second round of one large draw is thread 0's first round of the next draw.
  CudaPhiloxGenerator big(7, kA4000), small(7, kA4000);
  const at::Tensor two_rounds = big.randn({8 * all_threads});
  (void)small.randn({4 * all_threads});
  const at::Tensor next = small.randn({4 * all_threads});
  EXPECT_TRUE(at::equal(two_rounds.slice(0, 4 * all_threads), next));
}

TEST(CudaPhilox, LayoutDependsOnTheGeometryOnlyForLargeTensors) {
  CudaPhiloxGenerator a(3, kA4000), b(3, kH100);
  EXPECT_TRUE(at::equal(a.randn({256}), b.randn({256})));
  EXPECT_FALSE(at::equal(a.randn({500, 500}), b.randn({500, 500})));
}

TEST(CudaPhilox, Distributions) {
  CudaPhiloxGenerator gen(0, kA4000);
  const at::Tensor z = gen.randn({400000}).to(at::kDouble);
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.01);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.01);
  const at::Tensor u = gen.rand({400000}).to(at::kDouble);
  EXPECT_GE(u.min().item<double>(), 0.0);
  EXPECT_LT(u.max().item<double>(), 1.0);
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 0.005);
  EXPECT_NEAR(u.var().item<double>(), 1.0 / 12.0, 0.002);
}

TEST(CudaPhilox, GeometryText) {
  const CudaGeometry g = CudaGeometry::parse("132x2048");
  EXPECT_EQ(g.sms, 132);
  EXPECT_EQ(g.threads_per_sm, 2048);
  EXPECT_EQ(g.text(), "132x2048");
  for (const char* bad : {"", "48", "x1536", "48x", "48x100", "0x1536", "48x1536x2", "4.8x1536"}) {
    EXPECT_THROW(CudaGeometry::parse(bad), std::invalid_argument) << bad;
  }
}

TEST(LsqAuthorsInstance, DrawsInTheAuthorsOrder) {
  LsqConfig c;
  c.m = 40;
  c.n = 30;
  c.seed = 42;
  c.dtype = at::kFloat;
  c.instance = LsqInstance::kAuthors;
  const LsqProblem p = make_lsq_problem(c);
  // M's basis, M's spectrum, N's basis, N's spectrum, S (times 0), then X0 = 0.1 randn.
  CudaPhiloxGenerator gen(42, kA4000);
  (void)gen.randn({40, 40});
  const at::Tensor uA = gen.rand({40}).to(at::kDouble);
  (void)gen.randn({30, 30});
  const at::Tensor uB = gen.rand({30}).to(at::kDouble);
  (void)gen.randn({40, 30});
  EXPECT_TRUE(at::equal(p.X0, gen.randn({40, 30}) * 0.1));
  EXPECT_EQ(p.S.abs().max().item<double>(), 0.0);
  // A = Q diag(u) Q^T: its spectrum is the drawn u.
  const at::Tensor evA = at::linalg_eigvalsh(p.A.to(at::kDouble));
  const at::Tensor evB = at::linalg_eigvalsh(p.B.to(at::kDouble));
  EXPECT_TRUE(at::allclose(evA, std::get<0>(uA.sort()), 0, 1e-6));
  EXPECT_TRUE(at::allclose(evB, std::get<0>(uB.sort()), 0, 1e-6));
  EXPECT_TRUE(at::equal(p.A, p.A.t()));
  // Another geometry is another problem (of the same law).
  c.geometry = kH100;
  c.m = c.n = 600;  // beyond one round of the A4000's threads... and more than one block
  const LsqProblem h = make_lsq_problem(c);
  c.geometry = kA4000;
  EXPECT_FALSE(at::equal(h.X0, make_lsq_problem(c).X0));
}

namespace {

namespace lsq = fanion::app::lsq;

lsq::Settings small_settings() {
  lsq::Settings s;
  s.problem.m = 24;
  s.problem.n = 16;
  s.problem.seed = 1;
  s.max_iters = 400;
  s.target = 1e-3;
  s.check_every = 7;
  return s;
}

}  // namespace

TEST(LsqRun, TheTwoCounts) {
  lsq::Settings s = small_settings();
  const LsqProblem P = make_lsq_problem(s.problem);
  fanion::app::Progress quiet(true);
  const lsq::RunSpec spec{"muon", 0.02, 0.5, "run"};
  const lsq::RunResult full = lsq::run_one(P, s, spec, {std::nullopt, false, false}, quiet, "");
  ASSERT_TRUE(full.iterations_to_target.has_value());
  ASSERT_TRUE(full.checked_iterations_to_target.has_value());
  const int64_t first = *full.iterations_to_target, checked = *full.checked_iterations_to_target;
  EXPECT_EQ(checked % 7, 0);
  EXPECT_GE(checked, first);
  s.log_every = 1;
  const lsq::RunResult logged = lsq::run_one(P, s, spec, {std::nullopt, true, false}, quiet, "");
  // The counts read off the loss log: strictly below the target, first ever and first checked.
  int64_t seen_first = -1, seen_checked = -1;
  for (const auto& [t, L] : logged.loss) {
    if (L < s.target && seen_first < 0) seen_first = t;
    if (L < s.target && t % 7 == 0 && seen_checked < 0) seen_checked = t;
  }
  EXPECT_EQ(seen_first, first);
  EXPECT_EQ(seen_checked, checked);
  // Stopping at the target stops at the checked count, with both counts known.
  EXPECT_EQ(logged.iterations, checked);
  EXPECT_EQ(logged.iterations_to_target, full.iterations_to_target);
}

TEST(LsqRun, NewtonSchulzDtype) {
  lsq::Settings s = small_settings();
  s.problem.dtype = at::kFloat;
  s.ns_steps = 3;
  const lsq::RunSpec spec{"muon", 0.02, 0.5, "run"};
  EXPECT_FALSE(lsq::make_options(s, spec).direction().terms().at(0).polar.dtype.has_value());
  s.ns_dtype = at::kBFloat16;
  EXPECT_EQ(lsq::make_options(s, spec).direction().terms().at(0).polar.dtype, at::kBFloat16);
  // bf16 iterations round differently: another trajectory, the same descent.
  const LsqProblem P = make_lsq_problem(s.problem);
  fanion::app::Progress quiet(true);
  s.max_iters = 50;
  const lsq::RunResult bf16 = lsq::run_one(P, s, spec, {std::nullopt, false, false}, quiet, "");
  s.ns_dtype.reset();
  const lsq::RunResult fp32 = lsq::run_one(P, s, spec, {std::nullopt, false, false}, quiet, "");
  EXPECT_NE(bf16.final_loss, fp32.final_loss);
  EXPECT_LT(bf16.final_loss, 0.1 * P.loss(P.X0));
  EXPECT_NEAR(bf16.final_loss, fp32.final_loss, 0.5 * fp32.final_loss);
}
