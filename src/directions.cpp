#include "fanion/directions.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "fanion/matrix.h"
#include "fanion/names.h"
#include "fanion/norms.h"
#include "solvers/exact_svd.h"

namespace fanion {
namespace {

// d(cM) = d(M) for c > 0, but the solvers square and sum entries: in fp32 ||M||_F underflows
// below ~1e-19, and the Gram normalization of Newton–Schulz (||MᵀM||_F: fourth powers) under-
// or overflows outside ~[1e-9, 1e9] (fp64: [1e-76, 1e76]). Multiplying by a power of two that
// brings max|M_ij| into [1, 2) changes no bit of any later result (each operation only shifts
// exponents) except where a solver compares with an absolute constant, so it is done only
// outside [2^-E, 2^E], E = 24 (fp32, bf16) or 224 (fp64), which leaves room for fourth powers
// summed over 2^30 entries: ordinary gradients keep the exact arithmetic of published Muons. The
// decision is a tensor, not a host branch, so the GPU does not synchronize. fp16 is left alone (its
// range is too small to leave room). One reduction and one elementwise pass (docs/design.md §2).
at::Tensor scale_safe(const at::Tensor& mat) {
  const auto t = mat.scalar_type();
  if (t != at::kFloat && t != at::kDouble && t != at::kBFloat16) return mat;
  const bool fp64 = t == at::kDouble;
  const double E = fp64 ? 224.0 : 24.0;
  const auto amax = mat.abs().amax().to(at::kDouble);
  const auto e = at::floor(at::log2(amax)).clamp(fp64 ? -1022.0 : -126.0, fp64 ? 1023.0 : 127.0);
  const auto keep = e.abs().le(E).logical_or(amax.eq(0)).logical_or(amax.isfinite().logical_not());
  return mat * at::where(keep, at::ones_like(e), at::exp2(-e)).to(t);
}

// d for one basic term on a 2-D matrix already in the compute dtype. `warm` is the term's
// slot in the parameter's DirectionState (may be null).
at::Tensor basic_direction(const DirectionTerm& t, const at::Tensor& M, at::Tensor* warm,
                           int64_t* fallbacks) {
  switch (t.kind) {
    case DirectionKind::kNsgd: {
      // M / ||M||_F, and 0 for M = 0 (clamping the norm keeps it sync-free on GPU).
      // The clamp must be representable in M's dtype (DBL_MIN is 0 in fp32: 0/0 = NaN).
      const double tiny = M.scalar_type() == at::kDouble ? std::numeric_limits<double>::min()
                                                         : std::numeric_limits<float>::min();
      return M / M.norm().clamp_min(tiny);
    }
    case DirectionKind::kSign:
      return at::sign(M);
    case DirectionKind::kMuon:
      return polar_factor(M, t.polar).Q;
    case DirectionKind::kFanion: {
      const int64_t k = std::min<int64_t>(t.k, std::min(M.size(0), M.size(1)));
      auto r = top_k_svd(M, k, t.top_k, warm ? *warm : at::Tensor());
      const TopKMethod used = t.top_k.method == TopKMethod::kAuto
                                  ? top_k_auto_method(M.size(0), M.size(1), k)
                                  : t.top_k.method;
      if (r.stats.status != SolverStatus::kConverged) {
        // An unconverged subspace is not the direction: redo it exactly, and say so (§3).
        r = top_k_svd(M, k, TopKOptions(t.top_k).set_method(TopKMethod::kExact));
        if (fallbacks) ++*fallbacks;
      }
      if (warm && accepts_warm_start(used)) *warm = r.V;  // next step starts here (§3)
      return at::matmul(r.U, r.V.transpose(0, 1));
    }
    case DirectionKind::kSchatten: {
      auto svd = detail::truncated_svd(M, t.top_k.rel_rank_tol);
      at::Tensor w;
      if (svd.S.numel() == 0) return at::zeros_like(M);
      if (std::isinf(t.p)) {
        w = at::ones_like(svd.S);  // q = 1: the polar factor
      } else if (t.p == 1.0) {
        w = at::zeros_like(svd.S);  // q = inf: the top singular pair (Neon)
        w[0] = 1.0;
      } else {
        // U diag(s^(q-1)) V^T / ||s||_q^(q-1) = U diag((s / ||s||_q)^(q-1)) V^T
        const double q = t.p / (t.p - 1.0);
        const double s1 = svd.S[0].item<double>();
        auto sn = svd.S / s1;
        auto norm_q = sn.pow(q).sum().pow(1.0 / q);
        w = (sn / norm_q).pow(q - 1.0);
      }
      return at::matmul(svd.U * w, svd.V.transpose(0, 1)).to(M.scalar_type());
    }
  }
  throw std::invalid_argument("fanion: unknown direction kind");
}

double basic_dual_norm(const DirectionTerm& t, const at::Tensor& M) {
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return norms::frobenius(M);
    case DirectionKind::kSign:
      return norms::l1(M);
    case DirectionKind::kMuon:
      return norms::nuclear(M);
    case DirectionKind::kFanion:
      return norms::ky_fan(M, t.k);
    case DirectionKind::kSchatten:
      if (std::isinf(t.p)) return norms::nuclear(M);
      if (t.p == 1.0) return norms::spectral(M);
      return norms::schatten(M, t.p / (t.p - 1.0));
  }
  return 0.0;
}

double basic_primal_norm(const DirectionTerm& t, const at::Tensor& D) {
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return norms::frobenius(D);
    case DirectionKind::kSign:
      return norms::chebyshev(D);
    case DirectionKind::kMuon:
      return norms::spectral(D);
    case DirectionKind::kFanion:
      return norms::ky_fan_dual(D, t.k);
    case DirectionKind::kSchatten:
      return norms::schatten(D, t.p);
  }
  return 0.0;
}

std::string basic_name(const DirectionTerm& t) {
  switch (t.kind) {
    case DirectionKind::kNsgd:
      return "nsgd";
    case DirectionKind::kSign:
      return "sign";
    case DirectionKind::kMuon:
      return "muon";
    case DirectionKind::kFanion:
      return t.k == 1 ? "neon" : "fanion-" + std::to_string(t.k);
    case DirectionKind::kSchatten: {
      std::ostringstream os;
      os << "schatten-" << t.p;
      return os.str();
    }
  }
  return "?";
}

DirectionTerm term_of(DirectionKind kind) {
  DirectionTerm t;
  t.kind = kind;
  return t;
}

}  // namespace

Direction Direction::nsgd() { return Direction::of(term_of(DirectionKind::kNsgd)); }
Direction Direction::sign() { return Direction::of(term_of(DirectionKind::kSign)); }

Direction Direction::muon(PolarOptions polar) {
  DirectionTerm t = term_of(DirectionKind::kMuon);
  t.polar = std::move(polar);
  return Direction::of(std::move(t));
}

Direction Direction::neon(TopKOptions top_k) { return fanion(1, top_k); }

Direction Direction::fanion(int64_t k, TopKOptions top_k) {
  DirectionTerm t = term_of(DirectionKind::kFanion);
  t.k = k;
  t.top_k = top_k;
  return Direction::of(std::move(t));
}

Direction Direction::schatten(double p) {
  DirectionTerm t = term_of(DirectionKind::kSchatten);
  t.p = p;
  return Direction::of(std::move(t));
}

Direction Direction::of(DirectionTerm term) {
  Direction d;
  d.terms_.push_back(std::move(term));
  return d;
}

Direction Direction::operator+(const Direction& other) const {
  Direction d = *this;
  d.terms_.insert(d.terms_.end(), other.terms_.begin(), other.terms_.end());
  return d;
}

Direction Direction::operator*(double w) const {
  Direction d = *this;
  for (auto& t : d.terms_) t.weight *= w;
  return d;
}

Direction& Direction::with_polar(const PolarOptions& polar) {
  for (auto& t : terms_) t.polar = polar;
  return *this;
}

Direction& Direction::with_top_k(const TopKOptions& top_k) {
  for (auto& t : terms_) t.top_k = top_k;
  return *this;
}

void Direction::validate() const {
  if (terms_.empty()) throw std::invalid_argument("fanion: direction has no terms");
  for (const auto& t : terms_) {
    if (!std::isfinite(t.weight)) {
      std::ostringstream os;
      os << "fanion: direction weight must be finite, got " << t.weight << " for " << basic_name(t);
      throw std::invalid_argument(os.str());
    }
    if (t.kind == DirectionKind::kFanion && t.k < 1) {
      throw std::invalid_argument("fanion: Fanion rank k must be >= 1, got " + std::to_string(t.k));
    }
    if (t.kind == DirectionKind::kSchatten && !(t.p >= 1.0)) {
      std::ostringstream os;
      os << "fanion: Schatten exponent p must be in [1, inf], got " << t.p;
      throw std::invalid_argument(os.str());
    }
    if (t.kind == DirectionKind::kMuon && t.polar.steps < 0) {
      throw std::invalid_argument("fanion: Newton-Schulz steps must be >= 0, got " +
                                  std::to_string(t.polar.steps));
    }
  }
}

at::Tensor Direction::apply(const at::Tensor& M, DirectionState* state,
                            std::optional<at::ScalarType> compute_dtype) const {
  validate();
  const at::Tensor mat =
      as_matrix(M).to(compute_dtype.value_or(default_compute_dtype(M.scalar_type())));
  if (mat.numel() == 0) return at::zeros_like(M);  // an empty matrix has the zero direction
  if (state && state->bases.size() != terms_.size()) state->bases.resize(terms_.size());
  // sign(M) needs no rescaling, and rescaling could flush M's tiniest entries to 0.
  const bool only_sign = std::all_of(terms_.begin(), terms_.end(), [](const DirectionTerm& t) {
    return t.kind == DirectionKind::kSign;
  });
  const at::Tensor safe = only_sign ? mat : scale_safe(mat);
  at::Tensor out;
  for (size_t i = 0; i < terms_.size(); ++i) {
    const auto& t = terms_[i];
    at::Tensor d =
        basic_direction(t, t.kind == DirectionKind::kSign ? mat : safe,
                        state ? &state->bases[i] : nullptr, state ? &state->fallbacks : nullptr);
    if (!out.defined()) {
      out = t.weight == 1.0 ? d : d * t.weight;
    } else {
      out.add_(d, t.weight);
    }
  }
  return out.reshape(M.sizes()).to(M.scalar_type());
}

double Direction::dual_norm(const at::Tensor& M) const {
  validate();
  double total = 0.0;
  for (const auto& t : terms_) total += t.weight * basic_dual_norm(t, M);
  return total;
}

std::optional<double> Direction::primal_norm(const at::Tensor& D) const {
  validate();
  if (terms_.size() != 1 || !(terms_[0].weight > 0.0)) return std::nullopt;
  // The ball of w * B is {D : ||D|| <= w}.
  return basic_primal_norm(terms_[0], D) / terms_[0].weight;
}

std::string Direction::name() const {
  std::ostringstream os;
  for (size_t i = 0; i < terms_.size(); ++i) {
    if (i) os << " + ";
    if (terms_[i].weight != 1.0) os << terms_[i].weight << "*";
    os << basic_name(terms_[i]);
  }
  return os.str();
}

Direction f_fanion(int64_t k, double alpha) {
  const Direction low_rank = k == kFullRank ? Direction::muon() : Direction::fanion(k);
  return alpha * low_rank + (1.0 - alpha) * Direction::nsgd();
}

Direction s_fanion(int64_t k, double alpha, double sign_lr_coeff) {
  const Direction low_rank = k == kFullRank ? Direction::muon() : Direction::fanion(k);
  return alpha * low_rank + (1.0 - alpha) * sign_lr_coeff * Direction::sign();
}

std::string to_string(DirectionKind kind) {
  switch (kind) {
    case DirectionKind::kNsgd:
      return "nsgd";
    case DirectionKind::kSign:
      return "sign";
    case DirectionKind::kMuon:
      return "muon";
    case DirectionKind::kFanion:
      return "fanion";
    case DirectionKind::kSchatten:
      return "schatten";
  }
  return "?";
}

DirectionKind direction_kind_from_string(const std::string& name) {
  for (auto k : {DirectionKind::kNsgd, DirectionKind::kSign, DirectionKind::kMuon,
                 DirectionKind::kFanion, DirectionKind::kSchatten}) {
    if (to_string(k) == normalize_name(name)) return k;
  }
  throw std::invalid_argument("fanion: unknown direction kind '" + name +
                              "' (known: nsgd, sign, muon, fanion, schatten)");
}

Direction make_direction(const std::string& family_in, int64_t k, double alpha,
                         double sign_lr_coeff, double p) {
  const std::string family = normalize_name(family_in);
  if (family == "nsgd") return Direction::nsgd();
  if (family == "sign" || family == "signsgd") return Direction::sign();
  if (family == "muon") return Direction::muon();
  if (family == "neon") return Direction::neon();
  if (family == "fanion") return k == kFullRank ? Direction::muon() : Direction::fanion(k);
  if (family == "f_fanion") return f_fanion(k, alpha);
  if (family == "s_fanion") return s_fanion(k, alpha, sign_lr_coeff);
  if (family == "f_muon") return f_fanion(kFullRank, alpha);
  if (family == "f_neon") return f_fanion(1, alpha);
  if (family == "s_muon") return s_fanion(kFullRank, alpha, sign_lr_coeff);
  if (family == "s_neon") return s_fanion(1, alpha, sign_lr_coeff);
  if (family == "schatten") return Direction::schatten(p);
  throw std::invalid_argument(
      "fanion: unknown direction family '" + family_in +
      "' (known: nsgd, sign, muon, neon, fanion, f_fanion, s_fanion, f_muon, f_neon, s_muon, "
      "s_neon, schatten)");
}

}  // namespace fanion
