#pragma once
// What every experiment subcommand does at the end: a plain-text table on stdout, the JSON
// document (--json), and a PNG drawn by a matplotlib script in scripts/ (--plot).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli.h"
#include "json.h"

namespace fanion::app::report {

struct Column {
  std::string title;
  bool left = false;  ///< left-aligned (text) or right-aligned (numbers)
};

/// Columns a UTF-8 string takes in a terminal: one per code point ("±", "σ₁" are one each; the
/// tables hold no wide or combining characters).
inline size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count every byte but continuations
  return n;
}

inline void print_table(std::ostream& out, const std::vector<Column>& cols,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    w[c] = display_width(cols[c].title);
    for (const auto& row : rows) w[c] = std::max(w[c], display_width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cols.size(); ++c) {
      if (c) s += " | ";
      const std::string pad(w[c] - display_width(cells[c]), ' ');
      s += cols[c].left ? cells[c] + pad : pad + cells[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  line(titles);
  std::string rule;
  for (size_t c = 0; c < cols.size(); ++c) {
    if (c) rule += "-|-";
    rule += std::string(w[c], '-');
  }
  out << rule << "\n";
  for (const auto& row : rows) line(row);
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// scripts/<name> next to the executable's build tree, an installed share/fanion/<name>, or
/// ./scripts/<name>; $<env_var> overrides.
inline std::string find_script(const std::string& name, const char* env_var) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv(env_var)) candidates.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "scripts" / name);
    candidates.push_back(exe.parent_path() / ".." / "share" / "fanion" / name);
  }
  candidates.emplace_back("scripts/" + name);
  for (const auto& c : candidates)
    if (fs::exists(c, ec)) return fs::weakly_canonical(c, ec).string();
  throw std::runtime_error("cannot find scripts/" + name + " (set " + env_var + " to its path)");
}

/// Refuses, before any work starts, an output path that cannot be written, naming the option:
/// a directory, a missing directory, a read-only file or directory (tried for real, so that a
/// read-only file system or root's permissions give the right answer). A file that did not
/// exist is not left behind.
inline void check_output_path(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty()) throw cli::UsageError(option + ": empty path");
  if (fs::is_directory(path, ec)) throw cli::UsageError(option + ": '" + path + "' is a directory");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec))
    throw cli::UsageError(option + ": the directory '" + dir.string() + "' of '" + path +
                          "' does not exist");
  const bool existed = fs::exists(path, ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0)
    throw cli::UsageError(option + ": cannot write '" + path + "' (" + std::strerror(errno) + ")");
  ::close(fd);
  if (!existed) std::remove(path.c_str());
}

/// Writes `doc` to json_path (or a temporary file when only a plot is wanted) and runs
/// `/usr/bin/python3 <script> JSON PNG`. Returns 0, or 1 when plotting failed: the JSON is
/// kept either way (a temporary one too, and its path printed).
inline int write_json_and_plot(const json::Value& doc, const std::optional<std::string>& json_path,
                               const std::optional<std::string>& plot_path,
                               const std::string& script, const char* script_env,
                               const std::string& who) {
  if (!json_path && !plot_path) return 0;
  std::string path;
  bool temporary = false;
  if (json_path) {
    path = *json_path;
  } else {
    char tmpl[] = "/tmp/fanion-XXXXXX.json";
    const int fd = ::mkstemps(tmpl, 5);
    if (fd < 0) throw std::runtime_error("cannot create a temporary JSON file in /tmp");
    ::close(fd);
    path = tmpl;
    temporary = true;
  }
  json::write_file(path, doc);
  if (json_path) std::cout << "wrote " << path << "\n";
  int status = 0;
  if (plot_path) {
    std::string failure;
    try {
      const std::string cmd = "/usr/bin/python3 " + shell_quote(find_script(script, script_env)) +
                              " " + shell_quote(path) + " " + shell_quote(*plot_path);
      if (std::system(cmd.c_str()) != 0) failure = cmd + " failed";
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) {
      std::cerr << who << ": error: plotting failed (" << failure << "); the results are in "
                << path << "\n";
      temporary = false;  // keep them
      status = 1;
    } else {
      std::cout << "wrote " << *plot_path << "\n";
    }
  }
  if (temporary) std::remove(path.c_str());
  return status;
}

}  // namespace fanion::app::report
