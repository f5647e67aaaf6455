"""The step of every fanion optimizer, as free functions (as torch.optim's
``_single_tensor_adamw``): :class:`fanion.optim.NormOptimizer`, its sharded mode
(:mod:`fanion.distributed`) and its DTensor mode (:mod:`fanion.dtensor`) all call these, so the
update has one home. Each mirrors ``src/optim/fanion.cpp`` operation for operation, in the same
order (``tests/python/test_parity.py`` holds the two to 1e-12).

A work item of a step is a :class:`Work`: the parameter, its gradient, its group, its name for
messages and the :class:`fanion.directions.Direction` its group steps with.
"""
import math
from typing import NamedTuple

import torch

from . import _core

FLT_MIN = 1.1754943508222875e-38  # std::numeric_limits<float>::min()


class Work(NamedTuple):
    gi: int
    pi: int
    group: dict
    p: torch.Tensor
    g: torch.Tensor
    name: str
    direction: object  # fanion.directions.Direction; None for AdamW parameters

    @property
    def adamw(self):
        """This parameter goes to the auxiliary AdamW (a use_adamw group, or rank < 2)."""
        return self.group["use_adamw"] or self.p.dim() < 2


def momentum_kind(group):
    """The group's momentum form: ``momentum_kind``, or what ``nesterov`` says."""
    if group["momentum_kind"] is not None:
        return group["momentum_kind"]
    return "nesterov" if group["nesterov"] else "heavy_ball"


def compute_dtype(group, M):
    """The dtype a direction is computed in: the group's, else fp64 stays fp64 and anything
    else is computed in fp32 (fanion::default_compute_dtype)."""
    return group["compute_dtype"] or (torch.float64 if M.dtype == torch.float64
                                      else torch.float32)


def effective_gradient(group, g, buf):
    """(M, buffer) for one step (paper eq. 4 or the PyTorch form); ``buf`` is updated in place
    (hand a copy to keep it), a new one is returned on the first step."""
    return _core.effective_gradient(momentum_kind(group), float(group["momentum"]), g, buf)


def adamw_update(group, p, g, state):
    """The auxiliary AdamW (use_adamw groups, and rank < 2 parameters with ``adamw_lr``)."""
    lr = group["lr"] if group["use_adamw"] else group["adamw_lr"]
    if "exp_avg" not in state:
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
    state["step"] = state.get("step", 0) + 1
    step = state["step"]
    b1, b2 = float(group["adamw_beta1"]), float(group["adamw_beta2"])
    p.mul_(1.0 - lr * group["adamw_weight_decay"])
    state["exp_avg"].mul_(b1).add_(g, alpha=1.0 - b1)
    state["exp_avg_sq"].mul_(b2).addcmul_(g, g, value=1.0 - b2)
    bias1 = 1.0 - math.pow(b1, float(step))
    bias2 = 1.0 - math.pow(b2, float(step))
    denom = (state["exp_avg_sq"].sqrt() / math.sqrt(bias2)).add_(group["adamw_eps"])
    p.addcdiv_(state["exp_avg"], denom, value=-lr / bias1)


def normalize_weight(group, p):
    """normalize_weights: rescale p to Frobenius norm sqrt(rows) before the update (the paper's
    airbench runs, Appendix F)."""
    if group["normalize_weights"]:
        # C++ `sqrt(rows) / ||p||` is a Scalar / Tensor: fill, then divide.
        norm = p.norm().clamp_min(FLT_MIN)
        p.mul_(torch.empty_like(norm).fill_(math.sqrt(float(p.size(0)))).div_(norm))


def apply_direction(group, p, d, state, shape=None):
    """X <- X (1 - lr weight_decay) - lr scale(m, n) d. ``shape``: the whole matrix's, where p
    is a slice of it (fanion.dtensor)."""
    lr = float(group["lr"])
    if group["weight_decay"] != 0.0:
        p.mul_(1.0 - lr * group["weight_decay"])
    whole = p if shape is None else torch.empty(shape, device="meta")
    p.add_(d, alpha=-lr * _core.shape_scale_factor(group["shape_scale"], whole))
    state["step"] = state.get("step", 0) + 1


def weighted_sum(terms, parts):
    """sum_j terms[j].weight * parts[j], accumulated in order as fanion::Direction does."""
    out = None
    for t, d in zip(terms, parts):
        if out is None:
            out = d if t.weight == 1.0 else d * t.weight
        else:
            out.add_(d, alpha=t.weight)
    return out


def batched_direction(group, direction, M, bases):
    """batched=True: d of each matrix M[i] over the last two dimensions. A direction that is one
    Muon term takes one batched polar factor of the whole stack; any other goes matrix by
    matrix. The bases of matrix i are bases[i * T:(i + 1) * T] (T terms): a flat list, as
    state_dict() keeps them."""
    stack = M.reshape(-1, *M.shape[-2:])
    terms = direction.terms
    if len(terms) == 1 and terms[0].kind == "muon":
        Q, _ = _core.polar_factor(stack.to(compute_dtype(group, M)), terms[0].polar)
        d = Q if terms[0].weight == 1.0 else Q * terms[0].weight
        return d.reshape(M.shape).to(M.dtype), [None] * stack.shape[0]
    T, out, new = len(terms), [], []
    for i in range(stack.shape[0]):
        d, b = direction.apply(stack[i], bases[i * T:(i + 1) * T], group["compute_dtype"])
        out.append(d)
        new += list(b)
    return torch.stack(out).reshape(M.shape), new


def matrix_update(w, state):
    """One Fanion-family step of a matrix parameter on its own rank; returns the number of
    top-k solves that fell back to the exact SVD."""
    group, p = w.group, w.p
    M, buf = effective_gradient(group, w.g, state.get("momentum_buffer"))
    if buf is not None:
        state["momentum_buffer"] = buf
    normalize_weight(group, p)
    bases = state.get("direction_bases", [])
    fallbacks, shape = 0, None
    if group["batched"] and p.dim() >= 3:
        d, bases = batched_direction(group, w.direction, M, bases)
        shape = p.shape[-2:]
    else:
        d, bases, fallbacks = w.direction.apply(M, bases, group["compute_dtype"], stats=True)
    state["direction_bases"] = bases
    apply_direction(group, p, d, state, shape=shape)
    return fallbacks
