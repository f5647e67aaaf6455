"""fanion.optim: first steps against hand-computed updates, param groups, the built-in AdamW,
state_dict round trips continuing the exact trajectory, lr schedulers, closures."""
import copy
import io
import math

import numpy as np
import pytest
import torch

import fanion
from fanion import directions as D

LR, BETA = 0.1, 0.9


def np_direction(kind, M, k=2, alpha=0.5, eta=0.01):
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    base = {
        "muon": lambda: U @ Vt,
        "neon": lambda: np.outer(U[:, 0], Vt[0]),
        "fanion": lambda: U[:, :k] @ Vt[:k],
        "nsgd": lambda: M / np.linalg.norm(M),
        "sign": lambda: np.sign(M),
    }
    if kind.startswith("f_"):
        return alpha * base[kind[2:]]() + (1 - alpha) * M / np.linalg.norm(M)
    if kind.startswith("s_"):
        return alpha * base[kind[2:]]() + (1 - alpha) * eta * np.sign(M)
    return base[kind]()


# (class, options, numpy direction kind). Muon terms use the exact polar factor so that NumPy's
# SVD is the reference; top-k terms use the default solver ("auto": dense SVD at this size).
OPTIMIZERS = [
    (fanion.Muon, dict(method="exact"), "muon", {}),
    (fanion.Neon, {}, "neon", {}),
    (fanion.Fanion, dict(k=2), "fanion", dict(k=2)),
    (fanion.FMuon, dict(alpha=0.3, method="exact"), "f_muon", dict(alpha=0.3)),
    (fanion.FNeon, dict(alpha=0.6), "f_neon", dict(alpha=0.6)),
    (fanion.FFanion, dict(k=3, alpha=0.4), "f_fanion", dict(k=3, alpha=0.4)),
    (fanion.SMuon, dict(alpha=0.5, sign_lr_coeff=0.02, method="exact"), "s_muon",
     dict(alpha=0.5, eta=0.02)),
    (fanion.SNeon, dict(alpha=0.7, sign_lr_coeff=0.1), "s_neon", dict(alpha=0.7, eta=0.1)),
    (fanion.SFanion, dict(k=2, alpha=0.2, sign_lr_coeff=0.05), "s_fanion",
     dict(k=2, alpha=0.2, eta=0.05)),
    (fanion.NSGD, {}, "nsgd", {}),
    (fanion.SignSGD, {}, "sign", {}),
]


def data():
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((6, 4))
    b0 = rng.standard_normal(4)
    gW = [rng.standard_normal((6, 4)) for _ in range(3)]
    gb = [rng.standard_normal(4) for _ in range(3)]
    return W0, b0, gW, gb


def run(opt_cls, kw, steps, W0, b0, gW, gb):
    W = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    b = torch.nn.Parameter(torch.from_numpy(b0.copy()))
    opt = opt_cls([W, b], lr=LR, momentum=BETA, **kw)
    for t in range(steps):
        W.grad = torch.from_numpy(gW[t].copy())
        b.grad = torch.from_numpy(gb[t].copy())
        opt.step()
    return W.detach().numpy(), b.detach().numpy(), opt


def adamw_by_hand(b0, gb, steps, lr=3e-4, b1=0.9, b2=0.95, eps=1e-8, wd=0.0):
    p, m, v = b0.copy(), np.zeros_like(b0), np.zeros_like(b0)
    for t in range(1, steps + 1):
        g = gb[t - 1]
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return p


@pytest.mark.parametrize("opt_cls,kw,kind,dkw", OPTIMIZERS,
                         ids=lambda x: getattr(x, "__name__", ""))
def test_first_steps_by_hand(opt_cls, kw, kind, dkw):
    W0, b0, gW, gb = data()
    # Step 1: B = g1, M = g1 + beta B.  Step 2: B = beta g1 + g2, M = g2 + beta B.
    W1 = W0 - LR * np_direction(kind, gW[0] + BETA * gW[0], **dkw)
    B2 = BETA * gW[0] + gW[1]
    W2 = W1 - LR * np_direction(kind, gW[1] + BETA * B2, **dkw)
    W, b, opt = run(opt_cls, kw, 1, W0, b0, gW, gb)
    np.testing.assert_allclose(W, W1, atol=1e-12)
    W, b, opt = run(opt_cls, kw, 2, W0, b0, gW, gb)
    np.testing.assert_allclose(W, W2, atol=1e-12)
    # The bias went to the built-in AdamW.
    np.testing.assert_allclose(b, adamw_by_hand(b0, gb, 2), atol=1e-14)
    assert set(opt.state[opt.param_groups[0]["params"][1]]) == {"step", "exp_avg", "exp_avg_sq"}
    assert opt.__doc__ and "eq." in opt.__doc__  # the formula and the paper's equation


def test_momentum_kinds_by_hand():
    W0, b0, gW, gb = data()
    g1, g2 = gW[0], gW[1]

    def d(M):
        return np_direction("muon", M)
    cases = {
        "nesterov": [g1 + BETA * g1, g2 + BETA * (BETA * g1 + g2)],
        "heavy_ball": [g1, BETA * g1 + g2],
        "none": [g1, g2],
        # the paper's eq. 4 literally: B = beta B + (1 - beta) g, M = g + beta B
        "nesterov_eq4": [g1 + BETA * (1 - BETA) * g1,
                         g2 + BETA * (BETA * (1 - BETA) * g1 + (1 - BETA) * g2)],
    }
    for kind, (M1, M2) in cases.items():
        W, _, _ = run(fanion.Muon, dict(method="exact", momentum_kind=kind), 2, W0, b0, gW, gb)
        np.testing.assert_allclose(W, W0 - LR * d(M1) - LR * d(M2), atol=1e-12, err_msg=kind)
    W, _, _ = run(fanion.Muon, dict(method="exact", nesterov=False), 2, W0, b0, gW, gb)
    np.testing.assert_allclose(W, W0 - LR * d(g1) - LR * d(BETA * g1 + g2), atol=1e-12)


def test_weight_decay_shape_scale_and_normalize_by_hand():
    W0, b0, gW, gb = data()  # W is 6 x 4: m/n = 1.5
    M1 = (1 + BETA) * gW[0]
    d1 = np_direction("f_muon", M1, alpha=0.5)
    for rule, s in (("none", 1.0), ("muon", math.sqrt(1.5)), ("spectral", math.sqrt(1.5)),
                    ("match_rms_adamw", 0.2 * math.sqrt(6))):
        W, _, _ = run(fanion.FMuon, dict(method="exact", weight_decay=0.2, shape_scale=rule), 1,
                      W0, b0, gW, gb)
        np.testing.assert_allclose(W, W0 * (1 - LR * 0.2) - LR * s * d1, atol=1e-12,
                                   err_msg=rule)
    W, _, _ = run(fanion.FMuon, dict(method="exact", normalize_weights=True), 1, W0, b0, gW, gb)
    np.testing.assert_allclose(W, W0 * math.sqrt(6) / np.linalg.norm(W0) - LR * d1, atol=1e-12)


def test_conv_weights_are_matrices_and_adamw_options():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 3).double()
    opt = fanion.Muon(conv.parameters(), lr=0.1, momentum=0.0, method="exact", adamw_lr=1e-2,
                      adamw_betas=(0.8, 0.9), adamw_eps=1e-6, adamw_weight_decay=0.1)
    W0, b0 = conv.weight.detach().clone(), conv.bias.detach().clone()
    conv.weight.grad = torch.randn_like(conv.weight)
    conv.bias.grad = torch.randn_like(conv.bias)
    gW, gb = conv.weight.grad.clone(), conv.bias.grad.clone()
    opt.step()
    want = W0.reshape(5, -1).numpy() - 0.1 * np_direction("muon", gW.reshape(5, -1).numpy())
    np.testing.assert_allclose(conv.weight.detach().reshape(5, -1).numpy(), want, atol=1e-12)
    np.testing.assert_allclose(conv.bias.detach().numpy(),
                               adamw_by_hand(b0.numpy(), [gb.numpy()], 1, lr=1e-2, b1=0.8,
                                             b2=0.9, eps=1e-6, wd=0.1), atol=1e-14)
    assert opt.param_groups[0]["adamw_beta1"] == 0.8


def test_zero_gradient_gives_zero_update():
    for cls in (fanion.Muon, fanion.Neon, fanion.NSGD, fanion.SignSGD):
        W = torch.nn.Parameter(torch.randn(5, 3))
        W0 = W.detach().clone()
        opt = cls([W], lr=0.1)
        W.grad = torch.zeros_like(W)
        opt.step()
        assert torch.equal(W.detach(), W0), cls.__name__


def test_param_groups_and_named_parameters():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 8), torch.nn.Linear(8, 8),
                                torch.nn.Linear(8, 4)).double()
    emb, hidden, head = model[0], model[1], model[2]
    opt = fanion.FMuon([{"params": hidden.named_parameters(prefix="hidden")},
                        {"params": list(head.parameters()), "alpha": 0.9, "lr": 0.05},
                        {"params": emb.parameters(), "use_adamw": True, "lr": 1e-3,
                         "name": "embeddings"}], lr=0.02, alpha=0.5)
    assert opt.param_groups[0]["alpha"] == 0.5 and opt.param_groups[1]["alpha"] == 0.9
    assert opt.direction(1).name == "0.9*muon + 0.1*nsgd"
    assert opt.param_groups[2]["name"] == "embeddings"  # the user's own keys stay
    e0 = emb.weight.detach().clone()
    out = model[2](model[1](model[0](torch.tensor([1, 2, 3]))))
    out.pow(2).sum().backward()
    opt.step()
    # The embedding is a matrix but its group is AdamW: an AdamW first step moves each touched
    # entry by about lr.
    moved = (emb.weight.detach() - e0).abs()
    assert moved[1:4].max() == pytest.approx(1e-3, rel=1e-3) and moved[5:].max() == 0
    assert "exp_avg" in opt.state[emb.weight] and "momentum_buffer" in opt.state[hidden.weight]
    # add_param_group later, checked and filled with defaults.
    extra = torch.nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
    opt.add_param_group({"params": [extra], "alpha": 0.1})
    assert opt.param_groups[3]["lr"] == 0.02
    # zero_grad
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for g in opt.param_groups for p in g["params"])


def test_step_with_closure():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3).double()
    x, y = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    opt = fanion.SMuon(lin.parameters(), lr=0.05)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(lin(x), y)
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(20)]
    assert len(calls) == 20 and losses[-1] < losses[0]


def _trajectory_problem():
    torch.manual_seed(1)
    return [torch.nn.Parameter(torch.randn(80, 70)), torch.nn.Parameter(torch.randn(20, 12)),
            torch.nn.Parameter(torch.randn(12))]


def _grads(step, params):
    gen = torch.Generator().manual_seed(500 + step)
    return [torch.randn(p.shape, generator=gen) for p in params]


@pytest.mark.parametrize("make", [
    lambda ps: fanion.FFanion(ps, k=3, lr=0.02, method="block_krylov",
                              compute_dtype=torch.float64),
    lambda ps: fanion.SMuon(ps, lr=0.02, weight_decay=0.1, momentum_kind="nesterov_eq4"),
    lambda ps: fanion.Neon(ps, lr=0.02, method="subspace"),
], ids=["ffanion-block-krylov-fp64-compute", "smuon-eq4", "neon-subspace"])
def test_state_dict_round_trip_continues_the_exact_trajectory(make):
    # Uninterrupted: 6 steps with a cosine schedule.
    ps = _trajectory_problem()
    opt = make(ps)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    for step in range(6):
        for p, g in zip(ps, _grads(step, ps)):
            p.grad = g
        opt.step()
        sched.step()
    want = [p.detach().clone() for p in ps]

    # Interrupted after 3 steps: save everything, rebuild from scratch, load, continue.
    ps = _trajectory_problem()
    opt = make(ps)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    for step in range(3):
        for p, g in zip(ps, _grads(step, ps)):
            p.grad = g
        opt.step()
        sched.step()
    buf = io.BytesIO()
    torch.save({"params": [p.detach() for p in ps], "opt": opt.state_dict(),
                "sched": sched.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf)
    ps2 = [torch.nn.Parameter(t.clone()) for t in saved["params"]]
    opt2 = make(ps2)
    opt2.load_state_dict(saved["opt"])
    sched2 = torch.optim.lr_scheduler.CosineAnnealingLR(opt2, T_max=6)
    sched2.load_state_dict(saved["sched"])
    bases = opt2.state[ps2[0]]["direction_bases"]
    old = opt.state[ps[0]]["direction_bases"]
    assert [b is None for b in bases] == [b is None for b in old]
    for a, b in zip(bases, old):  # the warm starts came back, in their own dtype
        assert b is None or (a.dtype == b.dtype and torch.equal(a, b))
    for step in range(3, 6):
        for p, g in zip(ps2, _grads(step, ps2)):
            p.grad = g
        opt2.step()
        sched2.step()
    for a, b in zip(ps2, want):
        assert torch.equal(a.detach(), b), float((a.detach() - b).abs().max())


def test_state_dict_is_plain_and_deepcopyable():
    ps = _trajectory_problem()
    opt = fanion.NormOptimizer(ps, direction=0.5 * D.Direction.fanion(3) + 0.5 * D.Direction.sign())
    for p, g in zip(ps, _grads(0, ps)):
        p.grad = g
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    assert sd["param_groups"][0]["direction"].name == "0.5*fanion-3 + 0.5*sign"
    assert sd["state"][0]["step"] == 1


def test_lr_schedulers_work_unchanged():
    # NSGD without momentum moves a matrix by exactly lr in Frobenius norm: the step shows lr.
    W = torch.nn.Parameter(torch.randn(6, 5, dtype=torch.float64))
    opt = fanion.NSGD([W], lr=0.1, momentum=0.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    moved = []
    for _ in range(6):
        W0 = W.detach().clone()
        W.grad = torch.randn_like(W)
        opt.step()
        sched.step()
        moved.append(float((W.detach() - W0).norm()))
    np.testing.assert_allclose(moved, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=1e-12)

    # Schedulers that touch momentum, and the plateau scheduler.
    W = torch.nn.Parameter(torch.randn(6, 5))
    opt = fanion.Muon([W], lr=0.1)
    one = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=10)
    for _ in range(5):
        W.grad = torch.randn_like(W)
        opt.step()
        one.step()
    assert 0.85 <= opt.param_groups[0]["momentum"] <= 0.95
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    lr = opt.param_groups[0]["lr"]
    plateau.step(1.0)
    plateau.step(2.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(lr * 0.5)
    torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.0)  # sets lr to 0 at once
    W0 = W.detach().clone()
    W.grad = torch.randn_like(W)
    opt.step()  # lr 0: nothing moves
    assert torch.equal(W.detach(), W0)


def test_training_reduces_the_loss_with_every_optimizer():
    torch.manual_seed(0)
    x = torch.randn(64, 10)
    y = x @ torch.randn(10, 3)
    for cls, kw, _, _ in OPTIMIZERS:
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(),
                                    torch.nn.Linear(16, 3))
        opt = cls(model.parameters(), lr=0.02 if cls is not fanion.SignSGD else 0.002,
                  adamw_lr=1e-2, **kw)
        first = None
        for _ in range(30):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            first = first if first is not None else float(loss)
            loss.backward()
            opt.step()
        assert float(loss) < 0.9 * first, cls.__name__
