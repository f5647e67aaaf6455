#pragma once
// A tiny command-line parser for the `fanion` subcommands.
//
//   cli::Parser p("fanion lsq", "Linear least squares (paper §6.1).");
//   p.option("lr", "X", "learning rate override");            // --lr X or --lr=X
//   p.option("seed", "N", "problem seed", "0");               // with a default
//   p.flag("grid", "run the paper's grid search");            // --grid
//   p.parse(argc, argv);          // argv[0] is the subcommand name; throws cli::UsageError
//   if (p.help_requested()) { std::cout << p.help(); return 0; }
//   int64_t seed = p.get_int("seed");
//
// Errors (unknown option, missing or malformed value, stray positional argument) throw
// cli::UsageError; the caller prints it with the usage line and exits with status 2.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fanion::app::cli {

/// Bad command line: exit status 2, with the usage line.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "a,b,,c" -> {"a", "b", "c"} (empty items dropped, spaces trimmed).
inline std::vector<std::string> split_list(const std::string& s, char sep = ',') {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

/// Strict number parsing: the whole string must be a finite decimal number (no hexadecimal
/// "0x10", no "inf"/"nan", no spaces).
inline double parse_double(const std::string& text, const std::string& what) {
  if (text.find_first_not_of("0123456789+-.eE") != std::string::npos)
    throw UsageError(what + ": expected a decimal number, got '" + text + "'");
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (text.empty() || end != s + text.size() || errno == ERANGE || !std::isfinite(v)) {
    throw UsageError(what + ": expected a number, got '" + text + "'");
  }
  return v;
}

inline int64_t parse_int(const std::string& text, const std::string& what) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (text.empty() || end != s + text.size() || errno == ERANGE) {
    throw UsageError(what + ": expected an integer, got '" + text + "'");
  }
  return static_cast<int64_t>(v);
}

class Parser {
 public:
  Parser(std::string program, std::string description)
      : program_(std::move(program)), description_(std::move(description)) {}

  /// --name VALUE (also --name=VALUE). An empty default_value means "no default".
  Parser& option(const std::string& name, const std::string& metavar, const std::string& help,
                 const std::string& default_value = "") {
    specs_.push_back({name, metavar, help, default_value, false});
    return *this;
  }
  /// --name (boolean, no value).
  Parser& flag(const std::string& name, const std::string& help) {
    specs_.push_back({name, "", help, "", true});
    return *this;
  }
  /// Free text appended to --help (examples, notes).
  Parser& epilog(const std::string& text) {
    epilog_ = text;
    return *this;
  }

  /// argv[0] is the program/subcommand name and is skipped.
  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "--help") {
        help_ = true;
        continue;
      }
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
        throw UsageError("unexpected argument '" + arg + "'");
      }
      std::string name = arg.substr(2);
      std::optional<std::string> value;
      if (const auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const Spec* spec = find(name);
      if (spec == nullptr) throw UsageError("unknown option '--" + name + "'");
      if (spec->is_flag) {
        if (value) throw UsageError("option '--" + name + "' takes no value");
        values_[name] = "1";
        continue;
      }
      if (!value) {
        if (i + 1 >= argc) throw UsageError("option '--" + name + "' needs a value");
        value = argv[++i];
      }
      values_[name] = *value;
    }
  }

  bool help_requested() const { return help_; }
  /// Given on the command line (defaults do not count).
  bool has(const std::string& name) const {
    spec_or_throw(name);
    return values_.count(name) != 0;
  }
  bool get_flag(const std::string& name) const { return has(name); }
  /// The given value, else the default; nullopt when neither exists.
  std::optional<std::string> get(const std::string& name) const {
    const Spec& spec = spec_or_throw(name);
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    if (!spec.default_value.empty()) return spec.default_value;
    return std::nullopt;
  }
  std::string get_string(const std::string& name) const { return required(name); }
  double get_double(const std::string& name) const {
    return parse_double(required(name), "--" + name);
  }
  int64_t get_int(const std::string& name) const { return parse_int(required(name), "--" + name); }
  /// An integer that must be >= low (counts, seeds, sizes), refused naming the option.
  int64_t get_int(const std::string& name, int64_t low) const {
    const int64_t v = get_int(name);
    if (v < low)
      throw UsageError("--" + name + ": must be >= " + std::to_string(low) + ", got " +
                       std::to_string(v));
    return v;
  }
  std::optional<double> get_optional_double(const std::string& name) const {
    if (!has(name)) return std::nullopt;
    return get_double(name);
  }

  std::string usage() const { return "usage: " + program_ + " [options]"; }

  std::string help() const {
    std::ostringstream out;
    out << usage() << "\n\n" << description_ << "\n\noptions:\n";
    std::vector<std::string> left;
    size_t width = 0;
    for (const Spec& s : specs_) {
      std::string l = "  --" + s.name + (s.is_flag ? "" : " " + s.metavar);
      width = std::max(width, l.size());
      left.push_back(l);
    }
    left.push_back("  -h, --help");
    width = std::max(width, left.back().size());
    for (size_t i = 0; i < specs_.size(); ++i) {
      const Spec& s = specs_[i];
      std::string text = s.help;
      if (!s.default_value.empty()) text += " (default: " + s.default_value + ")";
      out << left[i] << std::string(width - left[i].size() + 2, ' ')
          << wrap(text, width + 2, kHelpWidth) << "\n";
    }
    out << left.back() << std::string(width - left.back().size() + 2, ' ') << "show this help\n";
    if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
    return out.str();
  }

 private:
  struct Spec {
    std::string name, metavar, help, default_value;
    bool is_flag;
  };
  static constexpr size_t kHelpWidth = 96;

  /// Word-wraps `text` to `total` columns, continuation lines indented by `indent`.
  static std::string wrap(const std::string& text, size_t indent, size_t total) {
    const size_t room = total > indent + 20 ? total - indent : 20;
    std::istringstream words(text);
    std::string word, out, line;
    while (words >> word) {
      if (!line.empty() && line.size() + 1 + word.size() > room) {
        out += line + "\n" + std::string(indent, ' ');
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    return out + line;
  }

  const Spec* find(const std::string& name) const {
    for (const Spec& s : specs_)
      if (s.name == name) return &s;
    return nullptr;
  }
  const Spec& spec_or_throw(const std::string& name) const {
    const Spec* s = find(name);
    if (s == nullptr) throw std::logic_error("cli: option '" + name + "' was never declared");
    return *s;
  }
  std::string required(const std::string& name) const {
    auto v = get(name);
    if (!v) throw UsageError("option '--" + name + "' is required");
    return *v;
  }

  std::string program_, description_, epilog_;
  std::vector<Spec> specs_;
  std::map<std::string, std::string> values_;
  bool help_ = false;
};

}  // namespace fanion::app::cli
