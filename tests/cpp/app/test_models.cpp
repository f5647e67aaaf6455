// The experiment models (app/models): shapes, frozen parameters, the whitening layer,
// causality of the GPT, and the parameter split between the two optimizers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "models/cnn.h"
#include "models/gpt.h"

using fanion::app::models::AirbenchCnn;
using fanion::app::models::CnnConfig;
using fanion::app::models::Gpt;
using fanion::app::models::GptConfig;

namespace {

CnnConfig small_cnn(int64_t channels, int64_t size) {
  CnnConfig c;
  c.in_channels = channels;
  c.image_size = size;
  c.widths = {8, 16, 16};
  return c;
}

}  // namespace

TEST(ModelsCnn, LogitsShapeForFashionMnistAndCifarImages) {
  torch::manual_seed(0);
  for (auto [ch, size] : {std::pair<int64_t, int64_t>{1, 28}, {3, 32}}) {
    AirbenchCnn net(small_cnn(ch, size));
    const at::Tensor y = net->forward(torch::randn({5, ch, size, size}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{5, 10}));
    EXPECT_TRUE(y.isfinite().all().item<bool>());
  }
}

TEST(ModelsCnn, OptimizerSplitAndFrozenParameters) {
  AirbenchCnn net(small_cnn(1, 28));
  const auto filters = net->filters();
  ASSERT_EQ(filters.size(), 6u);
  for (const auto& f : filters) {
    EXPECT_EQ(f.dim(), 4);
    EXPECT_TRUE(f.requires_grad());
  }
  EXPECT_EQ(net->norm_biases().size(), 6u);
  EXPECT_FALSE(net->whiten->weight.requires_grad());  // frozen whitening filters
  EXPECT_TRUE(net->whiten_bias().requires_grad());
  EXPECT_FALSE(net->groups[0]->norm1->weight.requires_grad());  // batchnorm gains frozen at 1
  // Every trainable parameter belongs to exactly one optimizer's share.
  std::set<const void*> shares;
  for (const auto& t : filters) shares.insert(t.unsafeGetTensorImpl());
  for (const auto& t : net->norm_biases()) shares.insert(t.unsafeGetTensorImpl());
  shares.insert(net->whiten_bias().unsafeGetTensorImpl());
  shares.insert(net->head_weight().unsafeGetTensorImpl());
  size_t trainable = 0;
  for (const auto& p : net->parameters()) {
    if (!p.requires_grad()) continue;
    ++trainable;
    EXPECT_TRUE(shares.count(p.unsafeGetTensorImpl()));
  }
  EXPECT_EQ(trainable, shares.size());
}

TEST(ModelsCnn, WhiteningMakesPatchCovarianceTheIdentity) {
  torch::manual_seed(1);
  AirbenchCnn net(small_cnn(1, 28));
  // Correlated pixels: a smoothed random field.
  at::Tensor images = torch::randn({64, 1, 28, 28});
  images = images + images.roll(1, 3) + images.roll(1, 2);
  net->init_whiten(images, /*eps=*/1e-9);
  torch::NoGradGuard no_grad;
  const at::Tensor out = at::conv2d(images, net->whiten->weight);  // no bias, no GELU
  const int64_t half = out.size(1) / 2;  // the second half are the negated filters
  const at::Tensor z =
      out.narrow(1, 0, half).permute({0, 2, 3, 1}).reshape({-1, half}).to(at::kDouble);
  const at::Tensor cov = z.t().matmul(z) / double(z.size(0));
  EXPECT_LT((cov - at::eye(half, at::kDouble)).abs().max().item<double>(), 1e-3);
}

TEST(ModelsCnn, RejectsBadWidthsAndTinyImages) {
  CnnConfig c = small_cnn(1, 28);
  c.widths = {8, 8};
  EXPECT_THROW(AirbenchCnn{c}, std::invalid_argument);
  c = small_cnn(1, 6);
  EXPECT_THROW(AirbenchCnn{c}, std::invalid_argument);
}

TEST(ModelsGpt, LogitsShapeAndCausality) {
  torch::manual_seed(0);
  GptConfig c;
  c.vocab_size = 50;
  c.context = 12;
  c.d_model = 16;
  c.n_layer = 2;
  c.n_head = 2;
  Gpt net(c);
  at::Tensor ids = torch::randint(0, 50, {3, 12}, at::kLong);
  const at::Tensor a = net->forward(ids);
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{3, 12, 50}));
  // Changing token 7 must not change the logits at positions 0..6, and must change 7.
  at::Tensor ids2 = ids.clone();
  ids2.select(1, 7).fill_(0);
  ids.select(1, 7).fill_(1);
  const at::Tensor x = net->forward(ids), y = net->forward(ids2);
  EXPECT_TRUE(at::allclose(x.narrow(1, 0, 7), y.narrow(1, 0, 7), 1e-6, 1e-6));
  EXPECT_FALSE(at::allclose(x.narrow(1, 7, 1), y.narrow(1, 7, 1), 1e-6, 1e-6));
  // The loss at initialization is close to log(vocab).
  const double loss = net->loss(ids, ids).item<double>();
  EXPECT_NEAR(loss, std::log(50.0), 0.3);
}

TEST(ModelsGpt, HiddenMatricesAndTheRestPartitionTheParameters) {
  GptConfig c;
  c.vocab_size = 40;
  c.context = 8;
  c.d_model = 16;
  c.n_layer = 3;
  c.n_head = 4;
  Gpt net(c);
  const auto hidden = net->hidden_matrices();
  const auto rest = net->other_parameters();
  EXPECT_EQ(hidden.size(), 12u);  // qkv, proj, fc, fc_out per block
  for (const auto& h : hidden) EXPECT_EQ(h.dim(), 2);
  EXPECT_EQ(hidden.size() + rest.size(), net->parameters().size());
  std::set<const void*> ids;
  for (const auto& t : hidden) ids.insert(t.unsafeGetTensorImpl());
  for (const auto& t : rest) EXPECT_FALSE(ids.count(t.unsafeGetTensorImpl()));
}

TEST(ModelsGpt, RejectsBadConfigAndLongSequences) {
  GptConfig c;
  c.d_model = 30;
  c.n_head = 4;
  try {
    c.validate();
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("n_head"), std::string::npos);
  }
  GptConfig ok;
  ok.context = 8;
  ok.d_model = 16;
  ok.n_layer = 1;
  ok.n_head = 2;
  Gpt net(ok);
  EXPECT_THROW(net->forward(torch::zeros({1, 9}, at::kLong)), std::invalid_argument);
}
