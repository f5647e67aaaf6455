"""fanion.Muon against published Muons, as external oracles.

torch.optim.Muon (PyTorch >= 2.9) computes: the EMA momentum B <- lerp(B, g, 1 - beta) and
M = lerp(g, B, beta) (nesterov); 5 Newton-Schulz steps with Keller Jordan's quintic
(3.4445, -4.7750, 2.0315) in bfloat16 from X / max(||X||_F, 1e-7), on the wide orientation;
X <- X (1 - lr wd) - lr sqrt(max(1, m/n)) NS(M). fanion.Muon configured the same way
(``momentum_kind="nesterov_ema"``, ``ns_normalization="frobenius"``,
``compute_dtype=torch.bfloat16``, ``shape_scale="muon"``, the same weight decay) performs the
same operations, so the trajectories agree to within one bfloat16 rounding of one step
(measured: bit for bit).

Keller Jordan's Muon (PyPI muon-optimizer, ``SingleDeviceMuon``) computes the same step with
other bfloat16 arithmetic (b A + c A A and a X + B X as separate products, +1e-7 in the
normalization, the shape factor multiplied in bfloat16), so it agrees to bfloat16 rounding
accumulated over the run: the tolerance is 4 bfloat16 epsilons of the largest possible travel
lr * steps.

Each comparison also runs deliberately wrong variants (another momentum form, no shape scale,
the other weight decay, the opposite sign) to show that the tolerance would catch them.

Where fanion's defaults differ from torch.optim.Muon's (choices of ours, README), the test
states the difference and checks its size:
- momentum ``"nesterov"`` (PyTorch SGD form: B <- beta B + g, M = g + beta B) is the EMA form's
  M divided by (1 - beta): the same directions, so only bfloat16 rounding differs;
- ``compute_dtype=None`` computes the direction in float32 instead of bfloat16: rounding only;
- ``ns_normalization="gram"`` starts Newton-Schulz from X / ||X X^T||_F^(1/2): a different
  approximation of the same polar factor (the quintic does not converge to it), so the steps
  differ by more than rounding but point the same way.
"""
import copy
import math

import pytest
import torch

import fanion

STEPS = 50
LR = 0.02
BF16_EPS = torch.finfo(torch.bfloat16).eps  # 2^-8
TRAVEL = LR * STEPS  # the most a parameter entry can move: |update entries| <= ~1 each step

# fanion.Muon set up as torch.optim.Muon(lr=LR, weight_decay=0.1, momentum=0.95).
AS_TORCH = dict(lr=LR, momentum=0.95, weight_decay=0.1, momentum_kind="nesterov_ema",
                shape_scale="muon", ns_normalization="frobenius",
                compute_dtype=torch.bfloat16, ns_steps=5, ns_schedule="quintic")
WRONG = {  # variants that a correct comparison must reject
    "heavy-ball momentum": dict(momentum_kind="heavy_ball"),
    "the paper's eq. 4 momentum": dict(momentum_kind="nesterov_eq4"),
    "no shape scale": dict(shape_scale="none"),
}


def make_model():
    """A 3-layer tanh MLP of matrices only (Muon steps 2-D parameters): 32x12 (tall, so the
    transposed path and the shape factor sqrt(32/12) are exercised), 24x32, 8x24."""
    gen = torch.Generator().manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(12, 32, bias=False), torch.nn.Tanh(),
                              torch.nn.Linear(32, 24, bias=False), torch.nn.Tanh(),
                              torch.nn.Linear(24, 8, bias=False))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
    return net


_GEN = torch.Generator().manual_seed(2)
X = torch.randn(64, 12, generator=_GEN)
Y = torch.randn(64, 8, generator=_GEN)


def trajectory(make_opt, negate=False):
    """Parameters after each of STEPS steps of full-batch regression on (X, Y)."""
    net = make_model()
    opt = make_opt(list(net.parameters()))
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        ((net(X) - Y) ** 2).mean().backward()
        if negate:  # the opposite sign: a step up the gradient
            for p in net.parameters():
                p.grad.neg_()
        opt.step()
        out.append([p.detach().clone() for p in net.parameters()])
    return out


def max_diff(a, b):
    return max(float((x - y).abs().max()) for ta, tb in zip(a, b) for x, y in zip(ta, tb))


def fanion_muon(**changes):
    options = dict(AS_TORCH, **changes)
    return lambda ps: fanion.Muon(ps, **options)


def check_wrong_variants_fail(reference, threshold, **base):
    """Every WRONG variant, the other weight decay (0.1 <-> 0) and the opposite sign of fanion.Muon
    configured as `base` end farther than `threshold` from `reference`."""
    wd = base.get("weight_decay", AS_TORCH["weight_decay"])
    variants = dict(WRONG, **{"the other weight decay": dict(weight_decay=0.1 if wd == 0 else 0.0)})
    for what, change in variants.items():
        d = max_diff(reference, trajectory(fanion_muon(**dict(base, **change))))
        assert d > threshold, f"{what}: {d:.3g} is within {threshold:.3g}; the test is blind to it"
    d = max_diff(reference, trajectory(fanion_muon(**base), negate=True))
    assert d > threshold, f"the opposite sign: {d:.3g}"


torch_muon = getattr(torch.optim, "Muon", None)
needs_torch_muon = pytest.mark.skipif(
    torch_muon is None,
    reason=f"torch.optim.Muon needs PyTorch >= 2.9 (this is {torch.__version__})")


@needs_torch_muon
def test_muon_takes_torch_optim_muons_steps():
    reference = trajectory(lambda ps: torch_muon(ps, lr=LR, weight_decay=0.1, momentum=0.95))
    d = max_diff(reference, trajectory(fanion_muon()))
    tol = BF16_EPS * LR  # one bfloat16 rounding of one step's update
    print(f"fanion.Muon vs torch.optim.Muon, {STEPS} steps: max |difference| = {d:.3g}")
    assert d <= tol, d
    check_wrong_variants_fail(reference, 3 * tol)


@needs_torch_muon
def test_match_rms_adamw_is_torchs_adjust_lr():
    reference = trajectory(lambda ps: torch_muon(ps, lr=LR, weight_decay=0.1, momentum=0.95,
                                                 adjust_lr_fn="match_rms_adamw"))
    d = max_diff(reference, trajectory(fanion_muon(shape_scale="match_rms_adamw")))
    assert d <= BF16_EPS * LR, d
    assert max_diff(reference, trajectory(fanion_muon())) > 3 * BF16_EPS * LR


@needs_torch_muon
def test_our_defaults_differ_from_torch_muon_as_documented():
    reference = trajectory(lambda ps: torch_muon(ps, lr=LR, weight_decay=0.1, momentum=0.95))
    rounding = 4 * BF16_EPS * TRAVEL
    # Same directions, other rounding: PyTorch-SGD momentum form, float32 directions.
    for change in (dict(momentum_kind="nesterov"), dict(compute_dtype=None)):
        d = max_diff(reference, trajectory(fanion_muon(**change)))
        assert 0 < d <= rounding, (change, d)
    # Gram normalization: another approximation of U V^T. More than rounding apart, but the
    # total displacement points the same way.
    ours = trajectory(fanion_muon(ns_normalization="gram"))
    assert max_diff(reference, ours) > rounding
    start = [p.detach() for p in make_model().parameters()]
    for p0, a, b in zip(start, reference[-1], ours[-1]):
        cos = torch.nn.functional.cosine_similarity((a - p0).flatten(), (b - p0).flatten(), 0)
        assert cos > 0.95, float(cos)


def test_muon_takes_keller_jordans_steps():
    muon = pytest.importorskip("muon", reason="muon-optimizer (scripts/requirements.txt)")
    reference = trajectory(lambda ps: muon.SingleDeviceMuon(ps, lr=LR, weight_decay=0.0,
                                                            momentum=0.95))
    d = max_diff(reference, trajectory(fanion_muon(weight_decay=0.0)))
    tol = 4 * BF16_EPS * TRAVEL
    print(f"fanion.Muon vs Keller Jordan's SingleDeviceMuon: max |difference| = {d:.3g}")
    assert d <= tol, d
    check_wrong_variants_fail(reference, tol, weight_decay=0.0)


def test_state_dict_round_trip_keeps_the_torch_match():
    """Saving and loading mid-run (as a user resuming a torch.optim.Muon-style run does) keeps
    the nesterov_ema buffer, so the resumed run is the uninterrupted one."""
    straight = trajectory(fanion_muon())
    net = make_model()
    opt = fanion_muon()(list(net.parameters()))
    for step in range(STEPS):
        if step == STEPS // 2:
            saved = copy.deepcopy(opt.state_dict())
            opt = fanion_muon()(list(net.parameters()))
            opt.load_state_dict(saved)
        opt.zero_grad()
        ((net(X) - Y) ** 2).mean().backward()
        opt.step()
    assert max_diff([straight[-1]], [[p.detach() for p in net.parameters()]]) == 0.0
