// `fanion train cnn`: the airbench CNN of the paper's §6.2 (Table 5, Figure 2, Appendix F).
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/images.h"
#include "progress.h"
#include "train/cnn_run.h"
#include "train/command_util.h"
#include "train/common.h"

namespace fanion::app::train {
namespace {

// The paper's Table 5 (validation accuracy on CIFAR-10 after 8 epochs, %).
std::optional<std::string> paper_table5(const std::string& name) {
  static const std::map<std::string, std::string> rows = {
      {"nsgd", "91.6 ± 0.52"},    {"signsgd", "91.54 ± 0.26"},  {"muon", "94.01 ± 0.10"},
      {"f-muon", "94.01 ± 0.13"}, {"s-muon", "94.03 ± 0.13"},   {"neon", "69.8 ± 0.5"},
      {"f-neon", "87.15 ± 0.24"}, {"fanion-5", "80.69 ± 1.25"}, {"f-fanion-5", "86.66 ± 0.65"}};
  if (auto it = rows.find(name); it != rows.end()) return it->second;
  return std::nullopt;
}

std::string pct(const train::MeanStd& m) {
  return fmt("%.2f", 100 * m.mean) + " ± " + fmt("%.2f", 100 * m.std);
}

}  // namespace

int cnn_command(int argc, char** argv) {
  cli::Parser p("fanion train cnn",
                "The airbench CNN (paper §6.2, Table 5, Figure 2, Appendix F) on Fashion-MNIST "
                "(default) or CIFAR-10:\nthe Fanion-family optimizer on the conv filters, "
                "airbench's Nesterov SGD on the rest.\nPrints validation accuracy mean ± std "
                "over seeds per optimizer, beside the paper's Table 5.");
  p.option("data", "NAME", "fashion-mnist | cifar10", "fashion-mnist");
  p.option("data-dir", "PATH",
           "folder of the data set (default: /usr/share/datasets/"
           "fashion-mnist; cifar10: cifar-10-batches-bin)");
  p.option("optimizers", "LIST",
           "presets with optional overrides, e.g. muon,f-muon:lr=0.3,"
           "s-muon (defaults: Table 5)",
           "muon,f-muon,s-muon");
  p.option("alpha", "A", "alpha of F-/S- optimizers", "0.5");
  p.option("seeds", "N", "runs per optimizer", "3");
  p.option("alpha-sweep", "LIST",
           "instead of the comparison: accuracy against alpha for the "
           "first F-/S- optimizer of --optimizers (Figure 2), e.g. 0,0.25,0.5,0.75,1,1.1");
  p.option("epochs", "N", "epochs per run", std::to_string(CnnTrainConfig{}.epochs));
  p.option("batch-size", "N", "images per step", "500");
  p.option("train-size", "N", "use the first N training images (0 = all)", "10000");
  p.option("widths", "A,B,C", "channels of the three conv groups (airbench: 64,256,256)",
           "32,64,64");
  p.option("translate", "N", "random shifts of up to N pixels", "2");
  p.flag("no-flip", "no random horizontal flips");
  p.flag("no-weight-norm", "no per-step filter normalization (Appendix F's gradient-norm runs)");
  p.option("label-smoothing", "X", "label smoothing", "0.2");
  p.option("grad-norm-every", "K", "log gradient norms every K steps (0 = off)", "0");
  p.option("grad-norm-layers", "LIST", "layers whose gradient norms are logged",
           "layer2.conv1,layer2.conv2");
  common_options(p);
  p.epilog(
      "examples:\n"
      "  fanion train cnn --json cnn.json --plot cnn.png\n"
      "  fanion train cnn --optimizers muon,f-muon,s-muon,nsgd,signsgd,neon,f-neon,fanion-5,"
      "f-fanion-5 --seeds 2\n"
      "  fanion train cnn --optimizers f-muon:lr=0.24:momentum=0.65 --alpha-sweep "
      "0,0.25,0.5,0.75,1,1.1\n"
      "  fanion train cnn --no-weight-norm --grad-norm-every 5 --seeds 1 --plot norms.png");
  if (!options::parse_or_help(p, argc, argv)) return 0;
  apply_common(p);
  const double alpha = p.get_double("alpha");
  auto optimizers = train::parse_optimizers(p.get_string("optimizers"), train::cnn_defaults, alpha);
  train::CnnTrainConfig cfg;
  cfg.epochs = positive(p, "epochs");
  cfg.batch_size = positive(p, "batch-size");
  const int64_t train_size = p.get_int("train-size");
  if (train_size < 0) throw cli::UsageError("--train-size: must be >= 0");
  cfg.model.widths = parse_ints(p.get_string("widths"), "--widths");
  if (cfg.model.widths.size() != 3) throw cli::UsageError("--widths: expected three numbers");
  cfg.translate = p.get_int("translate");
  if (cfg.translate < 0) throw cli::UsageError("--translate: must be >= 0");
  cfg.flip = !p.get_flag("no-flip");
  cfg.weight_norm = !p.get_flag("no-weight-norm");
  cfg.label_smoothing = p.get_double("label-smoothing");
  if (!(cfg.label_smoothing >= 0 && cfg.label_smoothing < 1))
    throw cli::UsageError("--label-smoothing: must be in [0, 1)");
  cfg.grad_norm_every = p.get_int("grad-norm-every", 0);
  cfg.grad_norm_layers = cli::split_list(p.get_string("grad-norm-layers"));
  cfg.device = p.get_string("device");
  const int64_t seeds = positive(p, "seeds");
  const int64_t seed0 = p.get_int("seed", 0);

  // The runs: every optimizer x seed, or the alpha sweep of one F-/S- optimizer.
  struct Plan {
    OptimizerChoice opt;
    uint64_t seed;
  };
  std::vector<Plan> plan;
  std::vector<double> alphas;
  if (p.has("alpha-sweep")) {
    alphas = parse_doubles(p.get_string("alpha-sweep"), "--alpha-sweep");
    const OptimizerChoice* base = nullptr;
    for (const auto& o : optimizers)
      if (o.name.rfind("f-", 0) == 0 || o.name.rfind("s-", 0) == 0) base = base ? base : &o;
    if (!base) throw cli::UsageError("--alpha-sweep needs an F- or S- optimizer in --optimizers");
    for (double a : alphas) {
      OptimizerChoice o = *base;
      o.alpha = a;
      for (int64_t s = 0; s < seeds; ++s) plan.push_back({o, uint64_t(seed0 + s)});
    }
  } else {
    for (const auto& o : optimizers)
      for (int64_t s = 0; s < seeds; ++s) plan.push_back({o, uint64_t(seed0 + s)});
  }

  const std::string data_name = p.get_string("data");
  data::TrainTest data;
  if (data_name == "fashion-mnist") {
    data = data::load_fashion_mnist(p.get("data-dir").value_or(data::kFashionMnistDir));
  } else if (data_name == "cifar10") {
    if (!p.has("data-dir")) throw cli::UsageError("--data cifar10 needs --data-dir");
    data = data::load_cifar10(p.get_string("data-dir"));
  } else {
    throw cli::UsageError("--data: expected fashion-mnist or cifar10, got '" + data_name + "'");
  }
  const train::PreparedImages images = train::prepare_images(data, train_size, cfg.device);
  std::cout << "fanion train cnn: " << data_name << ", " << images.train_x.size(0) << " training / "
            << images.test_x.size(0) << " validation images, widths " << cfg.model.widths[0] << ","
            << cfg.model.widths[1] << "," << cfg.model.widths[2] << ", " << cfg.epochs
            << " epochs of batch " << cfg.batch_size << ", " << plan.size() << " runs, "
            << at::get_num_threads() << " threads\n"
            << std::flush;

  const auto t_all = std::chrono::steady_clock::now();
  const std::vector<train::CnnRunResult> results = run_plan(
      p, plan, t_all,
      [&](const Plan& run, const std::function<void(const std::string&)>& progress) {
        return train::run_cnn(cfg, images, run.opt, run.seed, progress);
      },
      [](const train::CnnRunResult& r) {
        return "val accuracy " + fmt("%.2f%%", 100 * r.val_accuracy);
      });

  // The table: mean ± std over seeds, per optimizer (or per alpha).
  json::Value summary = json::Value::array();
  std::vector<std::vector<std::string>> rows;
  auto summarize = [&](const std::string& key, auto same) {
    std::vector<double> acc, secs;
    const train::CnnRunResult* first = nullptr;
    for (const auto& r : results)
      if (same(r)) {
        acc.push_back(r.val_accuracy);
        secs.push_back(r.seconds);
        first = first ? first : &r;
      }
    const auto m = train::mean_std(acc);
    const auto paper = paper_table5(first->optimizer.name);
    rows.push_back({key, fmt("%g", first->optimizer.lr), fmt("%g", first->optimizer.momentum),
                    pct(m) + " (n=" + std::to_string(m.n) + ")",
                    alphas.empty() && paper ? *paper : "",
                    fmt("%.1f", train::mean_std(secs).mean)});
    summary.push_back(json::Value::object()
                          .set("key", key)
                          .set("optimizer", first->optimizer.to_json())
                          .set("val_accuracy_mean", m.mean)
                          .set("val_accuracy_std", m.std)
                          .set("runs", m.n)
                          .set("paper_table5", alphas.empty() ? paper : std::nullopt));
  };
  if (alphas.empty()) {
    for (const auto& o : optimizers)
      summarize(o.name,
                [&](const train::CnnRunResult& r) { return r.optimizer.label() == o.label(); });
  } else {
    for (double a : alphas)
      summarize(plan.front().opt.name + " alpha=" + fmt("%g", a),
                [&](const train::CnnRunResult& r) { return r.optimizer.alpha == a; });
  }
  std::cout << "\nvalidation accuracy after " << cfg.epochs << " epochs, % (mean ± std over "
            << seeds << " seeds; no test-time augmentation)\n";
  report::print_table(std::cout,
                      {{alphas.empty() ? "optimizer" : "run", true},
                       {"lr"},
                       {"momentum"},
                       {"ours (" + data_name + ")"},
                       {"paper (CIFAR-10, Table 5)"},
                       {"s/run"}},
                      rows);
  std::cout << "total " << format_duration(seconds_since(t_all)) << "\n";

  json::Value runs = json::Value::array();
  for (const auto& r : results) runs.push_back(r.to_json());
  json::Value config = json::Value::object()
                           .set("data", data_name)
                           .set("train_images", images.train_x.size(0))
                           .set("val_images", images.test_x.size(0))
                           .set("widths", json::Value::array_of(cfg.model.widths))
                           .set("epochs", cfg.epochs)
                           .set("batch_size", cfg.batch_size)
                           .set("label_smoothing", cfg.label_smoothing)
                           .set("flip", cfg.flip)
                           .set("translate", cfg.translate)
                           .set("weight_norm", cfg.weight_norm)
                           .set("bias_lr", cfg.bias_lr)
                           .set("head_lr", cfg.head_lr)
                           .set("sgd_momentum", cfg.sgd_momentum)
                           .set("seeds", seeds)
                           .set("first_seed", seed0)
                           .set("alpha_sweep", json::Value::array_of(alphas))
                           .set("grad_norm_every", cfg.grad_norm_every)
                           .set("device", cfg.device)
                           .set("threads", at::get_num_threads());
  return finish(p, "train cnn", std::move(config), std::move(summary), std::move(runs),
                seconds_since(t_all));
}

}  // namespace fanion::app::train
