#!/usr/bin/env bash
# Builds the library, the tool's pieces, the GoogleTest suite and the libFuzzer binaries with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer (against Debian's LibTorch, which is
# not instrumented), in build-asan/, then runs the GoogleTest suite under them: the first memory
# error, leak or undefined behaviour in our code fails the run. scripts/fuzz.sh uses the same
# build.
#   bash scripts/sanitize.sh            build and test
#   bash scripts/sanitize.sh --build    build only
# FANION_BUILD_DIR overrides the folder.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
dir=${FANION_BUILD_DIR:-build-asan}
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++
      -DFANION_SANITIZE=address,undefined -DFANION_BUILD_FUZZERS=ON
      -DFANION_BUILD_APP=OFF -DFANION_BUILD_PYTHON=OFF)
if [ "${FANION_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  # clang's precompiled headers are cacheable without their timestamp (ccache's manual).
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache "-DCMAKE_CXX_FLAGS=-Xclang -fno-pch-timestamp")
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$FANION_ROOT} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
fi
mkdir -p "$dir"
cmake -S . -B "$dir" "${args[@]}" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)"
[ "${1:-}" = --build ] && exit 0

# LibTorch allocates for the life of the process (thread pools, registries): leaks reported
# only inside it are not ours (tests/sanitize.supp).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$FANION_ROOT/tests/sanitize.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export FANION_REFERENCE_PYTHON="${FANION_REFERENCE_PYTHON:-$FANION_VENV/bin/python}"
echo "sanitize: the GoogleTest suite under ASan + UBSan ($dir)"
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -E '^find_package_consumer$'
