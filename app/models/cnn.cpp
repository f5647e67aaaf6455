#include "models/cnn.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <stdexcept>

namespace fanion::app::models {
namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out) {
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false));
  // airbench: the first `in` filters start as identities (dirac), the rest as PyTorch's init.
  torch::NoGradGuard no_grad;
  if (out >= in) torch::nn::init::dirac_(c->weight.narrow(0, 0, in));
  return c;
}

torch::nn::BatchNorm2d batchnorm(int64_t c) {
  // PyTorch's momentum is 1 - airbench's 0.6; the gain stays 1 (frozen).
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(c).momentum(0.4).eps(1e-12));
  bn->weight.set_requires_grad(false);
  return bn;
}

}  // namespace

ConvGroupImpl::ConvGroupImpl(int64_t in, int64_t out) {
  conv1 = register_module("conv1", conv3x3(in, out));
  norm1 = register_module("norm1", batchnorm(out));
  conv2 = register_module("conv2", conv3x3(out, out));
  norm2 = register_module("norm2", batchnorm(out));
}

at::Tensor ConvGroupImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::max_pool2d(conv1->forward(x), {2, 2});
  y = at::gelu(norm1->forward(y));
  return at::gelu(norm2->forward(conv2->forward(y)));
}

AirbenchCnnImpl::AirbenchCnnImpl(const CnnConfig& c) : config(c) {
  if (c.widths.size() != 3) {
    throw std::invalid_argument("cnn: widths must have 3 entries (block1..3), got " +
                                std::to_string(c.widths.size()));
  }
  for (int64_t w : c.widths)
    if (w < 1)
      throw std::invalid_argument("cnn: widths must be positive, got " + std::to_string(w));
  // Spatial size after the whitening conv and three pools must stay >= 1.
  int64_t s = c.image_size - c.whiten_kernel + 1;
  for (int i = 0; i < 3; ++i) s /= 2;
  if (s < 1) {
    throw std::invalid_argument("cnn: images of " + std::to_string(c.image_size) +
                                " pixels are too small for three 2x2 pools");
  }
  const int64_t whiten_width = 2 * c.in_channels * c.whiten_kernel * c.whiten_kernel;
  whiten = register_module(
      "whiten",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(c.in_channels, whiten_width, c.whiten_kernel).bias(true)));
  whiten->weight.set_requires_grad(false);
  int64_t in = whiten_width;
  for (int i = 0; i < 3; ++i) {
    groups.push_back(register_module("layer" + std::to_string(i + 1), ConvGroup(in, c.widths[i])));
    in = c.widths[i];
  }
  head = register_module(
      "head", torch::nn::Linear(torch::nn::LinearOptions(in, c.num_classes).bias(false)));
  torch::NoGradGuard no_grad;
  head->weight.mul_(1.0 / head->weight.std().item<double>());  // airbench: unit-std head
}

at::Tensor AirbenchCnnImpl::forward(const at::Tensor& x) {
  at::Tensor y = at::gelu(whiten->forward(x));
  for (auto& g : groups) y = g->forward(y);
  // Global max pool (airbench's MaxPool2d(3) on its 3x3 maps; any size here).
  y = std::get<0>(y.flatten(2).max(2));
  return head->forward(y) / static_cast<double>(y.size(-1));
}

void AirbenchCnnImpl::init_whiten(const at::Tensor& images, double eps) {
  torch::NoGradGuard no_grad;
  const int64_t k = config.whiten_kernel, ch = images.size(1);
  // All k x k patches as rows: [N * positions, C * k * k] in the conv weight's layout.
  at::Tensor patches = images.to(at::kFloat).unfold(2, k, 1).unfold(3, k, 1);  // N,C,H',W',k,k
  patches = patches.permute({0, 2, 3, 1, 4, 5}).reshape({-1, ch * k * k}).to(at::kDouble);
  at::Tensor cov = patches.t().matmul(patches) / static_cast<double>(patches.size(0));
  auto [evals, evecs] = at::linalg_eigh(cov);
  at::Tensor scaled = evecs.t() / (evals.clamp_min(0) + eps).sqrt().unsqueeze(1);
  scaled = scaled.reshape({-1, ch, k, k}).to(whiten->weight.dtype());
  whiten->weight.copy_(at::cat({scaled, -scaled}, 0));
}

std::vector<at::Tensor> AirbenchCnnImpl::filters() const {
  std::vector<at::Tensor> out;
  for (const auto& g : groups) {
    out.push_back(g->conv1->weight);
    out.push_back(g->conv2->weight);
  }
  return out;
}

std::vector<at::Tensor> AirbenchCnnImpl::norm_biases() const {
  std::vector<at::Tensor> out;
  for (const auto& g : groups) {
    out.push_back(g->norm1->bias);
    out.push_back(g->norm2->bias);
  }
  return out;
}

}  // namespace fanion::app::models
