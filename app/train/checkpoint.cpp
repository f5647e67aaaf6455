#include "train/checkpoint.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace fanion::app::train {
namespace {

// The file: "FANIONCK", then little-endian u64s: format, fingerprint length, the fingerprint,
// payload length, the payload (a torch archive), and the checksum of everything before it.
// Our own framing, so that the checksum is verified before torch parses a single byte (torch
// 1.13's reader crashes on some corrupted archives).
constexpr char kMagic[8] = {'F', 'A', 'N', 'I', 'O', 'N', 'C', 'K'};
constexpr uint64_t kFormat = 2;  // 1: a bare torch archive without a checksum (refused)

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xff));
}

/// An exception's message; torch's without its C++ stack frames.
std::string message(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

/// Reads the framing of `bytes` (bounds-checked: lengths never exceed what is there).
struct Reader {
  const std::string& bytes;
  size_t at = 0;
  uint64_t u64() {
    if (bytes.size() - at < 8) throw std::runtime_error("it is truncated");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    at += 8;
    return v;
  }
  std::string block() {
    const uint64_t n = u64();
    if (n > bytes.size() - at) throw std::runtime_error("it is truncated or corrupted");
    std::string out = bytes.substr(at, size_t(n));
    at += size_t(n);
    return out;
  }
};

/// The verified payload of the checkpoint `bytes` (read from `path`).
std::string verified_payload(const std::string& bytes, const std::string& path,
                             const Fingerprint& fingerprint) {
  std::string saved_fp, payload;
  try {
    if (bytes.size() < 8 || bytes.compare(0, 8, kMagic, 8) != 0)
      throw std::runtime_error(
          bytes.compare(0, 2, "PK") == 0
              ? "it is a bare torch archive, written by an older fanion, which did not checksum "
                "its checkpoints; start the run again"
              : "it is not a fanion checkpoint");
    Reader in{bytes, 8};
    const uint64_t format = in.u64();
    if (format != kFormat)
      throw std::runtime_error("format " + std::to_string(format) + ", this fanion reads " +
                               std::to_string(kFormat));
    saved_fp = in.block();
    payload = in.block();
    const size_t covered = in.at;
    const uint64_t sum = in.u64();
    if (in.at != bytes.size()) throw std::runtime_error("it has trailing bytes");
    if (fnv1a64(bytes.data(), covered) != sum)
      throw std::runtime_error("it is corrupted (its checksum does not match its contents)");
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read checkpoint " + path + ": " + e.what());
  }
  const std::string diff = fingerprint.differences_from(Fingerprint::parse(saved_fp));
  if (!diff.empty())
    throw std::runtime_error("checkpoint " + path + " is of another run: " + diff +
                             " (resume with the options it was saved with)");
  return payload;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read checkpoint " + path + ": cannot open it");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read checkpoint " + path + ": read error");
  return bytes;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t size, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

Fingerprint& Fingerprint::add(const std::string& key, const std::string& value) {
  entries.emplace_back(key, value);
  return *this;
}

namespace {
// Keys and values may hold any bytes (a --text path with a newline): '%', '=', CR and LF are
// written as %XX, so that every entry is one line with one '='.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '=' || c == '\n' || c == '\r') {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[static_cast<unsigned char>(c) >> 4];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && digit(s[i + 1]) >= 0 && digit(s[i + 2]) >= 0) {
      out += static_cast<char>(digit(s[i + 1]) * 16 + digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace

std::string Fingerprint::text() const {
  std::string s;
  for (const auto& [k, v] : entries) s += escape(k) + "=" + escape(v) + "\n";
  return s;
}

Fingerprint Fingerprint::parse(const std::string& text) {
  Fingerprint f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      f.add(unescape(line), "");
    else
      f.add(unescape(line.substr(0, eq)), unescape(line.substr(eq + 1)));
  }
  return f;
}

std::string Fingerprint::differences_from(const Fingerprint& saved) const {
  auto find = [](const Fingerprint& f, const std::string& key) -> const std::string* {
    for (const auto& [k, v] : f.entries)
      if (k == key) return &v;
    return nullptr;
  };
  if (entries == saved.entries) return "";
  std::string out;
  auto note = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  for (const auto& [k, v] : entries) {
    const std::string* old = find(saved, k);
    if (old == nullptr)
      note(k + ": not saved, now " + v);
    else if (*old != v)
      note(k + ": saved " + *old + ", now " + v);
  }
  for (const auto& [k, v] : saved.entries)
    if (find(*this, k) == nullptr) note(k + ": saved " + v + ", now absent");
  // Key by key the same, yet not equal: a key repeated with other values, or another order.
  if (out.empty()) out = "the same keys, repeated or in another order";
  return out;
}

void write_checkpoint(const std::string& path, const Fingerprint& fingerprint,
                      const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  torch::serialize::OutputArchive inner;
  fill(inner);
  std::string payload;
  inner.save_to([&](const void* data, size_t size) {
    payload.append(static_cast<const char*>(data), size);
    return size;
  });
  const std::string fp = fingerprint.text();
  std::string file(kMagic, 8);
  put_u64(file, kFormat);
  put_u64(file, fp.size());
  file += fp;
  put_u64(file, payload.size());
  file += payload;
  put_u64(file, fnv1a64(file.data(), file.size()));
  const std::string tmp = path + ".tmp";
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(file.data(), std::streamsize(file.size()));
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    (void)verified_payload(file_bytes(tmp), tmp, fingerprint);  // it reads back, whole
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write checkpoint " + path + ": " + message(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write checkpoint " + path + " (renaming " + tmp + " failed)");
  }
}

void read_checkpoint(const std::string& path, const Fingerprint& fingerprint,
                     const std::function<void(torch::serialize::InputArchive&)>& use) {
  read_checkpoint_bytes(file_bytes(path), path, fingerprint, use);
}

void read_checkpoint_bytes(const std::string& bytes, const std::string& path,
                           const Fingerprint& fingerprint,
                           const std::function<void(torch::serialize::InputArchive&)>& use) {
  const std::string payload = verified_payload(bytes, path, fingerprint);
  torch::serialize::InputArchive inner;
  try {
    inner.load_from(payload.data(), payload.size());
    use(inner);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read checkpoint " + path + ": " + message(e));
  }
}

}  // namespace fanion::app::train
