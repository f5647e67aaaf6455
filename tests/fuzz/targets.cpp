// The fuzz targets (see targets.h). Inputs that carry several files start each but the last
// with a 2-byte little-endian length (cut to what is left), so that mutations reach every part.
#include "targets.h"

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "data/bytes.h"
#include "data/images.h"
#include "data/text.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/common.h"

namespace fanion::fuzz {

namespace {

using Bytes = std::vector<uint8_t>;
using app::data::DataError;

void require(bool ok, const std::string& what) {
  if (!ok) throw FuzzFailure(what);
}

/// Splits an input into `n` parts: every part but the last is length-prefixed.
std::vector<Bytes> parts(const uint8_t* data, size_t size, size_t n) {
  std::vector<Bytes> out;
  size_t at = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    size_t len = 0;
    if (size - at >= 2) {
      len = data[at] | (size_t{data[at + 1]} << 8);
      at += 2;
    }
    len = std::min(len, size - at);
    out.emplace_back(data + at, data + at + len);
    at += len;
  }
  out.emplace_back(data + at, data + size);
  return out;
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

// --- data files --------------------------------------------------------------------------------

/// Every value of the integer tensor `t` in [0, end).
void require_values_below(const at::Tensor& t, int64_t end, const std::string& what) {
  if (t.numel() > 0) require(t.min().item<int64_t>() >= 0 && t.max().item<int64_t>() < end, what);
}

/// What both image readers promise: one label per image, each in [0, 10).
void require_labelled(const app::data::ImageSet& set, const std::string& target) {
  require(set.labels.numel() == set.images.size(0), target + ": one label per image");
  require_values_below(set.labels, 10, target + ": a label outside [0, 10)");
}

bool idx(const uint8_t* data, size_t size) {
  const std::vector<Bytes> p = parts(data, size, 2);
  try {
    const app::data::ImageSet set =
        app::data::parse_idx(app::data::decode_file_bytes(p[0], "images"), "images",
                             app::data::decode_file_bytes(p[1], "labels"), "labels");
    require(set.images.dim() == 4 && set.images.size(1) == 1 && set.images.numel() > 0,
            "idx: images are not [N, 1, H, W] with N, H, W > 0");
    require_labelled(set, "idx");
    return true;
  } catch (const DataError&) {
    return false;
  }
}

bool cifar(const uint8_t* data, size_t size) {
  const std::vector<Bytes> p = parts(data, size, 2);
  try {
    const app::data::ImageSet set = app::data::parse_cifar10_batches(
        {app::data::decode_file_bytes(p[0], "a.bin"), app::data::decode_file_bytes(p[1], "b.bin")},
        {"a.bin", "b.bin"});
    require(set.images.dim() == 4 && set.images.size(1) == 3 && set.images.size(2) == 32 &&
                set.images.size(3) == 32,
            "cifar: images are not [N, 3, 32, 32]");
    require_labelled(set, "cifar");
    return true;
  } catch (const DataError&) {
    return false;
  }
}

bool token_shard(const uint8_t* data, size_t size) {
  try {
    const at::Tensor t = app::data::parse_token_shard(
        app::data::decode_file_bytes(Bytes(data, data + size), "s"), "s");
    require(t.dim() == 1 && t.scalar_type() == at::kLong, "token_shard: not int64 [count]");
    require_values_below(t, 65536, "token_shard: a token outside uint16");
    return true;
  } catch (const DataError&) {
    return false;
  }
}

bool text_file(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::string out = app::data::strip_verse_references(in);
  require(out.size() <= in.size(), "text: stripping references made the text longer");
  require(std::count(out.begin(), out.end(), '\n') == std::count(in.begin(), in.end(), '\n'),
          "text: stripping references changed the lines");
  return true;
}

// --- GPT-2's tokenizer -------------------------------------------------------------------------

void round_trip(const app::data::Tokenizer& tok, const std::string& s, const char* name) {
  const std::vector<int64_t> ids = tok.encode(s);
  for (int64_t id : ids)
    require(id >= 0 && id < tok.vocab_size(), std::string(name) + ": id out of range");
  require(tok.decode(ids) == s, std::string(name) + ": decode(encode(s)) != s");
}

bool gpt2_json(const uint8_t* data, size_t size) {
  try {
    (void)app::data::parse_json_int_object(std::string(reinterpret_cast<const char*>(data), size),
                                           "encoder.json");
    return true;
  } catch (const DataError&) {
    return false;
  }
}

bool gpt2_vocab(const uint8_t* data, size_t size) {
  const std::vector<Bytes> p = parts(data, size, 3);
  std::unique_ptr<app::data::Gpt2Tokenizer> tok;
  try {
    tok = std::make_unique<app::data::Gpt2Tokenizer>(
        app::data::Gpt2Tokenizer::Files{text(p[0]), "encoder.json", text(p[1]), "vocab.bpe"});
  } catch (const DataError&) {
    return false;
  }
  round_trip(*tok, text(p[2]), "gpt2_vocab");
  return true;
}

/// GPT-2's real vocabulary (scripts/setup.sh); without it the target only checks the byte
/// tokenizer.
bool gpt2_encode(const uint8_t* data, size_t size) {
  static const std::unique_ptr<app::data::Tokenizer> gpt2 = [] {
    const auto dir = app::data::find_gpt2_vocab_dir();
    return dir ? app::data::make_tokenizer("gpt2", *dir) : nullptr;
  }();
  const std::string s(reinterpret_cast<const char*>(data), size);
  round_trip(app::data::ByteTokenizer(), s, "bytes");
  if (gpt2) round_trip(*gpt2, s, "gpt2");
  return true;
}

// --- checkpoints -------------------------------------------------------------------------------

const char* const kSavedFingerprint = "command=fuzz\nseed=1\n";

void read_payload(torch::serialize::InputArchive& in) {
  at::Tensor x;
  in.read("x", x);
  require(x.numel() == 3, "checkpoint: the payload's tensor changed");
}

/// A whole checkpoint file as bytes; the checksum is the file's own.
bool checkpoint(const uint8_t* data, size_t size) {
  try {
    app::train::read_checkpoint_bytes(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz.ckpt",
        app::train::Fingerprint::parse(kSavedFingerprint), read_payload);
    return true;
  } catch (const std::runtime_error&) {
    return false;
  }
}

/// NUL-separated key, value, key, value, ... (any bytes, newlines and '=' included).
app::train::Fingerprint fingerprint(const Bytes& b) {
  std::vector<std::string> items{""};
  for (uint8_t c : b) {
    if (c == 0)
      items.emplace_back();
    else
      items.back().push_back(static_cast<char>(c));
  }
  app::train::Fingerprint f;
  for (size_t i = 0; i + 1 < items.size(); i += 2) f.add(items[i], items[i + 1]);
  return f;
}

/// A valid checkpoint written with one fingerprint, read with another: it must load exactly
/// when the two agree, and be refused as "another run" otherwise.
bool checkpoint_fingerprint(const uint8_t* data, size_t size) {
  const std::vector<Bytes> p = parts(data, size, 2);
  const app::train::Fingerprint saved = fingerprint(p[0]), now = fingerprint(p[1]);
  static const std::string dir = [] {
    const std::string d = "/tmp/fanion_fuzz_" + std::to_string(::getpid());
    std::filesystem::create_directories(d);
    return d;
  }();
  const std::string path = dir + "/ck";
  app::train::write_checkpoint(
      path, saved, [](torch::serialize::OutputArchive& out) { out.write("x", at::arange(3)); });
  const bool same = now.differences_from(saved).empty();
  try {
    app::train::read_checkpoint(path, now, read_payload);
    require(same, "checkpoint_fingerprint: resumed a checkpoint of another run");
    return true;
  } catch (const std::runtime_error& e) {
    require(!same, std::string("checkpoint_fingerprint: refused its own run: ") + e.what());
    require(std::string(e.what()).find("another run") != std::string::npos,
            std::string("checkpoint_fingerprint: wrong refusal: ") + e.what());
    return false;
  }
}

// --- the command line --------------------------------------------------------------------------

bool options(const uint8_t* data, size_t size) {
  // NUL-separated arguments after the program name.
  std::vector<std::string> args{"fanion fuzz"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(cur);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());

  app::cli::Parser p("fanion fuzz", "the fuzzer's parser");
  p.option("lr", "X", "a number").option("seed", "N", "a count", "0").flag("quick", "a flag");
  p.option("optimizers", "LIST", "optimizers", "muon");
  try {
    p.parse(static_cast<int>(argv.size()), argv.data());
    if (p.help_requested()) require(!p.help().empty(), "options: empty help");
    if (p.has("lr")) require(std::isfinite(p.get_double("lr")), "options: a non-finite --lr");
    require(p.get_int("seed", 0) >= 0, "options: a negative --seed");
    const auto chosen =
        app::train::parse_optimizers(p.get_string("optimizers"), app::train::gpt_defaults);
    require(!chosen.empty(), "options: no optimizer");
    for (const auto& c : chosen)
      require(std::isfinite(c.lr) && std::isfinite(c.momentum), "options: a non-finite value");
    return true;
  } catch (const app::cli::UsageError&) {
    return false;
  }
}

// --- seeds: one or two valid inputs per target ---------------------------------------------------

Bytes gzip(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, in.size()) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

/// The inverse of parts(): every part but the last length-prefixed.
Bytes join(const std::vector<Bytes>& ps) {
  Bytes out;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i + 1 < ps.size()) {
      out.push_back(static_cast<uint8_t>(ps[i].size() & 0xff));
      out.push_back(static_cast<uint8_t>(ps[i].size() >> 8));
    }
    out.insert(out.end(), ps[i].begin(), ps[i].end());
  }
  return out;
}

Bytes bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

std::vector<Bytes> idx_seeds() {
  Bytes images, labels;
  for (uint32_t v : {0x803u, 2u, 3u, 2u}) put_be32(images, v);
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<uint8_t>(20 * i));
  for (uint32_t v : {0x801u, 2u}) put_be32(labels, v);
  labels.insert(labels.end(), {7, 9});
  return {join({images, labels}), join({gzip(images), gzip(labels)})};
}

std::vector<Bytes> cifar_seeds() {
  Bytes one(3073, 17), two(2 * 3073, 200);
  one[0] = 3;
  two[0] = 0;
  two[3073] = 9;
  return {join({one, gzip(two)})};
}

std::vector<Bytes> token_shard_seeds() {
  Bytes b(1024, 0);
  const uint32_t header[3] = {20240520, 1, 3};
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) b[4 * i + k] = static_cast<uint8_t>(header[i] >> (8 * k));
  b.insert(b.end(), {0x01, 0x00, 0xff, 0xff, 0x34, 0x12});
  return {b, gzip(b)};
}

std::vector<Bytes> text_seeds() {
  return {
      bytes("Ge1:1 In the beginning God created the heaven and the earth.\n1Co13:4 Charity "
            "suffereth long\nRe22:21 The grace\nno reference: here\n")};
}

std::vector<Bytes> gpt2_json_seeds() {
  return {bytes(R"({"a": 1, "\u00e9\"": 2, "\ud83d\ude00": 3, "x\\y": -4})")};
}

/// A tiny GPT-2-style vocabulary: the 256 byte tokens (GPT-2's printable alphabet) and the
/// merges "h e" and "he llo"... enough for the constructor's every check.
std::vector<Bytes> gpt2_vocab_seeds() {
  auto printable = [](int b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  };
  std::vector<std::string> chars(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = printable(b) ? b : 256 + extra++;
    std::string& s = chars[b];
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  std::string json = "{";
  for (int b = 0; b < 256; ++b) {
    std::string key;
    for (char c : chars[b]) {
      if (c == '"' || c == '\\') key.push_back('\\');
      key.push_back(c);
    }
    json += "\"" + key + "\": " + std::to_string(b) + ", ";
  }
  json += "\"he\": 256, \"ll\": 257, \"hell\": 258}";
  return {join({bytes(json), bytes("#version: 0.2\nh e\nl l\nhe ll\n"), bytes("hello, hell\n")})};
}

std::vector<Bytes> gpt2_encode_seeds() {
  return {bytes("Hello world, it's 2026!\n  tabs\tand  spaces   \r\n"),
          Bytes{0xff, 0xfe, 'a', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80}};
}

std::vector<Bytes> checkpoint_seeds() {
  const std::string path = "/tmp/fanion_fuzz_seed_" + std::to_string(::getpid()) + ".ckpt";
  app::train::write_checkpoint(
      path, app::train::Fingerprint::parse(kSavedFingerprint),
      [](torch::serialize::OutputArchive& out) { out.write("x", at::arange(3)); });
  const Bytes b = app::data::read_file_bytes(path);
  std::filesystem::remove(path);
  return {b};
}

/// Items separated by NUL bytes.
Bytes nul_joined(const std::vector<std::string>& items) {
  Bytes out;
  for (const std::string& item : items) {
    if (!out.empty()) out.push_back(0);
    out.insert(out.end(), item.begin(), item.end());
  }
  return out;
}

std::vector<Bytes> checkpoint_fingerprint_seeds() {
  const Bytes fp = nul_joined({"command", "gpt", "seed", "1", "lr", "0.1"});
  const Bytes odd = nul_joined({"text", "a path=with\na newline%0A", "", "=", "seed", "1"});
  return {join({fp, fp}), join({odd, odd})};
}

std::vector<Bytes> options_seeds() {
  return {nul_joined({"--lr", "0.25", "--seed=3", "--quick", "--optimizers",
                      "muon,f-muon:lr=0.3:alpha=0.4,s-muon:sign_lr_coeff=0.003"}),
          nul_joined({"--help", "--seed", "12"})};
}

}  // namespace

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"idx", "an IDX image file and its label file, each plain or gzipped", idx, idx_seeds},
      {"cifar", "two CIFAR-10 binary batches, each plain or gzipped", cifar, cifar_seeds},
      {"token_shard", "a modded-nanogpt / llm.c token shard", token_shard, token_shard_seeds},
      {"text", "the KJV text's verse-reference stripping", text_file, text_seeds},
      {"gpt2_json", "GPT-2's encoder.json parser", gpt2_json, gpt2_json_seeds},
      {"gpt2_vocab", "a GPT-2 vocabulary (encoder.json, vocab.bpe) and a text to encode",
       gpt2_vocab, gpt2_vocab_seeds},
      {"gpt2_encode", "encoding with GPT-2's real vocabulary (decode(encode(s)) == s)", gpt2_encode,
       gpt2_encode_seeds},
      {"checkpoint", "a checkpoint file (frame, checksum, fingerprint, payload)", checkpoint,
       checkpoint_seeds},
      {"checkpoint_fingerprint", "a valid checkpoint resumed with another fingerprint",
       checkpoint_fingerprint, checkpoint_fingerprint_seeds},
      {"options", "command-line arguments and an --optimizers list", options, options_seeds},
  };
  return all;
}

const Target& target(const std::string& name) {
  std::string names;
  for (const Target& t : targets()) {
    if (name == t.name) return t;
    names += std::string(names.empty() ? "" : ", ") + t.name;
  }
  throw std::invalid_argument("no fuzz target '" + name + "' (targets: " + names + ")");
}

}  // namespace fanion::fuzz
