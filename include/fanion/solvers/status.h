#pragma once
// What every solver reports besides its answer (docs/design.md §3): a status instead of an
// exception on non-convergence, and counters so benchmarks compare work honestly.
#include <cstdint>
#include <string>

namespace fanion {

enum class SolverStatus {
  kConverged,      ///< the stopping test held
  kNotConverged,   ///< budget spent; the result is the best answer found so far
  kNumericalIssue  ///< breakdown or non-finite values; the result is still well defined
};

std::string to_string(SolverStatus s);

struct SolverStats {
  SolverStatus status = SolverStatus::kConverged;
  int64_t iterations = 0;  ///< solver iterations (Newton–Schulz steps, restarts, ...)
  int64_t matvecs = 0;     ///< products of the matrix (or its transpose) with one vector
  int64_t passes = 0;      ///< passes over the matrix (a block product counts once)
  int64_t matmuls = 0;     ///< dense matrix-matrix products not involving the input
  double residual = 0.0;   ///< the solver's final stopping measure (0 for exact methods)
};

}  // namespace fanion
