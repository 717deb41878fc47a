"""Noise-conditional score networks s_theta(x, t) ~ grad_x log p_t(x), as in note 002 and Song et
al.'s tutorial: Gaussian random Fourier features of a continuous time (or noise level), and the
output divided by the marginal standard deviation the caller passes, so that the network only has
to predict -z (unit scale) and s = -z / std has the right size at every noise level.

``forward(x, t, std)``: the caller supplies ``std`` (N,) (a process module knows the SDE, a net
does not), e.g. ``lambda x, t: net(x, t, sde.marginal_std(t))``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_edu.core.checks import check_even, check_positive, check_sizes
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.nets.embeddings import GaussianFourierProjection
from diffusion_edu.nets.mlp import ResidualBlock
from diffusion_edu.nets.unet import ResBlock, _norm


class FourierEmbedding(nn.Module):
    """Gaussian Fourier features of t followed by a two-layer MLP: (N,) -> (N, dim)."""

    def __init__(self, dim: int, scale: float) -> None:
        super().__init__()
        check_even("dim", dim)
        self.mlp = nn.Sequential(GaussianFourierProjection(dim, scale), nn.Linear(dim, dim), nn.SiLU(),
                                 nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(t)


def _check_std(std: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(std, torch.Tensor) or std.shape != (x.shape[0],):
        shape = tuple(std.shape) if isinstance(std, torch.Tensor) else type(std).__name__
        raise ValueError(f"std: expected a tensor of shape ({x.shape[0]},), got {shape}")
    return append_dims(std, x)  # (N, 1, ...)


class ScoreMLP(nn.Module):
    """Residual MLP score model for 2-D data: (x (N, D), t (N,), std (N,)) -> (N, D)."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, fourier_scale: float = 4.0) -> None:
        super().__init__()
        check_sizes(dim=dim)
        check_sizes(0, depth=depth)
        check_even("width", width)
        check_positive("fourier_scale", fourier_scale)
        self.dim, self.width, self.depth = dim, width, depth
        self.time_embedding = FourierEmbedding(width, fourier_scale)
        self.input = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.output = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        std = _check_std(std, x)  # (N, 1)
        emb = self.time_embedding(t)  # (N, W)
        h = self.input(x * (1 + std**2).rsqrt())  # (N, W), input scaled to ~unit size
        for block in self.blocks:
            h = block(h, emb)
        return self.output(h) / std  # (N, D)


class ScoreUNet(nn.Module):
    """note 002's ScoreNet, shrunk to 8x8 digits: the book's U-Net blocks (8 -> 4 -> 2 with skips), a
    Gaussian-Fourier time embedding, and the output divided by the marginal std: (N, C, 8, 8)."""

    def __init__(self, in_channels: int = 1, channels: int = 32, fourier_scale: float = 16.0) -> None:
        super().__init__()
        check_sizes(in_channels=in_channels, channels=channels)
        check_positive("fourier_scale", fourier_scale)
        self.in_channels, self.channels = in_channels, channels
        c, emb_dim = channels, 4 * channels
        self.time_embedding = FourierEmbedding(emb_dim, fourier_scale)
        self.input = nn.Conv2d(in_channels, c, 3, padding=1)
        self.down_1 = ResBlock(c, c, emb_dim)  # 8x8
        self.down_2 = ResBlock(c, 2 * c, emb_dim)  # 4x4
        self.mid_1 = ResBlock(2 * c, 2 * c, emb_dim)  # 2x2
        self.mid_2 = ResBlock(2 * c, 2 * c, emb_dim)
        self.up_2 = ResBlock(4 * c, 2 * c, emb_dim)  # 4x4
        self.up_1 = ResBlock(3 * c, c, emb_dim)  # 8x8
        self.output = nn.Sequential(_norm(c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))
        self.to(memory_format=torch.channels_last)  # as UNet: faster convolutions

    def forward(self, x: torch.Tensor, t: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        std = _check_std(std, x)  # (N, 1, 1, 1)
        emb = self.time_embedding(t)  # (N, E)
        x = x.contiguous(memory_format=torch.channels_last)  # as in UNet.forward: faster convolutions
        h1 = self.down_1(self.input(x * (1 + std**2).rsqrt()), emb)  # (N, c, 8, 8), input at ~unit size
        h2 = self.down_2(F.avg_pool2d(h1, 2), emb)  # (N, 2c, 4, 4)
        h = self.mid_2(self.mid_1(F.avg_pool2d(h2, 2), emb), emb)  # (N, 2c, 2, 2)
        h = self.up_2(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h2], 1), emb)  # (N, 2c, 4, 4)
        h = self.up_1(torch.cat([F.interpolate(h, scale_factor=2.0, mode="nearest"), h1], 1), emb)  # (N, c, 8, 8)
        return self.output(h).contiguous() / std
