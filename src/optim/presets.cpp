#include "fanion/optim/presets.h"

#include <cctype>
#include <stdexcept>

#include "fanion/names.h"

namespace fanion::optim {
namespace {

NormOptimizerOptions with(Direction d, double lr, double momentum) {
  return NormOptimizerOptions(lr).direction(std::move(d)).momentum(momentum);
}

}  // namespace

NormOptimizerOptions muon(double lr, double momentum) {
  return with(Direction::muon(), lr, momentum);
}
NormOptimizerOptions neon(double lr, double momentum) {
  return with(Direction::neon(), lr, momentum);
}
NormOptimizerOptions fanion_k(int64_t k, double lr, double momentum) {
  return with(Direction::fanion(k), lr, momentum);
}
NormOptimizerOptions f_muon(double lr, double momentum, double alpha) {
  return with(f_fanion(kFullRank, alpha), lr, momentum);
}
NormOptimizerOptions f_neon(double lr, double momentum, double alpha) {
  return with(f_fanion(1, alpha), lr, momentum);
}
NormOptimizerOptions f_fanion_k(int64_t k, double lr, double momentum, double alpha) {
  return with(f_fanion(k, alpha), lr, momentum);
}
NormOptimizerOptions s_muon(double lr, double momentum, double alpha, double sign_lr_coeff) {
  return with(s_fanion(kFullRank, alpha, sign_lr_coeff), lr, momentum);
}
NormOptimizerOptions s_neon(double lr, double momentum, double alpha, double sign_lr_coeff) {
  return with(s_fanion(1, alpha, sign_lr_coeff), lr, momentum);
}
NormOptimizerOptions s_fanion_k(int64_t k, double lr, double momentum, double alpha,
                                double sign_lr_coeff) {
  return with(s_fanion(k, alpha, sign_lr_coeff), lr, momentum);
}
NormOptimizerOptions nsgd(double lr, double momentum) {
  return with(Direction::nsgd(), lr, momentum);
}
NormOptimizerOptions signsgd(double lr, double momentum) {
  return with(Direction::sign(), lr, momentum);
}

std::vector<std::string> preset_names() {
  return {"muon",   "neon",   "nsgd",     "signsgd",    "f-muon",    "f-neon",
          "s-muon", "s-neon", "fanion-K", "f-fanion-K", "s-fanion-K"};
}

NormOptimizerOptions preset(const std::string& name_in, double lr, double momentum, double alpha,
                            double sign_lr_coeff) {
  const std::string name = normalize_name(name_in, '-');
  if (name == "muon") return muon(lr, momentum);
  if (name == "neon") return neon(lr, momentum);
  if (name == "nsgd") return nsgd(lr, momentum);
  if (name == "signsgd" || name == "sign") return signsgd(lr, momentum);
  if (name == "f-muon") return f_muon(lr, momentum, alpha);
  if (name == "f-neon") return f_neon(lr, momentum, alpha);
  if (name == "s-muon") return s_muon(lr, momentum, alpha, sign_lr_coeff);
  if (name == "s-neon") return s_neon(lr, momentum, alpha, sign_lr_coeff);
  for (const std::string prefix : {"fanion-", "f-fanion-", "s-fanion-"}) {
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 9 || std::stoll(digits) < 1) {
      break;
    }
    const int64_t k = std::stoll(digits);
    if (prefix == "fanion-") return fanion_k(k, lr, momentum);
    if (prefix == "f-fanion-") return f_fanion_k(k, lr, momentum, alpha);
    return s_fanion_k(k, lr, momentum, alpha, sign_lr_coeff);
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("fanion: unknown optimizer '" + name_in + "' (known: " + known +
                              "; K a positive integer)");
}

}  // namespace fanion::optim
