#include "fanion/solvers/polar.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "exact_svd.h"
#include "fanion/matrix.h"
#include "fanion/names.h"

namespace fanion {

NewtonSchulzSchedule NewtonSchulzSchedule::quintic() {
  return {"quintic", {{3.4445, -4.7750, 2.0315}}};
}

NewtonSchulzSchedule NewtonSchulzSchedule::cubic() { return {"cubic", {{1.5, -0.5, 0.0}}}; }

NewtonSchulzSchedule NewtonSchulzSchedule::polar_express_exact() {
  // Amsel, Persson, Musco, Gower (2025), Algorithm 1: optimal odd quintics for l = 1e-3,
  // each but the last divided by (1.01, 1.01^3, 1.01^5) for safety in low precision.
  const std::vector<NewtonSchulzCoefficients> raw = {
      {8.28721201814563, -23.595886519098837, 17.300387312530933},
      {4.107059111542203, -2.9478499167379106, 0.5448431082926601},
      {3.9486908534822946, -2.908902115962949, 0.5518191394370137},
      {3.3184196573706015, -2.488488024314874, 0.51004894012372},
      {2.300652019954817, -1.6689039845747493, 0.4188073119525673},
      {1.891301407787398, -1.2679958271945868, 0.37680408948524835},
      {1.8750014808534479, -1.2500016453999487, 0.3750001645474248},
  };
  NewtonSchulzSchedule s{"polar_express_exact", {}, 1.01};
  for (const auto& c : raw)
    s.steps.push_back({c.a / 1.01, c.b / std::pow(1.01, 3), c.c / std::pow(1.01, 5)});
  s.steps.push_back({1.875, -1.25, 0.375});  // (15x - 10x^3 + 3x^5) / 8: fixed point at 1
  return s;
}

NewtonSchulzSchedule NewtonSchulzSchedule::polar_express() {
  auto s = polar_express_exact();
  s.name = "polar_express";
  s.steps.resize(5);
  return s;
}

std::string to_string(PolarMethod m) {
  switch (m) {
    case PolarMethod::kExact:
      return "exact";
    case PolarMethod::kNewtonSchulz:
      return "newton_schulz";
    case PolarMethod::kGram:
      return "gram";
  }
  return "?";
}

PolarMethod polar_method_from_string(const std::string& name) {
  const std::string key = normalize_name(name);
  if (key == "exact" || key == "svd") return PolarMethod::kExact;
  if (key == "newton_schulz" || key == "ns") return PolarMethod::kNewtonSchulz;
  if (key == "gram") return PolarMethod::kGram;
  throw std::invalid_argument("fanion: unknown polar method '" + name +
                              "' (known: newton_schulz, exact, gram)");
}

NewtonSchulzSchedule NewtonSchulzSchedule::by_name(const std::string& name) {
  if (name == "quintic") return quintic();
  if (name == "cubic") return cubic();
  if (name == "polar_express" || name == "polar-express") return polar_express();
  if (name == "polar_express_exact" || name == "polar-express-exact") return polar_express_exact();
  throw std::invalid_argument("fanion: unknown Newton-Schulz schedule '" + name +
                              "' (known: quintic, cubic, polar_express, polar_express_exact)");
}

namespace {

void check_input(const at::Tensor& M) {
  if (!M.defined() || (M.dim() != 2 && M.dim() != 3)) {
    throw std::invalid_argument(
        "fanion::polar_factor: expected a 2-D tensor or a 3-D stack [B, m, n], got " +
        (M.defined() ? shape_string(M) : std::string("undefined")));
  }
}

// Frobenius norm of each matrix: a 0-d tensor for a 2-D X, [B, 1, 1] for a stack.
at::Tensor fro(const at::Tensor& X) {
  return X.dim() == 2 ? X.norm() : X.norm(2, {-2, -1}, /*keepdim=*/true);
}

// beta C + alpha A B, one GEMM per matrix (addmm for 2-D: that path stays as it was).
// With PolarOptions::fp32_products, bf16/fp16 products on a CPU run in fp32 and are rounded
// once, as a GPU's tensor cores do (inputs in the low precision, fp32 accumulation):
// LibTorch's own low-precision CPU kernels are ~17x slower than fp32 on CPUs without bf16
// instructions (500 x 500, 2 cores here), but they are what torch.optim.Muon runs on a CPU.
bool in_fp32(const at::Tensor& t, bool fp32_products) {
  return fp32_products && t.device().is_cpu() &&
         (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf);
}

at::Tensor add_mm(const at::Tensor& C, const at::Tensor& A, const at::Tensor& B, double beta,
                  double alpha, bool fp32_products) {
  if (in_fp32(A, fp32_products)) {
    return add_mm(C.to(at::kFloat), A.to(at::kFloat), B.to(at::kFloat), beta, alpha, false)
        .to(A.scalar_type());
  }
  return C.dim() == 2 ? at::addmm(C, A, B, beta, alpha) : at::baddbmm(C, A, B, beta, alpha);
}

/// X X^T (per slice), with add_mm's low-precision rule.
at::Tensor gram(const at::Tensor& X, bool fp32_products) {
  if (in_fp32(X, fp32_products)) return gram(X.to(at::kFloat), false).to(X.scalar_type());
  return at::matmul(X, X.transpose(-2, -1));
}

// The worst of two statuses: a numerical issue outranks non-convergence.
SolverStatus worst(SolverStatus a, SolverStatus b) {
  auto rank = [](SolverStatus s) {
    return s == SolverStatus::kNumericalIssue ? 2 : s == SolverStatus::kNotConverged ? 1 : 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

PolarResult exact_polar(const at::Tensor& M, const PolarOptions& options) {
  auto svd = options.method == PolarMethod::kGram ? detail::gram_svd(M, options.rel_rank_tol)
                                                  : detail::truncated_svd(M, options.rel_rank_tol);
  PolarResult out;
  out.Q = at::matmul(svd.U, svd.V.transpose(0, 1)).to(M.scalar_type());
  out.stats.iterations = 1;
  out.stats.passes = 1;
  return out;
}

// One code path for every schedule (docs/design.md §3): X <- a X + (b A + c A^2) X, A = X X^T,
// on the wide orientation so that A is the smaller Gram matrix. X is one matrix or a stack
// [B, m, n]; every norm is per matrix, so each slice of a stack follows its own 2-D iteration.
PolarResult newton_schulz(const at::Tensor& M, const PolarOptions& options) {
  if (options.steps < 0) {
    throw std::invalid_argument("fanion::polar_factor: steps must be >= 0, got " +
                                std::to_string(options.steps));
  }
  if (options.schedule.steps.empty()) {
    throw std::invalid_argument("fanion::polar_factor: schedule '" + options.schedule.name +
                                "' has no coefficients");
  }
  const bool tall = M.size(-2) > M.size(-1);
  at::Tensor X = M.to(options.dtype.value_or(M.scalar_type()));
  if (tall) X = X.transpose(-2, -1);
  // Frobenius normalization puts every singular value in [0, 1], inside the convergence
  // interval of every schedule; a zero matrix stays zero.
  const double tiny = std::numeric_limits<float>::min();
  X = X / fro(X).clamp_min(tiny);
  PolarResult out;
  const int64_t small = X.size(-2);
  const int64_t batch = X.dim() == 3 ? X.size(0) : 1;
  at::Tensor A = gram(X, options.fp32_products);
  out.stats.matmuls += 1;
  // sigma_1 <= (sum sigma_i^4)^(1/4) = ||X X^T||_F^(1/2) <= ||X||_F: a tighter bound that
  // starts the small singular values higher (fewer steps), free since X X^T is needed anyway.
  at::Tensor scale = options.gram_normalization ? fro(A).sqrt() : at::ones({}, A.options());
  scale = (scale * options.schedule.slack).clamp_min(tiny);
  X = X / scale;
  A = A / scale / scale;  // (scale * scale can underflow to 0 in fp32)
  const auto& table = options.schedule.steps;
  for (int64_t t = 0; t < options.steps; ++t) {
    const auto& co = table[std::min<size_t>(t, table.size() - 1)];
    if (t > 0) {
      A = gram(X, options.fp32_products);
      out.stats.matmuls += 1;
    }
    at::Tensor B = co.c != 0.0 ? add_mm(A, A, A, co.b, co.c, options.fp32_products) : A * co.b;
    at::Tensor next = add_mm(X, B, X, co.a, 1.0, options.fp32_products);
    out.stats.matmuls += co.c != 0.0 ? 2 : 1;
    out.stats.passes += 1;
    out.stats.iterations += 1;
    if (options.tol > 0.0) {
      // The worst slice decides; a zero matrix has converged (0 / tiny, not 0 / 0).
      out.stats.residual = (fro(next - X) / fro(X).clamp_min(tiny)).max().item<double>();
      X = next;
      if (out.stats.residual <= options.tol) break;
      if (t + 1 == options.steps) out.stats.status = SolverStatus::kNotConverged;
    } else {
      X = next;
    }
  }
  // A batched product counts once in matmuls and passes; matvecs counts every slice's work.
  out.stats.matvecs = out.stats.matmuls * small * batch;
  if (tall) X = X.transpose(-2, -1);
  out.Q = X.to(M.scalar_type()).contiguous();
  if (!at::isfinite(out.Q).all().item<bool>()) {
    out.stats.status = SolverStatus::kNumericalIssue;
  }
  return out;
}

// The exact paths one slice at a time (an SVD per matrix either way); stats add up, the
// worst status and residual win.
PolarResult exact_polar_batched(const at::Tensor& M, const PolarOptions& options) {
  PolarResult out;
  std::vector<at::Tensor> Qs;
  for (int64_t b = 0; b < M.size(0); ++b) {
    PolarResult r = exact_polar(M[b], options);
    Qs.push_back(r.Q);
    out.stats.status = worst(out.stats.status, r.stats.status);
    out.stats.iterations = std::max(out.stats.iterations, r.stats.iterations);
    out.stats.matvecs += r.stats.matvecs;
    out.stats.passes += r.stats.passes;
    out.stats.matmuls += r.stats.matmuls;
    out.stats.residual = std::max(out.stats.residual, r.stats.residual);
  }
  out.Q = at::stack(Qs);
  return out;
}

}  // namespace

PolarResult polar_factor(const at::Tensor& M, const PolarOptions& options) {
  check_input(M);
  if (M.numel() == 0) return {at::zeros_like(M), {}};
  switch (options.method) {
    case PolarMethod::kExact:
    case PolarMethod::kGram:
      return M.dim() == 2 ? exact_polar(M, options) : exact_polar_batched(M, options);
    case PolarMethod::kNewtonSchulz:
      return newton_schulz(M, options);
  }
  throw std::invalid_argument("fanion::polar_factor: unknown method");
}

}  // namespace fanion
