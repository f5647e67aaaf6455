#!/usr/bin/env bash
# clang-tidy over the library and the tool (src/, app/) with the checks in .clang-tidy; every
# warning is an error. It configures its own folder, build-tidy/ (the PyPI torch, no
# precompiled header: clang cannot read GCC's), and needs no build. ~40 s per file here
# (LibTorch's headers), the files in parallel.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
py=$(fanion_leg_python pypi)
torch_dir=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
mkdir -p build-tidy
cmake -S . -B build-tidy -DFANION_PCH=OFF -DFANION_BUILD_PYTHON=OFF -DFANION_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$torch_dir;$torch_dir/share/cmake" >build-tidy/configure.log 2>&1 ||
  { cat build-tidy/configure.log; exit 1; }
mapfile -t files < <(git ls-files 'src/*.cpp' 'app/*.cpp')
log=build-tidy/tidy.log
if ! run-clang-tidy -quiet -p build-tidy -j "$(nproc)" "${files[@]}" >"$log" 2>&1 ||
    grep -qE "(warning|error): " "$log"; then
  grep -E "(warning|error): " "$log" | sort -u | head -50
  echo "tidy: clang-tidy found problems (above; all of it in $log)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files clean"
