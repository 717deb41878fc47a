"""Choosing the grid a sampler visits (see :mod:`diffusion_edu.processes.sampling`): one function for
the step indices of a discrete schedule, one for continuous SDE times, one for NCSN noise levels.
Every grid comes out in the order a sampler visits it: decreasing.
"""

from __future__ import annotations

import math

import torch

from diffusion_edu.core.checks import check_choice, check_int, check_positive

SPACINGS = ("leading", "trailing", "linspace", "quadratic")
TIME_SPACINGS = ("uniform", "geometric")


def sub_grid(T: int, n_steps: int | None = None, spacing: str = "leading") -> torch.Tensor:  # noqa: N803 (paper's T)
    """``n_steps`` of the step indices 0..T-1 of a schedule (all of them if None), decreasing, as a long
    tensor (n_steps,).

    ``leading``: tau_i = i * (T // n_steps), DDIM's "uniform" choice (its official code);
    ``trailing``: the same grid shifted to end at T - 1, so the first step starts from the noisiest
    level (Lin et al. 2024); ``linspace``: round(linspace(0, T - 1, n_steps)), IDDPM's respacing
    (Nichol & Dhariwal 2021, section 4), which keeps both ends; ``quadratic``:
    tau_i ~ (i * sqrt(0.8 T) / n_steps)^2, DDIM's CIFAR-10 choice, denser at low noise.
    ``n_steps == T`` gives every step for every spacing.

    DDPM on a sub-grid is IDDPM's respaced chain, DDIM on it is DDIM's sub-sequence tau. A sub-grid
    sub-samples *time*: every sample is updated at every kept step (chapter 10).
    """
    check_int("T", T)
    n_steps = T if n_steps is None else check_int("n_steps", n_steps)
    check_choice("spacing", spacing, SPACINGS)
    if n_steps > T:
        raise ValueError(f"n_steps: expected at most T = {T} steps, got {n_steps}")
    if n_steps == T:
        steps = torch.arange(T)
    elif spacing == "leading":
        steps = torch.arange(n_steps) * (T // n_steps)
    elif spacing == "trailing":
        steps = torch.round(torch.arange(T, 0, -T / n_steps)).long().flip(0) - 1
    elif spacing == "linspace":
        steps = torch.linspace(0, T - 1, n_steps, dtype=torch.float64).round()
    else:
        steps = torch.linspace(0, math.sqrt(0.8 * T), n_steps) ** 2
    steps = steps.long()
    if len(torch.unique(steps)) != n_steps:
        raise ValueError(f"n_steps: {n_steps} steps with spacing {spacing!r} repeat a step of T = {T}")
    return steps.flip(0)


def time_grid(n_steps: int, t_min: float = 1e-3, spacing: str = "uniform") -> list[float]:
    """n_steps + 1 times from 1 down to t_min (an SDE sampler takes n_steps steps between them):
    ``uniform`` (Song et al. 2021) or ``geometric`` (constant ratio, small steps near t_min where
    the score of a sharp density is stiff)."""
    check_int("n_steps", n_steps)
    check_choice("spacing", spacing, TIME_SPACINGS)
    if isinstance(t_min, bool) or not isinstance(t_min, float) or not 0 < t_min < 1:
        raise ValueError(f"t_min: expected a float in (0, 1), got {t_min!r}")
    if spacing == "uniform":
        return torch.linspace(1.0, t_min, n_steps + 1, dtype=torch.float64).tolist()
    return torch.logspace(0.0, math.log10(t_min), n_steps + 1, dtype=torch.float64).tolist()


def sigma_grid(sigma_max: float, sigma_min: float, n_levels: int) -> list[float]:
    """Noise levels sigma_1 > ... > sigma_L in geometric progression (NCSN, Song & Ermon 2019)."""
    check_positive("sigma_max", sigma_max)
    check_positive("sigma_min", sigma_min)
    check_int("n_levels", n_levels, minimum=2)
    if sigma_min >= sigma_max:
        raise ValueError(f"sigma_min: expected a value below sigma_max = {sigma_max}, got {sigma_min}")
    ratio = math.log(sigma_min / sigma_max) / (n_levels - 1)
    return [sigma_max * math.exp(i * ratio) for i in range(n_levels)]
