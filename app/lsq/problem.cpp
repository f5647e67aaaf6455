// The linear least-squares problem of the paper's §6.1 (see problem.h).
#include "lsq/problem.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace fanion::app {

namespace {

/// Q diag(u) Q^T with Q Haar-distributed on O(size) and u ~ U(0, 1), in fp64.
/// Q comes from the QR of a Gaussian matrix with the columns' signs fixed by diag(R): without
/// that fix the distribution of Q depends on the QR routine's sign convention and is not Haar.
at::Tensor random_psd(int64_t size, at::Generator& gen) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor G = at::randn({size, size}, gen, f64);
  at::Tensor u = at::rand({size}, gen, f64);
  auto qr = at::linalg_qr(G, "reduced");
  at::Tensor Q = std::get<0>(qr);
  const at::Tensor R = std::get<1>(qr);
  const at::Tensor signs =
      at::where(R.diagonal() < 0, at::full({}, -1.0, f64), at::full({}, 1.0, f64));
  Q = Q * signs.unsqueeze(0);  // scale column j by sign(R_jj)
  at::Tensor A = at::matmul(Q * u.unsqueeze(0), Q.t());
  return 0.5 * (A + A.t());  // exactly symmetric, not just up to rounding
}

/// The problem of A, B and X0 (S = 0), every tensor in `dtype`.
LsqProblem in_dtype(const at::Tensor& A, const at::Tensor& B, const at::Tensor& X0,
                    at::ScalarType dtype) {
  LsqProblem p;
  p.A = A.to(dtype);
  p.B = B.to(dtype);
  p.S = at::zeros(X0.sizes(), at::TensorOptions().dtype(dtype));
  p.X0 = X0.to(dtype);
  return p;
}

/// Q diag(u) Q^T from the authors' draws: Q from the QR of an fp32 Gaussian (no sign fix: the
/// signs cancel in Q diag(u) Q^T), u ~ U[0, 1); built in fp64.
at::Tensor authors_psd(int64_t size, CudaPhiloxGenerator& gen) {
  const at::Tensor G = gen.randn({size, size}).to(at::kDouble);
  const at::Tensor u = gen.rand({size}).to(at::kDouble);
  const at::Tensor Q = std::get<0>(at::linalg_qr(G, "reduced"));
  at::Tensor A = at::matmul(Q * u.unsqueeze(0), Q.t());
  return 0.5 * (A + A.t());
}

LsqProblem authors_problem(const LsqConfig& config) {
  CudaPhiloxGenerator gen(config.seed, config.geometry);
  // Their order (problems.py, finetune_lrs.py): M, N, then S = 0 * randn (a draw that only
  // moves the generator on), then X0 = init_std * randn, in fp32.
  at::Tensor A = authors_psd(config.m, gen);
  at::Tensor B = authors_psd(config.n, gen);
  (void)gen.randn({config.m, config.n});
  const at::Tensor X0 = gen.randn({config.m, config.n}) * config.init_std;  // fp32 product
  return in_dtype(A, B, X0, config.dtype);
}

}  // namespace

LsqInstance lsq_instance_from_string(const std::string& text) {
  if (text == "fanion") return LsqInstance::kFanion;
  if (text == "authors") return LsqInstance::kAuthors;
  throw std::invalid_argument("expected fanion or authors, got '" + text + "'");
}

std::string to_string(LsqInstance instance) {
  return instance == LsqInstance::kAuthors ? "authors" : "fanion";
}

LsqProblem make_lsq_problem(const LsqConfig& config) {
  if (config.m < 1 || config.n < 1) {
    throw std::invalid_argument("lsq: m and n must be positive, got m=" + std::to_string(config.m) +
                                ", n=" + std::to_string(config.n));
  }
  if (!std::isfinite(config.init_std) || config.init_std < 0.0) {
    throw std::invalid_argument("lsq: init_std must be finite and >= 0, got " +
                                std::to_string(config.init_std));
  }
  if (config.dtype != at::kDouble && config.dtype != at::kFloat) {
    throw std::invalid_argument("lsq: dtype must be float64 or float32");
  }
  if (config.instance == LsqInstance::kAuthors) return authors_problem(config);
  // A private generator: the problem depends on the seed only, and the global RNG that the
  // rest of the program (solvers' random starts, ...) may use is left untouched.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(config.seed);
  // Fixed draw order: A, then B, then X0 — changing it changes every seeded problem.
  at::Tensor A = random_psd(config.m, gen);
  at::Tensor B = random_psd(config.n, gen);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor X0 = at::randn({config.m, config.n}, gen, f64) * config.init_std;

  return in_dtype(A, B, X0, config.dtype);
}

at::Tensor LsqProblem::grad(const at::Tensor& X) const {
  return at::matmul(at::matmul(A, X - S), B);
}

double LsqProblem::loss(const at::Tensor& X) const {
  const at::Tensor D = X - S;
  const at::Tensor G = at::matmul(at::matmul(A, D), B);
  return 0.5 * (D.to(at::kDouble) * G.to(at::kDouble)).sum().item<double>();
}

}  // namespace fanion::app
