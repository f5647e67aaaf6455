#!/usr/bin/python3
"""Plot the JSON of `fanion train cnn` or `fanion train gpt`.

usage: /usr/bin/python3 scripts/plot_train.py RESULTS.json OUT.png

train cnn: validation accuracy per epoch (mean over seeds, one line per optimizer) and the
final accuracy with its spread (like the paper's Table 5 / Figure 11); with --alpha-sweep,
accuracy against alpha (Figure 2); when gradient norms were logged, the Frobenius, spectral and
nuclear norms of the chosen layers and of the whole gradient against the step (Figures 12-13).
train gpt: training and validation loss against the step (Figure 7); with --lr-sweep, final
validation loss against lr per optimizer with the best lr starred (Figure 6).
Schema: docs/json.md.
"""
import json
import math
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import plot_style  # noqa: E402  (beside this script)

# The paper's Table 5 (CIFAR-10 airbench, 8 epochs, weight normalization): mean and std of the
# validation accuracy, %. Drawn beside our bars only for a CIFAR-10 run.
PAPER_TABLE5 = {"nsgd": (91.6, 0.52), "signsgd": (91.54, 0.26), "muon": (94.01, 0.10),
                "f-muon": (94.01, 0.13), "s-muon": (94.03, 0.13), "neon": (69.8, 0.5),
                "f-neon": (87.15, 0.24), "fanion-5": (80.69, 1.25), "f-fanion-5": (86.66, 0.65)}


def key_of(run):
    return run["optimizer"]["label"]


def mean(xs):
    return sum(xs) / len(xs)


def std(xs):
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def plot_cnn(doc, out):
    runs = doc["runs"]
    sweep = doc["config"].get("alpha_sweep") or []
    norms, seen = [], set()  # the first seed's run of each optimizer
    for r in runs:
        if r.get("grad_norms") and key_of(r) not in seen:
            seen.add(key_of(r))
            norms.append(r)
    panels = 2 + (4 if norms else 0)
    cols = 2
    rows = (panels + 1) // 2
    fig, axes = plt.subplots(rows, cols, figsize=(11, 4 * rows))
    axes = list(axes.flat)

    by = defaultdict(list)
    for r in runs:
        by[key_of(r)].append(r)
    ax = axes[0]
    for li, (label, rs) in enumerate(by.items()):
        epochs = [e["epoch"] for e in rs[0]["epochs"]]
        acc = [mean([r["epochs"][i]["val_accuracy"] * 100 for r in rs]) for i in range(len(epochs))]
        ax.plot(epochs, acc, label="%s (n=%d)" % (label, len(rs)), **plot_style.line(li))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy, %")
    ax.set_title("validation accuracy (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)

    ax = axes[1]
    if sweep:
        alphas = sorted({r["optimizer"]["alpha"] for r in runs})
        ms, ss, ns = [], [], []
        for a in alphas:
            accs = [r["val_accuracy"] * 100 for r in runs if r["optimizer"]["alpha"] == a]
            ms.append(mean(accs))
            ss.append(std(accs))
            ns.append(len(accs))
        # Error bars only where there are seeds to spread over.
        ax.errorbar(alphas, ms, yerr=ss if min(ns) >= 2 else None, marker="o", capsize=3)
        ax.set_xlabel("alpha (weight of the Muon part)")
        ax.set_title("final validation accuracy against alpha (Figure 2)%s"
                     % ("" if min(ns) >= 2 else ", one seed: no error bars"))
    else:
        labels = list(by)
        ms = [mean([r["val_accuracy"] * 100 for r in by[k]]) for k in labels]
        ss = [std([r["val_accuracy"] * 100 for r in by[k]]) for k in labels]
        seeds = min(len(by[k]) for k in labels)
        # Bars start at 0 (a cut axis makes 0.3 points look large); the values are written on
        # them; error bars only with two or more seeds.
        bars = ax.bar(range(len(labels)), ms, yerr=ss if seeds >= 2 else None, capsize=3,
                      label="ours")
        for b, m in zip(bars, ms):
            ax.text(b.get_x() + b.get_width() / 2, m + 1, "%.2f" % m, ha="center", fontsize=7)
        if doc["config"].get("data") == "cifar10":
            names = [k.split("(")[0].strip().lower() for k in labels]
            xs = [i for i, n in enumerate(names) if n in PAPER_TABLE5]
            if xs:
                ax.errorbar(xs, [PAPER_TABLE5[names[i]][0] for i in xs],
                            yerr=[PAPER_TABLE5[names[i]][1] for i in xs], fmt="D", color="0.3",
                            capsize=3, label="paper, Table 5 (8 epochs)")
                ax.legend(fontsize=7, loc="lower right")
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([k.split("(")[0] for k in labels], rotation=30, fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_title("final validation accuracy, %s" % (
            "mean ± std over %d seeds" % seeds if seeds >= 2 else "one seed"))
    ax.set_ylabel("validation accuracy, %")
    ax.grid(alpha=0.3)

    if norms:
        layer_names = sorted(norms[0]["grad_norms"][0]["layers"])
        for i, which in enumerate(("frobenius", "spectral", "nuclear")):
            ax = axes[2 + i]
            li = 0
            for r in norms:
                steps = [g["step"] for g in r["grad_norms"]]
                for name in layer_names:
                    ax.plot(steps, [g["layers"][name][which] for g in r["grad_norms"]],
                            label="%s %s" % (key_of(r).split("(")[0], name), lw=1,
                            **plot_style.line(li, len(steps)))
                    li += 1
            ax.set_yscale("log")
            ax.set_xlabel("step")
            ax.set_ylabel("%s norm (one seed)" % which)
            ax.set_title("%s norm of layer gradients (Figure 12)" % which)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        ax = axes[5]
        for ri, r in enumerate(norms):
            steps = [g["step"] for g in r["grad_norms"]]
            marker = plot_style.line(ri)["marker"]
            for which, style in (("frobenius", "-"), ("spectral", "--"), ("nuclear", ":")):
                ax.plot(steps, [g["total"][which] for g in r["grad_norms"]], style,
                        marker=marker, ms=4, markevery=max(1, len(steps) // 8),
                        label="%s %s" % (key_of(r).split("(")[0], which), lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("norm (one seed)")
        ax.set_title("norms of the whole gradient (Figure 13)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in axes[panels:]:
        ax.axis("off")
    c = doc["config"]
    fig.suptitle("fanion train cnn: %s, %d images, widths %s, %d epochs"
                 % (c["data"], c["train_images"], c["widths"], c["epochs"]))
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def plot_gpt(doc, out):
    runs = doc["runs"]
    sweep = doc["config"].get("lr_sweep") or []
    fig, axes = plt.subplots(1, 3 if sweep else 2, figsize=(16 if sweep else 11, 4.2))
    # Curves of the best lr per optimizer (every run when there is no sweep).
    best = {}
    for s in doc["summary"]:
        v = s.get("final_val_loss_mean")
        if v is None:
            continue
        if s["optimizer"] not in best or v < best[s["optimizer"]][0]:
            best[s["optimizer"]] = (v, s["lr"])
    shown = [r for r in runs if not sweep or
             (r["optimizer"]["name"] in best
              and r["optimizer"]["lr"] == best[r["optimizer"]["name"]][1])]
    for li, r in enumerate(shown):
        tl = r["train_loss"]
        steps = [p[0] for p in tl]
        # a running mean over 10 steps keeps the plot readable
        vals = [p[1] for p in tl]
        smooth = [mean(vals[max(0, i - 9):i + 1]) for i in range(len(vals))]
        axes[0].plot(steps, smooth, lw=1, label=key_of(r), **plot_style.line(li, len(steps)))
        vl = r["val_loss"]
        axes[1].plot([p[0] for p in vl], [p[1] for p in vl], label=key_of(r),
                     **plot_style.line(li))
    axes[0].set_title("training loss (10-step mean)%s" % (", best lr" if sweep else ""))
    axes[1].set_title("validation loss%s (Figure 7)" % (", best lr" if sweep else ""))
    for ax in axes[:2]:
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy, nats per token")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if sweep:
        ax = axes[2]
        by = defaultdict(list)
        for s in doc["summary"]:
            by[s["optimizer"]].append(s)
        for li, (name, ss) in enumerate(by.items()):
            pts = [(s["lr"], s["final_val_loss_mean"]) for s in ss
                   if s["final_val_loss_mean"] is not None]
            if not pts:
                continue
            pts.sort()
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name,
                            **plot_style.line(li))
            if name in best:
                ax.plot([best[name][1]], [best[name][0]], marker="*", ms=16, color=line.get_color())
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("final validation loss, nats per token")
        ax.set_title("validation loss against lr, * = best (Figure 6)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    c = doc["config"]
    fig.suptitle("fanion train gpt: %s tokens, d=%d, %d layers, %d steps of %dx%d"
                 % (c["tokenizer"], c["d_model"], c["layers"], c["steps"], c["batch_size"],
                    c["context"]))
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    if doc.get("command") == "train cnn":
        plot_cnn(doc, sys.argv[2])
    elif doc.get("command") == "train gpt":
        plot_gpt(doc, sys.argv[2])
    else:
        sys.exit("plot_train.py: %s is not the JSON of `fanion train`" % sys.argv[1])


if __name__ == "__main__":
    main()
