// The least-squares problem of the paper's §6.1 (app/lsq/problem.h).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "json.h"
#include "lsq/problem.h"

using fanion::app::LsqConfig;
using fanion::app::LsqProblem;
using fanion::app::make_lsq_problem;

namespace {

LsqConfig small_config(uint64_t seed = 0, int64_t m = 60, int64_t n = 40) {
  LsqConfig c;
  c.m = m;
  c.n = n;
  c.seed = seed;
  c.init_std = 0.1;
  return c;
}

/// Kolmogorov–Smirnov distance between the sample and U(0, 1).
double ks_uniform(const at::Tensor& values) {
  at::Tensor s = std::get<0>(values.to(at::kDouble).sort());
  const int64_t n = s.numel();
  double d = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = s[i].item<double>();
    d = std::max({d, std::abs(x - double(i) / n), std::abs(x - double(i + 1) / n)});
  }
  return d;
}

}  // namespace

TEST(LsqProblem, ShapesAndDtypes) {
  const LsqProblem p = make_lsq_problem(small_config(3, 30, 20));
  EXPECT_EQ(p.A.sizes(), (std::vector<int64_t>{30, 30}));
  EXPECT_EQ(p.B.sizes(), (std::vector<int64_t>{20, 20}));
  EXPECT_EQ(p.S.sizes(), (std::vector<int64_t>{30, 20}));
  EXPECT_EQ(p.X0.sizes(), (std::vector<int64_t>{30, 20}));
  for (const auto& t : {p.A, p.B, p.S, p.X0}) EXPECT_EQ(t.scalar_type(), at::kDouble);
  EXPECT_EQ(p.S.abs().max().item<double>(), 0.0);

  LsqConfig c = small_config(3, 30, 20);
  c.dtype = at::kFloat;
  const LsqProblem pf = make_lsq_problem(c);
  for (const auto& t : {pf.A, pf.B, pf.S, pf.X0}) EXPECT_EQ(t.scalar_type(), at::kFloat);
  // The fp32 problem is the fp64 one rounded.
  EXPECT_TRUE(at::allclose(pf.A.to(at::kDouble), p.A, 1e-6, 1e-7));
}

TEST(LsqProblem, DeterministicBySeed) {
  const LsqProblem a = make_lsq_problem(small_config(7));
  const LsqProblem b = make_lsq_problem(small_config(7));
  EXPECT_TRUE(at::equal(a.A, b.A));
  EXPECT_TRUE(at::equal(a.B, b.B));
  EXPECT_TRUE(at::equal(a.S, b.S));
  EXPECT_TRUE(at::equal(a.X0, b.X0));
}

TEST(LsqProblem, DifferentSeedsDiffer) {
  const LsqProblem a = make_lsq_problem(small_config(0));
  const LsqProblem b = make_lsq_problem(small_config(1));
  EXPECT_FALSE(at::allclose(a.A, b.A));
  EXPECT_FALSE(at::allclose(a.B, b.B));
  EXPECT_FALSE(at::allclose(a.X0, b.X0));
}

TEST(LsqProblem, DoesNotTouchTheGlobalRng) {
  at::manual_seed(1234);
  const at::Tensor expected = at::randn({5});
  at::manual_seed(1234);
  (void)make_lsq_problem(small_config(9));
  const at::Tensor got = at::randn({5});
  EXPECT_TRUE(at::equal(expected, got));
}

TEST(LsqProblem, InitStdScalesX0) {
  LsqConfig c = small_config(5, 200, 150);
  c.init_std = 0.01;
  const LsqProblem small = make_lsq_problem(c);
  c.init_std = 0.1;
  const LsqProblem large = make_lsq_problem(c);
  // Same draws, scaled.
  EXPECT_TRUE(at::allclose(large.X0, 10.0 * small.X0, 1e-12, 1e-15));
  EXPECT_NEAR(large.X0.std().item<double>(), 0.1, 0.005);
  EXPECT_NEAR(large.X0.mean().item<double>(), 0.0, 0.005);
  c.init_std = 0.0;
  EXPECT_EQ(make_lsq_problem(c).X0.abs().max().item<double>(), 0.0);
}

TEST(LsqProblem, MatricesAreSymmetricWithUniformSpectrumOnUnitInterval) {
  const LsqProblem p = make_lsq_problem(small_config(11, 400, 300));
  for (const at::Tensor& M : {p.A, p.B}) {
    EXPECT_TRUE(at::equal(M, M.t()));  // exactly symmetric
    const at::Tensor ev = at::linalg_eigvalsh(M);
    EXPECT_GT(ev.min().item<double>(), 0.0);
    EXPECT_LT(ev.max().item<double>(), 1.0);
    EXPECT_NEAR(ev.mean().item<double>(), 0.5, 0.05);
    // KS distance to U(0,1): 1.63/sqrt(n) is the 1% critical value.
    EXPECT_LT(ks_uniform(ev), 1.63 / std::sqrt(double(ev.numel())));
  }
}

TEST(LsqProblem, EigenvectorsAreNotAligned) {
  // A Haar basis spreads every eigenvector over all coordinates: A is far from diagonal.
  const LsqProblem p = make_lsq_problem(small_config(2, 200, 200));
  const double off = (p.A - at::diag(p.A.diagonal())).norm().item<double>();
  EXPECT_GT(off, 0.5 * p.A.norm().item<double>());
}

TEST(LsqProblem, LossIsZeroAtTheSolution) {
  const LsqProblem p = make_lsq_problem(small_config(4));
  EXPECT_EQ(p.loss(p.S), 0.0);
  EXPECT_EQ(p.grad(p.S).abs().max().item<double>(), 0.0);
  EXPECT_GT(p.loss(p.X0), 0.0);
}

TEST(LsqProblem, LossMatchesClosedForm) {
  const LsqProblem p = make_lsq_problem(small_config(6));
  const at::Tensor X = p.X0;
  const double expected =
      0.5 * at::trace(at::matmul(at::matmul(X.t(), p.A), at::matmul(X, p.B))).item<double>();
  EXPECT_NEAR(p.loss(X), expected, 1e-12 * std::abs(expected));
  // Quadratic in X - S.
  EXPECT_NEAR(p.loss(2.0 * X), 4.0 * p.loss(X), 1e-12 * p.loss(X));
  // E[loss(X0)] = init_std^2 tr(A) tr(B) / 2: the paper-size problem starts near 312.5.
  LsqConfig c;
  const LsqProblem big = make_lsq_problem(c);
  EXPECT_NEAR(big.loss(big.X0), 312.5, 40.0);
}

TEST(LsqProblem, GradMatchesAutograd) {
  const LsqProblem p = make_lsq_problem(small_config(8));
  at::Tensor X = p.X0.clone().set_requires_grad(true);
  at::Tensor D = X - p.S;
  at::Tensor L = 0.5 * (D * at::matmul(at::matmul(p.A, D), p.B)).sum();
  L.backward();
  EXPECT_TRUE(at::allclose(X.grad(), p.grad(p.X0), 1e-10, 1e-12));
  EXPECT_NEAR(L.item<double>(), p.loss(p.X0), 1e-12 * L.item<double>());
}

TEST(LsqProblem, GradMatchesFiniteDifferences) {
  const LsqProblem p = make_lsq_problem(small_config(10));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(99);
  const at::Tensor G = p.grad(p.X0);
  for (int trial = 0; trial < 3; ++trial) {
    const at::Tensor V = at::randn(p.X0.sizes(), gen, p.X0.options());
    const double h = 1e-3;
    // Central differences are exact for a quadratic, up to rounding.
    const double fd = (p.loss(p.X0 + h * V) - p.loss(p.X0 - h * V)) / (2 * h);
    const double dir = (G * V).sum().item<double>();
    EXPECT_NEAR(fd, dir, 1e-7 * std::max(1.0, std::abs(dir)));
  }
}

TEST(LsqProblem, RejectsBadConfig) {
  LsqConfig c = small_config();
  c.m = 0;
  EXPECT_THROW(make_lsq_problem(c), std::invalid_argument);
  c = small_config();
  c.init_std = -1.0;
  EXPECT_THROW(make_lsq_problem(c), std::invalid_argument);
  c = small_config();
  c.init_std = std::nan("");
  EXPECT_THROW(make_lsq_problem(c), std::invalid_argument);
}

// --- the command's little helpers (app/json.h, app/cli.h), tested here because they serve lsq --

TEST(LsqJson, NumbersRoundTripAndNonFiniteIsNull) {
  using fanion::app::json::Value;
  for (double d : {0.1, 1.0 / 3.0, 1e-300, 6.02214076e23, -2.5, 0.007, 1e-3}) {
    const std::string s = Value::format_number(d);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), d) << s;
  }
  EXPECT_EQ(Value::format_number(0.1), "0.1");
  EXPECT_EQ(Value::format_number(3.0), "3.0");
  EXPECT_EQ(Value(std::nan("")).dump(), "null");
  EXPECT_EQ(Value(INFINITY).dump(), "null");
  EXPECT_EQ(Value(int64_t{1} << 40).dump(), "1099511627776");
  EXPECT_EQ(Value(std::optional<int64_t>{}).dump(), "null");
  EXPECT_EQ(Value(std::optional<int64_t>{7}).dump(), "7");
  EXPECT_EQ(Value(true).dump(), "true");
}

TEST(LsqJson, StringsAreEscaped) {
  using fanion::app::json::Value;
  EXPECT_EQ(Value("a\"b\\c\nd\te\x01").dump(), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(Value(std::string("µ ok")).dump(), "\"µ ok\"");
}

TEST(LsqJson, ContainersKeepOrderAndNest) {
  using fanion::app::json::Value;
  Value o = Value::object();
  o.set("b", 1).set("a", Value::array().push_back(1).push_back(2.5).push_back(nullptr));
  o.set("b", "replaced");
  EXPECT_EQ(o.dump(0), "{\"b\": \"replaced\", \"a\": [1, 2.5, null]}");
  Value nested = Value::object().set("x", Value::object().set("y", Value::array()));
  EXPECT_EQ(nested.dump(2), "{\n  \"x\": {\"y\": []}\n}");
  EXPECT_THROW(Value::array().set("k", 1), std::logic_error);
}

TEST(LsqCli, ParsesOptionsFlagsAndDefaults) {
  namespace cli = fanion::app::cli;
  cli::Parser p("fanion lsq", "test");
  p.option("lr", "X", "learning rate").option("seed", "N", "seed", "0").flag("grid", "grid");
  std::vector<std::string> args = {"lsq", "--lr=0.5", "--grid", "--seed", "7"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  p.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_DOUBLE_EQ(p.get_double("lr"), 0.5);
  EXPECT_EQ(p.get_int("seed"), 7);
  EXPECT_TRUE(p.get_flag("grid"));
  EXPECT_FALSE(p.help_requested());
  EXPECT_EQ(cli::split_list(" a, b,,c "), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(LsqCli, RejectsBadCommandLines) {
  namespace cli = fanion::app::cli;
  auto parse = [](std::vector<std::string> args) {
    cli::Parser p("fanion lsq", "test");
    p.option("lr", "X", "learning rate").flag("grid", "grid");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    p.parse(static_cast<int>(argv.size()), argv.data());
    return p.get_double("lr");
  };
  EXPECT_THROW(parse({"lsq", "--nope"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq", "--lr"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq", "--lr", "abc"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq", "--lr", "1e999"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq", "--grid=1", "--lr", "1"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq", "positional"}), cli::UsageError);
  EXPECT_THROW(parse({"lsq"}), cli::UsageError);  // --lr has no default
}
