"""The examples run (shortened): Fashion-MNIST with F-Muon + AdamW, and its torchrun versions
(DDP with the sharded mode; FSDP2)."""
import os
import socket
import subprocess
import sys

import pytest

import fanion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
DATA = "/usr/share/datasets/fashion-mnist"

needs_data = pytest.mark.skipif(not os.path.isdir(DATA),
                                reason=f"{DATA} missing (apt-get install dataset-fashion-mnist)")


@needs_data
def test_fashion_mnist_example_learns():
    sys.path.insert(0, EXAMPLES)
    try:
        import fashion_mnist
    finally:
        sys.path.remove(EXAMPLES)
    acc = fashion_mnist.main(["--limit", "3000", "--epochs", "1", "--batch-size", "100"])
    assert acc > 0.65  # 10 classes: chance is 0.1; ~0.75 after 30 steps


def torchrun(script, *args):
    """`script` on 2 ranks with the torchrun of this Python's torch (the torchrun on PATH may
    belong to another torch); returns the return code and the output."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--redirects", "1", "--tee", "1", "--master_addr", "127.0.0.1",
           "--master_port", str(port), os.path.join(EXAMPLES, script), *args]
    run = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True,
                         timeout=180)
    return run.returncode, run.stdout + run.stderr


@needs_data
def test_distributed_example_with_torchrun():
    rc, out = torchrun("distributed_fashion_mnist.py", "--limit", "2560", "--batch-size", "128")
    assert rc == 0, out[-3000:]
    assert "parameters identical on all ranks: True" in out, out[-3000:]
    assert "test accuracy" in out


@needs_data
def test_fsdp_example_with_torchrun():
    if not fanion.dtensor.fsdp2_available():
        pytest.skip("FSDP2 needs torch >= 2.6")
    rc, out = torchrun("fsdp_fashion_mnist.py", "--limit", "2560", "--batch-size", "128")
    assert rc == 0, out[-3000:]
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 50.0, out[-3000:]  # 20 steps; chance is 10%
    for rank in (0, 1):
        assert f"rank {rank}: " in out and " matrices computed here" in out, out[-3000:]
