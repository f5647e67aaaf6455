"""Code that runs inside the processes test_distributed.py spawns (2 CPU ranks over Gloo).

Each worker writes its outcome to <out_dir>/rank<r>.pt: {"ok": True, "result": ...} or
{"ok": False, "error": "...", "traceback": "..."}.
"""
import datetime
import os
import time
import traceback

import torch
import torch.distributed as dist

import fanion
from fanion import directions as D
from test_parity import cpp_twin

# Every optimizer, as (name, class, options); small problems with every path exercised.
OPTIMIZERS = [
    ("Muon", fanion.Muon, dict(lr=0.02)),
    ("Neon", fanion.Neon, dict(lr=0.02)),
    ("Fanion", fanion.Fanion, dict(k=2, lr=0.02)),
    ("FMuon", fanion.FMuon, dict(lr=0.02, alpha=0.5)),
    ("FNeon", fanion.FNeon, dict(lr=0.02, alpha=0.5)),
    ("FFanion", fanion.FFanion, dict(k=2, lr=0.02, alpha=0.5)),
    ("SMuon", fanion.SMuon, dict(lr=0.02, alpha=0.5, sign_lr_coeff=0.01)),
    ("SNeon", fanion.SNeon, dict(lr=0.02, alpha=0.5, sign_lr_coeff=0.01)),
    ("SFanion", fanion.SFanion, dict(k=2, lr=0.02, alpha=0.5, sign_lr_coeff=0.01)),
    ("NSGD", fanion.NSGD, dict(lr=0.02)),
    ("SignSGD", fanion.SignSGD, dict(lr=0.002)),
]

DDP_STEPS = 3
BATCH = 8  # per rank


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(),
                               torch.nn.Linear(12, 3)).double()


def batch(step, rank):
    """Rank `rank`'s share of step `step`'s batch (the single-process run takes all shares)."""
    gen = torch.Generator().manual_seed(1000 * step + rank)
    x = torch.randn(BATCH, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(BATCH, 3, generator=gen, dtype=torch.float64)
    return x, y


def flat(params):
    return torch.cat([p.detach().reshape(-1) for p in params])


def same_on_all_ranks(t):
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    return max(float((q - parts[0]).abs().max()) for q in parts)


def train(model, opt, rank, world, steps=DDP_STEPS):
    for step in range(steps):
        x, y = batch(step, rank) if world > 1 else (
            torch.cat([batch(step, r)[0] for r in range(2)]),
            torch.cat([batch(step, r)[1] for r in range(2)]))
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def ddp_every_optimizer(rank, world, sharded=False):
    """DDP (replicated steps; or sharded=True on top of DDP) with every optimizer."""
    out = {}
    for name, cls, kw in OPTIMIZERS:
        model = torch.nn.parallel.DistributedDataParallel(make_model())
        opt = cls(model.parameters(), distributed=sharded, **kw)
        train(model, opt, rank, world)
        params = flat(model.parameters())
        out[name] = {"params": params, "spread": same_on_all_ranks(params)}
    return out


def single_process_reference():
    """The same training on one process with the whole batch (called by the test itself)."""
    out = {}
    for name, cls, kw in OPTIMIZERS:
        model = make_model()
        opt = cls(model.parameters(), **kw)
        train(model, opt, 0, 1)
        out[name] = flat(model.parameters())
    return out


# --- sharded mode against a local run in the same process -----------------------------------

SHAPES = [(40, 24), (24, 40), (80, 72), (16, 3, 3, 3), (12,), (33, 17)]


def sharded_problem():
    gen = torch.Generator().manual_seed(7)
    return [torch.randn(*s, generator=gen, dtype=torch.float64) for s in SHAPES]


def grads(step):
    gen = torch.Generator().manual_seed(100 + step)
    return [torch.randn(*s, generator=gen, dtype=torch.float64) for s in SHAPES]


SHARDED = [
    ("Muon", lambda ps, **kw: fanion.Muon(ps, lr=0.05, weight_decay=0.01, shape_scale="muon",
                                           **kw)),
    ("Fanion-3 block Krylov (factor exchange, warm start)",
     lambda ps, **kw: fanion.Fanion(ps, k=3, lr=0.05, method="block_krylov", **kw)),
    ("Fanion-2 fp32 compute", lambda ps, **kw: fanion.Fanion(ps, k=2, lr=0.05,
                                                              compute_dtype=torch.float32, **kw)),
    ("Neon subspace", lambda ps, **kw: fanion.Neon(ps, lr=0.05, method="subspace", **kw)),
    ("FFanion", lambda ps, **kw: fanion.FFanion(ps, k=4, lr=0.05, alpha=0.7, **kw)),
    ("SMuon exact", lambda ps, **kw: fanion.SMuon(ps, lr=0.05, method="exact", **kw)),
    ("NSGD", lambda ps, **kw: fanion.NSGD(ps, lr=0.05, **kw)),
    ("Schatten-3 + sign", lambda ps, **kw: fanion.NormOptimizer(
        ps, direction=0.6 * D.Direction.schatten(3.0) + 0.4 * D.Direction.sign(), lr=0.05,
        **kw)),
]
SHARDED_STEPS = 4


def step_side_by_side(opt, ps, ref_opt, ref, grads_of_step, cpp=None):
    """SHARDED_STEPS steps of a sharded optimizer and a local one (and the C++ optimizer
    ``cpp = (CppNormOptimizer, params)``, when given) on the same gradients; returns the sharded
    one's last_stats after each step."""
    stats = []
    for step in range(SHARDED_STEPS):
        for i, (p, q, g) in enumerate(zip(ps, ref, grads_of_step(step))):
            p.grad = g.clone()
            q.grad = g.clone()
            if cpp is not None:
                cpp[1][i].grad = g.clone()
        opt.step()
        ref_opt.step()
        if cpp is not None:
            cpp[0].step()
        stats.append(dict(opt._sharding.last_stats))
    return stats


def sharded_vs_local(rank, world):
    out = {}
    for name, make in SHARDED:
        ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
        ref = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
        opt, ref_opt = make(ps, distributed=True), make(ref)
        cpp, clones = cpp_twin(ref_opt)  # the parity test's C++ twin, on the sharded path too
        cpp_params = [q for group in clones for q in group]
        stats = step_side_by_side(opt, ps, ref_opt, ref, grads, (cpp, cpp_params))
        params = flat(ps)
        diff = float((params - flat(ref)).abs().max())
        diff_cpp = float((params - flat(cpp_params)).abs().max())
        sd, ref_sd = opt.state_dict()["state"], ref_opt.state_dict()["state"]
        state_diff = 0.0
        for key, s in sd.items():
            for field in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
                if field in s:
                    state_diff = max(state_diff, float((s[field] - ref_sd[key][field]).abs().max()))
        out[name] = {"diff_vs_local": diff, "diff_vs_cpp": diff_cpp, "state_diff": state_diff,
                     "spread": same_on_all_ranks(params), "stats": stats}
    return out


# --- same-shape matrices: batched polar factors in the sharded mode --------------------------

# Six 32 x 32 layers among other shapes, in fp64. The plan deals the six out to ranks 0, 1, 0,
# 1, 0, 1 (largest first, to the least loaded rank); each rank then batches its three into one
# job.
BATCHED_SHAPES = [(32, 32)] * 6 + [(32, 16), (8, 32), (16, 2, 3, 3), (32,)]


def batched_problem(seed):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen, dtype=torch.float64) for s in BATCHED_SHAPES]


def two_groups(ps, **kw):
    """Layers 0-3 and the rest with the default Newton-Schulz steps, layers 4-5 with 7: same
    shapes, different polar options, so they must not share a batch."""
    return fanion.Muon([{"params": ps[:4] + ps[6:]}, {"params": ps[4:6], "ns_steps": 7}],
                       lr=0.05, **kw)  # ranks get layers 0, 2, 4 and 1, 3, 5: batches [2, 2]


# (name, make(params, **kw), batch sizes expected on every step, tolerance vs a local run)
BATCHED = [
    ("Muon", lambda ps, **kw: fanion.Muon(ps, lr=0.05, shape_scale="muon", **kw), [3, 3], 1e-12),
    ("Muon fp32 compute", lambda ps, **kw: fanion.Muon(ps, lr=0.05, compute_dtype=torch.float32,
                                                       **kw), [3, 3], 1e-6),
    ("SMuon polar_express", lambda ps, **kw: fanion.SMuon(ps, lr=0.05, ns_schedule="polar_express",
                                                          **kw), [3, 3], 1e-12),
    ("Muon, two groups", two_groups, [2, 2], 1e-12),
    ("Fanion-4 (never batched)", lambda ps, **kw: fanion.Fanion(ps, k=4, lr=0.05, **kw), [],
     1e-12),
]


def sharded_batched(rank, world):
    out = {}
    for name, make, _, _ in BATCHED:
        ps = [torch.nn.Parameter(t) for t in batched_problem(11)]
        ref = [torch.nn.Parameter(t) for t in batched_problem(11)]
        opt, ref_opt = make(ps, distributed=True), make(ref)
        stats = step_side_by_side(opt, ps, ref_opt, ref, lambda step: batched_problem(200 + step))
        params = flat(ps)
        out[name] = {"diff_vs_local": float((params - flat(ref)).abs().max()),
                     "spread": same_on_all_ranks(params), "stats": stats}
    return out


def mismatched_world(rank, world):
    """Refused steps and mismatched parameter lists must raise on every rank, not hang."""
    result = {}
    # A NaN gradient on rank 1 only: every rank refuses the step, nothing changes.
    ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
    opt = fanion.Muon(ps, distributed=True)
    before = flat(ps)
    for p, g in zip(ps, grads(0)):
        p.grad = g.clone()
    if rank == 1:
        ps[0].grad[0, 0] = float("nan")
    try:
        opt.step()
        result["nan"] = "no error"
    except ValueError as e:
        result["nan"] = str(e)
    result["nan_unchanged"] = bool(torch.equal(before, flat(ps))) and len(opt.state) == 0

    # Rank 1 has one parameter more: a clear error on both ranks.
    ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
    if rank == 1:
        ps.append(torch.nn.Parameter(torch.randn(5, 5, dtype=torch.float64)))
    opt = fanion.Fanion(ps, k=2, distributed=True, timeout=30)
    for p in ps:
        p.grad = torch.ones_like(p)
    before = flat(ps)
    try:
        opt.step()
        result["mismatch"] = "no error"
    except RuntimeError as e:
        result["mismatch"] = str(e)
    result["mismatch_unchanged"] = bool(torch.equal(before, flat(ps)))

    # Same list, different shapes on one rank.
    ps = [torch.nn.Parameter(torch.ones(4, 4 + rank, dtype=torch.float64))]
    opt = fanion.Muon(ps, distributed=True)
    ps[0].grad = torch.ones_like(ps[0])
    try:
        opt.step()
        result["shape"] = "no error"
    except RuntimeError as e:
        result["shape"] = str(e)
    # After errors the group still works: a good step goes through.
    ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
    opt = fanion.Muon(ps, distributed=True)
    for p, g in zip(ps, grads(0)):
        p.grad = g.clone()
    opt.step()
    result["after"] = same_on_all_ranks(flat(ps))
    return result


def state_of(opt, ps):
    """Parameters, momentum buffers and warm bases, flattened (what a failed step must not
    change)."""
    parts = [flat(ps)]
    for p in ps:
        st = opt.state.get(p, {})
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            if key in st:
                parts.append(st[key].reshape(-1))
        parts += [b.reshape(-1) for b in st.get("direction_bases", []) if b is not None]
    return torch.cat(parts)


def failing_rank(rank, world):
    """Rank 1's share of the direction work raises (once): every rank raises, naming rank 1 and
    the parameter; nothing changes; stepping again works and gives the step that never
    failed."""
    from fanion import distributed as fd
    ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
    ps.append(torch.nn.Parameter(torch.ones(5, dtype=torch.float64)))  # AdamW's
    opt = fanion.Fanion(ps, k=2, lr=0.05, method="subspace", distributed=True, timeout=60)
    ref_ps = [torch.nn.Parameter(p.detach().clone()) for p in ps]
    ref = fanion.Fanion(ref_ps, k=2, lr=0.05, method="subspace")
    for step in range(3):
        for p, q, g in zip(ps, ref_ps, grads(step) + [torch.full((5,), 0.5, dtype=torch.float64)]):
            p.grad, q.grad = g.clone(), g.clone()
        ref.step()
        if step == 1:  # a step with state to lose: momentum, warm bases, AdamW moments
            before = state_of(opt, ps)
            compute = fd.Sharding._compute
            if rank == 1:
                def broken(job, out):
                    raise MemoryError("out of memory (injected)")
                fd.Sharding._compute = staticmethod(broken)
            error, _ = step_error(opt)
            fd.Sharding._compute = staticmethod(compute)
            unchanged = bool(torch.equal(before, state_of(opt, ps)))
        opt.step()
    return {"error": error, "unchanged": unchanged,
            "after_retry": float((flat(ps) - flat(ref_ps)).abs().max()),
            "spread": same_on_all_ranks(flat(ps))}


def step_error(opt):
    """The RuntimeError one step raises ("no error" if none) and the seconds it took."""
    start = time.monotonic()
    try:
        opt.step()
        message = "no error"
    except RuntimeError as e:
        message = str(e)
    return message, time.monotonic() - start


def absent_rank(rank, world):
    """Rank 1 never calls step(): rank 0 raises within about `timeout`, naming rank 1, and a
    later step says the group cannot be used again instead of hanging or aborting."""
    ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
    opt = fanion.Muon(ps, distributed=True, timeout=2)
    for p, g in zip(ps, grads(0)):
        p.grad = g.clone()
    if rank == 1:
        time.sleep(8)  # "failed in its own code": rank 0 must not wait for it
        return {}
    first, waited = step_error(opt)
    second, second_waited = step_error(opt)
    return {"first": first, "waited": waited, "second": second, "second_waited": second_waited}


def different_options(rank, world):
    """Ranks built with different options (lr, momentum, a direction's weight) are refused on
    every rank, naming the option, before anything changes."""
    result = {}
    cases = {
        "lr": lambda ps: fanion.Muon(ps, lr=0.02 + 0.01 * rank, distributed=True),
        "momentum": lambda ps: fanion.FMuon(ps, momentum=0.9 + 0.05 * rank, distributed=True),
        "direction": lambda ps: fanion.optim.NormOptimizer(
            ps, direction=D.make("f_muon", alpha=0.5 + 0.1 * rank), distributed=True),
    }
    for name, make in cases.items():
        ps = [torch.nn.Parameter(t.clone()) for t in sharded_problem()]
        opt = make(ps)
        for p, g in zip(ps, grads(0)):
            p.grad = g.clone()
        before = flat(ps)
        result[name], _ = step_error(opt)
        result[name + "_unchanged"] = bool(torch.equal(before, flat(ps)))
    return result


def run(rank, world, port, fn_name, out_dir, args=()):
    """Entry point of a spawned rank."""
    torch.set_num_threads(1)
    outcome = {}
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world, timeout=datetime.timedelta(seconds=90))
        outcome = {"ok": True, "result": globals()[fn_name](rank, world, *args)}
    except Exception as e:  # reported to the test
        outcome = {"ok": False, "error": f"{type(e).__name__}: {e}",
                   "traceback": traceback.format_exc()}
    torch.save(outcome, os.path.join(out_dir, f"rank{rank}.pt"))
    if dist.is_initialized():
        dist.destroy_process_group()
