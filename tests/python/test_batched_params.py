"""batched=True: a parameter of rank >= 3 is a batch of matrices (experts, heads)."""
import pytest
import torch

import fanion


def svals(t):
    return torch.linalg.svdvals(t)


def test_each_expert_gets_its_own_polar_factor():
    torch.manual_seed(0)
    lr = 0.1
    p = torch.nn.Parameter(torch.randn(4, 6, 5, dtype=torch.float64))
    q = torch.nn.Parameter(p.detach().clone())
    g = torch.randn(4, 6, 5, dtype=torch.float64)
    p.grad, q.grad = g.clone(), g.clone()
    before = p.detach().clone()
    fanion.Muon([p], lr=lr, momentum=0.0, method="exact", batched=True).step()
    fanion.Muon([q], lr=lr, momentum=0.0, method="exact").step()
    for i in range(4):  # every expert's update is lr times an orthogonal matrix
        assert torch.allclose(svals(before[i] - p[i]), torch.full((5,), lr, dtype=p.dtype),
                              atol=1e-12)
    # Without batched=True the (4, 30) view is orthogonalized: an expert's part is not.
    whole = svals((before - q).reshape(4, 30))
    assert torch.allclose(whole, torch.full((4,), lr, dtype=p.dtype), atol=1e-12)
    assert svals(before[0] - q[0]).max() < 0.9 * lr


@pytest.mark.parametrize("make", [
    lambda ps, **kw: fanion.FMuon(ps, lr=0.05, momentum=0.9, alpha=0.5, **kw),
    lambda ps, **kw: fanion.SMuon(ps, lr=0.05, momentum=0.9, method="exact", **kw),
    lambda ps, **kw: fanion.Fanion(ps, k=2, lr=0.05, momentum=0.9, method="subspace", **kw),
    lambda ps, **kw: fanion.Muon(ps, lr=0.05, momentum=0.9, shape_scale="muon", **kw),
], ids=["f_muon", "s_muon", "fanion_warm", "muon_newton_schulz"])
def test_batched_equals_matrix_by_matrix(make):
    torch.manual_seed(1)
    stack = torch.nn.Parameter(torch.randn(3, 8, 5, dtype=torch.float64))
    apart = [torch.nn.Parameter(stack.detach()[i].clone()) for i in range(3)]
    opt, ref = make([stack], batched=True), make(apart)
    for step in range(4):
        g = torch.randn(3, 8, 5, dtype=torch.float64)
        stack.grad = g.clone()
        for i, p in enumerate(apart):
            p.grad = g[i].clone()
        opt.step()
        ref.step()
        if step == 1:  # the state (warm-start bases of every matrix) survives a round trip
            saved = opt.state_dict()
            opt = make([stack], batched=True)
            opt.load_state_dict(saved)
    # float64 throughout: only the rounding of batched against single matmuls may differ.
    for i, p in enumerate(apart):
        assert (stack.detach()[i] - p.detach()).abs().max() <= 1e-12, i


def test_shape_scale_is_one_matrix_s():
    p = torch.nn.Parameter(torch.zeros(2, 8, 2, dtype=torch.float64))
    p.grad = torch.randn(2, 8, 2, dtype=torch.float64)
    fanion.Muon([p], lr=1.0, momentum=0.0, method="exact", shape_scale="muon",
                batched=True).step()
    # sqrt(max(1, 8 / 2)) = 2 for each 8 x 2 matrix (the (2, 16) view would give 1).
    assert torch.allclose(svals(p.detach()[0]), torch.full((2,), 2.0, dtype=p.dtype))


def test_bad_combinations_are_named():
    w = torch.nn.Parameter(torch.randn(4, 4))
    with pytest.raises(ValueError, match="'w'.*batched=True|w.*not a batch"):
        fanion.Muon([("w", w)], batched=True)
    e = torch.nn.Parameter(torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="normalize_weights"):
        fanion.Muon([e], batched=True, normalize_weights=True)
    with pytest.raises(TypeError, match="batched"):
        fanion.Muon([e], batched=1)
    # Biases in a batched group still go to AdamW.
    b = torch.nn.Parameter(torch.zeros(4))
    b.grad = torch.ones(4)
    fanion.Muon([b, e], batched=True).step()
    assert b.detach().abs().sum() > 0
