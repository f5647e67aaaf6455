"""Argument checks shared by the package: errors name the argument and its value."""
import math
import numbers

import torch

FLOAT_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def check_tensor(M, name="M", where="fanion"):
    """A real floating tensor of rank >= 1 (what every norm and direction accepts)."""
    if not isinstance(M, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(M).__name__}")
    if M.is_sparse:
        raise TypeError(f"{where}: {name} is a sparse tensor; sparse tensors are not supported")
    if M.is_complex():
        raise TypeError(f"{where}: {name} has complex dtype {M.dtype}; complex tensors are not "
                        "supported")
    if M.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where}: {name} has dtype {M.dtype}; expected one of "
                        "float32, float64, bfloat16, float16")
    if M.dim() < 1:
        raise ValueError(f"{where}: {name} must have rank >= 1 (it is seen as a matrix), got a "
                         "0-d tensor")
    return M


def check_real(value, name, where, low=None, high=None, low_open=False, high_open=False,
               finite=True):
    """A real number (not bool) in [low, high] (ends open on request)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    bad = math.isnan(v) or (finite and math.isinf(v))
    if low is not None:
        bad = bad or (v <= low if low_open else v < low)
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        rule = []
        if finite:
            rule.append("finite")
        if low is not None or high is not None:
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            rule.append(f"in {lo}{'-inf' if low is None else low}, "
                        f"{'inf' if high is None else high}{hi}")
        raise ValueError(f"{where}: invalid {name} = {value!r} (must be {' and '.join(rule)})")
    return v


def check_int(value, name, where, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an integer, got {value!r} "
                        f"({type(value).__name__})")
    if low is not None and value < low:
        raise ValueError(f"{where}: invalid {name} = {value!r} (must be >= {low})")
    return int(value)


def check_bool(value, name, where):
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {value!r}")
    return value


def check_choice(value, name, where, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{where}: invalid {name} = {value!r} (known: {', '.join(choices)})")
    return value


def check_dtype(value, name, where):
    if value is None:
        return None
    if not isinstance(value, torch.dtype) or value not in FLOAT_DTYPES:
        raise TypeError(f"{where}: {name} must be None or one of torch.float32, torch.float64, "
                        f"torch.bfloat16, torch.float16, got {value!r}")
    return value
