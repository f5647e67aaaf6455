#!/usr/bin/env bash
# Configures and builds everything (library, `fanion` tool, tests, Python package).
#   bash scripts/build.sh          the PyPI leg: torch 2.15.0 from scripts/setup.sh's venv, in build/
#                                  (a CUDA-enabled LibTorch: compiles and links CUDA, runs on CPU too)
#   bash scripts/build.sh debian   the Debian leg: libtorch-dev / python3-torch 1.13, in build-debian/
# FANION_BUILD_DIR overrides the folder.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
leg=${1:-pypi}
dir=$(fanion_leg_dir "$leg")
args=(-DCMAKE_BUILD_TYPE=Release)
if [ "$leg" = pypi ]; then
  py=$(fanion_leg_python pypi)
  if [ ! -x "$py" ]; then
    echo "build: $py is missing: run scripts/setup.sh first" >&2
    exit 1
  fi
  # The torch folder itself first, so that its lib/ wins over Debian's libtorch in /usr/lib
  # (TorchConfig.cmake's find_library would otherwise take the system's).
  torch_dir=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  args+=(-DCMAKE_PREFIX_PATH="$torch_dir;$torch_dir/share/cmake" -DPython3_EXECUTABLE="$py")
else
  args+=(-DPython3_EXECUTABLE=/usr/bin/python3)
fi
mkdir -p "$dir"
log=$dir/configure.log
cmake -S . -B "$dir" "${args[@]}" >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -E "^-- (fanion:|Found Torch|PyTorch: CUDA detected)" "$log" | sed 's/^-- /build: /' || true
cmake --build "$dir" -j "$(nproc)"
