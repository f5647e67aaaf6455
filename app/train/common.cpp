#include "train/common.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "cli.h"
#include "fanion/names.h"
#include "fanion/norms.h"
#include "fanion/optim/presets.h"

namespace fanion::app::train {
namespace {

std::string lower(const std::string& s) { return normalize_name(s, '-'); }

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

OptimizerChoice choice(const std::string& name, double lr, double momentum,
                       double sign_lr_coeff = 0.01) {
  OptimizerChoice c;
  c.name = name;
  c.lr = lr;
  c.momentum = momentum;
  c.sign_lr_coeff = sign_lr_coeff;
  return c;
}

}  // namespace

optim::NormOptimizerOptions OptimizerChoice::options() const {
  return optim::preset(name, lr, momentum, alpha, sign_lr_coeff);
}

std::string OptimizerChoice::label() const {
  std::string s = name + "(lr=" + num(lr) + ",momentum=" + num(momentum);
  if (starts_with(name, "f-") || starts_with(name, "s-")) s += ",alpha=" + num(alpha);
  if (starts_with(name, "s-")) s += ",sign_lr_coeff=" + num(sign_lr_coeff);
  return s + ")";
}

json::Value OptimizerChoice::to_json() const {
  return json::Value::object()
      .set("name", name)
      .set("lr", lr)
      .set("momentum", momentum)
      .set("alpha", alpha)
      .set("sign_lr_coeff", sign_lr_coeff)
      .set("label", label());
}

std::vector<OptimizerChoice> parse_optimizers(const std::string& text, const DefaultsFor& defaults,
                                              double alpha_default) {
  std::vector<OptimizerChoice> out;
  for (const std::string& item : cli::split_list(text)) {
    const auto parts = cli::split_list(item, ':');
    if (parts.empty()) continue;
    const std::string name = lower(parts[0]);
    try {
      (void)optim::preset(name, 0.01, 0.5);  // is it a known name?
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(std::string("--optimizers: ") + e.what());
    }
    OptimizerChoice c = defaults(name);
    c.name = name;
    c.alpha = alpha_default;
    for (size_t i = 1; i < parts.size(); ++i) {
      const auto eq = parts[i].find('=');
      if (eq == std::string::npos) {
        throw cli::UsageError("--optimizers: expected key=value after '" + name + ":', got '" +
                              parts[i] + "'");
      }
      const std::string key = lower(parts[i].substr(0, eq));
      const double v =
          cli::parse_double(parts[i].substr(eq + 1), "--optimizers " + name + ":" + key);
      const bool f_or_s = starts_with(name, "f-") || starts_with(name, "s-");
      if (key == "lr") {
        c.lr = v;
      } else if (key == "momentum") {
        c.momentum = v;
      } else if (key == "alpha" && f_or_s) {
        c.alpha = v;
      } else if ((key == "sign_lr_coeff" || key == "sign-lr-coeff" || key == "sign") &&
                 starts_with(name, "s-")) {
        if (!(v > 0))
          throw cli::UsageError("--optimizers " + name + ": " + key + " must be positive, got " +
                                parts[i].substr(eq + 1));
        c.sign_lr_coeff = v;
      } else if (key == "alpha" || key == "sign_lr_coeff" || key == "sign-lr-coeff" ||
                 key == "sign") {
        throw cli::UsageError("--optimizers: " + name + " has no " + key +
                              " (alpha belongs to "
                              "F- and S- optimizers, sign_lr_coeff to S- optimizers)");
      } else {
        throw cli::UsageError("--optimizers: unknown key '" + key + "' for " + name +
                              " (known: lr, momentum, alpha, sign_lr_coeff)");
      }
    }
    try {
      c.options().validate();
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError("--optimizers " + item + ": " + e.what());
    }
    out.push_back(c);
  }
  if (out.empty()) throw cli::UsageError("--optimizers: empty list");
  return out;
}

OptimizerChoice cnn_defaults(const std::string& name) {
  if (name == "nsgd") return choice(name, 0.5, 0.95);
  if (name == "signsgd") return choice(name, 0.003, 0.95);
  if (starts_with(name, "f-")) return choice(name, 0.40, 0.6);
  if (starts_with(name, "s-")) return choice(name, 0.42, 0.63, 0.003);
  return choice(name, 0.24, 0.6);  // muon, neon, fanion-K
}

OptimizerChoice gpt_defaults(const std::string& name) {
  // Muon, F-Muon, S-Muon: the best of lr x {0.5, 1, 2, 4, 8} x 0.01 after 150 steps of the
  // default model on the KJV; S-Muon's sign coefficient: the paper's NanoGPT value 3e-4, which
  // beat 1e-3 and 1e-2 there (docs/RESULTS.md). NSGD and SignSGD are not tuned.
  if (name == "nsgd") return choice(name, 0.3, 0.95);
  if (name == "signsgd") return choice(name, 0.001, 0.95);
  if (starts_with(name, "f-")) return choice(name, 0.08, 0.95);
  if (starts_with(name, "s-")) return choice(name, 0.08, 0.95, 3e-4);
  return choice(name, 0.04, 0.95);  // muon, neon, fanion-K
}

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd r;
  r.n = v.size();
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0.0;
    for (double x : v) ss += (x - r.mean) * (x - r.mean);
    r.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return r;
}

MatrixNorms matrix_norms(const at::Tensor& grad) {
  // One SVD for spectral and nuclear (norms::spectral and norms::nuclear would take one each).
  const at::Tensor s = norms::singular_values(grad.detach());
  return {norms::frobenius(grad.detach()), s.numel() ? s[0].item<double>() : 0.0,
          s.sum().item<double>()};
}

MatrixNorms total_norms(const std::vector<MatrixNorms>& parts) {
  MatrixNorms t;
  for (const auto& p : parts) {
    t.frobenius += p.frobenius * p.frobenius;
    t.spectral = std::max(t.spectral, p.spectral);
    t.nuclear += p.nuclear;
  }
  t.frobenius = std::sqrt(t.frobenius);
  return t;
}

LrSchedule::LrSchedule(torch::optim::Optimizer& opt) : opt_(opt) {
  for (auto& g : opt_.param_groups()) base_.push_back(g.options().get_lr());
}

void LrSchedule::set_factor(double factor) {
  for (size_t g = 0; g < base_.size(); ++g) set_factor(g, factor);
}

void LrSchedule::set_factor(size_t group, double factor) {
  opt_.param_groups().at(group).options().set_lr(base_.at(group) * factor);
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace fanion::app::train
