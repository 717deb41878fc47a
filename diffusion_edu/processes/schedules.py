"""Noise schedules: beta_t and everything derived from it.

Index convention: the package counts diffusion steps t = 0, ..., T-1, where index t is the
paper's step t + 1 (DDPM counts 1..T). So ``alpha_bar[0] = 1 - beta_1`` and ``alpha_bar[T-1]``
is the last, noisiest level. Tensors are float64: alpha_bar of the cosine schedule reaches
~1e-9 and its complement must stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from diffusion_edu.core.checks import check_choice, check_float_tensor, check_int, check_ndim, check_number, check_steps


@dataclass(frozen=True)
class Schedule:
    """A discrete variance schedule beta_1..beta_T (stored as ``betas[0..T-1]``)."""

    betas: torch.Tensor
    name: str = "custom"

    def __post_init__(self) -> None:
        check_ndim("betas", self.betas, 1)
        if len(self.betas) < 1:
            raise ValueError("betas: expected at least one step, got 0")
        betas = check_float_tensor("betas", self.betas)
        if betas.dtype != torch.float64:  # alpha_bar reaches ~1e-9: keep the schedule exact
            object.__setattr__(self, "betas", betas.to(torch.float64))
        if not bool(torch.all((self.betas > 0) & (self.betas < 1))):
            low, high = self.betas.min().item(), self.betas.max().item()
            raise ValueError(f"betas: expected values in (0, 1), got range [{low:.3g}, {high:.3g}]")

    @property
    def T(self) -> int:  # noqa: N802 (the paper's symbol)
        return int(self.betas.shape[0])

    @cached_property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @cached_property
    def alpha_bar(self) -> torch.Tensor:
        """alpha_bar_t = prod_{s<=t} alpha_s: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
        return torch.cumprod(self.alphas, dim=0)

    @cached_property
    def alpha_bar_prev(self) -> torch.Tensor:
        """alpha_bar_{t-1}, with alpha_bar before the first step equal to 1 (x_0 itself)."""
        return torch.cat([torch.ones(1, dtype=self.betas.dtype), self.alpha_bar[:-1]])

    @cached_property
    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar)."""
        return self.alpha_bar / (1.0 - self.alpha_bar)

    @cached_property
    def posterior_variance(self) -> torch.Tensor:
        """beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t, the variance of q(x_{t-1} | x_t, x_0)."""
        return (1.0 - self.alpha_bar_prev) / (1.0 - self.alpha_bar) * self.betas


def check_schedule(schedule: object) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule: expected a Schedule (e.g. linear_schedule(1000)), got {type(schedule).__name__}")
    return schedule


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """DDPM's linear betas (Ho et al. 2020). For T != 1000 the end points are scaled by 1000 / T
    (the convention of Nichol & Dhariwal 2021), so alpha_bar_T stays near 4e-5 for any T."""
    check_int("T", T)
    check_number("beta_start", beta_start, low=0.0, high=1.0, low_open=True, high_open=True)
    check_number("beta_end", beta_end, low=0.0, high=1.0, low_open=True, high_open=True)
    if beta_end < beta_start:
        raise ValueError(f"beta_end: expected a value >= beta_start = {beta_start}, got {beta_end}")
    scale = 1000.0 / T
    if beta_start * scale >= 1:
        raise ValueError(f"beta_start: expected beta_start * 1000 / T < 1 (betas below 1), got {beta_start:g} "
                         f"at T = {T}")
    betas = torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), T, dtype=torch.float64)
    return Schedule(betas, "linear")


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """IDDPM's cosine schedule: alpha_bar(t) = f(t) / f(0), f(t) = cos^2(((t/T + s) / (1 + s)) pi / 2),
    with betas clipped at ``max_beta`` to avoid the singularity at t = T (Nichol & Dhariwal 2021)."""
    check_int("T", T)
    check_number("s", s, low=0.0, high=1.0)
    check_number("max_beta", max_beta, low=0.0, high=1.0, low_open=True, high_open=True)
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)
    if not bool(torch.all(betas > 0)):
        raise ValueError(f"T: expected a step count whose betas are all > 0 with s = {s:g}, got T = {T}")
    return Schedule(betas, "cosine")


def respace_at(schedule: Schedule, kept: torch.Tensor) -> Schedule:
    """The shorter Markov chain whose marginals at the kept step indices (ascending) are the
    original's: beta'_i = 1 - alpha_bar[kept_i] / alpha_bar[kept_{i-1}] (and beta'_0 = 1 - alpha_bar[kept_0]),
    so prod (1 - beta') telescopes to alpha_bar[kept_i] (IDDPM's respacing, Nichol & Dhariwal 2021).
    :func:`diffusion_edu.processes.ddpm.ddpm_sample` runs this chain on a sub-grid; choose the kept steps
    with :func:`diffusion_edu.processes.grids.sub_grid`."""
    check_schedule(schedule)
    kept = check_steps("kept", kept, schedule.T)
    if kept.ndim != 1 or len(kept) < 1:
        raise ValueError(f"kept: expected a non-empty 1-D tensor of step indices, got shape {tuple(kept.shape)}")
    if bool(torch.any(kept[1:] <= kept[:-1])):
        raise ValueError("kept: expected strictly increasing step indices")
    alpha_bar = schedule.alpha_bar[kept.cpu()]
    alpha_bar_prev = torch.cat([torch.ones(1, dtype=alpha_bar.dtype), alpha_bar[:-1]])
    return Schedule(1 - alpha_bar / alpha_bar_prev, f"{schedule.name}-respaced-{len(kept)}")


SCHEDULES = {"linear": linear_schedule, "cosine": cosine_schedule}


def make_schedule(name: str, T: int = 1000) -> Schedule:
    """``linear`` or ``cosine`` with T steps."""
    check_choice("name", name, list(SCHEDULES))
    check_int("T", T)
    return SCHEDULES[name](T)
