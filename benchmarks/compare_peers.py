#!/usr/bin/python3
"""Compare fanion's top-k singular subspace solvers against library peers.

For each case n:k[:spectrum] this script builds the same n x n fp64 matrix as
`build/fanion bench lowrank` (same ATen CPU generator, same seed, same recipe: it is
bit-identical, see benchmarks/README.md), runs the peers on it

  * scipy.sparse.linalg.svds(solver='arpack')   tol from a ladder (loosest reaching the target)
  * scipy.sparse.linalg.svds(solver='lobpcg')   likewise (may be unable to reach it)
  * torch.svd_lowrank(q=k+oversample, niter)    fewest niter reaching the target (or unable)
  * full SVD: torch.linalg.svd and numpy.linalg.svd

runs `build/fanion bench lowrank` on the same case, and prints one table per case with
time, matvecs, err1, err2 and the time ratio to the best peer that reaches the target err2.

Run with Debian's Python (torch 1.13, scipy 1.10):
    /usr/bin/python3 benchmarks/compare_peers.py --cases 500:5,500:50 --repeats 3
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CASES = "500:5,500:50,5000:5,500:5:power1,2000:16:power1"
# The paper's Table 1 (TRLan err2) for the Gaussian rows, as in app/bench.cpp; 1e-4 otherwise.
PAPER_TRLAN_ERR2 = {(500, 5): 9.4e-5, (500, 50): 3.0e-7, (5000, 5): 7.7e-3}
DEFAULT_TARGET = 1e-4
SVDS_TOL_LADDER = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 0.0]


def parse_args():
    p = argparse.ArgumentParser(
        description="fanion's top-k solvers (build/fanion bench lowrank) against scipy svds "
        "(ARPACK, LOBPCG), torch.svd_lowrank and full SVD on the same matrices.")
    p.add_argument("--cases", default=DEFAULT_CASES,
                   help="n:k[:spectrum] items, spectrum gaussian|powerD (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats, median (default: 3)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch.set_num_threads and fanion --threads (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="matrix seed (default: 0)")
    p.add_argument("--json", metavar="PATH", help="write all rows (peers and ours) as JSON")
    p.add_argument("--skip-ours", action="store_true", help="do not run build/fanion")
    p.add_argument("--fanion", default=os.path.join(REPO, "build", "fanion"),
                   help="the fanion binary (default: build/fanion of this checkout)")
    p.add_argument("--no-full-svd-above", type=int, default=3000, metavar="N",
                   help="for n > N skip the full-SVD peers and take the exact top-k reference "
                   "from ARPACK at tol=0 (default: %(default)s)")
    p.add_argument("--row-budget", type=float, default=20.0, metavar="SECONDS",
                   help="stop repeating a peer's timed runs once they used this long "
                   "(default: %(default)s)")
    p.add_argument("--oversample", type=int, default=10,
                   help="torch.svd_lowrank q = k + oversample (the paper's RSVD rows imply 10)")
    p.add_argument("--niter-cap", type=int, default=512,
                   help="largest torch.svd_lowrank niter tried (default: %(default)s)")
    p.add_argument("--lobpcg-maxiter", type=int, default=200,
                   help="LOBPCG maxiter (scipy's default is 20) (default: %(default)s)")
    args = p.parse_args()
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be >= 1")
    return args


# Parsed before numpy/torch load their thread pools (the thread counts go into the
# environment, which build/fanion inherits too). Importing this module (check_generator.py
# does, for test_matrix) parses nothing.
ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # numpy, scipy and torch all use Debian's libblas.so.3/liblapack.so.3: whichever BLAS the
    # alternatives system points at, netlib or OpenBLAS; the header says which was loaded.
    os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402
import torch  # noqa: E402

if ARGS is not None:
    torch.set_num_threads(ARGS.threads)


def blas_in_use():
    """The BLAS/LAPACK shared objects this process has mapped (numpy, scipy, torch)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if (any(t in name for t in ("blas", "lapack", "mkl")) and ".so" in name
                        and "-packages/" not in path):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return ", ".join(sorted(libs)) or "unknown"


def load_note():
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    note = f"load average {load:.2f} on {cores} cores"
    if load > 0.5 * cores:
        note += (" -- WARNING: other processes compete for the CPU; multi-threaded code "
                 "(ATen's OpenMP pool spin-waits) suffers most, timings are unreliable")
    return note


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# The matrices: the recipe of app/bench.cpp test_matrix(), with the same CPU generator.
def test_matrix(n, spectrum, seed):
    gen = torch.Generator().manual_seed(seed)
    if spectrum == "gaussian":
        return torch.randn((n, n), generator=gen, dtype=torch.float64)
    if spectrum.startswith("power"):
        decay = float(spectrum[5:]) if len(spectrum) > 5 else 1.0
        U = torch.linalg.qr(torch.randn((n, n), generator=gen, dtype=torch.float64),
                            mode="reduced")[0]
        V = torch.linalg.qr(torch.randn((n, n), generator=gen, dtype=torch.float64),
                            mode="reduced")[0]
        s = torch.arange(1, n + 1, dtype=torch.float64).pow(-decay)
        return (U * s) @ V.T
    raise SystemExit(f"unknown spectrum '{spectrum}' (gaussian, power, power0.5, ...)")


def parse_cases(text):
    cases = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        parts = item.split(":")
        if len(parts) < 2:
            raise SystemExit(f"case '{item}' is not n:k[:spectrum]")
        n, k = int(parts[0]), int(parts[1])
        spectrum = parts[2] if len(parts) > 2 else "gaussian"
        if not 0 < k < n:
            raise SystemExit(f"case '{item}': need 0 < k < n")
        cases.append((item, n, k, spectrum))
    return cases


# --------------------------------------------------------------------------------------
# Errors: relative Frobenius error of sum s_i u_i v_i^T (err2) and of sum u_i v_i^T (err1)
# against the exact top-k, computed explicitly in row blocks (no Gram-trick cancellation).
def rel_err(U, S, V, Ur, Sr, Vr, block=512):
    num = den = 0.0
    A_r, R_r = U * S, Ur * Sr
    for i in range(0, U.shape[0], block):
        ref = R_r[i:i + block] @ Vr.T
        d = A_r[i:i + block] @ V.T - ref
        num += float(np.sum(d * d))
        den += float(np.sum(ref * ref))
    return math.sqrt(num / den)


def errors(res, ref):
    U, S, V = res
    Ur, Sr, Vr = ref
    e1 = rel_err(U, np.ones_like(S), V, Ur, np.ones_like(Sr), Vr)
    e2 = rel_err(U, S, V, Ur, Sr, Vr)
    return e1, e2


def top(U, S, V, k):
    """(U n x k, S k, V n x k) with S descending, as float64 numpy arrays."""
    U, S, V = (np.asarray(x, dtype=np.float64) for x in (U, S, V))
    order = np.argsort(-S, kind="stable")[:k]
    return np.ascontiguousarray(U[:, order]), S[order].copy(), np.ascontiguousarray(V[:, order])


def time_median(repeats, fn):
    """Median time of `repeats` runs (the result of the last); stops repeating once the runs
    have used --row-budget seconds (a 5000^2 svd_lowrank run can take a minute)."""
    times, out = [], None
    budget = ARGS.row_budget if ARGS is not None else float("inf")
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if sum(times) >= budget:
            break
    times.sort()
    time_median.runs = len(times)  # read by row()
    return times[len(times) // 2], out


time_median.runs = 0


class CountingOperator(sla.LinearOperator):
    """A LinearOperator over a dense matrix that counts matrix-vector products (one per
    column of a block, A x and A^T x alike), as fanion's `matvecs` counter does."""

    def __init__(self, A):
        super().__init__(dtype=A.dtype, shape=A.shape)
        self.A, self.count = A, 0

    def _matvec(self, x):
        self.count += 1
        return self.A @ x

    def _rmatvec(self, x):
        self.count += 1
        return self.A.T @ x

    def _matmat(self, X):
        self.count += X.shape[1]
        return self.A @ X

    def _rmatmat(self, X):
        self.count += X.shape[1]
        return self.A.T @ X


# --------------------------------------------------------------------------------------
# Peers. Each returns (U, S, V) of the top k, plus a status string; it may raise.
def run_svds(A, k, solver, tol, seed, maxiter=None):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            u, s, vt = sla.svds(A, k=k, tol=tol, solver=solver, maxiter=maxiter,
                                random_state=np.random.default_rng(seed))
            status = "converged"
        except sla.ArpackNoConvergence as exc:
            # ARPACK's partial result: eigenvectors of A^T A only; not worth reconstructing.
            raise RuntimeError(f"ARPACK did not converge: {exc}") from exc
    for w in caught:  # LOBPCG warns when it stops short of its tolerance
        m = re.search(r"Exited at iteration (\d+)", str(w.message))
        if m:
            status = "maxiter" if maxiter and int(m.group(1)) >= maxiter else "early exit"
    return top(u, s, vt.T, k), status


def run_svd_lowrank(Mt, k, q, niter, seed):
    torch.manual_seed(seed)  # svd_lowrank draws its start from the global generator
    U, S, V = torch.svd_lowrank(Mt, q=q, niter=niter)
    return top(U.numpy(), S.numpy(), V.numpy(), k)


class LowrankSearch:
    """torch.svd_lowrank(A, q, niter) for square A (its n > q branch), step by step: the
    basis after niter iterations is kept so that a larger niter continues from it. Same
    operations in the same order as torch/_lowrank.py, hence the same numbers."""

    def __init__(self, A, q, seed):
        self.A, self.At = A, A.mT
        torch.manual_seed(seed)
        R = torch.randn(A.shape[-2], q, dtype=A.dtype)  # get_approximate_basis(A^T, q)
        self.saved = {0: torch.linalg.qr(self.At @ R).Q}

    def basis(self, niter):
        start = max(i for i in self.saved if i <= niter)
        Q = self.saved[start]
        for _ in range(niter - start):
            Q = torch.linalg.qr(self.A @ Q).Q
            Q = torch.linalg.qr(self.At @ Q).Q
        self.saved[niter] = Q
        return Q

    def result(self, niter, k):
        Q = self.basis(niter)
        U, S, Vh = torch.linalg.svd(self.A @ Q, full_matrices=False)
        return top(U.numpy(), S.numpy(), (Q @ Vh.mH).numpy(), k)


def row(method, setting, params, seconds, matvecs, matvecs_how, e1, e2, target, status,
        note=""):
    if (ARGS is not None and math.isfinite(seconds) and time_median.runs < ARGS.repeats
            and "timed once" not in note):
        note = ((note + "; " if note else "")
                + f"{time_median.runs} of {ARGS.repeats} runs (--row-budget)")
    return dict(source="peer", method=method, setting=setting, params=params, seconds=seconds,
                matvecs=matvecs, matvecs_how=matvecs_how, err1=e1, err2=e2,
                reached=bool(e2 <= target), status=status, note=note)


def peers_for_case(n, k, spectrum, Mt, target):
    """All peer rows for one case, and a description of the reference."""
    M = Mt.numpy()
    rows = []
    repeats = ARGS.repeats
    seed = ARGS.seed

    # ---- reference (and the full-SVD peers)
    if n <= ARGS.no_full_svd_above:
        full_repeats = repeats if n <= 1000 else 1
        log(f"  torch.linalg.svd ({full_repeats}x)")
        t_torch, (Uf, Sf, Vhf) = time_median(
            full_repeats, lambda: torch.linalg.svd(Mt, full_matrices=False))
        s_all = Sf.numpy()
        ref = top(Uf.numpy(), Sf.numpy(), Vhf.numpy().T, k)
        ref_desc = "torch.linalg.svd (the same LAPACK call as fanion's exact)"
        rows.append(row("full_svd", "torch.linalg.svd", "", t_torch, 0, "-", 0.0, 0.0, target,
                        "reference", "the reference" + (" (timed once)" if full_repeats < repeats
                                                        else "")))
        log(f"  numpy.linalg.svd ({full_repeats}x)")
        t_np, (Un, Sn, Vhn) = time_median(
            full_repeats, lambda: np.linalg.svd(M, full_matrices=False))
        e1, e2 = errors(top(Un, Sn, Vhn.T, k), ref)
        rows.append(row("full_svd", "numpy.linalg.svd", "", t_np, 0, "-", e1, e2, target,
                        "exact", "timed once" if full_repeats < repeats else ""))
        arpack_tight = None
    else:
        log(f"  reference: ARPACK svds tol=0 (n={n} > --no-full-svd-above "
            f"{ARGS.no_full_svd_above})")
        op = CountingOperator(M)
        run_svds(op, k + 1, "arpack", 0.0, seed)  # count only
        count = op.count
        t_ref, (res, status) = time_median(1, lambda: run_svds(M, k + 1, "arpack", 0.0, seed))
        s_all = res[1]
        ref = (res[0][:, :k], res[1][:k], res[2][:, :k])
        ref_desc = (f"ARPACK svds(k={k + 1}, tol=0), truncated to k (no full SVD for "
                    f"n > {ARGS.no_full_svd_above})")
        arpack_tight = (t_ref, count, status)
        rows.append(row("arpack_ref", "ref", f"k={k + 1} tol=0", t_ref, count, "counted", 0.0,
                        0.0, target, status, "the reference (k+1 triplets, timed once)"))

    # ---- scipy svds: ARPACK and LOBPCG, tol ladder (untimed search, counted), then timed
    for solver in ("arpack", "lobpcg"):
        maxiter = ARGS.lobpcg_maxiter if solver == "lobpcg" else None
        found = None
        last = None
        for tol in SVDS_TOL_LADDER:
            op = CountingOperator(M)
            try:
                res, status = run_svds(op, k, solver, tol, seed, maxiter)
            except Exception as exc:  # noqa: BLE001 - report and move on
                last = (tol, None, str(exc).splitlines()[0][:60], 0)
                continue
            e1, e2 = errors(res, ref)
            last = (tol, (e1, e2), status, op.count)
            if e2 <= target:
                found = last
                break
            if status == "maxiter":
                break  # tighter tolerances stop at the same maxiter with the same result
        tol, errs, status, count = found or last
        params = f"tol={tol:g}" + (f" maxiter={maxiter}" if maxiter else "")
        log(f"  svds {solver} {params} ({repeats}x)")
        if errs is None:
            rows.append(row(solver, "failed", params, float("nan"), 0, "counted", float("nan"),
                            float("nan"), target, status))
        else:
            secs, _ = time_median(repeats, lambda: run_svds(M, k, solver, tol, seed, maxiter))
            rows.append(row(solver, "matched" if found else "unable", params, secs, count,
                            "counted", errs[0], errs[1], target, status,
                            "" if found else "no tol of the ladder reaches the target"))
        if solver == "arpack":
            if arpack_tight is None and errs is not None and tol != 0.0:
                op = CountingOperator(M)
                res, status = run_svds(op, k, "arpack", 0.0, seed)
                e1, e2 = errors(res, ref)
                log(f"  svds arpack tol=0 ({repeats}x)")
                secs, _ = time_median(repeats, lambda: run_svds(M, k, "arpack", 0.0, seed))
                rows.append(row("arpack", "tight", "tol=0", secs, op.count, "counted", e1, e2,
                                target, status))

    # ---- torch.svd_lowrank: fewest niter reaching the target. The search replays
    # svd_lowrank's own steps (same start, same ops) so that niter=j continues from the basis
    # of niter=i < j instead of starting over; the row reports the real call's errors.
    q = min(n, k + ARGS.oversample)
    search = LowrankSearch(Mt, q, seed)
    cache = {}

    def lowrank_err(niter):
        if niter not in cache:
            cache[niter] = errors(search.result(niter, k), ref)
        return cache[niter]

    lo, hi = -1, None  # lowrank_err(lo) misses; lowrank_err(hi) reaches
    niter = 0
    while True:
        if lowrank_err(niter)[1] <= target:
            hi = niter
            break
        lo = niter
        if niter >= ARGS.niter_cap:
            break
        niter = min(ARGS.niter_cap, 1 if niter == 0 else 2 * niter)
    if hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if lowrank_err(mid)[1] <= target:
                hi = mid
            else:
                lo = mid
        niter, setting, note = hi, "matched", ""
    else:
        niter = ARGS.niter_cap
        setting, note = "unable", f"err2 > target up to niter={ARGS.niter_cap}"
    e1, e2 = errors(run_svd_lowrank(Mt, k, q, niter, seed), ref)
    if setting == "matched" and e2 > target:  # the replay drifted from the real call
        note = f"search replay said err2 <= target, the real call gives {e2:.2e}"
    log(f"  torch.svd_lowrank q={q} niter={niter} ({repeats}x)")
    secs, _ = time_median(repeats, lambda: run_svd_lowrank(Mt, k, q, niter, seed))
    rows.append(row("svd_lowrank", setting, f"q={q} niter={niter}", secs, q * (2 * niter + 2),
                    "q(2niter+2)", e1, e2, target, "-", note))
    return rows, ref_desc, s_all


# --------------------------------------------------------------------------------------
def run_ours(item, n, k, spectrum, target):
    if not os.access(ARGS.fanion, os.X_OK):
        log(f"  {ARGS.fanion} not found: build it (cmake --build build -j2) or --skip-ours")
        return [], "binary not found"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ours.json")
        cmd = [ARGS.fanion, "bench", "lowrank", "--cases", item, "--json", path,
               "--repeats", str(ARGS.repeats), "--threads", str(ARGS.threads),
               "--seed", str(ARGS.seed)]
        log("  " + " ".join(cmd))
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0 or not os.path.exists(path):
            msg = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            log(f"  fanion failed (rc={proc.returncode}): {msg[-1] if msg else ''}")
            return [], f"fanion failed (rc={proc.returncode})"
        with open(path) as f:
            data = json.load(f)
    rows = []
    for r in data:
        rows.append(dict(source="fanion", method=r["method"], setting=r["setting"],
                         params=("" if r["setting"] in ("direct", "exact")
                                 or r["method"] == "exact" else f"tol={r['tol']:g}"),
                         seconds=r["seconds"], matvecs=r["matvecs"], matvecs_how="fanion",
                         passes=r.get("passes"), iterations=r.get("iterations"),
                         err1=r["err1"], err2=r["err2"], reached=bool(r["err2"] <= target),
                         status=r["status"], note=""))
    return rows, ""


def fmt(x, spec):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def print_case(title, rows, target):
    print(f"\n== {title}")
    head = (f"{'':2}{'method':<22} {'setting':<8} {'params':<22} {'time[s]':>9} {'matvecs':>8} "
            f"{'err1':>9} {'err2':>9} {'ok':>3} {'ratio':>7}  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        name = ("fanion " if r["source"] == "fanion" else "") + r["method"]
        if r["source"] == "peer" and r["method"] == "full_svd":
            name, setting = r["setting"], "exact"
        else:
            setting = r["setting"]
        print(f"{'*' if r['source'] == 'fanion' else ' ':2}{name:<22} {setting:<8} "
              f"{r['params']:<22} {fmt(r['seconds'], '9.4f')} {fmt(r['matvecs'], '8d')} "
              f"{fmt(r['err1'], '9.2e')} {fmt(r['err2'], '9.2e')} "
              f"{'yes' if r['reached'] else 'no':>3} {fmt(r.get('ratio'), '7.2f')}  "
              f"{r['note'] or ('' if r['status'] in ('converged', 'exact', '-') else r['status'])}")


def main():
    cases = parse_cases(ARGS.cases)
    all_rows = []
    print(f"# fanion vs peers: threads={ARGS.threads} repeats={ARGS.repeats} seed={ARGS.seed} "
          f"torch {torch.__version__} scipy {scipy.__version__} "
          f"numpy {np.__version__}")
    wait_policy = os.environ.get("OMP_WAIT_POLICY", "(unset)")
    print(f"# BLAS/LAPACK: {blas_in_use()}; OMP_WAIT_POLICY={wait_policy}")
    print(f"# at start: {load_note()}", flush=True)
    print("# time = median of repeats; ratio = time / best peer time reaching the target err2; "
          "* = ours; matvecs count A x and A^T x (a block of b columns counts b)")
    for item, n, k, spectrum in cases:
        target = PAPER_TRLAN_ERR2.get((n, k), DEFAULT_TARGET) if spectrum == "gaussian" \
            else DEFAULT_TARGET
        paper = (n, k) in PAPER_TRLAN_ERR2 and spectrum == "gaussian"
        trlan_note = ", the paper TRLan" if paper else ""
        title = f"{n}x{n} k={k} {spectrum}  (target err2 <= {target:.1e}{trlan_note})"
        log(f"[{item}] building the matrix")
        Mt = test_matrix(n, spectrum, ARGS.seed)
        peer_rows, ref_desc, s_all = peers_for_case(n, k, spectrum, Mt, target)
        ours, ours_msg = ([], "skipped (--skip-ours)") if ARGS.skip_ours else \
            run_ours(item, n, k, spectrum, target)
        rows = ours + peer_rows
        good_peers = [r for r in peer_rows if r["reached"] and not math.isnan(r["seconds"])]
        best_peer = min(good_peers, key=lambda r: r["seconds"]) if good_peers else None
        for r in rows:
            r["ratio"] = r["seconds"] / best_peer["seconds"] if best_peer else None
            r.update(case=item, n=n, k=k, spectrum=spectrum, target=target, reference=ref_desc)
        print_case(title, rows, target)
        gap = (f"sigma_k/sigma_k+1 = {s_all[k - 1] / s_all[k]:.4f}" if len(s_all) > k else "")
        print(f"   reference: {ref_desc}; {gap}")
        good_ours = [r for r in ours if r["reached"]]
        best_ours = min(good_ours, key=lambda r: r["seconds"]) if good_ours else None

        def desc(r):
            return (f"{r['method']} {r['setting']} {r['params']}".strip() +
                    f" {r['seconds']:.4f}s")
        if best_peer is None:
            summary = "no peer reaches the target"
        elif best_ours is None:
            summary = (f"ours: {ours_msg or 'none reaches the target'}; "
                       f"best peer {desc(best_peer)}")
        else:
            summary = (f"ours {desc(best_ours)} vs best peer {desc(best_peer)}: "
                       f"ratio {best_ours['seconds'] / best_peer['seconds']:.2f}")
        print(f"   summary [{item}]: {summary}", flush=True)
        all_rows.extend(rows)
    print(f"# at end: {load_note()}")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump([{key: (None if isinstance(v, float) and not math.isfinite(v) else v)
                        for key, v in r.items()} for r in all_rows], f, indent=1)
            f.write("\n")
        log(f"wrote {ARGS.json}")


if __name__ == "__main__":
    main()
