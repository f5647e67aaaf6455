#pragma once
// Pieces shared by `fanion train cnn` and `fanion train gpt`: which optimizers to compare and
// with which hyperparameters, summary statistics, and gradient norms (paper Appendix F).
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fanion/optim/fanion.h"
#include "json.h"
#include "progress.h"

namespace fanion::app::train {

/// One optimizer of a comparison: a preset name (fanion::optim::preset) and its
/// hyperparameters.
struct OptimizerChoice {
  std::string name;  ///< lower case, e.g. "f-muon", "fanion-5"
  double lr = 0.0;
  double momentum = 0.0;
  double alpha = 0.5;
  double sign_lr_coeff = 0.01;
  /// The preset's options (direction, lr, momentum); callers add the rest.
  optim::NormOptimizerOptions options() const;
  /// "f-muon(lr=0.4,momentum=0.6,alpha=0.5)"
  std::string label() const;
  json::Value to_json() const;
};

/// Default (lr, momentum, sign_lr_coeff) of a preset for one experiment.
using DefaultsFor = std::function<OptimizerChoice(const std::string& name)>;

/// "muon,f-muon:lr=0.3,s-muon:lr=0.42:momentum=0.63:sign_lr_coeff=0.003" (keys: lr,
/// momentum, alpha, sign_lr_coeff). Names are checked against fanion::optim::preset; unknown
/// names or keys, and values that are not finite numbers, throw cli::UsageError.
std::vector<OptimizerChoice> parse_optimizers(const std::string& text, const DefaultsFor& defaults,
                                              double alpha_default = 0.5);

/// The paper's Table 5 (CIFAR-10 airbench): Muon 0.24/0.6, F-Muon 0.40/0.6, S-Muon 0.42/0.63
/// (sign_lr_coeff 0.003), NSGD 0.5/0.95, SignSGD 0.003/0.95; Neon and Fanion-K take Muon's,
/// F-Neon and F-Fanion-K take F-Muon's, S-* take S-Muon's (as the paper does).
OptimizerChoice cnn_defaults(const std::string& name);

/// Our defaults for the small GPT (Muon, F-Muon, S-Muon tuned with `fanion train gpt
/// --lr-sweep`, docs/RESULTS.md).
OptimizerChoice gpt_defaults(const std::string& name);

struct MeanStd {
  double mean = 0.0;
  double std = 0.0;  ///< sample standard deviation (n - 1); 0 for one value
  size_t n = 0;
};
MeanStd mean_std(const std::vector<double>& values);

/// Frobenius, spectral and nuclear norms of a gradient's matrix view (conv weights flattened
/// to (out, in * kh * kw)), computed in fp64.
struct MatrixNorms {
  double frobenius = 0.0, spectral = 0.0, nuclear = 0.0;
};
MatrixNorms matrix_norms(const at::Tensor& grad);
/// The whole gradient of several matrices, as the paper's Figure 13: Frobenius =
/// sqrt(sum ||G_i||_F^2), spectral = max_i ||G_i||_2, nuclear = sum_i ||G_i||_* (the norms of
/// the block-diagonal matrix diag(G_1, G_2, ...)).
MatrixNorms total_norms(const std::vector<MatrixNorms>& parts);

/// Multiplies every param group's lr by `factor` relative to the base lrs captured at
/// construction: warmup/decay schedules for any torch::optim::Optimizer.
class LrSchedule {
 public:
  explicit LrSchedule(torch::optim::Optimizer& opt);
  void set_factor(double factor);
  /// Group g only (e.g. airbench's whitening bias, which decays faster).
  void set_factor(size_t group, double factor);

 private:
  torch::optim::Optimizer& opt_;
  std::vector<double> base_;
};

/// Seconds on a monotonic clock (differences are durations).
double now_seconds();

}  // namespace fanion::app::train
