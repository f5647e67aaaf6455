#pragma once
// Named members of the family (paper §3–§4 and Table 3) as ready NormOptimizerOptions.
#include <string>
#include <vector>

#include "fanion/optim/fanion.h"

namespace fanion::optim {

NormOptimizerOptions muon(double lr = 0.02, double momentum = 0.95);
NormOptimizerOptions neon(double lr = 0.02, double momentum = 0.95);
NormOptimizerOptions fanion_k(int64_t k, double lr = 0.02, double momentum = 0.95);
NormOptimizerOptions f_muon(double lr = 0.02, double momentum = 0.95, double alpha = 0.5);
NormOptimizerOptions f_neon(double lr = 0.02, double momentum = 0.95, double alpha = 0.5);
NormOptimizerOptions f_fanion_k(int64_t k, double lr = 0.02, double momentum = 0.95,
                                double alpha = 0.5);
NormOptimizerOptions s_muon(double lr = 0.02, double momentum = 0.95, double alpha = 0.5,
                            double sign_lr_coeff = 0.01);
NormOptimizerOptions s_neon(double lr = 0.02, double momentum = 0.95, double alpha = 0.5,
                            double sign_lr_coeff = 0.01);
NormOptimizerOptions s_fanion_k(int64_t k, double lr = 0.02, double momentum = 0.95,
                                double alpha = 0.5, double sign_lr_coeff = 0.01);
NormOptimizerOptions nsgd(double lr = 0.02, double momentum = 0.95);
NormOptimizerOptions signsgd(double lr = 0.02, double momentum = 0.95);

/// By name, as the CLI spells them: muon, neon, nsgd, signsgd, f-muon, f-neon, s-muon,
/// s-neon, fanion-K, f-fanion-K, s-fanion-K (K a positive integer). Case-insensitive.
/// Throws std::invalid_argument listing the known names.
NormOptimizerOptions preset(const std::string& name, double lr, double momentum, double alpha = 0.5,
                            double sign_lr_coeff = 0.01);
std::vector<std::string> preset_names();

}  // namespace fanion::optim
