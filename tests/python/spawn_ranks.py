"""Spawning the ranks of a torch.distributed test: test_distributed.py and test_fsdp.py both
run a worker function on N CPU processes over Gloo and read back each rank's outcome."""
import os
import socket
import time

import torch
import torch.multiprocessing as mp


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(run, world, tmp_path, fn_name, args=(), timeout=150):
    """run(rank, world, port, fn_name, out_dir, *args) on `world` spawned ranks; returns their
    results. A hang is a failure (the processes are killed), not a stuck test run."""
    ctx = mp.get_context("spawn")
    port = free_port()
    procs = [ctx.Process(target=run, args=(rank, world, port, fn_name, str(tmp_path), *args))
             for rank in range(world)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    hung = [rank for rank, p in enumerate(procs) if p.is_alive()]
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()
    assert not hung, f"ranks {hung} did not finish within {timeout} s (a hang)"
    results = []
    for rank in range(world):
        path = os.path.join(tmp_path, f"rank{rank}.pt")
        assert os.path.exists(path), f"rank {rank} exited with code {procs[rank].exitcode}"
        outcome = torch.load(path)
        assert outcome["ok"], f"rank {rank}: {outcome['error']}\n{outcome['traceback']}"
        results.append(outcome["result"])
    return results
