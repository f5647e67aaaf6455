// One F-Muon step on a 4x3 matrix through the installed package; exits non-zero on failure.
#include <fanion/optim/presets.h>

#include <iostream>

int main() {
  at::Tensor w = at::randn({4, 3}, at::kDouble);
  const at::Tensor before = w.clone();
  w.mutable_grad() = at::randn({4, 3}, at::kDouble);
  fanion::optim::NormOptimizer opt({w}, fanion::optim::f_muon(0.1, 0.9));
  opt.step();
  const bool moved = !at::equal(w, before);
  std::cout << "consumer: step " << (moved ? "moved" : "did NOT move") << " the weight\n";
  return moved ? 0 : 1;
}
