"""What the noising widget shows, drawn with matplotlib: a source (a 28x28 MNIST digit, an 8x8 digit or
2-D points, with fixed noise), x_t for a schedule and t, the histogram of its values and the schedule's curves."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from diffusion_edu import data
from diffusion_edu.core.checks import check_choice, check_int
from diffusion_edu.processes.schedules import Schedule, check_schedule, make_schedule

MNIST_SOURCES = ("MNIST 3", "MNIST 7")  # real 28x28 handwriting first: what the widget opens on
DIGIT_SOURCES = ("digit 0", "digit 3", "digit 7")  # scikit-learn's 8x8 digits
SOURCES = (*MNIST_SOURCES, *DIGIT_SOURCES, "8 Gaussians", "swiss roll")
N_NOISE_DRAWS = 256  # noisy copies of a digit whose pixels make the histogram
N_POINTS_2D = 1000


@dataclass(frozen=True)
class Source:
    """What gets noised: a digit (1, 1, H, W), H = W = 28 or 8, or 2-D points (N, 2), and fixed noise for it."""

    name: str
    x0: torch.Tensor
    noise: torch.Tensor  # (N_NOISE_DRAWS, 1, H, W) for a digit, (N, 2) for points

    @property
    def is_image(self) -> bool:
        return self.x0.ndim == 4


def typical_mnist_digit(label: int) -> torch.Tensor:
    """The held-out MNIST digit of class ``label`` nearest (in pixels) to the mean of that class's training
    digits: a deterministic, legible choice (an outlier's odd strokes would distract from the noise).
    Returns (1, 1, 28, 28)."""
    check_int("label", label, minimum=0)
    if label > 9:
        raise ValueError(f"label: expected a digit class in [0, 9], got {label}")
    digits = data.load_mnist()
    mean = digits.train_images[digits.train_labels == label].mean(0)  # (1, 28, 28)
    candidates = digits.test_images[digits.test_labels == label]  # (50, 1, 28, 28)
    nearest = int((candidates - mean).flatten(1).square().sum(1).argmin())
    return candidates[nearest:nearest + 1]


@lru_cache(maxsize=16)
def source(name: str, seed: int = 0) -> Source:
    """A digit ("MNIST 3": the typical held-out 28x28 three, :func:`typical_mnist_digit`; "digit 3": the
    first held-out 8x8 three) or samples of a 2-D dataset, with seeded noise.

    The noise is drawn once: sliding t moves the *same* draws, so the frames form a continuous path."""
    check_choice("name", name, SOURCES)
    check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    if name.startswith("MNIST"):
        x0 = typical_mnist_digit(int(name.split()[1]))  # (1, 1, 28, 28)
        return Source(name, x0, torch.randn(N_NOISE_DRAWS, *x0.shape[1:], generator=generator))
    if name.startswith("digit"):
        digits = data.load_digits()
        label = int(name.split()[1])
        x0 = digits.test_images[digits.test_labels == label][:1]  # (1, 1, 8, 8)
        return Source(name, x0, torch.randn(N_NOISE_DRAWS, 1, 8, 8, generator=generator))
    dataset = {"8 Gaussians": "eight_gaussians", "swiss roll": "swiss_roll"}[name]
    x0 = data.sample_2d(dataset, N_POINTS_2D, generator)  # (N, 2)
    return Source(name, x0, torch.randn(x0.shape, generator=generator))


def alpha_bar_at(schedule: Schedule, t: int) -> float:
    """alpha_bar_t with the paper's t in 0..T (alpha_bar_0 = 1: x_0 itself)."""
    check_schedule(schedule)
    check_int("t", t, minimum=0)
    if t > schedule.T:
        raise ValueError(f"t: expected a step in [0, {schedule.T}], got {t}")
    return 1.0 if t == 0 else float(schedule.alpha_bar[t - 1])


def noised(src: Source, schedule: Schedule, t: int) -> torch.Tensor:
    """x_t for every noise draw of ``src``: (N_NOISE_DRAWS, 1, H, W) for a digit, (N, 2) for points."""
    if not isinstance(src, Source):
        raise TypeError(f"src: expected a Source (noising_widget.source(name)), got {type(src).__name__}")
    alpha_bar = alpha_bar_at(schedule, t)
    return math.sqrt(alpha_bar) * src.x0 + math.sqrt(1.0 - alpha_bar) * src.noise


def draw_state(ax_x: Axes, ax_hist: Axes, src: Source, schedule: Schedule, t: int) -> None:
    """x_t (the first noisy copy of the digit, or all noisy points) and the histogram of its values
    against the N(0, 1) density."""
    x_t = noised(src, schedule, t)
    alpha_bar = alpha_bar_at(schedule, t)
    if src.is_image:
        ax_x.imshow(x_t[0, 0].numpy(), cmap="gray_r", vmin=-2.5, vmax=2.5)
        ax_x.set_axis_off()
    else:
        ax_x.scatter(x_t[:, 0].numpy(), x_t[:, 1].numpy(), s=1.5, c="tab:blue", alpha=0.6)
        ax_x.set_xlim(-3.5, 3.5)
        ax_x.set_ylim(-3.5, 3.5)
        ax_x.set_aspect("equal")
        ax_x.set_xticks([])
        ax_x.set_yticks([])
    ax_x.set_title(f"$x_t$, $t = {t}$", fontsize=9)
    grid = torch.linspace(-4, 4, 200)
    ax_hist.hist(x_t.flatten().numpy(), bins=48, range=(-4, 4), density=True, color="0.65")
    ax_hist.plot(grid.numpy(), (torch.exp(-grid**2 / 2) / math.sqrt(2 * math.pi)).numpy(), color="tab:red", lw=1.2)
    ax_hist.set_xlim(-4, 4)
    ax_hist.set_ylim(0, 1.6)
    ax_hist.set_yticks([])
    ax_hist.tick_params(labelsize=7)
    ax_hist.set_title(rf"values of $x_t$ vs $\mathcal{{N}}(0,1)$; $\bar\alpha_t = {alpha_bar:.3g}$", fontsize=8)


def draw_curves(ax: Axes, schedule: Schedule, t: int | None = None) -> Axes:
    """alpha_bar(t) (left axis) and log10 SNR(t) (right axis) over t = 1..T, with t marked."""
    check_schedule(schedule)
    if t is not None:
        alpha_bar_at(schedule, t)  # t in 0..T
    steps = torch.arange(1, schedule.T + 1)
    ax.plot(steps.numpy(), schedule.alpha_bar.numpy(), color="tab:blue", lw=1.5)
    ax.set_ylabel(r"$\bar\alpha_t$", color="tab:blue", fontsize=9)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, schedule.T)
    ax.set_xlabel("t", fontsize=8)
    ax.tick_params(labelsize=7)
    right = ax.twinx()
    right.plot(steps.numpy(), torch.log10(schedule.snr).numpy(), color="tab:orange", lw=1.5)
    right.set_ylabel(r"$\log_{10}\,\mathrm{SNR}(t)$", color="tab:orange", fontsize=8)
    right.set_ylim(-9, 5)
    right.tick_params(labelsize=7)
    ax.set_title(f"{schedule.name} schedule", fontsize=9)
    if t is not None:
        ax.axvline(t, color="k", lw=1)
    return ax


def figure(source_name: str = "MNIST 3", schedule_name: str = "linear", t: int = 250, T: int = 1000) -> Figure:
    """The whole picture for one state (used by :func:`live`; also handy in exercises)."""
    schedule = make_schedule(schedule_name, T)
    fig, (ax_x, ax_hist, ax_curves) = plt.subplots(1, 3, figsize=(10, 2.6), width_ratios=[1, 1.4, 1.8])
    draw_state(ax_x, ax_hist, source(source_name), schedule, t)
    draw_curves(ax_curves, schedule, t)
    fig.tight_layout()
    return fig
