#!/usr/bin/env bash
# Installs the build into a private prefix, builds tests/consumer against it, runs it. The
# consumer finds Torch where the build did (the build's CMAKE_PREFIX_PATH).
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
prefix=$build/consumer-prefix
torch_path=$(sed -n 's/^CMAKE_PREFIX_PATH:[A-Z]*=//p' "$build/CMakeCache.txt")
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$here" -B "$build/consumer-build" -DCMAKE_PREFIX_PATH="$prefix${torch_path:+;$torch_path}" >/dev/null
cmake --build "$build/consumer-build" >/dev/null
"$build/consumer-build/consumer"
