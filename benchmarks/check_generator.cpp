// Checks that benchmarks/compare_peers.py builds the same matrices as `fanion bench lowrank`:
// this is app/bench.cpp's test_matrix() recipe; it prints checksums and dumps the matrix
// (raw fp64, row-major) for benchmarks/check_generator.py to compare with Python's.
//   g++ -std=c++17 -O1 -I/usr/include/torch/csrc/api/include benchmarks/check_generator.cpp \
//       -o /tmp/check_generator -ltorch -ltorch_cpu -lc10
//   /tmp/check_generator N SPECTRUM SEED OUT.bin
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <string>

static at::Tensor test_matrix(int64_t m, int64_t n, const std::string& spectrum, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  if (spectrum == "gaussian") return at::randn({m, n}, gen, opts);
  const double decay = spectrum.size() > 5 ? std::stod(spectrum.substr(5)) : 1.0;
  const int64_t p = std::min(m, n);
  auto U = std::get<0>(at::linalg_qr(at::randn({m, p}, gen, opts), "reduced"));
  auto V = std::get<0>(at::linalg_qr(at::randn({n, p}, gen, opts), "reduced"));
  auto s = at::arange(1, p + 1, opts).pow(-decay);
  return at::matmul(U * s, V.transpose(0, 1));
}

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s N SPECTRUM SEED OUT.bin\n", argv[0]);
    return 2;
  }
  const int64_t n = std::stoll(argv[1]);
  const at::Tensor M = test_matrix(n, n, argv[2], std::stoull(argv[3])).contiguous();
  std::printf("sum %.17g norm %.17g M[0,0] %.17g M[n-1,n-1] %.17g\n", M.sum().item<double>(),
              M.norm().item<double>(), M[0][0].item<double>(), M[n - 1][n - 1].item<double>());
  FILE* f = std::fopen(argv[4], "wb");
  if (!f) return 1;
  std::fwrite(M.data_ptr<double>(), sizeof(double), static_cast<size_t>(n * n), f);
  return std::fclose(f) == 0 ? 0 : 1;
}
