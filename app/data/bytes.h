#pragma once
// Reading whole files for the data loaders: plain or gzip-compressed (by the gzip magic, not
// the name), with errors that name the path.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fanion::app::data {

/// Every data-loading failure: missing, unreadable, truncated or corrupt files. The message
/// always names the file (and what was expected where it says what is wrong).
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The file's bytes; gunzipped when the file starts with the gzip magic (1f 8b).
std::vector<uint8_t> read_file_bytes(const std::string& path);

/// `raw` as read_file_bytes would return it from a file of those bytes (`path` names it in
/// messages): gunzipped when it starts with the gzip magic. The parsers below take bytes, so
/// that the tests and the fuzzers (tests/fuzz) reach them without files.
std::vector<uint8_t> decode_file_bytes(std::vector<uint8_t> raw, const std::string& path);

}  // namespace fanion::app::data
