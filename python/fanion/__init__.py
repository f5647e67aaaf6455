"""fanion: norm-based matrix optimizers for PyTorch, backed by a C++ core.

From "The Ky Fan Norms and Beyond: Dual Norms and Combinations for Matrix Optimization":
Muon, Neon, Fanion-k, F-Muon, F-Neon, F-Fanion-k, S-Muon, S-Neon, S-Fanion-k, NSGD, SignSGD.

- :mod:`fanion.norms`      -- the matrix norms (floats)
- :mod:`fanion.directions` -- steepest directions d(M) and their weighted combinations
- :mod:`fanion.solvers`    -- polar factor and top-k SVD solvers, with status and counters
- :mod:`fanion.optim`      -- ``torch.optim.Optimizer`` subclasses (with a built-in AdamW)
- :mod:`fanion.distributed` -- the sharded mode on torch.distributed
- :func:`fanion.param_groups` -- the usual split: hidden matrices / AdamW (embeddings, head, 1-D)

Example::

    import fanion
    opt = fanion.optim.FMuon(model.named_parameters(), lr=0.02, momentum=0.95, alpha=0.5,
                             adamw_lr=3e-3)   # biases and gains go to the built-in AdamW
"""
import torch  # noqa: F401  (loads libtorch and its Python glue before the extension)

from . import _core  # noqa: F401  (the C++ kernels)
from . import directions, norms, optim, solvers
from .groups import param_groups, split_parameters
from .optim import (FFanion, FMuon, FNeon, Fanion, Muon, Neon, NormOptimizer, NSGD, SFanion,
                    SignSGD, SMuon, SNeon)

__version__ = "0.1.0"

__all__ = ["norms", "directions", "solvers", "optim", "NormOptimizer", "Muon", "Neon", "Fanion",
           "FMuon", "FNeon", "FFanion", "SMuon", "SNeon", "SFanion", "NSGD", "SignSGD",
           "param_groups", "split_parameters"]
