"""fanion.directions against NumPy SVD answers and the docs/design.md §1 invariants:
<M, d(M)> = ||M||^dagger, ||d(M)|| <= 1, d(cM) = d(M) (c > 0), d(0) = 0, d(M^T) = d(M)^T,
and M is never mutated."""
import math
import pickle

import numpy as np
import pytest
import torch

from fanion import directions as D
from fanion import norms, solvers
from fanion.directions import Direction


def view(M):
    A = M.detach().double().numpy()
    return A.reshape(1, -1) if A.ndim == 1 else A.reshape(A.shape[0], -1)


def svd(M):
    U, s, Vt = np.linalg.svd(view(M), full_matrices=False)
    return U, s, Vt


def with_spectrum(m, n, s, seed=0):
    """U diag(s) V^T with random orthonormal U, V: a known spectrum (gaps where we want)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, len(s))))
    V, _ = np.linalg.qr(rng.standard_normal((n, len(s))))
    return torch.from_numpy(U @ np.diag(s) @ V.T)


def as_np(d, M):
    return d.detach().double().numpy().reshape(view(M).shape)


GAPPED = with_spectrum(30, 20, np.linspace(10, 1, 20) ** 2)  # distinct singular values
RANDOM = [torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)),
          torch.randn(4, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(2)),
          torch.randn(6, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)),
          GAPPED]
IDS = ["7x5", "4x9", "conv6x2x2", "gapped30x20"]


# --- against NumPy ------------------------------------------------------------------------------

@pytest.mark.parametrize("M", RANDOM, ids=IDS)
def test_against_numpy_svd(M):
    A = view(M)
    U, s, Vt = svd(M)
    np.testing.assert_allclose(as_np(D.nsgd(M), M), A / np.linalg.norm(A), atol=1e-14)
    np.testing.assert_array_equal(as_np(D.sign(M), M), np.sign(A))
    np.testing.assert_allclose(as_np(D.muon(M, method="exact"), M), U @ Vt, atol=1e-12)
    np.testing.assert_allclose(as_np(D.muon(M, method="gram"), M), U @ Vt, atol=1e-6)
    np.testing.assert_allclose(as_np(D.fanion(M, 2, method="gram"), M), U[:, :2] @ Vt[:2],
                               atol=1e-6)
    np.testing.assert_allclose(as_np(D.neon(M, method="exact"), M),
                               np.outer(U[:, 0], Vt[0]), atol=1e-12)
    for k in (1, 2, 3):
        np.testing.assert_allclose(as_np(D.fanion(M, k, method="exact"), M),
                                   U[:, :k] @ Vt[:k], atol=1e-12)
    for p in (1.5, 3.0, 4.0):
        q = p / (p - 1)
        want = U @ np.diag(s ** (q - 1)) @ Vt / np.linalg.norm(s, q) ** (q - 1)
        np.testing.assert_allclose(as_np(D.schatten(M, p), M), want, atol=1e-12)
    alpha, eta = 0.3, 0.05
    np.testing.assert_allclose(as_np(D.f_fanion(M, 2, alpha, method="exact"), M),
                               alpha * U[:, :2] @ Vt[:2] + (1 - alpha) * A / np.linalg.norm(A),
                               atol=1e-12)
    np.testing.assert_allclose(as_np(D.s_fanion(M, 2, alpha, eta, method="exact"), M),
                               alpha * U[:, :2] @ Vt[:2] + (1 - alpha) * eta * np.sign(A),
                               atol=1e-12)
    np.testing.assert_allclose(as_np(D.f_muon(M, alpha, method="exact"), M),
                               alpha * U @ Vt + (1 - alpha) * A / np.linalg.norm(A), atol=1e-12)
    np.testing.assert_allclose(as_np(D.s_neon(M, alpha, eta, method="exact"), M),
                               alpha * np.outer(U[:, 0], Vt[0]) + (1 - alpha) * eta * np.sign(A),
                               atol=1e-12)


def test_schatten_limits():
    M = GAPPED
    np.testing.assert_allclose(as_np(D.schatten(M, 1.0), M), as_np(D.neon(M, "exact"), M),
                               atol=1e-12)
    np.testing.assert_allclose(as_np(D.schatten(M, 2.0), M), as_np(D.nsgd(M), M), atol=1e-12)
    np.testing.assert_allclose(as_np(D.schatten(M, math.inf), M),
                               as_np(D.muon(M, "exact"), M), atol=1e-12)


@pytest.mark.parametrize("method", ["lanczos", "block_krylov", "subspace", "auto"])
def test_iterative_top_k_matches_exact(method):
    M = with_spectrum(120, 90, np.concatenate([[50, 40, 30, 20], np.linspace(5, 0.1, 86)]),
                      seed=4)
    U, s, Vt = svd(M)
    for k in (1, 4):
        np.testing.assert_allclose(as_np(D.fanion(M, k, method=method), M),
                                   U[:, :k] @ Vt[:k], atol=1e-6)
        Uk, S, V, stats = solvers.top_k_svd(M, k, method=method)
        np.testing.assert_allclose(S.numpy(), s[:k], rtol=1e-8)
        assert stats["status"] == "converged"
        assert stats["passes"] >= 1


def test_newton_schulz_schedules():
    M = torch.randn(40, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    exact = D.muon(M, "exact")
    # Keller Jordan's quintic: an approximate polar factor (singular values near 1, not at 1).
    s = np.linalg.svd(view(D.muon(M)), compute_uv=False)
    assert 0.6 < s.min() and s.max() < 1.25
    # Converging schedules reach the polar factor.
    for schedule, steps in (("polar_express_exact", 12), ("cubic", 40)):
        Q = D.muon(M, schedule=schedule, steps=steps)
        assert float((Q - exact).abs().max()) < 1e-6, schedule
    Q, stats = solvers.polar_factor(M, "polar_express_exact", steps=30, tol=1e-12)
    assert stats["status"] == "converged" and stats["iterations"] < 30
    Q, stats = solvers.polar_factor(M, "newton_schulz", steps=2, tol=1e-15)
    assert stats["status"] == "not_converged"  # reported, not raised


# --- the invariants -------------------------------------------------------------------------------

def primal(name, D_, k=None):
    """The primal norm of each basic direction's ball (closed forms)."""
    return {"nsgd": norms.frobenius, "sign": norms.chebyshev, "muon": norms.spectral,
            "neon": norms.nuclear, "schatten3": lambda X: norms.schatten(X, 3.0),
            "fanion2": lambda X: norms.ky_fan_dual(X, 2)}[name](D_)


def dual(name, M):
    return {"nsgd": norms.frobenius, "sign": norms.l1, "muon": norms.nuclear,
            "neon": norms.spectral, "schatten3": lambda X: norms.schatten(X, 1.5),
            "fanion2": lambda X: norms.ky_fan(X, 2)}[name](M)


BASIC = {
    "nsgd": Direction.nsgd(),
    "sign": Direction.sign(),
    "muon": Direction.muon(D.polar_options("exact")),
    "neon": Direction.neon(),
    "fanion2": Direction.fanion(2),
    "schatten3": Direction.schatten(3.0),
}

STRUCTURED = {
    "random": torch.randn(9, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(6)),
    "wide": torch.randn(3, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(7)),
    "rank1": torch.outer(torch.arange(1.0, 6.0, dtype=torch.float64),
                         torch.linspace(-1, 2, 4, dtype=torch.float64)),
    "diag": torch.diag(torch.tensor([5.0, 3.0, 2.0, 0.5], dtype=torch.float64)),
    "rank2of5": with_spectrum(8, 5, np.array([3.0, 1.0]), seed=8),
    "vector": torch.linspace(-2, 3, 7, dtype=torch.float64),
    "conv": torch.randn(4, 2, 3, 3, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(9)),
}


@pytest.mark.parametrize("mname", sorted(STRUCTURED))
@pytest.mark.parametrize("dname", sorted(BASIC))
def test_invariants(dname, mname):
    d, M = BASIC[dname], STRUCTURED[mname]
    M0 = M.clone()
    out = d(M)
    assert torch.equal(M, M0), "the direction mutated its input"
    assert out.shape == M.shape and out.dtype == M.dtype
    assert torch.isfinite(out).all()
    # <M, d(M)> = dual norm, both as computed and as Direction.dual_norm says.
    inner = float((M * out).sum())
    assert inner == pytest.approx(dual(dname, M), rel=1e-9, abs=1e-12)
    assert d.dual_norm(M) == pytest.approx(dual(dname, M), rel=1e-12, abs=1e-12)
    # Inside the unit ball (on its boundary unless M = 0).
    assert primal(dname, out) <= 1.0 + 1e-9
    assert d.primal_norm(out) == pytest.approx(primal(dname, out), rel=1e-12, abs=1e-14)
    # Scale invariance and transposition.
    assert torch.allclose(d(3.7 * M), out, atol=1e-12)
    assert torch.allclose(d(1e-3 * M), out, atol=1e-12)
    if M.dim() == 2:
        assert torch.allclose(d(M.t().contiguous()), out.t(), atol=1e-12)


@pytest.mark.parametrize("dname", sorted(BASIC))
def test_zero_gives_zero(dname):
    for dtype in (torch.float32, torch.float64):
        out = BASIC[dname](torch.zeros(5, 3, dtype=dtype))
        assert torch.equal(out, torch.zeros(5, 3, dtype=dtype))
    assert torch.equal(D.muon(torch.zeros(6, 4)), torch.zeros(6, 4))  # Newton-Schulz too


def test_k_clamped_to_rank():
    M = STRUCTURED["rank2of5"]
    U, s, Vt = svd(M)
    want = U[:, :2] @ Vt[:2]
    for k in (2, 3, 5, 100):
        np.testing.assert_allclose(as_np(D.fanion(M, k), M), want, atol=1e-12)
    np.testing.assert_allclose(as_np(D.fanion(M, None), M), want, atol=1e-12)
    assert D.dual_norm(Direction.fanion(4), M) == pytest.approx(s[:2].sum(), rel=1e-12)


def test_combinations():
    M = GAPPED
    f = D.combine((0.3, Direction.fanion(2)), (0.7, Direction.nsgd()))
    g = 0.3 * Direction.fanion(2) + 0.7 * Direction.nsgd()
    assert torch.equal(f(M), g(M))
    assert f.name == "0.3*fanion-2 + 0.7*nsgd"
    assert [t.kind for t in f.terms] == ["fanion", "nsgd"]
    # The dual norm of a combination is the weighted sum of dual norms (Corollary 5).
    want = 0.3 * norms.ky_fan(M, 2) + 0.7 * norms.frobenius(M)
    assert f.dual_norm(M) == pytest.approx(want, rel=1e-12)
    assert float((M * f(M)).sum()) == pytest.approx(want, rel=1e-9)
    # The named combinations are such sums.
    assert torch.allclose(D.f_fanion(M, 2, 0.3, method="exact"),
                          D.combine((0.3, Direction.fanion(2, D.top_k_options("exact"))),
                                    (0.7, Direction.nsgd()))(M), atol=1e-15)
    assert torch.equal(D.combine(Direction.sign())(M), D.sign(M))
    # alpha outside [0, 1]: allowed ("no ball").
    assert torch.isfinite(D.f_muon(M, 1.1)).all()
    # Directions are values: they pickle (they sit in optimizer param groups).
    h = pickle.loads(pickle.dumps(f))
    assert h.name == f.name and torch.equal(h(M), f(M))
    m = Direction.muon(D.polar_options("polar_express", steps=7))
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.terms[0].polar.schedule == "polar_express" and m2.terms[0].polar.steps == 7


def test_dtypes_and_compute_dtype():
    M = torch.randn(12, 8, generator=torch.Generator().manual_seed(10))
    assert D.muon(M).dtype == torch.float32
    b = D.muon(M.bfloat16())
    assert b.dtype == torch.bfloat16
    assert torch.allclose(b.float(), D.muon(M.bfloat16().float()), atol=1e-2)
    hi = D.fanion(M, 2, compute_dtype=torch.float64)
    assert hi.dtype == torch.float32
    assert torch.allclose(hi, D.fanion(M.double(), 2).float(), atol=1e-6)


def test_bad_arguments():
    M = torch.randn(4, 3)
    with pytest.raises(ValueError, match="k = 0"):
        D.fanion(M, 0)
    with pytest.raises(ValueError, match="method = 'qr'"):
        D.muon(M, method="qr")
    with pytest.raises(ValueError, match="method = 'power'"):
        D.neon(M, method="power")
    with pytest.raises(ValueError, match="p = 0.5"):
        D.schatten(M, 0.5)
    with pytest.raises(ValueError, match="alpha = nan"):
        D.f_muon(M, float("nan"))
    with pytest.raises(TypeError, match="complex"):
        D.nsgd(torch.randn(3, 3, dtype=torch.complex128))
    with pytest.raises(TypeError, match="sparse"):
        D.sign(torch.randn(3, 3).to_sparse())
    with pytest.raises(ValueError, match="rank >= 1"):
        D.muon(torch.tensor(2.0))
    with pytest.raises(TypeError, match="term 1"):
        D.combine(Direction.nsgd(), "muon")
    with pytest.raises(ValueError, match="unknown direction family"):
        D.make("adam")


def test_sign_lr_coeff_has_one_name_and_eta_stays_an_alias():
    M = torch.randn(6, 4, dtype=torch.float64)
    new = D.s_muon(M, 0.3, sign_lr_coeff=0.05, method="exact")
    torch.testing.assert_close(D.s_muon(M, 0.3, eta=0.05, method="exact"), new, rtol=0, atol=0)
    torch.testing.assert_close(D.s_muon(M, 0.3, 0.05, method="exact"), new, rtol=0, atol=0)
    with pytest.raises(TypeError, match="sign_lr_coeff or its old name eta"):
        D.s_muon(M, 0.3, sign_lr_coeff=0.05, eta=0.05)
    assert D.make("s_neon", sign_lr_coeff=0.2).terms[1].weight == pytest.approx(0.5 * 0.2)
