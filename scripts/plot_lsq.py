#!/usr/bin/python3
"""Plot the JSON of `fanion lsq` like the paper's Figures 1 and 10.

usage: /usr/bin/python3 scripts/plot_lsq.py RESULTS.json [MORE.json ...] OUT.png

Several files of one `--seeds` study split over processes (`--seed 42 --seeds 4`, `--seed 46
--seeds 4`) are drawn as one study: their runs and per-seed counts are joined.

Panels: loss vs iteration and vs time (log scale, the target dashed), and the Frobenius,
spectral and nuclear norms of the full gradient vs iteration; the last panel compares the
iterations to the target with the paper's Table 3. One line per algorithm. Runs that never
reached the target, stopped early or diverged are drawn as far as they went. Grid-search runs
are not drawn, only the full runs (phase "run" or "best"). Schema: docs/json.md.
"""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import plot_style  # noqa: E402  (beside this script)


def finite_positive(xs, ys):
    """Pairs with a finite, positive y (log axes), x not None."""
    out_x, out_y = [], []
    for x, y in zip(xs, ys):
        if x is None or y is None:
            continue
        if isinstance(y, (int, float)) and math.isfinite(y) and y > 0:
            out_x.append(x)
            out_y.append(y)
    return out_x, out_y


def label_of(run):
    parts = [run.get("algorithm", "?")]
    if run.get("lr") is not None:
        parts.append("lr=%g" % run["lr"])
    if run.get("momentum") is not None:
        parts.append("β=%g" % run["momentum"])
    it = run.get("iterations_to_target")
    parts.append("→ %s" % (it if it is not None else "never"))
    return " ".join(parts)


def lower_median(counts):
    """The lower median, a seed that never reached the target counting as infinite (as lsq)."""
    xs = sorted(math.inf if c is None else c for c in counts)
    m = xs[(len(xs) - 1) // 2]
    return None if m == math.inf else m


def joined(docs):
    """One document from the files of one seed study: runs appended, per-seed counts joined."""
    doc = docs[0]
    for other in docs[1:]:
        doc["runs"] = (doc.get("runs") or []) + (other.get("runs") or [])
        for g, h in zip(doc.get("seeds") or [], other.get("seeds") or []):
            counts = g["iterations_to_target"] + h["iterations_to_target"]
            hit = [c for c in counts if c is not None]
            g.update(iterations_to_target=counts, reached=len(hit), median=lower_median(counts),
                     min=min(hit, default=None), max=max(hit, default=None))
    config = doc.get("config") or {}
    config["seed"] = min(d.get("config", {}).get("seed", 0) for d in docs)
    config["seeds"] = sum(d.get("config", {}).get("seeds", 1) for d in docs)
    return doc


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    srcs, dst = argv[1:-1], argv[-1]
    docs = []
    for src in srcs:
        with open(src, encoding="utf-8") as f:
            docs.append(json.load(f))
    doc = joined(docs)
    config = doc.get("config") or {}
    runs = [r for r in doc.get("runs") or [] if r.get("phase") in ("run", "best")]
    if not runs:  # an older or hand-made file: draw everything
        runs = list(doc.get("runs") or [])
    target = config.get("target")

    fig, axes = plt.subplots(2, 3, figsize=(17, 9.5))
    ax_loss, ax_time, ax_bar = axes[0]
    ax_fro, ax_spec, ax_nuc = axes[1]
    seeds = doc.get("seeds") or []  # `--seeds N`: one colour per algorithm, a line per seed
    algorithms = list(dict.fromkeys(r.get("algorithm", "?") for r in runs))
    colors = plt.get_cmap("tab10" if max(len(runs), 1) <= 10 or seeds else "tab20")
    labelled = set()

    for i, run in enumerate(runs):
        if seeds:
            a = run.get("algorithm", "?")
            style = plot_style.line(algorithms.index(a))
            color = colors(algorithms.index(a) % colors.N)
            label = None if a in labelled else "%s (%d seeds)" % (a, len(runs) // len(seeds))
            labelled.add(a)
        else:
            style = plot_style.line(i)
            color = colors(i % colors.N)
            label = label_of(run)
        loss = run.get("loss") or []
        its = [p[0] if p else None for p in loss]
        vals = [p[1] if p and len(p) > 1 else None for p in loss]
        x, y = finite_positive(its, vals)
        if x:
            ax_loss.plot(x, y, color=color, lw=1.4, label=label, markevery=max(1, len(x) // 8),
                         **style)
        secs = run.get("loss_seconds") or []
        if len(secs) == len(vals):
            x, y = finite_positive(secs, vals)
            if x:
                ax_time.plot(x, y, color=color, lw=1.4, label=label,
                             markevery=max(1, len(x) // 8), **style)
        norms = run.get("grad_norms") or []
        for ax, key in ((ax_fro, "frobenius"), (ax_spec, "spectral"), (ax_nuc, "nuclear")):
            x, y = finite_positive([n.get("iteration") for n in norms],
                                   [n.get(key) for n in norms])
            if x:
                ax.plot(x, y, color=color, lw=1.2, markevery=max(1, len(x) // 8), **style,
                        label=run.get("algorithm") if label is not None else None)

    for ax, title, xlabel, ylabel in (
        (ax_loss, "loss", "iteration", "F(X) (dimensionless)"),
        (ax_time, "loss over time", "seconds (logging excluded)", "F(X) (dimensionless)"),
        (ax_fro, "Frobenius norm of the full gradient", "iteration", "‖∇F(X)‖_F"),
        (ax_spec, "spectral norm of the full gradient", "iteration", "‖∇F(X)‖_2"),
        (ax_nuc, "nuclear norm of the full gradient", "iteration", "‖∇F(X)‖_*"),
    ):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if ax.lines:
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        ax.grid(True, which="major", alpha=0.3)
    for ax in (ax_loss, ax_time):
        if target and ax.lines:
            ax.axhline(target, color="k", ls="--", lw=0.8, label="target %g" % target)
    if ax_loss.lines:
        ax_loss.legend(fontsize=7, loc="upper right")
    if ax_fro.lines:
        ax_fro.legend(fontsize=7, loc="upper right")

    # Table 3's counts only beside a run of the paper's setup (500x500, target 1e-3).
    show_paper = config.get("paper_setup", True)
    if seeds:
        spread_bars(ax_bar, seeds, runs, config, show_paper)
    else:
        table3_bars(ax_bar, runs, show_paper)
    ax_bar.set_title("iterations to loss %g" % target if target else "iterations to target")
    ax_bar.grid(True, axis="y", alpha=0.3)

    title = "least squares %sx%s, seed %s, init_std %s, %s momentum, Muon polar: %s" % (
        config.get("m", "?"), config.get("n", "?"), config.get("seed", "?"),
        config.get("init_std", "?"), config.get("momentum_kind", "?"),
        config.get("muon_solver", "?"))
    if seeds:
        title = title.replace("seed %s" % config.get("seed", "?"), "seeds %s..%s" % (
            config.get("seed", 0), config.get("seed", 0) + config.get("seeds", 1) - 1))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    return 0


def spread_bars(ax_bar, seeds, runs, config, show_paper):
    """`--seeds N`: every seed's count as a dot, the median as a bar; seeds that never reach
    the target are drawn at max_iters as crosses. The paper's count (one problem of its own)
    is a grey tick."""
    cap = config.get("max_iters") or 0
    for i, g in enumerate(seeds):
        its = g.get("iterations_to_target") or []
        hit = [v for v in its if v is not None]
        never = len(its) - len(hit)
        if g.get("median") is not None:
            ax_bar.bar(i, g["median"], 0.6, color="tab:blue", alpha=0.35,
                       label="median" if i == 0 else None)
        ax_bar.plot([i] * len(hit), hit, "o", color="tab:blue", ms=4,
                    label="one seed" if i == 0 else None)
        if never:
            ax_bar.plot([i] * never, [cap] * never, "x", color="tab:red", ms=6,
                        label="never (at max_iters)" if i == 0 else None)
        paper = next((r.get("paper") for r in runs if r.get("algorithm") == g.get("algorithm")),
                     None)
        if show_paper and paper and paper.get("iterations_to_target"):
            ax_bar.plot([i - 0.35, i + 0.35], [paper["iterations_to_target"]] * 2, color="0.4",
                        lw=2, label="paper (Table 3)" if i == 0 else None)
        ax_bar.text(i, 0, "%d/%d" % (len(hit), len(its)), ha="center", va="bottom", fontsize=7)
    ax_bar.set_xticks(range(len(seeds)))
    ax_bar.set_xticklabels([g.get("algorithm", "?") for g in seeds], rotation=45, ha="right",
                           fontsize=8)
    ax_bar.set_ylabel("iterations to the target")
    ax_bar.set_ylim(bottom=0)
    ax_bar.legend(fontsize=7)


def table3_bars(ax_bar, runs, show_paper):
    """Iterations to the target, ours beside the paper's Table 3."""
    names = [r.get("algorithm", "?") for r in runs]
    ours = [r.get("iterations_to_target") for r in runs]
    paper = [(r.get("paper") or {}).get("iterations_to_target") for r in runs]
    pos = list(range(len(runs)))
    w = 0.4
    ax_bar.bar([p - w / 2 for p in pos], [o if o is not None else 0 for o in ours], w,
               label="ours", color="tab:blue")
    if show_paper:
        ax_bar.bar([p + w / 2 for p in pos], [q if q is not None else 0 for q in paper], w,
                   label="paper (Table 3)", color="tab:gray")
    else:
        ax_bar.text(0.5, 0.97, "not the paper's setup: no Table 3 counts", ha="center",
                    va="top", fontsize=7, transform=ax_bar.transAxes)
    for p, o in zip(pos, ours):
        if o is None:
            ax_bar.text(p - w / 2, 0, "never", rotation=90, ha="center", va="bottom",
                        fontsize=7)
    ax_bar.set_xticks(pos)
    ax_bar.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax_bar.set_ylabel("iterations to the target")
    if runs:
        ax_bar.legend(fontsize=8)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
