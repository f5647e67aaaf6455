#pragma once
// Text corpora for the GPT experiment: a plain text file, the King James Bible of Debian's
// bible-kjv, and token shards in the modded-nanogpt / llm.c format (FineWeb).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fanion::app::data {

/// The whole file as a string. DataError naming the path when missing or empty.
std::string read_text_file(const std::string& path);

/// Drops the verse references that `bible -f` prints at the start of each line ("Ge1:1 ",
/// "1Co13:4 ", "Re22:21 "), keeping the verse text and the newlines.
std::string strip_verse_references(const std::string& bible_output);

/// Runs `bible -f gen1:1-rev22:21` (Debian's bible-kjv) and returns the verses with their
/// references stripped (about 4.3 MB). DataError saying which package to install when the
/// `bible` program is missing or prints nothing.
std::string load_kjv_bible();

/// A token shard as written by modded-nanogpt / llm.c: a 256 x int32 header (magic 20240520,
/// version 1, token count), then uint16 tokens. Returns int64 [count]. DataError naming the
/// file on a bad magic/version or a size that does not match the count.
at::Tensor load_token_shard(const std::string& path);
/// The same on the file's (decoded) bytes; `path` names it in messages.
at::Tensor parse_token_shard(const std::vector<uint8_t>& bytes, const std::string& path);

}  // namespace fanion::app::data
