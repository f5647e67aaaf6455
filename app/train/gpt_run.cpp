#include "train/gpt_run.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "fanion/optim/fanion.h"
#include "train/checkpoint.h"

namespace fanion::app::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

/// Batch `step` of a run: random windows of context + 1 tokens, a pure function of
/// (seed, step) so that a resumed run sees the same batches as an uninterrupted one.
std::pair<at::Tensor, at::Tensor> train_batch(const at::Tensor& tokens, int64_t batch,
                                              int64_t context, uint64_t seed, int64_t step) {
  auto gen = at::detail::createCPUGenerator(seed * 1000003ULL + static_cast<uint64_t>(step));
  const int64_t span = tokens.size(0) - context - 1;
  const at::Tensor starts = at::randint(0, span + 1, {batch, 1}, gen, at::kLong);
  const at::Tensor idx = starts + at::arange(context + 1, at::kLong).unsqueeze(0);
  const at::Tensor w =
      tokens.index({idx.to(tokens.device()).reshape({-1})}).view({batch, context + 1});
  return {w.narrow(1, 0, context), w.narrow(1, 1, context)};
}

/// Mean loss over evenly spaced validation windows (the same every time).
double val_loss(models::Gpt& model, const at::Tensor& val, int64_t batch, int64_t batches,
                int64_t context) {
  torch::NoGradGuard no_grad;
  const int64_t span = val.size(0) - context - 1;
  const int64_t windows = batch * batches;
  double sum = 0.0;
  for (int64_t b = 0; b < batches; ++b) {
    const at::Tensor starts =
        (at::arange(b * batch, (b + 1) * batch, at::kDouble) * (double(span) / double(windows)))
            .to(at::kLong)
            .unsqueeze(1);
    const at::Tensor idx = starts + at::arange(context + 1, at::kLong).unsqueeze(0);
    const at::Tensor w = val.index({idx.to(val.device()).reshape({-1})}).view({batch, context + 1});
    sum += model->loss(w.narrow(1, 0, context), w.narrow(1, 1, context)).item<double>();
  }
  return sum / double(batches);
}

double lr_factor(const GptTrainConfig& c, int64_t step) {
  if (step < c.warmup_steps) return double(step + 1) / double(c.warmup_steps);
  const double span = std::max<int64_t>(1, c.steps - c.warmup_steps);
  const double t = std::min(1.0, double(step - c.warmup_steps) / span);
  return c.min_lr_factor + (1.0 - c.min_lr_factor) * 0.5 * (1.0 + std::cos(kPi * t));
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

/// What must match for a checkpoint to be resumed by this run: every option that changes the
/// curve, and the data's identity (its tokens' hash: text, --max-chars, --val-fraction and the
/// tokenizer all show there; `data_source` names them).
Fingerprint fingerprint(const GptTrainConfig& c, const TokenData& data, const OptimizerChoice& o,
                        uint64_t seed) {
  const auto& m = c.model;
  uint64_t h = fnv1a64(data.train.data_ptr(), size_t(data.train.nbytes()));
  h = fnv1a64(data.val.data_ptr(), size_t(data.val.nbytes()), h);
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(h));
  Fingerprint f;
  f.add("model", "gpt")
      .add("vocab", std::to_string(m.vocab_size))
      .add("context", std::to_string(m.context))
      .add("d_model", std::to_string(m.d_model))
      .add("layers", std::to_string(m.n_layer))
      .add("heads", std::to_string(m.n_head))
      .add("batch_size", std::to_string(c.batch_size))
      .add("steps", std::to_string(c.steps))
      .add("warmup", std::to_string(c.warmup_steps))
      .add("min_lr_factor", num(c.min_lr_factor))
      .add("adamw_lr", num(c.adamw_lr))
      .add("grad_clip", num(c.grad_clip))
      .add("eval_every", std::to_string(c.eval_every))
      .add("eval_batches", std::to_string(c.eval_batches))
      .add("optimizer", o.label())
      .add("seed", std::to_string(seed))
      .add("data", c.data_source)
      .add("tokens", std::to_string(data.train.numel()) + " train + " +
                         std::to_string(data.val.numel()) + " val, hash " + hash);
  return f;
}

at::Tensor curve_tensor(const std::vector<std::pair<int64_t, double>>& curve) {
  at::Tensor t = at::empty({int64_t(curve.size()), 2}, at::kDouble);
  for (size_t i = 0; i < curve.size(); ++i) {
    t[i][0] = double(curve[i].first);
    t[i][1] = curve[i].second;
  }
  return t;
}

std::vector<std::pair<int64_t, double>> curve_from(const at::Tensor& t) {
  std::vector<std::pair<int64_t, double>> out;
  for (int64_t i = 0; i < t.size(0); ++i)
    out.emplace_back(int64_t(t[i][0].item<double>()), t[i][1].item<double>());
  return out;
}

json::Value curve_json(const std::vector<std::pair<int64_t, double>>& curve) {
  json::Value a = json::Value::array();
  for (const auto& [s, v] : curve) a.push_back(json::Value::array().push_back(s).push_back(v));
  return a;
}

}  // namespace

TokenData split_tokens(const std::vector<int64_t>& ids, double val_fraction) {
  if (!(val_fraction > 0 && val_fraction < 1))
    throw std::invalid_argument("gpt: validation fraction must be in (0, 1), got " +
                                std::to_string(val_fraction));
  const at::Tensor all = at::tensor(ids, at::kLong);
  const int64_t n_val = static_cast<int64_t>(double(all.size(0)) * val_fraction);
  TokenData d;
  d.train = all.narrow(0, 0, all.size(0) - n_val).clone();
  d.val = all.narrow(0, all.size(0) - n_val, n_val).clone();
  return d;
}

GptRunResult run_gpt(const GptTrainConfig& c, const TokenData& data, const OptimizerChoice& choice,
                     uint64_t seed, const std::function<void(const std::string&)>& progress) {
  const double t0 = now_seconds();
  c.model.validate();
  const int64_t T = c.model.context;
  for (const auto& [name, t] :
       {std::pair{"training", data.train}, std::pair{"validation", data.val}}) {
    if (t.size(0) < T + 2)
      throw std::invalid_argument(std::string("gpt: the ") + name + " text has " +
                                  std::to_string(t.size(0)) + " tokens, fewer than context + 2 (" +
                                  std::to_string(T + 2) + ")");
  }
  const at::Tensor train = data.train.to(c.device), val = data.val.to(c.device);

  torch::manual_seed(seed);
  models::Gpt model(c.model);
  model->to(at::Device(c.device));

  // Hidden matrices: the chosen member of the family with Muon's shape scale (the paper's GPT
  // runs); the rest: the built-in AdamW (group lr = adamw_lr).
  optim::NormOptimizerOptions hidden = choice.options();
  hidden.shape_scale(optim::ShapeScale::kMuon);
  optim::NormOptimizerOptions rest = hidden;
  rest.use_adamw(true).lr(c.adamw_lr);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(model->hidden_matrices(),
                      std::make_unique<optim::NormOptimizerOptions>(hidden));
  groups.emplace_back(model->other_parameters(),
                      std::make_unique<optim::NormOptimizerOptions>(rest));
  optim::NormOptimizer opt(std::move(groups), hidden);
  LrSchedule schedule(opt);

  GptRunResult r;
  r.optimizer = choice;
  r.seed = seed;
  int64_t start = 0;
  const Fingerprint fp = fingerprint(c, data, choice, seed);
  if (!c.resume_path.empty()) {
    read_checkpoint(c.resume_path, fp, [&](torch::serialize::InputArchive& in) {
      torch::serialize::InputArchive m, o;
      at::Tensor step_t, train_t, val_t;
      in.read("step", step_t);
      in.read("train_loss", train_t);
      in.read("val_loss", val_t);
      start = step_t.item<int64_t>();
      if (start < 0 || start > c.steps || train_t.dim() != 2 || train_t.size(0) != start ||
          val_t.dim() != 2)
        throw std::runtime_error("its step " + std::to_string(start) + " is not in [0, " +
                                 std::to_string(c.steps) + "] or does not match its curves");
      in.read("model", m);
      in.read("optimizer", o);
      model->load(m);
      opt.load(o);
      r.train_loss = curve_from(train_t);
      r.val_loss = curve_from(val_t);
    });
  }
  auto save = [&](int64_t step) {
    write_checkpoint(c.checkpoint_path, fp, [&](torch::serialize::OutputArchive& out) {
      torch::serialize::OutputArchive m, o;
      model->save(m);
      opt.save(o);
      out.write("model", m);
      out.write("optimizer", o);
      out.write("step", at::tensor(step, at::kLong));
      out.write("train_loss", curve_tensor(r.train_loss));
      out.write("val_loss", curve_tensor(r.val_loss));
    });
  };

  const int64_t end = c.stop_after > 0 ? std::min(c.steps, start + c.stop_after) : c.steps;
  int64_t step = start;
  double tokens = 0.0;
  for (; step < end; ++step) {
    const double factor = lr_factor(c, step);
    schedule.set_factor(factor);
    auto [x, y] = train_batch(train, c.batch_size, T, seed, step);
    const at::Tensor loss = model->loss(x, y);
    opt.zero_grad();
    loss.backward();
    if (c.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), c.grad_clip);
    const double l = loss.item<double>();
    if (!std::isfinite(l)) {
      r.diverged = true;
      r.train_loss.emplace_back(step, l);
      break;
    }
    opt.step();
    r.train_loss.emplace_back(step, l);
    tokens += double(c.batch_size * T);
    const bool last = step + 1 == c.steps;
    if ((c.eval_every > 0 && (step + 1) % c.eval_every == 0) || last)
      r.val_loss.emplace_back(step + 1, val_loss(model, val, c.batch_size, c.eval_batches, T));
    if (!c.checkpoint_path.empty() &&
        ((c.checkpoint_every > 0 && (step + 1) % c.checkpoint_every == 0) || step + 1 == end))
      save(step + 1);
    if (progress) {
      const double el = now_seconds() - t0;
      char val[32] = "";
      if (!r.val_loss.empty())
        std::snprintf(val, sizeof val, " val %.4f", r.val_loss.back().second);
      char buf[200];
      std::snprintf(
          buf, sizeof buf, "step %lld/%lld loss %.4f%s  %.0f tok/s  %s left", (long long)step + 1,
          (long long)c.steps, l, val, tokens / std::max(el, 1e-9),
          format_duration(el / double(step + 1 - start) * double(end - step - 1)).c_str());
      progress(buf);
    }
  }
  r.steps = step;
  r.seconds = now_seconds() - t0;
  r.tokens_per_second = tokens / std::max(r.seconds, 1e-9);
  r.final_val_loss = r.val_loss.empty() || r.diverged ? std::nan("") : r.val_loss.back().second;
  r.best_val_loss = std::nan("");
  for (const auto& [s, v] : r.val_loss)
    if (std::isnan(r.best_val_loss) || v < r.best_val_loss) r.best_val_loss = v;
  return r;
}

json::Value GptRunResult::to_json() const {
  return json::Value::object()
      .set("optimizer", optimizer.to_json())
      .set("seed", seed)
      .set("steps", steps)
      .set("final_val_loss", final_val_loss)
      .set("best_val_loss", best_val_loss)
      .set("diverged", diverged)
      .set("seconds", seconds)
      .set("tokens_per_second", tokens_per_second)
      .set("train_loss", curve_json(train_loss))
      .set("val_loss", curve_json(val_loss));
}

}  // namespace fanion::app::train
