r"""Splitting a model's parameters the way Muon is used (docs/design.md §4).

Muon-type directions are meant for the hidden weight matrices. Embeddings (a lookup table: each
step touches a few rows, and its rows are not a linear map's inputs), the output head (tied to an
embedding or not) and rank < 2 parameters (biases, gains) are trained by AdamW — Keller Jordan's
Muon, torch.optim.Muon's documentation and dion all say so. :func:`param_groups` makes that split
for any ``nn.Module``::

    groups = fanion.param_groups(model, adamw_lr=3e-4, verbose=True)
    opt = fanion.FMuon(groups, lr=0.02, momentum=0.95, alpha=0.5)

It returns two param groups of ``(name, tensor)`` pairs, so that every error and warning of the
optimizer names the parameter: the hidden matrices (the optimizer's direction) and a
``use_adamw=True`` group whose ``lr`` is ``adamw_lr`` (a scheduler scales both).
"""
import torch

__all__ = ["param_groups", "split_parameters"]

_EMBEDDINGS = (torch.nn.Embedding, torch.nn.EmbeddingBag)
_WHERE = "fanion.param_groups"


def _check_names(names, what, known):
    if isinstance(names, str):
        names = [names]
    names = list(names)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"{_WHERE}: {what} must be parameter or module names, got {n!r}")
        if n not in known:
            raise ValueError(f"{_WHERE}: {what} {n!r} is not a parameter or module of the model "
                             f"(e.g. {', '.join(sorted(known)[:5])})")
    return names


def split_parameters(model, head="auto", adamw=()):
    """The split of :func:`param_groups`, as a list of ``(name, tensor, part, reason)`` in the
    order of ``model.named_parameters()`` (shared tensors once, under their first name), with
    ``part`` ``"matrix"`` or ``"adamw"``.

    ``head``: ``"auto"`` (the ``nn.Linear`` whose weight is tied to an embedding, else one whose
    ``out_features`` equals an embedding's ``num_embeddings``, else the last ``nn.Linear`` of the
    model: a classifier's output layer), a module or parameter name (or a list of them), or
    ``None`` (no head). ``adamw``: more module or parameter names for AdamW.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{_WHERE}: model must be a torch.nn.Module, got {type(model).__name__}")
    modules = dict(model.named_modules())
    params = list(model.named_parameters())  # shared tensors appear once (the first name)
    known = set(modules) | {n for n, _ in params}
    known.discard("")
    reasons = {}  # id(tensor) -> reason it goes to AdamW

    def send(module_or_param, reason):
        if module_or_param in modules:
            for p in modules[module_or_param].parameters():
                reasons.setdefault(id(p), reason)
        else:
            reasons.setdefault(id(dict(params)[module_or_param]), reason)

    embeddings = {n: m for n, m in modules.items() if isinstance(m, _EMBEDDINGS)}
    for n in embeddings:
        send(n, "embedding")
    linears = [(n, m) for n, m in modules.items() if isinstance(m, torch.nn.Linear)]
    if isinstance(head, str) and head == "auto":
        tied = {id(m.weight) for m in embeddings.values()}
        vocab = {m.num_embeddings for m in embeddings.values()}
        heads = ([n for n, m in linears if id(m.weight) in tied]
                 or [n for n, m in linears if m.out_features in vocab]
                 or [n for n, _ in linears[-1:]])
    elif head is None:
        heads = []
    else:
        heads = _check_names(head, "head", known)
    for n in heads:
        send(n, "output head")
    for n in _check_names(adamw, "adamw", known):
        send(n, "adamw (asked)")
    out = []
    for name, p in params:
        if id(p) in reasons:
            out.append((name, p, "adamw", reasons[id(p)]))
        elif p.dim() < 2:
            out.append((name, p, "adamw", f"rank {p.dim()}"))
        else:
            out.append((name, p, "matrix", "hidden matrix"))
    return out


def param_groups(model, adamw_lr=3e-4, head="auto", adamw=(), verbose=False, **adamw_options):
    """Two param groups for a fanion optimizer: the hidden matrices, and a ``use_adamw=True``
    group (embeddings, the output head, rank < 2 parameters, ``adamw`` names) with
    ``lr=adamw_lr`` and any further options (``adamw_weight_decay=...``, ``adamw_betas=...``).
    ``verbose=True`` prints the split, one line per parameter. See :func:`split_parameters`
    for ``head`` and ``adamw``. Empty groups are left out."""
    if isinstance(adamw_lr, bool) or not isinstance(adamw_lr, (int, float)) or not adamw_lr >= 0:
        raise ValueError(f"{_WHERE}: adamw_lr must be a number >= 0, got {adamw_lr!r}")
    split = split_parameters(model, head=head, adamw=adamw)
    if verbose:
        width = max((len(n) for n, *_ in split), default=0)
        for name, p, part, reason in split:
            shape = "x".join(str(s) for s in p.shape) or "scalar"
            print(f"{name:<{width}}  {shape:>12}  {part:<6}  {reason}")
    matrices = [(n, p) for n, p, part, _ in split if part == "matrix"]
    rest = [(n, p) for n, p, part, _ in split if part == "adamw"]
    groups = []
    if matrices:
        groups.append({"params": matrices})
    if rest:
        groups.append({"params": rest, "use_adamw": True, "lr": adamw_lr, **adamw_options})
    return groups
