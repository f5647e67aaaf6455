#pragma once
// One training run of the airbench CNN (paper §6.2, Table 5, Appendix F): the Fanion-family
// optimizer on the conv filters, Nesterov SGD on the whitening bias, the batchnorm biases and
// the head, exactly as airbench94_muon splits them.
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/images.h"
#include "models/cnn.h"
#include "train/common.h"

namespace fanion::app::train {

struct CnnTrainConfig {
  models::CnnConfig model;
  int64_t epochs = 4;         ///< `fanion train cnn --epochs`' default (the paper reports 8)
  int64_t batch_size = 2000;  ///< airbench's
  double label_smoothing = 0.2;
  bool flip = true;         ///< random horizontal flips
  int64_t translate = 2;    ///< random shifts of up to this many pixels (reflect padding)
  bool weight_norm = true;  ///< per-step filter normalization (the paper's Table 5 runs)
  // airbench94_muon's SGD for the other parameters (loss summed over the batch).
  double bias_lr = 0.053;
  double head_lr = 0.67;
  double sgd_momentum = 0.85;
  double weight_decay_per_example = 2e-6;  ///< wd = this * batch_size, as airbench
  double whiten_bias_epochs = 3;           ///< the whitening bias trains this long
  /// Gradient norms (Appendix F) every this many steps; 0 = never.
  int64_t grad_norm_every = 0;
  std::vector<std::string> grad_norm_layers = {"layer2.conv1", "layer2.conv2"};
  std::string device = "cpu";
};

/// Images as float, normalized by the training set's per-channel mean and std.
struct PreparedImages {
  at::Tensor train_x, train_y, test_x, test_y;
};
/// train_size > 0 keeps the first train_size training images.
PreparedImages prepare_images(const data::TrainTest& data, int64_t train_size,
                              const std::string& device);

struct CnnEpochRecord {
  int64_t epoch = 0;
  int64_t step = 0;
  double train_loss = 0.0;  ///< mean per example over the epoch (label-smoothed)
  double train_accuracy = 0.0;
  double val_accuracy = 0.0;
  double seconds = 0.0;  ///< since the start of the run
};

struct GradNormRecord {
  int64_t step = 0;
  std::map<std::string, MatrixNorms> layers;
  MatrixNorms total;
};

struct CnnRunResult {
  OptimizerChoice optimizer;
  uint64_t seed = 0;
  int64_t steps = 0;
  double val_accuracy = 0.0;  ///< after the last epoch
  double seconds = 0.0;
  std::vector<CnnEpochRecord> epochs;
  std::vector<GradNormRecord> grad_norms;
  json::Value to_json() const;
};

/// `progress` receives a one-line status now and then (may be empty).
CnnRunResult run_cnn(const CnnTrainConfig& config, const PreparedImages& data,
                     const OptimizerChoice& optimizer, uint64_t seed,
                     const std::function<void(const std::string&)>& progress = {});

/// Fraction of correct argmax predictions, in eval mode, batches of 2000.
double accuracy(models::AirbenchCnn& model, const at::Tensor& x, const at::Tensor& y);

}  // namespace fanion::app::train
