"""A Gaussian with learnable mean and full covariance: the simplest generative model."""

from __future__ import annotations

import math

import torch
from torch import nn

from diffusion_edu.core.checks import check_sizes


class FullGaussian(nn.Module):
    """N(mean, L L^T) with L lower-triangular and a positive diagonal (via exp), so every
    parameter value is a valid covariance and plain gradient descent can be used."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        check_sizes(dim=dim)
        self.dim = dim
        self.mean = nn.Parameter(torch.zeros(dim))
        self.raw_tril = nn.Parameter(torch.zeros(dim, dim))  # diagonal holds log of L's diagonal

    @property
    def scale_tril(self) -> torch.Tensor:
        lower = torch.tril(self.raw_tril, diagonal=-1)
        return lower + torch.diag(torch.exp(torch.diagonal(self.raw_tril)))

    @property
    def covariance(self) -> torch.Tensor:
        scale = self.scale_tril
        return scale @ scale.T

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; mean, L L^T) for (N, D) x: -|L^{-1}(x - mean)|^2 / 2 - sum log diag L - D log(2 pi) / 2."""
        scale = self.scale_tril
        whitened = torch.linalg.solve_triangular(scale, (x - self.mean).T, upper=False)  # (D, N)
        log_det = torch.diagonal(self.raw_tril).sum()
        return -0.5 * whitened.square().sum(0) - log_det - 0.5 * self.dim * math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(n, self.dim, generator=generator)
        return self.mean + noise @ self.scale_tril.T  # reparameterisation, x = mu + L z
