#include "fanion/solvers/status.h"

namespace fanion {

std::string to_string(SolverStatus s) {
  switch (s) {
    case SolverStatus::kConverged:
      return "converged";
    case SolverStatus::kNotConverged:
      return "not_converged";
    case SolverStatus::kNumericalIssue:
      return "numerical_issue";
  }
  return "unknown";
}

}  // namespace fanion
