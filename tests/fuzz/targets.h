#pragma once
// The fuzz targets: the parsers that read what a user hands to `fanion` (data files, GPT-2's
// vocabulary, checkpoints, the command line). Each takes arbitrary bytes and must either
// succeed with a well-formed result or throw the error type its parser documents (DataError,
// cli::UsageError, std::runtime_error naming the file); anything else — a crash, a sanitizer
// report, another exception, a broken invariant (FuzzFailure) — is a bug.
//
// The same functions run in two ways: as libFuzzer binaries (scripts/fuzz.sh, one per target,
// clang with ASan + UBSan) and as a GoogleTest test over the committed corpus in
// tests/fuzz/corpus/<target>/ (tests/cpp/app/test_fuzz_corpus.cpp), so that every input the
// fuzzer found interesting is a regression test in every build.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fanion::fuzz {

/// A broken invariant of a successful parse: never caught by a target.
class FuzzFailure : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

struct Target {
  const char* name;
  const char* what;  ///< one line for scripts/fuzz.sh --list
  /// true when the parser accepted the input, false when it refused it as documented.
  bool (*run)(const uint8_t* data, size_t size);
  /// Valid inputs, each accepted (scripts/fuzz.sh starts from them).
  std::vector<std::vector<uint8_t>> (*seeds)();
};

/// Every target, in a fixed order.
const std::vector<Target>& targets();
/// The target called `name`; throws std::invalid_argument listing the names otherwise.
const Target& target(const std::string& name);

}  // namespace fanion::fuzz
