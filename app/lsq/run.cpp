// One `fanion lsq` run (see run.h).
#include "lsq/run.h"

#include <cmath>
#include <cstdio>
#include <exception>

#include "fanion/norms.h"
#include "fanion/optim/presets.h"

namespace fanion::app::lsq {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

optim::NormOptimizerOptions make_options(const Settings& s, const RunSpec& spec) {
  optim::NormOptimizerOptions o =
      optim::preset(spec.algorithm, spec.lr, spec.momentum, s.alpha, s.sign_lr_coeff);
  o.momentum_kind(s.momentum_kind);
  PolarOptions polar;
  if (s.muon_solver == "exact") {
    polar = PolarOptions::exact();
  } else if (s.muon_solver == "gram") {
    polar = PolarOptions::gram();
  } else {
    polar.set_method(PolarMethod::kNewtonSchulz)
        .set_schedule(s.muon_solver == "polar-express" ? NewtonSchulzSchedule::polar_express()
                                                       : NewtonSchulzSchedule::quintic())
        .set_steps(s.ns_steps)
        .set_tol(0.0)
        .set_gram_normalization(s.ns_normalization == "gram")
        .set_dtype(s.ns_dtype)
        .set_fp32_products(true);  // bf16 as the authors' GPU computes it, and 17x faster here
  }
  o.direction().with_polar(polar);
  return o;
}

RunResult run_one(const LsqProblem& P, const Settings& s, const RunSpec& spec, const RunStop& stop,
                  Progress& progress, const std::string& label) {
  RunResult r;
  r.spec = spec;
  r.seed = s.problem.seed;
  optim::NormOptimizerOptions options = make_options(s, spec);
  r.direction = options.direction().name();

  at::Tensor X = P.X0.clone();
  optim::NormOptimizer opt(std::vector<at::Tensor>{X}, options);

  const auto t0 = Clock::now();
  double logging = 0.0;
  int64_t last_logged = -1;
  auto log_point = [&](int64_t t, double L, const at::Tensor& G) {
    if (t == last_logged) return;
    last_logged = t;
    r.loss.emplace_back(t, L);
    r.loss_seconds.push_back(seconds_since(t0) - logging);
    if (stop.log_norms && std::isfinite(L)) {
      const auto l0 = Clock::now();
      const at::Tensor sv = norms::singular_values(G);
      r.norms.push_back({t, norms::frobenius(G), sv.numel() ? sv[0].item<double>() : 0.0,
                         sv.sum().item<double>()});
      logging += seconds_since(l0);
    }
  };

  int64_t t = 0;
  double L = 0.0;
  at::Tensor G;
  for (;; ++t) {
    // Loss and gradient at X_t share the product A (X - S) B.
    G = P.grad(X);
    L = 0.5 * at::sum((X - P.S) * G, at::kDouble).item<double>();
    if (t % s.log_every == 0) log_point(t, L, G);
    if (!std::isfinite(L)) {
      r.diverged = true;
      break;
    }
    // "Below", strictly, as the authors' code counts.
    if (L < s.target) {
      if (!r.iterations_to_target) r.iterations_to_target = t;
      if (!r.checked_iterations_to_target && t % s.check_every == 0)
        r.checked_iterations_to_target = t;
    }
    if (stop.at_target && r.checked_iterations_to_target) break;
    if (t >= s.max_iters) break;
    // At t >= best without the target, the earliest possible hit is t + 1 > best.
    if (stop.give_up_after && !r.iterations_to_target && t >= *stop.give_up_after) {
      r.stopped_early = true;
      break;
    }
    progress.update(
        label + "  iter " + std::to_string(t) + "/" + std::to_string(s.max_iters) + "  loss " +
        fmt("%.4e", L) + "  " + fmt("%.1fs", seconds_since(t0) - logging) +
        (t > 0 ? "  at most " +
                     format_duration(seconds_since(t0) / double(t) * double(s.max_iters - t)) +
                     " left"
               : std::string()));
    X.mutable_grad() = G;
    try {
      opt.step();
    } catch (const std::exception& e) {
      r.error = e.what();
      break;
    }
  }
  log_point(t, L, G);  // the last point, if not logged yet
  r.iterations = t;
  r.final_loss = L;
  r.logging_seconds = logging;
  r.seconds = seconds_since(t0) - logging;
  return r;
}

std::string iters_text(const RunResult& r, const std::optional<int64_t>& count) {
  if (!r.error.empty()) return "error";
  if (r.diverged) return "diverged";
  if (count) return std::to_string(*count);
  return r.stopped_early ? "(gave up)" : ">" + std::to_string(r.iterations);
}

}  // namespace fanion::app::lsq
