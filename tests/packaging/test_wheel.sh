#!/usr/bin/env bash
# The wheel test (run by scripts/test.sh on the PyPI leg): as a user would,
#   1. `pip wheel . --no-deps` in a clone gives a wheel (pyproject.toml, scikit-build-core, in
#      pip's isolated build environment, against the torch of the Python that runs pip);
#   2. a fresh venv holding only torch (and pytest, numpy to run the suite) installs it, and
#      `pip show fanion` finds its metadata;
#   3. that venv imports fanion from its site-packages (not this tree) and passes tests/python;
#   4. `pip uninstall -y fanion` removes it.
# Usage: tests/packaging/test_wheel.sh PYTHON   (a Python with the pinned torch)
set -euo pipefail
py=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fanion-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test_wheel: FAILED: $*" >&2; exit 1; }
torch_version=$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')

echo "test_wheel: pip wheel . --no-deps (torch $torch_version)"
(cd "$root" && "$py" -m pip wheel . --no-deps -q --disable-pip-version-check -w "$work/dist") \
  >"$work/wheel.log" 2>&1 || { tail -40 "$work/wheel.log"; fail "pip wheel"; }
wheel=$(ls "$work"/dist/fanion-*.whl) || fail "no wheel in $work/dist"
echo "test_wheel: built $(basename "$wheel")"

"$py" -m venv "$work/venv"
vpy=$work/venv/bin/python
# torch from pip's cache (scripts/setup.sh downloaded it), the same version as the build's.
"$vpy" -m pip install -q --disable-pip-version-check "torch==$torch_version" pytest numpy \
  >"$work/venv.log" 2>&1 || { tail -20 "$work/venv.log"; fail "installing torch into the fresh venv"; }
"$vpy" -m pip install -q --disable-pip-version-check --no-deps "$wheel" || fail "pip install the wheel"
show=$("$vpy" -m pip show fanion) || fail "pip show fanion finds no metadata"
grep -q '^Name: fanion' <<<"$show" || fail "pip show fanion: $show"
echo "test_wheel: pip show: $(grep -E '^(Name|Version|Location):' <<<"$show" | tr '\n' ' ')"
extras=$("$vpy" -m pip list --format freeze | grep -viE '^(fanion|torch|pytest|numpy|pip|setuptools|iniconfig|packaging|pluggy|pygments|nvidia-[^=]*|cuda-[^=]*|triton|sympy|mpmath|networkx|jinja2|markupsafe|fsspec|filelock|typing.extensions)( @|==)' || true)
[ -z "$extras" ] || fail "the fresh venv holds more than torch and the wheel: $extras"

cd "$work"  # away from the source tree: fanion must come from the venv
"$vpy" - <<'PY' || fail "import fanion from the wheel"
import sys, fanion
assert "site-packages" in fanion.__file__, fanion.__file__
print("test_wheel: fanion", fanion.__version__, "from", fanion.__file__)
PY
"$vpy" -m pytest -q -p no:cacheprovider "$root/tests/python" || fail "tests/python with the wheel"
"$vpy" -m pip uninstall -y -q fanion || fail "pip uninstall"
if "$vpy" -c 'import fanion' 2>/dev/null; then fail "fanion still imports after pip uninstall"; fi
echo "test_wheel: ok"
