#include "train/cnn_run.h"

#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <cstdio>

#include "fanion/optim/fanion.h"

namespace fanion::app::train {
namespace {

json::Value norms_json(const MatrixNorms& n) {
  return json::Value::object()
      .set("frobenius", n.frobenius)
      .set("spectral", n.spectral)
      .set("nuclear", n.nuclear);
}

/// Random horizontal flips and shifts of up to `pad` pixels (reflect padding), per image.
at::Tensor augment(const at::Tensor& x, bool flip, int64_t pad) {
  at::Tensor out = x;
  if (flip) {
    const at::Tensor mask = (at::rand({x.size(0)}, x.options()) < 0.5).view({-1, 1, 1, 1});
    out = at::where(mask, out.flip({3}), out);
  }
  if (pad > 0) {
    const at::Tensor padded = at::reflection_pad2d(out, {pad, pad, pad, pad});
    const at::Tensor shifts = at::randint(0, 2 * pad + 1, {x.size(0), 2}, at::kLong);
    auto acc = shifts.accessor<int64_t, 2>();
    std::vector<at::Tensor> crops;
    crops.reserve(x.size(0));
    const int64_t h = x.size(2), w = x.size(3);
    for (int64_t i = 0; i < x.size(0); ++i)
      crops.push_back(padded[i].narrow(1, acc[i][0], h).narrow(2, acc[i][1], w));
    out = at::stack(crops);
  }
  return out;
}

}  // namespace

PreparedImages prepare_images(const data::TrainTest& d, int64_t train_size,
                              const std::string& device) {
  at::Tensor train = d.train.images;
  at::Tensor train_y = d.train.labels;
  if (train_size > 0 && train_size < train.size(0)) {
    train = train.narrow(0, 0, train_size);
    train_y = train_y.narrow(0, 0, train_size);
  }
  const at::Tensor xf = train.to(at::kFloat) / 255.0;
  const at::Tensor mean = xf.mean({0, 2, 3}, true);
  const at::Tensor std = xf.std({0, 2, 3}, true, true).clamp_min(1e-6);
  PreparedImages p;
  p.train_x = ((xf - mean) / std).to(device);
  p.test_x = ((d.test.images.to(at::kFloat) / 255.0 - mean) / std).to(device);
  p.train_y = train_y.to(device);
  p.test_y = d.test.labels.to(device);
  return p;
}

double accuracy(models::AirbenchCnn& model, const at::Tensor& x, const at::Tensor& y) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < x.size(0); i += 2000) {
    const int64_t n = std::min<int64_t>(2000, x.size(0) - i);
    const at::Tensor pred = model->forward(x.narrow(0, i, n)).argmax(1);
    correct += pred.eq(y.narrow(0, i, n)).sum().item<int64_t>();
  }
  model->train();
  return x.size(0) ? static_cast<double>(correct) / static_cast<double>(x.size(0)) : 0.0;
}

CnnRunResult run_cnn(const CnnTrainConfig& c, const PreparedImages& data,
                     const OptimizerChoice& choice, uint64_t seed,
                     const std::function<void(const std::string&)>& progress) {
  const double t0 = now_seconds();
  torch::manual_seed(seed);
  models::CnnConfig mc = c.model;
  mc.in_channels = data.train_x.size(1);
  mc.image_size = data.train_x.size(2);
  models::AirbenchCnn model(mc);
  model->to(at::Device(c.device));
  model->init_whiten(data.train_x.narrow(0, 0, std::min<int64_t>(5000, data.train_x.size(0))));

  // The Fanion family on the filters (Nesterov, per-step weight normalization: Table 5).
  optim::NormOptimizerOptions fo = choice.options();
  fo.normalize_weights(c.weight_norm);
  optim::NormOptimizer fanion_opt(model->filters(), fo);

  // airbench's SGD on the rest; its weight decay is coupled (scaled by lr), hence wd / lr.
  const double wd = c.weight_decay_per_example * static_cast<double>(c.batch_size);
  auto sgd_group = [&](std::vector<at::Tensor> params, double lr) {
    auto o = std::make_unique<torch::optim::SGDOptions>(lr);
    o->momentum(c.sgd_momentum).nesterov(true).weight_decay(wd / lr);
    return torch::optim::OptimizerParamGroup(std::move(params), std::move(o));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.push_back(sgd_group({model->whiten_bias()}, c.bias_lr));
  groups.push_back(sgd_group(model->norm_biases(), c.bias_lr));
  groups.push_back(sgd_group({model->head_weight()}, c.head_lr));
  torch::optim::SGD sgd(
      groups, torch::optim::SGDOptions(c.bias_lr).momentum(c.sgd_momentum).nesterov(true));
  LrSchedule fanion_lr(fanion_opt), sgd_lr(sgd);

  const int64_t n = data.train_x.size(0);
  const int64_t bs = std::min(c.batch_size, n);
  const int64_t steps_per_epoch = n / bs;  // drop the last partial batch, as airbench
  const int64_t total_steps = c.epochs * steps_per_epoch;
  const int64_t whiten_steps =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(c.whiten_bias_epochs * steps_per_epoch)));

  std::map<std::string, at::Tensor> watched;
  for (const auto& item : model->named_parameters()) {
    for (const auto& layer : c.grad_norm_layers)
      if (item.key() == layer + ".weight") watched[layer] = item.value();
  }
  for (const auto& layer : c.grad_norm_layers)
    if (!watched.count(layer))
      throw std::invalid_argument("cnn: no layer named '" + layer +
                                  "' for gradient norms (layer1..3 . conv1|conv2)");

  CnnRunResult r;
  r.optimizer = choice;
  r.seed = seed;
  const auto ce = torch::nn::functional::CrossEntropyFuncOptions()
                      .label_smoothing(c.label_smoothing)
                      .reduction(torch::kSum);
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    const at::Tensor perm =
        at::randperm(n, at::TensorOptions().dtype(at::kLong)).to(data.train_x.device());
    double loss_sum = 0.0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < steps_per_epoch; ++b, ++step) {
      const at::Tensor idx = perm.narrow(0, b * bs, bs);
      const at::Tensor x = augment(data.train_x.index_select(0, idx), c.flip, c.translate);
      const at::Tensor y = data.train_y.index_select(0, idx);
      const at::Tensor logits = model->forward(x);
      const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y, ce);
      fanion_opt.zero_grad();
      sgd.zero_grad();
      loss.backward();

      if (c.grad_norm_every > 0 && step % c.grad_norm_every == 0) {
        GradNormRecord g;
        g.step = step;
        for (const auto& [name, p] : watched) g.layers[name] = matrix_norms(p.grad());
        std::vector<MatrixNorms> all;
        for (const auto& f : model->filters()) all.push_back(matrix_norms(f.grad()));
        g.total = total_norms(all);
        r.grad_norms.push_back(std::move(g));
      }

      // Linear decay to 0 (the paper's lr(1 - step/total_steps)); the whitening bias decays
      // over its own shorter span and then stops.
      const double decay = 1.0 - static_cast<double>(step) / static_cast<double>(total_steps);
      fanion_lr.set_factor(decay);
      sgd_lr.set_factor(decay);
      sgd_lr.set_factor(0, std::max(0.0, 1.0 - static_cast<double>(step) / whiten_steps));
      fanion_opt.step();
      sgd.step();

      const double batch_loss = loss.item<double>();
      loss_sum += batch_loss;
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += bs;
      if (progress) {
        const double el = now_seconds() - t0;
        const double left = el / double(step + 1) * double(total_steps - step - 1);
        char buf[200];
        std::snprintf(
            buf, sizeof buf, "epoch %lld/%lld step %lld/%lld loss %.4f  %.1f img/s  %s left",
            (long long)epoch, (long long)c.epochs, (long long)step + 1, (long long)total_steps,
            batch_loss / double(bs),
            double(seen) / std::max(1e-9, el - (r.epochs.empty() ? 0.0 : r.epochs.back().seconds)),
            format_duration(left).c_str());
        progress(buf);
      }
    }
    CnnEpochRecord e;
    e.epoch = epoch;
    e.step = step;
    e.train_loss = seen ? loss_sum / double(seen) : 0.0;
    e.train_accuracy = seen ? double(correct) / double(seen) : 0.0;
    e.val_accuracy = accuracy(model, data.test_x, data.test_y);
    e.seconds = now_seconds() - t0;
    r.epochs.push_back(e);
  }
  r.steps = step;
  r.val_accuracy =
      r.epochs.empty() ? accuracy(model, data.test_x, data.test_y) : r.epochs.back().val_accuracy;
  r.seconds = now_seconds() - t0;
  return r;
}

json::Value CnnRunResult::to_json() const {
  json::Value ep = json::Value::array();
  for (const auto& e : epochs) {
    ep.push_back(json::Value::object()
                     .set("epoch", e.epoch)
                     .set("step", e.step)
                     .set("train_loss", e.train_loss)
                     .set("train_accuracy", e.train_accuracy)
                     .set("val_accuracy", e.val_accuracy)
                     .set("seconds", e.seconds));
  }
  json::Value gn = json::Value::array();
  for (const auto& g : grad_norms) {
    json::Value layers = json::Value::object();
    for (const auto& [name, n] : g.layers) layers.set(name, norms_json(n));
    gn.push_back(json::Value::object()
                     .set("step", g.step)
                     .set("layers", std::move(layers))
                     .set("total", norms_json(g.total)));
  }
  return json::Value::object()
      .set("optimizer", optimizer.to_json())
      .set("seed", seed)
      .set("steps", steps)
      .set("val_accuracy", val_accuracy)
      .set("seconds", seconds)
      .set("epochs", std::move(ep))
      .set("grad_norms", std::move(gn));
}

}  // namespace fanion::app::train
