"""One optimizer step on GPT-2-small-shaped matrices: fanion against published Muons.

The parameter set is `--layers` copies of GPT-2 small's block matrices (768x768, 768x3072,
3072x768, 768x2304). Every optimizer runs in its own process (so that peak memory is its own)
on the same seeded gradient sequence, a slowly drifting matrix per parameter so that warm
starts see what they see in training: G_t = G + 0.3 N_t. It takes `--warmup` steps (the first
one builds state; Fanion-k's first solve is cold), then times `--steps` steps and reports the
median. Peers, measured in the same run and with the same Newton-Schulz settings (5 quintic
steps in `--ns-dtype`, Frobenius start, lerp momentum):

  torch.optim.Muon              the reference of the ratios
  muon.SingleDeviceMuon         Keller Jordan's Muon (PyPI muon-optimizer; bfloat16 only)
  fanion.Muon                   configured as torch.optim.Muon
  fanion.Muon (defaults)        our defaults: float32, Gram-normalized start
  fanion.FMuon, fanion.SMuon    the same Newton-Schulz, plus the NSGD / sign term
  fanion.Fanion(k=16)           warm-started top-16 subspace (block Krylov, tol 1e-2)

Memory: what the optimizer adds at its peak, from before its first step to the end (its state
plus its largest workspace; parameters and gradients are allocated before): on CUDA the peak
allocated bytes, on the CPU the growth of the process's peak resident set (which also counts
allocator slack, so small differences mean little). Also the bytes of optimizer state.

    python benchmarks/optimizer_step.py --layers 2 --json out.json
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

SHAPES = [(768, 768), (768, 3072), (3072, 768), (768, 2304)]
OPTIMIZERS = ["torch.optim.Muon", "muon.SingleDeviceMuon", "fanion.Muon", "fanion.Muon (defaults)",
              "fanion.FMuon", "fanion.SMuon", "fanion.Fanion(k=16)"]


def make_optimizer(name, params, args):
    dtype = getattr(torch, args.ns_dtype)
    # torch.optim.Muon's settings, in fanion's words (tests/python/test_published_muon.py).
    as_torch = dict(lr=0.02, momentum=0.95, momentum_kind="nesterov_ema", shape_scale="muon",
                    ns_normalization="frobenius", compute_dtype=dtype, ns_steps=5)
    if name == "torch.optim.Muon":
        if args.ns_dtype != "bfloat16":
            return None  # its Newton-Schulz runs in bfloat16 only
        return torch.optim.Muon(params, lr=0.02, weight_decay=0.0, momentum=0.95)
    if name == "muon.SingleDeviceMuon":
        if args.ns_dtype != "bfloat16":
            return None
        import muon
        return muon.SingleDeviceMuon(params, lr=0.02, weight_decay=0.0, momentum=0.95)
    import fanion
    if name == "fanion.Muon":
        return fanion.Muon(params, **as_torch)
    if name == "fanion.Muon (defaults)":
        return fanion.Muon(params, lr=0.02, momentum=0.95, shape_scale="muon")
    if name == "fanion.FMuon":
        return fanion.FMuon(params, alpha=0.5, **as_torch)
    if name == "fanion.SMuon":
        return fanion.SMuon(params, alpha=0.5, sign_lr_coeff=0.01, **as_torch)
    if name == "fanion.Fanion(k=16)":
        return fanion.Fanion(params, k=16, lr=0.02, momentum=0.95, momentum_kind="nesterov_ema",
                             shape_scale="muon", method="block_krylov", solver_tol=1e-2,
                             max_passes=40)
    raise ValueError(f"unknown optimizer {name!r}")


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def state_bytes(opt):
    total = 0
    for s in opt.state.values():
        for v in s.values():
            tensors = v if isinstance(v, (list, tuple)) else [v]
            total += sum(t.numel() * t.element_size() for t in tensors
                         if isinstance(t, torch.Tensor))
    return total


def measure(name, args):
    """Runs in a child process: time and memory of one optimizer."""
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    shapes = SHAPES * args.layers
    params = [torch.nn.Parameter(torch.randn(s, generator=gen).div_(s[1] ** 0.5).to(device))
              for s in shapes]
    base = [torch.randn(s, generator=gen).to(device) for s in shapes]
    opt = make_optimizer(name, params, args)
    if opt is None:
        return None

    for p in params:
        p.grad = torch.empty_like(p)

    def set_grads(t):  # in place: the gradients' memory is allocated before we measure
        g = torch.Generator().manual_seed(1000 + t)
        for p, b in zip(params, base):
            p.grad.copy_(torch.randn(b.shape, generator=g).to(device)).mul_(0.3).add_(b)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    set_grads(0)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        start_mem = torch.cuda.memory_allocated()
    else:
        start_mem = rss_bytes()
    for t in range(args.warmup):
        set_grads(t)
        opt.step()
    times = []
    for t in range(args.steps):
        set_grads(args.warmup + t)
        sync()
        t0 = time.perf_counter()
        opt.step()
        sync()
        times.append(time.perf_counter() - t0)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - start_mem
    else:  # ru_maxrss is in KiB on Linux; growth over what the process held before the steps
        peak = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start_mem)
    return dict(optimizer=name, seconds=statistics.median(times), times=times,
                peak_bytes=peak, state_bytes=state_bytes(opt))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2, help="copies of the 4 block matrices")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (>= 1)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ns-dtype", default="bfloat16", choices=["bfloat16", "float32"],
                    help="Newton-Schulz dtype of the Muon-type rows")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--only", default="", help="comma-separated subset of the optimizers")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    for name, v, low in (("--layers", args.layers, 1), ("--steps", args.steps, 1),
                         ("--warmup", args.warmup, 1), ("--threads", args.threads, 1)):
        if v < low:
            ap.error(f"{name} must be >= {low}, got {v}")
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()] or OPTIMIZERS
    for n in names:
        if n not in OPTIMIZERS:
            ap.error(f"--only: unknown optimizer {n!r} (known: {', '.join(OPTIMIZERS)})")
    if args.json:
        d = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(d) or not os.access(d, os.W_OK):
            ap.error(f"--json: cannot write into {d}")
    nparams = sum(m * n for m, n in SHAPES) * args.layers
    print(f"# one step, {len(SHAPES) * args.layers} matrices ({nparams / 1e6:.1f} M parameters), "
          f"{args.device}, {args.threads} threads, Newton-Schulz in {args.ns_dtype}, "
          f"torch {torch.__version__}")
    print(f"{'optimizer':26s} {'step [s]':>9s} {'x torch':>8s} {'peak MB':>8s} {'state MB':>9s}")
    rows, ref = [], None
    passthrough = [f"--layers={args.layers}", f"--steps={args.steps}",
                   f"--warmup={args.warmup}", f"--device={args.device}",
                   f"--ns-dtype={args.ns_dtype}", f"--threads={args.threads}"]
    for name in names:
        cmd = [sys.executable, os.path.abspath(__file__), *passthrough, "--child", name]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name:26s} failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        if row is None:
            print(f"{name:26s} {'n/a':>9s}   (no {args.ns_dtype} Newton-Schulz)")
            continue
        if name == "torch.optim.Muon":
            ref = row["seconds"]
        row["ratio_to_torch_muon"] = row["seconds"] / ref if ref else None
        ratio = f"{row['ratio_to_torch_muon']:.2f}" if ref else "-"
        print(f"{name:26s} {row['seconds']:9.3f} {ratio:>8s} {row['peak_bytes'] / 2**20:8.1f} "
              f"{row['state_bytes'] / 2**20:9.1f}", flush=True)
        rows.append(row)
    if args.json:
        doc = dict(command="benchmarks/optimizer_step.py", schema_version=1,
                   config=dict(layers=args.layers, steps=args.steps, warmup=args.warmup,
                               device=args.device, ns_dtype=args.ns_dtype, threads=args.threads,
                               torch=torch.__version__, shapes=SHAPES),
                   rows=rows)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
