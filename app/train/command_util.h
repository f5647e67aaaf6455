#pragma once
// What `fanion train cnn` and `fanion train gpt` share on the command line: common options,
// list parsing, and the JSON/plot ending.
#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "common_options.h"
#include "json.h"
#include "progress.h"
#include "report.h"
#include "train/common.h"

namespace fanion::app::train {

inline std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

inline std::vector<int64_t> parse_ints(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  for (const auto& s : cli::split_list(text)) out.push_back(cli::parse_int(s, what));
  if (out.empty()) throw cli::UsageError(what + ": empty list");
  return out;
}

inline std::vector<double> parse_doubles(const std::string& text, const std::string& what) {
  std::vector<double> out;
  for (const auto& s : cli::split_list(text)) out.push_back(cli::parse_double(s, what));
  if (out.empty()) throw cli::UsageError(what + ": empty list");
  return out;
}

inline int64_t positive(const cli::Parser& p, const std::string& name) {
  const int64_t v = p.get_int(name);
  if (v < 1) throw cli::UsageError("--" + name + ": must be >= 1, got " + std::to_string(v));
  return v;
}

inline void common_options(cli::Parser& p) {
  p.option("seed", "N", "first seed (runs use seed, seed+1, ...)", "0");
  options::add_device(p);
  options::add_threads(p);
  p.option("json", "PATH", "write config, per-step metrics and results as JSON (docs/json.md)");
  p.option("plot", "PATH", "write a PNG of the curves (needs matplotlib)");
  p.flag("quiet", "no progress on stderr");
}

inline void apply_common(const cli::Parser& p) {
  for (const char* out : {"json", "plot"})
    if (p.has(out)) report::check_output_path(p.get_string(out), std::string("--") + out);
  options::apply_threads(p);
  (void)options::checked_device(p);  // before any data is loaded
}

/// The JSON document (docs/json.md) and the plot of a `train` command; returns its status.
inline int finish(const cli::Parser& p, const std::string& command, json::Value config,
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

/// "[3/9 f-muon(lr=0.4,...) seed 2] ": the prefix of run i's progress lines.
inline std::string run_tag(size_t i, size_t runs, const OptimizerChoice& opt, uint64_t seed) {
  return "[" + std::to_string(i + 1) + "/" + std::to_string(runs) + " " + opt.label() + " seed " +
         std::to_string(seed) + "] ";
}

/// Runs every entry of `plan` (anything with .opt and .seed) in order: a progress line with the
/// whole command's estimate and the run's tag, `run(entry, progress_callback)`, then a last line
/// `done_text(result)` and the run's time. Returns the results in plan order.
template <class Plan, class Run, class DoneText>
auto run_plan(const cli::Parser& p, const std::vector<Plan>& plan,
              std::chrono::steady_clock::time_point t_all, Run run, DoneText done_text) {
  Progress progress(p.get_flag("quiet"));
  std::vector<decltype(run(plan.front(), std::function<void(const std::string&)>()))> results;
  for (size_t i = 0; i < plan.size(); ++i) {
    const std::string tag = left_in_all(seconds_since(t_all), i, plan.size()) +
                            run_tag(i, plan.size(), plan[i].opt, plan[i].seed);
    auto r = run(plan[i], [&](const std::string& s) { progress.update(tag + s); });
    progress.done(tag + done_text(r) + " in " + format_duration(r.seconds));
    results.push_back(std::move(r));
  }
  return results;
}

/// `fanion train cnn` and `fanion train gpt` (argv[0] = "cnn" / "gpt").
int cnn_command(int argc, char** argv);
int gpt_command(int argc, char** argv);

}  // namespace fanion::app::train
