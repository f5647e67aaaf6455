"""The batched polar factor: fanion.solvers.polar_factor on a [B, m, n] stack.

Tolerance: each slice of the batched result must equal the 2-D polar factor of that slice to
1e-5 relative (Frobenius) in float32 and 1e-12 in float64. The slices are normalized by their
own norms and go through the same products, so only the rounding of the products may differ:
none where ATen's batched product calls the BLAS GEMM per slice, but for tiny matrices
(m * m * n < 400) it uses its own loop, and the Newton-Schulz steps amplify that rounding to
~1e-6 in float32 -- the size of the float32 rounding of the 2-D result itself (its distance to
the same iteration in float64 is 3e-7 to 3e-6 here).
"""
import pytest
import torch

from fanion import solvers

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}
SHAPES = [(4, 16, 16), (3, 7, 30), (5, 40, 9)]  # square, wide, tall
NEWTON_SCHULZ = [dict(method="newton_schulz"), dict(method="polar_express_exact", steps=10),
                 dict(method="cubic", steps=30), dict(method="newton_schulz",
                                                      gram_normalization=False)]


def stack(shape, dtype, zero=1, seed=0):
    """Slices of different scales; slice `zero` is the zero matrix."""
    gen = torch.Generator().manual_seed(seed)
    S = torch.randn(*shape, generator=gen, dtype=torch.float64)
    S = S * torch.arange(1, shape[0] + 1, dtype=torch.float64).view(-1, 1, 1)
    if zero is not None:
        S[zero] = 0
    return S.to(dtype)


def rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("options", NEWTON_SCHULZ, ids=lambda o: "-".join(map(str, o.values())))
def test_each_slice_equals_the_2d_polar_factor(dtype, shape, options):
    S = stack(shape, dtype)
    before = S.clone()
    Q, stats = solvers.polar_factor(S, **options)
    assert Q.shape == S.shape and Q.dtype == dtype
    assert torch.equal(S, before), "polar_factor mutated its input"
    assert stats["status"] == "converged"
    assert float(Q[1].abs().max()) == 0.0  # the zero slice
    for b in range(shape[0]):
        if b == 1:
            continue
        q, one = solvers.polar_factor(S[b], **options)
        assert rel(Q[b], q) <= TOL[dtype], f"slice {b}: {rel(Q[b], q)}"
        # A batched product counts once; matvecs count every slice.
        assert stats["matmuls"] == one["matmuls"] and stats["iterations"] == one["iterations"]
        assert stats["matvecs"] == one["matvecs"] * shape[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", ["exact", "gram"])
def test_exact_methods_solve_every_slice(dtype, method):
    S = stack((3, 12, 20), dtype, zero=2)
    Q, stats = solvers.polar_factor(S, method)
    assert Q.shape == S.shape and Q.dtype == dtype
    for b in range(2):
        U, _, Vh = torch.linalg.svd(S[b].double(), full_matrices=False)
        assert rel(Q[b].double(), U @ Vh) <= (1e-10 if dtype == torch.float64 else 1e-5)
    assert float(Q[2].abs().max()) == 0.0
    assert stats["passes"] == 3


def test_early_stop_waits_for_every_slice():
    S = stack((3, 20, 12), torch.float64, zero=2)
    S[1] = S[1] @ torch.diag(torch.logspace(0, -2, 12, dtype=torch.float64))  # slower to converge
    options = dict(method="cubic", steps=200, tol=1e-12)
    slowest = max(solvers.polar_factor(S[b], **options)[1]["iterations"] for b in range(2))
    Q, stats = solvers.polar_factor(S, **options)
    assert stats["status"] == "converged" and stats["iterations"] == slowest
    assert stats["residual"] <= 1e-12
    for b in range(2):
        assert rel(Q[b], solvers.polar_factor(S[b], "exact")[0]) <= 1e-9
    assert float(Q[2].abs().max()) == 0.0


def test_non_contiguous_and_empty_stacks():
    S = stack((3, 9, 14), torch.float64, zero=None)
    T = S.transpose(1, 2)  # a tall, non-contiguous stack
    Q, _ = solvers.polar_factor(T)
    for b in range(3):
        assert rel(Q[b], solvers.polar_factor(T[b])[0]) <= 1e-12
        assert rel(Q[b], solvers.polar_factor(S[b])[0].T) <= 1e-12  # d(M^T) = d(M)^T
    assert solvers.polar_factor(torch.zeros(0, 4, 5))[0].shape == (0, 4, 5)
    assert solvers.polar_factor(torch.zeros(2, 0, 5))[0].shape == (2, 0, 5)


def test_other_ranks_are_rejected():
    for shape in [(5,), (2, 3, 4, 5)]:
        with pytest.raises(ValueError, match="2-D tensor or a 3-D stack"):
            solvers.polar_factor(torch.zeros(shape))
