r"""FSDP2 / DTensor parameters for :mod:`fanion.optim` (docs/design.md §4).

A parameter sharded by ``torch.distributed.fsdp.fully_shard`` (or by hand with
``distribute_tensor(..., [Shard(d)])``) is a DTensor: each rank holds a slice. An elementwise
update (momentum, AdamW, NSGD's and sign's terms) may be computed slice by slice, but a matrix
direction may not: the polar factor of a slice is not the slice of the polar factor. So for every
sharded matrix, at every step:

1. each rank updates the momentum of its own slice (the state stays sharded: the buffers are
   DTensors with the parameter's placements, which ``torch.distributed.checkpoint`` saves and
   loads as such);
2. the slices of M are gathered on one owner rank (owners are assigned largest matrix first to
   the least loaded rank, the same plan on every rank), which computes d(M) of the whole matrix
   with the group's direction, exactly as a single process would;
3. the owner scatters the slices of d(M) back, and every rank applies its slice
   (weight decay, ``shape_scale`` of the whole matrix's shape).

Warm-start bases (Fanion-k) are broadcast from the owner, so every rank holds the same n x k
numbers: a checkpoint of any rank carries them, and a new plan may move the matrix; they are kept
n x k wide (zero columns where M had lower rank) so that ``torch.distributed.checkpoint`` loads
them into the state it builds from a step on zero gradients. Replicated
DTensors are computed locally by every rank. Placements fanion cannot split (``Partial``, two
sharded dimensions of one matrix, strided shards of FSDP2 + tensor parallel) raise a ValueError
naming the parameter before anything changes.

For a direction that is one top-k term (Neon, Fanion-k) the owner sends the factors instead of
the slices where that is fewer numbers (the paper's §7.4): the rows of U to their ranks and V
(n x k) to all, (m + n) k numbers against m n; each rank forms its rows of U Vᵀ.

``optimizer.last_dtensor_stats`` reports the last step: matrices gathered, owned here, sent as
factors, the bytes this rank sent and received, and the bytes of optimizer state it holds.
"""
import datetime
import math
import re

import torch
import torch.distributed as dist

from . import _core, _step

__all__ = ["dtensor_type", "fsdp2_available", "is_dtensor"]


def dtensor_type():
    """torch's DTensor class, or None where this torch has none (1.13)."""
    for mod in ("torch.distributed.tensor", "torch.distributed._tensor"):
        try:
            return getattr(__import__(mod, fromlist=["DTensor"]), "DTensor")
        except (ImportError, AttributeError):
            continue
    return None


def fsdp2_available():
    """Whether this torch has FSDP2 (``torch.distributed.fsdp.fully_shard``) and DTensor.

    Asked before importing: torch 1.13's ``torch.distributed.fsdp`` fails to import on
    Python 3.11 with a ValueError, not an ImportError.
    """
    major, minor = (int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())
    if (major, minor) < (2, 6) or not dist.is_available() or dtensor_type() is None:
        return False
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure to import means "not available"
        return False
    return True


def is_dtensor(t):
    cls = dtensor_type()
    return cls is not None and isinstance(t, cls)


def _chunk_sizes(n, world):
    """The slice lengths of Shard(d) on `world` ranks: torch.chunk's, then empty slices."""
    step = -(-n // world) if n else 0
    sizes = [max(0, min(step, n - r * step)) for r in range(world)] if step else [0] * world
    return sizes, step


def _nbytes(t):
    return t.numel() * t.element_size()


class _Layout:
    """How a DTensor parameter is split: the mesh group of its one sharded dimension (or None:
    replicated), that dimension, and the slice lengths."""

    def __init__(self, p, name, where, timeout=300.0):
        self.timeout, self.where, self.name = timeout, where, name
        mesh, shards = p.device_mesh, []
        for mesh_dim, pl in enumerate(p.placements):
            if pl.is_replicate():
                continue
            if not pl.is_shard() or type(pl).__name__ != "Shard":
                raise ValueError(f"{where}: {name} has the placement {pl} on mesh dimension "
                                 f"{mesh_dim}; fanion handles Shard(d) and Replicate() only")
            if mesh.size(mesh_dim) > 1:
                shards.append((mesh_dim, pl.dim))
        if len(shards) > 1:
            raise ValueError(f"{where}: {name} is sharded along {len(shards)} mesh dimensions "
                             f"({p.placements}); fanion handles one sharded dimension")
        self.group = self.dim = None
        self.world, self.rank = 1, 0
        if shards:
            mesh_dim, self.dim = shards[0]
            self.group = mesh.get_group(mesh_dim)
            self.world, self.rank = dist.get_world_size(self.group), dist.get_rank(self.group)
            self.sizes, self.step = _chunk_sizes(p.shape[self.dim], self.world)
            local = p.to_local().shape[self.dim]
            if local != self.sizes[self.rank]:
                raise ValueError(f"{where}: {name} holds {local} of {p.shape[self.dim]} rows of "
                                 f"dimension {self.dim} on rank {self.rank}; fanion expects "
                                 f"torch.chunk's split ({self.sizes[self.rank]})")

    def _padded(self, local, dim=None):
        dim = self.dim if dim is None else dim
        shape = list(local.shape)
        shape[dim] = self.step
        out = local.new_zeros(shape)
        out.narrow(dim, 0, local.shape[dim]).copy_(local)
        return out

    def gather(self, local, owner):
        """The whole tensor on the owner (None elsewhere); returns (tensor, bytes sent, bytes
        received)."""
        buf = self._padded(local)
        parts = [torch.empty_like(buf) for _ in range(self.world)] if self.rank == owner else None
        self._wait(dist.gather(buf, parts, dst=dist.get_global_rank(self.group, owner),
                               group=self.group, async_op=True), "gathering")
        if self.rank != owner:
            return None, _nbytes(buf), 0
        whole = torch.cat([t.narrow(self.dim, 0, n) for t, n in zip(parts, self.sizes)], self.dim)
        return whole, 0, _nbytes(buf) * (self.world - 1)

    def scatter(self, whole, like, owner, dim=None):
        """This rank's slice, along `dim` (the sharded one by default), of the owner's `whole`;
        `like` has this rank's shape and dtype."""
        dim = self.dim if dim is None else dim
        buf = self._padded(like, dim)
        parts = None
        if self.rank == owner:
            parts, start = [], 0
            for n in self.sizes:
                parts.append(self._padded(whole.narrow(dim, start, n), dim).contiguous())
                start += n
        self._wait(dist.scatter(buf, parts, src=dist.get_global_rank(self.group, owner),
                                group=self.group, async_op=True), "scattering")
        return buf.narrow(dim, 0, like.shape[dim]), *self._traffic(buf, owner)

    def broadcast(self, t, owner):
        """The owner's `t` on every rank (`t` has its shape and dtype everywhere)."""
        self._wait(dist.broadcast(t, src=dist.get_global_rank(self.group, owner),
                                  group=self.group, async_op=True), "broadcasting")
        return t, *self._traffic(t, owner)

    def _wait(self, work, what):
        wait(work, self.timeout, f"{self.where}: {what} {self.name}")

    def _traffic(self, buf, owner):
        """(bytes sent, bytes received) here by a one-to-all exchange of `buf` per rank."""
        if self.rank == owner:
            return _nbytes(buf) * (self.world - 1), 0
        return 0, _nbytes(buf)


def _sharded_like(local, p):
    """`local` as a DTensor with p's mesh and placements (state that stays sharded)."""
    return type(p).from_local(local, p.device_mesh, p.placements, run_check=False,
                              shape=p.shape, stride=p.stride())


def _local(t):
    return t.to_local() if is_dtensor(t) else t


def wait(work, timeout, what):
    """Waits for an asynchronous collective at most `timeout` seconds (the optimizer's), so that
    no rank waits for a missing or failed one for the process group's 30 minutes."""
    try:
        work.wait(datetime.timedelta(seconds=timeout))
    except RuntimeError as e:
        raise RuntimeError(f"{what} did not complete within timeout={timeout:g} s on rank "
                           f"{dist.get_rank()}: another rank did not take part (it failed, or "
                           f"never called step()); the process group cannot be trusted after "
                           f"this. ({e})") from e


def agree(params, error, grads, timeout=300.0):
    """After the local checks of a step, on every rank of the meshes of `params` (all the
    optimizer's DTensor parameters, the same list on every rank): whether any rank refused the
    step, and which of `grads` ({id(param): its DTensor gradient} of this step) are non-finite
    in any rank's slice -- so that every rank refuses, or skips, the same thing."""
    meshes = {}
    for p in params:
        meshes.setdefault(id(p.device_mesh), p.device_mesh)
    flags = [0 if error is None else 1]
    for p in params:
        g = grads.get(id(p))
        flags.append(0 if g is None or bool(torch.isfinite(g.to_local()).all()) else 1)
    flags = torch.tensor(flags, dtype=torch.int32)
    for mesh in meshes.values():
        for d in range(mesh.ndim):
            wait(dist.all_reduce(flags, op=dist.ReduceOp.MAX, group=mesh.get_group(d),
                                 async_op=True), timeout,
                 "fanion.optim: agreeing on the step's gradients")
    if error is None and int(flags[0]) != 0:
        error = ValueError("fanion.optim: another rank refused this step (a bad gradient on "
                           "that rank); nothing was changed")
    bad = {id(p) for p, f in zip(params, flags[1:].tolist()) if f}
    return error, bad


def step(opt, work, where):
    """Pass 2 of :meth:`NormOptimizer.step` for DTensor parameters (``work``: their
    :class:`fanion._step.Work` items; ``where`` names the optimizer in messages)."""
    stats = dict(matrices=0, owned=0, factored=0, bytes_sent=0, bytes_received=0)
    layouts, load = [], {}
    for w in work:  # validate everything before anything changes
        group, p = w.group, w.p
        if group["batched"] and p.dim() >= 3 and not group["use_adamw"]:
            raise ValueError(f"{where}: {w.name}: batched=True is not available for DTensor "
                             "parameters yet")
        layout = _Layout(p, w.name, where, opt.timeout)
        owner = 0
        if layout.group is not None and not w.adamw:
            m, n = p.shape[0], math.prod(p.shape[1:])
            ranks = load.setdefault(id(layout.group), [0.0] * layout.world)
            owner = min(range(layout.world), key=lambda r: ranks[r])
            ranks[owner] += float(m) * n * min(m, n)
        layouts.append((layout, owner))
    for w, (layout, owner) in zip(work, layouts):
        group, p, g, direction, state = w.group, w.p, w.g, w.direction, opt.state[w.p]
        if w.adamw:
            _step.adamw_update(group, p, g, state)  # elementwise: DTensor ops on the slices
            continue
        p_local, buf = p.to_local(), state.get("momentum_buffer")
        M, new_buf = _step.effective_gradient(group, g.to_local(),
                                              None if buf is None else _local(buf))
        if buf is None and new_buf is not None:
            state["momentum_buffer"] = _sharded_like(new_buf, p)
        if group["normalize_weights"]:
            _normalize_weight(group, p, p_local, layout)
        bases = _true_width(state.get("direction_bases", []))
        if layout.group is None:  # replicated: every rank holds the matrix
            d, bases = direction.apply(M, bases, group["compute_dtype"])
        else:
            stats["matrices"] += 1
            whole, sent, received = layout.gather(M, owner)
            stats["owned"] += layout.rank == owner
            factored = _factored(direction, p.shape, layout)
            if factored is not None:
                stats["factored"] += 1
                d, bases, traffic = _top_k_by_factors(factored, whole, M, bases, group, layout,
                                                      owner)
            else:
                d, bases, traffic = _by_slices(direction, whole, M, bases, group,
                                               layout, owner)
            stats["bytes_sent"] += sent + traffic[0]
            stats["bytes_received"] += received + traffic[1]
        state["direction_bases"] = _fixed_width(bases, direction)
        _step.apply_direction(group, p_local, d, state, shape=p.shape)
    stats["state_bytes"] = sum(_nbytes(_local(t)) for s in opt.state.values() for t in s.values()
                               if isinstance(t, torch.Tensor))
    opt.last_dtensor_stats = stats


def _by_slices(direction, whole, M, bases, group, layout, owner):
    """The owner computes d of the whole matrix and scatters its slices; the bases follow."""
    d_whole = None
    if layout.rank == owner:
        d_whole, bases = direction.apply(whole, bases, group["compute_dtype"])
    d, sent, received = layout.scatter(d_whole, M, owner)
    bases, s2, r2 = _broadcast_bases(bases, direction, whole_shape(layout, M), layout, owner,
                                     M.device)
    return d, bases, (sent + s2, received + r2)


def whole_shape(layout, M):
    """The whole matrix's (m, n) from a slice of its rows or columns."""
    shape = list(M.shape)
    shape[layout.dim] = sum(layout.sizes)
    return shape[0], math.prod(shape[1:])


_BASIS_DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


def _broadcast_bases(bases, direction, shape, layout, owner, device):
    """The owner's warm-start bases on every rank: per top-k term one float64 tensor of a size
    every rank knows (width + 1, or 0 for none; the dtype's index; the n x r basis padded to
    min(k, m, n) columns), so that the wait is bounded like every other collective here."""
    m, n = shape
    out, sent, received = [], 0, 0
    for i, term in enumerate(direction.terms):
        b = bases[i] if layout.rank == owner and i < len(bases) else None
        if term.kind != "fanion":
            if b is not None:
                raise RuntimeError(f"fanion.dtensor: a {term.kind} term kept a basis")
            out.append(None)
            continue
        kk = min(term.k, m, n)
        packed = torch.zeros(2 + n * kk, dtype=torch.float64, device=device)
        if b is not None:
            packed[0], packed[1] = b.shape[1] + 1, _BASIS_DTYPES.index(b.dtype)
            packed[2:].view(n, kk)[:, :b.shape[1]] = b
        packed, s1, r1 = layout.broadcast(packed, owner)
        sent, received = sent + s1, received + r1
        r = int(packed[0]) - 1
        out.append(None if r < 0 else
                   packed[2:].view(n, kk)[:, :r].to(_BASIS_DTYPES[int(packed[1])]).clone())
    return out, sent, received


def _factored(direction, shape, layout):
    """(term, k) when d is one top-k term (Neon, Fanion-k) whose factors are fewer numbers to
    send than the slices of the m x n update (the paper's §7.4: (m + n) k against m n) and the
    slices are rows (Shard(0), as FSDP2 shards); else None."""
    terms = direction.terms
    if len(terms) != 1 or terms[0].kind != "fanion" or layout.dim != 0:
        return None
    m, n = shape[0], math.prod(shape[1:])
    kk = min(terms[0].k, m, n)
    if layout.step * kk + n * kk + 1 >= layout.step * n:
        return None
    return terms[0], kk


def _top_k_by_factors(factored, whole, M, bases, group, layout, owner):
    """d = w U Vᵀ from the owner's top-k SVD: it scatters the rows of U and broadcasts V (with
    the rank r in front); each rank multiplies its rows. Every rank keeps V as the warm start
    where the method takes one, as Direction.apply does."""
    term, kk = factored
    cdt = group["compute_dtype"] or (torch.float64 if M.dtype == torch.float64
                                     else torch.float32)
    m, n = sum(layout.sizes), math.prod(M.shape[1:])
    method = term.top_k.method
    if method == "auto":
        method = _core.top_k_auto_method(m, n, kk)
    U_all, packed = None, torch.zeros(1 + n * kk, dtype=cdt, device=M.device)
    if layout.rank == owner:
        basis = bases[0] if bases else None
        U, _, V, _ = _core.top_k_svd(_core.as_matrix(whole).to(cdt), kk, term.top_k, basis)
        r = U.shape[1]
        U_all = torch.zeros(m, kk, dtype=cdt, device=M.device)
        U_all[:, :r] = U
        packed[0] = r
        packed[1:].view(n, kk)[:, :r] = V
    like = torch.zeros(layout.sizes[layout.rank], kk, dtype=cdt, device=M.device)
    U_rows, s1, r1 = layout.scatter(U_all, like, owner, dim=0)
    packed, s2, r2 = layout.broadcast(packed, owner)
    r = int(packed[0].item())
    V = packed[1:].view(n, kk)[:, :r]
    d = torch.matmul(U_rows[:, :r], V.transpose(0, 1))
    if term.weight != 1.0:
        d = d * term.weight
    bases = [V.clone() if _core.accepts_warm_start(method) else None]
    return d.reshape(M.shape).to(M.dtype), bases, (s1 + s2, r1 + r2)


def _fixed_width(bases, direction):
    """Warm-start bases (n x r, r <= k: the numerical rank of M) padded with zero columns to
    n x k. torch.distributed.checkpoint loads into a state of the same shapes, which it makes
    with a step on zero gradients (r = 0): the shapes must not depend on M."""
    out = []
    for b, term in zip(bases, direction.terms):
        if b is not None and b.shape[1] < term.k:
            b = torch.cat([b, b.new_zeros(b.shape[0], term.k - b.shape[1])], 1)
        out.append(b)
    return out


def _true_width(bases):
    """The inverse of _fixed_width: an orthonormal basis has no zero column."""
    return [b if b is None else b[:, b.abs().sum(0) > 0] for b in bases]


def _normalize_weight(group, p, p_local, layout):
    """normalize_weights on a sharded matrix: the norm of the whole matrix (the local norm of a
    DTensor is its slice's)."""
    sq = p_local.double().pow(2).sum()
    if layout.group is not None:
        layout._wait(dist.all_reduce(sq, group=layout.group, async_op=True), "the norm of")
    norm = max(math.sqrt(float(sq)), _step.FLT_MIN)
    p_local.mul_(math.sqrt(float(p.shape[0])) / norm)
