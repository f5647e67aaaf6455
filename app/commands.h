#pragma once
// The `fanion` subcommands. Each takes (argc, argv) with argv[0] = the subcommand's name,
// returns the process exit status (0 ok, 1 runtime error, 2 bad command line), and may throw
// cli::UsageError (main prints it with the usage line, exit 2) or std::exception (exit 1).
// To add one: declare it here, define it in app/<name>.cpp, add a row to kSubcommands in
// app/main.cpp and the .cpp to fanion_cli in CMakeLists.txt.

namespace fanion::app {

int lsq_main(int argc, char** argv);    ///< paper §6.1, Table 3, Figures 1 and 10
int bench_main(int argc, char** argv);  ///< solver benchmarks: paper Tables 1 and 2
int train_main(int argc, char** argv);  ///< paper §6.2-6.5: `train cnn`, `train gpt`

}  // namespace fanion::app
