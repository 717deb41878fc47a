"""A one-page map of the book: its parts and chapters as boxes, arrows for how the ideas connect."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# chapter -> (short title, centre x, centre y), in the map's own units (XMIN..XMAX, YMIN..YMAX below)
CHAPTERS: dict[int, tuple[str, float, float]] = {
    1: ("Bayes' theorem", 1.3, 7.6),
    2: ("The Gaussian", 1.3, 5.9),
    3: ("Gaussian\nmixtures", 1.3, 4.2),
    4: ("KL divergence", 1.3, 2.5),
    5: ("Autoencoders\nand the VAE", 3.95, 2.5),
    6: ("GANs", 3.95, 0.9),
    7: ("The forward\nprocess", 7.1, 7.6),
    8: ("The reverse\nprocess: DDPM", 10.0, 7.6),
    9: ("Schedules and\nthe U-Net", 12.9, 7.6),
    10: ("DDIM", 10.0, 4.9),
    11: ("Score matching,\nLangevin", 7.1, 4.9),
    12: ("Score SDEs,\nprobability flow", 10.0, 2.2),
    13: ("Guidance", 12.9, 4.9),
    14: ("DiT", 15.8, 7.6),
    15: ("Latent\ndiffusion", 15.8, 2.2),
    16: ("Flow matching,\nrectified flow", 7.1, -1.1),
    17: ("EDM and\nfast solvers", 10.0, -1.1),
    18: ("Few steps:\ndistillation", 12.9, -1.1),
    19: ("Capstone: 28x28\nhandwriting", 15.8, -1.1),
}
PARTS = (("Part I · Probability", (1, 2, 3, 4), "#eef2f7"),
         ("Part II · Latent-\nvariable generators", (5, 6), "#f6f0e4"),
         ("Part III · Diffusion", (7, 8, 9, 10, 11, 12, 13, 14, 15), "#e8f3eb"),
         ("Part IV · The modern arc", (16, 17, 18, 19), "#f3e9f1"))
FAST_TRACK = (7, 8, 10, 11, 12, 13)
# (from, to, label, where the label sits along the arrow (0 start, 1 end), curvature: 0 straight,
# > 0 bends to the right of the arrow's direction)
LINKS: tuple[tuple[int, int, str, float, float], ...] = (
    (1, 7, "the tools of every derivation", 0.5, 0.0),
    (4, 5, "KL, ELBO", 0.5, 0.0),
    (3, 11, "exact scores of mixtures", 0.5, 0.0),
    (7, 8, "reverse\nthe chain", 0.5, 0.0),
    (8, 9, "the\nnetwork", 0.5, 0.0),
    (9, 14, "attention\ninstead", 0.5, 0.0),
    (8, 10, "same network,\nfewer steps", 0.4, 0.0),
    (8, 11, "predicting the noise\n= estimating the score", 0.62, 0.0),
    (8, 13, "add a label", 0.45, 0.0),
    (11, 12, "a continuum of\nnoise levels", 0.5, 0.0),
    (10, 12, r"$\eta=0$ is the ODE", 0.5, 0.0),
    (13, 15, "conditioning", 0.5, 0.0),
    (14, 15, "denoise\nlatents", 0.5, 0.0),
    (5, 15, "the autoencoder", 0.5, 0.14),
    (12, 17, "the ODE in $\\sigma$,\nhigher order", 0.5, 0.0),
    (17, 18, "distil\nthe solver", 0.5, 0.0),
    (12, 16, "the ODE as\na velocity", 0.5, 0.0),
    (13, 19, "guided\nhandwriting", 0.72, 0.0),
)
BOX_W, BOX_H = 1.75, 0.9
XMIN, XMAX, YMIN, YMAX = 0.0, 16.9, -2.4, 9.0


def draw() -> Figure:
    """Return the map: one box per chapter, coloured by part, the fast-track chapters outlined in blue,
    and labelled arrows from the idea a chapter builds on to the chapter that uses it."""
    fig, ax = plt.subplots(figsize=(9.5, 9.5 * (YMAX - YMIN) / (XMAX - XMIN)))
    ax.set_xlim(XMIN, XMAX)
    ax.set_ylim(YMIN, YMAX)
    ax.axis("off")
    for name, chapters, colour in PARTS:
        xs = [CHAPTERS[c][1] for c in chapters]
        ys = [CHAPTERS[c][2] for c in chapters]
        x0, x1 = min(xs) - BOX_W / 2 - 0.2, max(xs) + BOX_W / 2 + 0.2
        y0, y1 = min(ys) - BOX_H / 2 - 0.2, max(ys) + BOX_H / 2 + 0.75
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.02,rounding_size=0.2",
                                    facecolor=colour, edgecolor="#b5b5b5", linewidth=0.8, zorder=0))
        ax.text(x0 + 0.15, y1 - 0.12, name, fontsize=8.5, fontweight="bold", color="#505050", va="top")
    boxes = {}
    for number, (title, x, y) in CHAPTERS.items():
        fast = number in FAST_TRACK
        boxes[number] = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                       boxstyle="round,pad=0.02,rounding_size=0.12", facecolor="white",
                                       edgecolor="#1f5fa8" if fast else "#6f6f6f",
                                       linewidth=2.2 if fast else 1.0, zorder=2)
        ax.add_patch(boxes[number])
        ax.text(x, y, f"{number}\n{title}", ha="center", va="center", fontsize=7.6, zorder=3, linespacing=1.1)
    for start, end, label, where, curve in LINKS:
        (_, x0, y0), (_, x1, y1) = CHAPTERS[start], CHAPTERS[end]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11, color="#3d3d3d",
                                     linewidth=1.0, connectionstyle=f"arc3,rad={curve}", zorder=1,
                                     patchA=boxes[start], patchB=boxes[end], shrinkA=1, shrinkB=1))
        # the label sits on the arrow (a curved arrow's apex is half its control point's offset)
        mx, my = x0 + where * (x1 - x0) + curve * (y1 - y0) / 2, y0 + where * (y1 - y0) - curve * (x1 - x0) / 2
        ax.text(mx, my, label, fontsize=7.2, ha="center", va="center", color="#2f2f2f", zorder=4,
                linespacing=1.05,
                bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
    ax.plot([], [], color="#1f5fa8", linewidth=2.2, label="the fast track: 7 → 8 → 10 → 11 → 12 → 13")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 0.0), frameon=False, fontsize=8.5)
    fig.tight_layout()
    return fig
