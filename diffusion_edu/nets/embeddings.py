"""Timestep embeddings shared by the denoisers."""

from __future__ import annotations

import math

import torch
from torch import nn

from diffusion_edu.core.checks import check_even, check_int, check_positive, check_sizes


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style features of (possibly fractional) timesteps: (N,) -> (N, dim).

    Frequencies are geometric from 1 to 1/max_period, so both the first and the last of ~1000
    steps get distinct codes (Vaswani et al. 2017; DDPM's U-Net uses the same). ``dim`` must be even."""
    check_even("dim", dim)
    if not isinstance(t, torch.Tensor) or t.ndim != 1:
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"t: expected a 1-D tensor of timesteps (N,), got {got}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (N, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class TimestepEmbedding(nn.Module):
    """sinusoidal(t) -> MLP -> (N, dim)."""

    def __init__(self, dim: int, frequency_dim: int = 64) -> None:
        super().__init__()
        check_sizes(dim=dim)
        check_even("frequency_dim", frequency_dim)
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.frequency_dim))


class GaussianFourierProjection(nn.Module):
    """Random Fourier features of a (continuous) time: [sin(2 pi W t), cos(2 pi W t)] with fixed
    W ~ N(0, scale^2), (N,) -> (N, dim). The time embedding of note 002's score network
    (Song et al. 2021, after Tancik et al. 2020); the sinusoidal embedding uses fixed geometric
    frequencies instead of random ones."""

    def __init__(self, dim: int, scale: float = 30.0, seed: int = 0) -> None:
        super().__init__()
        check_positive("scale", scale)
        check_int("seed", seed, minimum=0)
        check_even("dim", dim)
        weight = torch.randn(dim // 2, generator=torch.Generator().manual_seed(seed)) * scale
        self.register_buffer("weight", weight)  # fixed, not trained

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.float()[:, None] * self.weight[None] * 2 * math.pi  # (N, dim / 2)
        return torch.cat([torch.sin(args), torch.cos(args)], dim=1)
