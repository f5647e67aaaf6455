#pragma once
// Checkpoints that cannot be resumed by the wrong run or resumed corrupted. A checkpoint file is
// a small frame around a torch archive: a magic, the format, the run's fingerprint (key=value
// lines: every option that changes the run, the data's identity included), the payload (a
// torch archive of model, optimizer, step and curves) and a 64-bit FNV-1a checksum of all of
// it. Reading verifies the checksum before torch parses anything (torch's own reader ignores its
// zip CRCs, and 1.13's crashes on some corrupted archives), then the fingerprint, naming every
// key that differs. Writing goes to PATH.tmp, which is read back and verified, then renamed.
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fanion::app::train {

/// 64-bit FNV-1a, continuing from `h` (chain calls to hash several buffers as one).
uint64_t fnv1a64(const void* data, size_t size, uint64_t h = 14695981039346656037ULL);

/// What must match for a checkpoint to be resumed: ordered key=value entries.
struct Fingerprint {
  std::vector<std::pair<std::string, std::string>> entries;
  Fingerprint& add(const std::string& key, const std::string& value);
  /// "key=value\n" per entry; %, =, CR and LF inside a key or value are written %XX.
  std::string text() const;
  static Fingerprint parse(const std::string& text);
  /// "key: saved A, now B; ..." for every key that differs (or is only on one side); "" only
  /// when the entries are equal, in order (keys repeated or reordered are a difference too).
  std::string differences_from(const Fingerprint& saved) const;
};

/// Writes a checkpoint (atomically: PATH.tmp, verified, renamed); `fill` writes the payload.
void write_checkpoint(const std::string& path, const Fingerprint& fingerprint,
                      const std::function<void(torch::serialize::OutputArchive&)>& fill);

/// Reads and verifies a checkpoint of the run `fingerprint`; `use` reads the payload. Throws
/// std::runtime_error naming the file and what is wrong (unreadable, corrupted, another run).
void read_checkpoint(const std::string& path, const Fingerprint& fingerprint,
                     const std::function<void(torch::serialize::InputArchive&)>& use);

/// The same, on the file's bytes (`path` names it in messages): for tests and the fuzzer.
void read_checkpoint_bytes(const std::string& bytes, const std::string& path,
                           const Fingerprint& fingerprint,
                           const std::function<void(torch::serialize::InputArchive&)>& use);

}  // namespace fanion::app::train
