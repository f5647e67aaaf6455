// `fanion lsq`: the linear least-squares experiment of the paper's §6.1 (Table 3, Figures 1
// and 10): the command line and the order of the work. A run is in run.h, the grid search in
// grid.h, the tables and the JSON in report.h, the problem in problem.h.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../report.h"  // the tool's output helpers (lsq/report.h is lsq's tables)
#include "cli.h"
#include "commands.h"
#include "common_options.h"
#include "fanion/names.h"
#include "fanion/optim/presets.h"
#include "lsq/grid.h"
#include "lsq/paper.h"
#include "lsq/problem.h"
#include "lsq/report.h"
#include "lsq/run.h"
#include "progress.h"

namespace fanion::app {
namespace lsq {
namespace {

/// The authors' problem seed (finetune_lrs.py: seed=42).
constexpr int64_t kAuthorsSeed = 42;

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

at::ScalarType parse_dtype(const std::string& text, const std::string& option, bool bf16_ok) {
  if (text == "float64") return at::kDouble;
  if (text == "float32") return at::kFloat;
  if (text == "bfloat16" && bf16_ok) return at::kBFloat16;
  throw cli::UsageError(option + ": expected float64" +
                        (bf16_ok ? ", float32 or bfloat16" : " or float32") + ", got '" + text +
                        "'");
}

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
  p.option("ns-dtype", "T",
           "Newton-Schulz dtype: float64 | float32 | bfloat16 (default: the problem's --dtype)");
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
  p.option("target", "L", "loss threshold: count the iterations until the loss is below it",
           "1e-3");
  p.option("check-every", "K",
           "the second count: the first multiple of K whose loss is below the target (the "
           "authors' code checks every 10 iterations)",
           "10");
  p.flag("stop-at-target", "end each run when it reaches the target (grid runs always do)");
  p.option("seed", "N", "problem seed (default: 0, or 42 with --instance authors)");
  p.option("seeds", "N",
           "run on N problems (seeds seed .. seed+N-1) and report per algorithm the median, "
           "range and count of seeds reaching the target",
           "1");
  p.option("m", "N", "rows of X", "500");
  p.option("n", "N", "columns of X", "500");
  p.option("init-std", "S", "X0 entries ~ N(0, S^2)", "0.1");
  p.option("dtype", "T", "float64 | float32", "float64");
  p.option("instance", "I",
           "fanion (LibTorch's CPU generator) | authors (the authors' draw order through an "
           "emulation of torch's CUDA generator: with seed 42, Table 3's own problem)",
           "fanion");
  p.option("cuda-geometry", "SMSxT",
           "--instance authors: the emulated GPU's SMs and threads per SM (RTX A4000: 48x1536, "
           "H100 SXM: 132x2048)",
           "48x1536");
  p.flag("authors",
         "the authors' setting: --instance authors --seed 42 --dtype float32 --ns-steps 3 "
         "--ns-dtype bfloat16 (each may still be given)");
  options::add_threads(p);
  p.option("log-every", "K", "loss and gradient-norm log period (iterations)", "10");
  p.flag("no-grad-norms", "skip the gradient norms (an SVD per log point)");
  p.option("json", "PATH", "write every run as JSON (schema: docs/json.md)");
  p.option("plot", "PATH", "write a PNG like the paper's Figures 1 and 10 (needs matplotlib)");
  p.flag("quiet", "no progress on stderr");
  p.epilog(
      "examples:\n"
      "  fanion lsq --max-iters 3000 --json lsq.json --plot lsq.png\n"
      "  fanion lsq --algorithms neon,fanion-10,f-neon,s-neon --max-iters 2000\n"
      "  fanion lsq --grid --algorithms muon --grid-momenta 0.4,0.5,0.6\n"
      "  fanion lsq --authors --stop-at-target --max-iters 3000");
  Settings s;
  help = !options::parse_or_help(p, argc, argv);
  if (help) return s;

  const std::string algos = normalize_name(p.get_string("algorithms"), '-');
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
  // --authors changes the defaults of the options it names, never a value given.
  const bool authors = p.get_flag("authors");
  auto value = [&](const std::string& name, const std::string& authors_value) {
    return authors && !p.has(name) ? authors_value : p.get_string(name);
  };
  s.ns_steps = cli::parse_int(value("ns-steps", "3"), "--ns-steps");
  if (s.ns_steps < 1) throw cli::UsageError("--ns-steps must be >= 1");
  const std::string ns_dtype = authors && !p.has("ns-dtype") ? "bfloat16"
                               : p.has("ns-dtype")           ? p.get_string("ns-dtype")
                                                             : "";
  if (!ns_dtype.empty()) s.ns_dtype = parse_dtype(ns_dtype, "--ns-dtype", true);

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
  s.check_every = p.get_int("check-every", 1);
  try {
    s.problem.instance = lsq_instance_from_string(value("instance", "authors"));
    s.problem.geometry = CudaGeometry::parse(p.get_string("cuda-geometry"));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(
        std::string(p.has("cuda-geometry") ? "--cuda-geometry: " : "--instance: ") + e.what());
  }
  const bool authors_instance = s.problem.instance == LsqInstance::kAuthors;
  if (p.has("cuda-geometry") && !authors_instance)
    throw cli::UsageError("--cuda-geometry: only with --instance authors");
  const int64_t seed =
      p.has("seed") ? p.get_int("seed") : (authors_instance ? kAuthorsSeed : int64_t{0});
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
  s.problem.dtype = parse_dtype(value("dtype", "float32"), "--dtype", false);
  options::apply_threads(p);
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

/// The problem's and the Muon solver's description, first thing on stdout.
void print_header(std::ostream& out, const Settings& s, const LsqProblem& P, double initial_loss) {
  const std::string ns_dtype = s.ns_dtype ? (*s.ns_dtype == at::kBFloat16 ? ", bfloat16"
                                             : *s.ns_dtype == at::kFloat  ? ", float32"
                                                                          : ", float64")
                                          : std::string();
  out << "LSQ " << s.problem.m << "x" << s.problem.n << "  " << to_string(s.problem.instance)
      << " instance"
      << (s.problem.instance == LsqInstance::kAuthors
              ? " (torch CUDA generator, " + s.problem.geometry.text() + ")"
              : std::string())
      << "  seed " << s.problem.seed << "  init_std " << s.problem.init_std << "  "
      << (s.problem.dtype == at::kDouble ? "float64" : "float32") << "  initial loss "
      << fmt("%.6g", initial_loss) << "\ntarget " << fmt("%g", s.target) << " (count: first "
      << "iteration below it, and first check every " << s.check_every << ")  max-iters "
      << s.max_iters << "\nmomentum " << s.momentum_kind_name << "  Muon polar "
      << (s.muon_solver == "exact" ? std::string("exact (SVD)")
          : s.muon_solver == "gram"
              ? std::string("exact (Gram + eigh)")
              : "Newton-Schulz " + s.muon_solver + ", " + std::to_string(s.ns_steps) + " steps, " +
                    s.ns_normalization + " normalization" + ns_dtype)
      << "  threads " << at::get_num_threads() << "\n";
  if (s.problem.instance == LsqInstance::kAuthors) {
    // A few entries, to hold against torch on a GPU (scripts/gpu-check.sh).
    out << "X0[0,0:3] " << fmt("%.7g", P.X0[0][0].item<double>()) << " "
        << fmt("%.7g", P.X0[0][1].item<double>()) << " " << fmt("%.7g", P.X0[0][2].item<double>())
        << "  A[0,0] " << fmt("%.7g", P.A[0][0].item<double>()) << "\n";
  }
  out << "\n" << std::flush;
}

}  // namespace
}  // namespace lsq

int lsq_main(int argc, char** argv) {
  using namespace lsq;
  bool help = false;
  const Settings s = parse_settings(argc, argv, help);
  if (help) return 0;

  Progress progress(s.quiet);
  const auto t_all = Clock::now();
  const LsqProblem P = make_lsq_problem(s.problem);
  const double initial_loss = P.loss(P.X0);
  print_header(std::cout, s, P, initial_loss);

  std::vector<RunResult> results;  // every run, in order
  std::vector<size_t> table_runs;  // indices of the runs in the main table
  std::vector<GridSummary> grids;
  if (s.grid)
    for (const auto& a : s.algorithms) grids.push_back(run_grid(P, s, a, progress, results));

  // The table's runs: the paper's settings (or overrides), or each grid winner rerun in full.
  std::vector<RunSpec> specs;
  if (s.grid) {
    for (const auto& g : grids)
      if (g.best) specs.push_back({g.algorithm, g.best->lr, g.best->momentum, "best"});
  } else {
    for (const auto& a : s.algorithms) {
      const PaperRow& d = default_row(a);
      specs.push_back({a, s.lr.value_or(d.lr), s.momentum.value_or(d.momentum), "run"});
    }
  }
  // Every spec on every problem seed (the first problem is P).
  const size_t total = specs.size() * static_cast<size_t>(s.seeds);
  const std::string target_text = fmt("%g", s.target);
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
          run_one(Pk, sk, spec, {std::nullopt, s.stop_at_target, s.grad_norms}, progress, label);
      progress.done(label + ": " + iters_text(r, r.iterations_to_target) + " iterations to " +
                    target_text + " (every " + std::to_string(s.check_every) + ": " +
                    iters_text(r, r.checked_iterations_to_target) + "), final loss " +
                    fmt("%.4e", r.final_loss) + fmt(", %.1fs", r.seconds) +
                    (r.error.empty() ? "" : "  error: " + r.error));
      table_runs.push_back(results.size());
      results.push_back(std::move(r));
    }
  }
  const std::vector<SeedSummary> by_seed =
      s.seeds > 1 ? summarize_seeds(specs, results, table_runs) : std::vector<SeedSummary>{};

  if (s.grid) print_grid_table(std::cout, s, grids);
  print_run_table(std::cout, s, results, table_runs);
  if (!by_seed.empty()) print_seed_table(std::cout, s, by_seed);
  std::cout << fmt("total %.1fs\n", seconds_since(t_all)) << std::flush;

  int status = 0;
  for (size_t idx : table_runs)
    if (!results[idx].error.empty()) status = 1;
  if (s.json_path || s.plot_path) {
    const json::Value doc =
        lsq_json(s, initial_loss, results, grids, by_seed, seconds_since(t_all));
    if (report::write_json_and_plot(doc, s.json_path, s.plot_path, "plot_lsq.py", "FANION_PLOT_LSQ",
                                    "fanion lsq") != 0)
      status = 1;
  }
  return status;
}

}  // namespace fanion::app
