#pragma once
// The Fanion-family optimizer (docs/design.md §1–§2, paper eq. 4):
//
//   B <- momentum buffer update,  M <- effective gradient (MomentumKind),
//   X <- X * (1 - lr * weight_decay) - lr * scale(m, n) * d(M)
//
// d is any fanion::Direction (Muon, Neon, Fanion-k, F-/S- combinations, ...). Parameters
// that are not matrices (rank < 2), and whole groups marked use_adamw, are updated by an
// auxiliary AdamW inside the same optimizer, as users of Muon expect.
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <optional>
#include <string>
#include <vector>

#include "fanion/directions.h"

namespace fanion::optim {

/// How the effective gradient M is formed from the gradient g and the buffer B.
enum class MomentumKind {
  kNone,         ///< M = g
  kHeavyBall,    ///< B = beta B + g,        M = B
  kNesterov,     ///< B = beta B + g,        M = g + beta B   (PyTorch SGD nesterov=True, Muon)
  kNesterovEq4,  ///< B = beta B + (1-beta) g, M = g + beta B (the paper's eq. 4, literally)
  /// B = beta B + (1-beta) g,  M = (1-beta) g + beta B: torch.optim.Muon and Keller Jordan's
  /// Muon (both lerp). M is kNesterov's M times (1 - beta): the same scale-free directions.
  kNesterovEma,
};

/// "none", "heavy_ball", "nesterov", "nesterov_eq4", "nesterov_ema".
std::string to_string(MomentumKind kind);
/// The inverse of to_string; '-' may stand for '_' (the CLI's spelling). Throws
/// std::invalid_argument naming the bad value and the known names.
MomentumKind momentum_kind_from_string(const std::string& name);
/// Every MomentumKind, in declaration order.
const std::vector<MomentumKind>& all_momentum_kinds();

/// Factor applied to the whole direction of an m x n matrix (docs/design.md §2).
enum class ShapeScale {
  kNone,           ///< 1
  kMuon,           ///< sqrt(max(1, m / n)) (Keller Jordan's Muon, the paper's GPT runs)
  kSpectral,       ///< sqrt(m / n)
  kMatchRmsAdamW,  ///< 0.2 * sqrt(max(m, n))
};
/// "none", "muon", "spectral", "match_rms_adamw".
std::string to_string(ShapeScale rule);
/// The inverse of to_string; throws std::invalid_argument naming the value and the known names.
ShapeScale shape_scale_from_string(const std::string& name);

/// What a step does with a NaN/Inf gradient (docs/design.md §5).
enum class NonFinitePolicy {
  kError,  ///< refuse the whole step, naming the parameter; nothing is changed
  kSkip,   ///< leave that parameter and its state untouched, update the others
};
/// "error", "skip".
std::string to_string(NonFinitePolicy policy);
/// The inverse of to_string; throws std::invalid_argument naming the value and the known names.
NonFinitePolicy nonfinite_policy_from_string(const std::string& name);

struct NormOptimizerOptions : public torch::optim::OptimizerCloneableOptions<NormOptimizerOptions> {
  NormOptimizerOptions(double lr = 0.02) : lr_(lr) {}  // NOLINT: implicit like torch's options
  TORCH_ARG(double, lr) = 0.02;
  TORCH_ARG(Direction, direction) = Direction::muon();
  TORCH_ARG(double, momentum) = 0.95;
  TORCH_ARG(MomentumKind, momentum_kind) = MomentumKind::kNesterov;
  /// Decoupled: X <- X (1 - lr * weight_decay).
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(ShapeScale, shape_scale) = ShapeScale::kNone;
  /// Before each update rescale the weight to Frobenius norm sqrt(rows), as the paper's
  /// CIFAR-10 airbench runs do (Appendix F).
  TORCH_ARG(bool, normalize_weights) = false;
  /// Dtype the direction is computed in; nullopt: fp64 stays fp64, else fp32.
  TORCH_ARG(std::optional<at::ScalarType>, compute_dtype) = std::nullopt;
  TORCH_ARG(NonFinitePolicy, on_nonfinite) = NonFinitePolicy::kError;
  /// A parameter of rank >= 3 is a batch of matrices over its last two dimensions (experts,
  /// heads): one direction per matrix, shape_scale of one matrix; a one-term Muon direction
  /// is one batched polar factor. false: the (out, in * ...) matrix view, as for conv weights.
  /// A matrix (rank 2) in a batched group is an error; so is normalize_weights.
  TORCH_ARG(bool, batched) = false;

  // --- the auxiliary AdamW ---
  /// Every parameter of this group goes to AdamW with `lr` as its learning rate
  /// (embeddings, heads, gains: the user's choice, as with Muon's use_muon=False groups).
  TORCH_ARG(bool, use_adamw) = false;
  /// Parameters of rank < 2 in a Fanion group go to AdamW (with adamw_lr); when false they
  /// are rejected with an error naming them.
  TORCH_ARG(bool, adamw_for_non_matrix) = true;
  TORCH_ARG(double, adamw_lr) = 3e-4;
  TORCH_ARG(double, adamw_beta1) = 0.9;
  TORCH_ARG(double, adamw_beta2) = 0.95;
  TORCH_ARG(double, adamw_eps) = 1e-8;
  TORCH_ARG(double, adamw_weight_decay) = 0.0;

 public:
  double get_lr() const override { return lr(); }
  void set_lr(const double lr) override { this->lr(lr); }
  /// Throws std::invalid_argument with the option's name and value.
  void validate() const;
};

struct NormOptimizerParamState
    : public torch::optim::OptimizerCloneableParamState<NormOptimizerParamState> {
  TORCH_ARG(int64_t, step) = 0;
  TORCH_ARG(at::Tensor, momentum_buffer);  ///< Fanion parameters
  TORCH_ARG(at::Tensor, exp_avg);          ///< AdamW parameters
  TORCH_ARG(at::Tensor, exp_avg_sq);
  TORCH_ARG(DirectionState, direction_state);  ///< warm starts of iterative solvers
};

/// The effective gradient M for one step; updates `buffer` (created on first use).
/// Pure apart from the buffer it is handed: never touches `grad`.
at::Tensor effective_gradient(MomentumKind kind, double beta, const at::Tensor& grad,
                              at::Tensor& buffer);

/// The factor of ShapeScale for the matrix view of `param`.
double shape_scale_factor(ShapeScale rule, const at::Tensor& param);

class NormOptimizer : public torch::optim::Optimizer {
 public:
  explicit NormOptimizer(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                         NormOptimizerOptions defaults = {});
  explicit NormOptimizer(std::vector<at::Tensor> params, NormOptimizerOptions defaults = {});

  /// As torch::optim::Optimizer::add_param_group, keeping the group's options whole (LibTorch
  /// 2.x would replace options of a type it does not know by the defaults) and validating them.
  void add_param_group(const torch::optim::OptimizerParamGroup& param_group);

  at::Tensor step(LossClosure closure = nullptr) override;
  /// Saves every parameter's state by position, and each group's lr: load then step
  /// continues the uninterrupted trajectory bit for bit.
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  /// The state of parameter `p`, or null before its first step.
  NormOptimizerParamState* find_state(const at::Tensor& p);

  /// Names ("group g, param i [shape]") of parameters the last step skipped (kSkip policy).
  const std::vector<std::string>& last_skipped() const { return last_skipped_; }

 private:
  /// Validates the groups that are new or changed since their last validation (an lr set
  /// by a scheduler, a loaded archive): a step does not re-check an unchanged group.
  void check_changed_groups();
  void check_group(size_t gi) const;
  NormOptimizerParamState& state_for(const at::Tensor& p);
  std::vector<std::string> last_skipped_;
  /// Each group as it was when last validated: its options and its parameters.
  struct Checked {
    NormOptimizerOptions options;
    std::vector<const void*> params;
  };
  std::vector<Checked> checked_;
};

/// Earlier names of the optimizer and its options, kept as aliases. The family optimizer was
/// called Fanion, which is also the paper's name of one member (Fanion-k, fanion.Fanion in
/// Python); NormOptimizer is the name in both languages now.
using Fanion = NormOptimizer;
using FanionOptions = NormOptimizerOptions;
using FanionParamState = NormOptimizerParamState;

}  // namespace fanion::optim
