"""The paper's norm-ball figures (Appendix D, Figures 8 and 9; §6.2, Figure 3), drawn from
fanion's own norms.

    PYTHONPATH=build/python python scripts/plot_balls.py OUT_DIR

writes OUT_DIR/balls_f_duals.png (Figure 8), balls_ky_fan_2.png (Figure 9) and
balls_lmo_cnn.png (Figure 3). Axes are singular values (unsorted, signed: the balls are
symmetric), of a matrix with min(m, n) = 2 or 3.

Figure 8: the unit balls of the duals to the F* and F2 norms (F-Muon's and F-Neon's balls; the
paper's eqs. 16-17 have no closed form). The boundary is drawn exactly from Lemma 3: the ball is
the Minkowski sum alpha B_{KF-k dual} + (1 - alpha) B_F, so its boundary point with outer normal
u is alpha x_k(u) + (1 - alpha) u / |u|, x_k(u) a maximizer of <u, x> over the KF-k dual ball
(a face is drawn as the segment between its two end points). The dots are 1 / ||(cos t, sin t)||
from fanion.norms.f_star_dual / f2_dual, an independent numerical method: they sit on the lines.
"""
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from fanion import norms  # noqa: E402


def diag(values):
    return torch.diag(torch.tensor(values, dtype=torch.float64))


def ky_fan_dual_ball_point(u, k):
    """argmax <u, x> over {max(|x|_inf, |x|_1 / k) <= 1}: sign(u_i) on the k largest |u_i|."""
    x = np.zeros_like(u)
    top = np.argsort(-np.abs(u))[:k]
    x[top] = np.sign(u[top])
    return x


def minkowski_boundary(alpha, k, scale=1.0, samples=4000):
    """The exact boundary of scale * (alpha B_{KF-k dual} + (1 - alpha) B_F) in 2-D."""
    pts = []
    for t in np.linspace(0.0, 2 * math.pi, samples, endpoint=False):
        u = np.array([math.cos(t), math.sin(t)])
        pts.append(scale * (alpha * ky_fan_dual_ball_point(u, k) + (1 - alpha) * u))
    pts.append(pts[0])
    return np.array(pts)


def numeric_points(norm, count=48):
    pts = []
    for t in np.linspace(0.0, 2 * math.pi, count, endpoint=False):
        d = np.array([math.cos(t), math.sin(t)])
        pts.append(d / norm(diag(d.tolist())))
    return np.array(pts)


def figure_8(path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
    styles = ["-", "--", "-.", ":", (0, (5, 1, 1, 1))]
    for ax, (name, k, norm) in zip(axes, [
            ("dual to F* (F-Muon's ball, eq. 16)", 2, norms.f_star_dual),
            ("dual to F2 (F-Neon's ball, eq. 17)", 1, norms.f2_dual)]):
        for alpha, ls in zip([0.0, 0.25, 0.5, 0.75, 1.0], styles):
            b = minkowski_boundary(alpha, k)
            line, = ax.plot(b[:, 0], b[:, 1], ls=ls, lw=1.6, label="α = %g" % alpha)
            p = numeric_points(lambda M, a=alpha: norm(M, a))
            ax.plot(p[:, 0], p[:, 1], "o", ms=2.5, color=line.get_color())
        ax.set_aspect("equal")
        ax.set_xlabel("σ₁")
        ax.set_ylabel("σ₂")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle("Unit balls (lines: Minkowski sums of Lemma 3; dots: fanion.norms, numerically)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def radial_surface(norm, n=120):
    """Points r(u) u, r = 1 / norm(diag(u)), over a (theta, phi) grid of unit vectors u."""
    th, ph = np.meshgrid(np.linspace(0, math.pi, n), np.linspace(0, 2 * math.pi, 2 * n))
    X, Y, Z = np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)
    R = np.vectorize(lambda x, y, z: 1.0 / norm(diag([x, y, z])))(X, Y, Z)
    return R * X, R * Y, R * Z


def figure_9(path):
    fig = plt.figure(figsize=(11, 5.4))
    for i, (title, norm) in enumerate([
            ("Ky Fan 2-norm: max(|x|+|y|, |x|+|z|, |y|+|z|) ≤ 1", lambda M: norms.ky_fan(M, 2)),
            ("its dual: max(|x|∞, |x|₁ / 2) ≤ 1", lambda M: norms.ky_fan_dual(M, 2))]):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        X, Y, Z = radial_surface(norm)
        ax.plot_surface(X, Y, Z, cmap="viridis", linewidth=0, antialiased=True, alpha=0.9)
        ax.set_xlabel("σ₁")
        ax.set_ylabel("σ₂")
        ax.set_zlabel("σ₃")
        ax.set_title(title, fontsize=9)
        ax.set_box_aspect((1, 1, 1))
    fig.suptitle("Unit balls in the space of three singular values (fanion.norms)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def figure_3(path, lr_muon=0.24, lr_fmuon=0.40, alpha=0.5):
    """The LMO balls of Muon and F-Muon scaled by the CNN runs' learning rates (Table 5): every
    step of the optimizer lies on the boundary of its ball, in singular-value coordinates."""
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    muon = minkowski_boundary(1.0, 2, scale=lr_muon)
    fmuon = minkowski_boundary(alpha, 2, scale=lr_fmuon)
    ax.plot(muon[:, 0], muon[:, 1], "-", lw=1.8, label="Muon, lr = %g (spectral ball)" % lr_muon)
    ax.plot(fmuon[:, 0], fmuon[:, 1], "--", lw=1.8,
            label="F-Muon, lr = %g, α = %g" % (lr_fmuon, alpha))
    ax.set_aspect("equal")
    ax.set_xlabel("σ₁ of the step")
    ax.set_ylabel("σ₂ of the step")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("LMO balls scaled by the learning rates (CNN, Table 5)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    out = argv[1]
    if not os.path.isdir(out):
        sys.stderr.write("plot_balls: %s is not a directory\n" % out)
        return 2
    figure_8(os.path.join(out, "balls_f_duals.png"))
    figure_9(os.path.join(out, "balls_ky_fan_2.png"))
    figure_3(os.path.join(out, "balls_lmo_cnn.png"))
    for name in ("balls_f_duals.png", "balls_ky_fan_2.png", "balls_lmo_cnn.png"):
        print("wrote", os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
