#include "fanion/solvers/top_k.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "exact_svd.h"
#include "fanion/matrix.h"
#include "fanion/names.h"
#include "krylov.h"

namespace fanion {

std::string to_string(TopKMethod m) {
  switch (m) {
    case TopKMethod::kAuto:
      return "auto";
    case TopKMethod::kExact:
      return "exact";
    case TopKMethod::kGram:
      return "gram";
    case TopKMethod::kLanczos:
      return "lanczos";
    case TopKMethod::kBlockKrylov:
      return "block_krylov";
    case TopKMethod::kSubspaceIteration:
      return "subspace";
  }
  return "unknown";
}

TopKMethod top_k_method_from_string(const std::string& name) {
  for (auto m : {TopKMethod::kAuto, TopKMethod::kExact, TopKMethod::kGram, TopKMethod::kLanczos,
                 TopKMethod::kBlockKrylov, TopKMethod::kSubspaceIteration}) {
    if (to_string(m) == normalize_name(name)) return m;
  }
  throw std::invalid_argument("fanion: unknown top-k method '" + name +
                              "' (known: auto, exact, gram, lanczos, block_krylov, subspace)");
}

TopKMethod top_k_auto_method(int64_t m, int64_t n, int64_t k) {
  const int64_t p = std::min(m, n);
  // Small matrices: the SVD itself is cheap. Ranks that are a large share of the matrix: a
  // Krylov basis would be as large as the matrix; the Gram eigensolver is cheaper than both
  // the SVD and 5 Newton–Schulz steps on a CPU (bench polar / bench step), in fp32 for fp32
  // input (top_k_svd), in fp64 for fp64.
  if (p <= 64) return TopKMethod::kExact;
  if (10 * k >= p) return TopKMethod::kGram;
  return TopKMethod::kBlockKrylov;
}

bool accepts_warm_start(TopKMethod m) {
  return m == TopKMethod::kBlockKrylov || m == TopKMethod::kSubspaceIteration ||
         m == TopKMethod::kLanczos;
}

TopKResult top_k_svd(const at::Tensor& M, int64_t k, const TopKOptions& options,
                     const at::Tensor& warm_start) {
  if (!M.defined() || M.dim() != 2) {
    throw std::invalid_argument("fanion::top_k_svd: expected a 2-D tensor, got " +
                                (M.defined() ? shape_string(M) : std::string("undefined")));
  }
  if (k < 1) {
    throw std::invalid_argument("fanion::top_k_svd: k must be >= 1, got " + std::to_string(k));
  }
  const int64_t p = std::min(M.size(0), M.size(1));
  k = std::min(k, p);
  TopKMethod method = options.method;
  if (method == TopKMethod::kAuto) method = top_k_auto_method(M.size(0), M.size(1), k);
  if (p == 0) method = TopKMethod::kExact;
  // The solvers' floors (lost Krylov columns, residuals at rounding level, the numerical
  // rank) are relative to a unit scale: a power of two bringing max|M_ij| into [1, 2) makes
  // them relative to M's, at any magnitude the dtype holds; it changes no other bit (every
  // operation only shifts exponents), and S is scaled back (docs/design.md §3).
  int exponent = 0;
  {
    const double amax = M.numel() ? M.abs().max().item<double>() : 0.0;
    if (amax > 0.0 && std::isfinite(amax)) {
      std::frexp(amax, &exponent);  // amax in [2^(exponent - 1), 2^exponent)
      exponent -= 1;
    }
  }
  const at::Tensor Ms = exponent == 0 ? M : M * std::ldexp(1.0, -exponent);
  // Iterative methods need a floating type they can orthonormalize in.
  const bool low_precision = M.scalar_type() != at::kFloat && M.scalar_type() != at::kDouble;
  const at::Tensor A = low_precision ? Ms.to(at::kFloat) : Ms;
  TopKResult out;
  switch (method) {
    case TopKMethod::kAuto:
    case TopKMethod::kExact:
    case TopKMethod::kGram: {
      // `auto` on fp32 input (the optimizer's default compute dtype) runs the Gram path in
      // fp32: at large k it must not cost more than the Newton–Schulz polar factor.
      const bool fast = options.method == TopKMethod::kAuto && M.scalar_type() != at::kDouble;
      auto svd = method == TopKMethod::kGram
                     ? detail::gram_svd(Ms, options.rel_rank_tol, fast ? at::kFloat : at::kDouble)
                     : detail::truncated_svd(Ms, options.rel_rank_tol);
      const int64_t r = std::min<int64_t>(k, svd.S.numel());  // clamp k to the numerical rank
      out.stats.matmuls = method == TopKMethod::kGram ? 2 : 0;
      out.U = svd.U.narrow(1, 0, r);
      out.S = svd.S.narrow(0, 0, r);
      out.V = svd.V.narrow(1, 0, r);
      out.stats.iterations = 1;
      out.stats.passes = 1;
      break;
    }
    case TopKMethod::kLanczos:
    case TopKMethod::kBlockKrylov: {
      // Default block: while M fits in cache, flops decide (block ~ k); once it does not
      // (about 1000^2 doubles and up), every pass re-reads M from memory, so wider blocks
      // that need fewer passes win (5000^2, k = 5: 16 columns take 52 passes, 5 take 90).
      const bool memory_bound = M.numel() * M.element_size() > (8 << 20);
      const int64_t b = method == TopKMethod::kLanczos ? 1
                        : options.block_size > 0       ? options.block_size
                        : memory_bound                 ? std::clamp<int64_t>(k, 16, 32)
                                                       : std::clamp<int64_t>(k, 4, 32);
      // Golub–Kahan builds its search space on the V side: put the smaller dimension there,
      // so that the basis is small and, once it spans that side, the answer is exact.
      if (A.size(1) > A.size(0)) {
        const at::Tensor warm_left = warm_start.defined() && warm_start.size(0) == A.size(1)
                                         ? at::matmul(A, warm_start.to(A.scalar_type()))
                                         : at::Tensor();
        out = detail::block_golub_kahan(A.transpose(0, 1), k, std::min(b, p), options, warm_left);
        std::swap(out.U, out.V);
        if (warm_left.defined()) out.stats.passes += 1, out.stats.matvecs += warm_left.size(1);
      } else {
        out = detail::block_golub_kahan(A, k, std::min(b, p), options, warm_start);
      }
      break;
    }
    case TopKMethod::kSubspaceIteration: {
      const int64_t b = options.block_size > 0 ? options.block_size : k + std::max<int64_t>(k, 4);
      // Oversampling: without it the rate is s_{k+1}/s_k, which can be arbitrarily close to 1.
      out = detail::subspace_iteration(A, k, std::min(std::max(b, k + 4), p), options, warm_start);
      break;
    }
  }
  const auto dtype = M.scalar_type();
  out.U = out.U.to(dtype);
  out.S = (exponent == 0 ? out.S : out.S * std::ldexp(1.0, exponent)).to(dtype);
  out.V = out.V.to(dtype);
  return out;
}

}  // namespace fanion
