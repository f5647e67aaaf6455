// `fanion`: the command-line tool. A table of subcommands; each one parses its own options.
#include <c10/util/Exception.h>
#include <torch/version.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "cli.h"
#include "commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

// Add new subcommands here (and declare them in commands.h).
const Subcommand kSubcommands[] = {
    {"lsq", fanion::app::lsq_main,
     "linear least squares: iterations to loss 1e-3 (paper §6.1, Table 3, Figures 1, 10)"},
    {"bench", fanion::app::bench_main,
     "solver benchmarks: lowrank (paper Table 1), polar (Table 2), step (one optimizer step)"},
    {"train", fanion::app::train_main,
     "training: cnn (airbench CNN, §6.2, Table 5), gpt (NanoGPT-style, §6.3-6.5)"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: fanion <command> [options]\n"
               "       fanion <command> --help\n\n"
               "Norm-based matrix optimizers (Fanions, F-/S-Fanions, Muon, Neon, NSGD, "
               "SignSGD):\nexperiments of \"The Ky Fan Norms and Beyond\".\n\ncommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(out, "  %-8s %s\n", s.name, s.summary);
  std::fprintf(out,
               "\noptions:\n  --help     this text\n  --version  fanion's version and the "
               "LibTorch it was built with\n");
}

#ifdef __GLIBC__
/// Whether the user tuned glibc's malloc thresholds through the environment (then we don't).
bool user_set_malloc_tuning() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  return std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
         std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
         (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  // OpenMP threads that spin-wait between ATen's many small parallel regions make a busy
  // machine 10-20x slower (measured: 240 vs 5000 tokens/s for `train gpt` on 2 loaded cores).
  // libgomp reads OMP_WAIT_POLICY when it is loaded, before main, so set it and start again.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);  // returns only on failure: then carry on as we are
  }
#ifdef __GLIBC__
  // Most ATen ops allocate a fresh buffer; one of 1 MB (a 500x500 fp32 matrix) is above glibc's
  // mmap threshold, so each is mmapped, zero-filled page by page and unmapped again. Keeping
  // such buffers on the heap made `fanion lsq` 23% faster here (a seventh of its time went to
  // page faults); results are bit for bit the same (docs/RESULTS.md, "The paper's grid").
  if (!user_set_malloc_tuning()) {
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
  }
#endif
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(stdout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::printf("fanion %s (LibTorch %d.%d.%d)\n", FANION_VERSION, TORCH_VERSION_MAJOR,
                TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
    return 0;
  }
  for (const Subcommand& s : kSubcommands) {
    if (name != s.name) continue;
    // The prefix names the sub-subcommand too ("fanion train gpt"), when there is one.
    std::string prog = std::string("fanion ") + s.name;
    if (argc > 2 && argv[2][0] != '-' && std::strcmp(s.name, "lsq") != 0)
      prog += std::string(" ") + argv[2];
    try {
      return s.run(argc - 1, argv + 1);
    } catch (const fanion::app::cli::UsageError& e) {
      std::fprintf(stderr, "%s: error: %s\nusage: %s [options]   (%s --help for the list)\n",
                   prog.c_str(), e.what(), prog.c_str(), prog.c_str());
      return 2;
    } catch (const c10::Error& e) {  // torch's message, without its C++ stack frames
      std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what_without_backtrace());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", prog.c_str(), e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "fanion: unknown command '%s'\n\n", name.c_str());
  print_usage(stderr);
  return 2;
}
