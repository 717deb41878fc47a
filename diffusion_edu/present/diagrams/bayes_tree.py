"""Bayes' theorem as a tree of natural frequencies (chapter 1): a population split first by the
cause (disease or not, the prior), then by the evidence (test positive or not, the likelihood).
The posterior P(D | +) is one branch's count over the count of every positive leaf."""

from __future__ import annotations

from fractions import Fraction

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

SICK, HEALTHY, POSITIVE = "#c0392b", "#1f6f9f", "#f3d9a4"


def counts(people: int, prevalence: Fraction, sensitivity: Fraction, specificity: Fraction) -> dict[str, Fraction]:
    """Expected counts at each node of the tree (exact fractions)."""
    sick = people * prevalence
    healthy = people - sick
    return {"people": Fraction(people), "sick": sick, "healthy": healthy,
            "true_pos": sick * sensitivity, "false_neg": sick * (1 - sensitivity),
            "false_pos": healthy * (1 - specificity), "true_neg": healthy * specificity}


def _number(value: Fraction) -> str:
    return f"{int(value):,}" if value.denominator == 1 else f"{float(value):,.1f}"


def draw(people: int = 10_000, prevalence: Fraction = Fraction(1, 100), sensitivity: Fraction = Fraction(99, 100),
         specificity: Fraction = Fraction(95, 100)) -> Figure:
    """The tree for a test of the given sensitivity and specificity; the positive leaves are shaded."""
    n = counts(people, Fraction(prevalence), Fraction(sensitivity), Fraction(specificity))
    fig, ax = plt.subplots(figsize=(8.0, 3.4))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4.4)
    ax.axis("off")
    # (key, label, x, y, edge colour, shaded)
    nodes = [
        ("people", "people tested", 5.0, 3.8, "#345", False),
        ("sick", "disease $D$", 2.5, 2.4, SICK, False),
        ("healthy", r"no disease $\bar D$", 7.5, 2.4, HEALTHY, False),
        ("true_pos", "test $+$", 1.2, 0.9, SICK, True),
        ("false_neg", "test $-$", 3.8, 0.9, SICK, False),
        ("false_pos", "test $+$", 6.2, 0.9, HEALTHY, True),
        ("true_neg", "test $-$", 8.8, 0.9, HEALTHY, False),
    ]
    where = {key: (x, y) for key, _, x, y, _, _ in nodes}
    edges = [("people", "sick", f"$P(D) = {prevalence}$"), ("people", "healthy", rf"$P(\bar D) = {1 - prevalence}$"),
             ("sick", "true_pos", rf"$P(+\mid D) = {sensitivity}$"), ("sick", "false_neg", ""),
             ("healthy", "false_pos", rf"$P(+\mid \bar D) = {1 - specificity}$"), ("healthy", "true_neg", "")]
    for start, end, label in edges:
        (x0, y0), (x1, y1) = where[start], where[end]
        ax.annotate("", (x1, y1 + 0.38), (x0, y0 - 0.38), arrowprops=dict(arrowstyle="-|>", color="0.4", lw=1.1))
        if label:
            ax.text((x0 + x1) / 2 + (0.15 if x1 > x0 else -0.15), (y0 + y1) / 2, label, fontsize=9,
                    ha="left" if x1 > x0 else "right", va="center")
    for key, label, x, y, colour, shaded in nodes:
        ax.add_patch(FancyBboxPatch((x - 0.95, y - 0.36), 1.9, 0.72, boxstyle="round,pad=0.02",
                                    facecolor=POSITIVE if shaded else "white", edgecolor=colour, lw=1.4))
        ax.text(x, y + 0.12, _number(n[key]), ha="center", va="center", fontsize=11, weight="bold")
        ax.text(x, y - 0.17, label, ha="center", va="center", fontsize=8)
    positives = n["true_pos"] + n["false_pos"]
    ax.text(5.0, 0.1, rf"$P(D\mid +) = \frac{{{_number(n['true_pos'])}}}{{{_number(n['true_pos'])} + "
            rf"{_number(n['false_pos'])}}} = {n['true_pos'] / positives}$: "
            "the shaded sick leaf over both shaded leaves",
            ha="center", va="center", fontsize=10)
    fig.tight_layout()
    return fig
