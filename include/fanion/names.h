#pragma once
// Option values by name: one spelling rule for C++, Python and the command line.
#include <cctype>
#include <string>

namespace fanion {

/// `name` in lower case with '-' and '_' both written as `separator`: "Nesterov-EQ4" and
/// "nesterov_eq4" are one name. Enum values are spelled with '_' (as in Python), the
/// optimizer presets with '-' (as on the command line).
inline std::string normalize_name(const std::string& name, char separator = '_') {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    out += c == '-' || c == '_' ? separator
                                : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace fanion
