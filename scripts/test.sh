#!/usr/bin/env bash
# Runs every test: the GoogleTest suite and the find_package(fanion) consumer, via CTest, then
# the Python package's pytest suite against the build tree (PYTHONPATH=build/python) and the
# command-line tests (tests/cli). Both run
# even if the first fails; the exit code is non-zero if either failed. FANION_BUILD_DIR selects
# another build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${FANION_BUILD_DIR:-build}"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

status=0
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" || status=1

if [ ! -f "$BUILD/python/fanion/__init__.py" ]; then
  echo "test: $BUILD/python/fanion is missing: the Python package was not built (see the CMake" \
       "configure output; scripts/setup.sh installs python3-torch, python3-dev, pybind11-dev)" >&2
  exit 1
fi
rc=0
PYTHONPATH="$BUILD/python${PYTHONPATH:+:$PYTHONPATH}" \
  FANION_BUILD_DIR="$BUILD" "$PYTHON" -m pytest -q -p no:cacheprovider tests/python tests/cli || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests in tests/python: that is a failure, not a pass" >&2
  status=1
elif [ "$rc" -ne 0 ]; then
  status=1
fi
exit "$status"
