"""The DiT block with adaLN-Zero: the conditioning c goes through a zero-initialised map to
(shift, scale, gate) twice; each pair modulates a LayerNorm, each gate scales a residual branch
(self-attention, then the MLP) before it is added back to the tokens."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# box name -> (label, centre x, centre y, colour); the tokens' path runs up the left column
TOKENS, CONDITION, MODULATION, RESIDUAL = "#e8f3eb", "#f6f0e4", "#fbe3d6", "#eef2f7"
BOXES: dict[str, tuple[str, float, float, str]] = {
    "x": ("tokens $x$  $(N, T, D)$", 2.0, 0.4, TOKENS),
    "ln1": ("LayerNorm\n(no learned affine)", 2.0, 1.6, TOKENS),
    "mod1": ("modulate\n$h\\,(1+\\mathrm{scale}_1)+\\mathrm{shift}_1$", 2.0, 2.85, MODULATION),
    "attn": ("multi-head\nself-attention", 2.0, 4.1, TOKENS),
    "gate1": ("$\\times\\,\\mathrm{gate}_1$", 2.0, 5.15, MODULATION),
    "add1": ("$+$", 2.0, 6.05, RESIDUAL),
    "ln2": ("LayerNorm\n(no learned affine)", 2.0, 7.0, TOKENS),
    "mod2": ("modulate\n$h\\,(1+\\mathrm{scale}_2)+\\mathrm{shift}_2$", 2.0, 8.25, MODULATION),
    "mlp": ("MLP\n$D \\to 4D \\to D$", 2.0, 9.5, TOKENS),
    "gate2": ("$\\times\\,\\mathrm{gate}_2$", 2.0, 10.55, MODULATION),
    "add2": ("$+$", 2.0, 11.45, RESIDUAL),
    "out": ("tokens out  $(N, T, D)$", 2.0, 12.45, TOKENS),
    "c": ("conditioning $c$\ntimestep + label\nembeddings  $(N, D)$", 6.6, 0.6, CONDITION),
    "ada": ("SiLU, then Linear $D \\to 6D$\nzero-initialised\n(adaLN-Zero)", 6.6, 2.2, CONDITION),
    "six1": ("$\\mathrm{shift}_1,\\ \\mathrm{scale}_1,\\ \\mathrm{gate}_1$", 6.6, 3.9, MODULATION),
    "six2": ("$\\mathrm{shift}_2,\\ \\mathrm{scale}_2,\\ \\mathrm{gate}_2$", 6.6, 7.6, MODULATION),
}
WIDE = {"mod1": 2.9, "mod2": 2.9, "ada": 3.0, "c": 2.6, "six1": 3.0, "six2": 3.0}
SMALL = {"add1", "add2"}


def _box(ax: plt.Axes, name: str) -> None:
    label, x, y, colour = BOXES[name]
    if name in SMALL:
        ax.add_patch(plt.Circle((x, y), 0.28, facecolor=colour, edgecolor="0.3", lw=1.2))
        ax.text(x, y, label, ha="center", va="center", fontsize=13)
        return
    width, height = WIDE.get(name, 2.5), 0.78 if "\n" in label else 0.55
    if label.count("\n") == 2:
        height = 1.0
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.06",
                                facecolor=colour, edgecolor="0.3", lw=1.2))
    ax.text(x, y, label, ha="center", va="center", fontsize=9)


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], colour: str = "0.25",
           curve: float = 0.0, style: str = "-|>", dashed: bool = False) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=colour, lw=1.3,
                                 connectionstyle=f"arc3,rad={curve}", linestyle="--" if dashed else "-"))


def draw() -> Figure:
    """The block as a picture: the token path on the left, the conditioning path on the right."""
    fig, ax = plt.subplots(figsize=(8.2, 8.6))
    for name in BOXES:
        _box(ax, name)
    column = ["x", "ln1", "mod1", "attn", "gate1", "add1", "ln2", "mod2", "mlp", "gate2", "add2", "out"]
    gap = {"x": 0.2, "out": 0.2, "add1": 0.28, "add2": 0.28, "gate1": 0.3, "gate2": 0.3}
    for lower, upper in zip(column, column[1:], strict=False):
        y0 = BOXES[lower][2] + gap.get(lower, 0.42 if "\n" in BOXES[lower][0] else 0.3)
        y1 = BOXES[upper][2] - gap.get(upper, 0.42 if "\n" in BOXES[upper][0] else 0.3)
        _arrow(ax, (2.0, y0), (2.0, y1))
    # the residual connections: x skips each branch and is added back after its gate
    red = "#b04a2f"
    ax.plot([0.35, 0.35], [0.4, 6.05], color=red, lw=1.3)
    ax.plot([0.35, 0.75], [0.4, 0.4], color=red, lw=1.3)
    _arrow(ax, (0.35, 6.05), (1.72, 6.05), colour=red)
    ax.plot([0.35, 0.35], [6.4, 11.45], color=red, lw=1.3)
    ax.plot([0.35, 2.0], [6.4, 6.4], color=red, lw=1.3)
    _arrow(ax, (0.35, 11.45), (1.72, 11.45), colour=red)
    ax.text(0.2, 3.2, "residual", rotation=90, ha="center", va="center", fontsize=8, color=red)
    ax.text(0.2, 8.9, "residual", rotation=90, ha="center", va="center", fontsize=8, color=red)
    # the conditioning path: c -> adaLN map -> six vectors, which modulate and gate the token path
    blue = "#2f5fb0"
    _arrow(ax, (6.6, 1.12), (6.6, 1.68), colour=blue)
    _arrow(ax, (6.6, 2.72), (6.6, 3.6), colour=blue)
    _arrow(ax, (7.6, 2.72), (7.6, 7.3), colour=blue, curve=0.0)
    _arrow(ax, (5.1, 3.9), (3.47, 2.95), colour=blue)
    _arrow(ax, (5.1, 4.05), (2.5, 5.15), colour=blue, curve=0.15)
    _arrow(ax, (5.1, 7.6), (3.47, 8.3), colour=blue)
    _arrow(ax, (5.1, 7.75), (2.5, 10.55), colour=blue, curve=0.15)
    ax.text(7.75, 5.4, "the same map,\nthree more\nvectors", fontsize=8, color=blue, va="center")
    ax.text(4.6, 12.1, "At initialisation every gate is 0,\nso the block returns its input exactly:\n"
            "$x + 0\\cdot\\mathrm{attn}(\\dots) + 0\\cdot\\mathrm{MLP}(\\dots) = x$", fontsize=9, va="center",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.6"})
    ax.set_xlim(-0.1, 9.0)
    ax.set_ylim(-0.2, 13.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("A DiT block with adaLN-Zero", fontsize=12)
    fig.tight_layout()
    return fig
