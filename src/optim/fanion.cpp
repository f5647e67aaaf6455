#include "fanion/optim/fanion.h"

#include <ATen/ATen.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "fanion/matrix.h"
#include "fanion/names.h"
#include "fanion/solvers/polar.h"

namespace fanion::optim {
namespace {

template <typename T>
[[noreturn]] void bad_option(const char* name, T value, const char* rule) {
  std::ostringstream os;
  os << "fanion::optim::NormOptimizer: invalid option " << name << " = " << value << " (" << rule
     << ")";
  throw std::invalid_argument(os.str());
}

std::string param_name(size_t group, size_t index, const at::Tensor& p) {
  return "group " + std::to_string(group) + ", param " + std::to_string(index) + " " +
         shape_string(p);
}

// State is keyed by the parameter's TensorImpl, as torch::optim does: LibTorch 1.x keys by
// the address as a string, 2.x by the address itself.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <typename Key = StateKey>  // a template, so that the branch not taken is discarded
Key state_key(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    return std::to_string(reinterpret_cast<std::uintptr_t>(p.unsafeGetTensorImpl()));
  } else {
    return p.unsafeGetTensorImpl();
  }
}

bool goes_to_adamw(const NormOptimizerOptions& o, const at::Tensor& p) {
  return o.use_adamw() || p.dim() < 2;
}

void adamw_update(const NormOptimizerOptions& o, double lr, const at::Tensor& p,
                  const at::Tensor& g, NormOptimizerParamState& s) {
  if (!s.exp_avg().defined()) {
    s.exp_avg(at::zeros_like(p));
    s.exp_avg_sq(at::zeros_like(p));
  }
  s.step(s.step() + 1);
  const double b1 = o.adamw_beta1(), b2 = o.adamw_beta2();
  p.mul_(1.0 - lr * o.adamw_weight_decay());
  s.exp_avg().mul_(b1).add_(g, 1.0 - b1);
  s.exp_avg_sq().mul_(b2).addcmul_(g, g, 1.0 - b2);
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(s.step()));
  const double bias2 = 1.0 - std::pow(b2, static_cast<double>(s.step()));
  auto denom = (s.exp_avg_sq().sqrt() / std::sqrt(bias2)).add_(o.adamw_eps());
  p.addcdiv_(s.exp_avg(), denom, -lr / bias1);
}

bool is_batch(const NormOptimizerOptions& o, const at::Tensor& p) {
  return o.batched() && p.dim() >= 3;
}

/// batched: d of each matrix of M over its last two dimensions. A one-term Muon direction is
/// one batched polar factor of the stack; any other goes matrix by matrix, the warm-start bases
/// of matrix i in state.bases[i T, (i + 1) T) for T terms (a flat list, as Python keeps it).
at::Tensor batched_direction(const NormOptimizerOptions& o, const at::Tensor& M,
                             DirectionState& state) {
  const Direction& direction = o.direction();
  const at::Tensor stack = M.reshape({-1, M.size(-2), M.size(-1)});
  const int64_t count = stack.size(0);
  const auto& terms = direction.terms();
  if (terms.size() == 1 && terms[0].kind == DirectionKind::kMuon) {
    const at::ScalarType cdt =
        o.compute_dtype().value_or(M.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
    at::Tensor Q = polar_factor(stack.to(cdt), terms[0].polar).Q;
    if (terms[0].weight != 1.0) Q = Q * terms[0].weight;
    state.bases.assign(static_cast<size_t>(count), at::Tensor());
    return Q.reshape(M.sizes()).to(M.scalar_type());
  }
  const size_t T = terms.size();
  const bool warm = state.bases.size() == T * static_cast<size_t>(count);
  std::vector<at::Tensor> out, bases;
  for (int64_t i = 0; i < count; ++i) {
    DirectionState one;
    if (warm) one.bases.assign(state.bases.begin() + i * T, state.bases.begin() + (i + 1) * T);
    out.push_back(direction.apply(stack[i], &one, o.compute_dtype()));
    one.bases.resize(T);
    bases.insert(bases.end(), one.bases.begin(), one.bases.end());
    state.fallbacks += one.fallbacks;
  }
  state.bases = std::move(bases);
  return at::stack(out).reshape(M.sizes());
}

void fanion_update(const NormOptimizerOptions& o, const at::Tensor& p, const at::Tensor& g,
                   NormOptimizerParamState& s) {
  at::Tensor buffer = s.momentum_buffer();
  const at::Tensor M = effective_gradient(o.momentum_kind(), o.momentum(), g, buffer);
  s.momentum_buffer(buffer);
  if (o.normalize_weights()) {
    // airbench: w <- w * sqrt(rows) / ||w||_F before the step; a zero weight stays zero.
    p.mul_(std::sqrt(static_cast<double>(p.size(0))) /
           p.norm().clamp_min(std::numeric_limits<float>::min()));
  }
  const bool batch = is_batch(o, p);
  const at::Tensor d = batch ? batched_direction(o, M, s.direction_state())
                             : o.direction().apply(M, &s.direction_state(), o.compute_dtype());
  if (o.weight_decay() != 0.0) p.mul_(1.0 - o.lr() * o.weight_decay());
  // A batch is scaled by the shape of one of its matrices.
  const at::Tensor shape = batch ? p.reshape({-1, p.size(-2), p.size(-1)})[0] : p;
  p.add_(d, -o.lr() * shape_scale_factor(o.shape_scale(), shape));
  s.step(s.step() + 1);
}

}  // namespace

void NormOptimizerOptions::validate() const {
  if (!(lr() >= 0.0) || !std::isfinite(lr())) bad_option("lr", lr(), "must be finite and >= 0");
  if (!(momentum() >= 0.0 && momentum() < 1.0))
    bad_option("momentum", momentum(), "must be in [0, 1)");
  if (!(weight_decay() >= 0.0) || !std::isfinite(weight_decay())) {
    bad_option("weight_decay", weight_decay(), "must be finite and >= 0");
  }
  if (!(adamw_lr() >= 0.0) || !std::isfinite(adamw_lr())) {
    bad_option("adamw_lr", adamw_lr(), "must be finite and >= 0");
  }
  if (!(adamw_beta1() >= 0.0 && adamw_beta1() < 1.0)) {
    bad_option("adamw_beta1", adamw_beta1(), "must be in [0, 1)");
  }
  if (!(adamw_beta2() >= 0.0 && adamw_beta2() < 1.0)) {
    bad_option("adamw_beta2", adamw_beta2(), "must be in [0, 1)");
  }
  if (!(adamw_eps() >= 0.0)) bad_option("adamw_eps", adamw_eps(), "must be >= 0");
  if (!(adamw_weight_decay() >= 0.0) || !std::isfinite(adamw_weight_decay())) {
    bad_option("adamw_weight_decay", adamw_weight_decay(), "must be finite and >= 0");
  }
  if (batched() && normalize_weights()) {
    throw std::invalid_argument(
        "fanion::optim::NormOptimizer: invalid option normalize_weights = true with batched = true "
        "(the weight normalization is defined for one matrix)");
  }
  try {
    direction().validate();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(
        std::string("fanion::optim::NormOptimizer: invalid option direction: ") + e.what());
  }
}

at::Tensor effective_gradient(MomentumKind kind, double beta, const at::Tensor& grad,
                              at::Tensor& buffer) {
  switch (kind) {
    case MomentumKind::kNone:
      return grad;
    case MomentumKind::kHeavyBall:
    case MomentumKind::kNesterov:
      if (!buffer.defined()) {
        buffer = grad.clone();  // = beta * 0 + g, as torch.optim.SGD
      } else {
        buffer.mul_(beta).add_(grad);
      }
      return kind == MomentumKind::kHeavyBall ? buffer : grad.add(buffer, beta);
    case MomentumKind::kNesterovEq4:
      if (!buffer.defined()) buffer = at::zeros_like(grad);
      buffer.mul_(beta).add_(grad, 1.0 - beta);
      return grad.add(buffer, beta);
    case MomentumKind::kNesterovEma:
      // torch.optim.Muon's operations, so that the two agree bit for bit.
      if (!buffer.defined()) buffer = at::zeros_like(grad);
      buffer.lerp_(grad, 1.0 - beta);
      return grad.lerp(buffer, beta);
  }
  throw std::invalid_argument("fanion: unknown momentum kind");
}

const std::vector<MomentumKind>& all_momentum_kinds() {
  static const std::vector<MomentumKind> kinds = {
      MomentumKind::kNone, MomentumKind::kHeavyBall, MomentumKind::kNesterov,
      MomentumKind::kNesterovEq4, MomentumKind::kNesterovEma};
  return kinds;
}

std::string to_string(MomentumKind kind) {
  switch (kind) {
    case MomentumKind::kNone:
      return "none";
    case MomentumKind::kHeavyBall:
      return "heavy_ball";
    case MomentumKind::kNesterov:
      return "nesterov";
    case MomentumKind::kNesterovEq4:
      return "nesterov_eq4";
    case MomentumKind::kNesterovEma:
      return "nesterov_ema";
  }
  return "?";
}

MomentumKind momentum_kind_from_string(const std::string& name) {
  const std::string key = normalize_name(name);
  std::string known;
  for (MomentumKind k : all_momentum_kinds()) {
    if (to_string(k) == key) return k;
    known += (known.empty() ? "" : ", ") + to_string(k);
  }
  throw std::invalid_argument("unknown momentum kind '" + name + "' (known: " + known + ")");
}

std::string to_string(ShapeScale rule) {
  switch (rule) {
    case ShapeScale::kNone:
      return "none";
    case ShapeScale::kMuon:
      return "muon";
    case ShapeScale::kSpectral:
      return "spectral";
    case ShapeScale::kMatchRmsAdamW:
      return "match_rms_adamw";
  }
  return "?";
}

ShapeScale shape_scale_from_string(const std::string& name) {
  for (auto k :
       {ShapeScale::kNone, ShapeScale::kMuon, ShapeScale::kSpectral, ShapeScale::kMatchRmsAdamW}) {
    if (to_string(k) == normalize_name(name)) return k;
  }
  throw std::invalid_argument("fanion: unknown shape_scale '" + name +
                              "' (known: none, muon, spectral, match_rms_adamw)");
}

std::string to_string(NonFinitePolicy policy) {
  return policy == NonFinitePolicy::kSkip ? "skip" : "error";
}

NonFinitePolicy nonfinite_policy_from_string(const std::string& name) {
  const std::string key = normalize_name(name);
  if (key == "error") return NonFinitePolicy::kError;
  if (key == "skip") return NonFinitePolicy::kSkip;
  throw std::invalid_argument("fanion: unknown on_nonfinite '" + name + "' (known: error, skip)");
}

double shape_scale_factor(ShapeScale rule, const at::Tensor& param) {
  const at::Tensor mat = as_matrix(param);
  const double m = static_cast<double>(mat.size(0)), n = static_cast<double>(mat.size(1));
  switch (rule) {
    case ShapeScale::kNone:
      return 1.0;
    case ShapeScale::kMuon:
      return std::sqrt(std::max(1.0, m / n));
    case ShapeScale::kSpectral:
      return std::sqrt(m / n);
    case ShapeScale::kMatchRmsAdamW:
      return 0.2 * std::sqrt(std::max(m, n));
  }
  return 1.0;
}

NormOptimizer::NormOptimizer(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                             NormOptimizerOptions defaults)
    : torch::optim::Optimizer(std::vector<torch::optim::OptimizerParamGroup>{},
                              std::make_unique<NormOptimizerOptions>(defaults)) {
  defaults.validate();
  for (const auto& group : param_groups) add_param_group(group);
}

void NormOptimizer::add_param_group(const torch::optim::OptimizerParamGroup& param_group) {
  torch::optim::Optimizer::add_param_group(param_group);
  // LibTorch 2.x merges a group's options with the defaults field by field for its own option
  // types only; for any other type it keeps the defaults and drops the group's options. A
  // group's options are the user's: keep them whole, as LibTorch 1.x did.
  if (param_group.has_options()) {
    param_groups_.back().set_options(param_group.options().clone());
  }
  try {
    check_group(param_groups_.size() - 1);  // the others were checked when they were added
  } catch (...) {
    param_groups_.pop_back();  // a rejected group leaves the optimizer as it was
    throw;
  }
  check_changed_groups();  // records it as checked (the others are unchanged: no work)
}

NormOptimizer::NormOptimizer(std::vector<at::Tensor> params, NormOptimizerOptions defaults)
    : NormOptimizer(
          std::vector<torch::optim::OptimizerParamGroup>{
              torch::optim::OptimizerParamGroup(std::move(params))},
          std::move(defaults)) {}

namespace {

// Equality of everything validate() looks at, to tell a changed group from an unchanged one.
// Every option of NormOptimizerOptions (and of the solvers' options) must appear here.
bool same(const NewtonSchulzSchedule& a, const NewtonSchulzSchedule& b) {
  if (a.name != b.name || a.slack != b.slack || a.steps.size() != b.steps.size()) return false;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    const auto &x = a.steps[i], &y = b.steps[i];
    if (x.a != y.a || x.b != y.b || x.c != y.c) return false;
  }
  return true;
}

bool same(const PolarOptions& a, const PolarOptions& b) {
  return a.method == b.method && same(a.schedule, b.schedule) && a.steps == b.steps &&
         a.gram_normalization == b.gram_normalization && a.tol == b.tol && a.dtype == b.dtype &&
         a.rel_rank_tol == b.rel_rank_tol && a.fp32_products == b.fp32_products;
}

bool same(const TopKOptions& a, const TopKOptions& b) {
  return a.method == b.method && a.tol == b.tol && a.max_passes == b.max_passes &&
         a.block_size == b.block_size && a.max_basis == b.max_basis && a.seed == b.seed &&
         a.rel_rank_tol == b.rel_rank_tol;
}

bool same(const Direction& a, const Direction& b) {
  if (a.terms().size() != b.terms().size()) return false;
  for (size_t i = 0; i < a.terms().size(); ++i) {
    const DirectionTerm &x = a.terms()[i], &y = b.terms()[i];
    if (x.kind != y.kind || x.weight != y.weight || x.k != y.k || x.p != y.p ||
        !same(x.polar, y.polar) || !same(x.top_k, y.top_k))
      return false;
  }
  return true;
}

bool same(const NormOptimizerOptions& a, const NormOptimizerOptions& b) {
  return a.lr() == b.lr() && same(a.direction(), b.direction()) && a.momentum() == b.momentum() &&
         a.momentum_kind() == b.momentum_kind() && a.weight_decay() == b.weight_decay() &&
         a.shape_scale() == b.shape_scale() && a.normalize_weights() == b.normalize_weights() &&
         a.compute_dtype() == b.compute_dtype() && a.on_nonfinite() == b.on_nonfinite() &&
         a.batched() == b.batched() && a.use_adamw() == b.use_adamw() &&
         a.adamw_for_non_matrix() == b.adamw_for_non_matrix() && a.adamw_lr() == b.adamw_lr() &&
         a.adamw_beta1() == b.adamw_beta1() && a.adamw_beta2() == b.adamw_beta2() &&
         a.adamw_eps() == b.adamw_eps() && a.adamw_weight_decay() == b.adamw_weight_decay();
}

}  // namespace

void NormOptimizer::check_changed_groups() {
  checked_.resize(std::min(checked_.size(), param_groups_.size()));
  for (size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& o = static_cast<const NormOptimizerOptions&>(param_groups_[gi].options());
    std::vector<const void*> params;
    for (const auto& p : param_groups_[gi].params()) params.push_back(p.unsafeGetTensorImpl());
    if (gi < checked_.size() && checked_[gi].params == params && same(checked_[gi].options, o))
      continue;
    check_group(gi);
    Checked now{o, std::move(params)};
    if (gi < checked_.size()) {
      checked_[gi] = std::move(now);
    } else {
      checked_.push_back(std::move(now));
    }
  }
}

void NormOptimizer::check_group(size_t gi) const {
  const auto& o = static_cast<const NormOptimizerOptions&>(param_groups_[gi].options());
  o.validate();
  const auto& params = param_groups_[gi].params();
  for (size_t pi = 0; pi < params.size(); ++pi) {
    const auto& p = params[pi];
    if (p.is_complex()) {
      throw std::invalid_argument("fanion::optim::NormOptimizer: " + param_name(gi, pi, p) +
                                  " is complex; complex parameters are not supported");
    }
    if (p.dim() == 2 && o.batched() && !o.use_adamw()) {
      throw std::invalid_argument("fanion::optim::NormOptimizer: " + param_name(gi, pi, p) +
                                  " is a matrix, not a batch of matrices, and its group has "
                                  "batched=true; put it in a group with batched=false");
    }
    if (p.dim() < 2 && !o.use_adamw() && !o.adamw_for_non_matrix()) {
      throw std::invalid_argument(
          "fanion::optim::NormOptimizer: " + param_name(gi, pi, p) +
          " is not a matrix and adamw_for_non_matrix is false; put it in a use_adamw group");
    }
  }
}

NormOptimizerParamState* NormOptimizer::find_state(const at::Tensor& p) {
  auto it = state_.find(state_key(p));
  return it == state_.end() ? nullptr : static_cast<NormOptimizerParamState*>(it->second.get());
}

NormOptimizerParamState& NormOptimizer::state_for(const at::Tensor& p) {
  const auto key = state_key(p);
  auto it = state_.find(key);
  if (it == state_.end()) {
    it = state_.emplace(key, std::make_unique<NormOptimizerParamState>()).first;
  }
  return static_cast<NormOptimizerParamState&>(*it->second);
}

at::Tensor NormOptimizer::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  check_changed_groups();  // new groups, and options changed since the last step
  last_skipped_.clear();

  // Pass 1: check every gradient before anything changes, so a refused step loses nothing.
  struct Work {
    const NormOptimizerOptions* options;
    at::Tensor param;
  };
  std::vector<Work> work;
  for (size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const auto& o = static_cast<const NormOptimizerOptions&>(param_groups_[gi].options());
    const auto& params = param_groups_[gi].params();
    for (size_t pi = 0; pi < params.size(); ++pi) {
      const auto& p = params[pi];
      const auto& g = p.grad();
      if (!g.defined()) continue;
      if (g.is_sparse()) {
        throw std::invalid_argument("fanion::optim::NormOptimizer: " + param_name(gi, pi, p) +
                                    " has a sparse gradient; sparse gradients are not supported");
      }
      if (g.is_complex()) {
        throw std::invalid_argument("fanion::optim::NormOptimizer: " + param_name(gi, pi, p) +
                                    " has a complex gradient; complex gradients are not supported");
      }
      if (!at::isfinite(g).all().item<bool>()) {
        if (o.on_nonfinite() == NonFinitePolicy::kSkip) {
          last_skipped_.push_back(param_name(gi, pi, p));
          continue;
        }
        throw std::invalid_argument(
            "fanion::optim::NormOptimizer: non-finite (NaN or Inf) gradient in " +
            param_name(gi, pi, p) + "; the step was refused and nothing was changed");
      }
      work.push_back({&o, p});
    }
  }

  // Pass 2: update.
  for (const auto& w : work) {
    const auto& o = *w.options;
    const at::Tensor& p = w.param;
    auto& s = state_for(p);
    if (goes_to_adamw(o, p)) {
      adamw_update(o, o.use_adamw() ? o.lr() : o.adamw_lr(), p, p.grad(), s);
    } else {
      fanion_update(o, p, p.grad(), s);
    }
  }
  return loss;
}

void NormOptimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write("fanion/format", c10::IValue(static_cast<int64_t>(1)));
  archive.write("fanion/groups", c10::IValue(static_cast<int64_t>(param_groups_.size())));
  int64_t index = 0;
  for (size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const std::string g = "fanion/group/" + std::to_string(gi) + "/";
    archive.write(g + "lr", c10::IValue(param_groups_[gi].options().get_lr()));
    archive.write(g + "size", c10::IValue(static_cast<int64_t>(param_groups_[gi].params().size())));
    for (const auto& p : param_groups_[gi].params()) {
      const std::string k = "fanion/param/" + std::to_string(index++) + "/";
      auto it = state_.find(state_key(p));
      if (it == state_.end()) continue;
      const auto& s = static_cast<const NormOptimizerParamState&>(*it->second);
      archive.write(k + "step", c10::IValue(s.step()));
      if (s.momentum_buffer().defined())
        archive.write(k + "momentum_buffer", s.momentum_buffer(), true);
      if (s.exp_avg().defined()) archive.write(k + "exp_avg", s.exp_avg(), true);
      if (s.exp_avg_sq().defined()) archive.write(k + "exp_avg_sq", s.exp_avg_sq(), true);
      const auto& bases = s.direction_state().bases;
      archive.write(k + "bases", c10::IValue(static_cast<int64_t>(bases.size())));
      for (size_t j = 0; j < bases.size(); ++j) {
        if (bases[j].defined()) archive.write(k + "basis/" + std::to_string(j), bases[j], true);
      }
    }
  }
}

void NormOptimizer::load(torch::serialize::InputArchive& archive) {
  c10::IValue v;
  if (!archive.try_read("fanion/format", v)) {
    throw std::invalid_argument(
        "fanion::optim::NormOptimizer::load: not a Fanion optimizer archive");
  }
  archive.read("fanion/groups", v);
  if (v.toInt() != static_cast<int64_t>(param_groups_.size())) {
    throw std::invalid_argument("fanion::optim::NormOptimizer::load: archive has " +
                                std::to_string(v.toInt()) + " param groups, optimizer has " +
                                std::to_string(param_groups_.size()));
  }
  // Read everything first, then commit: a failed load leaves the optimizer as it was.
  std::vector<double> lrs;
  std::vector<std::pair<at::Tensor, std::unique_ptr<NormOptimizerParamState>>> loaded;
  int64_t index = 0;
  for (size_t gi = 0; gi < param_groups_.size(); ++gi) {
    const std::string g = "fanion/group/" + std::to_string(gi) + "/";
    archive.read(g + "size", v);
    if (v.toInt() != static_cast<int64_t>(param_groups_[gi].params().size())) {
      throw std::invalid_argument("fanion::optim::NormOptimizer::load: group " +
                                  std::to_string(gi) + " has " + std::to_string(v.toInt()) +
                                  " params in the archive, " +
                                  std::to_string(param_groups_[gi].params().size()) + " here");
    }
    archive.read(g + "lr", v);
    lrs.push_back(v.toDouble());
    for (const auto& p : param_groups_[gi].params()) {
      const std::string k = "fanion/param/" + std::to_string(index++) + "/";
      if (!archive.try_read(k + "step", v)) continue;
      auto s = std::make_unique<NormOptimizerParamState>();
      s->step(v.toInt());
      at::Tensor t;
      if (archive.try_read(k + "momentum_buffer", t, true)) s->momentum_buffer(t);
      t = at::Tensor();
      if (archive.try_read(k + "exp_avg", t, true)) s->exp_avg(t);
      t = at::Tensor();
      if (archive.try_read(k + "exp_avg_sq", t, true)) s->exp_avg_sq(t);
      archive.read(k + "bases", v);
      s->direction_state().bases.resize(v.toInt());
      for (int64_t j = 0; j < v.toInt(); ++j) {
        at::Tensor b;
        if (archive.try_read(k + "basis/" + std::to_string(j), b, true)) {
          s->direction_state().bases[j] = b;
        }
      }
      for (const at::Tensor* buf : {&s->momentum_buffer(), &s->exp_avg()}) {
        if (buf->defined() && !buf->sizes().equals(p.sizes())) {
          throw std::invalid_argument("fanion::optim::NormOptimizer::load: state of param " +
                                      std::to_string(index - 1) + " has shape " +
                                      shape_string(*buf) + ", parameter has " + shape_string(p));
        }
      }
      loaded.emplace_back(p, std::move(s));
    }
  }
  for (size_t gi = 0; gi < param_groups_.size(); ++gi) param_groups_[gi].options().set_lr(lrs[gi]);
  state_.clear();
  for (auto& [p, s] : loaded) {
    auto& buf = s->momentum_buffer();
    if (buf.defined()) s->momentum_buffer(buf.to(p.device()));
    if (s->exp_avg().defined()) {
      s->exp_avg(s->exp_avg().to(p.device()));
      s->exp_avg_sq(s->exp_avg_sq().to(p.device()));
    }
    state_[state_key(p)] = std::move(s);
  }
}

}  // namespace fanion::optim
