#include "fanion/solvers/top_k.h"

#include <stdexcept>
#include <string>

#include "exact_svd.h"
#include "fanion/matrix.h"

namespace fanion {

TopKResult top_k_svd(const at::Tensor& M, int64_t k, const TopKOptions& options,
                     const at::Tensor& /*warm_start*/) {
  if (!M.defined() || M.dim() != 2) {
    throw std::invalid_argument("fanion::top_k_svd: expected a 2-D tensor, got " +
                                (M.defined() ? shape_string(M) : std::string("undefined")));
  }
  if (k < 1) {
    throw std::invalid_argument("fanion::top_k_svd: k must be >= 1, got " + std::to_string(k));
  }
  switch (options.method) {
    case TopKMethod::kAuto:   // only the exact method exists so far
    case TopKMethod::kExact: {
      auto svd = detail::truncated_svd(M, options.rel_rank_tol);
      const int64_t r = std::min<int64_t>(k, svd.S.numel());  // clamp k to the numerical rank
      TopKResult out;
      const auto dtype = M.scalar_type();
      out.U = svd.U.narrow(1, 0, r).to(dtype);
      out.S = svd.S.narrow(0, 0, r).to(dtype);
      out.V = svd.V.narrow(1, 0, r).to(dtype);
      out.stats.iterations = 1;
      out.stats.passes = 1;
      return out;
    }
  }
  throw std::invalid_argument("fanion::top_k_svd: unknown method");
}

}  // namespace fanion
