r"""Matrix norms of the paper (§2-§4), as Python floats computed in float64.

Every function accepts a real tensor of rank >= 1 and measures its matrix view: conv weights
(out, in, kh, kw) are seen as (out, in*kh*kw), vectors as 1 x n. With s the singular values:

- ``frobenius(M)`` = sqrt(sum M_ij^2)                  (dual of itself; NSGD)
- ``spectral(M)`` = s_1                               (Muon's ball; dual: nuclear)
- ``nuclear(M)`` = sum_i s_i                          (Neon's ball; dual: spectral)
- ``ky_fan(M, k)`` = sum_{i<=k} s_i                   (k clamped to min(m, n))
- ``ky_fan_dual(M, k)`` = max(||M||_* / k, ||M||_2)   (Fanion-k's ball, paper Lemma 2)
- ``chebyshev(M)`` = max_ij |M_ij|                    (SignSGD's ball; dual: l1)
- ``l1(M)`` = sum_ij |M_ij|                           (entrywise)
- ``schatten(M, p)`` = ||s||_p, p in [1, inf]
- ``f_fanion_primal(M, k, alpha)``: the norm of F-Fanion-k's ball alpha B_{KF-k dual} +
  (1 - alpha) B_F (Lemma 3), dual of alpha ||.||_KF-k + (1 - alpha) ||.||_F; no closed form
  (a bisection on the singular values); ``f_star_dual(M, alpha)`` (F-Muon's, the paper's eq. 16)
  and ``f2_dual(M, alpha)`` (F-Neon's, eq. 17) are its two extremes
"""
import math

from . import _core
from ._checks import check_int, check_real, check_tensor

__all__ = ["frobenius", "spectral", "nuclear", "ky_fan", "ky_fan_dual", "chebyshev", "l1",
           "schatten", "singular_values", "f_fanion_primal", "f_star_dual", "f2_dual"]

_WHERE = "fanion.norms"


def frobenius(M):
    """sqrt(sum_ij M_ij^2)."""
    return _core.norms.frobenius(check_tensor(M, "M", _WHERE))


def spectral(M):
    """The largest singular value s_1."""
    return _core.norms.spectral(check_tensor(M, "M", _WHERE))


def nuclear(M):
    """The sum of the singular values."""
    return _core.norms.nuclear(check_tensor(M, "M", _WHERE))


def ky_fan(M, k):
    """Ky Fan k-norm: the sum of the k largest singular values (k clamped to min(m, n))."""
    check_int(k, "k", _WHERE, low=1)
    return _core.norms.ky_fan(check_tensor(M, "M", _WHERE), int(k))


def ky_fan_dual(M, k):
    """Dual of the Ky Fan k-norm: max(||M||_* / k, ||M||_2), the Fanion-k primal norm."""
    check_int(k, "k", _WHERE, low=1)
    return _core.norms.ky_fan_dual(check_tensor(M, "M", _WHERE), int(k))


def chebyshev(M):
    """max_ij |M_ij|."""
    return _core.norms.chebyshev(check_tensor(M, "M", _WHERE))


def l1(M):
    """sum_ij |M_ij| (entrywise, not the induced 1-norm)."""
    return _core.norms.l1(check_tensor(M, "M", _WHERE))


def schatten(M, p):
    """||s||_p for p in [1, inf]; p = inf is the spectral norm."""
    check_real(p, "p", _WHERE, low=1.0, finite=False)
    return _core.norms.schatten(check_tensor(M, "M", _WHERE), float(p) if not math.isinf(p)
                                else math.inf)


def f_fanion_primal(M, k, alpha):
    """min t s.t. ||Z||_{KF-k dual} <= alpha t, ||M - Z||_F <= (1 - alpha) t: the norm whose unit
    ball F-Fanion-k steps in (alpha in [0, 1]; 0: Frobenius, 1: ky_fan_dual(M, k))."""
    check_int(k, "k", _WHERE, low=1)
    alpha = check_real(alpha, "alpha", _WHERE, low=0.0, high=1.0)
    return _core.norms.f_fanion_primal(check_tensor(M, "M", _WHERE), int(k), float(alpha))


def _rank_bound(M):
    shape = M.shape if M.dim() >= 2 else (1, M.numel())
    return max(1, min(shape[0], math.prod(shape[1:])))


def f_star_dual(M, alpha):
    """The paper's ||M||_{F*}^dagger (eq. 16): F-Muon's ball, alpha B_2 + (1 - alpha) B_F."""
    check_tensor(M, "M", _WHERE)
    return f_fanion_primal(M, _rank_bound(M), alpha)


def f2_dual(M, alpha):
    """The paper's ||M||_{F2}^dagger (eq. 17): F-Neon's ball, alpha B_* + (1 - alpha) B_F."""
    return f_fanion_primal(M, 1, alpha)


def singular_values(M):
    """Singular values of the matrix view, descending, float64 tensor."""
    return _core.norms.singular_values(check_tensor(M, "M", _WHERE))
