// `fanion lsq --grid` (see grid.h).
#include "lsq/grid.h"

#include <cmath>

#include "cli.h"

namespace fanion::app::lsq {

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

GridSummary run_grid(const LsqProblem& P, const Settings& s, const std::string& algorithm,
                     Progress& progress, std::vector<RunResult>& results) {
  GridSummary g;
  g.algorithm = algorithm;
  g.lrs = s.grid_lrs.value_or(paper_grid_lrs(algorithm));
  g.momenta = s.grid_momenta.value_or(kPaperMomenta);
  const auto g0 = Clock::now();
  const size_t total = g.lrs.size() * g.momenta.size();
  size_t k = 0;
  for (double b : g.momenta) {
    for (double lr : g.lrs) {
      ++k;
      const RunSpec spec{algorithm, lr, b, "grid"};
      const std::string label = left_in_all(seconds_since(g0), k - 1, total) + "[grid " +
                                algorithm + " " + std::to_string(k) + "/" + std::to_string(total) +
                                "] lr=" + fmt("%g", lr) + " mom=" + fmt("%g", b) +
                                " best=" + (g.best_iters ? std::to_string(*g.best_iters) : "-");
      RunResult r = run_one(P, s, spec, {g.best_iters, /*at_target=*/true, /*log_norms=*/false},
                            progress, label);
      ++g.runs;
      if (r.stopped_early) ++g.early;
      if (r.iterations_to_target && (!g.best_iters || *r.iterations_to_target < *g.best_iters)) {
        g.best_iters = r.iterations_to_target;
        g.best = spec;
      }
      results.push_back(std::move(r));
    }
  }
  g.seconds = seconds_since(g0);
  progress.done("grid " + algorithm + ": " + std::to_string(g.runs) + " runs (" +
                std::to_string(g.early) + " stopped early), best " +
                (g.best
                     ? "lr=" + fmt("%g", g.best->lr) + " momentum=" + fmt("%g", g.best->momentum) +
                           " -> " + std::to_string(*g.best_iters) + " iterations"
                     : std::string("none reached the target")) +
                fmt(", %.1fs", g.seconds));
  return g;
}

}  // namespace fanion::app::lsq
