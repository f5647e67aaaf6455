# Sourced by the other scripts: where things live. Not run on its own.
# The pinned PyPI PyTorch (scripts/requirements.txt) lives in one venv per machine, outside the
# clone, so that a new clone (or CI's) does not install 4.5 GB again. FANION_VENV overrides.
FANION_TORCH_VERSION=2.15.0
if [ -z "${FANION_VENV:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    FANION_VENV=/opt/fanion/venv-torch$FANION_TORCH_VERSION
  else
    FANION_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/fanion/venv-torch$FANION_TORCH_VERSION
  fi
fi
FANION_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A leg is the torch a build uses: pypi (the pinned torch in FANION_VENV, build/) or debian
# (Debian 12's libtorch-dev and python3-torch 1.13, build-debian/).
fanion_leg_dir() {
  case "$1" in
    pypi) echo "${FANION_BUILD_DIR:-build}" ;;
    debian) echo "${FANION_BUILD_DIR:-build-debian}" ;;
    *) echo "unknown leg '$1' (expected pypi or debian)" >&2; return 2 ;;
  esac
}
fanion_leg_python() {
  case "$1" in
    pypi) echo "$FANION_VENV/bin/python" ;;
    debian) echo /usr/bin/python3 ;;
  esac
}
