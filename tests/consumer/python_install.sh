#!/usr/bin/env bash
# Installs the Python package (cmake --install --component python) into a private prefix and
# imports it from there, away from the build tree: the installed extension must find libtorch.
set -euo pipefail
build=$1 python_dir=$2 python=$3
prefix=$build/python-install-prefix
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" --component python >/dev/null
cd /
PYTHONPATH="$prefix/$python_dir" "$python" - "$prefix" <<'PY'
import sys
import torch
import fanion
assert fanion.__file__.startswith(sys.argv[1]), fanion.__file__
Q, stats = fanion.solvers.polar_factor(torch.randn(2, 6, 4))
assert Q.shape == (2, 6, 4) and stats["status"] == "converged"
print("installed fanion", fanion.__version__, "imports from", fanion.__file__)
PY
