#include "fanion/matrix.h"

#include <sstream>
#include <stdexcept>

namespace fanion {

at::Tensor as_matrix(const at::Tensor& t) {
  if (!t.defined() || t.dim() == 0) {
    throw std::invalid_argument("fanion: expected a tensor of rank >= 1, got " +
                                (t.defined() ? shape_string(t) : std::string("undefined")));
  }
  if (t.dim() == 1) return t.reshape({1, t.size(0)});
  if (t.dim() == 2) return t;
  return t.reshape({t.size(0), -1});  // conv filters (out, in, kh, kw) -> (out, in*kh*kw)
}

std::string shape_string(const at::Tensor& t) {
  std::ostringstream os;
  os << "[";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? ", " : "") << t.size(i);
  os << "]";
  return os.str();
}

at::ScalarType default_compute_dtype(at::ScalarType param_dtype) {
  return param_dtype == at::kDouble ? at::kDouble : at::kFloat;
}

}  // namespace fanion
