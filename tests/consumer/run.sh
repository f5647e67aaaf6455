#!/usr/bin/env bash
# Installs the build into a private prefix, builds tests/consumer against it, runs it.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
prefix=$build/consumer-prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$here" -B "$build/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$build/consumer-build" >/dev/null
"$build/consumer-build/consumer"
