#pragma once
// Polar factor U V^T of M = U S V^T (the Muon direction, paper eq. 7).
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "fanion/solvers/status.h"

namespace fanion {

enum class PolarMethod {
  kExact,         ///< SVD in fp64: the reference, and the choice for small matrices
  kNewtonSchulz,  ///< a coefficient table run by one Newton–Schulz routine
  /// Gram matrix of the smaller side + symmetric eigensolver in fp64: exact to ~1e-6
  /// relative singular values, and on a CPU cheaper than 5 quintic Newton–Schulz steps.
  kGram,
};
/// "exact", "newton_schulz", "gram".
std::string to_string(PolarMethod m);
/// The inverse of to_string (any case, '-' for '_'; also "svd" and "ns"); throws
/// std::invalid_argument naming the value and the known names.
PolarMethod polar_method_from_string(const std::string& name);

/// One Newton–Schulz step X <- a X + b (X X^T) X + c (X X^T)^2 X.
struct NewtonSchulzCoefficients {
  double a, b, c;
};

/// Per-step coefficient tables (docs/design.md §3). The last row repeats when the table is
/// shorter than the requested number of steps.
struct NewtonSchulzSchedule {
  std::string name;
  std::vector<NewtonSchulzCoefficients> steps;
  /// The input is divided by slack * ||M||_F, so every singular value starts in
  /// [0, 1 / slack], inside the interval the table was designed for.
  double slack = 1.0;
  /// Keller Jordan's quintic (3.4445, -4.7750, 2.0315): fast, converges to singular values
  /// in roughly [0.7, 1.2], not to the exact polar factor.
  static NewtonSchulzSchedule quintic();
  /// The classic cubic (1.5, -0.5, 0): the paper's Table 2 reference, converges exactly.
  static NewtonSchulzSchedule cubic();
  /// Polar Express, degree 5 (Amsel et al. 2025, designed for singular values in [1e-3, 1],
  /// with their 1.01 safety factor): the first 5 rows, the schedule used for Muon.
  static NewtonSchulzSchedule polar_express();
  /// Polar Express followed by the exact quintic (15x - 10x^3 + 3x^5)/8, which it repeats:
  /// converges to the exact polar factor (give it 8 or more steps).
  static NewtonSchulzSchedule polar_express_exact();
  /// By name: quintic, cubic, polar_express, polar_express_exact.
  static NewtonSchulzSchedule by_name(const std::string& name);
};

struct PolarOptions {
  PolarMethod method = PolarMethod::kNewtonSchulz;
  NewtonSchulzSchedule schedule = NewtonSchulzSchedule::quintic();
  int64_t steps = 5;  ///< Newton–Schulz steps (the most, when tol > 0)
  /// Start from X / ||X X^T||_F^(1/2) (a tighter upper bound of sigma_1 than ||X||_F, free):
  /// fewer steps for the same accuracy. false: the classic Frobenius normalization.
  bool gram_normalization = true;
  /// Stop early once ||X_{t+1} - X_t||_F <= tol * ||X_t||_F (0: always run `steps`).
  double tol = 0.0;
  /// Dtype of the iteration; nullopt means the dtype of the input.
  std::optional<at::ScalarType> dtype;
  /// Singular values at or below rel_rank_tol * sigma_1 count as zero in the exact path.
  double rel_rank_tol = 1e-12;
  /// A bf16/fp16 iteration on a CPU: true runs each product in fp32 and rounds it once (a GPU's
  /// tensor-core rule, ~17x faster than LibTorch's low-precision CPU kernels on CPUs without
  /// bf16 instructions); false uses LibTorch's own kernels, as torch.optim.Muon does on a CPU.
  bool fp32_products = false;

  // One chainable setter per line (kept by hand).
  // clang-format off
  PolarOptions& set_method(PolarMethod m) { method = m; return *this; }
  PolarOptions& set_steps(int64_t s) { steps = s; return *this; }
  PolarOptions& set_schedule(NewtonSchulzSchedule s) { schedule = std::move(s); return *this; }
  PolarOptions& set_tol(double t) { tol = t; return *this; }
  PolarOptions& set_gram_normalization(bool g) { gram_normalization = g; return *this; }
  PolarOptions& set_dtype(std::optional<at::ScalarType> d) { dtype = d; return *this; }
  PolarOptions& set_fp32_products(bool f) { fp32_products = f; return *this; }
  // clang-format on

  static PolarOptions exact() { return PolarOptions{}.set_method(PolarMethod::kExact); }
  static PolarOptions gram() { return PolarOptions{}.set_method(PolarMethod::kGram); }
};

struct PolarResult {
  at::Tensor Q;  ///< same shape and dtype as the input
  SolverStats stats;
};

/// Polar factor of a 2-D tensor, or of each matrix of a 3-D stack [B, m, n] (same-shape
/// matrices, e.g. the layers of a sharded optimizer step). Never mutates M. A zero matrix
/// (or slice) gives zeros.
///
/// A stack runs Newton–Schulz as one set of batched matmuls (B GEMMs per product, one call),
/// every slice normalized by its own norms exactly as a 2-D input is, so each slice equals
/// polar_factor(M[b]) up to BLAS rounding. With tol > 0 the stack stops when every slice meets
/// the tolerance (stats.residual is the worst slice's), so a slice may run more steps than it
/// would alone. Counters: a batched product counts once in matmuls and passes; matvecs
/// counts every slice (matmuls * min(m, n) * B). The exact and Gram methods solve the slices
/// one by one and add up their counters.
PolarResult polar_factor(const at::Tensor& M, const PolarOptions& options = {});

}  // namespace fanion
