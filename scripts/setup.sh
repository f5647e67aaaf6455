#!/usr/bin/env bash
# Installs what fanion needs on a fresh Debian 12 machine (apt only). Idempotent and quiet:
# packages already present are not fetched again.
set -euo pipefail
# libopenblas0-pthread: without it LibTorch runs on the reference BLAS (10x slower SVDs).
# python3-torch, python3-dev, pybind11-dev: the Python package (python/), built against Debian's
# torch for /usr/bin/python3; python3-pytest runs its tests; dataset-fashion-mnist feeds the
# example (IDX files in /usr/share/datasets/fashion-mnist).
packages=(cmake g++ make libtorch-dev libgtest-dev libopenblas0-pthread python3-matplotlib
          python3-numpy python3-torch python3-dev pybind11-dev python3-pytest
          dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: ok"
