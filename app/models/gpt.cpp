#include "models/gpt.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>

namespace fanion::app::models {
namespace {

torch::nn::Linear linear(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

void check_positive(const char* name, int64_t v) {
  if (v < 1)
    throw std::invalid_argument(std::string("gpt: ") + name + " must be >= 1, got " +
                                std::to_string(v));
}

}  // namespace

void GptConfig::validate() const {
  check_positive("vocab_size", vocab_size);
  check_positive("context", context);
  check_positive("d_model", d_model);
  check_positive("n_layer", n_layer);
  check_positive("n_head", n_head);
  if (d_model % n_head != 0) {
    throw std::invalid_argument("gpt: d_model (" + std::to_string(d_model) +
                                ") must be a multiple of n_head (" + std::to_string(n_head) + ")");
  }
}

GptBlockImpl::GptBlockImpl(int64_t d, int64_t heads) : n_head(heads) {
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  qkv = register_module("qkv", linear(d, 3 * d));
  proj = register_module("proj", linear(d, d));
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  fc = register_module("fc", linear(d, 4 * d));
  fc_out = register_module("fc_out", linear(4 * d, d));
}

at::Tensor GptBlockImpl::forward(const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), hd = D / n_head;
  // Causal self-attention (written out: LibTorch 1.13 has no fused attention).
  auto qkv_ = qkv->forward(ln1->forward(x)).view({B, T, 3, n_head, hd}).permute({2, 0, 3, 1, 4});
  at::Tensor q = qkv_[0], k = qkv_[1], v = qkv_[2];  // [B, H, T, hd]
  at::Tensor att = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
  const at::Tensor future = at::ones({T, T}, x.options().dtype(at::kBool)).triu(1);
  att = att.masked_fill(future, -std::numeric_limits<double>::infinity()).softmax(-1);
  at::Tensor y = att.matmul(v).transpose(1, 2).reshape({B, T, D});
  at::Tensor h = x + proj->forward(y);
  return h + fc_out->forward(at::gelu(fc->forward(ln2->forward(h))));
}

GptImpl::GptImpl(const GptConfig& c) : config(c) {
  c.validate();
  wte = register_module("wte", torch::nn::Embedding(c.vocab_size, c.d_model));
  wpe = register_module("wpe", torch::nn::Embedding(c.context, c.d_model));
  for (int64_t i = 0; i < c.n_layer; ++i)
    blocks.push_back(register_module("block" + std::to_string(i), GptBlock(c.d_model, c.n_head)));
  ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.d_model})));
  head = register_module("head", linear(c.d_model, c.vocab_size));
  // nanoGPT's initialization: N(0, 0.02) everywhere, residual projections scaled by
  // 1/sqrt(2 * n_layer).
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    if (p.value().dim() < 2) continue;
    p.value().normal_(0.0, 0.02);
  }
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c.n_layer));
  for (auto& b : blocks) {
    b->proj->weight.normal_(0.0, residual_std);
    b->fc_out->weight.normal_(0.0, residual_std);
  }
}

at::Tensor GptImpl::forward(const at::Tensor& ids) {
  const int64_t T = ids.size(1);
  if (T > config.context) {
    throw std::invalid_argument("gpt: sequence of " + std::to_string(T) +
                                " tokens is longer than the context (" +
                                std::to_string(config.context) + ")");
  }
  at::Tensor x = wte->forward(ids) + wpe->forward(at::arange(T, ids.options()));
  for (auto& b : blocks) x = b->forward(x);
  return head->forward(ln_f->forward(x));
}

at::Tensor GptImpl::loss(const at::Tensor& ids, const at::Tensor& targets) {
  const at::Tensor logits = forward(ids);
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}));
}

std::vector<at::Tensor> GptImpl::hidden_matrices() const {
  std::vector<at::Tensor> out;
  for (const auto& b : blocks)
    for (const auto& l : {b->qkv, b->proj, b->fc, b->fc_out}) out.push_back(l->weight);
  return out;
}

std::vector<at::Tensor> GptImpl::other_parameters() const {
  std::set<const void*> hidden;
  for (const auto& t : hidden_matrices()) hidden.insert(t.unsafeGetTensorImpl());
  std::vector<at::Tensor> out;
  for (const auto& p : parameters())
    if (!hidden.count(p.unsafeGetTensorImpl())) out.push_back(p);
  return out;
}

}  // namespace fanion::app::models
