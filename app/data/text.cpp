// Text corpora (see text.h).
#include "data/text.h"

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "data/bytes.h"

namespace fanion::app::data {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/// Length of the verse reference at the start of [p, end) ("Ge1:1", "1Cor13:4": optional
/// digits, a book abbreviation in letters, chapter ':' verse), 0 when there is none.
size_t reference_length(const char* p, const char* end) {
  const char* q = p;
  while (q < end && is_digit(*q)) ++q;
  const char* book = q;
  while (q < end && is_alpha(*q)) ++q;
  if (q == book) return 0;
  const char* chapter = q;
  while (q < end && is_digit(*q)) ++q;
  if (q == chapter || q == end || *q != ':') return 0;
  const char* verse = ++q;
  while (q < end && is_digit(*q)) ++q;
  if (q == verse) return 0;
  // The reference must be a whole token: followed by a space or the end of the line.
  if (q < end && *q != ' ' && *q != '\n') return 0;
  return static_cast<size_t>(q - p);
}

uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

}  // namespace

std::string read_text_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  if (bytes.empty()) throw DataError(path + ": empty file");
  return std::string(bytes.begin(), bytes.end());
}

std::string strip_verse_references(const std::string& bible_output) {
  std::string out;
  out.reserve(bible_output.size());
  const char* p = bible_output.data();
  const char* const end = p + bible_output.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* line_end = nl ? nl + 1 : end;  // keeps the newline
    size_t skip = reference_length(p, line_end);
    if (skip > 0 && p + skip < line_end && p[skip] == ' ') ++skip;  // and one space after it
    out.append(p + skip, line_end);
    p = line_end;
  }
  return out;
}

std::string load_kjv_bible() {
  const char* command = "bible -f gen1:1-rev22:21 </dev/null 2>/dev/null";
  const std::string install =
      "the King James Bible comes from Debian's bible-kjv package "
      "(apt-get install bible-kjv)";
  FILE* pipe = popen(command, "r");
  if (!pipe) {
    throw DataError(std::string("cannot run `bible`: ") + std::strerror(errno) + "; " + install);
  }
  std::string raw;
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) raw.append(chunk, n);
  const int status = pclose(pipe);
  const int code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  if (code == 127) throw DataError("the `bible` program is not installed: " + install);
  if (raw.empty() || code != 0) {
    throw DataError("`bible -f gen1:1-rev22:21` " +
                    (raw.empty() ? std::string("printed nothing") : "failed") + " (exit status " +
                    std::to_string(code) + "); " + install);
  }
  return strip_verse_references(raw);
}

at::Tensor load_token_shard(const std::string& path) {
  return parse_token_shard(read_file_bytes(path), path);
}

at::Tensor parse_token_shard(const std::vector<uint8_t>& bytes, const std::string& path) {
  constexpr size_t kHeader = 256 * 4;
  if (bytes.size() < kHeader) {
    throw DataError(path + ": truncated: " + std::to_string(bytes.size()) +
                    " bytes, the token shard header needs " + std::to_string(kHeader));
  }
  const uint32_t magic = read_le32(bytes.data()), version = read_le32(bytes.data() + 4);
  if (magic != 20240520) {
    throw DataError(path + ": not a token shard: magic " + std::to_string(magic) +
                    ", expected 20240520");
  }
  if (version != 1) {
    throw DataError(path + ": unsupported token shard version " + std::to_string(version) +
                    ", expected 1");
  }
  const int32_t count = static_cast<int32_t>(read_le32(bytes.data() + 8));
  if (count < 0) {
    throw DataError(path + ": corrupt token shard header: token count " + std::to_string(count));
  }
  const size_t expected = kHeader + 2 * static_cast<size_t>(count);
  if (bytes.size() != expected) {
    throw DataError(path + ": " + (bytes.size() < expected ? "truncated" : "size mismatch") +
                    ": header says " + std::to_string(count) + " tokens (" +
                    std::to_string(expected) + " bytes) but the file has " +
                    std::to_string(bytes.size()) + " bytes");
  }
  at::Tensor tokens = at::empty({count}, at::kLong);
  int64_t* out = tokens.data_ptr<int64_t>();
  const uint8_t* in = bytes.data() + kHeader;
  for (int32_t i = 0; i < count; ++i) out[i] = in[2 * i] | (in[2 * i + 1] << 8);
  return tokens;
}

}  // namespace fanion::app::data
