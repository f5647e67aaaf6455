"""Directions at extreme gradient scales, and solvers that say when they fail (issue: a branch
whose gradient becomes zero after one step; with momentum 0.95 the buffer decays to ~4e-23
by step ~1040, where NSGD and F-Muon once moved the parameter by ~1e14 instead of lr)."""
import warnings

import pytest
import torch

import fanion

LR = 0.01
OPTIMIZERS = {
    "nsgd": lambda ps: fanion.NSGD(ps, lr=LR, momentum=0.95),
    "f_muon": lambda ps: fanion.FMuon(ps, lr=LR, momentum=0.95),
    "s_muon": lambda ps: fanion.SMuon(ps, lr=LR, momentum=0.95),
    "fanion_2": lambda ps: fanion.Fanion(ps, k=2, lr=LR, momentum=0.95),
    "muon": lambda ps: fanion.Muon(ps, lr=LR, momentum=0.95),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_decaying_momentum_never_moves_a_parameter_more_than_lr(name):
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(8, 6))
    opt = OPTIMIZERS[name]([p])
    # Spectral norm of any of these directions is <= 1, and NSGD's Frobenius norm is 1; the
    # sign part of S-Muon is sign_lr_coeff * sign(M) (entries <= 1): ||d||_F <= sqrt(48).
    bound = LR * (48 ** 0.5) * (1 + 1e-4)
    for step in range(1400):
        p.grad = torch.randn(8, 6) if step == 0 else torch.zeros(8, 6)
        before = p.detach().clone()
        opt.step()
        moved = float((p.detach() - before).norm())
        assert moved <= bound, (step, moved)
    buf = opt.state[p]["momentum_buffer"]
    assert 0 < float(buf.abs().max()) < 1e-25  # the scenario was reached: a subnormal-ish M
    # ... and the direction there is still the direction of M (not 0, not huge).
    if name == "nsgd":
        assert abs(moved - LR) <= 1e-5 * LR


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_direction_is_scale_invariant_from_python(dtype):
    torch.manual_seed(1)
    G = torch.randn(10, 7, dtype=torch.float64)
    M = (torch.sign(G) * (1 + G.abs())).to(dtype)
    info = torch.finfo(dtype)
    scales = [info.tiny, 1e-30, 1e30, info.max / (float(M.abs().max()) * M.numel())]
    for family in ("nsgd", "sign", "muon", "neon", "fanion", "f_muon", "s_muon", "f_neon"):
        d = fanion.directions.make(family, **({"k": 3} if family == "fanion" else {}))
        ref = d.apply(M)
        for c in scales:
            dc = d.apply(M * c)
            assert torch.isfinite(dc).all(), (family, c)
            tol = 1e-3 if dtype == torch.float32 else 1e-8
            assert float((dc - ref).abs().max()) <= tol * float(ref.abs().max()), (family, c)


def test_an_unconverged_top_k_solve_falls_back_to_the_exact_svd_and_warns_once():
    torch.manual_seed(2)
    p = torch.nn.Parameter(torch.randn(60, 50))
    # One pass cannot converge: every step falls back to the exact SVD.
    opt = fanion.Fanion([("layer.weight", p)], k=3, lr=0.01, momentum=0.0,
                        method="block_krylov", max_passes=1)
    ref = torch.nn.Parameter(p.detach().clone())
    ref_opt = fanion.Fanion([ref], k=3, lr=0.01, momentum=0.0, method="exact")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            g = torch.randn(60, 50)
            p.grad, ref.grad = g.clone(), g.clone()
            opt.step()
            ref_opt.step()
    ours = [w for w in caught if "did not converge" in str(w.message)]
    assert len(ours) == 1 and "layer.weight" in str(ours[0].message)
    assert opt.state[p]["solver_fallbacks"] == 3
    assert float((p.detach() - ref.detach()).abs().max()) <= 1e-5
