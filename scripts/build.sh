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
# LibTorch's headers cost ~25 s per translation unit: ccache (from setup.sh) makes a rebuild, or
# a build in a second checkout, reuse what did not change. FANION_CCACHE=0 turns it off.
if [ "${FANION_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  # The precompiled header is cacheable only with these (ccache's manual, "Precompiled headers").
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS=-fpch-preprocess)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$FANION_ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
fi
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
