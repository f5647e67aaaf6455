#pragma once
// Shared helpers for test_optim.cpp and test_bad_input.cpp: independent reference formulas
// (exact SVD in fp64, NSGD, sign, AdamW, momentum kinds), snapshots of parameters and
// optimizer state, and error-message capture. Nothing here calls the library's direction or
// solver code: the references are computed from scratch so that the tests are independent.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "fanion/directions.h"
#include "fanion/optim/fanion.h"
#include "fanion/optim/presets.h"

namespace fanion_optim_test {

using fanion::optim::MomentumKind;
using fanion::optim::NormOptimizerOptions;
using fanion::optim::NormOptimizerParamState;

inline at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }
inline at::TensorOptions f32() { return at::TensorOptions().dtype(at::kFloat); }

/// (out, d1, d2, ...) -> (out, d1*d2*...), 2-D unchanged (docs/design.md §2).
inline at::Tensor mat_view(const at::Tensor& t) {
  return t.dim() == 2 ? t : t.reshape({t.size(0), -1});
}

/// U V^T of the matrix view, by fp64 SVD, returned in M's shape and dtype.
inline at::Tensor ref_polar(const at::Tensor& M) {
  at::Tensor M2 = mat_view(M).to(at::kDouble);
  at::Tensor U, S, Vh;
  std::tie(U, S, Vh) = at::linalg_svd(M2, /*full_matrices=*/false);
  return at::matmul(U, Vh).reshape(M.sizes()).to(M.scalar_type());
}

/// sum_{i<=k} u_i v_i^T (k clamped to min(m, n)) by fp64 SVD.
inline at::Tensor ref_top_k(const at::Tensor& M, int64_t k) {
  at::Tensor M2 = mat_view(M).to(at::kDouble);
  at::Tensor U, S, Vh;
  std::tie(U, S, Vh) = at::linalg_svd(M2, /*full_matrices=*/false);
  const int64_t r = std::min<int64_t>(k, S.size(0));
  at::Tensor D = at::matmul(U.narrow(1, 0, r), Vh.narrow(0, 0, r));
  return D.reshape(M.sizes()).to(M.scalar_type());
}

inline at::Tensor ref_nsgd(const at::Tensor& M) {
  at::Tensor Md = M.to(at::kDouble);
  const double n = std::sqrt(Md.pow(2).sum().item<double>());
  if (n == 0.0) return at::zeros_like(M);
  return (Md / n).to(M.scalar_type());
}

inline at::Tensor ref_sign(const at::Tensor& M) { return at::sign(M); }

/// A direction computed independently of the library, on a tensor of any rank >= 2.
using RefDirection = std::function<at::Tensor(const at::Tensor&)>;

/// B and M of the four momentum kinds, with the buffer starting at zero.
struct RefMomentum {
  MomentumKind kind;
  double beta;
  at::Tensor buf;
  RefMomentum(MomentumKind k, double b) : kind(k), beta(b) {}
  at::Tensor operator()(const at::Tensor& g) {
    if (!buf.defined()) buf = at::zeros_like(g);
    switch (kind) {
      case MomentumKind::kNone:
        return g.clone();
      case MomentumKind::kHeavyBall:
        buf = buf * beta + g;
        return buf.clone();
      case MomentumKind::kNesterov:
        buf = buf * beta + g;
        return g + beta * buf;
      case MomentumKind::kNesterovEq4:
        buf = buf * beta + (1.0 - beta) * g;
        return g + beta * buf;
    }
    return {};
  }
};

/// One Fanion parameter run by hand: momentum, direction, decoupled decay, shape scale.
struct RefFanionParam {
  at::Tensor X;  // plain tensor, no autograd
  RefMomentum mom;
  RefDirection dir;
  double scale = 1.0;
  bool normalize = false;
  RefFanionParam(at::Tensor x, MomentumKind k, double beta, RefDirection d, double s = 1.0,
                 bool norm = false)
      : X(x.detach().clone()), mom(k, beta), dir(std::move(d)), scale(s), normalize(norm) {}
  void step(const at::Tensor& g, double lr, double wd) {
    at::Tensor M = mom(g);
    if (normalize) {
      const double fro = std::sqrt(X.to(at::kDouble).pow(2).sum().item<double>());
      X = X * (std::sqrt(static_cast<double>(X.size(0))) / fro);
    }
    X = X * (1.0 - lr * wd) - (lr * scale) * dir(M);
  }
};

/// torch.optim.AdamW, by hand.
struct RefAdamW {
  at::Tensor p;
  double lr, b1, b2, eps, wd;
  at::Tensor m, v;
  int64_t t = 0;
  RefAdamW(at::Tensor x, double lr_, double b1_, double b2_, double eps_, double wd_)
      : p(x.detach().clone()), lr(lr_), b1(b1_), b2(b2_), eps(eps_), wd(wd_) {}
  void step(const at::Tensor& g) {
    if (!m.defined()) {
      m = at::zeros_like(g);
      v = at::zeros_like(g);
    }
    ++t;
    p = p * (1.0 - lr * wd);
    m = b1 * m + (1.0 - b1) * g;
    v = b2 * v + (1.0 - b2) * g * g;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(t));
    at::Tensor denom = v.sqrt() / std::sqrt(bc2) + eps;
    p = p - (lr / bc1) * m / denom;
  }
};

inline at::Tensor leaf(const at::Tensor& t) { return t.detach().clone().requires_grad_(true); }

inline void set_grad(const at::Tensor& p, const at::Tensor& g) {
  p.mutable_grad() = g.detach().clone();
}

inline NormOptimizerOptions& group_options(torch::optim::Optimizer& opt, size_t g) {
  return static_cast<NormOptimizerOptions&>(opt.param_groups().at(g).options());
}

inline torch::optim::OptimizerParamGroup make_group(std::vector<at::Tensor> params,
                                                    const NormOptimizerOptions& o) {
  return torch::optim::OptimizerParamGroup(std::move(params),
                                           std::make_unique<NormOptimizerOptions>(o));
}

inline bool same_tensor(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  return at::equal(a, b);
}

inline ::testing::AssertionResult close(const at::Tensor& actual, const at::Tensor& expected,
                                        double tol) {
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << "undefined tensor";
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " vs " << expected.sizes();
  at::Tensor a = actual.detach().to(at::kDouble), e = expected.detach().to(at::kDouble);
  if (!at::isfinite(a).all().item<bool>())
    return ::testing::AssertionFailure() << "non-finite values in\n" << a;
  const double err = (a - e).abs().max().item<double>();
  const double ref = std::max(1.0, e.abs().max().item<double>());
  if (err <= tol * ref) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max abs error " << err << " > " << tol * ref << "\nactual:\n"
         << a << "\nexpected:\n"
         << e;
}

// --- snapshots ------------------------------------------------------------------------------

inline std::vector<at::Tensor> clone_params(const torch::optim::Optimizer& opt) {
  std::vector<at::Tensor> out;
  for (const auto& g : opt.param_groups())
    for (const auto& p : g.params()) out.push_back(p.detach().clone());
  return out;
}

inline ::testing::AssertionResult params_equal(const torch::optim::Optimizer& opt,
                                               const std::vector<at::Tensor>& saved) {
  size_t i = 0;
  for (size_t gi = 0; gi < opt.param_groups().size(); ++gi) {
    const auto& ps = opt.param_groups()[gi].params();
    for (size_t pi = 0; pi < ps.size(); ++pi, ++i) {
      if (i >= saved.size() || !same_tensor(ps[pi].detach(), saved[i]))
        return ::testing::AssertionFailure() << "group " << gi << " param " << pi << " changed";
    }
  }
  return ::testing::AssertionSuccess();
}

struct StateSnap {
  int64_t step = 0;
  at::Tensor buf, exp_avg, exp_avg_sq;
  std::vector<at::Tensor> bases;
  bool trivial() const {
    if (step != 0 || buf.defined() || exp_avg.defined() || exp_avg_sq.defined()) return false;
    for (const auto& b : bases)
      if (b.defined()) return false;
    return true;
  }
};
using StateSnapshot = std::map<std::string, StateSnap>;

inline at::Tensor clone_or_undef(const at::Tensor& t) {
  return t.defined() ? t.detach().clone() : at::Tensor();
}

// LibTorch 1.x keys optimizer state by a string, 2.x by the TensorImpl's address.
inline std::string state_key_string(const std::string& key) { return key; }
inline std::string state_key_string(const void* key) {
  return std::to_string(reinterpret_cast<std::uintptr_t>(key));
}

inline StateSnapshot snapshot_state(const torch::optim::Optimizer& opt) {
  StateSnapshot out;
  for (const auto& kv : opt.state()) {
    StateSnap s;
    if (const auto* st = dynamic_cast<const NormOptimizerParamState*>(kv.second.get())) {
      s.step = st->step();
      s.buf = clone_or_undef(st->momentum_buffer());
      s.exp_avg = clone_or_undef(st->exp_avg());
      s.exp_avg_sq = clone_or_undef(st->exp_avg_sq());
      for (const auto& b : st->direction_state().bases) s.bases.push_back(clone_or_undef(b));
    } else {
      s.step = -1;  // unknown state type: only its presence is compared
    }
    out[state_key_string(kv.first)] = std::move(s);
  }
  return out;
}

/// Equal up to entries that hold nothing (step 0, no tensors) on one side and are absent on
/// the other: creating an empty entry is not a change of state.
inline ::testing::AssertionResult states_equal(const StateSnapshot& before,
                                               const StateSnapshot& after) {
  for (const auto& kv : before) {
    auto it = after.find(kv.first);
    if (it == after.end()) {
      if (!kv.second.trivial()) return ::testing::AssertionFailure() << "state entry removed";
      continue;
    }
    const StateSnap &a = kv.second, &b = it->second;
    if (a.step != b.step)
      return ::testing::AssertionFailure() << "state step " << a.step << " -> " << b.step;
    if (!same_tensor(a.buf, b.buf))
      return ::testing::AssertionFailure() << "momentum_buffer changed";
    if (!same_tensor(a.exp_avg, b.exp_avg))
      return ::testing::AssertionFailure() << "exp_avg changed";
    if (!same_tensor(a.exp_avg_sq, b.exp_avg_sq))
      return ::testing::AssertionFailure() << "exp_avg_sq changed";
    if (a.bases.size() != b.bases.size())
      return ::testing::AssertionFailure() << "direction_state size changed";
    for (size_t i = 0; i < a.bases.size(); ++i)
      if (!same_tensor(a.bases[i], b.bases[i]))
        return ::testing::AssertionFailure() << "direction_state basis changed";
  }
  for (const auto& kv : after)
    if (before.find(kv.first) == before.end() && !kv.second.trivial())
      return ::testing::AssertionFailure() << "new non-empty state entry";
  return ::testing::AssertionSuccess();
}

// --- errors ---------------------------------------------------------------------------------

/// The message of the exception `f` throws, or nullopt-like "" with threw=false.
struct Thrown {
  bool threw = false;
  std::string message;
};

inline Thrown thrown_by(const std::function<void()>& f) {
  Thrown t;
  try {
    f();
  } catch (const std::exception& e) {
    t.threw = true;
    t.message = e.what();
  } catch (...) {
    t.threw = true;
    t.message = "<non-std exception>";
  }
  return t;
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

inline bool contains_ci(const std::string& hay, const std::string& needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

// --- serialization --------------------------------------------------------------------------

inline std::string save_to_string(const torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive archive;
  opt.save(archive);
  std::ostringstream os;
  archive.save_to(os);
  return os.str();
}

inline void load_from_string(torch::optim::Optimizer& opt, const std::string& bytes) {
  torch::serialize::InputArchive archive;
  std::istringstream is(bytes);
  archive.load_from(is);
  opt.load(archive);
}

}  // namespace fanion_optim_test
