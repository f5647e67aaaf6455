#!/usr/bin/env bash
# The style checks CI runs: clang-format (.clang-format: Google, 100 columns) on every tracked
# C++ file, and ruff (pyproject.toml's [tool.ruff]: pyflakes and pycodestyle, 100 columns) on
# every tracked Python file. Fix with `clang-format -i FILE` and `ruff check --fix`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$FANION_ROOT"
status=0
mapfile -t cxx < <(git ls-files '*.cpp' '*.h')
clang-format --dry-run -Werror "${cxx[@]}" || { echo "lint: clang-format: the files above differ" >&2; status=1; }
mapfile -t py < <(git ls-files '*.py')
"$FANION_VENV/bin/ruff" check -q "${py[@]}" || { echo "lint: ruff: see above" >&2; status=1; }
[ "$status" -eq 0 ] && echo "lint: ${#cxx[@]} C++ and ${#py[@]} Python files conform"
exit "$status"
