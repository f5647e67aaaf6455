#pragma once
// Throttled progress lines on stderr for long-running subcommands.
//
// On a terminal the line is rewritten in place ('\r') at most once per `interval` seconds and
// erased by done(); when stderr is a file or a pipe, a full line is written at most once per
// `pipe_interval` seconds so logs stay short. quiet = true silences everything.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace fanion::app {

/// "12.3s", "4m05s", "1h02m".
inline std::string format_duration(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  }
  return buf;
}

/// The whole command's estimate, from the `done` of `total` runs it finished in `elapsed`
/// seconds: "[all: about 4m05s left] "; "" before the first run ends (nothing to go by).
inline std::string left_in_all(double elapsed, size_t done, size_t total) {
  if (done == 0 || done >= total) return "";
  return "[all: about " + format_duration(elapsed / double(done) * double(total - done)) +
         " left] ";
}

class Progress {
 public:
  explicit Progress(bool quiet = false, double interval = 1.0, double pipe_interval = 10.0)
      : quiet_(quiet),
        tty_(::isatty(STDERR_FILENO) == 1),
        interval_(tty_ ? interval : pipe_interval),
        last_(Clock::now() - std::chrono::hours(1)) {}

  /// Shows `line` if the throttle allows (force = true: always).
  void update(const std::string& line, bool force = false) {
    if (quiet_) return;
    const auto now = Clock::now();
    if (!force && std::chrono::duration<double>(now - last_).count() < interval_) return;
    last_ = now;
    if (tty_) {
      std::string shown = line.size() > 150 ? line.substr(0, 150) : line;
      std::fprintf(stderr, "\r%s\033[K", shown.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  /// Ends the current in-place line; `final_line` (if any) stays on screen / in the log.
  void done(const std::string& final_line = "") {
    if (quiet_) return;
    if (tty_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
    if (!final_line.empty()) std::fprintf(stderr, "%s\n", final_line.c_str());
    std::fflush(stderr);
    last_ = Clock::now() - std::chrono::hours(1);
  }

  bool quiet() const { return quiet_; }

 private:
  using Clock = std::chrono::steady_clock;
  bool quiet_;
  bool tty_;
  double interval_;
  Clock::time_point last_;
  bool shown_ = false;
};

}  // namespace fanion::app
