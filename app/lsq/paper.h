#pragma once
// The paper's Table 3 (§6.1): the tuned (lr, momentum) and iterations to loss 1e-3 of the
// five algorithms it reports (alpha = 1/2 and sign_lr_coeff = 0.01 for the combinations;
// SignSGD's lr is printed as 0.016 x 0.01).
#include <cstdint>
#include <string>

namespace fanion::app::lsq {

struct PaperRow {
  const char* algorithm;
  double lr;
  double momentum;
  int64_t iterations;
  const char* lr_text;  ///< as printed in the paper
};

inline constexpr PaperRow kTable3[] = {
    {"muon", 0.007, 0.5, 1060, "0.007"},  {"nsgd", 0.08, 0.95, 1020, "0.08"},
    {"f-muon", 0.015, 0.7, 910, "0.015"}, {"signsgd", 0.016 * 0.01, 0.95, 2650, "0.016*0.01"},
    {"s-muon", 0.011, 0.9, 890, "0.011"},
};

/// Table 3's row for an algorithm, or nullptr.
inline const PaperRow* paper_row(const std::string& algorithm) {
  for (const PaperRow& r : kTable3)
    if (algorithm == r.algorithm) return &r;
  return nullptr;
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// The paper's settings for an algorithm: Table 3 where it has a row; otherwise (§6.1) the
/// F-Fanions take F-Muon's, the S-Fanions S-Muon's, Neon and the Fanion-k Muon's.
inline const PaperRow& default_row(const std::string& algorithm) {
  if (const PaperRow* r = paper_row(algorithm)) return *r;
  if (starts_with(algorithm, "f-")) return *paper_row("f-muon");
  if (starts_with(algorithm, "s-")) return *paper_row("s-muon");
  return *paper_row("muon");
}

inline bool uses_alpha(const std::string& a) {
  return starts_with(a, "f-") || starts_with(a, "s-");
}
inline bool uses_sign_coeff(const std::string& a) { return starts_with(a, "s-"); }

}  // namespace fanion::app::lsq
