#pragma once
// `fanion lsq --grid`: the paper's lr x momentum grid search (§6.1) for one algorithm, each
// run stopped once it can no longer beat the best so far.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lsq/run.h"

namespace fanion::app::lsq {

/// The paper's momenta (§6.1).
inline const std::vector<double> kPaperMomenta = {0.1, 0.2, 0.3, 0.4, 0.5,
                                                  0.6, 0.7, 0.8, 0.9, 0.95};
/// The paper's learning rates for an algorithm (§6.1).
std::vector<double> paper_grid_lrs(const std::string& algorithm);
/// start, start + step, ..., stop, computed as integers / (1/step) so that 0.007 is 0.007;
/// throws cli::UsageError on an empty or huge range.
std::vector<double> lr_range(double start, double stop, double step);

struct GridSummary {
  std::string algorithm;
  std::vector<double> lrs, momenta;
  std::optional<RunSpec> best;  ///< fewest iterations to the target (first crossing)
  std::optional<int64_t> best_iters;
  int64_t runs = 0, early = 0;
  double seconds = 0.0;
};

/// Every (lr, momentum) of the grid on P, momentum-major; appends each run to `results`.
GridSummary run_grid(const LsqProblem& P, const Settings& s, const std::string& algorithm,
                     Progress& progress, std::vector<RunResult>& results);

}  // namespace fanion::app::lsq
