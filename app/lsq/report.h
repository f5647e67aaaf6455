#pragma once
// What `fanion lsq` prints and writes: the tables beside the paper's Table 3, the summary over
// problem seeds, and the JSON document (docs/json.md).
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "json.h"
#include "lsq/grid.h"
#include "lsq/paper.h"
#include "lsq/run.h"

namespace fanion::app::lsq {

/// Whether the run's problem is the paper's §6.1 setup (500 x 500, X0 ~ N(0, 0.1^2), loss
/// target 1e-3): only then are Table 3's counts shown beside ours.
bool paper_setup(const Settings& s);

/// One algorithm over the problem seeds: its iterations to the target per seed (nullopt: never
/// within max_iters), their median with "never" counted as infinite (so the median is "never"
/// when fewer than half reach it), and their range.
struct SeedSummary {
  RunSpec spec;
  std::vector<std::optional<int64_t>> iterations;
  int64_t reached = 0;
  std::optional<int64_t> median, min, max;
};

/// runs[j] indexes results; runs are spec-major within each seed (specs.size() per seed).
std::vector<SeedSummary> summarize_seeds(const std::vector<RunSpec>& specs,
                                         const std::vector<RunResult>& results,
                                         const std::vector<size_t>& runs);

void print_grid_table(std::ostream& out, const Settings& s, const std::vector<GridSummary>& grids);
void print_run_table(std::ostream& out, const Settings& s, const std::vector<RunResult>& results,
                     const std::vector<size_t>& runs);
void print_seed_table(std::ostream& out, const Settings& s, const std::vector<SeedSummary>& seeds);

/// The whole JSON document of a command (schema: docs/json.md).
json::Value lsq_json(const Settings& s, double initial_loss, const std::vector<RunResult>& results,
                     const std::vector<GridSummary>& grids, const std::vector<SeedSummary>& seeds,
                     double seconds);

}  // namespace fanion::app::lsq
