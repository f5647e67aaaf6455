// torch's CUDA generator on the CPU (see cuda_philox.h). The constants and maps are those of
// curand (Philox4x32-10, curand_uniform4, curand_normal4's Box-Muller) and the layout that of
// ATen's distribution_elementwise_grid_stride_kernel; no code of either is used.
#include "lsq/cuda_philox.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fanion::app {
namespace {

struct Words {
  uint32_t x, y, z, w;
};

/// Philox4x32-10 (Salmon et al. 2011): ten rounds, the key bumped between rounds.
Words philox(Words c, uint64_t seed) {
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = uint64_t{0xD2511F53u} * c.x;
    const uint64_t p1 = uint64_t{0xCD9E8D57u} * c.z;
    c = {static_cast<uint32_t>(p1 >> 32) ^ c.y ^ k0, static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c.w ^ k1, static_cast<uint32_t>(p0)};
  }
  return c;
}

// curand's scale factors, as float literals exactly as curand spells them.
constexpr float kTwoPow32Inv = 2.3283064e-10f;
constexpr float kTwoPow32Inv2Pi = 2.3283064e-10f * 6.2831855f;

/// curand's uint -> (0, 1]: x 2^-32 + 2^-33, one fused multiply-add as nvcc compiles it.
float unit(uint32_t x) { return std::fma(static_cast<float>(x), kTwoPow32Inv, kTwoPow32Inv / 2); }

/// curand_normal4: Box-Muller on (x, y) and on (z, w).
void normal4(const Words& b, float* out) {
  auto box_muller = [](uint32_t a, uint32_t c, float* two) {
    const float u = unit(a);
    const float v = std::fma(static_cast<float>(c), kTwoPow32Inv2Pi, kTwoPow32Inv2Pi / 2);
    const float s = std::sqrt(-2.0f * std::log(u));
    two[0] = s * std::sin(v);
    two[1] = s * std::cos(v);
  };
  box_muller(b.x, b.y, out);
  box_muller(b.z, b.w, out + 2);
}

/// curand_uniform4, then ATen's uniform_(0, 1) map: (0, 1] becomes [0, 1) by sending 1 to 0.
void uniform4(const Words& b, float* out) {
  const uint32_t words[4] = {b.x, b.y, b.z, b.w};
  for (int i = 0; i < 4; ++i) {
    const float v = unit(words[i]);
    out[i] = v == 1.0f ? 0.0f : v;
  }
}

void check(const CudaGeometry& g) {
  // ATen's kernel runs blocks of 256 threads; fewer threads per SM would give no block.
  if (g.sms < 1 || g.threads_per_sm < 256 || g.sms > (1 << 20) || g.threads_per_sm > (1 << 20)) {
    throw std::invalid_argument("CUDA geometry " + g.text() +
                                ": expected SMS >= 1 and THREADS_PER_SM >= 256");
  }
}

}  // namespace

CudaGeometry CudaGeometry::parse(const std::string& text) {
  const auto x = text.find('x');
  CudaGeometry g;
  try {
    size_t used_sms = 0, used_threads = 0;
    if (x == std::string::npos) throw std::invalid_argument("no x");
    const std::string sms = text.substr(0, x), threads = text.substr(x + 1);
    g.sms = std::stoll(sms, &used_sms);
    g.threads_per_sm = std::stoll(threads, &used_threads);
    if (used_sms != sms.size() || used_threads != threads.size() || sms.empty())
      throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    throw std::invalid_argument("CUDA geometry '" + text +
                                "': expected SMSxTHREADS_PER_SM, e.g. 48x1536 (RTX A4000)");
  }
  check(g);
  return g;
}

std::string CudaGeometry::text() const {
  return std::to_string(sms) + "x" + std::to_string(threads_per_sm);
}

CudaPhiloxGenerator::CudaPhiloxGenerator(uint64_t seed, CudaGeometry geometry)
    : seed_(seed), geometry_(geometry) {
  check(geometry_);
}

template <class Map>
at::Tensor CudaPhiloxGenerator::draw(at::IntArrayRef sizes, Map map) {
  at::Tensor out = at::empty(sizes, at::TensorOptions().dtype(at::kFloat));
  const int64_t numel = out.numel();
  if (numel == 0) return out;  // torch launches nothing and keeps its offset
  // ATen's execution policy: blocks of 256 threads, as many blocks as the GPU holds at once
  // (or fewer for a small tensor); each thread draws 4 values per round, stride = all threads.
  constexpr int64_t kBlock = 256, kUnroll = 4;
  const int64_t blocks =
      std::min(geometry_.sms * (geometry_.threads_per_sm / kBlock), (numel + kBlock - 1) / kBlock);
  const int64_t threads = blocks * kBlock;
  const int64_t rounds = (numel - 1) / (threads * kUnroll) + 1;
  // Thread i's generator: counter (offset / 4 + round, i), key = the seed (curand_init with
  // subsequence i and offset `offset_`); torch then moves the offset past every value drawn.
  const uint64_t first = offset_ / 4;
  offset_ += static_cast<uint64_t>(rounds) * kUnroll;
  float* p = out.data_ptr<float>();
  float four[kUnroll];
  for (int64_t i = 0; i < threads; ++i) {
    for (int64_t r = 0; r < rounds; ++r) {
      const uint64_t c = first + static_cast<uint64_t>(r);
      const auto u = static_cast<uint64_t>(i);
      map(philox({static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32),
                  static_cast<uint32_t>(u), static_cast<uint32_t>(u >> 32)},
                 seed_),
          four);
      for (int64_t k = 0; k < kUnroll; ++k) {
        const int64_t index = i + (r * kUnroll + k) * threads;
        if (index < numel) p[index] = four[k];
      }
    }
  }
  return out;
}

at::Tensor CudaPhiloxGenerator::randn(at::IntArrayRef sizes) { return draw(sizes, normal4); }

at::Tensor CudaPhiloxGenerator::rand(at::IntArrayRef sizes) { return draw(sizes, uniform4); }

}  // namespace fanion::app
