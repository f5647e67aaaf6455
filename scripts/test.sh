#!/usr/bin/env bash
# Runs every test: the GoogleTest suite and the find_package(fanion) consumer, via CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
ctest --test-dir build --output-on-failure -j "$(nproc)"
