"""fanion.norms against NumPy."""
import math

import numpy as np
import pytest
import torch

from fanion import norms


def matrices():
    gen = torch.Generator().manual_seed(3)
    yield torch.randn(7, 5, generator=gen, dtype=torch.float64)
    yield torch.randn(4, 9, generator=gen, dtype=torch.float64)
    yield torch.randn(6, 2, 3, generator=gen, dtype=torch.float64)  # seen as 6 x 6
    yield torch.randn(8, generator=gen, dtype=torch.float64)        # seen as 1 x 8
    u = torch.randn(6, 1, generator=gen, dtype=torch.float64)
    yield u @ torch.randn(1, 5, generator=gen, dtype=torch.float64)  # rank one


def view(M):
    A = M.numpy()
    if A.ndim == 1:
        return A.reshape(1, -1)
    return A.reshape(A.shape[0], -1)


@pytest.mark.parametrize("M", list(matrices()), ids=lambda M: "x".join(map(str, M.shape)))
def test_norms_match_numpy(M):
    A = view(M)
    s = np.linalg.svd(A, compute_uv=False)
    assert norms.frobenius(M) == pytest.approx(np.linalg.norm(A, "fro"), rel=1e-12)
    assert norms.spectral(M) == pytest.approx(np.linalg.norm(A, 2), rel=1e-12)
    assert norms.nuclear(M) == pytest.approx(np.linalg.norm(A, "nuc"), rel=1e-12)
    assert norms.chebyshev(M) == pytest.approx(np.abs(A).max(), rel=1e-15)
    assert norms.l1(M) == pytest.approx(np.abs(A).sum(), rel=1e-12)
    for k in (1, 2, 3, 50):
        assert norms.ky_fan(M, k) == pytest.approx(s[:k].sum(), rel=1e-12)
        assert norms.ky_fan_dual(M, k) == pytest.approx(max(s.sum() / k, s[0]), rel=1e-12)
    for p in (1, 1.5, 2, 3, 10):
        assert norms.schatten(M, p) == pytest.approx((s ** p).sum() ** (1 / p), rel=1e-10)
    assert norms.schatten(M, math.inf) == pytest.approx(s[0], rel=1e-12)
    np.testing.assert_allclose(norms.singular_values(M).numpy(), s, rtol=1e-12, atol=1e-14)


def test_norm_relations():
    M = torch.randn(9, 6, dtype=torch.float64)
    assert norms.schatten(M, 1) == pytest.approx(norms.nuclear(M), rel=1e-12)
    assert norms.schatten(M, 2) == pytest.approx(norms.frobenius(M), rel=1e-12)
    assert norms.ky_fan(M, 1) == pytest.approx(norms.spectral(M), rel=1e-12)
    assert norms.ky_fan(M, 6) == pytest.approx(norms.nuclear(M), rel=1e-12)
    # Lemma 2: the dual Ky Fan k-norm interpolates between nuclear (k = 1) and spectral.
    assert norms.ky_fan_dual(M, 1) == pytest.approx(norms.nuclear(M), rel=1e-12)
    assert norms.ky_fan_dual(M, 6) == pytest.approx(max(norms.nuclear(M) / 6,
                                                         norms.spectral(M)), rel=1e-12)


def test_zero_and_float32():
    assert norms.spectral(torch.zeros(3, 4)) == 0.0
    assert norms.schatten(torch.zeros(3, 4), 3) == 0.0
    M = torch.randn(5, 4)
    assert isinstance(norms.nuclear(M), float)
    assert norms.nuclear(M) == pytest.approx(norms.nuclear(M.double()), rel=1e-12)


def test_bad_arguments():
    M = torch.randn(3, 3)
    with pytest.raises(ValueError, match="k = 0"):
        norms.ky_fan(M, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        norms.ky_fan(M, 1.5)
    with pytest.raises(ValueError, match="p = 0.5"):
        norms.schatten(M, 0.5)
    with pytest.raises(TypeError, match="complex"):
        norms.frobenius(torch.randn(3, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="rank >= 1"):
        norms.spectral(torch.tensor(1.0))
    with pytest.raises(TypeError, match="torch.Tensor"):
        norms.nuclear(np.ones((3, 3)))


def test_f_fanion_primal_norms_against_their_dual_characterization():
    """||y|| = max_w <y, w> / (alpha ||w||_KF-k + (1 - alpha) ||w||_2): a dense circle of
    directions w gives the maximum to ~1e-10 for two singular values."""
    t = torch.linspace(0, math.pi / 2, 100001, dtype=torch.float64)
    W = torch.stack([t.cos(), t.sin()], 1)
    for y in ([1.0, 0.3], [2.0, 1.9]):
        M = torch.diag(torch.tensor(y, dtype=torch.float64))
        yv = torch.tensor(y, dtype=torch.float64)
        for alpha in (0.2, 0.7):
            for k, ours in ((2, norms.f_star_dual(M, alpha)), (1, norms.f2_dual(M, alpha))):
                kf = W.abs().sort(1, descending=True).values[:, :k].sum(1)
                brute = float(((W @ yv) / (alpha * kf + (1 - alpha) * W.norm(dim=1))).max())
                assert abs(ours - brute) <= 1e-8 * brute, (y, alpha, k, ours, brute)
    M = torch.randn(6, 4, dtype=torch.float64)
    assert norms.f_star_dual(M, 1.0) == pytest.approx(norms.spectral(M), rel=1e-12)
    assert norms.f2_dual(M, 1.0) == pytest.approx(norms.nuclear(M), rel=1e-12)
    assert norms.f_fanion_primal(M, 2, 0.0) == pytest.approx(norms.frobenius(M), rel=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        norms.f_fanion_primal(M, 2, 1.5)


def test_plot_balls_draws_the_three_figures(tmp_path):
    import os
    import subprocess
    import sys

    pytest.importorskip("matplotlib")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run([sys.executable, os.path.join(root, "scripts", "plot_balls.py"),
                        str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for name in ("balls_f_duals.png", "balls_ky_fan_2.png", "balls_lmo_cnn.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
