"""Bad input (docs/design.md §5): a clear error naming the problem, or a defined result, and nothing
lost: NaN/Inf gradients, sparse gradients, complex parameters, bad options."""
import math

import pytest
import torch

import fanion
from fanion import directions as D

ALL = [fanion.Muon, fanion.Neon, fanion.FMuon, fanion.FNeon, fanion.SMuon, fanion.SNeon,
       fanion.NSGD, fanion.SignSGD]


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))


def snapshot(opt):
    params = [p.detach().clone() for g in opt.param_groups for p in g["params"]]
    state = {id(p): {k: (v.clone() if torch.is_tensor(v) else
                         [None if b is None else b.clone() for b in v] if isinstance(v, list)
                         else v) for k, v in s.items()} for p, s in opt.state.items()}
    return params, state


def same(opt, snap):
    params, state = snap
    now = [p.detach() for g in opt.param_groups for p in g["params"]]
    if not all(torch.equal(a, b) for a, b in zip(params, now)):
        return False
    if set(state) != {id(p) for p in opt.state}:
        return False
    for p, s in opt.state.items():
        for k, v in s.items():
            old = state[id(p)][k]
            if torch.is_tensor(v) and not torch.equal(v, old):
                return False
            if not torch.is_tensor(v) and not isinstance(v, list) and v != old:
                return False
    return True


def backward(m):
    m(torch.randn(3, 4)).sum().backward()


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nonfinite_gradient_refuses_the_step_and_changes_nothing(cls, bad):
    m = model()
    opt = cls(m.named_parameters(), lr=0.1)
    backward(m)
    opt.step()  # some state exists
    snap = snapshot(opt)
    opt.zero_grad()
    backward(m)
    m[2].weight.grad[1, 3] = bad
    with pytest.raises(ValueError, match=r"non-finite .* in '2\.weight' \(group 0, param 2 "
                                         r"\[2, 6\]\); the step was refused"):
        opt.step()
    assert same(opt, snap)
    m[2].weight.grad[1, 3] = 0.0  # fixed: the step goes through
    opt.step()
    assert not same(opt, snap)


def test_nonfinite_skip_policy_updates_the_others():
    m = model()
    opt = fanion.FMuon(m.named_parameters(), lr=0.1, on_nonfinite="skip")
    backward(m)
    m[0].bias.grad[0] = float("nan")
    w0, b0 = m[0].weight.detach().clone(), m[0].bias.detach().clone()
    opt.step()
    assert opt.last_skipped == ["'0.bias' (group 0, param 1 [6])"]
    assert torch.equal(m[0].bias.detach(), b0) and m[0].bias not in opt.state
    assert not torch.equal(m[0].weight.detach(), w0)


def test_sparse_gradient():
    W = torch.nn.Parameter(torch.randn(5, 3))
    opt = fanion.Muon([("emb", W)])
    W.grad = torch.randn(5, 3).to_sparse()
    with pytest.raises(TypeError, match=r"'emb' .* sparse gradient"):
        opt.step()
    emb = torch.nn.Embedding(10, 4, sparse=True)
    opt = fanion.SMuon(emb.parameters())
    w0 = emb.weight.detach().clone()
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(TypeError, match=r"group 0, param 0 \[10, 4\] has a sparse gradient"):
        opt.step()
    assert torch.equal(emb.weight.detach(), w0)


def test_complex_parameters_rejected_at_construction():
    z = torch.nn.Parameter(torch.randn(3, 3, dtype=torch.complex64))
    with pytest.raises(TypeError, match=r"'z' \(group 0, param 1 \[3, 3\]\) is complex"):
        fanion.Muon([("w", torch.nn.Parameter(torch.randn(2, 2))), ("z", z)])
    opt = fanion.Muon([torch.nn.Parameter(torch.randn(2, 2))])
    with pytest.raises(TypeError, match="complex"):
        opt.add_param_group({"params": [z]})
    assert len(opt.param_groups) == 1  # a rejected group is not kept


def test_non_matrix_without_adamw():
    m = model()
    with pytest.raises(ValueError, match=r"'0\.bias' .* not a matrix .* adamw_for_non_matrix "
                                         r"is False; put it in a param group with use_adamw"):
        fanion.Muon(m.named_parameters(), adamw_for_non_matrix=False)
    # As the message says: matrices in one group, the rest in a use_adamw group.
    opt = fanion.Muon([{"params": [m[0].weight, m[2].weight]},
                       {"params": [m[0].bias, m[2].bias], "use_adamw": True, "lr": 1e-3}],
                      adamw_for_non_matrix=False)
    backward(m)
    opt.step()


BAD_OPTIONS = [
    (dict(lr=-0.1), ValueError, r"invalid lr = -0\.1 \(must be finite and in \[0\.0, inf\]\)"),
    (dict(lr=float("nan")), ValueError, "invalid lr = nan"),
    (dict(lr="0.1"), TypeError, "lr must be a real number, got '0.1'"),
    (dict(momentum=1.0), ValueError, r"invalid momentum = 1\.0 \(must be finite and in "
                                     r"\[0\.0, 1\.0\)\)"),
    (dict(momentum=-0.5), ValueError, "invalid momentum = -0.5"),
    (dict(nesterov="yes"), TypeError, "nesterov must be True or False"),
    (dict(momentum_kind="adam"), ValueError, "invalid momentum_kind = 'adam' .*nesterov_eq4"),
    (dict(nesterov=False, momentum_kind="nesterov"), ValueError, "contradicts"),
    (dict(weight_decay=-1), ValueError, "invalid weight_decay = -1"),
    (dict(weight_decay=math.inf), ValueError, "invalid weight_decay = inf"),
    (dict(shape_scale="sqrt"), ValueError, "invalid shape_scale = 'sqrt' .*match_rms_adamw"),
    (dict(compute_dtype=torch.int32), TypeError, "compute_dtype must be None or one of"),
    (dict(on_nonfinite="ignore"), ValueError, "invalid on_nonfinite = 'ignore'"),
    (dict(adamw_lr=-1e-3), ValueError, "invalid adamw_lr = -0.001"),
    (dict(adamw_betas=(0.9, 1.0)), ValueError, r"invalid adamw_beta2 = 1\.0"),
    (dict(adamw_betas=0.9), TypeError, "adamw_betas must be a pair"),
    (dict(adamw_eps=-1.0), ValueError, "invalid adamw_eps = -1.0"),
    (dict(method="qr"), ValueError, "invalid method = 'qr'"),
    (dict(ns_steps=-1), ValueError, "invalid ns_steps = -1"),
    (dict(ns_steps=2.5), TypeError, "ns_steps must be an integer"),
    (dict(ns_schedule="septic"), ValueError, "invalid ns_schedule = 'septic'"),
    (dict(alpha=math.inf), ValueError, "invalid alpha = inf"),
]


@pytest.mark.parametrize("kw,exc,match", BAD_OPTIONS, ids=lambda x: str(x)[:40])
def test_bad_options_name_the_option_and_value(kw, exc, match):
    cls = fanion.FMuon
    W = torch.nn.Parameter(torch.randn(3, 3))
    with pytest.raises(exc, match=match):
        cls([W], **kw)


def test_bad_family_options():
    W = torch.nn.Parameter(torch.randn(3, 3))
    with pytest.raises(ValueError, match="invalid k = 0"):
        fanion.Fanion([W], k=0)
    with pytest.raises(TypeError, match="k must be an integer, got 2.5"):
        fanion.FFanion([W], k=2.5)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'k'"):
        fanion.Fanion([W])
    with pytest.raises(ValueError, match="invalid sign_lr_coeff = nan"):
        fanion.SNeon([W], sign_lr_coeff=float("nan"))
    with pytest.raises(ValueError, match="invalid solver_tol = -1"):
        fanion.Neon([W], solver_tol=-1)
    with pytest.raises(ValueError, match="invalid method = 'exact_polar'"):
        fanion.Neon([W], method="exact_polar")
    with pytest.raises(TypeError, match="direction must be a fanion.directions.Direction"):
        fanion.NormOptimizer([W], direction="muon")
    with pytest.raises(TypeError, match="takes no direction argument"):
        fanion.Muon([W], direction=D.Direction.nsgd())
    with pytest.raises(ValueError, match="param group 1: invalid lr = -1"):
        fanion.Muon([{"params": [W]}, {"params": [torch.nn.Parameter(torch.randn(2, 2))],
                                       "lr": -1}])
    with pytest.raises(ValueError, match="option 'k' does not apply"):
        fanion.Muon([{"params": [W], "k": 4}])
    with pytest.raises(TypeError, match="ordered collection"):
        fanion.Muon({W})


def test_options_changed_after_construction_are_checked_at_step():
    W = torch.nn.Parameter(torch.randn(3, 3))
    opt = fanion.Muon([W])
    W.grad = torch.randn(3, 3)
    opt.param_groups[0]["momentum"] = 1.5
    W0 = W.detach().clone()
    with pytest.raises(ValueError, match="param group 0: invalid momentum = 1.5"):
        opt.step()
    assert torch.equal(W.detach(), W0) and not opt.state


def test_options_are_validated_when_they_change_not_at_every_step(monkeypatch):
    W = torch.nn.Parameter(torch.randn(4, 3))
    opt = fanion.Muon([W])
    seen = []
    check = opt._check_options
    monkeypatch.setattr(opt, "_check_options", lambda g, where: (seen.append(g["lr"]),
                                                                 check(g, where)))
    for _ in range(3):
        W.grad = torch.randn(4, 3)
        opt.step()
    assert seen == []  # nothing changed since the group was added
    opt.param_groups[0]["lr"] = 0.01  # a scheduler's edit: validated once, at the next step
    for _ in range(2):
        W.grad = torch.randn(4, 3)
        opt.step()
    assert seen == [0.01]
    opt.load_state_dict(opt.state_dict())  # a loaded state is validated when it is loaded
    assert seen == [0.01, 0.01]


def test_bad_state_dict():
    W = torch.nn.Parameter(torch.randn(3, 3))
    opt = fanion.Muon([W])
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = -5.0
    with pytest.raises(ValueError, match="load_state_dict: param group 0: invalid lr = -5.0"):
        opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.02
    with pytest.raises(ValueError, match="not an optimizer state dict"):
        opt.load_state_dict({"weights": 1})
    two = fanion.Muon([{"params": [W]}, {"params": [torch.nn.Parameter(torch.randn(2, 2))]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two.state_dict())


@pytest.mark.parametrize("make", [lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: torch.optim.AdamW(ps, lr=1e-3),
                                  lambda ps: fanion.Muon(ps)])
def test_a_state_dict_of_another_optimizer_is_refused_before_anything_loads(make):
    W = torch.nn.Parameter(torch.randn(4, 3))
    other = make([W])
    W.grad = torch.randn(4, 3)
    other.step()
    opt = fanion.FMuon([W], lr=0.05)
    with pytest.raises(ValueError, match=r"param group 0 lacks the options \[.*'alpha'.*\]: "
                       "this is not a state dict of FMuon"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 0.05 and len(opt.state) == 0
    opt.step()  # still works: nothing was loaded
    # A state dict saved before the `batched` option existed still loads.
    sd = opt.state_dict()
    del sd["param_groups"][0]["batched"]
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["batched"] is False


def test_a_compute_dtype_the_cpu_cannot_compute_in_is_refused_at_construction():
    W = torch.nn.Parameter(torch.randn(6, 4))
    if fanion.optim._cpu_computes_in(torch.float16):  # torch >= 2.x: it works, so it steps
        opt = fanion.Muon([W], compute_dtype=torch.float16)
        W.grad = torch.randn(6, 4)
        opt.step()
        assert torch.isfinite(W).all()
    else:  # torch 1.13: refused by name before any state exists
        with pytest.raises(ValueError, match=r"compute_dtype=torch.float16 for group 0, param "
                           r"0 \[6, 4\] on the CPU"):
            fanion.Muon([W], compute_dtype=torch.float16)
    b = torch.nn.Parameter(torch.randn(4))  # AdamW's: no direction, no check
    fanion.Muon([b], compute_dtype=torch.float16)
