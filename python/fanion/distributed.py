r"""The sharded mode of :mod:`fanion.optim` on torch.distributed.

``Muon(params, distributed=True)`` (default process group) or ``Muon(params, process_group=pg)``:

1. Every rank checks its gradients, then the ranks exchange a fingerprint of what they are about
   to update (parameter shapes, dtypes, directions, which parameters have gradients) and whether
   they refuse the step (a NaN gradient, ...). A mismatched world -- a rank built over a
   different parameter list -- raises a RuntimeError on every rank, naming the difference,
   instead of hanging in a later collective; a refused step raises on every rank.
2. Every rank applies the cheap parts itself: the momentum buffers, the built-in AdamW, and the
   elementwise terms (NSGD's M/||M||_F, sign(M)). Optimizer state stays replicated, so that any
   rank's ``state_dict()`` is the whole state.
3. The expensive terms -- polar factors (Muon), top-k subspaces (Neon, Fanion-k), Schatten
   directions -- are split among the ranks by estimated cost (largest first, to the least
   loaded rank). Each rank computes its share and the results are all-gathered in one flat
   buffer per dtype: the m x n matrix for Muon, the factors U (m x r) and V (n x r), (m + n) k
   numbers, for Fanion-k (the paper's §7.4), from which every rank forms U V^T itself and keeps
   V as its next warm start. The plan is made per matrix; then the Muon terms a rank got for
   matrices of the same shape (same compute dtype and polar options) become one job, computed
   by one batched polar factor of the [B, m, n] stack: one set of batched matmuls instead of B
   sets of small ones, so B times fewer kernel launches on a GPU; on one CPU thread it saves
   the per-call overhead of small matrices (1.8x for 32 of 32 x 32), and costs up to ~10% for
   large ones (ATen's CPU baddbmm is a little slower than its addmm per slice). Planning
   before batching keeps the balance of the per-matrix plan; ``last_stats`` shows the
   batches. Fanion-k terms stay one job per matrix (each has its own warm start).
4. Every rank applies the same update, so parameters stay identical on all ranks; they equal a
   single-process run up to the rounding of the BLAS calls (bit for bit in our tests).

Failures never leave a rank waiting: every collective of a step waits at most ``timeout``
seconds (default 300). A step begins with a monitored barrier (on Gloo), so a rank that does not
come -- it raised in its own code, or died -- is named in the error the others raise. A rank
whose own share fails (an exception in its direction computations) does not leave the
others in the exchange: all ranks first exchange a fixed-size status with a short message, and
every rank raises a RuntimeError naming the failing rank and parameter. Nothing has changed then
(momentum buffers are updated on copies and AdamW after the exchange), and the collectives stay
in step, so the caller may catch the error and step again. After a timeout the process group's
collectives are out of step: later steps raise at once, saying so.

The sharded mode expects the same parameters and gradients on every rank, as after
``DistributedDataParallel``'s gradient all-reduce (it does not average gradients itself).
Without ``distributed``/``process_group`` the optimizers are plain local optimizers, which is
what plain DDP training needs (every rank runs the same replicated step).
"""
import datetime
import hashlib

import torch
import torch.distributed as dist

from . import _core, _step

__all__ = ["Sharding"]

_EXPENSIVE = ("muon", "fanion", "schatten")
_MESSAGE_BYTES = 480  # of an error message in the fixed-size status exchange


def _describe(value):
    """An option's value as text that is equal on two ranks exactly when the values are (no
    object addresses)."""
    if isinstance(value, torch.Tensor):
        return repr(value.tolist())
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if value is None or isinstance(value, (bool, int, float, str, torch.dtype)):
        return repr(value)
    terms = getattr(value, "terms", None)
    if terms is not None:  # a Direction: every term with its solver options
        return " + ".join(f"{t.weight!r}*{t.kind}(k={t.k}, p={t.p!r}, "
                          f"polar={t.polar.__getstate__()}, top_k={t.top_k.__getstate__()})"
                          for t in terms)
    return type(value).__name__


def _difference(fingerprints):
    """The first lines where a rank's fingerprint differs from rank 0's."""
    ref = fingerprints[0]
    for r, lines in enumerate(fingerprints[1:], start=1):
        for i in range(max(len(ref), len(lines))):
            a = ref[i] if i < len(ref) else "(nothing)"
            b = lines[i] if i < len(lines) else "(nothing)"
            if a != b:
                return f"First difference: rank 0 has '{a}', rank {r} has '{b}'"
    return "The fingerprints differ"


class _ShareFailed(RuntimeError):
    """This rank's share of a step failed (the message names the parameter)."""


class _Item:
    __slots__ = ("group", "p", "M", "state", "terms", "mat", "cdt", "bases", "parts", "buffer",
                 "name")

    def __init__(self, group, p, M, state, terms, mat, cdt, bases, buffer, name):
        self.group, self.p, self.M, self.state = group, p, M, state
        self.terms, self.mat, self.cdt, self.bases = terms, mat, cdt, bases
        self.parts = [None] * len(terms)
        self.buffer, self.name = buffer, name  # the new momentum buffer, kept until it is safe


class _Job:
    """An expensive term of one matrix, or after batching the Muon terms of several same-shape
    matrices: ``members`` lists (item, term index); the results lie one after another."""
    __slots__ = ("members", "kind", "size", "cost", "wire", "owner", "offset", "kk", "key")

    def __init__(self, item, term, kind, size, cost, wire, kk, key=None):
        self.members = [(item, term)]
        self.kind, self.size, self.cost = kind, size, cost
        self.wire, self.kk = wire, kk
        self.key = key  # what same-shape jobs must share to be batched; None: never batched
        self.owner = -1
        self.offset = 0


def _unit(term):
    """The same term with weight 1, as a one-term Direction."""
    t = _core.DirectionTerm(kind=term.kind, weight=1.0, k=term.k, p=term.p, polar=term.polar,
                            top_k=term.top_k)
    return _core.Direction.from_terms([t])


class Sharding:
    """Splits the direction computations of an optimizer step among the ranks of a process
    group and exchanges the results. Used by :class:`fanion.optim.NormOptimizer`."""

    def __init__(self, process_group=None, timeout=300.0, where="fanion.optim"):
        if not dist.is_available():
            raise RuntimeError(f"{where}: the sharded mode needs torch.distributed, which this "
                               "torch build lacks")
        self.group = process_group
        self.timeout = float(timeout)
        self.where = where
        self.broken = None  # why the process group can no longer be used (a timeout)
        #: What the last step did: jobs (after batching), jobs computed here, estimated load per
        #: rank, numbers exchanged per rank, batched_jobs and batch_sizes (matrices in each job
        #: of two or more, in plan order).
        self.last_stats = {}

    # --- plumbing ---------------------------------------------------------------------------------

    def world(self):
        if not dist.is_initialized():
            raise RuntimeError(f"{self.where}: the sharded mode (distributed=True or "
                               "process_group=...) needs torch.distributed.init_process_group() "
                               "first")
        if self.broken is not None:
            raise RuntimeError(f"{self.where} (sharded): an earlier step timed out ({self.broken})"
                               "; that process group's collectives are out of step and cannot "
                               "be used again: destroy it, create a new one and a new optimizer "
                               "(load_state_dict carries the state over)")
        return dist.get_world_size(self.group), dist.get_rank(self.group)

    def _device(self):
        """Where collectives' tensors live: NCCL needs CUDA tensors, Gloo takes CPU ones."""
        if dist.get_backend(self.group) == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def _timed_out(self, what, e):
        self.broken = f"{what}: {e}"
        return RuntimeError(f"{self.where} (sharded): {what} did not complete within "
                            f"{self.timeout:g} s ({e}); another rank did not call step(), or "
                            "failed outside it. This process group cannot be used again")

    def _wait(self, work, what):
        try:
            work.wait(datetime.timedelta(seconds=self.timeout))
        except RuntimeError as e:
            raise self._timed_out(what, e) from e

    def _all_gather(self, tensor, world, what):
        out = [torch.empty_like(tensor) for _ in range(world)]
        self._wait(dist.all_gather(out, tensor, group=self.group, async_op=True), what)
        return out

    def _arrive(self):
        """Every rank has entered step(), or the missing ones are named (Gloo's monitored
        barrier reports every rank that did not come within the timeout)."""
        if dist.get_backend(self.group) != "gloo":
            return  # the first all-gather below still waits at most `timeout`
        try:
            dist.monitored_barrier(self.group, timeout=datetime.timedelta(seconds=self.timeout),
                                   wait_all_ranks=True)
        except RuntimeError as e:
            raise self._timed_out("the start of the step (a monitored barrier)", e) from e

    def _status(self, ints, message, world, what):
        """All-gathers a few int64 and a short message from every rank in one collective of a
        fixed size, so that a failing rank and the others stay in step. Returns every rank's
        ints and message."""
        raw = (message or "").encode()[:_MESSAGE_BYTES]
        head = torch.tensor(list(ints) + [len(raw)], dtype=torch.int64).view(torch.uint8)
        body = torch.zeros(_MESSAGE_BYTES, dtype=torch.uint8)
        if raw:
            body[:len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
        rows = self._all_gather(torch.cat([head, body]).to(self._device()), world, what)
        out = []
        for row in rows:
            row = row.cpu()
            values = row[:head.numel()].view(torch.int64).tolist()
            text = bytes(row[head.numel():head.numel() + values[-1]].tolist())
            out.append((values[:-1], text.decode(errors="replace")))
        return out

    # --- 1. agreement -----------------------------------------------------------------------------

    def agree(self, opt, work, error):
        """Exchange a fingerprint of the step and every rank's verdict; raise on every rank if
        any rank refuses the step or the ranks disagree on what to update (parameters, or any
        option that changes the step)."""
        world, rank = self.world()
        self._arrive()
        lines = self._fingerprint(opt, work)
        n_params = sum(len(g["params"]) for g in opt.param_groups)
        digest = hashlib.sha256("\n".join(lines).encode()).digest()
        words = [int.from_bytes(digest[i:i + 7], "little") for i in (0, 7, 14)]
        rows = self._status(words + [n_params, len(work), 0 if error is None else 1],
                            None if error is None else str(error), world,
                            "the step fingerprint exchange")
        refused = [r for r, (row, _) in enumerate(rows) if row[5]]
        if refused:
            if error is not None:
                raise type(error)(f"{error} [rank {rank}; the step was refused on every rank]")
            raise ValueError(f"{self.where}: rank(s) {refused} refused the step; rank "
                             f"{refused[0]} said: {rows[refused[0]][1]}. The step was refused "
                             "on every rank and nothing was changed")
        if any(row[:3] != rows[0][0][:3] for row, _ in rows):
            detail = "; ".join(f"rank {r}: {row[3]} parameters, {row[4]} with gradients"
                               for r, (row, _) in enumerate(rows))
            # Every rank is here and sees the mismatch: the full fingerprints are safe to share.
            everyone = [None] * world
            dist.all_gather_object(everyone, lines, group=self.group)
            raise RuntimeError(
                f"{self.where} (sharded): the ranks do not hold the same parameters and options "
                f"({detail}). {_difference(everyone)}. Every rank must build the optimizer over "
                "the same parameter list (same order, shapes, dtypes and directions) with the "
                "same options, and have gradients for the same parameters; nothing was changed")

    @staticmethod
    def _fingerprint(opt, work):
        """One line per group option and per parameter: what must agree across ranks."""
        stepping = {(gi, pi) for gi, pi, *_ in work}
        lines = []
        for gi, group in enumerate(opt.param_groups):
            what = "adamw" if group["use_adamw"] else opt.direction(gi).name
            lines.append(f"group {gi} direction: {what}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"group {gi} option {key}: {_describe(group[key])}")
            for pi, p in enumerate(group["params"]):
                lines.append(f"group {gi} param {pi}: {tuple(p.shape)} {p.dtype} "
                             f"{p.device.type} {'step' if (gi, pi) in stepping else 'no step'}")
        return lines

    # --- 2-4. the step ----------------------------------------------------------------------------

    def step(self, opt, work):
        world, rank = self.world()
        try:
            items, adamw, jobs, load, lengths, bufs = self._local_share(opt, work, world, rank)
            failure = None
        except Exception as e:  # noqa: BLE001 - every rank must learn of it, then raise
            failure = e
        rows = self._status([0 if failure is None else 1],
                            None if failure is None else (
                                str(failure) if isinstance(failure, _ShareFailed)
                                else f"{type(failure).__name__}: {failure}"),
                            world, "the status exchange")
        failed = [r for r, (row, _) in enumerate(rows) if row[0]]
        if failed:
            said = "; ".join(f"rank {r}: {rows[r][1]}" for r in failed)
            raise RuntimeError(f"{self.where} (sharded): the step failed on rank(s) {failed} "
                               f"({said}); it was abandoned on every rank and nothing was "
                               "changed") from failure

        # Exchange, read everyone's results; from here on nothing can fail on one rank only.
        gathered = {wire: self._all_gather(buf, world, "the direction exchange")
                    for wire, buf in bufs.items()}
        for job in jobs:
            self._receive(job, gathered[job.wire][job.owner][job.offset:job.offset + job.size])
        for w in adamw:
            _step.adamw_update(w.group, w.p, w.g, opt.state[w.p])
        for it in items:
            # Elementwise terms are computed here, as fanion::Direction does.
            parts = [d if d is not None else _unit(t).apply(it.mat, None, it.cdt)
                     for t, d in zip(it.terms, it.parts)]
            d = _step.weighted_sum(it.terms, parts).reshape(it.M.shape).to(it.M.dtype)
            if it.buffer is not None:
                it.state["momentum_buffer"] = it.buffer
            _step.normalize_weight(it.group, it.p)
            it.state["direction_bases"] = it.bases
            _step.apply_direction(it.group, it.p, d, it.state)

        batch_sizes = [len(j.members) for j in jobs if len(j.members) > 1]
        self.last_stats = dict(
            jobs=len(jobs), computed_here=sum(1 for j in jobs if j.owner == rank),
            load=load, exchanged=[sum(v for (r, _), v in lengths.items() if r == q)
                                  for q in range(world)],
            batched_jobs=len(batch_sizes), batch_sizes=batch_sizes)

    def _local_share(self, opt, work, world, rank):
        """Everything before the exchange, changing no state: the effective gradients (the
        momentum buffers updated on copies), the plan, and this rank's share of the jobs
        computed into one flat buffer per wire dtype."""
        items, adamw = [], []
        for w in work:
            if w.adamw:
                adamw.append(w)
                continue
            group, p, state = w.group, w.p, opt.state[w.p]
            buf = state.get("momentum_buffer")
            M, buf = _step.effective_gradient(group, w.g, None if buf is None else buf.clone())
            cdt = _step.compute_dtype(group, M)
            terms = w.direction.terms
            bases = list(state.get("direction_bases", []))
            bases = (bases + [None] * len(terms))[:len(terms)]
            items.append(_Item(group, p, M, state, terms, _core.as_matrix(M).to(cdt), cdt,
                               bases, buf, w.name))

        # Jobs: the expensive terms; cheap ones every rank computes itself.
        jobs = []
        for it in items:
            m, n = it.mat.shape
            for j, t in enumerate(it.terms):
                if t.kind not in _EXPENSIVE:
                    continue
                wire = torch.float64 if it.cdt == torch.float64 else torch.float32
                if t.kind == "fanion":
                    kk = min(t.k, m, n)
                    method = t.top_k.method
                    if method == "auto":
                        method = _core.top_k_auto_method(m, n, kk)
                    work_rank = (min(m, n) if method in ("exact", "gram")
                                 else min(min(m, n), 8 * kk))
                    jobs.append(_Job(it, j, t.kind, 1 + (m + n) * kk, m * n * work_rank, wire,
                                     kk))
                else:
                    key = ((m, n, it.cdt, wire, str(it.mat.device), t.polar.__getstate__())
                           if t.kind == "muon" else None)
                    jobs.append(_Job(it, j, t.kind, m * n, m * n * min(m, n), wire, 0, key))

        # Largest first, to the least loaded rank (deterministic: every rank gets the same plan).
        load = [0] * world
        for idx in sorted(range(len(jobs)), key=lambda i: (-jobs[i].cost, i)):
            owner = min(range(world), key=lambda r: (load[r], r))
            jobs[idx].owner = owner
            load[owner] += jobs[idx].cost
        jobs = self._batch(jobs)
        lengths = {}
        for job in jobs:
            key = (job.owner, job.wire)
            job.offset = lengths.get(key, 0)
            lengths[key] = job.offset + job.size

        bufs = {}
        for wire in (torch.float32, torch.float64):
            longest = max((lengths.get((r, wire), 0) for r in range(world)), default=0)
            if longest == 0:
                continue
            bufs[wire] = torch.zeros(longest, dtype=wire, device=items[0].mat.device)
            for job in jobs:
                if job.owner == rank and job.wire == wire:
                    try:
                        self._compute(job, bufs[wire][job.offset:job.offset + job.size])
                    except Exception as e:
                        names = ", ".join(it.name for it, _ in job.members)
                        raise _ShareFailed(f"computing the direction of {names}: "
                                           f"{type(e).__name__}: {e}") from e
        return items, adamw, jobs, load, lengths, bufs

    @staticmethod
    def _batch(jobs):
        """Merges the jobs one rank got that share a batch key into the first of them (the
        plan's order, so every rank merges alike)."""
        out, first = [], {}
        for job in jobs:
            into = first.get((job.key, job.owner)) if job.key is not None else None
            if into is None:
                if job.key is not None:
                    first[(job.key, job.owner)] = job
                out.append(job)
            else:
                into.members += job.members
                into.size += job.size
                into.cost += job.cost
        return out

    @staticmethod
    def _compute(job, out):
        it, j = job.members[0]
        t = it.terms[j]
        m, n = it.mat.shape
        if len(job.members) > 1:  # same-shape Muon terms: one batched polar factor
            stack = torch.stack([member.mat for member, _ in job.members])
            Q, _ = _core.polar_factor(stack, t.polar)
            out.view(len(job.members), m, n).copy_(Q)
        elif job.kind == "fanion":
            U, _, V, _ = _core.top_k_svd(it.mat, job.kk, t.top_k, it.bases[j])
            r = U.shape[1]
            out[0] = r
            out[1:1 + m * job.kk].view(m, job.kk)[:, :r] = U
            out[1 + m * job.kk:].view(n, job.kk)[:, :r] = V
        else:
            out.view(m, n).copy_(_unit(t).apply(it.mat, None, it.cdt))

    @staticmethod
    def _receive(job, data):
        it, j = job.members[0]
        t = it.terms[j]
        m, n = it.mat.shape
        if job.kind == "fanion":
            r = int(data[0].item())
            U = data[1:1 + m * job.kk].view(m, job.kk)[:, :r].to(it.cdt)
            V = data[1 + m * job.kk:].view(n, job.kk)[:, :r].to(it.cdt)
            method = t.top_k.method
            if method == "auto":
                method = _core.top_k_auto_method(m, n, job.kk)
            if _core.accepts_warm_start(method):
                it.bases[j] = V.clone()
            it.parts[j] = torch.matmul(U, V.transpose(0, 1))
        else:
            for b, (member, term) in enumerate(job.members):
                member.parts[term] = data[b * m * n:(b + 1) * m * n].view(m, n).to(member.cdt)
