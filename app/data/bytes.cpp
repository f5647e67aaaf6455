// Whole-file reads with transparent gunzip (see bytes.h).
#include "data/bytes.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

namespace fanion::app::data {

namespace {

std::vector<uint8_t> read_raw(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t n = std::fread(chunk, 1, sizeof chunk, f.get());
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (n < sizeof chunk) break;
  }
  // fopen succeeds on a directory; the read then fails with EISDIR.
  if (std::ferror(f.get())) throw DataError(path + ": cannot read (" + std::strerror(errno) + ")");
  return bytes;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path) {
  if (in.size() > UINT_MAX) throw DataError(path + ": gzip files over 4 GiB are not supported");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw DataError(path + ": cannot start zlib");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());

  // The gzip trailer ends with the uncompressed size (mod 2^32): the right buffer for a whole
  // file; capped by deflate's best ratio (about 1032:1) against a corrupt trailer.
  const size_t n = in.size();
  const size_t isize =
      n < 4 ? 0 : in[n - 4] | (in[n - 3] << 8) | (in[n - 2] << 16) | (size_t{in[n - 1]} << 24);
  std::vector<uint8_t> out(std::min(isize, n * 1032) + 1);
  size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (produced == out.size()) out.resize(out.size() * 2);
    const size_t room = std::min<size_t>(out.size() - produced, UINT_MAX);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(room);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END || rc == Z_OK) continue;
    // There is always output space here, so Z_BUF_ERROR means the input ran out: cut short.
    const bool truncated = rc == Z_BUF_ERROR;
    const std::string msg = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    inflateEnd(&zs);
    if (truncated) {
      throw DataError(path + ": truncated gzip file (ends after " + std::to_string(in.size()) +
                      " compressed bytes)");
    }
    throw DataError(path + ": corrupt gzip data (" + msg + ")");
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  return decode_file_bytes(read_raw(path), path);
}

std::vector<uint8_t> decode_file_bytes(std::vector<uint8_t> raw, const std::string& path) {
  if (raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) return gunzip(raw, path);
  return raw;
}

}  // namespace fanion::app::data
