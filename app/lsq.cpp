// `fanion lsq`: the linear least-squares experiment of the paper's §6.1 (Table 3, Figures 1
// and 10). Every run optimizes one fp64 500 x 500 matrix X with one Fanion-family optimizer,
// feeding it the exact gradient A (X - S) B, and counts the iterations until the loss drops to
// the target (1e-3).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "fanion/norms.h"
#include "fanion/optim/fanion.h"
#include "fanion/optim/presets.h"
#include "json.h"
#include "lsq_problem.h"
#include "progress.h"
#include "report.h"

namespace fanion::app {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// --- the paper's numbers ---------------------------------------------------------------------

struct PaperRow {
  const char* algorithm;
  double lr;
  double momentum;
  int64_t iterations;
  const char* lr_text;  ///< as printed in the paper
};

// Table 3: tuned (lr, momentum) and iterations to loss 0.001 (alpha = 1/2 and
// sign_lr_coeff = 0.01 for the combinations; SignSGD's lr is printed as 0.016 x 0.01).
const PaperRow kTable3[] = {
    {"muon", 0.007, 0.5, 1060, "0.007"},  {"nsgd", 0.08, 0.95, 1020, "0.08"},
    {"f-muon", 0.015, 0.7, 910, "0.015"}, {"signsgd", 0.016 * 0.01, 0.95, 2650, "0.016*0.01"},
    {"s-muon", 0.011, 0.9, 890, "0.011"},
};

const PaperRow* paper_row(const std::string& algorithm) {
  for (const PaperRow& r : kTable3)
    if (algorithm == r.algorithm) return &r;
  return nullptr;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// The paper's settings for an algorithm: Table 3 where it has a row; otherwise (§6.1) the
/// F-Fanions take F-Muon's, the S-Fanions S-Muon's, Neon and the Fanion-k Muon's.
const PaperRow& default_row(const std::string& algorithm) {
  if (const PaperRow* r = paper_row(algorithm)) return *r;
  if (starts_with(algorithm, "f-")) return *paper_row("f-muon");
  if (starts_with(algorithm, "s-")) return *paper_row("s-muon");
  return *paper_row("muon");
}

bool uses_alpha(const std::string& a) { return starts_with(a, "f-") || starts_with(a, "s-"); }
bool uses_sign_coeff(const std::string& a) { return starts_with(a, "s-"); }

// The paper's grid (§6.1).
const std::vector<double> kPaperMomenta = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};

/// start, start + step, ..., stop, computed as integers / (1/step) so that 0.007 is 0.007.
std::vector<double> lr_range(double start, double stop, double step) {
  if (!(step > 0) || stop < start) throw cli::UsageError("empty learning-rate range");
  const double inv = 1.0 / step;
  const bool integral_inv = std::abs(inv - std::round(inv)) < 1e-9 * inv;
  std::vector<double> out;
  const auto n = static_cast<int64_t>(std::floor((stop - start) / step + 1e-9)) + 1;
  if (n > 100000) throw cli::UsageError("learning-rate range has too many points");
  for (int64_t i = 0; i < n; ++i) {
    if (integral_inv) {
      out.push_back((std::round(start * inv) + double(i)) / std::round(inv));
    } else {
      out.push_back(start + double(i) * step);
    }
  }
  return out;
}

std::vector<double> paper_grid_lrs(const std::string& algorithm) {
  if (algorithm == "signsgd") return lr_range(5e-5, 2e-4, 1e-5);
  if (algorithm == "nsgd") return lr_range(0.01, 0.10, 0.001);
  return lr_range(0.005, 0.020, 0.001);  // Muon, F-Muon, S-Muon, and everything else
}

/// "a:b:step" or "x,y,z".
std::vector<double> parse_value_list(const std::string& text, const std::string& what) {
  if (text.find(':') != std::string::npos) {
    auto parts = cli::split_list(text, ':');
    if (parts.size() != 3) throw cli::UsageError(what + ": expected START:STOP:STEP");
    return lr_range(cli::parse_double(parts[0], what), cli::parse_double(parts[1], what),
                    cli::parse_double(parts[2], what));
  }
  std::vector<double> out;
  for (const auto& item : cli::split_list(text)) out.push_back(cli::parse_double(item, what));
  if (out.empty()) throw cli::UsageError(what + ": empty list");
  return out;
}

// --- configuration ---------------------------------------------------------------------------

struct Settings {
  LsqConfig problem;
  std::vector<std::string> algorithms;
  std::optional<double> lr, momentum;
  double alpha = 0.5;
  double sign_lr_coeff = 0.01;
  optim::MomentumKind momentum_kind = optim::MomentumKind::kNesterov;
  std::string momentum_kind_name = "nesterov";
  std::string muon_solver = "quintic";
  std::string ns_normalization = "frobenius";
  int64_t ns_steps = 5;
  int64_t max_iters = 5000;
  double target = 1e-3;
  int64_t log_every = 10;
  bool stop_at_target = false;
  bool grad_norms = true;
  bool grid = false;
  int64_t seeds = 1;  ///< problem seeds seed, seed + 1, ...: the same runs on each
  std::optional<std::vector<double>> grid_lrs, grid_momenta;
  std::optional<std::string> json_path, plot_path;
  bool quiet = false;
};

struct RunSpec {
  std::string algorithm;
  double lr = 0.0, momentum = 0.0;
  std::string phase = "run";  ///< "run", "grid" or "best"
};

struct NormRecord {
  int64_t iteration;
  double frobenius, spectral, nuclear;
};

struct RunResult {
  RunSpec spec;
  uint64_t seed = 0;  ///< the problem's
  std::string direction;
  std::optional<int64_t> iterations_to_target;
  int64_t iterations = 0;  ///< steps taken
  double final_loss = std::numeric_limits<double>::quiet_NaN();
  double seconds = 0.0;          ///< optimizer + problem, logging excluded
  double logging_seconds = 0.0;  ///< gradient norms (SVDs) for the log
  bool stopped_early = false;    ///< grid: could no longer beat the best run
  bool diverged = false;         ///< loss became NaN/Inf
  std::string error;             ///< the optimizer threw (message)
  std::vector<std::pair<int64_t, double>> loss;
  std::vector<double> loss_seconds;
  std::vector<NormRecord> norms;
};

optim::FanionOptions make_options(const Settings& s, const RunSpec& spec) {
  optim::FanionOptions o =
      optim::preset(spec.algorithm, spec.lr, spec.momentum, s.alpha, s.sign_lr_coeff);
  o.momentum_kind(s.momentum_kind);
  PolarOptions polar;
  if (s.muon_solver == "exact") {
    polar = PolarOptions::exact();
  } else if (s.muon_solver == "gram") {
    polar = PolarOptions::gram();
  } else {
    polar.set_method(PolarMethod::kNewtonSchulz)
        .set_schedule(s.muon_solver == "polar-express" ? NewtonSchulzSchedule::polar_express()
                                                       : NewtonSchulzSchedule::quintic())
        .set_steps(s.ns_steps)
        .set_tol(0.0)
        .set_gram_normalization(s.ns_normalization == "gram");
  }
  o.direction().with_polar(polar);
  return o;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// --- one run ---------------------------------------------------------------------------------

RunResult run_one(const LsqProblem& P, const Settings& s, const RunSpec& spec,
                  std::optional<int64_t> give_up_after, bool stop_at_target, bool log_norms,
                  Progress& progress, const std::string& label) {
  RunResult r;
  r.spec = spec;
  r.seed = s.problem.seed;
  optim::FanionOptions options = make_options(s, spec);
  r.direction = options.direction().name();

  at::Tensor X = P.X0.clone();
  optim::Fanion opt(std::vector<at::Tensor>{X}, options);

  const auto t0 = Clock::now();
  double logging = 0.0;
  int64_t last_logged = -1;
  auto log_point = [&](int64_t t, double L, const at::Tensor& G) {
    if (t == last_logged) return;
    last_logged = t;
    r.loss.emplace_back(t, L);
    r.loss_seconds.push_back(seconds_since(t0) - logging);
    if (log_norms && std::isfinite(L)) {
      const auto l0 = Clock::now();
      const at::Tensor sv = norms::singular_values(G);
      r.norms.push_back({t, norms::frobenius(G), sv.numel() ? sv[0].item<double>() : 0.0,
                         sv.sum().item<double>()});
      logging += seconds_since(l0);
    }
  };

  int64_t t = 0;
  double L = 0.0;
  at::Tensor G;
  for (;; ++t) {
    // Loss and gradient at X_t share the product A (X - S) B.
    G = P.grad(X);
    L = 0.5 * at::sum((X - P.S) * G, at::kDouble).item<double>();
    if (t % s.log_every == 0) log_point(t, L, G);
    if (!std::isfinite(L)) {
      r.diverged = true;
      break;
    }
    if (!r.iterations_to_target && L <= s.target) {
      r.iterations_to_target = t;
      if (stop_at_target) break;
    }
    if (t >= s.max_iters) break;
    // At t >= best without the target, the earliest possible hit is t + 1 > best.
    if (give_up_after && !r.iterations_to_target && t >= *give_up_after) {
      r.stopped_early = true;
      break;
    }
    progress.update(
        label + "  iter " + std::to_string(t) + "/" + std::to_string(s.max_iters) + "  loss " +
        fmt("%.4e", L) + "  " + fmt("%.1fs", seconds_since(t0) - logging) +
        (t > 0 ? "  at most " +
                     format_duration(seconds_since(t0) / double(t) * double(s.max_iters - t)) +
                     " left"
               : std::string()));
    X.mutable_grad() = G;
    try {
      opt.step();
    } catch (const std::exception& e) {
      r.error = e.what();
      break;
    }
  }
  log_point(t, L, G);  // the last point, if not logged yet
  r.iterations = t;
  r.final_loss = L;
  r.logging_seconds = logging;
  r.seconds = seconds_since(t0) - logging;
  return r;
}

// --- output ----------------------------------------------------------------------------------

json::Value opt_number(bool present, double v) { return present ? json::Value(v) : json::Value(); }

json::Value paper_json(const std::string& algorithm) {
  const PaperRow* p = paper_row(algorithm);
  if (p == nullptr) return json::Value();
  return json::Value::object()
      .set("lr", p->lr)
      .set("lr_text", p->lr_text)
      .set("momentum", p->momentum)
      .set("iterations_to_target", p->iterations);
}

json::Value run_json(const Settings& s, const RunResult& r) {
  const std::string& a = r.spec.algorithm;
  json::Value loss = json::Value::array();
  for (const auto& [it, l] : r.loss)
    loss.push_back(json::Value::array().push_back(it).push_back(l));
  json::Value norms = json::Value::array();
  for (const NormRecord& n : r.norms) {
    norms.push_back(json::Value::object()
                        .set("iteration", n.iteration)
                        .set("frobenius", n.frobenius)
                        .set("spectral", n.spectral)
                        .set("nuclear", n.nuclear));
  }
  return json::Value::object()
      .set("algorithm", a)
      .set("phase", r.spec.phase)
      .set("seed", r.seed)
      .set("direction", r.direction)
      .set("lr", r.spec.lr)
      .set("momentum", r.spec.momentum)
      .set("momentum_kind", s.momentum_kind_name)
      .set("alpha", opt_number(uses_alpha(a), s.alpha))
      .set("sign_lr_coeff", opt_number(uses_sign_coeff(a), s.sign_lr_coeff))
      .set("target", s.target)
      .set("iterations_to_target", r.iterations_to_target)
      .set("iterations", r.iterations)
      .set("final_loss", r.final_loss)
      .set("stopped_early", r.stopped_early)
      .set("diverged", r.diverged)
      .set("error", r.error.empty() ? json::Value() : json::Value(r.error))
      .set("seconds", r.seconds)
      .set("logging_seconds", r.logging_seconds)
      .set("paper", paper_json(a))
      .set("loss", std::move(loss))
      .set("loss_seconds", json::Value::array_of(r.loss_seconds))
      .set("grad_norms", std::move(norms));
}

std::string iters_text(const RunResult& r) {
  if (!r.error.empty()) return "error";
  if (r.diverged) return "diverged";
  if (r.iterations_to_target) return std::to_string(*r.iterations_to_target);
  return r.stopped_early ? "(gave up)" : ">" + std::to_string(r.iterations);
}

using report::Column;
using report::print_table;

// --- the subcommand --------------------------------------------------------------------------

Settings parse_settings(int argc, char** argv, bool& help) {
  cli::Parser p("fanion lsq",
                "Linear least squares F(X) = 1/2 <X - S, A (X - S) B> (paper §6.1): iterations "
                "to reach\nthe target loss for each algorithm, beside the paper's Table 3. "
                "Default: the five Table 3\nalgorithms with the paper's tuned (lr, momentum), "
                "Nesterov momentum (PyTorch form).");
  p.option("algorithms", "LIST",
           "comma-separated preset names (muon, nsgd, f-muon, signsgd, s-muon, neon, fanion-K, "
           "f-neon, f-fanion-K, s-neon, s-fanion-K), or 'table3', or 'all' (the paper's §6.1 "
           "list)",
           "table3");
  p.option("lr", "X", "learning rate for every selected algorithm (default: the paper's)");
  p.option("momentum", "B", "momentum for every selected algorithm (default: the paper's)");
  p.option("alpha", "A", "weight of the Fanion part in F-/S- combinations", "0.5");
  p.option("sign-lr-coeff", "ETA", "SignSGD coefficient in S- combinations", "0.01");
  p.option("momentum-kind", "KIND", "nesterov | nesterov-eq4 | nesterov-ema | heavy-ball | none",
           "nesterov");
  p.option("muon-solver", "S",
           "polar factor for Muon terms: quintic (Newton-Schulz with Keller Jordan's "
           "coefficients, as his Muon) | polar-express (Newton-Schulz, Amsel et al.) | exact "
           "(SVD, fp64) | gram (Gram matrix + eigh, fp64)",
           "quintic");
  p.option("ns-steps", "N", "Newton-Schulz steps (quintic, polar-express)", "5");
  p.option("ns-normalization", "N",
           "Newton-Schulz start: frobenius (X/||X||_F, as Keller Jordan's Muon) | gram "
           "(X/||XX^T||_F^(1/2), the library's default)",
           "frobenius");
  p.flag("grid",
         "the paper's grid search per algorithm (momentum in {0.1..0.9, 0.95}; lr ranges of "
         "§6.1), then a full run of the best pair");
  p.option("grid-lrs", "LIST", "grid learning rates: START:STOP:STEP or x,y,z (all algorithms)");
  p.option("grid-momenta", "LIST", "grid momenta: x,y,z");
  p.option("max-iters", "N", "iterations per run", "5000");
  p.option("target", "L", "loss threshold", "1e-3");
  p.flag("stop-at-target", "end each run when it reaches the target (grid runs always do)");
  p.option("seed", "N", "problem seed", "0");
  p.option("seeds", "N",
           "run on N problems (seeds seed .. seed+N-1) and report per algorithm the median, "
           "range and count of seeds reaching the target",
           "1");
  p.option("m", "N", "rows of X", "500");
  p.option("n", "N", "columns of X", "500");
  p.option("init-std", "S", "X0 entries ~ N(0, S^2)", "0.1");
  p.option("dtype", "T", "float64 | float32", "float64");
  p.option("threads", "N", "intra-op threads (at::set_num_threads)");
  p.option("log-every", "K", "loss and gradient-norm log period (iterations)", "10");
  p.flag("no-grad-norms", "skip the gradient norms (an SVD per log point)");
  p.option("json", "PATH", "write every run as JSON (schema: docs/json.md)");
  p.option("plot", "PATH", "write a PNG like the paper's Figures 1 and 10 (needs matplotlib)");
  p.flag("quiet", "no progress on stderr");
  p.epilog(
      "examples:\n"
      "  fanion lsq --max-iters 3000 --json lsq.json --plot lsq.png\n"
      "  fanion lsq --algorithms neon,fanion-10,f-neon,s-neon --max-iters 2000\n"
      "  fanion lsq --grid --algorithms muon --grid-momenta 0.4,0.5,0.6");
  p.parse(argc, argv);
  help = p.help_requested();
  Settings s;
  if (help) {
    std::cout << p.help();
    return s;
  }

  std::string algos = p.get_string("algorithms");
  std::transform(algos.begin(), algos.end(), algos.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  for (const auto& a : cli::split_list(algos)) {
    if (a == "table3") {
      for (const PaperRow& r : kTable3) s.algorithms.push_back(r.algorithm);
    } else if (a == "all") {
      for (const char* x : {"muon", "nsgd", "f-muon", "signsgd", "s-muon", "neon", "fanion-2",
                            "fanion-10", "fanion-100", "f-neon", "f-fanion-2", "f-fanion-10",
                            "f-fanion-100", "s-neon", "s-fanion-2", "s-fanion-10", "s-fanion-100"})
        s.algorithms.push_back(x);
    } else {
      s.algorithms.push_back(a);
    }
  }
  if (s.algorithms.empty()) throw cli::UsageError("--algorithms: empty list");

  s.lr = p.get_optional_double("lr");
  s.momentum = p.get_optional_double("momentum");
  if (s.lr && !(*s.lr > 0)) throw cli::UsageError("--lr must be positive");
  if (s.momentum && !(*s.momentum >= 0 && *s.momentum < 1))
    throw cli::UsageError("--momentum must be in [0, 1)");
  s.alpha = p.get_double("alpha");
  s.sign_lr_coeff = p.get_double("sign-lr-coeff");

  s.momentum_kind_name = p.get_string("momentum-kind");
  try {
    s.momentum_kind = optim::momentum_kind_from_string(s.momentum_kind_name);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(std::string("--momentum-kind: ") + e.what());
  }
  s.muon_solver = p.get_string("muon-solver");
  if (s.muon_solver != "quintic" && s.muon_solver != "polar-express" && s.muon_solver != "exact" &&
      s.muon_solver != "gram")
    throw cli::UsageError("--muon-solver: expected quintic, polar-express, exact or gram, got '" +
                          s.muon_solver + "'");
  s.ns_normalization = p.get_string("ns-normalization");
  if (s.ns_normalization != "frobenius" && s.ns_normalization != "gram")
    throw cli::UsageError("--ns-normalization: expected frobenius or gram, got '" +
                          s.ns_normalization + "'");
  s.ns_steps = p.get_int("ns-steps");
  if (s.ns_steps < 1) throw cli::UsageError("--ns-steps must be >= 1");

  s.grid = p.get_flag("grid");
  if (p.has("grid-lrs")) s.grid_lrs = parse_value_list(p.get_string("grid-lrs"), "--grid-lrs");
  if (p.has("grid-momenta"))
    s.grid_momenta = parse_value_list(p.get_string("grid-momenta"), "--grid-momenta");
  if ((s.grid_lrs || s.grid_momenta) && !s.grid)
    throw cli::UsageError("--grid-lrs/--grid-momenta need --grid");
  if (s.grid && (s.lr || s.momentum))
    throw cli::UsageError(
        "--lr/--momentum do not combine with --grid: use --grid-lrs and "
        "--grid-momenta");
  for (double b : s.grid_momenta.value_or(std::vector<double>{}))
    if (!(b >= 0 && b < 1)) throw cli::UsageError("--grid-momenta: values must be in [0, 1)");
  for (double lr : s.grid_lrs.value_or(std::vector<double>{}))
    if (!(lr > 0)) throw cli::UsageError("--grid-lrs: values must be positive");

  s.max_iters = p.get_int("max-iters");
  if (s.max_iters < 0) throw cli::UsageError("--max-iters must be >= 0");
  s.target = p.get_double("target");
  if (!(s.target > 0)) throw cli::UsageError("--target must be positive");
  s.stop_at_target = p.get_flag("stop-at-target");
  const int64_t seed = p.get_int("seed");
  if (seed < 0) throw cli::UsageError("--seed must be >= 0");
  s.problem.seed = static_cast<uint64_t>(seed);
  s.seeds = p.get_int("seeds", 1);
  if (s.seeds > 1 && s.grid)
    throw cli::UsageError("--seeds: a grid search runs on one problem (--seeds 1 with --grid)");
  s.problem.m = p.get_int("m");
  s.problem.n = p.get_int("n");
  if (s.problem.m < 1 || s.problem.n < 1) throw cli::UsageError("--m and --n must be >= 1");
  s.problem.init_std = p.get_double("init-std");
  if (s.problem.init_std < 0) throw cli::UsageError("--init-std must be >= 0");
  const std::string dtype = p.get_string("dtype");
  if (dtype == "float64") {
    s.problem.dtype = at::kDouble;
  } else if (dtype == "float32") {
    s.problem.dtype = at::kFloat;
  } else {
    throw cli::UsageError("--dtype: expected float64 or float32, got '" + dtype + "'");
  }
  if (p.has("threads")) {
    at::set_num_threads(static_cast<int>(p.get_int("threads", 1)));
  }
  s.log_every = p.get_int("log-every");
  if (s.log_every < 1) throw cli::UsageError("--log-every must be >= 1");
  s.grad_norms = !p.get_flag("no-grad-norms");
  if (p.has("json")) s.json_path = p.get_string("json");
  if (p.has("plot")) s.plot_path = p.get_string("plot");
  if (s.json_path) report::check_output_path(*s.json_path, "--json");
  if (s.plot_path) report::check_output_path(*s.plot_path, "--plot");
  s.quiet = p.get_flag("quiet");

  // Unknown names fail now, before any work, with the library's list of names.
  for (const auto& a : s.algorithms) {
    try {
      (void)optim::preset(a, 0.01, 0.5, s.alpha, s.sign_lr_coeff);
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError("--algorithms: " + std::string(e.what()));
    }
  }
  return s;
}

/// Whether the run's problem is the paper's §6.1 setup (500 x 500, X0 ~ N(0, 0.1^2), loss
/// target 1e-3): only then are Table 3's counts shown beside ours.
bool paper_setup(const Settings& s) {
  return s.problem.m == 500 && s.problem.n == 500 && s.problem.init_std == 0.1 && s.target == 1e-3;
}

/// Table 3's count for a row, as a table cell: "-" when the algorithm is not in Table 3 or the
/// run is not the paper's setup.
std::string paper_count(const PaperRow* p, const Settings& s) {
  return p && paper_setup(s) ? std::to_string(p->iterations) : "-";
}

/// One algorithm over the problem seeds: its iterations to the target per seed (nullopt: never
/// within max_iters), their median with "never" counted as infinite (so the median is "never"
/// when fewer than half reach it), and their range.
struct SeedSummary {
  RunSpec spec;
  std::vector<std::optional<int64_t>> iterations;
  int64_t reached = 0;
  std::optional<int64_t> median, min, max;
};

std::vector<SeedSummary> summarize_seeds(const std::vector<RunSpec>& specs,
                                         const std::vector<RunResult>& results,
                                         const std::vector<size_t>& runs) {
  std::vector<SeedSummary> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    SeedSummary g;
    g.spec = specs[i];
    std::vector<int64_t> sorted;  // never = INT64_MAX
    for (size_t j = i; j < runs.size(); j += specs.size()) {
      const auto& it = results[runs[j]].iterations_to_target;
      g.iterations.push_back(it);
      sorted.push_back(it.value_or(std::numeric_limits<int64_t>::max()));
      g.reached += it.has_value();
    }
    std::sort(sorted.begin(), sorted.end());
    auto count = [](int64_t v) {
      return v == std::numeric_limits<int64_t>::max() ? std::nullopt : std::optional<int64_t>(v);
    };
    // The lower median for an even count: the (N/2)-th smallest, as an iteration count.
    g.median = count(sorted[(sorted.size() - 1) / 2]);
    g.min = count(sorted.front());
    g.max = count(sorted.back());
    out.push_back(std::move(g));
  }
  return out;
}

std::string count_text(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "never"; }

json::Value seeds_json(const std::vector<SeedSummary>& by_seed) {
  json::Value out = json::Value::array();
  for (const SeedSummary& g : by_seed) {
    json::Value its = json::Value::array();
    for (const auto& it : g.iterations) its.push_back(it ? json::Value(*it) : json::Value());
    out.push_back(json::Value::object()
                      .set("algorithm", g.spec.algorithm)
                      .set("lr", g.spec.lr)
                      .set("momentum", g.spec.momentum)
                      .set("iterations_to_target", std::move(its))
                      .set("reached", g.reached)
                      .set("median", g.median)
                      .set("min", g.min)
                      .set("max", g.max));
  }
  return out;
}

}  // namespace

int lsq_main(int argc, char** argv) {
  bool help = false;
  const Settings s = parse_settings(argc, argv, help);
  if (help) return 0;

  Progress progress(s.quiet);
  const auto t_all = Clock::now();
  const LsqProblem P = make_lsq_problem(s.problem);
  const double initial_loss = P.loss(P.X0);
  const std::string target_text = fmt("%g", s.target);

  std::cout << "LSQ " << s.problem.m << "x" << s.problem.n << "  seed " << s.problem.seed
            << "  init_std " << s.problem.init_std << "  initial loss " << fmt("%.4g", initial_loss)
            << "  target " << target_text << "  max-iters " << s.max_iters << "\nmomentum "
            << s.momentum_kind_name << "  Muon polar "
            << (s.muon_solver == "exact" ? std::string("exact (SVD)")
                : s.muon_solver == "gram"
                    ? std::string("exact (Gram + eigh)")
                    : "Newton-Schulz " + s.muon_solver + ", " + std::to_string(s.ns_steps) +
                          " steps, " + s.ns_normalization + " normalization")
            << "  threads " << at::get_num_threads() << "\n\n"
            << std::flush;

  std::vector<RunResult> results;  // every run, in order
  std::vector<size_t> table_runs;  // indices of the runs in the main table
  json::Value grid_json = json::Value();

  struct GridBest {
    std::string algorithm;
    std::vector<double> lrs, momenta;
    std::optional<RunSpec> best;
    std::optional<int64_t> best_iters;
    int64_t runs = 0, early = 0;
    double seconds = 0.0;
  };
  std::vector<GridBest> grid_summary;

  if (s.grid) {
    grid_json = json::Value::array();
    for (const auto& a : s.algorithms) {
      GridBest g;
      g.algorithm = a;
      g.lrs = s.grid_lrs.value_or(paper_grid_lrs(a));
      g.momenta = s.grid_momenta.value_or(kPaperMomenta);
      const auto g0 = Clock::now();
      const size_t total = g.lrs.size() * g.momenta.size();
      size_t k = 0;
      for (double b : g.momenta) {
        for (double lr : g.lrs) {
          ++k;
          RunSpec spec{a, lr, b, "grid"};
          const std::string label = left_in_all(seconds_since(g0), k - 1, total) + "[grid " + a +
                                    " " + std::to_string(k) + "/" + std::to_string(total) +
                                    "] lr=" + fmt("%g", lr) + " mom=" + fmt("%g", b) +
                                    " best=" + (g.best_iters ? std::to_string(*g.best_iters) : "-");
          RunResult r = run_one(P, s, spec, g.best_iters, /*stop_at_target=*/true,
                                /*log_norms=*/false, progress, label);
          ++g.runs;
          if (r.stopped_early) ++g.early;
          if (r.iterations_to_target &&
              (!g.best_iters || *r.iterations_to_target < *g.best_iters)) {
            g.best_iters = r.iterations_to_target;
            g.best = spec;
          }
          results.push_back(std::move(r));
        }
      }
      g.seconds = seconds_since(g0);
      progress.done("grid " + a + ": " + std::to_string(g.runs) + " runs (" +
                    std::to_string(g.early) + " stopped early), best " +
                    (g.best ? "lr=" + fmt("%g", g.best->lr) +
                                  " momentum=" + fmt("%g", g.best->momentum) + " -> " +
                                  std::to_string(*g.best_iters) + " iterations"
                            : std::string("none reached the target")) +
                    fmt(", %.1fs", g.seconds));
      grid_summary.push_back(g);
    }
  }

  // The table's runs: the paper's settings (or overrides), or each grid winner rerun in full.
  std::vector<RunSpec> specs;
  if (s.grid) {
    for (const auto& g : grid_summary)
      if (g.best) specs.push_back({g.algorithm, g.best->lr, g.best->momentum, "best"});
  } else {
    for (const auto& a : s.algorithms) {
      const PaperRow& d = default_row(a);
      specs.push_back({a, s.lr.value_or(d.lr), s.momentum.value_or(d.momentum), "run"});
    }
  }
  // Every spec on every problem seed (the first problem is P).
  const size_t total = specs.size() * static_cast<size_t>(s.seeds);
  for (int64_t k = 0; k < s.seeds; ++k) {
    Settings sk = s;
    sk.problem.seed = s.problem.seed + static_cast<uint64_t>(k);
    std::optional<LsqProblem> other;
    if (k > 0) other.emplace(make_lsq_problem(sk.problem));
    const LsqProblem& Pk = k == 0 ? P : *other;
    for (size_t i = 0; i < specs.size(); ++i) {
      const RunSpec& spec = specs[i];
      const size_t done = static_cast<size_t>(k) * specs.size() + i;
      const std::string label =
          left_in_all(seconds_since(t_all), done, total) + "[" + std::to_string(done + 1) + "/" +
          std::to_string(total) + "] " +
          (s.seeds > 1 ? "seed " + std::to_string(sk.problem.seed) + " " : std::string()) +
          spec.algorithm + " lr=" + fmt("%g", spec.lr) + " mom=" + fmt("%g", spec.momentum);
      RunResult r =
          run_one(Pk, sk, spec, std::nullopt, s.stop_at_target, s.grad_norms, progress, label);
      progress.done(label + ": " + iters_text(r) + " iterations to " + target_text +
                    ", final loss " + fmt("%.4e", r.final_loss) + fmt(", %.1fs", r.seconds) +
                    (r.error.empty() ? "" : "  error: " + r.error));
      table_runs.push_back(results.size());
      results.push_back(std::move(r));
    }
  }
  const std::vector<SeedSummary> by_seed =
      s.seeds > 1 ? summarize_seeds(specs, results, table_runs) : std::vector<SeedSummary>{};

  // --- tables ---
  bool any_marked = false;
  if (s.grid) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : grid_summary) {
      const PaperRow* p = paper_row(g.algorithm);
      rows.push_back({g.algorithm, g.best ? fmt("%.6g", g.best->lr) : "-",
                      g.best ? fmt("%g", g.best->momentum) : "-",
                      g.best_iters ? std::to_string(*g.best_iters) : "never", p ? p->lr_text : "-",
                      p ? fmt("%g", p->momentum) : "-", paper_count(p, s), std::to_string(g.runs),
                      fmt("%.1f", g.seconds)});
    }
    std::cout << "grid search (best = fewest iterations to " << target_text << "):\n";
    print_table(std::cout,
                {{"algorithm", true},
                 {"best lr", false},
                 {"best momentum", false},
                 {"iters (ours)", false},
                 {"paper lr", false},
                 {"paper momentum", false},
                 {"paper iters", false},
                 {"runs", false},
                 {"seconds", false}},
                rows);
    std::cout << "\n";
  }
  {
    std::vector<std::vector<std::string>> rows;
    for (size_t idx : table_runs) {
      const RunResult& r = results[idx];
      const PaperRow* p = paper_row(r.spec.algorithm);
      std::string paper = paper_count(p, s);
      if (p && paper_setup(s) &&
          (std::abs(p->lr - r.spec.lr) > 1e-12 ||
           std::abs(p->momentum - r.spec.momentum) > 1e-12)) {
        paper += "*";
        any_marked = true;
      }
      rows.push_back({r.spec.algorithm, std::to_string(r.seed), fmt("%.6g", r.spec.lr),
                      fmt("%g", r.spec.momentum), iters_text(r), paper, fmt("%.4e", r.final_loss),
                      fmt("%.1f", r.seconds)});
    }
    print_table(std::cout,
                {{"algorithm", true},
                 {"seed", false},
                 {"lr", false},
                 {"momentum", false},
                 {"iters to " + target_text + " (ours)", false},
                 {"paper", false},
                 {"final loss", false},
                 {"seconds", false}},
                rows);
    if (any_marked) std::cout << "* the paper's count is for its own (lr, momentum)\n";
    if (!paper_setup(s))
      std::cout << "paper: no counts shown: Table 3 is for 500x500, init-std 0.1, target 1e-3\n";
    if (!by_seed.empty()) {
      std::vector<std::vector<std::string>> summary;
      for (const SeedSummary& g : by_seed) {
        const PaperRow* p = paper_row(g.spec.algorithm);
        summary.push_back({g.spec.algorithm, fmt("%.6g", g.spec.lr), fmt("%g", g.spec.momentum),
                           std::to_string(g.reached) + "/" + std::to_string(g.iterations.size()),
                           count_text(g.median), count_text(g.min) + " - " + count_text(g.max),
                           paper_count(p, s)});
      }
      std::cout << "\nover " << s.seeds << " problem seeds (" << s.problem.seed << ".."
                << s.problem.seed + static_cast<uint64_t>(s.seeds) - 1 << "; 'never': not within "
                << s.max_iters << " iterations):\n";
      print_table(std::cout,
                  {{"algorithm", true},
                   {"lr", false},
                   {"momentum", false},
                   {"reached", false},
                   {"median iters", false},
                   {"range", false},
                   {"paper (seed of its own)", false}},
                  summary);
    }
    std::cout << fmt("total %.1fs\n", seconds_since(t_all)) << std::flush;
  }

  // --- JSON and plot ---
  int status = 0;
  for (size_t idx : table_runs)
    if (!results[idx].error.empty()) status = 1;
  if (s.json_path || s.plot_path) {
    json::Value config = json::Value::object()
                             .set("m", s.problem.m)
                             .set("n", s.problem.n)
                             .set("seed", s.problem.seed)
                             .set("seeds", s.seeds)
                             .set("paper_setup", paper_setup(s))
                             .set("init_std", s.problem.init_std)
                             .set("dtype", s.problem.dtype == at::kDouble ? "float64" : "float32")
                             .set("initial_loss", initial_loss)
                             .set("target", s.target)
                             .set("max_iters", s.max_iters)
                             .set("log_every", s.log_every)
                             .set("stop_at_target", s.stop_at_target)
                             .set("algorithms", json::Value::array_of(s.algorithms))
                             .set("lr_override", s.lr)
                             .set("momentum_override", s.momentum)
                             .set("alpha", s.alpha)
                             .set("sign_lr_coeff", s.sign_lr_coeff)
                             .set("momentum_kind", s.momentum_kind_name)
                             .set("muon_solver", s.muon_solver)
                             .set("ns_steps", s.ns_steps)
                             .set("ns_normalization", s.ns_normalization)
                             .set("threads", at::get_num_threads())
                             .set("grid", s.grid);
    json::Value runs = json::Value::array();
    for (const auto& r : results) runs.push_back(run_json(s, r));
    if (s.grid) {
      for (const auto& g : grid_summary) {
        grid_json.push_back(
            json::Value::object()
                .set("algorithm", g.algorithm)
                .set("lrs", json::Value::array_of(g.lrs))
                .set("momenta", json::Value::array_of(g.momenta))
                .set("best_lr", opt_number(g.best.has_value(), g.best ? g.best->lr : 0.0))
                .set("best_momentum",
                     opt_number(g.best.has_value(), g.best ? g.best->momentum : 0.0))
                .set("best_iterations_to_target", g.best_iters)
                .set("runs", g.runs)
                .set("runs_stopped_early", g.early)
                .set("seconds", g.seconds)
                .set("paper", paper_json(g.algorithm)));
      }
    }
    const json::Value doc = json::Value::object()
                                .set("command", "lsq")
                                .set("schema_version", 1)
                                .set("config", std::move(config))
                                .set("runs", std::move(runs))
                                .set("grid", std::move(grid_json))
                                .set("seeds", seeds_json(by_seed))
                                .set("seconds", seconds_since(t_all));
    if (report::write_json_and_plot(doc, s.json_path, s.plot_path, "plot_lsq.py", "FANION_PLOT_LSQ",
                                    "fanion lsq") != 0)
      status = 1;
  }
  return status;
}

}  // namespace fanion::app
