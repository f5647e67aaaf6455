#pragma once
// A NanoGPT-style decoder (Karpathy's nanoGPT / the modded-nanogpt speedrun the paper's §6.3
// uses, without its later tricks): token + learned position embeddings, pre-norm blocks of
// causal self-attention and a 4x GELU MLP, a final LayerNorm and an untied bias-free head.
// No dropout, so a run is a function of its seed.
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <vector>

namespace fanion::app::models {

struct GptConfig {
  int64_t vocab_size = 256;
  int64_t context = 128;  ///< longest sequence
  int64_t d_model = 128;
  int64_t n_layer = 4;
  int64_t n_head = 4;
  /// Throws std::invalid_argument naming the bad field.
  void validate() const;
};

struct GptBlockImpl : torch::nn::Module {
  GptBlockImpl(int64_t d_model, int64_t n_head);
  at::Tensor forward(const at::Tensor& x);
  int64_t n_head;
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc{nullptr}, fc_out{nullptr};
};
TORCH_MODULE(GptBlock);

struct GptImpl : torch::nn::Module {
  explicit GptImpl(const GptConfig& config);
  /// Logits [B, T, vocab] of token ids [B, T] (T <= context).
  at::Tensor forward(const at::Tensor& ids);
  /// Mean next-token cross-entropy of logits(ids) against targets [B, T].
  at::Tensor loss(const at::Tensor& ids, const at::Tensor& targets);

  /// The 2-D weights inside the blocks (attention and MLP): the Fanion family's share, as
  /// in the speedrun. Everything else (embeddings, head, LayerNorm gains and biases) goes to
  /// AdamW.
  std::vector<at::Tensor> hidden_matrices() const;
  std::vector<at::Tensor> other_parameters() const;

  GptConfig config;
  torch::nn::Embedding wte{nullptr}, wpe{nullptr};
  std::vector<GptBlock> blocks;
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(Gpt);

}  // namespace fanion::app::models
