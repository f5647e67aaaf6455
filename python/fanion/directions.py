r"""Steepest directions d(M) = argmax_{||D|| <= 1} <M, D> (docs/design.md §1; the paper's LMO
is -d).

With M = U diag(s) V^T (the matrix view of M: conv weights (out, in, kh, kw) are seen as
(out, in*kh*kw), vectors as 1 x n), and 1/p + 1/q = 1 for Schatten-p:

======== ========================= ========================================== ==============
function primal norm               d(M)                                       <M, d(M)>
======== ========================= ========================================== ==============
nsgd     Frobenius                 M / ||M||_F                      (eq. 6)   ||M||_F
sign     Chebyshev (max |entry|)   sign(M)                          (eq. 8)   sum |M_ij|
muon     spectral                  U V^T                            (eq. 7)   ||M||_*
neon     nuclear                   u_1 v_1^T                        (eq. 9)   s_1
fanion   max(||.||_* / k, ||.||_2) sum_{i<=k} u_i v_i^T             (eq. 10)  sum_{i<=k} s_i
schatten Schatten-p                U diag(s^(q-1)) V^T / ||s||_q^(q-1)        ||s||_q
======== ========================= ========================================== ==============

Weighted sums of directions are directions (paper Lemma 3/4, Corollary 5): the unit ball is the
Minkowski sum of the weighted balls and the dual norm is the weighted sum of dual norms. So

- ``f_fanion(M, k, alpha)`` = alpha * fanion_k(M) + (1 - alpha) * M / ||M||_F      (eq. 11)
- ``s_fanion(M, k, alpha, sign_lr_coeff)`` = alpha * fanion_k(M) + (1 - alpha) * sign_lr_coeff *
  sign(M)  (eq. 13; the paper's and earlier fanions' ``eta`` is still accepted as a keyword)

and any combination can be built from :class:`Direction` values with ``+`` and ``*``::

    d = 0.3 * Direction.fanion(16) + 0.7 * Direction.nsgd()
    D = d(M)                  # the direction
    d.dual_norm(M)            # <M, D> in exact arithmetic

Any finite weight is accepted; a negative weight, or alpha outside [0, 1] (the paper's
alpha = 1.1 "no ball" runs), is no longer a norm ball.

Every function returns a tensor of M's shape and dtype, computed in ``compute_dtype`` (default:
float64 stays float64, everything else is computed in float32), never mutates M, returns 0 for
M = 0, and satisfies d(cM) = d(M) for c > 0 and d(M^T) = d(M)^T. The rank k is clamped to the
numerical rank of M (singular values below 1e-12 * s_1, or below max(m, n) * eps of the dtype,
count as zero), so that the direction is unique.

Solver choices: ``muon(M, method=...)`` takes ``"newton_schulz"`` (default: Keller Jordan's
quintic, 5 steps, an approximation whose singular values land in roughly [0.7, 1.2]),
``"exact"`` (SVD in float64), ``"gram"`` (Gram matrix + symmetric eigensolver in float64), or a
Newton-Schulz schedule name (``"quintic"``, ``"cubic"``, ``"polar_express"``,
``"polar_express_exact"``). ``neon``/``fanion(M, k, method=...)`` take ``"auto"`` (chosen by
shape and k: dense for small matrices, Gram for large k, block Krylov otherwise), ``"exact"``,
``"gram"``, ``"lanczos"``, ``"block_krylov"``, ``"subspace"``.
"""

from . import _core
from ._checks import check_int, check_real, check_tensor

Direction = _core.Direction
DirectionTerm = _core.DirectionTerm
PolarOptions = _core.PolarOptions
TopKOptions = _core.TopKOptions
#: k meaning min(m, n): F-/S-Fanion with this k are F-/S-Muon (computed as a polar factor).
FULL_RANK = _core.FULL_RANK

POLAR_METHODS = tuple(_core.polar_methods())      # newton_schulz, exact, gram
SCHEDULES = tuple(_core.schedule_names())
TOP_K_METHODS = tuple(_core.top_k_methods())       # auto, exact, gram, lanczos, ...

__all__ = [
    "Direction", "DirectionTerm", "PolarOptions", "TopKOptions", "FULL_RANK",
    "nsgd", "sign", "muon", "neon", "fanion", "schatten",
    "f_fanion", "s_fanion", "f_muon", "f_neon", "s_muon", "s_neon",
    "combine", "dual_norm", "polar_options", "top_k_options", "make",
]

_WHERE = "fanion.directions"


def polar_options(method="newton_schulz", *, schedule="quintic", steps=5, tol=0.0, dtype=None,
                  gram_normalization=None):
    """:class:`PolarOptions` for the Muon term. ``method`` may also be a schedule name.
    ``gram_normalization`` (None: the C++ default) starts Newton-Schulz from
    X / ||X X^T||_F^(1/2) instead of X / ||X||_F."""
    if isinstance(method, str) and method in SCHEDULES:
        method, schedule = "newton_schulz", method
    if not isinstance(method, str) or method not in POLAR_METHODS:
        raise ValueError(f"{_WHERE}: invalid method = {method!r} for the polar factor (known: "
                         f"{', '.join(POLAR_METHODS + SCHEDULES)})")
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"{_WHERE}: invalid schedule = {schedule!r} (known: "
                         f"{', '.join(SCHEDULES)})")
    check_int(steps, "steps", _WHERE, low=0)
    check_real(tol, "tol", _WHERE, low=0.0)
    o = PolarOptions(method=method, schedule=schedule, steps=int(steps), tol=float(tol),
                     dtype=dtype)
    if gram_normalization is not None:
        o.gram_normalization = bool(gram_normalization)
    return o


def top_k_options(method="auto", *, tol=1e-6, max_passes=1000, block_size=0, max_basis=0,
                  seed=0):
    """:class:`TopKOptions` for a Neon / Fanion-k term."""
    if not isinstance(method, str) or method not in TOP_K_METHODS:
        raise ValueError(f"{_WHERE}: invalid method = {method!r} for the top-k solver (known: "
                         f"{', '.join(TOP_K_METHODS)})")
    check_real(tol, "tol", _WHERE, low=0.0)
    check_int(max_passes, "max_passes", _WHERE, low=1)
    check_int(block_size, "block_size", _WHERE, low=0)
    check_int(max_basis, "max_basis", _WHERE, low=0)
    check_int(seed, "seed", _WHERE, low=0)
    return TopKOptions(method=method, tol=float(tol), max_passes=int(max_passes),
                       block_size=int(block_size), max_basis=int(max_basis), seed=int(seed))


def _check_k(k):
    if k is None:
        return FULL_RANK
    return check_int(k, "k", _WHERE, low=1)


def _sign_lr_coeff(sign_lr_coeff, eta, where):
    """``eta``: the old name of ``sign_lr_coeff`` (one name per concept since 0.1), kept as an
    alias."""
    if eta is not None:
        if sign_lr_coeff is not None:
            raise TypeError(f"{where}: give sign_lr_coeff or its old name eta, not both")
        sign_lr_coeff = eta
    return 1.0 if sign_lr_coeff is None else sign_lr_coeff


def make(family, *, k=None, alpha=0.5, sign_lr_coeff=None, p=2.0, method=None, eta=None,
         **solver):
    """A :class:`Direction` by family name: nsgd, sign, muon, neon, fanion, f_fanion, s_fanion,
    f_muon, f_neon, s_muon, s_neon, schatten. ``k=None`` means full rank (Fanion-min(m,n) is
    Muon). ``method`` and ``solver`` keywords go to :func:`polar_options` for Muon terms and
    :func:`top_k_options` for Neon/Fanion terms. ``sign_lr_coeff`` (default 1; old name
    ``eta``) weighs the sign term of the S- families."""
    sign_lr_coeff = _sign_lr_coeff(sign_lr_coeff, eta, _WHERE)
    if not isinstance(family, str):
        raise TypeError(f"{_WHERE}: family must be a string, got {family!r}")
    fam = family.lower().replace("-", "_")
    if fam in ("sign", "signsgd"):
        return Direction.sign()
    if fam == "nsgd":
        return Direction.nsgd()
    if fam == "schatten":
        check_real(p, "p", _WHERE, low=1.0, finite=False)
        return Direction.schatten(float(p))
    if fam in ("muon", "f_muon", "s_muon"):
        k = None
    elif fam in ("neon", "f_neon", "s_neon"):
        k = 1
    elif fam in ("fanion", "f_fanion", "s_fanion"):
        k = _check_k(k)
        if k == FULL_RANK:
            k = None
    else:
        raise ValueError(f"{_WHERE}: unknown direction family {family!r} (known: nsgd, sign, "
                         "muon, neon, fanion, f_fanion, s_fanion, f_muon, f_neon, s_muon, "
                         "s_neon, schatten)")
    if k is None:
        low_rank = Direction.muon(polar_options(method or "newton_schulz", **solver))
    else:
        low_rank = Direction.fanion(k, top_k_options(method or "auto", **solver))
    if fam in ("muon", "neon", "fanion"):
        return low_rank
    alpha = check_real(alpha, "alpha", _WHERE)
    if fam.startswith("f_"):
        return alpha * low_rank + (1.0 - alpha) * Direction.nsgd()
    coeff = check_real(sign_lr_coeff, "sign_lr_coeff", _WHERE)
    # Same arithmetic as fanion::s_fanion: the sign weight is ((1 - alpha) * sign_lr_coeff).
    return alpha * low_rank + ((1.0 - alpha) * coeff) * Direction.sign()


def _apply(direction, M, compute_dtype):
    check_tensor(M, "M", _WHERE)
    return direction(M, compute_dtype)


def nsgd(M, *, compute_dtype=None):
    """M / ||M||_F (Frobenius ball; NSGD, paper eq. 6); 0 for M = 0."""
    return _apply(Direction.nsgd(), M, compute_dtype)


def sign(M, *, compute_dtype=None):
    """sign(M) elementwise (Chebyshev ball; SignSGD, paper eq. 8)."""
    return _apply(Direction.sign(), M, compute_dtype)


def muon(M, method="newton_schulz", *, compute_dtype=None, **solver):
    """U V^T (spectral ball; Muon, paper eq. 7). ``method``: newton_schulz (``schedule``,
    ``steps``, ``tol``, ``dtype``), exact, or a schedule name."""
    return _apply(make("muon", method=method, **solver), M, compute_dtype)


def neon(M, method="auto", *, compute_dtype=None, **solver):
    """u_1 v_1^T (nuclear ball; Neon, paper eq. 9)."""
    return _apply(make("neon", method=method, **solver), M, compute_dtype)


def fanion(M, k, method="auto", *, compute_dtype=None, **solver):
    """sum_{i<=k} u_i v_i^T (ball of the dual Ky Fan k-norm; Fanion-k, paper eq. 10). ``k=None``
    means min(m, n), computed with the top-k solver (use :func:`muon` for Newton-Schulz)."""
    k = _check_k(k)
    return _apply(Direction.fanion(k, top_k_options(method, **solver)), M, compute_dtype)


def schatten(M, p, *, compute_dtype=None):
    """U diag(s^(q-1)) V^T / ||s||_q^(q-1) with 1/p + 1/q = 1 (Schatten-p ball, p in [1, inf]):
    Neon at p = 1, NSGD at p = 2, Muon at p = inf (exact SVD)."""
    return _apply(make("schatten", p=p), M, compute_dtype)


def f_fanion(M, k, alpha, method=None, *, compute_dtype=None, **solver):
    """alpha * fanion_k(M) + (1 - alpha) * M / ||M||_F (F-Fanion-k, paper eq. 11). ``k=None``:
    F-Muon (the Muon term by Newton-Schulz unless ``method="exact"``)."""
    return _apply(make("f_fanion", k=k, alpha=alpha, method=method, **solver), M, compute_dtype)


def s_fanion(M, k, alpha, sign_lr_coeff=None, method=None, *, compute_dtype=None, eta=None,
             **solver):
    """alpha * fanion_k(M) + (1 - alpha) * sign_lr_coeff * sign(M) (S-Fanion-k, paper eq. 13;
    ``eta``: the old name of sign_lr_coeff). ``k=None``: S-Muon."""
    coeff = _sign_lr_coeff(sign_lr_coeff, eta, _WHERE + ".s_fanion")
    return _apply(make("s_fanion", k=k, alpha=alpha, sign_lr_coeff=coeff, method=method,
                       **solver), M, compute_dtype)


def f_muon(M, alpha, method=None, *, compute_dtype=None, **solver):
    """alpha * U V^T + (1 - alpha) * M / ||M||_F (F-Muon, eq. 11 with k = min(m, n))."""
    return f_fanion(M, None, alpha, method, compute_dtype=compute_dtype, **solver)


def f_neon(M, alpha, method=None, *, compute_dtype=None, **solver):
    """alpha * u_1 v_1^T + (1 - alpha) * M / ||M||_F (F-Neon, eq. 11 with k = 1)."""
    return f_fanion(M, 1, alpha, method, compute_dtype=compute_dtype, **solver)


def s_muon(M, alpha, sign_lr_coeff=None, method=None, *, compute_dtype=None, eta=None,
           **solver):
    """alpha * U V^T + (1 - alpha) * sign_lr_coeff * sign(M) (S-Muon, eq. 13 with k = min(m, n))."""
    coeff = _sign_lr_coeff(sign_lr_coeff, eta, _WHERE + ".s_muon")
    return s_fanion(M, None, alpha, coeff, method, compute_dtype=compute_dtype, **solver)


def s_neon(M, alpha, sign_lr_coeff=None, method=None, *, compute_dtype=None, eta=None,
           **solver):
    """alpha * u_1 v_1^T + (1 - alpha) * sign_lr_coeff * sign(M) (S-Neon, eq. 13 with k = 1)."""
    coeff = _sign_lr_coeff(sign_lr_coeff, eta, _WHERE + ".s_neon")
    return s_fanion(M, 1, alpha, coeff, method, compute_dtype=compute_dtype, **solver)


def combine(*terms):
    """A weighted sum of directions: ``combine((0.5, Direction.muon()), (0.5, Direction.nsgd()))``
    (plain :class:`Direction` arguments get weight 1). Equivalent to ``+`` and ``*``."""
    if not terms:
        raise ValueError(f"{_WHERE}.combine: needs at least one (weight, Direction) pair")
    out = None
    for i, t in enumerate(terms):
        if isinstance(t, Direction):
            w, d = 1.0, t
        elif isinstance(t, (tuple, list)) and len(t) == 2 and isinstance(t[1], Direction):
            w, d = check_real(t[0], f"weight of term {i}", _WHERE + ".combine"), t[1]
        else:
            raise TypeError(f"{_WHERE}.combine: term {i} must be a Direction or a "
                            f"(weight, Direction) pair, got {t!r}")
        term = d if w == 1.0 else w * d
        out = term if out is None else out + term
    return out


def dual_norm(direction, M):
    """<M, d(M)> in exact arithmetic: the weighted sum of the terms' dual norms (a float)."""
    if not isinstance(direction, Direction):
        raise TypeError(f"{_WHERE}.dual_norm: direction must be a Direction, got {direction!r}")
    check_tensor(M, "M", _WHERE)
    return direction.dual_norm(M)
