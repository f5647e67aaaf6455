// The training loops of `fanion train` (app/train): optimizer lists, statistics, gradient
// norms, a few steps that must lower the loss, reproducibility, and checkpoint resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>

#include "cli.h"
#include "fanion/norms.h"
#include "train/checkpoint.h"
#include "train/cnn_run.h"
#include "train/common.h"
#include "train/gpt_run.h"

namespace tr = fanion::app::train;

TEST(TrainCommon, OptimizerListDefaultsAndOverrides) {
  const auto v = tr::parse_optimizers("muon, F-Muon:lr=0.3:momentum=0.7, s-muon, fanion-5",
                                      tr::cnn_defaults, 0.5);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].name, "muon");
  EXPECT_DOUBLE_EQ(v[0].lr, 0.24);  // Table 5
  EXPECT_DOUBLE_EQ(v[0].momentum, 0.6);
  EXPECT_EQ(v[1].name, "f-muon");
  EXPECT_DOUBLE_EQ(v[1].lr, 0.3);
  EXPECT_DOUBLE_EQ(v[1].momentum, 0.7);
  EXPECT_DOUBLE_EQ(v[2].lr, 0.42);
  EXPECT_DOUBLE_EQ(v[2].sign_lr_coeff, 0.003);
  EXPECT_DOUBLE_EQ(v[3].lr, 0.24);  // Fanion-5 takes Muon's
  EXPECT_EQ(v[1].label(), "f-muon(lr=0.3,momentum=0.7,alpha=0.5)");
}

TEST(TrainCommon, OptimizerListErrorsNameTheProblem) {
  auto message = [](const std::string& text) {
    try {
      tr::parse_optimizers(text, tr::cnn_defaults);
    } catch (const fanion::app::cli::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("adam").find("adam"), std::string::npos);
  EXPECT_NE(message("muon:beta=3").find("beta"), std::string::npos);
  EXPECT_NE(message("muon:lr=abc").find("abc"), std::string::npos);
  EXPECT_NE(message("muon:lr=-1").find("lr"), std::string::npos);
  EXPECT_NE(message("muon:momentum=1.5").find("momentum"), std::string::npos);
  EXPECT_NE(message("").find("empty"), std::string::npos);
}

TEST(TrainCommon, MeanStdIsTheSampleStatistic) {
  const auto m = tr::mean_std({1.0, 2.0, 4.0});
  EXPECT_DOUBLE_EQ(m.mean, 7.0 / 3.0);
  EXPECT_NEAR(m.std,
              std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) +
                         (4 - 7.0 / 3) * (4 - 7.0 / 3)) /
                        2.0),
              1e-12);
  EXPECT_EQ(tr::mean_std({5.0}).std, 0.0);
}

TEST(TrainCommon, GradientNormsOfConvWeightsAndOfTheWholeGradient) {
  torch::manual_seed(3);
  const at::Tensor a = torch::randn({6, 3, 3, 3}, at::kDouble);
  const at::Tensor b = torch::randn({4, 5}, at::kDouble);
  const auto na = tr::matrix_norms(a);
  const at::Tensor am = a.reshape({6, 27});
  EXPECT_NEAR(na.frobenius, fanion::norms::frobenius(am), 1e-10);
  EXPECT_NEAR(na.spectral, fanion::norms::spectral(am), 1e-10);
  EXPECT_NEAR(na.nuclear, fanion::norms::nuclear(am), 1e-10);
  // The whole gradient = the block-diagonal matrix diag(A, B).
  at::Tensor d = torch::zeros({10, 32}, at::kDouble);
  d.narrow(0, 0, 6).narrow(1, 0, 27).copy_(am);
  d.narrow(0, 6, 4).narrow(1, 27, 5).copy_(b);
  const auto t = tr::total_norms({na, tr::matrix_norms(b)});
  EXPECT_NEAR(t.frobenius, fanion::norms::frobenius(d), 1e-10);
  EXPECT_NEAR(t.spectral, fanion::norms::spectral(d), 1e-10);
  EXPECT_NEAR(t.nuclear, fanion::norms::nuclear(d), 1e-10);
}

namespace {

// Two classes a CNN can tell apart: a bright horizontal bar at the top or at the bottom, in
// noise (horizontal flips keep the class). Labels 0/1 of 10 classes.
fanion::app::data::TrainTest bars(int64_t n_train, int64_t n_test) {
  auto make = [](int64_t n, int64_t seed) {
    torch::manual_seed(seed);
    at::Tensor y = torch::randint(0, 2, {n}, at::kLong);
    at::Tensor x = torch::rand({n, 1, 16, 16}) * 100;
    for (int64_t i = 0; i < n; ++i) x[i].narrow(1, y[i].item<int64_t>() ? 10 : 3, 3).add_(150);
    return fanion::app::data::ImageSet{x.clamp(0, 255).to(at::kByte), y, 10, {}};
  };
  return {make(n_train, 100), make(n_test, 200)};
}

tr::CnnTrainConfig tiny_cnn() {
  tr::CnnTrainConfig c;
  c.model.widths = {8, 8, 8};
  c.epochs = 3;
  c.batch_size = 64;
  c.translate = 1;
  return c;
}

}  // namespace

TEST(TrainCnn, FewStepsLowerTheLossAndRunsAreReproducible) {
  at::set_num_threads(1);
  const auto data = tr::prepare_images(bars(512, 256), 0, "cpu");
  for (const std::string name : {"muon", "f-muon", "s-muon", "fanion-2"}) {
    SCOPED_TRACE(name);
    const auto opt = tr::parse_optimizers(name, tr::cnn_defaults).front();
    const auto r = tr::run_cnn(tiny_cnn(), data, opt, 7);
    ASSERT_EQ(r.epochs.size(), 3u);
    EXPECT_EQ(r.steps, 3 * (512 / 64));
    EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
    EXPECT_GT(r.val_accuracy, 0.8);  // chance is 0.5
    if (name == "muon") {
      const auto again = tr::run_cnn(tiny_cnn(), data, opt, 7);
      EXPECT_EQ(again.val_accuracy, r.val_accuracy);
      EXPECT_EQ(again.epochs.back().train_loss, r.epochs.back().train_loss);
    }
  }
}

TEST(TrainCnn, LogsGradientNormsOfTheChosenLayers) {
  at::set_num_threads(1);
  const auto data = tr::prepare_images(bars(128, 64), 0, "cpu");
  auto c = tiny_cnn();
  c.epochs = 1;
  c.grad_norm_every = 2;
  c.weight_norm = false;
  const auto r = tr::run_cnn(c, data, tr::parse_optimizers("muon", tr::cnn_defaults).front(), 1);
  ASSERT_EQ(r.grad_norms.size(), 1u);  // steps 0, 1: logged at 0
  const auto& g = r.grad_norms.front();
  ASSERT_EQ(g.layers.size(), 2u);
  for (const auto& [name, n] : g.layers) {
    EXPECT_GT(n.frobenius, 0.0);
    EXPECT_LE(n.spectral, n.frobenius * (1 + 1e-12));
    EXPECT_GE(n.nuclear, n.frobenius * (1 - 1e-12));
  }
  EXPECT_GE(g.total.frobenius, g.layers.at("layer2.conv1").frobenius);
  c.grad_norm_layers = {"layer9.conv1"};
  EXPECT_THROW(tr::run_cnn(c, data, tr::parse_optimizers("muon", tr::cnn_defaults).front(), 1),
               std::invalid_argument);
}

namespace {

tr::TokenData repeating_text() {
  std::string s;
  for (int i = 0; i < 400; ++i) s += "in the beginning was the word. ";
  std::vector<int64_t> ids(s.begin(), s.end());
  return tr::split_tokens(ids, 0.2);
}

tr::GptTrainConfig tiny_gpt() {
  tr::GptTrainConfig c;
  c.model.vocab_size = 256;
  c.model.context = 16;
  c.model.d_model = 32;
  c.model.n_layer = 1;
  c.model.n_head = 2;
  c.steps = 40;
  c.batch_size = 8;
  c.warmup_steps = 5;
  c.eval_every = 10;
  c.eval_batches = 2;
  return c;
}

}  // namespace

TEST(TrainGpt, FewStepsLowerTheLoss) {
  at::set_num_threads(1);
  const auto data = repeating_text();
  for (const std::string name : {"muon", "f-muon", "s-muon"}) {
    SCOPED_TRACE(name);
    const auto r =
        tr::run_gpt(tiny_gpt(), data, tr::parse_optimizers(name, tr::gpt_defaults).front(), 0);
    ASSERT_FALSE(r.diverged);
    EXPECT_EQ(r.steps, 40);
    ASSERT_EQ(r.val_loss.size(), 4u);
    EXPECT_LT(r.final_val_loss, 0.6 * std::log(256.0));
    EXPECT_LT(r.val_loss.back().second, r.val_loss.front().second);
    EXPECT_EQ(r.train_loss.size(), 40u);
  }
}

TEST(TrainGpt, ResumeFromACheckpointContinuesTheSameCurve) {
  at::set_num_threads(1);
  const auto data = repeating_text();
  const auto opt = tr::parse_optimizers("f-muon", tr::gpt_defaults).front();
  const auto straight = tr::run_gpt(tiny_gpt(), data, opt, 3);

  const std::string path = ::testing::TempDir() + "fanion_gpt_resume.pt";
  auto first = tiny_gpt();
  first.checkpoint_path = path;
  first.stop_after = 17;
  const auto part = tr::run_gpt(first, data, opt, 3);
  EXPECT_EQ(part.steps, 17);
  auto second = tiny_gpt();
  second.checkpoint_path = path;
  second.resume_path = path;
  const auto resumed = tr::run_gpt(second, data, opt, 3);

  EXPECT_EQ(resumed.steps, 40);
  ASSERT_EQ(resumed.train_loss.size(), straight.train_loss.size());
  for (size_t i = 0; i < straight.train_loss.size(); ++i)
    EXPECT_EQ(resumed.train_loss[i], straight.train_loss[i]) << "step " << i;
  ASSERT_EQ(resumed.val_loss.size(), straight.val_loss.size());
  for (size_t i = 0; i < straight.val_loss.size(); ++i)
    EXPECT_EQ(resumed.val_loss[i], straight.val_loss[i]);

  // A checkpoint of another run is refused, naming the file.
  auto other = tiny_gpt();
  other.resume_path = path;
  try {
    tr::run_gpt(other, data, opt, 4);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
  other.resume_path = path + ".missing";
  EXPECT_THROW(tr::run_gpt(other, data, opt, 3), std::runtime_error);
  std::remove(path.c_str());
}

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST(TrainGpt, ACheckpointRefusesEveryOptionThatChangesTheRun) {
  at::set_num_threads(1);
  const auto data = repeating_text();
  const auto opt = tr::parse_optimizers("s-muon", tr::gpt_defaults).front();
  const std::string path = ::testing::TempDir() + "fanion_gpt_options.pt";
  auto first = tiny_gpt();
  first.data_source = "repeating text";
  first.checkpoint_path = path;
  first.stop_after = 2;
  tr::run_gpt(first, data, opt, 5);

  using Change = std::function<void(tr::GptTrainConfig&, tr::OptimizerChoice&, uint64_t&)>;
  const std::vector<std::pair<std::string, Change>> changes = {
      {"steps", [](auto& c, auto&, auto&) { c.steps = 41; }},
      {"batch_size", [](auto& c, auto&, auto&) { c.batch_size = 4; }},
      {"warmup", [](auto& c, auto&, auto&) { c.warmup_steps = 6; }},
      {"min_lr_factor", [](auto& c, auto&, auto&) { c.min_lr_factor = 0.2; }},
      {"adamw_lr", [](auto& c, auto&, auto&) { c.adamw_lr = 1e-3; }},
      {"grad_clip", [](auto& c, auto&, auto&) { c.grad_clip = 0.5; }},
      {"eval_every", [](auto& c, auto&, auto&) { c.eval_every = 20; }},
      {"eval_batches", [](auto& c, auto&, auto&) { c.eval_batches = 3; }},
      {"d_model", [](auto& c, auto&, auto&) { c.model.d_model = 16; }},
      {"data", [](auto& c, auto&, auto&) { c.data_source = "another text"; }},
      {"optimizer", [](auto&, auto& o, auto&) { o.lr *= 2; }},
      {"optimizer", [](auto&, auto& o, auto&) { o.momentum = 0.9; }},
      {"optimizer", [](auto&, auto& o, auto&) { o.sign_lr_coeff = 0.1; }},
      {"seed", [](auto&, auto&, auto& seed) { seed = 6; }},
  };
  for (const auto& [key, change] : changes) {
    SCOPED_TRACE(key);
    auto c = tiny_gpt();
    c.data_source = "repeating text";
    c.resume_path = path;
    auto o = opt;
    uint64_t seed = 5;
    change(c, o, seed);
    try {
      tr::run_gpt(c, data, o, seed);
      ADD_FAILURE() << "resumed with another " << key;
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("is of another run: " + key + ": saved "), std::string::npos) << m;
      EXPECT_NE(m.find(path), std::string::npos) << m;
    }
  }
  // The same text split differently: the tokens' identity differs.
  auto c = tiny_gpt();
  c.data_source = "repeating text";
  c.resume_path = path;
  std::string s;
  for (int i = 0; i < 400; ++i) s += "in the beginning was the word. ";
  std::vector<int64_t> ids(s.begin(), s.end());
  try {
    tr::run_gpt(c, tr::split_tokens(ids, 0.25), opt, 5);
    ADD_FAILURE() << "resumed with other tokens";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tokens: saved "), std::string::npos) << e.what();
  }
  // Unchanged: it resumes.
  EXPECT_EQ(tr::run_gpt(c, data, opt, 5).steps, 40);
  std::remove(path.c_str());
}

TEST(TrainCheckpoint, EveryFlippedByteIsRefusedOrHarmless) {
  // Every byte of a small checkpoint flipped in turn: each read fails with a message naming
  // the file (the checksum covers every byte, and is checked before torch parses any).
  const std::string path = ::testing::TempDir() + "fanion_flip.pt";
  tr::Fingerprint fp;
  fp.add("model", "test").add("steps", "7");
  const at::Tensor a = at::arange(12, at::kDouble).reshape({3, 4});
  const at::Tensor b = at::tensor(int64_t(7));
  tr::write_checkpoint(path, fp, [&](torch::serialize::OutputArchive& out) {
    out.write("a", a);
    out.write("b", b);
  });
  const std::string good = read_bytes(path);
  ASSERT_GT(good.size(), 500u);
  at::Tensor ra, rb;  // intact, it reads back what was written
  tr::read_checkpoint(path, fp, [&](torch::serialize::InputArchive& in) {
    in.read("a", ra);
    in.read("b", rb);
  });
  EXPECT_TRUE(at::equal(ra, a) && at::equal(rb, b));
  int64_t refused = 0, accepted = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = char(bad[i] ^ 0x5a);
    try {
      tr::read_checkpoint_bytes(bad, path, fp, [](torch::serialize::InputArchive&) {});
      ADD_FAILURE() << "byte " << i << " flipped, and the checkpoint was read";
      ++accepted;
    } catch (const std::runtime_error& e) {
      ASSERT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(refused, int64_t(good.size()));
  write_bytes(path, good.substr(0, good.size() / 2));  // the file read from disk, cut short
  EXPECT_THROW(tr::read_checkpoint(path, fp, [](torch::serialize::InputArchive&) {}),
               std::runtime_error);
  // A checkpoint of the earlier format (records at the top, no checksum) is refused by name.
  torch::serialize::OutputArchive old;
  old.write("step", b);
  old.save_to(path);
  try {
    tr::read_checkpoint(path, fp, [](torch::serialize::InputArchive&) {});
    ADD_FAILURE() << "read an old checkpoint";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("older fanion"), std::string::npos) << e.what();
  }
  // Cut short at every length: refused, never read past the end.
  for (size_t n = 0; n < good.size(); n += 7) {
    EXPECT_THROW(tr::read_checkpoint_bytes(good.substr(0, n), path, fp,
                                           [](torch::serialize::InputArchive&) {}),
                 std::runtime_error);
  }
  // Nothing but the file itself is left (PATH.tmp renamed away).
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
  std::remove(path.c_str());
  std::cout << "flipped " << refused + accepted << " of " << good.size() << " bytes: " << refused
            << " refused, " << accepted << " accepted\n";
}

TEST(TrainGpt, TooLittleTextIsAClearError) {
  const auto data = tr::split_tokens(std::vector<int64_t>(30, 1), 0.5);
  try {
    tr::run_gpt(tiny_gpt(), data, tr::parse_optimizers("muon", tr::gpt_defaults).front(), 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos);
  }
  EXPECT_THROW(tr::split_tokens({1, 2, 3}, 1.5), std::invalid_argument);
}

TEST(TrainCuda, CnnAndGptTrainOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto images = tr::prepare_images(bars(256, 128), 0, "cuda");
  auto c = tiny_cnn();
  c.device = "cuda";
  const auto r =
      tr::run_cnn(c, images, tr::parse_optimizers("f-muon", tr::cnn_defaults).front(), 1);
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  auto g = tiny_gpt();
  g.device = "cuda";
  const auto q =
      tr::run_gpt(g, repeating_text(), tr::parse_optimizers("s-muon", tr::gpt_defaults).front(), 0);
  EXPECT_LT(q.val_loss.back().second, q.val_loss.front().second);
}
