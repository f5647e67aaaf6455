#pragma once
// torch's CUDA random numbers, computed on the CPU: the paper's least-squares problem (§6.1)
// was drawn with torch.manual_seed(42) on an RTX A4000, so its matrices come from torch's CUDA
// generator, whose values depend on the GPU's geometry. This reproduces that generator
// (Philox4x32-10 with curand's Box-Muller and uniform maps, laid out by ATen's grid-stride
// kernel) to about 1e-6: the GPU's fast sin/cos/log intrinsics round differently.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace fanion::app {

/// What the layout depends on: the number of SMs and the threads one SM can hold.
struct CudaGeometry {
  int64_t sms = 48;               ///< RTX A4000
  int64_t threads_per_sm = 1536;  ///< RTX A4000
  /// "SMSxTHREADS", e.g. "48x1536"; throws std::invalid_argument naming the text.
  static CudaGeometry parse(const std::string& text);
  std::string text() const;
};

/// One torch CUDA generator after torch.manual_seed(seed): successive calls advance its
/// Philox offset exactly as torch's do, so a sequence of randn/rand calls gives the values
/// the same sequence of torch calls gives on a GPU of that geometry. fp32 only.
class CudaPhiloxGenerator {
 public:
  CudaPhiloxGenerator(uint64_t seed, CudaGeometry geometry);
  /// torch.randn(sizes, device="cuda"), float32, on the CPU.
  at::Tensor randn(at::IntArrayRef sizes);
  /// torch.rand(sizes, device="cuda"), float32, on the CPU.
  at::Tensor rand(at::IntArrayRef sizes);
  /// Philox offset per thread (torch's philox_offset_per_thread).
  uint64_t offset() const { return offset_; }

 private:
  template <class Map>
  at::Tensor draw(at::IntArrayRef sizes, Map map);
  uint64_t seed_;
  CudaGeometry geometry_;
  uint64_t offset_ = 0;
};

}  // namespace fanion::app
