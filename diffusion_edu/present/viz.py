"""Plots: sample grids, 2-D scatter against the data, and kernel-free animations.

Animations are matplotlib's ``to_jshtml``: the frames and a slider with play controls are
embedded in the page, so they work in the static book with no kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib
import matplotlib.pyplot as plt
import torch
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from diffusion_edu.core.checks import check_callable, check_float_tensor, check_int, check_positive


def sample_grid(images: torch.Tensor, nrow: int = 10, title: str | None = None, ax: Axes | None = None) -> Figure:
    """Images (N, 1, H, W) in [-1, 1] tiled into a grid of ``nrow`` columns."""
    images = check_float_tensor("images", images, ndim=4)
    check_int("nrow", nrow)
    images = images.detach().cpu().clamp(-1, 1)
    n, _, h, w = images.shape
    ncol_rows = (n + nrow - 1) // nrow
    canvas = torch.ones(ncol_rows * (h + 1) + 1, nrow * (w + 1) + 1)
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = images[i, 0]
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.45 * nrow + 0.5, 0.45 * ncol_rows + 0.5))
    fig = ax.figure
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=-1, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig


def scatter_vs_data(
    samples: torch.Tensor, data: torch.Tensor, title: str | None = None, ax: Axes | None = None, lim: float = 3.0
) -> Axes:
    """2-D samples (orange) over the data (grey), on equal axes."""
    for name, value in (("samples", samples), ("data", data)):
        value = check_float_tensor(name, value, ndim=2, nonempty=False)
        if value.shape[1] != 2:
            raise ValueError(f"{name}: expected 2-D points of shape (N, 2), got {tuple(value.shape)}")
    check_positive("lim", lim)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    data, samples = data.detach().cpu(), samples.detach().cpu()
    ax.scatter(data[:, 0], data[:, 1], s=3, c="0.7", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=3, c="tab:orange", label="samples")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def animate(fig: Figure, update: Callable[[int], object], n_frames: int, interval_ms: int = 200) -> HTML:
    """A kernel-free animation: ``update(i)`` redraws frame i; returns the HTML slider player."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig: expected a matplotlib Figure, got {type(fig).__name__}")
    check_callable("update", update, "update(i)")
    check_int("n_frames", n_frames)
    check_int("interval_ms", interval_ms)
    matplotlib.rcParams["animation.embed_limit"] = 50.0  # MB
    animation = FuncAnimation(fig, update, frames=n_frames, interval=interval_ms, blit=False)
    html = animation.to_jshtml(default_mode="once")
    plt.close(fig)
    return HTML(html)


def line_plot(xs: Sequence[float], ys_by_label: dict[str, Sequence[float]], xlabel: str, ylabel: str,
              ax: Axes | None = None, logy: bool = False) -> Axes:
    """One line per label over ``xs``; every ys must have len(xs) values."""
    for label, ys in ys_by_label.items():
        if len(ys) != len(xs):
            raise ValueError(f"ys_by_label: expected {len(xs)} values for {label!r} (as xs), got {len(ys)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, ys in ys_by_label.items():
        ax.plot(xs, ys, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return ax
