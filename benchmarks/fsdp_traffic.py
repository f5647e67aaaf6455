#!/usr/bin/env python3
"""Bytes exchanged per step and optimizer state per rank for FSDP2 (fully_shard) models, from
`optimizer.last_dtensor_stats`: one GPT-2-small block's matrices (768 x 768 ... 3072 x 768) with
Muon, F-Muon and Fanion-k, against what each rank would hold unsharded.

    torchrun --nproc_per_node 2 benchmarks/fsdp_traffic.py [--k 16] [--json out.json]

(from the build tree: PYTHONPATH=build/python python -m torch.distributed.run ...)
"""
import argparse
import json
import os

import torch
import torch.distributed as dist
from torch import nn

import fanion


def block():
    torch.manual_seed(0)
    return nn.ModuleList([nn.Linear(768, 3 * 768), nn.Linear(768, 768), nn.Linear(768, 3072),
                          nn.Linear(3072, 768)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    if not fanion.dtensor.fsdp2_available():
        raise SystemExit(f"FSDP2 needs torch >= 2.6; this is {torch.__version__}")
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // world))
    mesh = init_device_mesh("cpu", (world,))
    optimizers = {
        "muon": lambda ps: fanion.Muon(ps, lr=0.02),
        "f_muon": lambda ps: fanion.FMuon(ps, lr=0.02),
        f"fanion_{args.k}": lambda ps: fanion.Fanion(ps, k=args.k, lr=0.02, method="subspace"),
    }
    rows = []
    for name, make in optimizers.items():
        model = block()
        unsharded = sum(p.numel() * p.element_size() for p in model.parameters())
        for layer in model:
            fully_shard(layer, mesh=mesh)
        opt = make(list(model.parameters()))
        for _ in range(2):  # the second step has the warm start
            opt.zero_grad()
            sum(layer(torch.randn(8, layer.in_features)).square().mean()
                for layer in model).backward()
            opt.step()
        s = dict(opt.last_dtensor_stats)
        rows.append(dict(optimizer=name, rank=rank, world=world, unsharded_param_bytes=unsharded,
                         **s))
    gathered = [None] * world
    dist.all_gather_object(gathered, rows)
    if rank == 0:
        print(f"{'optimizer':<12} {'rank':>4} {'owned':>5} {'factored':>8} {'sent MB':>8} "
              f"{'recv MB':>8} {'state MB':>8} {'params MB (unsharded)':>22}")
        for r in sorted((r for rs in gathered for r in rs), key=lambda r: r["optimizer"]):
            print(f"{r['optimizer']:<12} {r['rank']:>4} {r['owned']:>5} {r['factored']:>8} "
                  f"{r['bytes_sent'] / 1e6:>8.2f} {r['bytes_received'] / 1e6:>8.2f} "
                  f"{r['state_bytes'] / 1e6:>8.2f} {r['unsharded_param_bytes'] / 1e6:>22.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(command="benchmarks/fsdp_traffic.py", schema_version=1,
                               rows=[r for rs in gathered for r in rs]), f, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
