#!/usr/bin/python3
"""Compare compare_peers.test_matrix(N, SPECTRUM, SEED) with the matrix that
check_generator.cpp (app/bench.cpp's recipe) dumped to OUT.bin.

    /usr/bin/python3 benchmarks/check_generator.py N SPECTRUM SEED OUT.bin
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_peers import test_matrix  # noqa: E402


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    n, spectrum, seed, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    M = test_matrix(n, spectrum, seed)
    C = torch.from_numpy(np.fromfile(path, dtype=np.float64).reshape(n, n))
    print(f"sum {M.sum().item():.17g} norm {M.norm().item():.17g} "
          f"M[0,0] {M[0, 0].item():.17g} M[n-1,n-1] {M[-1, -1].item():.17g}")
    same = torch.equal(M, C)
    print(f"max |python - c++| = {(M - C).abs().max().item():.3g}; bit-identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
