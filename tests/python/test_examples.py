"""The examples run (shortened): Fashion-MNIST with F-Muon + AdamW, and its torchrun version."""
import os
import socket
import subprocess
import sys

import pytest

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


@needs_data
def test_distributed_example_with_torchrun():
    env = dict(os.environ)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # torchrun of this Python's torch (the torchrun on PATH may belong to another torch).
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--redirects", "1", "--tee", "1", "--master_addr", "127.0.0.1",
           "--master_port", str(port), os.path.join(EXAMPLES, "distributed_fashion_mnist.py"),
           "--limit", "2560", "--batch-size", "128"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "parameters identical on all ranks: True" in out, out[-3000:]
    assert "test accuracy" in out
