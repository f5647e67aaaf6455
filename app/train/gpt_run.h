#pragma once
// One training run of the small GPT (paper §6.3–6.5): the Fanion family on the blocks' hidden
// matrices (Muon's shape scale, as the paper's GPT runs), AdamW on embeddings, head and
// LayerNorm parameters; linear warmup then cosine decay; gradient clipping; checkpoints that a
// later run resumes exactly.
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "models/gpt.h"
#include "train/common.h"

namespace fanion::app::train {

struct GptTrainConfig {
  models::GptConfig model;
  int64_t steps = 400;  ///< the default of `fanion train gpt --steps`
  int64_t batch_size = 16;
  int64_t warmup_steps = 30;
  double min_lr_factor = 0.1;  ///< cosine decay ends at this fraction of the peak lr
  double adamw_lr = 3e-3;      ///< embeddings, head, LayerNorm gains and biases
  double grad_clip = 1.0;      ///< max global gradient norm; 0 = no clipping
  int64_t eval_every = 50;
  int64_t eval_batches = 8;  ///< validation windows = eval_batches * batch_size
  std::string device = "cpu";
  /// Save a checkpoint here every checkpoint_every steps and at the end ("" = never).
  std::string checkpoint_path;
  int64_t checkpoint_every = 0;
  /// Where the tokens came from (text, --max-chars, tokenizer, --val-fraction): recorded in
  /// checkpoints so that a mismatch is named; the tokens' hash is what is checked.
  std::string data_source;
  /// Resume from this checkpoint (same options, data and seed), continuing its curves.
  std::string resume_path;
  /// Stop after this many steps of this run (0 = run to `steps`): lets a test or a user
  /// interrupt a run at a checkpoint and resume it later.
  int64_t stop_after = 0;
};

/// Token ids split into a training and a validation stream.
struct TokenData {
  at::Tensor train;  ///< int64 [N]
  at::Tensor val;    ///< int64 [M]
};
/// The last `val_fraction` of the tokens is the validation stream.
TokenData split_tokens(const std::vector<int64_t>& ids, double val_fraction);

struct GptRunResult {
  OptimizerChoice optimizer;
  uint64_t seed = 0;
  int64_t steps = 0;  ///< steps done (including those before a resume)
  double final_val_loss = 0.0;
  double best_val_loss = 0.0;
  double seconds = 0.0;  ///< this process's share
  double tokens_per_second = 0.0;
  bool diverged = false;                               ///< a non-finite loss ended the run early
  std::vector<std::pair<int64_t, double>> train_loss;  ///< (step, loss) every step
  std::vector<std::pair<int64_t, double>> val_loss;    ///< (step, loss) every eval_every
  json::Value to_json() const;
};

GptRunResult run_gpt(const GptTrainConfig& config, const TokenData& data,
                     const OptimizerChoice& optimizer, uint64_t seed,
                     const std::function<void(const std::string&)>& progress = {});

}  // namespace fanion::app::train
