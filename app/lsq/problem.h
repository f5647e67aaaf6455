#pragma once
// The linear least-squares problem of the paper's §6.1, eq. 15:
//   F(X) = 1/2 <X - S, A (X - S) B>,  grad F(X) = A (X - S) B   (A, B symmetric PSD)
// with spectra of A (m x m) and B (n x n) uniform on (0, 1) in random orthogonal bases, S = 0,
// and X0 with i.i.d. N(0, init_std^2) entries. The paper calls A and B "M" and "N".
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "lsq/cuda_philox.h"

namespace fanion::app {

/// Which random problem a seed names.
enum class LsqInstance {
  kFanion,  ///< fanion's: drawn by LibTorch's CPU generator, Haar bases (signs fixed)
  /// The paper authors': their draw order (randn Q_A, rand, randn Q_B, rand, randn S (times 0),
  /// randn X0) through torch's CUDA generator on a GPU of the given geometry; seed 42 and
  /// an RTX A4000 give the instance of Table 3.
  kAuthors,
};
/// "fanion" | "authors"; throws std::invalid_argument naming the bad text.
LsqInstance lsq_instance_from_string(const std::string& text);
std::string to_string(LsqInstance instance);

struct LsqProblem {
  at::Tensor A, B, S, X0;
  double loss(const at::Tensor& X) const;
  at::Tensor grad(const at::Tensor& X) const;
};

struct LsqConfig {
  int64_t m = 500;
  int64_t n = 500;
  uint64_t seed = 0;
  double init_std = 0.1;  ///< the paper's N(0, 0.01) read as variance 0.01
  at::ScalarType dtype = at::kDouble;
  LsqInstance instance = LsqInstance::kFanion;
  CudaGeometry geometry;  ///< kAuthors only: the GPU the authors' draw is emulated for
};

/// Deterministic for a given config (own generator; the global RNG is untouched).
/// kAuthors draws in fp32 as the authors' code does, builds A and B in fp64 from those draws
/// (the authors' fp32 GPU products differ by ~1e-7) and casts everything to config.dtype.
LsqProblem make_lsq_problem(const LsqConfig& config);

}  // namespace fanion::app
