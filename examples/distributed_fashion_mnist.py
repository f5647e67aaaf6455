#!/usr/bin/env python3
"""Data-parallel Fashion-MNIST training with DDP and the sharded F-Muon, on CPU (Gloo).

    torchrun --nproc_per_node 2 examples/distributed_fashion_mnist.py

(with fanion installed, or from the build tree: `PYTHONPATH=build/python python -m
torch.distributed.run ...` with the Python that owns the torch fanion was built against. On
Debian's torch 1.13 under Python 3.11 add `--redirects 1 --tee 1`: its default `--redirects 0`
crashes the launcher with "'NoneType' object has no attribute 'get'".)

Every rank trains on its own slice of each batch; DistributedDataParallel averages the
gradients; the optimizer runs in its sharded mode (`distributed=True`): each rank computes the
F-Muon polar factors of its share of the weight matrices, balanced by cost, and the results are
all-gathered so that every rank applies the same update. At the end the ranks check that their
parameters are identical.
`--no-shard` runs the plain replicated optimizer instead (also correct under DDP).
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
    ap.add_argument("--no-shard", action="store_true", help="replicated optimizer steps")
    args = ap.parse_args()

    if "RANK" not in os.environ:
        sys.exit("launch with: torchrun --nproc_per_node 2 " + sys.argv[0])
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
                          if backend == "nccl" else "cpu")
    log = print if rank == 0 else (lambda *a, **k: None)

    x_train, y_train = load(args.data_dir, "train")
    x_test, y_test = load(args.data_dir, "test")
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    mean, std = float(x_train.mean()), float(x_train.std())
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
    body, head = make_model(args.model)
    model = torch.nn.Sequential(body, head).to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    total = args.epochs * steps_per_epoch
    opt = fanion.FMuon(
        [{"params": body.named_parameters(prefix="body")},
         {"params": head.named_parameters(prefix="head"), "use_adamw": True,
          "lr": args.adamw_lr}],
        lr=args.lr, alpha=args.alpha, shape_scale="muon", adamw_lr=args.adamw_lr,
        distributed=not args.no_shard)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (total - s) / (0.6 * total)))
    log(f"{world} ranks ({backend}), {'sharded' if not args.no_shard else 'replicated'} "
        f"{type(opt).__name__}, {total} steps of {args.batch_size}")

    start = time.time()
    for epoch in range(args.epochs):
        gen = torch.Generator().manual_seed(epoch)  # the same permutation on every rank
        perm = torch.randperm(len(x_train), generator=gen)
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size][rank::world]
            x, y = x_train[idx].to(device), y_train[idx].to(device)
            loss = torch.nn.functional.cross_entropy(ddp(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if i % 100 == 0:
                log(f"epoch {epoch + 1} step {i}/{steps_per_epoch}: loss {float(loss):.4f}",
                    flush=True)
        acc = evaluate(model, x_test.to(device), y_test.to(device))
        log(f"epoch {epoch + 1}/{args.epochs}: test accuracy {100 * acc:.2f}%, "
            f"{time.time() - start:.0f} s", flush=True)

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    copies = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(copies, flat)
    spread = max(float((c - copies[0]).abs().max()) for c in copies)
    log(f"parameters identical on all ranks: {spread == 0.0} (max difference {spread:g})")
    if not args.no_shard:
        log(f"last step: {opt._sharding.last_stats}")
    dist.destroy_process_group()
    if spread != 0.0:
        sys.exit(1)


if __name__ == "__main__":
    main()
