r"""torch.optim optimizers of the Fanion family, backed by the C++ core (docs/design.md
§1-§2, §4).

Every optimizer here performs, for each matrix parameter X (conv weights are seen as
(out, in*kh*kw)) with gradient g, the step of the paper's eq. 4 with the LMO written as -d::

    B <- beta * B + g                 (momentum buffer; PyTorch SGD / Muon form, the default)
    M <- g + beta * B                 (nesterov=True)  |  M <- B  (nesterov=False)
    X <- X * (1 - lr * weight_decay) - lr * scale(m, n) * d(M)

where d(M) = argmax_{||D|| <= 1} <M, D> is the steepest direction of the optimizer's norm
(:mod:`fanion.directions`): NSGD (eq. 6), Muon (eq. 7), SignSGD (eq. 8), Neon (eq. 9),
Fanion-k (eq. 10), F-Fanion-k (eq. 11), S-Fanion-k (eq. 13). ``momentum_kind="nesterov_eq4"``
uses the paper's eq. 4 literally (B <- beta * B + (1 - beta) * g, M = g + beta * B),
``"nesterov_ema"`` torch.optim.Muon's form (B <- beta * B + (1 - beta) * g,
M = (1 - beta) * g + beta * B), ``"heavy_ball"`` M = B, ``"none"`` M = g. ``shape_scale`` is
``"none"`` (1), ``"muon"`` (sqrt(max(1, m/n)), Keller Jordan's Muon), ``"spectral"``
(sqrt(m/n)) or ``"match_rms_adamw"`` (0.2 * sqrt(max(m, n))). ``normalize_weights=True``
rescales X to Frobenius norm sqrt(rows) before each update (the paper's CIFAR-10 airbench runs).

Parameters that are not matrices (rank < 2: biases, gains), and every parameter of a group with
``use_adamw=True`` (embeddings, heads: the user's choice, as with Muon), are updated by a built-in
AdamW (decoupled weight decay, bias correction) with ``adamw_lr`` (``lr`` in use_adamw groups,
so schedulers reach it), ``adamw_betas``, ``adamw_eps``, ``adamw_weight_decay``. With
``adamw_for_non_matrix=False`` such parameters are rejected with an error naming them.

The arithmetic is the C++ ``fanion::optim::NormOptimizer``'s, operation for operation: the same
parameters, gradients and options give the same steps (tests/python/test_parity.py).

Bad input (docs/design.md §5): a NaN/Inf gradient refuses the whole step with a ValueError
naming the parameter and changes nothing (``on_nonfinite="skip"`` instead leaves that parameter
and its state untouched and records it in ``optimizer.last_skipped``); sparse gradients and
complex parameters raise TypeError; bad options raise ValueError/TypeError naming the option and
value. Parameters may be given as ``model.named_parameters()`` so that errors use their names.

Distributed: with ``torch.nn.parallel.DistributedDataParallel`` every optimizer works as is
(each rank runs the same replicated step). ``distributed=True`` (default process group) or
``process_group=pg`` turns on the sharded mode of :mod:`fanion.distributed`: each rank computes
the expensive directions (polar factors, top-k subspaces) of its share of the matrices, balanced
by cost (its same-shape Muon matrices as one batched polar factor), and the results are
all-gathered (for Fanion-k the factors U, V, not the m x n matrix), so that every rank applies
the same update. The sharded mode expects the same gradients on every rank (as after DDP's
all-reduce) and checks, at each step, that all ranks hold the same parameter list, failing with
a clear error instead of hanging.
"""
import re
import warnings

import torch

from . import _core
from . import directions as _dirs
from . import _step
from . import dtensor as _dt
from ._checks import (check_bool, check_choice, check_dtype, check_int, check_real)

__all__ = ["NormOptimizer", "Muon", "Neon", "Fanion", "FMuon", "FNeon", "FFanion", "SMuon",
           "SNeon", "SFanion", "NSGD", "SignSGD"]

MOMENTUM_KINDS = tuple(_core.momentum_kinds())  # none, heavy_ball, nesterov, nesterov_eq4, ..._ema
NS_NORMALIZATIONS = ("gram", "frobenius")
SHAPE_SCALES = ("none", "muon", "spectral", "match_rms_adamw")
NONFINITE_POLICIES = ("error", "skip")
# Names that nn.Embedding weights usually have (wte, wpe, embed_tokens, tok_embeddings, ...):
# given to a matrix direction they get a warning (a lookup table is not a linear map's matrix).
_EMBEDDING_NAME = re.compile(r"(^|\.)(wte|wpe|\w*embed\w*|emb)\.weight$")
# Options of some family; given to an optimizer that lacks them, they are a mistake.
_FAMILY_KEYS = {"direction", "k", "alpha", "sign_lr_coeff", "method", "ns_steps", "ns_schedule",
                "ns_normalization", "solver_tol", "max_passes", "seed"}

# Options every group has, with their defaults (the C++ NormOptimizerOptions defaults).
_COMMON_DEFAULTS = dict(
    lr=0.02, momentum=0.95, nesterov=True, momentum_kind=None, weight_decay=0.0,
    shape_scale="none", normalize_weights=False, compute_dtype=None, on_nonfinite="error",
    batched=False, use_adamw=False, adamw_for_non_matrix=True, adamw_lr=3e-4, adamw_beta1=0.9,
    adamw_beta2=0.95, adamw_eps=1e-8, adamw_weight_decay=0.0,
)


_CPU_DTYPES = {}


def _cpu_computes_in(dtype):
    """Whether this torch's CPU kernels do what a direction needs in `dtype` (torch 1.13 has
    no float16 matmul or clamp on the CPU). Asked once per dtype."""
    if dtype not in _CPU_DTYPES:
        try:
            a = torch.ones(2, 2, dtype=dtype)
            (a @ a).clamp_min(1.0).norm()
            _CPU_DTYPES[dtype] = True
        except RuntimeError:
            _CPU_DTYPES[dtype] = False
    return _CPU_DTYPES[dtype]


# Group options added after the first release, with the value that reproduces the earlier
# behaviour: a state dict saved before them loads with these.
_ADDED_LATER = {"batched": False}


class NormOptimizer(torch.optim.Optimizer):
    r"""The Fanion-family optimizer for any :class:`fanion.directions.Direction`.

    Step (paper eq. 4, LMO = -d; PyTorch/Muon momentum by default)::

        B <- beta B + g,   M <- g + beta B   (nesterov)   or   M <- B   (heavy ball)
        X <- X (1 - lr wd) - lr scale(m, n) d(M)

    ``NormOptimizer(params, direction=0.3 * Direction.fanion(4) + 0.7 * Direction.nsgd())``
    runs any combination; the named subclasses (:class:`Muon`, :class:`FMuon`, ...) build the
    direction from their own options (``k``, ``alpha``, ``sign_lr_coeff``, solver options), which
    live in the param groups like ``lr`` so that each group may have its own and schedulers may
    change them.

    Args (all but ``params``, ``process_group``, ``distributed`` and ``timeout`` are per-group
    options, stored in ``param_groups``):
        params: tensors, ``(name, tensor)`` pairs (``model.named_parameters()``), or dicts
            defining param groups.
        direction: the Direction (NormOptimizer only).
        lr (float): learning rate of the matrix update (and of AdamW in ``use_adamw`` groups).
        momentum (float): beta in [0, 1).
        nesterov (bool): M = g + beta B (True) or M = B (False).
        momentum_kind (str or None): overrides ``nesterov``: ``"none"``, ``"heavy_ball"``,
            ``"nesterov"``, ``"nesterov_eq4"`` (the paper's eq. 4 literally), ``"nesterov_ema"``
            (torch.optim.Muon's and Keller Jordan's lerp form: B <- beta B + (1 - beta) g,
            M = (1 - beta) g + beta B; the same directions as ``"nesterov"``, M scaled by
            1 - beta).
        weight_decay (float): decoupled, X <- X (1 - lr wd) before the update.
        shape_scale (str): ``"none"``, ``"muon"``, ``"spectral"``, ``"match_rms_adamw"``.
        normalize_weights (bool): rescale X to ||X||_F = sqrt(rows) before each update.
        compute_dtype (torch.dtype or None): dtype of the direction computation (None: float64
            stays float64, everything else float32).
        on_nonfinite (str): ``"error"`` (refuse the step) or ``"skip"`` (skip that parameter).
        batched (bool): a parameter of rank >= 3 is a batch of matrices over its last two
            dimensions (experts, heads): one direction per matrix, ``shape_scale`` of one
            matrix; the Muon term of a batch is one batched polar factor. False (the default):
            it is one (d0, d1 * ... ) matrix, as conv weights (out, in * kh * kw) must be.
            A 2-D parameter in a batched group is an error.
        use_adamw (bool): the whole group is trained by AdamW with ``lr``.
        adamw_for_non_matrix (bool): rank < 2 parameters go to AdamW (True) or are rejected.
        adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay: the built-in AdamW (betas are
            stored as ``adamw_beta1``/``adamw_beta2``, the C++ names).
        process_group, distributed: the sharded mode (see :mod:`fanion.distributed`).
        timeout (float): the longest any rank waits for the others in a step of the sharded
            mode or of DTensor (FSDP2) parameters, in seconds (default 300, not the process
            group's 30 minutes): a rank that does not come is named in the error (sharded mode
            on Gloo); a timed-out process group cannot be used again, and later steps of the
            sharded mode say so.
    """

    _family = None           # directions.make() family of the named subclasses
    _direction_keys = ()     # group options the direction depends on

    def __init__(self, params, direction=None, *, lr=0.02, momentum=0.95, nesterov=True,
                 momentum_kind=None, weight_decay=0.0, shape_scale="none",
                 normalize_weights=False, compute_dtype=None, on_nonfinite="error",
                 batched=False, use_adamw=False, adamw_for_non_matrix=True, adamw_lr=3e-4,
                 adamw_betas=(0.9, 0.95), adamw_eps=1e-8, adamw_weight_decay=0.0,
                 process_group=None, distributed=False, timeout=300.0, _direction_options=None):
        self._names = {}
        self._direction_cache = {}
        self._checked = []  # per group: how it looked when last validated (_check_group)
        self.last_skipped = []
        where = self._where()
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{where}: params must be an ordered collection (a set's order "
                            "changes between runs); use a list")
        if not isinstance(adamw_betas, (tuple, list)) or len(adamw_betas) != 2:
            raise TypeError(f"{where}: adamw_betas must be a pair (beta1, beta2), got "
                            f"{adamw_betas!r}")
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov,
                        momentum_kind=momentum_kind, weight_decay=weight_decay,
                        shape_scale=shape_scale, normalize_weights=normalize_weights,
                        compute_dtype=compute_dtype, on_nonfinite=on_nonfinite,
                        batched=batched, use_adamw=use_adamw,
                        adamw_for_non_matrix=adamw_for_non_matrix,
                        adamw_lr=adamw_lr, adamw_beta1=adamw_betas[0],
                        adamw_beta2=adamw_betas[1], adamw_eps=adamw_eps,
                        adamw_weight_decay=adamw_weight_decay)
        if self._family is None:
            if not isinstance(direction, _dirs.Direction):
                raise TypeError(f"{where}: direction must be a fanion.directions.Direction, got "
                                f"{direction!r}")
            defaults["direction"] = direction
        elif direction is not None:
            raise TypeError(f"{where}: takes no direction argument (it is {self._family}); use "
                            "fanion.optim.NormOptimizer for a custom direction")
        defaults.update(_direction_options or {})
        self._check_options(defaults, where + " (defaults)")
        super().__init__(params, defaults)
        check_real(timeout, "timeout", where, low=0.0, low_open=True)
        self.timeout = float(timeout)
        self._sharding = None
        self.last_dtensor_stats = {}
        if (process_group is not None or distributed) and any(
                g["batched"] for g in self.param_groups):
            raise ValueError(f"{where}: batched=True is not available in the sharded mode "
                             "(distributed=True / process_group) yet")
        if self._dtensors() and (process_group is not None or distributed):
            raise ValueError(f"{where}: distributed=True / process_group is for replicated "
                             "(DDP) parameters; DTensor (FSDP2) parameters are handled by "
                             "their own mesh: leave both unset")
        if process_group is not None or distributed:
            check_bool(distributed, "distributed", where)
            from .distributed import Sharding
            self._sharding = Sharding(process_group, timeout, where)

    # --- naming ---------------------------------------------------------------------------------

    @classmethod
    def _where(cls):
        return f"fanion.optim.{cls.__name__}"

    def _param_name(self, gi, pi, p):
        shape = list(p.shape)
        name = self._names.get(id(p))
        if name is not None:
            return f"'{name}' (group {gi}, param {pi} {shape})"
        return f"group {gi}, param {pi} {shape}"

    # --- options --------------------------------------------------------------------------------

    def _check_options(self, g, where):
        check_real(g["lr"], "lr", where, low=0.0)
        check_real(g["momentum"], "momentum", where, low=0.0, high=1.0, high_open=True)
        check_bool(g["nesterov"], "nesterov", where)
        if g["momentum_kind"] is not None:
            check_choice(g["momentum_kind"], "momentum_kind", where, MOMENTUM_KINDS)
            if not g["nesterov"] and g["momentum_kind"] in ("nesterov", "nesterov_eq4",
                                                            "nesterov_ema"):
                raise ValueError(f"{where}: nesterov=False contradicts momentum_kind="
                                 f"{g['momentum_kind']!r}")
        check_real(g["weight_decay"], "weight_decay", where, low=0.0)
        check_choice(g["shape_scale"], "shape_scale", where, SHAPE_SCALES)
        check_bool(g["normalize_weights"], "normalize_weights", where)
        check_dtype(g["compute_dtype"], "compute_dtype", where)
        check_choice(g["on_nonfinite"], "on_nonfinite", where, NONFINITE_POLICIES)
        check_bool(g["batched"], "batched", where)
        if g["batched"] and g["normalize_weights"]:
            raise ValueError(f"{where}: normalize_weights=True is not defined for batched=True "
                             "(whose matrix would it normalize?); use one of them")
        check_bool(g["use_adamw"], "use_adamw", where)
        check_bool(g["adamw_for_non_matrix"], "adamw_for_non_matrix", where)
        check_real(g["adamw_lr"], "adamw_lr", where, low=0.0)
        check_real(g["adamw_beta1"], "adamw_beta1", where, low=0.0, high=1.0, high_open=True)
        check_real(g["adamw_beta2"], "adamw_beta2", where, low=0.0, high=1.0, high_open=True)
        check_real(g["adamw_eps"], "adamw_eps", where, low=0.0, finite=False)
        check_real(g["adamw_weight_decay"], "adamw_weight_decay", where, low=0.0)
        self._check_direction_options(g, where)
        try:
            self._direction(g).validate()
        except ValueError as e:
            raise ValueError(f"{where}: invalid direction: {e}") from None

    def _check_direction_options(self, g, where):
        if self._family is None and not isinstance(g.get("direction"), _dirs.Direction):
            raise TypeError(f"{where}: direction must be a fanion.directions.Direction, got "
                            f"{g.get('direction')!r}")
        if "k" in g:
            check_int(g["k"], "k", where, low=1)
        if "alpha" in g:
            check_real(g["alpha"], "alpha", where)
        if "sign_lr_coeff" in g:
            check_real(g["sign_lr_coeff"], "sign_lr_coeff", where)
        if "ns_steps" in g:
            check_int(g["ns_steps"], "ns_steps", where, low=0)
            check_choice(g["ns_schedule"], "ns_schedule", where, _dirs.SCHEDULES)
            check_choice(g["method"], "method", where, _dirs.POLAR_METHODS)
            check_choice(g.get("ns_normalization", "gram"), "ns_normalization", where,
                         NS_NORMALIZATIONS)
        if "solver_tol" in g:
            check_choice(g["method"], "method", where, _dirs.TOP_K_METHODS)
            check_real(g["solver_tol"], "solver_tol", where, low=0.0)
            check_int(g["max_passes"], "max_passes", where, low=1)
            check_int(g["seed"], "seed", where, low=0)

    def _direction(self, group):
        """The Direction of a param group (built from its options, cached)."""
        if self._family is None:
            return group["direction"]
        key = tuple(group.get(k) for k in self._direction_keys)
        d = self._direction_cache.get(key)
        if d is None:
            d = self._make_direction(group)
            self._direction_cache[key] = d
        return d

    def _make_direction(self, group):
        solver = {}
        if "ns_steps" in group:
            solver = dict(method=group["method"], steps=group["ns_steps"],
                          schedule=group["ns_schedule"],
                          gram_normalization=group.get("ns_normalization", "gram") == "gram")
        elif "solver_tol" in group:
            solver = dict(method=group["method"], tol=group["solver_tol"],
                          max_passes=group["max_passes"], seed=group["seed"])
        return _dirs.make(self._family, k=group.get("k"), alpha=group.get("alpha", 0.5),
                          sign_lr_coeff=group.get("sign_lr_coeff", 1.0), **solver)

    def direction(self, group_index=0):
        """The :class:`fanion.directions.Direction` param group ``group_index`` steps with."""
        return self._direction(self.param_groups[group_index])

    # --- param groups ---------------------------------------------------------------------------

    def add_param_group(self, param_group):
        where = self._where()
        if not isinstance(param_group, dict):
            raise TypeError(f"{where}: a param group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, torch.Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{where}: params must be an ordered collection (a set's order "
                            "changes between runs); use a list")
        elif params is None:
            raise ValueError(f"{where}: a param group needs 'params'")
        else:
            params = list(params)
        plain = []
        for item in params:
            if (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], torch.Tensor)):
                self._names[id(item[1])] = item[0]
                item = item[1]
            plain.append(item)
        group["params"] = plain
        if "adamw_betas" in group:
            betas = group.pop("adamw_betas")
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise TypeError(f"{where}: adamw_betas must be a pair, got {betas!r}")
            group["adamw_beta1"], group["adamw_beta2"] = betas
        for key in group:  # other keys (a group 'name', scheduler keys) are the user's
            if key in _FAMILY_KEYS and key not in self.defaults:
                raise ValueError(f"{where}: option {key!r} does not apply to this optimizer "
                                 f"(its options: {', '.join(sorted(self.defaults))})")
        super().add_param_group(group)
        gi = len(self.param_groups) - 1
        g = self.param_groups[gi]
        try:
            self._check_group(gi, g)
        except Exception:
            self.param_groups.pop()
            raise
        self._warn_embeddings(g)

    def _warn_embeddings(self, group):
        """Once per parameter: an embedding handed to the matrix direction, by its name."""
        if group["use_adamw"]:
            return
        for p in group["params"]:
            name = self._names.get(id(p), "")
            if p.dim() >= 2 and _EMBEDDING_NAME.search(name):
                warnings.warn(f"{self._where()}: {name} looks like an embedding (by its name) "
                              "and gets the matrix direction; embeddings and the output head "
                              "usually go to AdamW: fanion.param_groups(model) splits them, or "
                              "put them in a group with use_adamw=True", stacklevel=3)

    @staticmethod
    def _snapshot(group):
        """What a validation saw: the options' values and the parameters' identities."""
        return ({k: v for k, v in group.items() if k != "params"},
                [id(p) for p in group["params"]])

    def _check_group(self, gi, group):
        """Validates group gi when it is new or has changed since it was last validated (a
        scheduler's or a user's edit, a loaded state): the step does not re-check a group that
        is as it was."""
        snapshot = self._snapshot(group)
        if gi < len(self._checked) and self._checked[gi] == snapshot:
            return
        self._check_options(group, f"{self._where()}: param group {gi}")
        self._check_params(group, gi)
        if gi < len(self._checked):
            self._checked[gi] = snapshot
        else:  # groups are validated in order: gi is the next one
            self._checked.append(snapshot)

    def _check_params(self, group, gi):
        where = self._where()
        for pi, p in enumerate(group["params"]):
            if p.is_complex():
                raise TypeError(f"{where}: {self._param_name(gi, pi, p)} is complex "
                                f"({p.dtype}); complex parameters are not supported")
            if not p.is_floating_point():
                raise TypeError(f"{where}: {self._param_name(gi, pi, p)} has dtype {p.dtype}; "
                                "only floating point parameters can be optimized")
            if p.dim() == 2 and group["batched"] and not group["use_adamw"]:
                raise ValueError(f"{where}: {self._param_name(gi, pi, p)} is a matrix, not a "
                                 "batch of matrices, and its group has batched=True; put it in "
                                 "a group with batched=False")
            if p.dim() < 2 and not group["use_adamw"] and not group["adamw_for_non_matrix"]:
                raise ValueError(f"{where}: {self._param_name(gi, pi, p)} is not a matrix "
                                 "(rank < 2) and adamw_for_non_matrix is False; put it in a "
                                 "param group with use_adamw=True")
            cdt = group["compute_dtype"]
            if (cdt is not None and p.device.type == "cpu" and not group["use_adamw"]
                    and p.dim() >= 2 and not _cpu_computes_in(cdt)):
                raise ValueError(f"{where}: compute_dtype={cdt} for {self._param_name(gi, pi, p)}"
                                 f" on the CPU: this torch ({torch.__version__}) has no CPU "
                                 f"matrix products in {cdt}; use torch.float32 (or None)")

    def _dtensors(self):
        """The FSDP2 / DTensor parameters: their directions come from the whole matrices."""
        return [p for g in self.param_groups for p in g["params"] if _dt.is_dtensor(p)]

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("last_dtensor_stats", {})
        self.__dict__.setdefault("_names", {})
        self.__dict__.setdefault("_direction_cache", {})
        self.__dict__.setdefault("_checked", [])
        self.__dict__.setdefault("last_skipped", [])
        self.__dict__.setdefault("_sharding", None)
        self.__dict__.setdefault("timeout", 300.0)

    # --- state dict -----------------------------------------------------------------------------

    def load_state_dict(self, state_dict):
        """As torch.optim.Optimizer.load_state_dict, after validating the saved options, and
        keeping the dtype of the warm-start bases (torch would cast them to the parameter's
        dtype) so that the trajectory continues exactly."""
        where = f"{self._where()}.load_state_dict"
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not isinstance(groups, list) or not isinstance(state_dict.get("state"), dict):
            raise ValueError(f"{where}: not an optimizer state dict (needs 'state' and "
                             "'param_groups')")
        groups = [dict(g) if isinstance(g, dict) else g for g in groups]
        for gi, g in enumerate(groups):
            if not isinstance(g, dict):
                raise ValueError(f"{where}: param group {gi} is not a dict")
            for key, value in _ADDED_LATER.items():  # a state dict of an earlier fanion
                g.setdefault(key, value)
            missing = sorted(k for k in self.defaults if k not in g)
            if missing:
                raise ValueError(f"{where}: param group {gi} lacks the options {missing}: this "
                                 f"is not a state dict of {type(self).__name__} (one of another "
                                 "optimizer, such as torch.optim.SGD or AdamW, or of another "
                                 "fanion optimizer?); nothing was loaded")
            self._check_options(g, f"{where}: param group {gi}")
        state_dict = dict(state_dict, param_groups=groups)
        bases, state = {}, {}
        for key, s in state_dict["state"].items():
            if isinstance(s, dict) and "direction_bases" in s:
                s = dict(s)
                bases[key] = s.pop("direction_bases")
            state[key] = s
        state_dict["state"] = state
        super().load_state_dict(state_dict)
        # Keys are ids (state_dict()) or names (torch.distributed.checkpoint): matched by
        # position in param_groups, as torch.optim.Optimizer.load_state_dict matches them.
        saved = [key for g in groups for key in g.get("params", [])]
        by_key = dict(zip(saved, (p for g in self.param_groups for p in g["params"])))
        for key, b in bases.items():
            p = by_key.get(key)
            if p is None:
                continue
            self.state[p]["direction_bases"] = [
                None if t is None else t.detach().clone().to(p.device) for t in b]

    # --- the step -------------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure=None):
        """One step; ``closure`` (re-evaluating the loss) is called with grad enabled."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        where = self._where()
        for gi, g in enumerate(self.param_groups):  # schedulers and users may edit groups
            self._check_group(gi, g)

        # Pass 1: check every gradient before anything changes, so a refused step loses nothing.
        work, skipped, error, pending = [], [], None, []
        for gi, group in enumerate(self.param_groups):
            for pi, p in enumerate(group["params"]):
                g = p.grad
                if g is None:
                    continue
                name = self._param_name(gi, pi, p)
                if g.is_sparse or g.layout != torch.strided:
                    error = error or TypeError(f"{where}: {name} has a sparse gradient "
                                               f"({g.layout}); sparse gradients are not "
                                               "supported")
                    continue
                if g.is_complex():
                    error = error or TypeError(f"{where}: {name} has a complex gradient; "
                                               "complex gradients are not supported")
                    continue
                if g.shape != p.shape:
                    error = error or ValueError(f"{where}: {name} has a gradient of shape "
                                                f"{list(g.shape)}")
                    continue
                w = _step.Work(gi, pi, group, p, g, name,
                               None if group["use_adamw"] or p.dim() < 2
                               else self._direction(group))
                if _dt.is_dtensor(g):  # finite in every rank's slice? asked below
                    pending.append(w)
                    continue
                if not bool(torch.isfinite(g).all()):
                    if group["on_nonfinite"] == "skip":
                        skipped.append(name)
                        continue
                    error = error or ValueError(
                        f"{where}: non-finite (NaN or Inf) gradient in {name}; the step was "
                        "refused and nothing was changed")
                    continue
                work.append(w)

        dtensors = self._dtensors()
        if dtensors:
            error, bad = _dt.agree(dtensors, error, {id(w.p): w.g for w in pending},
                                   self.timeout)
            for w in pending:
                if id(w.p) not in bad:
                    work.append(w)
                elif w.group["on_nonfinite"] == "skip":
                    skipped.append(w.name)
                else:
                    error = error or ValueError(
                        f"{where}: non-finite (NaN or Inf) gradient in {w.name} (in some rank's "
                        "slice); the step was refused and nothing was changed")
        if self._sharding is not None:
            self._sharding.agree(self, work, error)  # raises on every rank if any rank fails
        elif error is not None:
            raise error
        self.last_skipped = skipped

        # Pass 2: update.
        if self._sharding is not None:
            self._sharding.step(self, work)
        else:
            if dtensors:
                _dt.step(self, [w for w in work if _dt.is_dtensor(w.p)], where)
                work = [w for w in work if not _dt.is_dtensor(w.p)]
            for w in work:
                state = self.state[w.p]
                if w.adamw:
                    _step.adamw_update(w.group, w.p, w.g, state)
                else:
                    self._count_fallbacks(w, state, _step.matrix_update(w, state))
        return loss

    def _count_fallbacks(self, w, state, fallbacks):
        """A top-k solve that did not converge was redone by the exact SVD (docs/design.md §3):
        counted in the parameter's state, and a warning the first time, naming it."""
        if not fallbacks:
            return
        state["solver_fallbacks"] = state.get("solver_fallbacks", 0) + fallbacks
        if state["solver_fallbacks"] == fallbacks:
            warnings.warn(f"{self._where()}: the top-k solver did not converge for {w.name}; "
                          "its direction was computed by the exact SVD instead (slower). "
                          "state['solver_fallbacks'] counts these; raise max_passes or "
                          "solver_tol, or choose method='exact'", RuntimeWarning, stacklevel=3)


def _solver_defaults(kind, method):
    if kind == "polar":
        return dict(method=method, ns_steps=5, ns_schedule="quintic")
    return dict(method=method, solver_tol=1e-6, max_passes=1000, seed=0)


_COMMON_DOC = """
    Momentum and step (paper eq. 4, with the PyTorch SGD / Muon momentum by default):
    B <- beta B + g, M = g + beta B (``nesterov=False``: M = B; ``momentum_kind=
    "nesterov_eq4"``: B <- beta B + (1 - beta) g), then
    X <- X (1 - lr weight_decay) - lr scale(m, n) d(M), d(M) as above.

    Common options (per param group; see :class:`NormOptimizer`): ``lr``, ``momentum``,
    ``nesterov``, ``momentum_kind``, ``weight_decay``, ``shape_scale``, ``normalize_weights``,
    ``compute_dtype``, ``on_nonfinite``, ``use_adamw``, ``adamw_for_non_matrix``, ``adamw_lr``,
    ``adamw_betas``, ``adamw_eps``, ``adamw_weight_decay``; and ``process_group`` /
    ``distributed`` / ``timeout`` for the sharded mode.
"""

_POLAR_DOC = """
    Solver options: ``method`` (``"newton_schulz"``: Keller Jordan's quintic, an approximate
    polar factor; ``"exact"``: SVD; ``"gram"``: Gram matrix + eigh in float64), ``ns_steps``
    (5), ``ns_schedule`` (``"quintic"``, ``"cubic"``, ``"polar_express"``,
    ``"polar_express_exact"``), ``ns_normalization`` (``"gram"``: start from
    X / ||X X^T||_F^(1/2), a tighter bound on sigma_1; ``"frobenius"``: X / ||X||_F, as
    torch.optim.Muon and Keller Jordan's Muon do).
"""

_TOPK_DOC = """
    Solver options: ``method`` (``"auto"``, ``"exact"``, ``"gram"``, ``"lanczos"``,
    ``"block_krylov"``, ``"subspace"``), ``solver_tol`` (1e-6, relative to the spectral gap),
    ``max_passes`` (1000), ``seed`` (0). The iterative solvers warm-start from the previous
    step's right singular basis, kept in the parameter's state (``direction_bases``).
"""


class Muon(NormOptimizer):
    __doc__ = r"""Muon (paper eq. 7): X <- X - lr * U V^T, with M = U S V^T the momentum gradient.

    d(M) = U V^T is the steepest direction of the spectral norm. Keller Jordan's Muon also scales
    by sqrt(max(1, m/n)): ``shape_scale="muon"``.
    """ + _POLAR_DOC + _COMMON_DOC
    _family = "muon"
    _direction_keys = ("method", "ns_steps", "ns_schedule", "ns_normalization")

    def __init__(self, params, lr=0.02, momentum=0.95, *, method="newton_schulz", ns_steps=5,
                 ns_schedule="quintic", ns_normalization="gram", **kwargs):
        opts = dict(method=method, ns_steps=ns_steps, ns_schedule=ns_schedule,
                    ns_normalization=ns_normalization)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class Neon(NormOptimizer):
    __doc__ = r"""Neon (paper eq. 9): X <- X - lr * u_1 v_1^T, the rank-one Fanion.

    d(M) = u_1 v_1^T is the steepest direction of the nuclear norm (top singular pair of M).
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "neon"
    _direction_keys = ("method", "solver_tol", "max_passes", "seed")

    def __init__(self, params, lr=0.02, momentum=0.95, *, method="auto", solver_tol=1e-6,
                 max_passes=1000, seed=0, **kwargs):
        opts = dict(method=method, solver_tol=solver_tol, max_passes=max_passes, seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class Fanion(NormOptimizer):
    __doc__ = r"""Fanion-k (paper eq. 10): X <- X - lr * sum_{i<=k} u_i v_i^T.

    d(M) = sum_{i<=k} u_i v_i^T is the steepest direction of the dual of the Ky Fan k-norm,
    max(||.||_*/k, ||.||_2): a rank-k update (k = 1: Neon; k = min(m, n): Muon). k is clamped to
    min(m, n) and to the numerical rank of M.
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "fanion"
    _direction_keys = ("k", "method", "solver_tol", "max_passes", "seed")

    def __init__(self, params, k, lr=0.02, momentum=0.95, *, method="auto", solver_tol=1e-6,
                 max_passes=1000, seed=0, **kwargs):
        opts = dict(k=k, method=method, solver_tol=solver_tol, max_passes=max_passes, seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class FMuon(NormOptimizer):
    __doc__ = r"""F-Muon (paper eq. 11 with k = min(m, n)):
    X <- X - lr * (alpha * U V^T + (1 - alpha) * M / ||M||_F).

    The steepest direction of the norm whose unit ball is alpha * (spectral ball) +
    (1 - alpha) * (Frobenius ball) (paper Corollary 5). alpha outside [0, 1] is allowed (the
    paper's "no ball" runs) but is then no longer a norm ball.
    """ + _POLAR_DOC + _COMMON_DOC
    _family = "f_muon"
    _direction_keys = ("alpha", "method", "ns_steps", "ns_schedule", "ns_normalization")

    def __init__(self, params, lr=0.02, momentum=0.95, alpha=0.5, *, method="newton_schulz",
                 ns_steps=5, ns_schedule="quintic", ns_normalization="gram", **kwargs):
        opts = dict(alpha=alpha, method=method, ns_steps=ns_steps, ns_schedule=ns_schedule,
                    ns_normalization=ns_normalization)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class FNeon(NormOptimizer):
    __doc__ = r"""F-Neon (paper eq. 11 with k = 1):
    X <- X - lr * (alpha * u_1 v_1^T + (1 - alpha) * M / ||M||_F).
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "f_neon"
    _direction_keys = ("alpha", "method", "solver_tol", "max_passes", "seed")

    def __init__(self, params, lr=0.02, momentum=0.95, alpha=0.5, *, method="auto",
                 solver_tol=1e-6, max_passes=1000, seed=0, **kwargs):
        opts = dict(alpha=alpha, method=method, solver_tol=solver_tol, max_passes=max_passes,
                    seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class FFanion(NormOptimizer):
    __doc__ = r"""F-Fanion-k (paper eq. 11):
    X <- X - lr * (alpha * sum_{i<=k} u_i v_i^T + (1 - alpha) * M / ||M||_F).
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "f_fanion"
    _direction_keys = ("k", "alpha", "method", "solver_tol", "max_passes", "seed")

    def __init__(self, params, k, lr=0.02, momentum=0.95, alpha=0.5, *, method="auto",
                 solver_tol=1e-6, max_passes=1000, seed=0, **kwargs):
        opts = dict(k=k, alpha=alpha, method=method, solver_tol=solver_tol,
                    max_passes=max_passes, seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class SMuon(NormOptimizer):
    __doc__ = r"""S-Muon (paper eq. 13 with k = min(m, n)):
    X <- X - lr * (alpha * U V^T + (1 - alpha) * sign_lr_coeff * sign(M)).

    The unit ball is alpha * (spectral ball) + (1 - alpha) * sign_lr_coeff * (Chebyshev ball);
    ``sign_lr_coeff`` is the paper's eta (default 0.01).
    """ + _POLAR_DOC + _COMMON_DOC
    _family = "s_muon"
    _direction_keys = ("alpha", "sign_lr_coeff", "method", "ns_steps", "ns_schedule",
                       "ns_normalization")

    def __init__(self, params, lr=0.02, momentum=0.95, alpha=0.5, sign_lr_coeff=0.01, *,
                 method="newton_schulz", ns_steps=5, ns_schedule="quintic",
                 ns_normalization="gram", **kwargs):
        opts = dict(alpha=alpha, sign_lr_coeff=sign_lr_coeff, method=method, ns_steps=ns_steps,
                    ns_schedule=ns_schedule, ns_normalization=ns_normalization)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class SNeon(NormOptimizer):
    __doc__ = r"""S-Neon (paper eq. 13 with k = 1):
    X <- X - lr * (alpha * u_1 v_1^T + (1 - alpha) * sign_lr_coeff * sign(M)).
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "s_neon"
    _direction_keys = ("alpha", "sign_lr_coeff", "method", "solver_tol", "max_passes", "seed")

    def __init__(self, params, lr=0.02, momentum=0.95, alpha=0.5, sign_lr_coeff=0.01, *,
                 method="auto", solver_tol=1e-6, max_passes=1000, seed=0, **kwargs):
        opts = dict(alpha=alpha, sign_lr_coeff=sign_lr_coeff, method=method,
                    solver_tol=solver_tol, max_passes=max_passes, seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class SFanion(NormOptimizer):
    __doc__ = r"""S-Fanion-k (paper eq. 13):
    X <- X - lr * (alpha * sum_{i<=k} u_i v_i^T + (1 - alpha) * sign_lr_coeff * sign(M)).
    """ + _TOPK_DOC + _COMMON_DOC
    _family = "s_fanion"
    _direction_keys = ("k", "alpha", "sign_lr_coeff", "method", "solver_tol", "max_passes",
                       "seed")

    def __init__(self, params, k, lr=0.02, momentum=0.95, alpha=0.5, sign_lr_coeff=0.01, *,
                 method="auto", solver_tol=1e-6, max_passes=1000, seed=0, **kwargs):
        opts = dict(k=k, alpha=alpha, sign_lr_coeff=sign_lr_coeff, method=method,
                    solver_tol=solver_tol, max_passes=max_passes, seed=seed)
        super().__init__(params, lr=lr, momentum=momentum, _direction_options=opts, **kwargs)


class NSGD(NormOptimizer):
    __doc__ = r"""Normalized SGD (paper eq. 6): X <- X - lr * M / ||M||_F (per matrix).

    d(M) = M / ||M||_F is the steepest direction of the Frobenius norm; d(0) = 0.
    """ + _COMMON_DOC
    _family = "nsgd"
    _direction_keys = ()

    def __init__(self, params, lr=0.02, momentum=0.95, **kwargs):
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)


class SignSGD(NormOptimizer):
    __doc__ = r"""SignSGD (paper eq. 8): X <- X - lr * sign(M), elementwise.

    d(M) = sign(M) is the steepest direction of the Chebyshev (max-entry) norm.
    """ + _COMMON_DOC
    _family = "sign"
    _direction_keys = ()

    def __init__(self, params, lr=0.02, momentum=0.95, **kwargs):
        super().__init__(params, lr=lr, momentum=momentum, **kwargs)
