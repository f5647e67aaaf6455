"""The rank side of tests/python/test_fsdp.py: FSDP2 (fully_shard) and hand-made DTensor
parameters on a CPU mesh over Gloo. Each function returns plain numbers for the test to check."""
import os
import traceback

import torch
import torch.distributed as dist
from torch import nn

import fanion
from dist_workers import step_error

STEPS = 4
OPTIMIZERS = {
    "muon": lambda ps: fanion.Muon(ps, lr=0.05, momentum=0.9, weight_decay=0.01,
                                   shape_scale="muon"),
    "f_muon": lambda ps: fanion.FMuon(ps, lr=0.05, momentum=0.9, alpha=0.5),
    "s_muon": lambda ps: fanion.SMuon(ps, lr=0.05, momentum=0.9, alpha=0.5, sign_lr_coeff=0.1),
    "fanion_warm": lambda ps: fanion.Fanion(ps, k=2, lr=0.05, momentum=0.9, method="subspace"),
}


def make_model():
    # 10x12, 7x10, 5x7: uneven slices on 4 ranks (7 -> 2, 2, 2, 1; 5 -> 2, 2, 1, 0).
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 10), nn.Tanh(), nn.Linear(10, 7), nn.Tanh(),
                         nn.Linear(7, 5)).double()


def batch(step):
    g = torch.Generator().manual_seed(100 + step)
    return (torch.randn(16, 12, generator=g, dtype=torch.float64),
            torch.randn(16, 5, generator=g, dtype=torch.float64))


def train(model, opt, steps, first=0):
    for s in range(first, first + steps):
        x, y = batch(s)  # the same batch on every rank: FSDP2's mean gradient is the whole one
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def full(p):
    return p.full_tensor() if fanion.dtensor.is_dtensor(p) else p


def max_gap(model, ref):
    return max(float((full(p).detach() - q.detach()).abs().max())
               for p, q in zip(model.parameters(), ref.parameters()))


def sharded_model(world):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    mesh = init_device_mesh("cpu", (world,))
    model = make_model()
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def fsdp_vs_single(rank, world, out_dir):
    """Every optimizer on an FSDP2 model against the same optimizer on the whole model."""
    result = {}
    for name, make in OPTIMIZERS.items():
        ref = make_model()
        train(ref, make(ref.named_parameters()), STEPS)
        model = sharded_model(world)
        opt = make(model.named_parameters())
        train(model, opt, STEPS)
        result[name] = dict(gap=max_gap(model, ref), stats=dict(opt.last_dtensor_stats))
    return result


def checkpoint_resume(rank, world, out_dir):
    """torch.distributed.checkpoint of an FSDP2 run (warm-start bases included) resumes the
    uninterrupted trajectory."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
    make = OPTIMIZERS["fanion_warm"]
    whole = sharded_model(world)
    train(whole, make(whole.named_parameters()), 2 * STEPS)

    model = sharded_model(world)
    opt = make(model.named_parameters())
    train(model, opt, STEPS)
    msd, osd = get_state_dict(model, opt)
    path = os.path.join(out_dir, "dcp")
    dcp.save({"model": msd, "optim": osd}, checkpoint_id=path)

    model2 = sharded_model(world)
    opt2 = make(model2.named_parameters())
    msd2, osd2 = get_state_dict(model2, opt2)
    box = {"model": msd2, "optim": osd2}
    dcp.load(box, checkpoint_id=path)
    set_state_dict(model2, opt2, model_state_dict=box["model"], optim_state_dict=box["optim"])
    has_bases = all(any(b is not None for b in s.get("direction_bases", []))
                    for p, s in opt2.state.items() if p.dim() >= 2)
    train(model2, opt2, STEPS, first=STEPS)
    gap = max(float((full(p) - full(q)).abs().max())
              for p, q in zip(model2.parameters(), whole.parameters()))
    return dict(gap=gap, has_bases=has_bases)


def by_hand(rank, world, out_dir):
    """distribute_tensor parameters sharded along rows, columns, or replicated, against the
    same steps on whole tensors; a NaN in one slice refuses the step on every rank; a
    placement fanion cannot split is named."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    mesh = init_device_mesh("cpu", (world,))
    torch.manual_seed(1)
    whole = [torch.randn(9, 6, dtype=torch.float64), torch.randn(5, 11, dtype=torch.float64),
             torch.randn(4, 4, dtype=torch.float64), torch.randn(6, dtype=torch.float64)]
    places = [[Shard(0)], [Shard(1)], [Replicate()], [Shard(0)]]
    ref = [nn.Parameter(w.clone()) for w in whole]
    ps = [nn.Parameter(distribute_tensor(w.clone(), mesh, pl)) for w, pl in zip(whole, places)]
    opt = fanion.FMuon([("rows", ps[0]), ("cols", ps[1]), ("replicated", ps[2]),
                        ("bias", ps[3])], lr=0.1, momentum=0.9, shape_scale="muon")
    ref_opt = fanion.FMuon(ref, lr=0.1, momentum=0.9, shape_scale="muon")
    for s in range(STEPS):
        g = torch.Generator().manual_seed(s)
        grads = [torch.randn(w.shape, generator=g, dtype=torch.float64) for w in whole]
        for p, q, gr, pl in zip(ps, ref, grads, places):
            q.grad = gr.clone()
            p.grad = distribute_tensor(gr.clone(), mesh, pl)
        opt.step()
        ref_opt.step()
    gap = max(float((p.full_tensor() - q).abs().max()) for p, q in zip(ps, ref))

    before = [p.full_tensor().clone() for p in ps]
    bad = torch.zeros(9, 6, dtype=torch.float64)
    bad[8, 5] = float("nan")  # in the last rank's rows only
    ps[0].grad = distribute_tensor(bad, mesh, [Shard(0)])
    nan_error = ""
    try:
        opt.step()
    except ValueError as e:
        nan_error = str(e)
    unchanged = all(torch.equal(p.full_tensor(), b) for p, b in zip(ps, before))

    # Fanion-2 warm-started on column slices: the owner's bases travel to every rank (a
    # fixed-size broadcast) and the next steps start from them, as a single process does.
    cols = nn.Parameter(distribute_tensor(whole[1].clone(), mesh, [Shard(1)]))
    cols_ref = nn.Parameter(whole[1].clone())
    warm = fanion.Fanion([("cols", cols)], k=2, lr=0.1, method="subspace")
    warm_ref = fanion.Fanion([cols_ref], k=2, lr=0.1, method="subspace")
    for s in range(STEPS):
        gr = torch.randn(5, 11, generator=torch.Generator().manual_seed(100 + s),
                         dtype=torch.float64)
        cols.grad, cols_ref.grad = distribute_tensor(gr.clone(), mesh, [Shard(1)]), gr.clone()
        warm.step()
        warm_ref.step()
    warm_gap = float((cols.full_tensor() - cols_ref).abs().max())
    warm_bases = [b is not None for b in warm.state[cols]["direction_bases"]]

    placement_error = ""
    if world == 4:
        mesh2 = init_device_mesh("cpu", (2, 2))
        two = nn.Parameter(distribute_tensor(torch.randn(4, 4, dtype=torch.float64), mesh2,
                                             [Shard(0), Shard(1)]))
        two.grad = distribute_tensor(torch.ones(4, 4, dtype=torch.float64), mesh2,
                                     [Shard(0), Shard(1)])
        try:
            fanion.Muon([("blocks", two)]).step()
        except ValueError as e:
            placement_error = str(e)
    return dict(gap=gap, nan_error=nan_error, unchanged=unchanged,
                placement_error=placement_error, warm_gap=warm_gap, warm_bases=warm_bases)


def absent_rank(rank, world, out_dir):
    """Rank 1 never steps: rank 0 raises within about the optimizer's timeout, not the process
    group's 30 minutes."""
    import time

    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor
    mesh = init_device_mesh("cpu", (world,))
    p = nn.Parameter(distribute_tensor(torch.randn(8, 6, dtype=torch.float64), mesh, [Shard(0)]))
    p.grad = distribute_tensor(torch.randn(8, 6, dtype=torch.float64), mesh, [Shard(0)])
    opt = fanion.Muon([("w", p)], timeout=2)
    if rank == 1:
        time.sleep(8)
        return {}
    message, waited = step_error(opt)
    return dict(message=message, waited=waited)


def run(rank, world, port, fn_name, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    outcome = {"ok": False}
    try:
        dist.init_process_group("gloo", rank=rank, world_size=world)
        outcome = {"ok": True, "result": globals()[fn_name](rank, world, out_dir)}
    except Exception as e:  # reported to the test, which names the rank
        outcome = {"ok": False, "error": repr(e), "traceback": traceback.format_exc()}
    finally:
        torch.save(outcome, os.path.join(out_dir, f"rank{rank}.pt"))
        if dist.is_initialized():
            dist.destroy_process_group()
