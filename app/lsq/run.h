#pragma once
// One `fanion lsq` run: an optimizer on the least-squares problem, fed the exact gradient,
// counted in iterations until the loss is below the target (paper §6.1, Table 3).
#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fanion/optim/fanion.h"
#include "lsq/problem.h"
#include "progress.h"

namespace fanion::app::lsq {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
/// printf-style formatting of one number.
std::string fmt(const char* format, double v);

/// Everything `fanion lsq` was asked to do (one default per option: command.cpp's parser).
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
  std::optional<at::ScalarType> ns_dtype;  ///< Newton–Schulz dtype; nullopt: the problem's
  int64_t max_iters = 5000;
  double target = 1e-3;
  int64_t log_every = 10;
  int64_t check_every = 10;  ///< the authors' count looks at the loss this often
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
  /// The first iteration t whose loss F(X_t) is below the target.
  std::optional<int64_t> iterations_to_target;
  /// The authors' count: the first t, a multiple of check_every, with F(X_t) below the target.
  std::optional<int64_t> checked_iterations_to_target;
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

/// The optimizer of a run: the algorithm's preset with the command's momentum and Muon solver.
optim::NormOptimizerOptions make_options(const Settings& s, const RunSpec& spec);

/// How a run ends besides max_iters and divergence.
struct RunStop {
  /// Give up once t reaches this without the target (the grid's best so far).
  std::optional<int64_t> give_up_after;
  bool at_target = false;  ///< stop once both counts are known
  bool log_norms = true;   ///< gradient norms (an SVD) at every log point
};

RunResult run_one(const LsqProblem& P, const Settings& s, const RunSpec& spec, const RunStop& stop,
                  Progress& progress, const std::string& label);

/// A run's count as a table cell: the iterations, "never" (">N"), "(gave up)", "diverged" or
/// "error".
std::string iters_text(const RunResult& r, const std::optional<int64_t>& count);

}  // namespace fanion::app::lsq
