#!/usr/bin/env python3
"""Fashion-MNIST with FSDP2 (fully_shard) and F-Muon, on CPU (Gloo). Needs torch >= 2.6.

    torchrun --nproc_per_node 2 examples/fsdp_fashion_mnist.py

(with fanion installed, or from the build tree: `PYTHONPATH=build/python python -m
torch.distributed.run ...` with the Python that owns the torch fanion was built against.)

Every layer's parameters are sharded across the ranks (each holds a slice of every matrix, and
of its optimizer state). fanion computes each weight matrix's direction from the whole matrix:
its slices are gathered on one rank, which computes the F-Muon direction and sends the slices
back. `fanion.param_groups` sends the classifier head and the biases to the built-in AdamW.
At the end every rank prints how many directions it computed, the bytes it exchanged in the
last step and the bytes of optimizer state it holds (about 1/world of the whole).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.distributed as dist

import fanion

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fashion_mnist import DEFAULT_DATA, evaluate, load, make_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=DEFAULT_DATA)
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128, help="global batch size")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--adamw-lr", type=float, default=3e-3)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    if "RANK" not in os.environ:
        sys.exit("launch with: torchrun --nproc_per_node 2 " + sys.argv[0])
    if not fanion.dtensor.fsdp2_available():
        sys.exit(f"FSDP2 (torch.distributed.fsdp.fully_shard) needs torch >= 2.6; this is "
                 f"{torch.__version__}")
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    log = print if rank == 0 else (lambda *a, **k: None)

    x_train, y_train = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    torch.manual_seed(0)  # the same initial weights on every rank, then sharded
    model = torch.nn.Sequential(*make_model(args.model))
    mesh = init_device_mesh("cpu", (world,))
    for layer in model.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    groups = fanion.param_groups(model, adamw_lr=args.adamw_lr, verbose=rank == 0)
    opt = fanion.FMuon(groups, lr=args.lr, alpha=args.alpha, shape_scale="muon")
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total = args.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (total - s) / (0.6 * total)))
    log(f"{world} ranks, FSDP2, {type(opt).__name__}, {total} steps of {args.batch_size}")

    start = time.time()
    for epoch in range(args.epochs):
        gen = torch.Generator().manual_seed(epoch)  # the same permutation on every rank
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size][rank::world]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if i % 100 == 0:
                log(f"epoch {epoch + 1} step {i}/{steps_per_epoch}: loss {loss.item():.4f}",
                    flush=True)
        acc = evaluate(model, x_test, y_test)
        log(f"epoch {epoch + 1}/{args.epochs}: test accuracy {100 * acc:.2f}%, "
            f"{time.time() - start:.0f} s", flush=True)
    stats = opt.last_dtensor_stats
    print(f"rank {rank}: {stats['owned']} of {stats['matrices']} matrices computed here, "
          f"sent {stats['bytes_sent']} B, received {stats['bytes_received']} B in the last step, "
          f"optimizer state {stats['state_bytes']} B", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
