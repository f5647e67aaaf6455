#pragma once
// Options more than one command takes (--threads, --device) and the parse-or-help opening,
// each written once: `lsq`, `bench` and `train` call these.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <iostream>
#include <string>

#include "cli.h"

namespace fanion::app::options {

/// Parses the command line; prints the help and returns false when --help was given.
inline bool parse_or_help(cli::Parser& p, int argc, char** argv) {
  p.parse(argc, argv);
  if (!p.help_requested()) return true;
  std::cout << p.help();
  return false;
}

inline void add_threads(cli::Parser& p) {
  p.option("threads", "N", "intra-op threads (at::set_num_threads)");
}
/// --threads N (N >= 1) sets LibTorch's intra-op threads; absent, LibTorch's default stays.
inline void apply_threads(const cli::Parser& p) {
  if (p.has("threads")) at::set_num_threads(static_cast<int>(p.get_int("threads", 1)));
}

inline void add_device(cli::Parser& p) { p.option("device", "D", "cpu | cuda", "cpu"); }
/// --device, refused before any work when unknown or when this torch has no CUDA device.
inline std::string checked_device(const cli::Parser& p) {
  std::string device = p.get_string("device");
  if (device != "cpu" && device != "cuda")
    throw cli::UsageError("--device: expected cpu or cuda, got '" + device + "'");
  if (device == "cuda" && !at::hasCUDA())
    throw cli::UsageError("--device cuda: this build of torch has no CUDA device available");
  return device;
}

}  // namespace fanion::app::options
