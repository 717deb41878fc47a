"""The 2-D training sets: the eight-Gaussians ring (a mixture, so its score is exact), two moons and the
swiss roll, each generated from a seed (nothing is downloaded)."""

from __future__ import annotations

import math

import torch

from diffusion_edu.core.checks import check_choice, check_int, check_number
from diffusion_edu.data.mixtures import eight_gaussians


def two_moons(n: int, noise: float = 0.06, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaving half circles (as scikit-learn's make_moons), centred and scaled to ~unit spread."""
    check_int("n", n)
    noise = check_number("noise", noise, low=0.0)
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return points + noise * torch.randn(n, 2, generator=generator)


def swiss_roll(n: int, noise: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """The 2-D swiss roll (a spiral), scaled to ~unit spread."""
    check_int("n", n)
    noise = check_number("noise", noise, low=0.0)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 7.0
    return points + noise * torch.randn(n, 2, generator=generator)


DATASETS_2D = ("eight_gaussians", "moons", "swiss_roll")


def sample_2d(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) from one of :data:`DATASETS_2D`."""
    check_choice("name", name, DATASETS_2D)
    if name == "eight_gaussians":
        return eight_gaussians().sample(n, generator)[0]
    if name == "moons":
        return two_moons(n, generator=generator)
    return swiss_roll(n, generator=generator)
