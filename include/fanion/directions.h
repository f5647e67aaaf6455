#pragma once
// Steepest directions d(M) = argmax_{||D|| <= 1} <M, D> (docs/design.md §1; the paper's LMO is -d).
//
// A Direction is a value: a weighted sum of basic terms. Weighted sums of directions are
// directions of the norm whose unit ball is the Minkowski sum of the balls (paper, Lemma 3/4,
// Corollary 5), so F-Fanions and S-Fanions are built with `+` and `*`, not special cases:
//
//   auto f_muon = 0.5 * Direction::muon() + 0.5 * Direction::nsgd();      // eq. 11
//   auto s_muon = 0.5 * Direction::muon() + 0.5 * 0.01 * Direction::sign(); // eq. 13
#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fanion/solvers/polar.h"
#include "fanion/solvers/top_k.h"

namespace fanion {

enum class DirectionKind {
  kNsgd,      ///< Frobenius ball: M / ||M||_F                    (eq. 6)
  kSign,      ///< Chebyshev ball: sign(M)                        (eq. 8)
  kMuon,      ///< spectral ball: U V^T                           (eq. 7)
  kFanion,    ///< dual Ky Fan k ball: sum_{i<=k} u_i v_i^T       (eq. 10)
  kSchatten,  ///< Schatten-p ball: U diag(s^(q-1)) V^T / ||s||_q^(q-1)
};
/// "nsgd", "sign", "muon", "fanion", "schatten".
std::string to_string(DirectionKind kind);
/// The inverse of to_string; throws std::invalid_argument naming the value and the known names.
DirectionKind direction_kind_from_string(const std::string& name);

/// One weighted basic direction. Solver options ride along with the term that uses them.
struct DirectionTerm {
  DirectionKind kind = DirectionKind::kNsgd;
  double weight = 1.0;
  int64_t k = 1;   ///< Fanion rank (clamped to the numerical rank of M)
  double p = 2.0;  ///< Schatten exponent, p in [1, inf]
  PolarOptions polar;
  TopKOptions top_k;
};

/// What a direction may keep for one parameter between steps: one slot per term, holding
/// the right singular basis an iterative top-k solver can warm-start from.
struct DirectionState {
  std::vector<at::Tensor> bases;
  /// Top-k solves that ended not converged or with a numerical issue and were redone by the
  /// exact SVD (docs/design.md §3): the answer is exact, but the solver did not do its job.
  int64_t fallbacks = 0;
};

class Direction {
 public:
  static Direction nsgd();
  static Direction sign();
  static Direction muon(PolarOptions polar = {});
  static Direction neon(TopKOptions top_k = {});
  static Direction fanion(int64_t k, TopKOptions top_k = {});
  static Direction schatten(double p);

  /// Conic combinations (Corollary 5). Any finite weight is accepted; a negative weight or
  /// alpha outside [0, 1] is no longer a norm ball (the paper's "no ball" runs).
  Direction operator+(const Direction& other) const;
  Direction operator*(double w) const;
  friend Direction operator*(double w, const Direction& d) { return d * w; }

  /// d(M) for a tensor of rank >= 1 (seen as its matrix view), same shape and dtype as M,
  /// computed in `compute_dtype` (default: fanion::default_compute_dtype). Never mutates M.
  at::Tensor operator()(const at::Tensor& M) const { return apply(M, nullptr); }
  at::Tensor apply(const at::Tensor& M, DirectionState* state,
                   std::optional<at::ScalarType> compute_dtype = std::nullopt) const;

  /// <M, d(M)> in exact arithmetic: the weighted sum of the terms' dual norms.
  double dual_norm(const at::Tensor& M) const;
  /// ||D|| in the primal norm, for single-term directions (closed form); nullopt otherwise.
  std::optional<double> primal_norm(const at::Tensor& D) const;

  /// Solver options for every Muon / Fanion term.
  Direction& with_polar(const PolarOptions& polar);
  Direction& with_top_k(const TopKOptions& top_k);

  std::string name() const;
  const std::vector<DirectionTerm>& terms() const { return terms_; }
  /// Throws std::invalid_argument naming the bad value (k < 1, p < 1, non-finite weight...).
  void validate() const;

 private:
  static Direction of(DirectionTerm term);
  std::vector<DirectionTerm> terms_;
};

/// F-Fanion-k: alpha * Fanion_k + (1 - alpha) * NSGD (eq. 11). k = kFullRank gives F-Muon.
Direction f_fanion(int64_t k, double alpha);
/// S-Fanion-k: alpha * Fanion_k + (1 - alpha) * sign_lr_coeff * sign (eq. 13; the paper's eta).
Direction s_fanion(int64_t k, double alpha, double sign_lr_coeff);

/// Fanion rank meaning min(m, n): Fanion-kFullRank is Muon and is computed as the polar factor.
inline constexpr int64_t kFullRank = std::numeric_limits<int64_t>::max();

/// A direction by family name and parameters — what the optimizer options and the CLI use.
/// family: nsgd, sign, muon, neon, fanion, f_fanion, s_fanion, f_muon, f_neon, s_muon,
/// s_neon, schatten.
Direction make_direction(const std::string& family, int64_t k = kFullRank, double alpha = 0.5,
                         double sign_lr_coeff = 1.0, double p = 2.0);

}  // namespace fanion
