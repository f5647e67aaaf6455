#pragma once
// The CNN of Keller Jordan's CIFAR-10 airbench (airbench94_muon), which the paper's §6.2 and
// Table 5 train: a frozen 2x2 patch-whitening convolution (trainable bias), three conv groups
// (conv3x3 - maxpool2 - batchnorm - GELU - conv3x3 - batchnorm - GELU), a final max pool and a
// bias-free linear head whose logits are divided by the last width. Batchnorm gains are frozen
// at 1 (only biases train), statistics momentum 0.6, eps 1e-12, as airbench does.
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <vector>

namespace fanion::app::models {

struct CnnConfig {
  int64_t in_channels = 1;  ///< 1 for Fashion-MNIST, 3 for CIFAR-10
  int64_t image_size = 28;  ///< square images
  int64_t num_classes = 10;
  std::vector<int64_t> widths = {64, 256, 256};  ///< airbench's block1..3
  int64_t whiten_kernel = 2;
};

struct ConvGroupImpl : torch::nn::Module {
  ConvGroupImpl(int64_t in, int64_t out);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d norm1{nullptr}, norm2{nullptr};
};
TORCH_MODULE(ConvGroup);

struct AirbenchCnnImpl : torch::nn::Module {
  explicit AirbenchCnnImpl(const CnnConfig& config);
  /// Logits [N, classes] of normalized images [N, C, H, W].
  at::Tensor forward(const at::Tensor& x);
  /// Sets the frozen whitening filters from the patch covariance of (normalized) images:
  /// eigenvectors scaled by 1/sqrt(eigenvalue + eps), and their negatives (airbench).
  void init_whiten(const at::Tensor& images, double eps = 5e-4);

  /// The parameters airbench gives to each optimizer.
  std::vector<at::Tensor> filters() const;      ///< conv weights of the groups (Fanion family)
  std::vector<at::Tensor> norm_biases() const;  ///< batchnorm biases (SGD)
  at::Tensor whiten_bias() const { return whiten->bias; }
  at::Tensor head_weight() const { return head->weight; }

  CnnConfig config;
  torch::nn::Conv2d whiten{nullptr};
  std::vector<ConvGroup> groups;
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(AirbenchCnn);

}  // namespace fanion::app::models
