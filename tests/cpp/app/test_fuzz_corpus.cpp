// The fuzzers' corpus as regression tests (tests/fuzz): every target runs on its seeds and on
// every input in tests/fuzz/corpus/<target>/ — the inputs scripts/fuzz.sh kept because they
// reached new code. A target fails by throwing (FuzzFailure, or an exception its parser does
// not document); under scripts/sanitize.sh a memory error or undefined behaviour fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "targets.h"

namespace fs = std::filesystem;

namespace {

class FuzzCorpus : public ::testing::TestWithParam<std::string> {};

/// Whether the target accepted the input; a failure when it threw.
bool run_on(const fanion::fuzz::Target& target, const std::vector<uint8_t>& input,
            const std::string& label) {
  try {
    return target.run(input.data(), input.size());
  } catch (const std::exception& e) {
    ADD_FAILURE() << target.name << " on " << label << ": " << e.what();
    return false;
  }
}

TEST_P(FuzzCorpus, EveryInputIsHandled) {
  const fanion::fuzz::Target& target = fanion::fuzz::target(GetParam());
  const auto seeds = target.seeds();
  ASSERT_FALSE(seeds.empty());
  // The seeds are valid: a target that refused them would fuzz only its first check.
  for (size_t i = 0; i < seeds.size(); ++i)
    EXPECT_TRUE(run_on(target, seeds[i], "seed " + std::to_string(i)))
        << "seed " << i << " refused";

  const fs::path dir = fs::path(FANION_SOURCE_DIR) / "tests/fuzz/corpus" / target.name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir << ": run scripts/fuzz.sh to make the corpus";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), seeds.size()) << dir;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<uint8_t> input((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    run_on(target, input, f.string());
  }
}

std::vector<std::string> target_names() {
  std::vector<std::string> names;
  for (const auto& t : fanion::fuzz::targets()) names.emplace_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzCorpus, ::testing::ValuesIn(target_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
