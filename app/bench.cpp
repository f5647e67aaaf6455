// `fanion bench lowrank|polar`: the solvers on the paper's Table 1 and Table 2 matrices, with
// work counters and errors against an exact reference computed in the same run.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "common_options.h"
#include "fanion/directions.h"
#include "fanion/optim/fanion.h"
#include "fanion/solvers/polar.h"
#include "fanion/solvers/top_k.h"
#include "json.h"
#include "lsq/problem.h"
#include "progress.h"
#include "report.h"

namespace fanion::app {
namespace {

/// The --json document of a bench command (docs/json.md): its name, the schema's version and
/// one row per measured case.
void write_json(const cli::Parser& p, const std::string& command, json::Value rows) {
  if (auto path = p.get("json"))
    json::write_file(*path, json::Value::object()
                                .set("command", command)
                                .set("schema_version", 1)
                                .set("rows", std::move(rows)));
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double rel_err(const at::Tensor& a, const at::Tensor& ref) {
  return ((a - ref).norm() / ref.norm().to(a.device())).item<double>();
}

// Kernels on an accelerator run asynchronously: read one number back before the clock stops.
template <typename T>
T synced(T result, const at::Tensor& t) {
  if (t.defined() && !t.device().is_cpu()) (void)t.sum().item<double>();
  return result;
}

// The matrices of the benchmarks: dense N(0,1) as in the paper, or U diag(s) V^T with a
// power-law spectrum s_i = i^-decay, closer to real gradients (Gaussian is the hardest case).
at::Tensor test_matrix(int64_t m, int64_t n, const std::string& spectrum, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  if (spectrum == "gaussian") return at::randn({m, n}, gen, opts);
  if (spectrum.rfind("power", 0) == 0) {
    const double decay = spectrum.size() > 5 ? std::stod(spectrum.substr(5)) : 1.0;
    const int64_t p = std::min(m, n);
    auto U = std::get<0>(at::linalg_qr(at::randn({m, p}, gen, opts), "reduced"));
    auto V = std::get<0>(at::linalg_qr(at::randn({n, p}, gen, opts), "reduced"));
    auto s = at::arange(1, p + 1, opts).pow(-decay);
    return at::matmul(U * s, V.transpose(0, 1));
  }
  throw cli::UsageError("unknown spectrum '" + spectrum + "' (gaussian, power, power0.5, ...)");
}

int64_t size_of(const std::string& text) {
  const int64_t n = cli::parse_int(text, "--sizes");
  if (n < 1) throw cli::UsageError("--sizes: sizes must be >= 1, got " + text);
  return n;
}

// Options every benchmark takes; parse() then prints --help (returns false) or applies
// --threads.
void add_common_options(cli::Parser& p) {
  options::add_device(p);
  p.option("seed", "N", "matrix seed", "0");
  options::add_threads(p);
  p.option("json", "PATH", "write the rows as JSON");
  p.flag("quiet", "no progress on stderr");
}

/// Progress over a benchmark's cases on stderr: "[all: about 2m left] [2/3] 1000x1000", the
/// estimate from the cases done; cleared before a row is printed on stdout.
class CaseProgress {
 public:
  CaseProgress(const cli::Parser& p, size_t total)
      : progress_(p.get_flag("quiet")), total_(total), t0_(Clock::now()) {}
  void start(const std::string& what) {
    progress_.update(left_in_all(seconds_since(t0_), done_, total_) + "[" +
                         std::to_string(done_ + 1) + "/" + std::to_string(total_) + "] " + what,
                     /*force=*/true);
    ++done_;
  }
  void clear() { progress_.done(); }

 private:
  Progress progress_;
  size_t total_, done_ = 0;
  Clock::time_point t0_;
};

bool parse(cli::Parser& p, int argc, char** argv) {
  if (!options::parse_or_help(p, argc, argv)) return false;
  options::apply_threads(p);
  (void)p.get_int("seed", 0);
  (void)options::checked_device(p);
  if (p.has("json")) report::check_output_path(p.get_string("json"), "--json");
  return true;
}

// Median time of `repeats` runs (the result of the last).
template <typename F>
auto time_median(int64_t repeats, F&& f) {
  std::vector<double> times;
  decltype(f()) result;
  for (int64_t r = 0; r < std::max<int64_t>(1, repeats); ++r) {
    const auto t0 = Clock::now();
    result = f();
    times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  return std::make_pair(times[times.size() / 2], result);
}

// The paper's Table 1 rows: (m, n, k) -> TRLan's time, matvecs, err2.
struct PaperRow {
  int64_t n, k;
  double trlan_seconds;
  int64_t trlan_matvecs;
  double trlan_err2;
};
const PaperRow kTable1[] = {
    {500, 5, 0.018, 131, 9.4e-5}, {500, 50, 0.16, 462, 3.0e-7}, {5000, 5, 0.70, 205, 7.7e-3}};

int bench_lowrank(int argc, char** argv) {
  cli::Parser p("fanion bench lowrank",
                "Top-k singular subspace solvers on the paper's Table 1 matrices (dense N(0,1), "
                "fp64) and on power-law spectra. Each method runs at the loosest tolerance whose "
                "err2 is no worse than the paper's TRLan ('matched') and at a tight tolerance.");
  p.option("cases", "LIST", "n:k[:spectrum] items (square n x n), spectrum gaussian|powerD",
           "500:5,500:50,5000:5,500:5:power1,2000:16:power1");
  p.option("methods", "LIST", "lanczos,block_krylov,subspace,gram,exact",
           "lanczos,block_krylov,subspace,gram,exact");
  p.option("tight", "TOL", "the tight tolerance", "1e-8");
  p.option("repeats", "N", "timed repeats (median)", "3");
  add_common_options(p);
  if (!parse(p, argc, argv)) return 0;
  const int64_t repeats = p.get_int("repeats", 1);
  const double tight = p.get_double("tight");
  if (!(tight > 0))
    throw cli::UsageError("--tight: must be positive, got " + p.get_string("tight"));
  json::Value rows = json::Value::array();
  std::printf("%-22s %-13s %-8s %9s %7s %8s %6s %10s %10s %s\n", "case", "method", "tol", "time[s]",
              "passes", "matvecs", "iters", "err1", "err2", "status");
  for (const auto& item : cli::split_list(p.get_string("cases"))) {  // all checked first
    const auto parts = cli::split_list(item, ':');
    if (parts.size() < 2) throw cli::UsageError("--cases: '" + item + "' is not n:k[:spectrum]");
    const int64_t n = cli::parse_int(parts[0], "--cases n"),
                  k = cli::parse_int(parts[1], "--cases k");
    if (n < 1 || k < 1 || k > n) throw cli::UsageError("--cases: '" + item + "' needs 1 <= k <= n");
  }
  CaseProgress cases(p, cli::split_list(p.get_string("cases")).size());
  for (const auto& item : cli::split_list(p.get_string("cases"))) {
    cases.start(item);
    const auto parts = cli::split_list(item, ':');
    const int64_t n = cli::parse_int(parts[0], "--cases n"),
                  k = cli::parse_int(parts[1], "--cases k");
    const std::string spectrum = parts.size() > 2 ? parts[2] : "gaussian";
    const at::Tensor M =
        test_matrix(n, n, spectrum, p.get_int("seed")).to(at::Device(p.get_string("device")));
    // Reference: the exact SVD (timed: it is also a peer).
    auto [exact_s, exact] = time_median(1, [&] {
      auto r = top_k_svd(M, k, TopKOptions{}.set_method(TopKMethod::kExact));
      return synced(r, r.S);
    });
    const at::Tensor ref1 = at::matmul(exact.U, exact.V.transpose(0, 1));
    const at::Tensor ref2 = at::matmul(exact.U * exact.S, exact.V.transpose(0, 1));
    double paper_err2 = 0;
    for (const auto& row : kTable1) {
      if (row.n == n && row.k == k && spectrum == "gaussian") paper_err2 = row.trlan_err2;
    }
    const double target = paper_err2 > 0 ? paper_err2 : 1e-4;
    const std::string case_name =
        std::to_string(n) + "x" + std::to_string(n) + " k=" + std::to_string(k) + " " + spectrum;
    for (const auto& method_name : cli::split_list(p.get_string("methods"))) {
      const TopKMethod method = top_k_method_from_string(method_name);
      auto run = [&](double tol) {
        auto opts = TopKOptions{}.set_method(method).set_tol(tol).set_seed(p.get_int("seed"));
        return time_median(repeats, [&] {
          auto r = top_k_svd(M, k, opts);
          return synced(r, r.S);
        });
      };
      auto errors = [&](const TopKResult& r) {
        return std::make_pair(rel_err(at::matmul(r.U, r.V.transpose(0, 1)), ref1),
                              rel_err(at::matmul(r.U * r.S, r.V.transpose(0, 1)), ref2));
      };
      std::vector<std::pair<std::string, double>> tolerances;
      const bool direct = method == TopKMethod::kExact || method == TopKMethod::kGram;
      if (direct) {
        tolerances.push_back({"direct", 0.0});
      } else {
        // The loosest tolerance of a ladder that reaches err2 <= target (untimed search).
        double matched = tight;
        for (double tol : {3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 1e-6}) {
          auto r = top_k_svd(
              M, k, TopKOptions{}.set_method(method).set_tol(tol).set_seed(p.get_int("seed")));
          if (errors(r).second <= target) {
            matched = tol;
            break;
          }
        }
        tolerances.push_back({"matched", matched});
        tolerances.push_back({"tight", tight});
      }
      for (const auto& [label, tol] : tolerances) {
        auto [secs, r] = method == TopKMethod::kExact ? std::make_pair(exact_s, exact) : run(tol);
        auto [e1, e2] = errors(r);
        char tol_text[32];
        std::snprintf(tol_text, sizeof tol_text, "%.0e", tol);
        cases.clear();
        std::printf("%-22s %-13s %-8s %9.4f %7lld %8lld %6lld %10.2e %10.2e %s\n",
                    case_name.c_str(), method_name.c_str(), direct ? "-" : tol_text, secs,
                    static_cast<long long>(r.stats.passes), static_cast<long long>(r.stats.matvecs),
                    static_cast<long long>(r.stats.iterations), e1, e2,
                    to_string(r.stats.status).c_str());
        std::fflush(stdout);
        json::Value row = json::Value::object();
        row.set("n", n)
            .set("k", k)
            .set("spectrum", spectrum)
            .set("method", method_name)
            .set("setting", label)
            .set("tol", tol)
            .set("seconds", secs)
            .set("passes", r.stats.passes)
            .set("matvecs", r.stats.matvecs)
            .set("iterations", r.stats.iterations)
            .set("err1", e1)
            .set("err2", e2)
            .set("status", to_string(r.stats.status))
            .set("paper_trlan_err2", paper_err2 > 0 ? json::Value(paper_err2) : json::Value());
        rows.push_back(std::move(row));
      }
    }
  }
  write_json(p, "bench lowrank", std::move(rows));
  return 0;
}

int bench_polar(int argc, char** argv) {
  cli::Parser p("fanion bench polar",
                "Newton–Schulz schedules against the exact polar factor on dense N(0,1) matrices "
                "(the paper's Table 2). Each schedule runs the fewest steps that reach --err.");
  p.option("sizes", "LIST", "square sizes", "500,1000");
  p.option("schedules", "LIST", "cubic,quintic,polar_express,polar_express_exact",
           "cubic,quintic,polar_express,polar_express_exact");
  p.option("err", "E", "target err1 (the paper's cubic reaches 4.8e-3 and 6.5e-3)", "5e-3");
  p.option("max-steps", "N", "most steps tried", "60");
  p.option("dtype", "T", "float64, float32 or bfloat16", "float64");
  p.option("repeats", "N", "timed repeats (median)", "3");
  add_common_options(p);
  if (!parse(p, argc, argv)) return 0;
  const std::string dtype_name = p.get_string("dtype");
  if (dtype_name != "float64" && dtype_name != "float32" && dtype_name != "bfloat16")
    throw cli::UsageError("--dtype: expected float64, float32 or bfloat16, got '" + dtype_name +
                          "'");
  const auto dtype = dtype_name == "float32"    ? at::kFloat
                     : dtype_name == "bfloat16" ? at::kBFloat16
                                                : at::kDouble;
  const double target = p.get_double("err");
  if (!(target > 0)) throw cli::UsageError("--err: must be positive, got " + p.get_string("err"));
  (void)p.get_int("repeats", 1);
  (void)p.get_int("max-steps", 1);
  json::Value rows = json::Value::array();
  std::printf("%-10s %-20s %6s %9s %8s %9s %10s %s\n", "size", "schedule", "steps", "time[s]",
              "matmuls", "matvecs", "err1", "reached");
  CaseProgress cases(p, cli::split_list(p.get_string("sizes")).size());
  for (const auto& size_text : cli::split_list(p.get_string("sizes"))) {
    cases.start(size_text + "x" + size_text);
    const int64_t n = size_of(size_text);
    const at::Tensor M = test_matrix(n, n, "gaussian", p.get_int("seed"))
                             .to(at::Device(p.get_string("device")), dtype);
    auto [exact_s, exact] = time_median(1, [&] {
      auto r = polar_factor(M, PolarOptions::exact());
      return synced(r, r.Q);
    });
    const at::Tensor ref = exact.Q.to(at::kDouble);
    auto print = [&](const std::string& name, int64_t steps, double secs, const PolarResult& r,
                     double e1) {
      cases.clear();
      std::printf("%-10s %-20s %6lld %9.4f %8lld %9lld %10.2e %s\n",
                  (std::to_string(n) + "^2").c_str(), name.c_str(), static_cast<long long>(steps),
                  secs, static_cast<long long>(r.stats.matmuls),
                  static_cast<long long>(r.stats.matvecs), e1, e1 <= target ? "yes" : "no");
      std::fflush(stdout);
      json::Value row = json::Value::object();
      row.set("n", n)
          .set("schedule", name)
          .set("steps", steps)
          .set("seconds", secs)
          .set("matmuls", r.stats.matmuls)
          .set("matvecs", r.stats.matvecs)
          .set("err1", e1)
          .set("target", target);
      rows.push_back(std::move(row));
    };
    print("exact (SVD)", 0, exact_s, exact, 0.0);
    {
      auto [gram_s, gram] = time_median(p.get_int("repeats"), [&] {
        auto r = polar_factor(M, PolarOptions::gram());
        return synced(r, r.Q);
      });
      print("gram (eigh, fp64)", 0, gram_s, gram, rel_err(gram.Q.to(at::kDouble), ref));
    }
    for (const auto& name : cli::split_list(p.get_string("schedules"))) {
      const auto schedule = NewtonSchulzSchedule::by_name(name);
      auto err_at = [&](int64_t steps) {
        auto r = polar_factor(M, PolarOptions{}.set_schedule(schedule).set_steps(steps));
        return rel_err(r.Q.to(at::kDouble), ref);
      };
      // Fewest steps reaching the target: bisection (the error falls with the step count);
      // a schedule that never reaches it is reported at its best of max-steps.
      int64_t hi = p.get_int("max-steps");
      int64_t steps = hi;
      if (err_at(hi) <= target) {
        int64_t lo = 0;  // err_at(lo) > target
        while (hi - lo > 1) {
          const int64_t mid = (lo + hi) / 2;
          (err_at(mid) <= target ? hi : lo) = mid;
        }
        steps = hi;
      } else {
        // Schedules that plateau (the quintic, 5-step Polar Express): report their usual
        // length, the one Muon runs.
        steps = std::max<int64_t>(5, static_cast<int64_t>(schedule.steps.size()));
      }
      auto [secs, r] = time_median(p.get_int("repeats"), [&] {
        auto q = polar_factor(M, PolarOptions{}.set_schedule(schedule).set_steps(steps));
        return synced(q, q.Q);
      });
      print(name, steps, secs, r, rel_err(r.Q.to(at::kDouble), ref));
    }
  }
  write_json(p, "bench polar", std::move(rows));
  return 0;
}

// The momentum matrices a Muon run on the least-squares problem (paper §6.1) produces: a
// slowly changing sequence, as an optimizer sees it.
std::vector<at::Tensor> momentum_sequence(int64_t n, int64_t steps, int64_t warmup, uint64_t seed) {
  LsqConfig config;
  config.m = config.n = n;
  config.seed = seed;
  config.dtype = at::kFloat;
  const LsqProblem problem = make_lsq_problem(config);
  at::Tensor X = problem.X0.clone();
  at::Tensor buffer;
  const auto muon = Direction::muon();
  std::vector<at::Tensor> out;
  for (int64_t t = 0; t < warmup + steps; ++t) {
    const at::Tensor M =
        optim::effective_gradient(optim::MomentumKind::kNesterov, 0.9, problem.grad(X), buffer);
    if (t >= warmup) out.push_back(M.clone());
    X.sub_(muon(M), 0.01);
  }
  return out;
}

int bench_step(int argc, char** argv) {
  cli::Parser p("fanion bench step",
                "Per-step cost of the direction computation on a sequence of slowly changing "
                "momentum matrices (a Muon run on the §6.1 least-squares problem, fp32): Muon "
                "(quintic, Polar Express) against Fanion-k and F-Fanion-k, warm and cold.");
  p.option("sizes", "LIST", "square sizes", "1024,2048");
  p.option("ks", "LIST", "Fanion ranks", "1,4,16,64");
  p.option("steps", "N", "timed steps per method", "8");
  p.option("warmup", "N", "optimizer steps before the sequence starts", "20");
  p.option("method", "M", "top-k solver: block_krylov, subspace, lanczos", "block_krylov");
  p.option("tol", "T", "top-k subspace tolerance", "1e-2");
  add_common_options(p);
  if (!parse(p, argc, argv)) return 0;
  const int64_t steps = p.get_int("steps", 1);
  (void)p.get_int("warmup", 0);
  if (!(p.get_double("tol") > 0))
    throw cli::UsageError("--tol: must be positive, got " + p.get_string("tol"));
  const TopKMethod method = top_k_method_from_string(p.get_string("method"));
  json::Value rows = json::Value::array();
  std::printf("%-7s %-26s %-5s %10s %8s %8s %10s %11s %11s\n", "size", "direction", "start",
              "ms/step", "vs muon", "passes", "max err1", "state[MB]", "work[MB]");
  CaseProgress cases(p, cli::split_list(p.get_string("sizes")).size());
  for (const auto& size_text : cli::split_list(p.get_string("sizes"))) {
    cases.start(size_text + "x" + size_text);
    const int64_t n = size_of(size_text);
    auto sequence = momentum_sequence(n, steps, p.get_int("warmup"), p.get_int("seed"));
    for (auto& M : sequence) M = M.to(at::Device(p.get_string("device")));
    const double mb = 4.0 / (1024.0 * 1024.0);  // fp32 numbers -> MiB
    double muon_ms = 0.0;
    auto report = [&](const std::string& name, const std::string& start, double ms, double passes,
                      double err, double state_numbers, double work_numbers) {
      cases.clear();
      std::printf("%-7lld %-26s %-5s %10.2f %8.3f %8.1f %10s %11.1f %11.1f\n",
                  static_cast<long long>(n), name.c_str(), start.c_str(), ms,
                  muon_ms > 0 ? ms / muon_ms : 1.0, passes,
                  err >= 0 ? (std::to_string(err).substr(0, 8)).c_str() : "-", state_numbers * mb,
                  work_numbers * mb);
      std::fflush(stdout);
      json::Value row = json::Value::object();
      row.set("n", n)
          .set("direction", name)
          .set("start", start)
          .set("ms_per_step", ms)
          .set("ratio_to_muon_quintic", muon_ms > 0 ? ms / muon_ms : 1.0)
          .set("passes_per_step", passes)
          .set("max_err1", err >= 0 ? json::Value(err) : json::Value())
          .set("state_mib", state_numbers * mb)
          .set("workspace_mib", work_numbers * mb);
      rows.push_back(std::move(row));
    };
    const double nn = static_cast<double>(n) * static_cast<double>(n);
    // Muon: state = momentum (n^2); workspace = X, X X^T, its square, the next X.
    for (const auto& schedule :
         {NewtonSchulzSchedule::quintic(), NewtonSchulzSchedule::polar_express(),
          NewtonSchulzSchedule{"gram (eigh, fp64)", {}, 1.0}}) {
      const bool gram = schedule.steps.empty();
      const auto opts =
          gram ? PolarOptions::gram() : PolarOptions{}.set_schedule(schedule).set_steps(5);
      double total = 0.0;
      for (const auto& M : sequence) {
        const auto t0 = Clock::now();
        auto r = polar_factor(M, opts);
        synced(0, r.Q);
        total += seconds_since(t0);
      }
      const double ms = 1e3 * total / static_cast<double>(sequence.size());
      if (muon_ms == 0.0) muon_ms = ms;
      report("muon " + schedule.name + (gram ? "" : " x5"), "-", ms, gram ? 1 : 5, -1, nn,
             gram ? 3 * nn : 4 * nn);
    }
    for (const auto& k_text : cli::split_list(p.get_string("ks"))) {
      const int64_t k = cli::parse_int(k_text, "k");
      const auto top_k = TopKOptions{}.set_method(method).set_tol(p.get_double("tol"));
      // Exact top-k subspaces for err1, from a tight fp64 Krylov solve.
      std::vector<at::Tensor> refs;
      for (const auto& M : sequence) {
        auto r = top_k_svd(M.to(at::kDouble), k,
                           TopKOptions{}.set_method(TopKMethod::kBlockKrylov).set_tol(1e-10));
        refs.push_back(at::matmul(r.U, r.V.transpose(0, 1)));
      }
      for (const bool f_variant : {false, true}) {
        Direction dir = Direction::fanion(k, top_k);
        if (f_variant) dir = 0.5 * dir + 0.5 * Direction::nsgd();
        const std::string name = (f_variant ? "f-fanion-" : "fanion-") + std::to_string(k);
        for (const bool warm : {false, true}) {
          DirectionState state;
          double total = 0.0, passes = 0.0, worst = 0.0;
          for (size_t t = 0; t < sequence.size(); ++t) {
            const auto& M = sequence[t];
            const at::Tensor start = warm && !state.bases.empty() ? state.bases[0] : at::Tensor();
            const auto t0 = Clock::now();
            auto r = top_k_svd(M, k, top_k, start);
            at::Tensor d = at::matmul(r.U, r.V.transpose(0, 1));
            if (f_variant) d = 0.5 * d + 0.5 * (M / M.norm());
            synced(0, d);
            total += seconds_since(t0);
            passes += static_cast<double>(r.stats.passes);
            if (warm) state.bases = {r.V};
            const at::Tensor low = at::matmul(r.U, r.V.transpose(0, 1)).to(at::kDouble);
            worst = std::max(worst, rel_err(low, refs[t]));
          }
          const double steps_d = static_cast<double>(sequence.size());
          // Workspace of block Golub–Kahan: U (n x d), V and M^T U (n x d each), d <= basis.
          const double block = std::max<int64_t>(k, 4);
          const double d = std::min<double>(
              static_cast<double>(n), std::max(3.0 * k, k + std::max(30.0, 8 * block)) + block);
          report(name, warm ? "warm" : "cold", 1e3 * total / steps_d, passes / steps_d, worst,
                 nn + (warm ? static_cast<double>(n) * k : 0.0), 3.0 * n * d);
        }
      }
    }
  }
  write_json(p, "bench step", std::move(rows));
  return 0;
}

}  // namespace

int bench_main(int argc, char** argv) {
  const std::string usage =
      "usage: fanion bench <lowrank|polar|step> [options]   (fanion bench <what> --help)";
  if (argc < 2) throw cli::UsageError("which benchmark? " + usage);
  const std::string what = argv[1];
  if (what == "lowrank") return bench_lowrank(argc - 1, argv + 1);
  if (what == "polar") return bench_polar(argc - 1, argv + 1);
  if (what == "step") return bench_step(argc - 1, argv + 1);
  if (what == "-h" || what == "--help") {
    std::cout << usage << "\n  lowrank  top-k subspace solvers (paper Table 1)\n"
              << "  polar    Newton–Schulz schedules (paper Table 2)\n"
              << "  step     per-step cost of Muon vs warm/cold Fanion-k in an optimizer\n";
    return 0;
  }
  throw cli::UsageError("unknown benchmark '" + what + "'; " + usage);
}

}  // namespace fanion::app
