#pragma once
// A tiny JSON value and writer for the `fanion` command's --json output.
//
//   json::Value run = json::Value::object();
//   run.set("algorithm", "muon").set("lr", 0.007).set("iterations", std::nullopt);
//   json::Value curve = json::Value::array();
//   curve.push_back(json::Value::array().push_back(10).push_back(1.5e-3));
//   run.set("loss", std::move(curve));
//   json::write_file("out.json", run);
//
// Numbers are written with the fewest digits that read back to the same double (at most 17),
// integers as integers; NaN and +-Inf become null (JSON has no spelling for them). Strings are
// escaped (quotes, backslash, control characters); UTF-8 passes through. Objects keep the
// order in which keys were first set. Containers whose members are all scalars are written on
// one line, so long curves stay readable.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace fanion::app::json {

class Value {
 public:
  enum class Type { kNull, kBool, kInt, kNumber, kString, kArray, kObject };

  Value() = default;                                     // null
  Value(std::nullptr_t) {}                               // NOLINT: implicit on purpose
  Value(std::nullopt_t) {}                               // NOLINT
  Value(bool b) : type_(Type::kBool), bool_(b) {}        // NOLINT
  Value(double d) : type_(Type::kNumber), number_(d) {}  // NOLINT
  Value(float d) : type_(Type::kNumber), number_(d) {}   // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T i) : type_(Type::kInt), int_(static_cast<int64_t>(i)) {  // NOLINT
    if constexpr (std::is_unsigned_v<T>) {
      if (static_cast<uint64_t>(i) > static_cast<uint64_t>(INT64_MAX)) {
        type_ = Type::kNumber;
        number_ = static_cast<double>(i);
      }
    }
  }
  Value(const char* s) : type_(Type::kString), string_(s) {}             // NOLINT
  Value(std::string s) : type_(Type::kString), string_(std::move(s)) {}  // NOLINT
  template <class T>
  Value(const std::optional<T>& o) {  // NOLINT: nullopt -> null
    if (o) *this = Value(*o);
  }

  static Value array() {
    Value v;
    v.type_ = Type::kArray;
    return v;
  }
  static Value object() {
    Value v;
    v.type_ = Type::kObject;
    return v;
  }
  template <class T>
  static Value array_of(const std::vector<T>& items) {
    Value v = array();
    for (const auto& x : items) v.push_back(Value(x));
    return v;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }

  /// Arrays: append. Returns *this so calls chain.
  Value& push_back(Value v) {
    if (type_ != Type::kArray) throw std::logic_error("json: push_back on a non-array");
    items_.push_back(std::move(v));
    return *this;
  }
  /// Objects: set (replacing an existing key in place). Returns *this so calls chain.
  Value& set(const std::string& key, Value v) {
    if (type_ != Type::kObject) throw std::logic_error("json: set on a non-object");
    for (auto& kv : members_) {
      if (kv.first == key) {
        kv.second = std::move(v);
        return *this;
      }
    }
    members_.emplace_back(key, std::move(v));
    return *this;
  }
  size_t size() const { return type_ == Type::kArray ? items_.size() : members_.size(); }

  void write(std::ostream& out, int indent = 2) const { write_at(out, indent, 0); }
  std::string dump(int indent = 2) const {
    std::ostringstream out;
    write(out, indent);
    return out.str();
  }

  /// Shortest decimal that round-trips; null for non-finite values.
  static std::string format_number(double d) {
    if (!std::isfinite(d)) return "null";
    if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[40];
    for (int prec = 15; prec <= 17; ++prec) {
      std::snprintf(buf, sizeof buf, "%.*g", prec, d);
      if (std::strtod(buf, nullptr) == d) break;
    }
    std::string s = buf;
    // Keep it a JSON number that reads back as floating point: "3" -> "3.0".
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
  }

  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    return out + "\"";
  }

 private:
  /// Scalars and empty containers: what a one-line container may hold.
  bool is_scalar() const {
    return (type_ != Type::kArray && type_ != Type::kObject) || size() == 0;
  }
  bool all_scalar_children() const {
    for (const auto& v : items_)
      if (!v.is_scalar()) return false;
    for (const auto& kv : members_)
      if (!kv.second.is_scalar()) return false;
    return true;
  }

  void write_at(std::ostream& out, int indent, int depth) const {
    switch (type_) {
      case Type::kNull:
        out << "null";
        return;
      case Type::kBool:
        out << (bool_ ? "true" : "false");
        return;
      case Type::kInt:
        out << int_;
        return;
      case Type::kNumber:
        out << format_number(number_);
        return;
      case Type::kString:
        out << quote(string_);
        return;
      case Type::kArray:
      case Type::kObject:
        break;
    }
    const bool is_array = type_ == Type::kArray;
    const char open = is_array ? '[' : '{', close = is_array ? ']' : '}';
    const size_t n = size();
    if (n == 0) {
      out << open << close;
      return;
    }
    const bool inline_ = indent <= 0 || all_scalar_children();
    const std::string pad_in(inline_ ? 0 : size_t(indent) * (depth + 1), ' ');
    const std::string pad_out(inline_ ? 0 : size_t(indent) * depth, ' ');
    out << open;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out << (inline_ ? ", " : ",");
      if (!inline_) out << "\n" << pad_in;
      if (is_array) {
        items_[i].write_at(out, indent, depth + 1);
      } else {
        out << quote(members_[i].first) << ": ";
        members_[i].second.write_at(out, indent, depth + 1);
      }
    }
    if (!inline_) out << "\n" << pad_out;
    out << close;
  }

  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double number_ = 0.0;
  std::string string_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

/// Writes `v` plus a newline; throws std::runtime_error naming the path on failure.
inline void write_file(const std::string& path, const Value& v, int indent = 2) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
  v.write(out, indent);
  out << "\n";
  out.flush();
  if (!out) throw std::runtime_error("error while writing '" + path + "'");
}

}  // namespace fanion::app::json
