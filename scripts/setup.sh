#!/usr/bin/env bash
# Installs what fanion needs on a fresh Debian 12 machine (apt only). Idempotent and quiet:
# packages already present are not fetched again.
set -euo pipefail
# libopenblas0-pthread: without it LibTorch runs on the reference BLAS (10x slower SVDs).
packages=(cmake g++ make libtorch-dev libgtest-dev libopenblas0-pthread python3-matplotlib
          python3-numpy)
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
