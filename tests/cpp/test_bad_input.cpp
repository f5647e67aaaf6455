// Bad input gets a clear error or a defined result, and nothing is lost (docs/design.md §5).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/optimizer.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fanion/directions.h"
#include "fanion/matrix.h"
#include "fanion/optim/fanion.h"
#include "fanion/optim/presets.h"
#include "optim_test_util.h"

namespace {

using fanion::Direction;
using fanion::PolarOptions;
using fanion::TopKMethod;
using fanion::TopKOptions;
using fanion::optim::MomentumKind;
using fanion::optim::NonFinitePolicy;
using fanion::optim::NormOptimizer;
using fanion::optim::NormOptimizerOptions;
using namespace fanion_optim_test;

Direction muon_exact() { return Direction::muon(PolarOptions::exact()); }

// Four parameters with distinct shapes: a matrix, a 3-D weight (seen as 4 x 4), a bias
// (AdamW) and a wide matrix. The shape strings are unique so a message naming the shape
// identifies the parameter.
const std::vector<std::vector<int64_t>> kShapes = {{5, 3}, {4, 2, 2}, {3}, {2, 5}};
const std::vector<std::string> kShapeStrings = {"[5, 3]", "[4, 2, 2]", "[3]", "[2, 5]"};

NormOptimizerOptions base_options(NonFinitePolicy policy) {
  return NormOptimizerOptions(0.05)
      .direction(muon_exact())
      .momentum(0.9)
      .weight_decay(0.01)
      .adamw_lr(0.01)
      .adamw_weight_decay(0.02)
      .on_nonfinite(policy);
}

std::vector<at::Tensor> make_params(const std::vector<at::Tensor>& init) {
  std::vector<at::Tensor> out;
  for (const auto& x : init) out.push_back(leaf(x));
  return out;
}

std::vector<at::Tensor> random_like_shapes() {
  std::vector<at::Tensor> out;
  for (const auto& s : kShapes) out.push_back(at::randn(s, f64()));
  return out;
}

void set_grads(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads) {
  for (size_t i = 0; i < params.size(); ++i) set_grad(params[i], grads[i]);
}

bool names_param(const std::string& msg, size_t index) {
  const bool by_position =
      contains_ci(msg, "group 0") && contains_ci(msg, "param " + std::to_string(index));
  return by_position || contains_ci(msg, kShapeStrings[index]);
}

// --- NaN / Inf gradients ------------------------------------------------------------------------

class BadInputNonFiniteTest : public ::testing::TestWithParam<std::tuple<double, size_t>> {};

std::string nonfinite_case_name(const ::testing::TestParamInfo<std::tuple<double, size_t>>& info) {
  const double v = std::get<0>(info.param);
  std::string s = std::isnan(v) ? "NaN" : (v > 0 ? "PosInf" : "NegInf");
  return s + "_param" + std::to_string(std::get<1>(info.param));
}

/// Two good steps of both optimizers on the same gradients, so that momentum buffers and AdamW
/// moments exist before the bad one.
void two_good_steps(NormOptimizer& opt, NormOptimizer& ref, std::vector<at::Tensor>& params,
                    std::vector<at::Tensor>& ref_params) {
  for (int s = 0; s < 2; ++s) {
    std::vector<at::Tensor> g = random_like_shapes();
    set_grads(params, g);
    set_grads(ref_params, g);
    opt.step();
    ref.step();
  }
}

TEST_P(BadInputNonFiniteTest, ErrorPolicyRefusesAndChangesNothing) {
  const double bad_value = std::get<0>(GetParam());
  const size_t bad = std::get<1>(GetParam());
  at::manual_seed(101);
  const std::vector<at::Tensor> init = random_like_shapes();
  std::vector<at::Tensor> params = make_params(init), ref_params = make_params(init);
  NormOptimizer opt(params, base_options(NonFinitePolicy::kError));
  NormOptimizer ref(ref_params, base_options(NonFinitePolicy::kError));
  two_good_steps(opt, ref, params, ref_params);
  const std::vector<at::Tensor> params_before = clone_params(opt);
  const StateSnapshot state_before = snapshot_state(opt);

  std::vector<at::Tensor> g = random_like_shapes();
  g[bad].view(-1)[1] = bad_value;
  set_grads(params, g);
  Thrown t = thrown_by([&] { opt.step(); });
  ASSERT_TRUE(t.threw) << "a non-finite gradient was accepted";
  EXPECT_TRUE(names_param(t.message, bad)) << "message does not name group 0, param " << bad
                                           << " or " << kShapeStrings[bad] << ": " << t.message;
  EXPECT_TRUE(params_equal(opt, params_before)) << "a parameter changed in the refused step";
  EXPECT_TRUE(states_equal(state_before, snapshot_state(opt)))
      << "optimizer state changed in the refused step";

  // the next good step continues as if the refused step never happened
  for (int s = 0; s < 2; ++s) {
    std::vector<at::Tensor> gg = random_like_shapes();
    set_grads(params, gg);
    set_grads(ref_params, gg);
    opt.step();
    ref.step();
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(at::equal(params[i], ref_params[i])) << "param " << i << " off the trajectory";
}

TEST_P(BadInputNonFiniteTest, SkipPolicyLeavesOnlyTheBadParamAlone) {
  const double bad_value = std::get<0>(GetParam());
  const size_t bad = std::get<1>(GetParam());
  at::manual_seed(102);
  const std::vector<at::Tensor> init = random_like_shapes();
  std::vector<at::Tensor> params = make_params(init), ref_params = make_params(init);
  NormOptimizer opt(params, base_options(NonFinitePolicy::kSkip));
  NormOptimizer ref(ref_params, base_options(NonFinitePolicy::kError));
  two_good_steps(opt, ref, params, ref_params);
  EXPECT_TRUE(opt.last_skipped().empty());
  const at::Tensor bad_before = params[bad].detach().clone();

  // opt sees a bad gradient for `bad`; ref sees no gradient at all for it
  std::vector<at::Tensor> g = random_like_shapes();
  set_grads(ref_params, g);
  ref_params[bad].mutable_grad() = at::Tensor();
  g[bad].view(-1)[0] = bad_value;
  set_grads(params, g);
  Thrown t = thrown_by([&] { opt.step(); });
  ASSERT_FALSE(t.threw) << "kSkip threw: " << t.message;
  ref.step();
  EXPECT_TRUE(same_tensor(params[bad].detach(), bad_before)) << "skipped param changed";
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(at::isfinite(params[i]).all().item<bool>()) << "param " << i;
    if (i != bad)
      EXPECT_TRUE(at::equal(params[i], ref_params[i])) << "param " << i << " not updated";
  }
  ASSERT_EQ(opt.last_skipped().size(), 1u);
  EXPECT_TRUE(names_param(opt.last_skipped()[0], bad))
      << "last_skipped()[0] = " << opt.last_skipped()[0];

  // its state was untouched: the next good steps agree with ref bit for bit
  for (int s = 0; s < 2; ++s) {
    std::vector<at::Tensor> gg = random_like_shapes();
    set_grads(params, gg);
    set_grads(ref_params, gg);
    opt.step();
    ref.step();
    EXPECT_TRUE(opt.last_skipped().empty()) << "last_skipped() not cleared by a clean step";
  }
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(at::equal(params[i], ref_params[i])) << "param " << i << " off the trajectory";
}

INSTANTIATE_TEST_SUITE_P(
    BadInputNonFinite, BadInputNonFiniteTest,
    ::testing::Combine(::testing::Values(std::numeric_limits<double>::quiet_NaN(),
                                         std::numeric_limits<double>::infinity(),
                                         -std::numeric_limits<double>::infinity()),
                       ::testing::Values(size_t{1}, size_t{2}, size_t{3})),
    nonfinite_case_name);

TEST(BadInputNonFiniteFirstStep, ErrorCreatesNoStateAndChangesNothing) {
  at::manual_seed(103);
  std::vector<at::Tensor> params = make_params(random_like_shapes());
  NormOptimizer opt(params, base_options(NonFinitePolicy::kError));
  const std::vector<at::Tensor> before = clone_params(opt);
  const StateSnapshot state_before = snapshot_state(opt);
  std::vector<at::Tensor> g = random_like_shapes();
  g[3].view(-1)[2] = std::numeric_limits<double>::quiet_NaN();
  set_grads(params, g);
  Thrown t = thrown_by([&] { opt.step(); });
  ASSERT_TRUE(t.threw);
  EXPECT_TRUE(params_equal(opt, before));
  EXPECT_TRUE(states_equal(state_before, snapshot_state(opt)));
}

// --- zero gradients
// --------------------------------------------------------------------------------

TEST(BadInputZeroGradient, ZeroUpdateForEveryDirection) {
  namespace o = fanion::optim;
  const std::vector<std::pair<std::string, NormOptimizerOptions>> cases = {
      {"muon (default solver)", o::muon()},
      {"muon exact", NormOptimizerOptions().direction(muon_exact())},
      {"neon", o::neon()},
      {"fanion-2", o::fanion_k(2)},
      {"f-muon", o::f_muon()},
      {"f-neon", o::f_neon()},
      {"s-muon", o::s_muon()},
      {"s-fanion-2", o::s_fanion_k(2)},
      {"nsgd", o::nsgd()},
      {"signsgd", o::signsgd()},
      {"schatten-3", NormOptimizerOptions().direction(Direction::schatten(3.0))},
  };
  for (const auto& c : cases) {
    for (MomentumKind kind :
         {MomentumKind::kNone, MomentumKind::kNesterov, MomentumKind::kNesterovEq4}) {
      SCOPED_TRACE(c.first + " momentum kind " + std::to_string(static_cast<int>(kind)));
      at::manual_seed(111);
      for (at::ScalarType dt : {at::kDouble, at::kFloat}) {
        std::vector<at::Tensor> init;
        for (const auto& s : kShapes) init.push_back(at::randn(s, f64()).to(dt));
        std::vector<at::Tensor> params = make_params(init);
        NormOptimizerOptions opts = c.second;
        opts.momentum_kind(kind).weight_decay(0.0).adamw_weight_decay(0.0);
        NormOptimizer opt(params, opts);
        for (int s = 0; s < 2; ++s) {
          for (auto& p : params) set_grad(p, at::zeros_like(p));
          ASSERT_NO_THROW(opt.step());
        }
        for (size_t i = 0; i < params.size(); ++i) {
          const at::Tensor p = params[i].detach();
          EXPECT_TRUE(same_tensor(p, init[i]))
              << "param " << i << " moved under a zero gradient (dtype " << dt << "): finite "
              << at::isfinite(p).all().item<bool>() << ", max change "
              << (p.to(at::kDouble) - init[i].to(at::kDouble)).abs().max().item<double>();
        }
      }
    }
  }
}

// The same property one layer down, to pinpoint a failure of the test above: d(0) = 0, never
// NaN, in fp64 and fp32 (docs/design.md §1 invariants).
TEST(BadInputZeroGradient, DirectionOfZeroIsZeroInEveryDtype) {
  const std::vector<std::pair<std::string, Direction>> dirs = {
      {"nsgd", Direction::nsgd()},
      {"sign", Direction::sign()},
      {"muon", Direction::muon()},
      {"muon exact", muon_exact()},
      {"neon", Direction::neon()},
      {"fanion-2", Direction::fanion(2)},
      {"f-muon", fanion::f_fanion(fanion::kFullRank, 0.5)},
      {"s-muon", fanion::s_fanion(fanion::kFullRank, 0.5, 0.01)},
  };
  for (const auto& d : dirs) {
    for (at::ScalarType dt : {at::kDouble, at::kFloat}) {
      SCOPED_TRACE(d.first + (dt == at::kFloat ? " fp32" : " fp64"));
      const at::Tensor Z = at::zeros({5, 3}, at::TensorOptions().dtype(dt));
      at::Tensor D = d.second(Z);
      EXPECT_EQ(D.scalar_type(), dt);
      EXPECT_TRUE(at::isfinite(D).all().item<bool>()) << "d(0) is not finite:\n" << D;
      EXPECT_EQ(D.abs().max().item<double>(), 0.0);
    }
  }
}

TEST(BadInputZeroGradient, ZeroGradientWithWeightDecayOnlyDecays) {
  at::manual_seed(112);
  at::Tensor x = at::randn({4, 3}, f64());
  at::Tensor W = leaf(x);
  NormOptimizer opt(std::vector<at::Tensor>{W},
                    NormOptimizerOptions(0.1).direction(muon_exact()).weight_decay(0.5));
  set_grad(W, at::zeros({4, 3}, f64()));
  opt.step();
  EXPECT_TRUE(close(W, x * (1.0 - 0.1 * 0.5), 1e-14));
}

// --- Fanion k beyond the rank -------------------------------------------------------------------

TEST(BadInputFanionK, KLargerThanMinDimIsClampedToMuon) {
  at::manual_seed(121);
  const at::Tensor M = at::randn({4, 6}, f64());
  const at::Tensor expected = ref_polar(M);
  EXPECT_TRUE(close(Direction::fanion(10, TopKOptions().set_method(TopKMethod::kExact))(M),
                    expected, 1e-10));
  EXPECT_TRUE(close(Direction::fanion(10)(M), expected, 1e-6)) << "default top-k solver";
  EXPECT_TRUE(close(Direction::fanion(10)(M.t()), expected.t(), 1e-6)) << "tall";

  // inside the optimizer
  const at::Tensor x = at::randn({4, 6}, f64()), g = at::randn({4, 6}, f64());
  at::Tensor W = leaf(x);
  NormOptimizer opt(std::vector<at::Tensor>{W},
                    fanion::optim::fanion_k(10, 0.1, 0.0).momentum_kind(MomentumKind::kNone));
  set_grad(W, g);
  opt.step();
  EXPECT_TRUE(close(W, x - 0.1 * ref_polar(g), 1e-6));
}

TEST(BadInputFanionK, KLargerThanRankIsClampedToTheRank) {
  at::manual_seed(122);
  const at::Tensor u = at::randn({5, 1}, f64()), v = at::randn({1, 4}, f64());
  const at::Tensor M = at::matmul(u, v);  // rank 1
  const at::Tensor expected = ref_top_k(M, 1);
  for (const auto& d :
       {Direction::fanion(3, TopKOptions().set_method(TopKMethod::kExact)), Direction::fanion(3)}) {
    at::Tensor D = d(M);
    EXPECT_TRUE(close(D, expected, 1e-6)) << d.name();
  }
}

// --- sparse and complex --------------------------------------------------------------------------

TEST(BadInputSparse, SparseGradientIsRejected) {
  for (size_t which : {size_t{0}, size_t{2}}) {  // a matrix (Fanion) and a bias (AdamW)
    SCOPED_TRACE("param " + std::to_string(which));
    at::manual_seed(131);
    std::vector<at::Tensor> params = make_params(random_like_shapes());
    NormOptimizer opt(params, base_options(NonFinitePolicy::kError));
    const std::vector<at::Tensor> before = clone_params(opt);
    std::vector<at::Tensor> g = random_like_shapes();
    set_grads(params, g);
    params[which].mutable_grad() = g[which].to_sparse();
    Thrown t = thrown_by([&] { opt.step(); });
    ASSERT_TRUE(t.threw) << "sparse gradient accepted";
    EXPECT_TRUE(contains_ci(t.message, "sparse")) << t.message;
    EXPECT_TRUE(params_equal(opt, before));
  }
}

TEST(BadInputComplex, ComplexParameterIsRejected) {
  at::manual_seed(132);
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  at::Tensor Z = leaf(at::randn({4, 3}, at::TensorOptions().dtype(at::kComplexDouble)));
  const at::Tensor w0 = W.detach().clone();
  Thrown t = thrown_by([&] {
    NormOptimizer opt(std::vector<at::Tensor>{W, Z},
                      NormOptimizerOptions(0.05).direction(muon_exact()));
    set_grad(W, at::randn({4, 3}, f64()));
    set_grad(Z, at::randn({4, 3}, at::TensorOptions().dtype(at::kComplexDouble)));
    opt.step();
  });
  ASSERT_TRUE(t.threw) << "complex parameter accepted";
  EXPECT_TRUE(contains_ci(t.message, "complex")) << t.message;
  EXPECT_TRUE(same_tensor(W.detach(), w0));
}

// --- unsupported rank
// -------------------------------------------------------------------------------

TEST(BadInputRank, ScalarParamInFanionGroupWithoutAdamWIsRejected) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  at::Tensor s = leaf(at::scalar_tensor(1.5, f64()));
  Thrown t = thrown_by([&] {
    NormOptimizer opt(
        std::vector<at::Tensor>{W, s},
        NormOptimizerOptions(0.05).direction(muon_exact()).adamw_for_non_matrix(false));
    set_grad(W, at::randn({4, 3}, f64()));
    set_grad(s, at::scalar_tensor(0.3, f64()));
    opt.step();
  });
  ASSERT_TRUE(t.threw) << "a 0-D parameter was accepted by a Fanion group";
  EXPECT_TRUE(contains_ci(t.message, "param 1") || contains_ci(t.message, "[]"))
      << "message does not name the parameter: " << t.message;
}

// --- construction validation
// -------------------------------------------------------------------------

struct BadOption {
  std::string label;
  std::function<NormOptimizerOptions()> make;
  std::vector<std::string> name_any;  // one of these must appear
  std::string value;                  // must appear
};

std::vector<BadOption> bad_options() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return {
      {"negative lr", [] { return NormOptimizerOptions(-0.1); }, {"lr"}, "-0.1"},
      {"NaN lr", [=] { return NormOptimizerOptions(nan); }, {"lr"}, "nan"},
      {"infinite lr",
       [] { return NormOptimizerOptions(std::numeric_limits<double>::infinity()); },
       {"lr"},
       "inf"},
      {"momentum 1", [] { return NormOptimizerOptions(0.02).momentum(1.0); }, {"momentum"}, "1"},
      {"momentum 1.5",
       [] { return NormOptimizerOptions(0.02).momentum(1.5); },
       {"momentum"},
       "1.5"},
      {"negative momentum",
       [] { return NormOptimizerOptions(0.02).momentum(-0.2); },
       {"momentum"},
       "-0.2"},
      {"negative weight decay",
       [] { return NormOptimizerOptions(0.02).weight_decay(-0.01); },
       {"weight_decay", "weight decay"},
       "-0.01"},
      {"adamw_beta1 1", [] { return NormOptimizerOptions(0.02).adamw_beta1(1.0); }, {"beta1"}, "1"},
      {"adamw_beta1 -0.1",
       [] { return NormOptimizerOptions(0.02).adamw_beta1(-0.1); },
       {"beta1"},
       "-0.1"},
      {"adamw_beta2 1.5",
       [] { return NormOptimizerOptions(0.02).adamw_beta2(1.5); },
       {"beta2"},
       "1.5"},
      {"adamw_beta2 -0.3",
       [] { return NormOptimizerOptions(0.02).adamw_beta2(-0.3); },
       {"beta2"},
       "-0.3"},
  };
}

TEST(BadInputOptions, InvalidOptionsRejectedAtConstructionNamingOptionAndValue) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  for (const auto& c : bad_options()) {
    SCOPED_TRACE(c.label);
    Thrown t = thrown_by([&] { NormOptimizer opt(std::vector<at::Tensor>{W}, c.make()); });
    ASSERT_TRUE(t.threw) << "constructed with " << c.label;
    bool named = false;
    for (const auto& n : c.name_any) named = named || contains_ci(t.message, n);
    EXPECT_TRUE(named) << "message does not name the option: " << t.message;
    EXPECT_TRUE(contains_ci(t.message, c.value))
        << "message does not show the value " << c.value << ": " << t.message;
    EXPECT_THROW(c.make().validate(), std::invalid_argument);
  }
}

TEST(BadInputOptions, InvalidGroupOptionsRejectedAtConstruction) {
  at::Tensor W = leaf(at::randn({4, 3}, f64())), V = leaf(at::randn({3, 3}, f64()));
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.push_back(make_group({W}, NormOptimizerOptions(0.02)));
  groups.push_back(make_group({V}, NormOptimizerOptions(-0.5)));
  Thrown t = thrown_by([&] { NormOptimizer opt(std::move(groups), NormOptimizerOptions(0.02)); });
  ASSERT_TRUE(t.threw) << "a group with lr -0.5 was accepted";
  EXPECT_TRUE(contains_ci(t.message, "lr") && contains_ci(t.message, "-0.5")) << t.message;
}

TEST(BadInputOptions, NegativeAdamWLrAndEpsRejected) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  Thrown t = thrown_by([&] {
    NormOptimizer opt(std::vector<at::Tensor>{W}, NormOptimizerOptions(0.02).adamw_lr(-0.001));
  });
  ASSERT_TRUE(t.threw) << "adamw_lr -0.001 accepted";
  EXPECT_TRUE(contains_ci(t.message, "adamw_lr") && contains_ci(t.message, "-0.001")) << t.message;
  t = thrown_by([&] {
    NormOptimizer opt(std::vector<at::Tensor>{W},
                      NormOptimizerOptions(0.02).adamw_weight_decay(-0.5));
  });
  ASSERT_TRUE(t.threw) << "adamw_weight_decay -0.5 accepted";
  EXPECT_TRUE(contains_ci(t.message, "weight_decay") && contains_ci(t.message, "-0.5"))
      << t.message;
}

TEST(BadInputOptions, FanionKZeroRejected) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  for (int64_t k : {int64_t{0}, int64_t{-2}}) {
    SCOPED_TRACE("k = " + std::to_string(k));
    Thrown t = thrown_by([&] {
      NormOptimizer opt(std::vector<at::Tensor>{W}, fanion::optim::fanion_k(k, 0.02, 0.9));
    });
    ASSERT_TRUE(t.threw) << "NormOptimizer k = " << k << " accepted";
    EXPECT_TRUE(contains_ci(t.message, "k") && contains_ci(t.message, std::to_string(k)))
        << t.message;
    t = thrown_by([&] {
      NormOptimizer opt(std::vector<at::Tensor>{W},
                        NormOptimizerOptions(0.02).direction(Direction::fanion(k)));
    });
    ASSERT_TRUE(t.threw) << "Direction::fanion(" << k << ") accepted";
  }
}

TEST(BadInputOptions, OptionsChangedAfterConstructionAreCheckedAtTheNextStep) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  NormOptimizer opt(std::vector<at::Tensor>{W}, NormOptimizerOptions(0.02));
  W.mutable_grad() = at::randn({4, 3}, f64());
  opt.step();  // valid and unchanged: the step does not re-check it
  auto& o = static_cast<NormOptimizerOptions&>(opt.param_groups()[0].options());
  const at::Tensor before = W.detach().clone();
  const auto expect_refused = [&](const std::string& needle) {
    try {
      opt.step();
      ADD_FAILURE() << "a changed invalid option was accepted: " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(at::equal(W.detach(), before)) << "the refused step changed W";
  };
  o.momentum(1.5);  // a scalar option
  expect_refused("momentum");
  o.momentum(0.9);
  o.direction().with_polar(PolarOptions().set_steps(-1));  // a solver option, edited in place
  expect_refused("steps must be >= 0");
  o.direction(fanion::Direction::muon());  // valid again: the step goes on
  EXPECT_NO_THROW(opt.step());
  EXPECT_FALSE(at::equal(W.detach(), before));
}

TEST(BadInputOptions, ValidOptionsAccepted) {
  at::Tensor W = leaf(at::randn({4, 3}, f64()));
  for (const NormOptimizerOptions& o :
       {NormOptimizerOptions(0.0), NormOptimizerOptions(0.02).momentum(0.0),
        NormOptimizerOptions(0.02).momentum(0.999),
        fanion::optim::f_muon(0.02, 0.9, 1.1) /* alpha outside [0, 1]: "no ball", allowed */}) {
    EXPECT_NO_THROW(o.validate());
    EXPECT_NO_THROW(NormOptimizer(std::vector<at::Tensor>{W}, o));
  }
}

}  // namespace
