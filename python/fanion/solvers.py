"""The solvers behind the directions (docs/design.md §3), with their status and work counters.

Each returns its answer and a stats dict: ``status`` (``"converged"``, ``"not_converged"`` or
``"numerical_issue"``; non-convergence is reported, never raised), ``iterations``, ``matvecs``,
``passes`` (passes over the matrix; a block product counts once), ``matmuls`` and ``residual``.
"""

from . import _core
from ._checks import check_int, check_tensor
from .directions import polar_options, top_k_options

__all__ = ["polar_factor", "top_k_svd", "top_k_auto_method", "accepts_warm_start"]

_WHERE = "fanion.solvers"


def _check_2d(M):
    check_tensor(M, "M", _WHERE)
    if M.dim() != 2:
        raise ValueError(f"{_WHERE}: M must be a 2-D tensor, got shape {list(M.shape)}")
    return M


def polar_factor(M, method="newton_schulz", **options):
    """(Q, stats): the polar factor U V^T of a 2-D tensor (the Muon direction, eq. 7), or of
    each matrix of a 3-D stack [B, m, n]: Newton-Schulz runs the stack as one set of batched
    matmuls, each slice normalized by its own norms (so equal to its 2-D result up to BLAS
    rounding; with ``tol`` the stack stops when every slice meets it); exact and gram solve
    the slices one by one. Counters: a batched product counts once in ``matmuls`` and
    ``passes``, ``matvecs`` counts every slice.
    ``method``: newton_schulz (``schedule``, ``steps``, ``tol``, ``dtype``), exact, gram, or a
    Newton-Schulz schedule name (quintic, cubic, polar_express, polar_express_exact)."""
    check_tensor(M, "M", _WHERE)
    if M.dim() not in (2, 3):
        raise ValueError(f"{_WHERE}: M must be a 2-D tensor or a 3-D stack [B, m, n], got "
                         f"shape {list(M.shape)}")
    return _core.polar_factor(M, polar_options(method, **options))


def top_k_svd(M, k, method="auto", warm_start=None, **options):
    """(U, S, V, stats): the top-k singular triplets of a 2-D tensor (k clamped to the numerical
    rank). ``warm_start`` (n x k') is a guess of the right singular basis for the iterative
    methods (lanczos, block_krylov, subspace). Options: ``tol``, ``max_passes``,
    ``block_size``, ``max_basis``, ``seed``."""
    check_int(k, "k", _WHERE, low=1)
    if warm_start is not None:
        check_tensor(warm_start, "warm_start", _WHERE)
    return _core.top_k_svd(_check_2d(M), int(k), top_k_options(method, **options), warm_start)


def top_k_auto_method(m, n, k):
    """The method ``"auto"`` resolves to for an m x n matrix and rank k."""
    return _core.top_k_auto_method(int(m), int(n), int(k))


def accepts_warm_start(method):
    """Whether a top-k method uses ``warm_start``."""
    return _core.accepts_warm_start(method)
