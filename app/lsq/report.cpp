// What `fanion lsq` prints and writes (see report.h).
#include "lsq/report.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "../report.h"  // the tool's table printer (this file is lsq's report)

namespace fanion::app::lsq {
namespace {

using report::print_table;

/// Table 3's count for a row, as a table cell: "-" when the algorithm is not in Table 3 or the
/// run is not the paper's setup.
std::string paper_count(const PaperRow* p, const Settings& s) {
  return p && paper_setup(s) ? std::to_string(p->iterations) : "-";
}

std::string count_text(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "never"; }

std::string every_text(const Settings& s) { return "every " + std::to_string(s.check_every); }

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
      .set("checked_iterations_to_target", r.checked_iterations_to_target)
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

json::Value grid_json(const std::vector<GridSummary>& grids) {
  json::Value out = json::Value::array();
  for (const auto& g : grids) {
    out.push_back(
        json::Value::object()
            .set("algorithm", g.algorithm)
            .set("lrs", json::Value::array_of(g.lrs))
            .set("momenta", json::Value::array_of(g.momenta))
            .set("best_lr", opt_number(g.best.has_value(), g.best ? g.best->lr : 0.0))
            .set("best_momentum", opt_number(g.best.has_value(), g.best ? g.best->momentum : 0.0))
            .set("best_iterations_to_target", g.best_iters)
            .set("runs", g.runs)
            .set("runs_stopped_early", g.early)
            .set("seconds", g.seconds)
            .set("paper", paper_json(g.algorithm)));
  }
  return out;
}

std::string dtype_name(at::ScalarType t) {
  return t == at::kDouble ? "float64" : t == at::kFloat ? "float32" : "bfloat16";
}

}  // namespace

bool paper_setup(const Settings& s) {
  return s.problem.m == 500 && s.problem.n == 500 && s.problem.init_std == 0.1 && s.target == 1e-3;
}

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

void print_grid_table(std::ostream& out, const Settings& s, const std::vector<GridSummary>& grids) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : grids) {
    const PaperRow* p = paper_row(g.algorithm);
    rows.push_back({g.algorithm, g.best ? fmt("%.6g", g.best->lr) : "-",
                    g.best ? fmt("%g", g.best->momentum) : "-",
                    g.best_iters ? std::to_string(*g.best_iters) : "never", p ? p->lr_text : "-",
                    p ? fmt("%g", p->momentum) : "-", paper_count(p, s), std::to_string(g.runs),
                    fmt("%.1f", g.seconds)});
  }
  out << "grid search (best = fewest iterations to " << fmt("%g", s.target) << "):\n";
  print_table(out,
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
  out << "\n";
}

void print_run_table(std::ostream& out, const Settings& s, const std::vector<RunResult>& results,
                     const std::vector<size_t>& runs) {
  bool any_marked = false;
  std::vector<std::vector<std::string>> rows;
  for (size_t idx : runs) {
    const RunResult& r = results[idx];
    const PaperRow* p = paper_row(r.spec.algorithm);
    std::string paper = paper_count(p, s);
    if (p && paper_setup(s) &&
        (std::abs(p->lr - r.spec.lr) > 1e-12 || std::abs(p->momentum - r.spec.momentum) > 1e-12)) {
      paper += "*";
      any_marked = true;
    }
    rows.push_back({r.spec.algorithm, std::to_string(r.seed), fmt("%.6g", r.spec.lr),
                    fmt("%g", r.spec.momentum), iters_text(r, r.iterations_to_target),
                    iters_text(r, r.checked_iterations_to_target), paper, fmt("%.4e", r.final_loss),
                    fmt("%.1f", r.seconds)});
  }
  print_table(out,
              {{"algorithm", true},
               {"seed", false},
               {"lr", false},
               {"momentum", false},
               {"iters to " + fmt("%g", s.target), false},
               {every_text(s), false},
               {"paper", false},
               {"final loss", false},
               {"seconds", false}},
              rows);
  if (any_marked) out << "* the paper's count is for its own (lr, momentum)\n";
  if (!paper_setup(s))
    out << "paper: no counts shown: Table 3 is for 500x500, init-std 0.1, target 1e-3\n";
}

void print_seed_table(std::ostream& out, const Settings& s, const std::vector<SeedSummary>& seeds) {
  std::vector<std::vector<std::string>> rows;
  for (const SeedSummary& g : seeds) {
    rows.push_back({g.spec.algorithm, fmt("%.6g", g.spec.lr), fmt("%g", g.spec.momentum),
                    std::to_string(g.reached) + "/" + std::to_string(g.iterations.size()),
                    count_text(g.median), count_text(g.min) + " - " + count_text(g.max),
                    paper_count(paper_row(g.spec.algorithm), s)});
  }
  out << "\nover " << s.seeds << " problem seeds (" << s.problem.seed << ".."
      << s.problem.seed + static_cast<uint64_t>(s.seeds) - 1 << "; 'never': not within "
      << s.max_iters << " iterations):\n";
  print_table(out,
              {{"algorithm", true},
               {"lr", false},
               {"momentum", false},
               {"reached", false},
               {"median iters", false},
               {"range", false},
               {"paper (seed of its own)", false}},
              rows);
}

json::Value lsq_json(const Settings& s, double initial_loss, const std::vector<RunResult>& results,
                     const std::vector<GridSummary>& grids, const std::vector<SeedSummary>& seeds,
                     double seconds) {
  json::Value config = json::Value::object()
                           .set("m", s.problem.m)
                           .set("n", s.problem.n)
                           .set("instance", to_string(s.problem.instance))
                           .set("cuda_geometry", s.problem.instance == LsqInstance::kAuthors
                                                     ? json::Value(s.problem.geometry.text())
                                                     : json::Value())
                           .set("seed", s.problem.seed)
                           .set("seeds", s.seeds)
                           .set("paper_setup", paper_setup(s))
                           .set("init_std", s.problem.init_std)
                           .set("dtype", dtype_name(s.problem.dtype))
                           .set("initial_loss", initial_loss)
                           .set("target", s.target)
                           .set("check_every", s.check_every)
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
                           .set("ns_dtype", dtype_name(s.ns_dtype.value_or(s.problem.dtype)))
                           .set("threads", at::get_num_threads())
                           .set("grid", s.grid);
  json::Value runs = json::Value::array();
  for (const auto& r : results) runs.push_back(run_json(s, r));
  return json::Value::object()
      .set("command", "lsq")
      .set("schema_version", 1)
      .set("config", std::move(config))
      .set("runs", std::move(runs))
      .set("grid", s.grid ? grid_json(grids) : json::Value())
      .set("seeds", seeds_json(seeds))
      .set("seconds", seconds);
}

}  // namespace fanion::app::lsq
