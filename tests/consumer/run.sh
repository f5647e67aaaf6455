#!/usr/bin/env bash
# Installs the build into a private prefix, builds tests/consumer against it, runs it. The
# consumer finds Torch where the build did (the build's CMAKE_PREFIX_PATH). Then the installed
# `fanion`, run from another directory, writes its JSON and its plot (the plot script comes
# from the prefix's share/fanion).
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
prefix=$build/consumer-prefix
torch_path=$(sed -n 's/^CMAKE_PREFIX_PATH:[A-Z]*=//p' "$build/CMakeCache.txt")
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$here" -B "$build/consumer-build" -DCMAKE_PREFIX_PATH="$prefix${torch_path:+;$torch_path}" >/dev/null
cmake --build "$build/consumer-build" >/dev/null
"$build/consumer-build/consumer"

if [ -x "$prefix/bin/fanion" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  (cd "$out" && "$prefix/bin/fanion" lsq --m 30 --n 20 --algorithms muon --max-iters 20 --quiet \
     --json run.json --plot run.png >/dev/null)
  for f in run.json run.png; do
    [ -s "$out/$f" ] || { echo "consumer: the installed fanion wrote no $f" >&2; exit 1; }
  done
  echo "consumer: the installed fanion wrote run.json and run.png from $out"
fi
