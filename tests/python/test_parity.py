"""The Python optimizers take numerically the same steps as the C++ fanion::optim::NormOptimizer.

Both run on the same parameters and gradients; the C++ optimizer is driven through
fanion._core.CppNormOptimizer. Tolerance: 1e-12 in float64 (the implementations perform the same
operations in the same order, so in practice the results are bit-identical).
"""
import math

import pytest
import torch

import fanion
from fanion import _core, _step
from fanion import directions as D
from fanion.optim import NormOptimizer

TOL = 1e-12
STEPS = 6

SHAPES = [(20, 12), (12, 20), (8, 3, 2, 2), (80, 70), (12,)]


def cpp_options(opt, gi):
    group = opt.param_groups[gi]
    return _core.NormOptimizerOptions(
        lr=group["lr"], direction=opt.direction(gi),
        momentum=group["momentum"], momentum_kind=_step.momentum_kind(group),
        weight_decay=group["weight_decay"],
        shape_scale=group["shape_scale"], normalize_weights=group["normalize_weights"],
        compute_dtype=group["compute_dtype"], on_nonfinite=group["on_nonfinite"],
        use_adamw=group["use_adamw"], adamw_for_non_matrix=group["adamw_for_non_matrix"],
        adamw_lr=group["adamw_lr"], adamw_beta1=group["adamw_beta1"],
        adamw_beta2=group["adamw_beta2"], adamw_eps=group["adamw_eps"],
        adamw_weight_decay=group["adamw_weight_decay"], batched=group["batched"])


def cpp_twin(opt):
    """A C++ optimizer over clones of opt's parameters, with the same groups and options."""
    groups, clones = [], []
    for gi, group in enumerate(opt.param_groups):
        ps = [torch.nn.Parameter(p.detach().clone()) for p in group["params"]]
        clones.append(ps)
        groups.append((ps, cpp_options(opt, gi)))
    return _core.CppNormOptimizer(groups, groups[0][1]), clones


def problem(dtype, shapes=SHAPES, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=gen, dtype=dtype)) for s in shapes]


def gradient(step, p, i):
    gen = torch.Generator().manual_seed(10_000 + 100 * step + i)
    return torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype)


def max_diff(a, b):
    return max(float((x.detach().double() - y.detach().double()).abs().max())
               for x, y in zip(a, b))


def run_both(opt, steps=STEPS, lr_schedule=None, corrupt=None):
    cpp, clones = cpp_twin(opt)
    py_params = [p for g in opt.param_groups for p in g["params"]]
    cpp_params = [p for ps in clones for p in ps]
    worst = 0.0
    for step in range(steps):
        if lr_schedule is not None:
            for gi, group in enumerate(opt.param_groups):
                group["lr"] = lr_schedule(step, gi)
                cpp.set_lr(gi, group["lr"])
        for i, (p, q) in enumerate(zip(py_params, cpp_params)):
            g = gradient(step, p, i)
            if corrupt is not None:
                g = corrupt(step, i, g)
            p.grad = g.clone()
            q.grad = g.clone()
        opt.step()
        cpp.step()
        assert opt.last_skipped == cpp.last_skipped()
        worst = max(worst, max_diff(py_params, cpp_params))
    # The state too: momentum buffers, AdamW moments, warm-start bases, step counts.
    for p, q in zip(py_params, cpp_params):
        s, c = opt.state.get(p, {}), cpp.state_of(q)
        if c is None:
            assert not s
            continue
        assert s["step"] == c["step"]
        for key in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
            assert (s.get(key) is None) == (c[key] is None), key
            if c[key] is not None:
                worst = max(worst, float((s[key] - c[key]).abs().max()))
        bases = s.get("direction_bases", [])
        cb = c["direction_bases"]
        assert [b is None for b in bases] == [b is None for b in cb]
        for a, b in zip(bases, cb):
            if b is not None:
                worst = max(worst, float((a - b).abs().max()))
    return worst


CASES = {
    "muon": lambda ps: fanion.Muon(ps, lr=0.05),
    "muon-exact-shape-wd": lambda ps: fanion.Muon(ps, lr=0.05, method="exact",
                                                  shape_scale="muon", weight_decay=0.1),
    "muon-polar-express-eq4": lambda ps: fanion.Muon(ps, lr=0.05, ns_schedule="polar_express",
                                                     ns_steps=6, momentum_kind="nesterov_eq4"),
    "muon-gram": lambda ps: fanion.Muon(ps, lr=0.05, method="gram"),
    "neon": lambda ps: fanion.Neon(ps, lr=0.05),
    "fanion-gram": lambda ps: fanion.Fanion(ps, k=2, lr=0.05, method="gram"),
    "fanion-3-subspace-fp32-compute": lambda ps: fanion.Fanion(
        ps, k=3, lr=0.05, method="subspace", compute_dtype=torch.float32),
    "fanion-4-lanczos-no-momentum": lambda ps: fanion.Fanion(
        ps, k=4, lr=0.05, method="lanczos", momentum_kind="none", shape_scale="spectral"),
    "fmuon": lambda ps: fanion.FMuon(ps, lr=0.05, alpha=0.3, weight_decay=0.05,
                                     shape_scale="muon"),
    "fneon-heavy-ball": lambda ps: fanion.FNeon(ps, lr=0.05, alpha=0.6, nesterov=False),
    "ffanion-no-ball": lambda ps: fanion.FFanion(ps, k=5, lr=0.05, alpha=1.1,
                                                 method="block_krylov"),
    "smuon-normalize": lambda ps: fanion.SMuon(ps, lr=0.05, alpha=0.5, sign_lr_coeff=0.02,
                                               normalize_weights=True),
    "sneon": lambda ps: fanion.SNeon(ps, lr=0.05, sign_lr_coeff=0.01,
                                     shape_scale="match_rms_adamw"),
    "sfanion": lambda ps: fanion.SFanion(ps, k=2, lr=0.05, alpha=0.4, sign_lr_coeff=0.05,
                                         adamw_lr=1e-2, adamw_betas=(0.8, 0.99),
                                         adamw_weight_decay=0.1, adamw_eps=1e-6),
    "nsgd": lambda ps: fanion.NSGD(ps, lr=0.05, momentum=0.5),
    "signsgd": lambda ps: fanion.SignSGD(ps, lr=0.01, momentum=0.0),
    "schatten-combination": lambda ps: NormOptimizer(
        ps, direction=0.5 * D.Direction.schatten(3.0) + 0.25 * D.Direction.nsgd()
        + 0.25 * D.Direction.fanion(2), lr=0.05),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_float64(name):
    opt = CASES[name](problem(torch.float64))
    assert run_both(opt) <= TOL


@pytest.mark.parametrize("name", ["muon", "fmuon", "sfanion", "fanion-3-subspace-fp32-compute"])
def test_parity_float32(name):
    opt = CASES[name](problem(torch.float32))
    assert run_both(opt) <= 1e-6  # in practice 0: the same float32 operations


BATCH_SHAPES = [(4, 6, 5), (2, 3, 4, 5), (12,)]  # batches of matrices, and a vector (AdamW)


@pytest.mark.parametrize("name", ["muon", "muon-exact-shape-wd", "fmuon", "sneon",
                                  "fanion-3-subspace-fp32-compute"])
def test_parity_batched(name):
    """batched=True: one direction per matrix of a batch, in both implementations."""
    opt = CASES[name](problem(torch.float64, BATCH_SHAPES))
    for group in opt.param_groups:
        group["batched"] = True
    assert run_both(opt) <= TOL


def test_parity_param_groups_adamw_group_and_lr_schedule():
    ps = problem(torch.float64)
    opt = fanion.FMuon([{"params": ps[:3], "alpha": 0.7},
                        {"params": ps[3:], "use_adamw": True, "lr": 3e-3}], lr=0.05)

    def sched(step, gi):
        return (0.05 if gi == 0 else 3e-3) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
    assert run_both(opt, lr_schedule=sched) <= TOL


def test_parity_skip_nonfinite():
    def corrupt(step, i, g):
        if step in (1, 3) and i == 1:
            g = g.clone()
            g[0, 0] = float("nan")
        return g

    opt = fanion.Muon(problem(torch.float64), lr=0.05, on_nonfinite="skip")
    assert run_both(opt, corrupt=corrupt) <= TOL
    assert opt.last_skipped == []  # the last step had clean gradients


def test_cpp_and_python_refuse_the_same_nan_step():
    opt = fanion.Fanion(problem(torch.float64), k=2, lr=0.05)
    cpp, clones = cpp_twin(opt)
    py_params = opt.param_groups[0]["params"]
    for i, (p, q) in enumerate(zip(py_params, clones[0])):
        g = gradient(0, p, i)
        if i == 2:
            g[0, 0, 0, 0] = float("inf")
        p.grad, q.grad = g.clone(), g.clone()
    with pytest.raises(ValueError, match=r"group 0, param 2 \[8, 3, 2, 2\]") as py_err:
        opt.step()
    with pytest.raises(ValueError, match=r"group 0, param 2 \[8, 3, 2, 2\]"):
        cpp.step()
    assert "nothing was changed" in str(py_err.value)
    assert max_diff(py_params, clones[0]) == 0.0
    assert len(opt.state) == 0 and cpp.state_of(clones[0][0]) is None


def test_parity_across_save_and_load(tmp_path):
    """C++ save/load and Python state_dict/load_state_dict both continue the same trajectory."""
    opt = fanion.FFanion(problem(torch.float64), k=3, lr=0.05, method="block_krylov")
    cpp, clones = cpp_twin(opt)
    py_params = opt.param_groups[0]["params"]

    def step(o, c, s):
        for i, (p, q) in enumerate(zip(py_params, clones[0])):
            g = gradient(s, p, i)
            p.grad, q.grad = g.clone(), g.clone()
        o.step()
        c.step()

    for s in range(3):
        step(opt, cpp, s)
    path = str(tmp_path / "cpp.pt")
    cpp.save(path)
    torch.save(opt.state_dict(), tmp_path / "py.pt")
    opt2 = fanion.FFanion(py_params, k=3, lr=0.05, method="block_krylov")
    opt2.load_state_dict(torch.load(tmp_path / "py.pt"))
    cpp2 = _core.CppNormOptimizer([(clones[0], cpp_options(opt2, 0))], cpp_options(opt2, 0))
    cpp2.load(path)
    for s in range(3, 6):
        step(opt2, cpp2, s)
    assert max_diff(py_params, clones[0]) <= TOL
