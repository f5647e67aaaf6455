#!/usr/bin/python3
"""Draw the lr x momentum grids of `fanion lsq --grid` (the paper's §6.1 search) as maps.

usage: /usr/bin/python3 scripts/plot_lsq_grid.py GRID.json [MORE.json ...]
           [--authors-csv CSV] OUT.png

A grid split over processes (`--grid-momenta`, `--grid-lrs` slices) is joined: its cells are
keyed by (algorithm, lr, momentum). One panel per algorithm, momentum down and lr across; a
cell's colour is the loss it ended at, and a cell that reached the target shows the first
iteration below it. "s" marks a cell stopped at its slice's best count so far (it cannot beat the
best; it might have crossed later), an empty grey cell one that was not run (a grid on the
paper's momenta shows all ten rows). The best cell has a
black frame, the paper's Table 3 optimum a star.

--authors-csv takes the authors' own grid (`results/lr_grid_search_full_s_f_v_muon.csv` in
their repository, github alexlegeartis/Neon: algorithm_name, learning_rate, momentum,
below_thresh_iter, -1 for never): its cells that reached the target get a red frame.

Also prints, per algorithm, a Markdown table of every cell that reached the target in either
grid. Schema of the JSON: docs/json.md.
"""
import csv
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

# The paper's momenta (§6.1): a grid run in part still shows all of its rows, grey where not run.
PAPER_MOMENTA = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def key(algorithm, lr, momentum):
    return algorithm, round(float(lr), 9), round(float(momentum), 9)


def reached(run):
    return run.get("iterations_to_target") is not None


def stopped_at_best(run):
    return bool(run.get("stopped_early")) and not run.get("diverged")


def loss_of(run):
    """The loss a cell ended at, or None where it is not a finite positive number."""
    loss = run.get("final_loss")
    ok = isinstance(loss, (int, float)) and math.isfinite(loss) and loss > 0
    return loss if ok else None


def better(a, b):
    """Of two runs of one cell, the one that says more: a crossing, else the longer run."""
    if reached(a) != reached(b):
        return a if reached(a) else b
    return a if (a.get("iterations") or 0) >= (b.get("iterations") or 0) else b


def cells_of(docs):
    """{(algorithm, lr, momentum): run} over the grid runs of all documents, and the config of
    the first (the target and max_iters of a joined grid must agree)."""
    cells, config = {}, None
    for doc in docs:
        c = doc.get("config") or {}
        if config is None:
            config = c
        for k in ("target", "max_iters", "instance", "ns_steps", "ns_dtype"):
            if c.get(k) != config.get(k):
                raise ValueError("the grid files disagree on %s: %r vs %r"
                                 % (k, config.get(k), c.get(k)))
        for run in doc.get("runs") or []:
            if run.get("phase") != "grid":
                continue
            k = key(run["algorithm"], run["lr"], run["momentum"])
            cells[k] = better(cells[k], run) if k in cells else run
    return cells, config or {}


def read_authors_csv(path):
    """{(algorithm, lr, momentum): count or None} from the authors' grid CSV."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = row["algorithm_name"].lower()  # "F-Muon" there is fanion's "f-muon"
            it = int(row["below_thresh_iter"])
            out[key(name, row["learning_rate"], row["momentum"])] = it if it >= 0 else None
    return out


def best_cell(cells, algorithm):
    hit = [(r["iterations_to_target"], k) for k, r in cells.items()
           if k[0] == algorithm and reached(r)]
    return min(hit)[1] if hit else None


def cell_text(run):
    if reached(run):
        return str(run["iterations_to_target"])
    return "s" if stopped_at_best(run) else ""


def markdown(cells, authors, algorithm):
    """Every cell of `algorithm` that reached the target in our grid or the authors'."""
    ks = sorted({k for k, r in cells.items() if k[0] == algorithm and reached(r)} |
                {k for k, v in authors.items() if k[0] == algorithm and v is not None},
                key=lambda k: (k[2], k[1]))
    lines = ["| lr | momentum | ours: first / check | authors' grid (check) |",
             "|---|---|---|---|"]
    for k in ks:
        r = cells.get(k)
        if r is None:
            ours = "not run"
        elif reached(r):
            chk = r.get("checked_iterations_to_target")
            ours = "%d / %s" % (r["iterations_to_target"], chk if chk is not None else "—")
        elif stopped_at_best(r):
            ours = "— (stopped at %d, loss %.3g)" % (r.get("iterations") or 0,
                                                     r.get("final_loss") or math.nan)
        else:
            ours = "— (loss %.3g at %d)" % (r.get("final_loss") or math.nan,
                                            r.get("iterations") or 0)
        theirs = "" if not authors else (authors.get(k) if authors.get(k) is not None else "—")
        lines.append("| %g | %g | %s | %s |" % (k[1], k[2], ours, theirs))
    return "\n".join(lines)


def main(argv):
    args = argv[1:]
    authors_csv = None
    if "--authors-csv" in args:
        i = args.index("--authors-csv")
        if i + 1 >= len(args):
            sys.stderr.write("--authors-csv needs a file\n")
            return 2
        authors_csv = args[i + 1]
        del args[i:i + 2]
    if len(args) < 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    srcs, dst = args[:-1], args[-1]
    docs = []
    for src in srcs:
        with open(src, encoding="utf-8") as f:
            docs.append(json.load(f))
    try:
        cells, config = cells_of(docs)
    except ValueError as e:
        sys.stderr.write("plot_lsq_grid.py: %s\n" % e)
        return 2
    if not cells:
        sys.stderr.write("plot_lsq_grid.py: no grid runs (phase \"grid\") in %s\n"
                         % ", ".join(srcs))
        return 2
    authors = read_authors_csv(authors_csv) if authors_csv else {}

    algorithms = list(dict.fromkeys(k[0] for k in cells))
    target = config.get("target")
    losses = [loss_of(r) for r in cells.values() if loss_of(r) is not None]
    # Two decades above the target: the losses that matter; worse cells are clipped to yellow.
    top = 100 * target if target else max(losses)
    norm = LogNorm(vmin=min(min(losses), top / 100), vmax=top, clip=True)
    fig, axes = plt.subplots(1, len(algorithms), figsize=(7.2 * len(algorithms), 5.6),
                             squeeze=False)
    image = None
    for ax, algorithm in zip(axes[0], algorithms):
        lrs = sorted({k[1] for k in cells if k[0] == algorithm})
        momenta = sorted({k[2] for k in cells if k[0] == algorithm})
        if set(momenta) <= set(PAPER_MOMENTA):  # part of the paper's grid: show its rows all
            momenta = PAPER_MOMENTA
        grid = [[math.nan] * len(lrs) for _ in momenta]
        for (a, lr, b), r in cells.items():
            if a != algorithm:
                continue
            x, y, loss = lrs.index(lr), momenta.index(b), loss_of(r)
            if loss is not None:
                grid[y][x] = loss
            dark = loss is not None and norm(loss) < 0.5
            ax.text(x, y, cell_text(r), ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")
        ax.set_facecolor("0.85")  # cells not run
        image = ax.imshow(grid, norm=norm, cmap="viridis", aspect="auto", origin="lower")
        best = best_cell(cells, algorithm)
        if best:
            ax.add_patch(Rectangle((lrs.index(best[1]) - 0.5, momenta.index(best[2]) - 0.5), 1,
                                   1, fill=False, ec="black", lw=2.2))
        for (a, lr, b), v in authors.items():
            if a == algorithm and v is not None and lr in lrs and b in momenta:
                ax.add_patch(Rectangle((lrs.index(lr) - 0.42, momenta.index(b) - 0.42), 0.84,
                                       0.84, fill=False, ec="tab:red", lw=1.2))
        paper = next((r.get("paper") for k, r in cells.items() if k[0] == algorithm), None)
        if config.get("paper_setup", True) and paper and paper.get("lr") is not None:
            p = key(algorithm, paper["lr"], paper["momentum"])
            if p[1] in lrs and p[2] in momenta:
                ax.plot(lrs.index(p[1]), momenta.index(p[2]) + 0.3, "*", color="tab:orange",
                        ms=9, mec="black", mew=0.5)
        n_hit = sum(1 for k, r in cells.items() if k[0] == algorithm and reached(r))
        n_run = sum(1 for k in cells if k[0] == algorithm)
        ax.set_title("%s: %d of the %d cells run reach %g" % (algorithm, n_hit, n_run, target))
        ax.set_xticks(range(len(lrs)))
        ax.set_xticklabels(["%g" % v for v in lrs], rotation=90, fontsize=7)
        ax.set_yticks(range(len(momenta)))
        ax.set_yticklabels(["%g" % v for v in momenta], fontsize=7)
        ax.set_xlabel("learning rate (dimensionless)")
        ax.set_ylabel("momentum β (dimensionless)")
        print("### %s\n\n%s\n" % (algorithm, markdown(cells, authors, algorithm)))
    fig.colorbar(image, ax=axes[0].tolist(), label="F(X) when the cell ended (dimensionless)",
                 extend="max")
    fig.suptitle("lr × momentum grid, loss target %g within %s iterations (number: first "
                 "iteration below it; s: stopped at the best so far; black frame: best; "
                 "star: paper%s)" % (target, config.get("max_iters", "?"),
                                     "; red frame: reached in the authors' grid"
                                     if authors else ""), fontsize=9)
    fig.savefig(dst, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
