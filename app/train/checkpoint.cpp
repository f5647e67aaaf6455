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

constexpr int64_t kFormat = 2;  // 1: the records at top level, no checksum (refused)

at::Tensor bytes_tensor(const std::string& s) {
  at::Tensor t = at::empty({int64_t(s.size())}, at::kByte);
  if (!s.empty()) std::memcpy(t.data_ptr(), s.data(), s.size());
  return t;
}

std::string tensor_bytes(const at::Tensor& t, const std::string& what) {
  if (t.scalar_type() != at::kByte || t.dim() != 1 || !t.is_contiguous())
    throw std::runtime_error("the record '" + what + "' is not a byte string");
  return std::string(static_cast<const char*>(t.data_ptr()), size_t(t.numel()));
}

/// An exception's message; torch's without its C++ stack frames.
std::string message(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

uint64_t checksum(const std::string& fingerprint, const std::string& payload) {
  return fnv1a64(payload.data(), payload.size(), fnv1a64(fingerprint.data(), fingerprint.size()));
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read checkpoint " + path + ": cannot open it");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read checkpoint " + path + ": read error");
  return bytes;
}

/// The verified payload of the checkpoint `bytes` (read from `path`).
std::string verified_payload(const std::string& bytes, const std::string& path,
                             const Fingerprint& fingerprint) {
  std::string saved_fp, payload;
  int64_t format = 0;
  uint64_t sum = 0;
  try {
    torch::serialize::InputArchive in;
    in.load_from(bytes.data(), bytes.size());
    // A fresh tensor per record: reading into a defined one would set_() its storage.
    at::Tensor format_t, fp_t, payload_t, sum_t;
    if (!in.try_read("format", format_t))
      throw std::runtime_error(
          "it has no format record (written by an older fanion, which did not checksum "
          "its checkpoints; start the run again)");
    if (format_t.numel() != 1) throw std::runtime_error("the record 'format' is not one number");
    format = format_t.item<int64_t>();
    if (format != kFormat)
      throw std::runtime_error("format " + std::to_string(format) + ", this fanion reads " +
                               std::to_string(kFormat));
    in.read("fingerprint", fp_t);
    saved_fp = tensor_bytes(fp_t, "fingerprint");
    in.read("payload", payload_t);
    payload = tensor_bytes(payload_t, "payload");
    in.read("checksum", sum_t);
    if (sum_t.scalar_type() != at::kLong || sum_t.numel() != 1)
      throw std::runtime_error("the record 'checksum' is not one int64");
    sum = uint64_t(sum_t.item<int64_t>());
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read checkpoint " + path + ": " + message(e));
  }
  if (checksum(saved_fp, payload) != sum)
    throw std::runtime_error("checkpoint " + path +
                             " is corrupted (its checksum does not match its contents)");
  const std::string diff = fingerprint.differences_from(Fingerprint::parse(saved_fp));
  if (!diff.empty())
    throw std::runtime_error("checkpoint " + path + " is of another run: " + diff +
                             " (resume with the options it was saved with)");
  return payload;
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

std::string Fingerprint::text() const {
  std::string s;
  for (const auto& [k, v] : entries) s += k + "=" + v + "\n";
  return s;
}

Fingerprint Fingerprint::parse(const std::string& text) {
  Fingerprint f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      f.add(line, "");
    else
      f.add(line.substr(0, eq), line.substr(eq + 1));
  }
  return f;
}

std::string Fingerprint::differences_from(const Fingerprint& saved) const {
  auto find = [](const Fingerprint& f, const std::string& key) -> const std::string* {
    for (const auto& [k, v] : f.entries)
      if (k == key) return &v;
    return nullptr;
  };
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
  torch::serialize::OutputArchive out;
  out.write("format", at::tensor(kFormat, at::kLong));
  out.write("fingerprint", bytes_tensor(fp));
  out.write("payload", bytes_tensor(payload));
  out.write("checksum", at::tensor(int64_t(checksum(fp, payload)), at::kLong));
  const std::string tmp = path + ".tmp";
  try {
    out.save_to(tmp);
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
