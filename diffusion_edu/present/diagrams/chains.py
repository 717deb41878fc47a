"""The two Markov chains of DDPM: the forward chain q(x_t | x_{t-1}) that adds noise (left to right)
and the learned reverse chain p_theta(x_{t-1} | x_t) that removes it (right to left), with a noised
2-D ring under each node."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch

# the nodes drawn: (label, t / T); the dots stand for the steps left out
NODES: tuple[tuple[str, float | None], ...] = (
    ("$x_0$", 0.0), ("$x_1$", 0.04), (r"$\cdots$", None), ("$x_{t-1}$", 0.3), ("$x_t$", 0.34),
    (r"$\cdots$", None), ("$x_T$", 1.0))


def _alpha_bar(fraction: float, s: float = 0.008) -> float:
    """The cosine schedule's alpha_bar at t / T = fraction (chapter 9), for the thumbnails."""
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    return max(f(fraction) / f(0.0), 0.0)


def _ring(n: int, seed: int) -> np.ndarray:
    """n points on a ring of radius 1, with a little radial spread (seeded)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1 + 0.05 * rng.standard_normal(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)


def draw(n_points: int = 300, seed: int = 0) -> Figure:
    """The forward chain (top arrows) and the reverse chain (bottom arrows) over x_0, ..., x_T, with
    the ring noised as x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps under each node."""
    width, height = 10.0, 3.6
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0.46, 1, 0.42))
    ax.set_xlim(-0.5, len(NODES) - 0.5)
    half = len(NODES) * 0.42 * height / width / 2  # equal scales on both axes: the nodes are circles
    ax.set_ylim(-half, half)
    ax.axis("off")
    x0 = _ring(n_points, seed)
    noise = np.random.default_rng(seed + 1).standard_normal(x0.shape)
    for i, (label, fraction) in enumerate(NODES):
        if fraction is None:
            ax.text(i, 0, label, ha="center", va="center", fontsize=16)
        else:
            ax.add_patch(Circle((i, 0), 0.3, facecolor="#eef2f7", edgecolor="#345", lw=1.4))
            ax.text(i, 0, label, ha="center", va="center", fontsize=14)
            thumb = fig.add_axes((i / len(NODES) + 0.015, 0.02, 1 / len(NODES) - 0.03, 0.33))
            abar = _alpha_bar(fraction)
            points = math.sqrt(abar) * x0 + math.sqrt(1 - abar) * noise
            thumb.scatter(points[:, 0], points[:, 1], s=2, color="#345")
            thumb.set_xlim(-3, 3)
            thumb.set_ylim(-3, 3)
            thumb.set_xticks([])
            thumb.set_yticks([])
            thumb.set_aspect("equal")
            thumb.set_title(rf"$\bar\alpha = {abar:.2f}$", fontsize=8)
    style = dict(arrowstyle="-|>", mutation_scale=14, lw=1.3)
    for i in range(len(NODES) - 1):
        forward = FancyArrowPatch((i + 0.36, 0.12), (i + 0.64, 0.12), connectionstyle="arc3,rad=-0.5",
                                  color="#c0392b", **style)
        reverse = FancyArrowPatch((i + 0.64, -0.12), (i + 0.36, -0.12), connectionstyle="arc3,rad=-0.5",
                                  color="#1f6f9f", **style)
        ax.add_patch(forward)
        ax.add_patch(reverse)
    fig.text(0.5, 0.92, r"forward, fixed: $q(x_t\mid x_{t-1}) = \mathcal{N}(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I)$",
             ha="center", color="#c0392b", fontsize=11)
    fig.text(0.5, 0.405, r"reverse, learned: $p_\theta(x_{t-1}\mid x_t) = \mathcal{N}(\mu_\theta(x_t, t),\ s_t^2 I)$",
             ha="center", color="#1f6f9f", fontsize=11)
    return fig
