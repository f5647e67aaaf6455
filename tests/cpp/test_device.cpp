// The same code on an accelerator (docs/design.md §2, one code path for every torch): every
// direction, solver and an optimizer step on CUDA must match the CPU. Skipped where no GPU is
// present (CI); run by scripts/gpu-check.sh on a GPU machine.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "fanion/directions.h"
#include "fanion/optim/presets.h"
#include "fanion/solvers/top_k.h"

namespace {

using namespace fanion;

at::Tensor sample(int64_t m, int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({m, n}, gen, at::TensorOptions().dtype(at::kDouble));
}

double rel(const at::Tensor& a, const at::Tensor& b) {
  return ((a.cpu() - b.cpu()).norm() / b.cpu().norm().clamp_min(1e-300)).item<double>();
}

TEST(DeviceCuda, DirectionsMatchCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor M = sample(96, 64, 1);
  const std::vector<std::pair<std::string, Direction>> dirs = {
      {"nsgd", Direction::nsgd()},
      {"sign", Direction::sign()},
      {"muon exact", Direction::muon(PolarOptions::exact())},
      {"muon gram", Direction::muon(PolarOptions::gram())},
      {"muon quintic", Direction::muon()},
      {"fanion-8 block",
       Direction::fanion(8, TopKOptions{}.set_method(TopKMethod::kBlockKrylov).set_tol(1e-10))},
      {"fanion-8 lanczos",
       Direction::fanion(8, TopKOptions{}.set_method(TopKMethod::kLanczos).set_tol(1e-10))},
      {"fanion-8 subspace",
       Direction::fanion(8,
                         TopKOptions{}.set_method(TopKMethod::kSubspaceIteration).set_tol(1e-10))},
      {"f-muon", f_fanion(kFullRank, 0.5)},
      {"s-neon", s_fanion(1, 0.5, 0.01)},
  };
  for (const auto& [name, d] : dirs) {
    SCOPED_TRACE(name);
    const at::Tensor cpu = d(M);
    const at::Tensor gpu = d(M.cuda());
    EXPECT_TRUE(gpu.is_cuda());
    EXPECT_LE(rel(gpu, cpu), 1e-6);
  }
}

TEST(DeviceCuda, SolversReportTheSameWork) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const at::Tensor M = sample(200, 150, 2);
  for (auto method : {TopKMethod::kLanczos, TopKMethod::kBlockKrylov, TopKMethod::kGram}) {
    SCOPED_TRACE(to_string(method));
    const auto o = TopKOptions{}.set_method(method).set_tol(1e-8).set_seed(3);
    const auto c = top_k_svd(M, 5, o);
    const auto g = top_k_svd(M.cuda(), 5, o);
    EXPECT_LE(rel(g.S, c.S), 1e-8);
    EXPECT_LE(rel(at::matmul(g.U, g.V.t()), at::matmul(c.U, c.V.t())), 1e-6);
    EXPECT_EQ(g.stats.status, SolverStatus::kConverged);
  }
}

TEST(DeviceCuda, OptimizerStepMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const std::string name : {"muon", "f-muon", "s-muon", "fanion-4", "nsgd", "signsgd"}) {
    SCOPED_TRACE(name);
    at::Tensor w_cpu = sample(32, 24, 4), b_cpu = sample(1, 24, 5).reshape({24});
    at::Tensor w_gpu = w_cpu.cuda(), b_gpu = b_cpu.cuda();
    auto opts = optim::preset(name, 0.02, 0.9).weight_decay(0.01);
    optim::NormOptimizer cpu({w_cpu, b_cpu}, opts), gpu({w_gpu, b_gpu}, opts);
    for (int step = 0; step < 3; ++step) {
      const at::Tensor gw = sample(32, 24, 10 + step), gb = sample(1, 24, 20 + step).reshape({24});
      w_cpu.mutable_grad() = gw;
      b_cpu.mutable_grad() = gb;
      w_gpu.mutable_grad() = gw.cuda();
      b_gpu.mutable_grad() = gb.cuda();
      cpu.step();
      gpu.step();
    }
    EXPECT_LE(rel(w_gpu, w_cpu), 1e-5);
    EXPECT_LE(rel(b_gpu, b_cpu), 1e-6);
  }
}

}  // namespace
