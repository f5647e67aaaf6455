// One libFuzzer binary per target: FANION_FUZZ_TARGET (a compile definition) names it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "targets.h"

// FANION_FUZZ_SEED_DIR: write the target's seeds there first (scripts/fuzz.sh).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("FANION_FUZZ_SEED_DIR");
  if (dir == nullptr) return 0;
  const auto seeds = fanion::fuzz::target(FANION_FUZZ_TARGET).seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string path = std::string(dir) + "/seed-" + std::to_string(i);
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) != seeds[i].size()) {
      std::perror(path.c_str());
      std::exit(1);
    }
    std::fclose(f);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fanion::fuzz::Target& target = fanion::fuzz::target(FANION_FUZZ_TARGET);
  target.run(data, size);
  return 0;
}
