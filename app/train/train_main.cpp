// `fanion train cnn|gpt`: the paper's training experiments (§6.2-6.5) on data reachable here
// (Fashion-MNIST, the King James Bible), in C++ with LibTorch.
#include <iostream>
#include <string>

#include "cli.h"
#include "commands.h"
#include "train/command_util.h"

namespace fanion::app {

int train_main(int argc, char** argv) {
  const std::string usage =
      "usage: fanion train cnn [options]   the airbench CNN on Fashion-MNIST / CIFAR-10 "
      "(§6.2)\n       fanion train gpt [options]   a NanoGPT-style model on English text "
      "(§6.3-6.5)\n       fanion train <cnn|gpt> --help\n";
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string what = argv[1];
  if (what == "-h" || what == "--help") {
    std::cout << usage;
    return 0;
  }
  if (what == "cnn") return train::cnn_command(argc - 1, argv + 1);
  if (what == "gpt") return train::gpt_command(argc - 1, argv + 1);
  throw cli::UsageError("unknown experiment '" + what + "' (cnn or gpt)");
}

}  // namespace fanion::app
