// fanion::optim::NormOptimizer against steps computed by hand (docs/design.md §1–§2,
// include/fanion/optim).
//
// Every expected value is computed here from scratch: the momentum formulas of the header, the
// direction by fp64 SVD (Muon, Fanion-k) or the closed forms (NSGD, sign), the AdamW step of
// torch.optim.AdamW, and X <- X (1 - lr wd) - lr scale d(M).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "fanion/directions.h"
#include "fanion/optim/fanion.h"
#include "fanion/optim/presets.h"
#include "optim_test_util.h"

namespace {

using fanion::Direction;
using fanion::PolarOptions;
using fanion::TopKMethod;
using fanion::TopKOptions;
using fanion::optim::MomentumKind;
using fanion::optim::NormOptimizer;
using fanion::optim::NormOptimizerOptions;
using fanion::optim::ShapeScale;
using namespace fanion_optim_test;

constexpr double kTol = 1e-10;  // fp64 parameters, exact solvers

TopKOptions exact_top_k() { return TopKOptions().set_method(TopKMethod::kExact); }
Direction muon_exact() { return Direction::muon(PolarOptions::exact()); }

// --- directions under test, each with its independent reference ------------------------------

enum class DirCase { kMuon, kNsgd, kSign, kFMuon, kSMuon, kFanion2 };

const char* dir_name(DirCase d) {
  switch (d) {
    case DirCase::kMuon:
      return "Muon";
    case DirCase::kNsgd:
      return "Nsgd";
    case DirCase::kSign:
      return "Sign";
    case DirCase::kFMuon:
      return "FMuon";
    case DirCase::kSMuon:
      return "SMuon";
    case DirCase::kFanion2:
      return "Fanion2";
  }
  return "?";
}

Direction lib_direction(DirCase d) {
  switch (d) {
    case DirCase::kMuon:
      return muon_exact();
    case DirCase::kNsgd:
      return Direction::nsgd();
    case DirCase::kSign:
      return Direction::sign();
    case DirCase::kFMuon:
      return 0.3 * muon_exact() + 0.7 * Direction::nsgd();
    case DirCase::kSMuon:
      return 0.6 * muon_exact() + (0.4 * 0.05) * Direction::sign();
    case DirCase::kFanion2:
      return Direction::fanion(2, exact_top_k());
  }
  return Direction::nsgd();
}

RefDirection ref_direction(DirCase d) {
  switch (d) {
    case DirCase::kMuon:
      return [](const at::Tensor& M) { return ref_polar(M); };
    case DirCase::kNsgd:
      return [](const at::Tensor& M) { return ref_nsgd(M); };
    case DirCase::kSign:
      return [](const at::Tensor& M) { return ref_sign(M); };
    case DirCase::kFMuon:
      return [](const at::Tensor& M) { return 0.3 * ref_polar(M) + 0.7 * ref_nsgd(M); };
    case DirCase::kSMuon:
      return [](const at::Tensor& M) { return 0.6 * ref_polar(M) + 0.4 * 0.05 * ref_sign(M); };
    case DirCase::kFanion2:
      return [](const at::Tensor& M) { return ref_top_k(M, 2); };
  }
  return {};
}

const char* kind_name(MomentumKind k) {
  switch (k) {
    case MomentumKind::kNone:
      return "None";
    case MomentumKind::kHeavyBall:
      return "HeavyBall";
    case MomentumKind::kNesterov:
      return "Nesterov";
    case MomentumKind::kNesterovEq4:
      return "NesterovEq4";
  }
  return "?";
}

// --- effective_gradient and shape_scale_factor, the pure helpers -----------------------------

TEST(OptimEffectiveGradient, FollowsHeaderFormulasAndNeverTouchesGrad) {
  at::manual_seed(11);
  for (MomentumKind kind : {MomentumKind::kNone, MomentumKind::kHeavyBall, MomentumKind::kNesterov,
                            MomentumKind::kNesterovEq4}) {
    SCOPED_TRACE(kind_name(kind));
    at::Tensor buffer;  // created on first use
    RefMomentum ref(kind, 0.8);
    for (int s = 0; s < 3; ++s) {
      at::Tensor g = at::randn({4, 3}, f64());
      at::Tensor g0 = g.clone();
      at::Tensor M = fanion::optim::effective_gradient(kind, 0.8, g, buffer);
      at::Tensor Mr = ref(g);
      EXPECT_TRUE(close(M, Mr, 1e-13)) << "step " << s;
      EXPECT_TRUE(same_tensor(g, g0)) << "grad mutated at step " << s;
      if (kind != MomentumKind::kNone) EXPECT_TRUE(close(buffer, ref.buf, 1e-13));
    }
  }
}

TEST(OptimShapeScale, FactorsOfTallWideAndConv) {
  using fanion::optim::shape_scale_factor;
  at::Tensor tall = at::zeros({8, 2}, f64());
  at::Tensor wide = at::zeros({2, 8}, f64());
  at::Tensor conv = at::zeros({3, 2, 2, 2}, f64());  // seen as 3 x 8
  for (const auto& t : {tall, wide, conv})
    EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kNone, t), 1.0);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kMuon, tall), 2.0);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kMuon, wide), 1.0);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kMuon, conv), 1.0);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kSpectral, tall), 2.0);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kSpectral, wide), 0.5);
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kSpectral, conv), std::sqrt(3.0 / 8.0));
  for (const auto& t : {tall, wide, conv})
    EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kMatchRmsAdamW, t), 0.2 * std::sqrt(8.0));
  at::Tensor conv_tall = at::zeros({12, 1, 1, 3}, f64());  // 12 x 3
  EXPECT_DOUBLE_EQ(shape_scale_factor(ShapeScale::kMuon, conv_tall), 2.0);
}

// --- one and several steps, every momentum kind, with and without weight decay ---------------

class OptimMomentumTest
    : public ::testing::TestWithParam<std::tuple<MomentumKind, double, DirCase>> {};

TEST_P(OptimMomentumTest, StepsMatchHandComputation) {
  const MomentumKind kind = std::get<0>(GetParam());
  const double wd = std::get<1>(GetParam());
  const DirCase dc = std::get<2>(GetParam());
  const double lr = 0.05, beta = 0.9;
  at::manual_seed(21);
  // tall, wide, and a conv filter (out, in, kh, kw) = (4, 2, 2, 2) seen as 4 x 8
  std::vector<at::Tensor> init = {at::randn({6, 4}, f64()), at::randn({3, 5}, f64()),
                                  at::randn({4, 2, 2, 2}, f64())};
  std::vector<at::Tensor> params;
  std::vector<RefFanionParam> refs;
  for (const auto& x : init) {
    params.push_back(leaf(x));
    refs.emplace_back(x, kind, beta, ref_direction(dc));
  }
  NormOptimizerOptions o(lr);
  o.direction(lib_direction(dc)).momentum(beta).momentum_kind(kind).weight_decay(wd);
  NormOptimizer opt(params, o);
  for (int s = 0; s < 4; ++s) {
    std::vector<at::Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      grads.push_back(at::randn(params[i].sizes(), f64()));
      set_grad(params[i], grads[i]);
      refs[i].step(grads[i], lr, wd);
    }
    opt.step();
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(close(params[i], refs[i].X, kTol)) << "after step " << s + 1 << ", param " << i;
      EXPECT_TRUE(same_tensor(params[i].grad(), grads[i])) << "gradient mutated, param " << i;
      EXPECT_EQ(params[i].scalar_type(), at::kDouble);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    OptimMomentum, OptimMomentumTest,
    ::testing::Combine(::testing::Values(MomentumKind::kNone, MomentumKind::kHeavyBall,
                                         MomentumKind::kNesterov, MomentumKind::kNesterovEq4),
                       ::testing::Values(0.0, 0.1),
                       ::testing::Values(DirCase::kMuon, DirCase::kNsgd, DirCase::kSign,
                                         DirCase::kFMuon, DirCase::kSMuon, DirCase::kFanion2)),
    [](const ::testing::TestParamInfo<std::tuple<MomentumKind, double, DirCase>>& info) {
      return std::string(kind_name(std::get<0>(info.param))) +
             (std::get<1>(info.param) > 0 ? "_wd" : "_nowd") + "_" +
             dir_name(std::get<2>(info.param));
    });

TEST(OptimFanion, DefaultMomentumIsNesterov) {
  at::manual_seed(22);
  at::Tensor x = at::randn({5, 3}, f64());
  at::Tensor W = leaf(x);
  NormOptimizer opt(std::vector<at::Tensor>{W},
                    NormOptimizerOptions(0.1).direction(muon_exact()).momentum(0.5));
  RefFanionParam ref(x, MomentumKind::kNesterov, 0.5,
                     [](const at::Tensor& M) { return ref_polar(M); });
  for (int s = 0; s < 3; ++s) {
    at::Tensor g = at::randn({5, 3}, f64());
    set_grad(W, g);
    ref.step(g, 0.1, 0.0);
    opt.step();
    EXPECT_TRUE(close(W, ref.X, kTol)) << "step " << s + 1;
  }
}

TEST(OptimFanion, Float32ParameterKeepsDtypeAndMatchesReference) {
  at::manual_seed(23);
  at::Tensor x = at::randn({6, 4}, f32());
  at::Tensor W = leaf(x);
  NormOptimizer opt(
      std::vector<at::Tensor>{W},
      NormOptimizerOptions(0.05).direction(muon_exact()).momentum(0.9).weight_decay(0.1));
  RefFanionParam ref(x.to(at::kDouble), MomentumKind::kNesterov, 0.9,
                     [](const at::Tensor& M) { return ref_polar(M); });
  for (int s = 0; s < 3; ++s) {
    at::Tensor g = at::randn({6, 4}, f32());
    set_grad(W, g);
    ref.step(g.to(at::kDouble), 0.05, 0.1);
    opt.step();
  }
  EXPECT_EQ(W.scalar_type(), at::kFloat);
  EXPECT_TRUE(close(W, ref.X, 2e-5));
}

// --- shape scale ------------------------------------------------------------------------------

TEST(OptimShapeScale, UpdateIsScaledOnTallWideAndConv) {
  struct Rule {
    ShapeScale rule;
    const char* name;
  };
  const Rule rules[] = {{ShapeScale::kNone, "none"},
                        {ShapeScale::kMuon, "muon"},
                        {ShapeScale::kSpectral, "spectral"},
                        {ShapeScale::kMatchRmsAdamW, "match_rms_adamw"}};
  const double lr = 0.1, wd = 0.05;
  for (const Rule& r : rules) {
    for (std::vector<int64_t> shape : {std::vector<int64_t>{8, 2}, std::vector<int64_t>{2, 8},
                                       std::vector<int64_t>{3, 2, 2, 2}}) {
      at::manual_seed(31);
      const double m = static_cast<double>(shape[0]);
      double n = 1.0;
      for (size_t i = 1; i < shape.size(); ++i) n *= static_cast<double>(shape[i]);
      double scale = 1.0;
      switch (r.rule) {
        case ShapeScale::kNone:
          scale = 1.0;
          break;
        case ShapeScale::kMuon:
          scale = std::sqrt(std::max(1.0, m / n));
          break;
        case ShapeScale::kSpectral:
          scale = std::sqrt(m / n);
          break;
        case ShapeScale::kMatchRmsAdamW:
          scale = 0.2 * std::sqrt(std::max(m, n));
          break;
      }
      SCOPED_TRACE(std::string(r.name) + " " + std::to_string(shape[0]) + "x" +
                   std::to_string(static_cast<int64_t>(n)));
      at::Tensor x = at::randn(shape, f64());
      at::Tensor W = leaf(x);
      NormOptimizer opt(std::vector<at::Tensor>{W}, NormOptimizerOptions(lr)
                                                        .direction(muon_exact())
                                                        .momentum_kind(MomentumKind::kNone)
                                                        .weight_decay(wd)
                                                        .shape_scale(r.rule));
      RefFanionParam ref(
          x, MomentumKind::kNone, 0.0, [](const at::Tensor& M) { return ref_polar(M); }, scale);
      for (int s = 0; s < 2; ++s) {
        at::Tensor g = at::randn(shape, f64());
        set_grad(W, g);
        ref.step(g, lr, wd);
        opt.step();
        EXPECT_TRUE(close(W, ref.X, kTol)) << "step " << s + 1;
      }
    }
  }
}

// --- normalize_weights -----------------------------------------------------------------------

TEST(OptimNormalizeWeights, RescalesToSqrtRowsBeforeTheUpdate) {
  at::manual_seed(41);
  const double lr = 0.05;
  std::vector<at::Tensor> init = {3.0 * at::randn({5, 3}, f64()),
                                  0.2 * at::randn({4, 2, 2, 2}, f64())};
  std::vector<at::Tensor> params;
  std::vector<RefFanionParam> refs;
  for (const auto& x : init) {
    params.push_back(leaf(x));
    refs.emplace_back(
        x, MomentumKind::kNesterov, 0.9, [](const at::Tensor& M) { return ref_polar(M); }, 1.0,
        /*norm=*/true);
  }
  NormOptimizer opt(
      params,
      NormOptimizerOptions(lr).direction(muon_exact()).momentum(0.9).normalize_weights(true));
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i < params.size(); ++i) {
      at::Tensor g = at::randn(params[i].sizes(), f64());
      set_grad(params[i], g);
      refs[i].step(g, lr, 0.0);
    }
    opt.step();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(close(params[i], refs[i].X, kTol)) << "step " << s + 1 << ", param " << i;
  }
}

// --- presets -----------------------------------------------------------------------------------

/// The preset's direction with every solver switched to its exact path.
Direction exact_solvers(Direction d) {
  d.with_polar(PolarOptions::exact());
  d.with_top_k(exact_top_k());
  return d;
}

struct PresetCase {
  std::string label;
  NormOptimizerOptions options;
  Direction direct;  // the same direction built from the library's factories
  RefDirection expected;
};

std::vector<PresetCase> preset_cases(double lr, double mom, double alpha, double eta) {
  namespace o = fanion::optim;
  auto polar = [](const at::Tensor& M) { return ref_polar(M); };
  return {
      {"muon", o::muon(lr, mom), Direction::muon(), polar},
      {"neon", o::neon(lr, mom), Direction::neon(),
       [](const at::Tensor& M) { return ref_top_k(M, 1); }},
      {"fanion_k(2)", o::fanion_k(2, lr, mom), Direction::fanion(2),
       [](const at::Tensor& M) { return ref_top_k(M, 2); }},
      {"f_muon", o::f_muon(lr, mom, alpha), fanion::f_fanion(fanion::kFullRank, alpha),
       [=](const at::Tensor& M) { return alpha * ref_polar(M) + (1 - alpha) * ref_nsgd(M); }},
      {"f_neon", o::f_neon(lr, mom, alpha), fanion::f_fanion(1, alpha),
       [=](const at::Tensor& M) { return alpha * ref_top_k(M, 1) + (1 - alpha) * ref_nsgd(M); }},
      {"f_fanion_k(2)", o::f_fanion_k(2, lr, mom, alpha), fanion::f_fanion(2, alpha),
       [=](const at::Tensor& M) { return alpha * ref_top_k(M, 2) + (1 - alpha) * ref_nsgd(M); }},
      {"s_muon", o::s_muon(lr, mom, alpha, eta), fanion::s_fanion(fanion::kFullRank, alpha, eta),
       [=](const at::Tensor& M) { return alpha * ref_polar(M) + (1 - alpha) * eta * ref_sign(M); }},
      {"s_neon", o::s_neon(lr, mom, alpha, eta), fanion::s_fanion(1, alpha, eta),
       [=](const at::Tensor& M) {
         return alpha * ref_top_k(M, 1) + (1 - alpha) * eta * ref_sign(M);
       }},
      {"s_fanion_k(2)", o::s_fanion_k(2, lr, mom, alpha, eta), fanion::s_fanion(2, alpha, eta),
       [=](const at::Tensor& M) {
         return alpha * ref_top_k(M, 2) + (1 - alpha) * eta * ref_sign(M);
       }},
      {"nsgd", o::nsgd(lr, mom), Direction::nsgd(),
       [](const at::Tensor& M) { return ref_nsgd(M); }},
      {"signsgd", o::signsgd(lr, mom), Direction::sign(),
       [](const at::Tensor& M) { return ref_sign(M); }},
  };
}

TEST(OptimPresets, ProduceTheExpectedDirections) {
  at::manual_seed(51);
  const at::Tensor M = at::randn({6, 4}, f64());
  const at::Tensor Mt = M.t().contiguous();
  const at::Tensor M0 = M.clone();
  for (const auto& c : preset_cases(0.03, 0.85, 0.3, 0.05)) {
    SCOPED_TRACE(c.label);
    EXPECT_DOUBLE_EQ(c.options.lr(), 0.03);
    EXPECT_DOUBLE_EQ(c.options.momentum(), 0.85);
    EXPECT_NO_THROW(c.options.validate());
    const Direction exact = exact_solvers(c.options.direction());
    EXPECT_TRUE(close(exact(M), c.expected(M), 1e-9)) << "tall, exact solvers";
    EXPECT_TRUE(close(exact(Mt), c.expected(Mt), 1e-9)) << "wide, exact solvers";
    // with the preset's own (default) solvers: the same as the factory-built direction
    EXPECT_TRUE(close(c.options.direction()(M), c.direct(M), 1e-6)) << "default solvers";
    EXPECT_TRUE(same_tensor(M, M0)) << "direction mutated its input";
  }
}

TEST(OptimPresets, DefaultArguments) {
  const NormOptimizerOptions m = fanion::optim::muon();
  EXPECT_DOUBLE_EQ(m.lr(), 0.02);
  EXPECT_DOUBLE_EQ(m.momentum(), 0.95);
  at::manual_seed(52);
  const at::Tensor M = at::randn({5, 4}, f64());
  // defaults alpha = 0.5, sign_lr_coeff = 0.01
  EXPECT_TRUE(close(exact_solvers(fanion::optim::f_muon().direction())(M),
                    0.5 * ref_polar(M) + 0.5 * ref_nsgd(M), 1e-9));
  EXPECT_TRUE(close(exact_solvers(fanion::optim::s_muon().direction())(M),
                    0.5 * ref_polar(M) + 0.5 * 0.01 * ref_sign(M), 1e-9));
}

TEST(OptimPresets, ByNameMatchesTheFunctions) {
  namespace o = fanion::optim;
  at::manual_seed(53);
  const at::Tensor M = at::randn({5, 7}, f64());
  const double lr = 0.04, mom = 0.8, alpha = 0.25, eta = 0.07;
  const std::vector<std::pair<std::string, NormOptimizerOptions>> cases = {
      {"F-Muon", o::f_muon(lr, mom, alpha)},
      {"f-muon", o::f_muon(lr, mom, alpha)},
      {"muon", o::muon(lr, mom)},
      {"MUON", o::muon(lr, mom)},
      {"neon", o::neon(lr, mom)},
      {"nsgd", o::nsgd(lr, mom)},
      {"SignSGD", o::signsgd(lr, mom)},
      {"f-neon", o::f_neon(lr, mom, alpha)},
      {"S-Muon", o::s_muon(lr, mom, alpha, eta)},
      {"s-neon", o::s_neon(lr, mom, alpha, eta)},
      {"fanion-3", o::fanion_k(3, lr, mom)},
      {"f-fanion-2", o::f_fanion_k(2, lr, mom, alpha)},
      {"s-fanion-2", o::s_fanion_k(2, lr, mom, alpha, eta)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.first);
    NormOptimizerOptions p = o::preset(c.first, lr, mom, alpha, eta);
    EXPECT_DOUBLE_EQ(p.lr(), lr);
    EXPECT_DOUBLE_EQ(p.momentum(), mom);
    EXPECT_TRUE(
        close(exact_solvers(p.direction())(M), exact_solvers(c.second.direction())(M), 1e-9));
  }
  // F-Muon by name, against the formula itself
  NormOptimizerOptions fm = o::preset("F-Muon", lr, mom, alpha, eta);
  EXPECT_TRUE(close(exact_solvers(fm.direction())(M),
                    alpha * ref_polar(M) + (1 - alpha) * ref_nsgd(M), 1e-9));
}

TEST(OptimPresets, UnknownNamesThrowListingKnownOnes) {
  namespace o = fanion::optim;
  for (const char* bad :
       {"adam", "", "muonx", "fanion-0", "fanion-", "fanion-x", "f-fanion--1", "sgd"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(o::preset(bad, 0.02, 0.9), std::invalid_argument);
  }
  try {
    o::preset("adam", 0.02, 0.9);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains_ci(msg, "adam")) << msg;
    EXPECT_TRUE(contains_ci(msg, "f-muon")) << "does not list the known names: " << msg;
    EXPECT_TRUE(contains_ci(msg, "signsgd")) << "does not list the known names: " << msg;
  }
  std::string all;
  for (const auto& n : o::preset_names()) all += n + " ";
  for (const char* n : {"muon", "neon", "nsgd", "signsgd", "f-muon", "f-neon", "s-muon", "s-neon"})
    EXPECT_TRUE(contains_ci(all, n)) << n << " missing from preset_names(): " << all;
}

// --- the auxiliary AdamW -----------------------------------------------------------------------

TEST(OptimAdamW, BiasInTheSameGroupGetsAdamWMatrixGetsFanion) {
  at::manual_seed(61);
  const double lr = 0.05, wd = 0.1, alr = 0.01, b1 = 0.8, b2 = 0.9, eps = 1e-6, awd = 0.05;
  at::Tensor w0 = at::randn({5, 3}, f64()), b0 = at::randn({3}, f64());
  at::Tensor W = leaf(w0), b = leaf(b0);
  NormOptimizerOptions o(lr);
  o.direction(muon_exact())
      .momentum(0.9)
      .momentum_kind(MomentumKind::kNesterov)
      .weight_decay(wd)
      .adamw_lr(alr)
      .adamw_beta1(b1)
      .adamw_beta2(b2)
      .adamw_eps(eps)
      .adamw_weight_decay(awd);
  NormOptimizer opt(std::vector<at::Tensor>{W, b}, o);
  RefFanionParam rw(w0, MomentumKind::kNesterov, 0.9,
                    [](const at::Tensor& M) { return ref_polar(M); });
  RefAdamW rb(b0, alr, b1, b2, eps, awd);
  for (int s = 0; s < 4; ++s) {
    at::Tensor gw = at::randn({5, 3}, f64()), gb = at::randn({3}, f64());
    set_grad(W, gw);
    set_grad(b, gb);
    rw.step(gw, lr, wd);
    rb.step(gb);
    opt.step();
    EXPECT_TRUE(close(W, rw.X, kTol)) << "matrix, step " << s + 1;
    EXPECT_TRUE(close(b, rb.p, 1e-12)) << "bias, step " << s + 1;
  }
}

TEST(OptimAdamW, UseAdamWGroupUsesLrForEveryParameter) {
  at::manual_seed(62);
  const double lr = 0.02, wd = 0.1, b1 = 0.85, b2 = 0.97, eps = 1e-7;
  at::Tensor w0 = at::randn({4, 3}, f64()), e0 = at::randn({6, 4}, f64()),
             g0 = at::randn({4}, f64());
  at::Tensor W = leaf(w0), E = leaf(e0), G = leaf(g0);
  NormOptimizerOptions fan(0.05);
  fan.direction(muon_exact()).momentum(0.9);
  NormOptimizerOptions adam(lr);
  // weight_decay and adamw_weight_decay agree, so either reading of "the group's decay" holds;
  // adamw_lr is a decoy: a use_adamw group runs at lr.
  adam.use_adamw(true)
      .weight_decay(wd)
      .adamw_weight_decay(wd)
      .adamw_lr(0.5)
      .adamw_beta1(b1)
      .adamw_beta2(b2)
      .adamw_eps(eps);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.push_back(make_group({W}, fan));
  groups.push_back(make_group({E, G}, adam));
  NormOptimizer opt(std::move(groups), fan);
  RefFanionParam rw(w0, MomentumKind::kNesterov, 0.9,
                    [](const at::Tensor& M) { return ref_polar(M); });
  RefAdamW re(e0, lr, b1, b2, eps, wd), rg(g0, lr, b1, b2, eps, wd);
  for (int s = 0; s < 3; ++s) {
    at::Tensor gw = at::randn({4, 3}, f64()), ge = at::randn({6, 4}, f64()),
               gg = at::randn({4}, f64());
    set_grad(W, gw);
    set_grad(E, ge);
    set_grad(G, gg);
    rw.step(gw, 0.05, 0.0);
    re.step(ge);
    rg.step(gg);
    opt.step();
    EXPECT_TRUE(close(W, rw.X, kTol)) << "Fanion group, step " << s + 1;
    EXPECT_TRUE(close(E, re.p, 1e-12)) << "2-D param of the AdamW group, step " << s + 1;
    EXPECT_TRUE(close(G, rg.p, 1e-12)) << "1-D param of the AdamW group, step " << s + 1;
  }
}

TEST(OptimAdamW, NonMatrixParamRejectedWhenAdamWForNonMatrixIsOff) {
  at::manual_seed(63);
  at::Tensor W = leaf(at::randn({4, 3}, f64())), b = leaf(at::randn({5}, f64()));
  Thrown t = thrown_by([&] {
    NormOptimizer opt(
        std::vector<at::Tensor>{W, b},
        NormOptimizerOptions(0.05).direction(muon_exact()).adamw_for_non_matrix(false));
    set_grad(W, at::randn({4, 3}, f64()));
    set_grad(b, at::randn({5}, f64()));
    opt.step();
  });
  ASSERT_TRUE(t.threw) << "a 1-D parameter was accepted with adamw_for_non_matrix(false)";
  EXPECT_TRUE(contains_ci(t.message, "param 1") || contains_ci(t.message, "[5]"))
      << "message does not name the parameter: " << t.message;
}

// --- convergence ---------------------------------------------------------------------------------

/// 0.5 ||A (X - T)||_F^2 from X = 0, lr decayed linearly to 0; returns final / initial loss.
double lsq_loss_ratio(const NormOptimizerOptions& options, int steps) {
  at::manual_seed(71);
  const at::Tensor A = at::randn({12, 8}, f32()) / std::sqrt(12.0);
  const at::Tensor T = at::randn({8, 6}, f32());
  const at::Tensor Y = at::matmul(A, T);
  at::Tensor X = at::zeros({8, 6}, f32()).requires_grad_(true);
  NormOptimizer opt(std::vector<at::Tensor>{X}, options);
  auto loss_fn = [&] { return 0.5 * (at::matmul(A, X) - Y).pow(2).sum(); };
  const double initial = loss_fn().item<double>();
  for (int s = 0; s < steps; ++s) {
    group_options(opt, 0).lr(options.lr() * (1.0 - static_cast<double>(s) / steps));
    opt.zero_grad();
    at::Tensor loss = loss_fn();
    loss.backward();
    opt.step();
  }
  const double final_loss = loss_fn().item<double>();
  EXPECT_TRUE(std::isfinite(final_loss));
  return final_loss / initial;
}

TEST(OptimConvergence, NsgdMuonAndFMuonSolveLeastSquares) {
  namespace o = fanion::optim;
  const int steps = 300;
  const double r_nsgd = lsq_loss_ratio(o::nsgd(0.2, 0.9), steps);
  const double r_muon = lsq_loss_ratio(o::muon(0.1, 0.9), steps);
  const double r_fmuon = lsq_loss_ratio(o::f_muon(0.1, 0.9, 0.5), steps);
  EXPECT_LE(r_nsgd, 1e-2) << "NSGD";
  EXPECT_LE(r_muon, 1e-2) << "Muon";
  EXPECT_LE(r_fmuon, 1e-2) << "F-Muon";
}

// --- save / load ---------------------------------------------------------------------------------

struct SaveLoadRig {
  std::vector<std::vector<int64_t>> shapes;
  std::vector<NormOptimizerOptions> group_options;
  std::vector<size_t> group_sizes;

  std::vector<torch::optim::OptimizerParamGroup> groups(const std::vector<at::Tensor>& ps) const {
    std::vector<torch::optim::OptimizerParamGroup> out;
    size_t i = 0;
    for (size_t g = 0; g < group_sizes.size(); ++g) {
      std::vector<at::Tensor> mine(ps.begin() + i, ps.begin() + i + group_sizes[g]);
      i += group_sizes[g];
      out.push_back(make_group(mine, group_options[g]));
    }
    return out;
  }
};

void run_steps(NormOptimizer& opt, const std::vector<at::Tensor>& params,
               const std::vector<std::vector<at::Tensor>>& grads, size_t from, size_t to) {
  for (size_t s = from; s < to; ++s) {
    for (size_t i = 0; i < params.size(); ++i) set_grad(params[i], grads[s][i]);
    opt.step();
  }
}

TEST(OptimSaveLoad, ContinuesTheTrajectoryBitForBitIncludingLr) {
  namespace o = fanion::optim;
  at::manual_seed(81);
  SaveLoadRig rig;
  // group 0: F-Muon (Newton–Schulz) on a matrix, a conv filter and a bias (AdamW);
  // group 1: a use_adamw group; group 2: Fanion-2 with the default top-k solver; group 3:
  // Fanion-3 by subspace iteration, warm-started from the basis kept in the state.
  rig.shapes = {{6, 4}, {3, 2, 2, 2}, {4}, {5, 3}, {24, 16}, {30, 20}};
  rig.group_options = {
      o::f_muon(0.05, 0.9, 0.4).adamw_lr(0.01).weight_decay(0.01),
      NormOptimizerOptions(0.01).use_adamw(true), o::fanion_k(2, 0.03, 0.9),
      NormOptimizerOptions(0.02).direction(Direction::fanion(
          3, TopKOptions().set_method(TopKMethod::kSubspaceIteration).set_tol(1e-4)))};
  rig.group_sizes = {3, 1, 1, 1};
  const size_t before = 3, after = 4;
  std::vector<std::vector<at::Tensor>> grads(before + after);
  for (auto& gs : grads)
    for (const auto& sh : rig.shapes) gs.push_back(at::randn(sh, f32()));
  std::vector<at::Tensor> pa;
  for (const auto& sh : rig.shapes) pa.push_back(leaf(at::randn(sh, f32())));

  // uninterrupted run, with lrs changed after construction
  NormOptimizer a(rig.groups(pa), rig.group_options[0]);
  group_options(a, 0).lr(0.037);
  a.param_groups()[2].options().set_lr(0.021);
  run_steps(a, pa, grads, 0, before);
  const std::string bytes = save_to_string(a);
  std::vector<at::Tensor> pb;
  for (const auto& p : pa) pb.push_back(leaf(p));  // copies at the save point
  run_steps(a, pa, grads, before, before + after);

  // a fresh optimizer, built with the original lrs, on copies of the parameters
  NormOptimizer b(rig.groups(pb), rig.group_options[0]);
  load_from_string(b, bytes);
  EXPECT_DOUBLE_EQ(group_options(b, 0).lr(), 0.037) << "group lr not restored by load";
  EXPECT_DOUBLE_EQ(group_options(b, 1).lr(), 0.01);
  EXPECT_DOUBLE_EQ(group_options(b, 2).lr(), 0.021) << "group lr not restored by load";
  run_steps(b, pb, grads, before, before + after);
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(at::equal(pa[i], pb[i])) << "param " << i << " differs after save/load, max diff "
                                         << (pa[i] - pb[i]).abs().max().item<double>();
}

TEST(OptimSaveLoad, RoundTripsThroughATempFile) {
  at::manual_seed(82);
  std::vector<int64_t> shape = {5, 4};
  at::Tensor W = leaf(at::randn(shape, f64()));
  NormOptimizerOptions opts = fanion::optim::s_muon(0.05, 0.9, 0.5, 0.02);
  NormOptimizer a(std::vector<at::Tensor>{W}, opts);
  std::vector<std::vector<at::Tensor>> grads;
  for (int s = 0; s < 5; ++s) grads.push_back({at::randn(shape, f64())});
  run_steps(a, {W}, grads, 0, 2);
  const std::string path = ::testing::TempDir() + "fanion_optim_test_state.pt";
  {
    torch::serialize::OutputArchive archive;
    a.save(archive);
    archive.save_to(path);
  }
  at::Tensor W2 = leaf(W);
  run_steps(a, {W}, grads, 2, 5);
  NormOptimizer b(std::vector<at::Tensor>{W2}, opts);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    b.load(archive);
  }
  std::remove(path.c_str());
  run_steps(b, {W2}, grads, 2, 5);
  EXPECT_TRUE(at::equal(W, W2));
}

// --- step(closure), undefined gradients ----------------------------------------------------------

TEST(OptimStep, ClosureLossIsReturned) {
  at::manual_seed(91);
  const at::Tensor T = at::randn({4, 3}, f64());
  const at::Tensor x0 = at::randn({4, 3}, f64());
  at::Tensor X = leaf(x0);
  const double lr = 0.1;
  NormOptimizer opt(
      std::vector<at::Tensor>{X},
      NormOptimizerOptions(lr).direction(muon_exact()).momentum_kind(MomentumKind::kNone));
  int calls = 0;
  auto closure = [&]() -> at::Tensor {
    ++calls;
    opt.zero_grad();
    at::Tensor loss = 0.5 * (X - T).pow(2).sum();
    loss.backward();
    return loss;
  };
  at::Tensor ret = opt.step(closure);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ret.defined());
  EXPECT_NEAR(ret.item<double>(), 0.5 * (x0 - T).pow(2).sum().item<double>(), 1e-12);
  EXPECT_TRUE(close(X, x0 - lr * ref_polar(x0 - T), kTol));
}

TEST(OptimStep, UndefinedGradientLeavesParamAndStateUntouched) {
  at::manual_seed(92);
  const double lr = 0.05, alr = 0.02;
  at::Tensor w1 = at::randn({4, 3}, f64()), w2 = at::randn({3, 5}, f64()),
             b0 = at::randn({3}, f64());
  at::Tensor W1 = leaf(w1), W2 = leaf(w2), B = leaf(b0);
  NormOptimizer opt(std::vector<at::Tensor>{W1, W2, B},
                    NormOptimizerOptions(lr).direction(muon_exact()).momentum(0.9).adamw_lr(alr));
  auto polar = [](const at::Tensor& M) { return ref_polar(M); };
  RefFanionParam r1(w1, MomentumKind::kNesterov, 0.9, polar);
  RefFanionParam r2(w2, MomentumKind::kNesterov, 0.9, polar);
  RefAdamW rb(b0, alr, 0.9, 0.95, 1e-8, 0.0);
  // steps 1-2: only W1 has a gradient
  for (int s = 0; s < 2; ++s) {
    at::Tensor g = at::randn({4, 3}, f64());
    set_grad(W1, g);
    r1.step(g, lr, 0.0);
    opt.step();
    EXPECT_TRUE(close(W1, r1.X, kTol));
    EXPECT_TRUE(same_tensor(W2.detach(), w2)) << "W2 moved without a gradient";
    EXPECT_TRUE(same_tensor(B.detach(), b0)) << "bias moved without a gradient";
  }
  // step 3: all have gradients; W2's momentum and the bias's AdamW step count start now
  at::Tensor g1 = at::randn({4, 3}, f64()), g2 = at::randn({3, 5}, f64()),
             gb = at::randn({3}, f64());
  set_grad(W1, g1);
  set_grad(W2, g2);
  set_grad(B, gb);
  r1.step(g1, lr, 0.0);
  r2.step(g2, lr, 0.0);
  rb.step(gb);
  opt.step();
  EXPECT_TRUE(close(W1, r1.X, kTol));
  EXPECT_TRUE(close(W2, r2.X, kTol));
  EXPECT_TRUE(close(B, rb.p, 1e-12));
}

TEST(OptimStep, ConstructorOverloadsAgree) {
  at::manual_seed(93);
  at::Tensor x = at::randn({4, 4}, f64()), g = at::randn({4, 4}, f64());
  at::Tensor A = leaf(x), B = leaf(x);
  NormOptimizerOptions o = NormOptimizerOptions(0.05).direction(muon_exact());
  NormOptimizer oa(std::vector<at::Tensor>{A}, o);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{B});  // no options: takes the defaults
  NormOptimizer ob(std::move(groups), o);
  set_grad(A, g);
  set_grad(B, g);
  oa.step();
  ob.step();
  EXPECT_TRUE(at::equal(A, B));
  EXPECT_DOUBLE_EQ(group_options(ob, 0).lr(), 0.05);
}

}  // namespace

// --- batched: a rank-3 parameter as a batch of matrices (experts, heads) --------------------

namespace batched {

/// One step of `options` on a [E, m, n] parameter in a batched group, and the same step on E
/// separate [m, n] parameters, from the same gradients: the two must agree slice by slice.
void expect_batch_equals_slices(const NormOptimizerOptions& options, int steps, double tol) {
  const int64_t E = 3, m = 6, n = 4;
  at::manual_seed(7);
  const at::Tensor start = at::randn({E, m, n}, f64());
  std::vector<at::Tensor> grads;
  for (int t = 0; t < steps; ++t) grads.push_back(at::randn({E, m, n}, f64()));

  at::Tensor batch = start.clone().requires_grad_(true);
  NormOptimizer batched_opt({batch}, NormOptimizerOptions(options).batched(true));
  std::vector<at::Tensor> slices;
  for (int64_t e = 0; e < E; ++e) slices.push_back(start[e].clone().requires_grad_(true));
  NormOptimizer sliced_opt(slices, options);
  for (int t = 0; t < steps; ++t) {
    batch.mutable_grad() = grads[t].clone();
    for (int64_t e = 0; e < E; ++e) slices[e].mutable_grad() = grads[t][e].clone();
    batched_opt.step();
    sliced_opt.step();
  }
  for (int64_t e = 0; e < E; ++e) {
    EXPECT_LT((batch.detach()[e] - slices[e].detach()).abs().max().item<double>(), tol)
        << "slice " << e;
  }
}

TEST(OptimBatched, MuonGivesEachMatrixItsOwnPolarFactor) {
  const int64_t E = 4, m = 5, n = 3;
  at::manual_seed(3);
  at::Tensor p = at::zeros({E, m, n}, f64()).requires_grad_(true);
  p.mutable_grad() = at::randn({E, m, n}, f64());
  const double lr = 0.1;
  NormOptimizer opt({p},
                    NormOptimizerOptions(lr).direction(muon_exact()).momentum(0.0).batched(true));
  opt.step();
  for (int64_t e = 0; e < E; ++e) {
    const at::Tensor s = at::linalg_svdvals(p.detach()[e] / -lr);
    EXPECT_LT((s - 1.0).abs().max().item<double>(), 1e-10) << "slice " << e << ": " << s;
  }
  // Without batched the parameter is one (E, m * n) matrix: a single slice is not orthonormal.
  at::Tensor q = at::zeros({E, m, n}, f64()).requires_grad_(true);
  q.mutable_grad() = p.grad().clone();
  NormOptimizer flat({q}, NormOptimizerOptions(lr).direction(muon_exact()).momentum(0.0));
  flat.step();
  EXPECT_GT((at::linalg_svdvals(q.detach()[0] / -lr) - 1.0).abs().max().item<double>(), 0.1);
}

TEST(OptimBatched, EqualsSliceBySliceSteps) {
  // Muon (the batched polar path, Newton–Schulz as used in practice), F-Muon and Fanion-2 with
  // warm-started subspace-iteration bases (matrix by matrix), two steps each, with momentum and the
  // shape scale of one matrix (sqrt(6/4), not that of the whole parameter).
  const auto common = NormOptimizerOptions(0.05).momentum(0.9).shape_scale(ShapeScale::kMuon);
  expect_batch_equals_slices(NormOptimizerOptions(common).direction(Direction::muon()), 2, 1e-12);
  expect_batch_equals_slices(
      NormOptimizerOptions(common).direction(fanion::f_fanion(fanion::kFullRank, 0.4)), 2, 1e-12);
  expect_batch_equals_slices(NormOptimizerOptions(common).direction(Direction::fanion(
                                 2, TopKOptions().set_method(TopKMethod::kSubspaceIteration))),
                             3, 1e-9);
}

TEST(OptimBatched, AMatrixOrNormalizeWeightsInABatchedGroupIsRefusedByName) {
  at::Tensor w = at::randn({4, 3}, f64()).requires_grad_(true);
  try {
    NormOptimizer opt({w}, NormOptimizerOptions().batched(true));
    FAIL() << "a matrix in a batched group was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("param 0 [4, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("batched"), std::string::npos) << e.what();
  }
  at::Tensor b = at::randn({2, 4, 3}, f64()).requires_grad_(true);
  try {
    NormOptimizer opt({b}, NormOptimizerOptions().batched(true).normalize_weights(true));
    FAIL() << "normalize_weights with batched was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("normalize_weights"), std::string::npos) << e.what();
  }
}

}  // namespace batched
