"""Autoencoder and VAE for the 8x8 digits (MLPs: 64 pixels are too few for convolutions to pay off).

Both map images (N, 1, 8, 8) in [-1, 1] to a latent vector (N, latent_dim) and back. The VAE's
encoder returns the mean and the log-variance of a diagonal Gaussian q(z|x); its decoder returns
the mean f(z) of the Gaussian p(x|z) = N(f(z), c I) (Kingma & Welling 2014).
"""

from __future__ import annotations

import torch
from torch import nn

from diffusion_edu.core.checks import check_sizes

N_PIXELS = 64


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(dims) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class DigitAutoencoder(nn.Module):
    """A deterministic autoencoder: x -> z = encode(x) -> decode(z) = x_hat."""

    def __init__(self, latent_dim: int = 2, width: int = 256) -> None:
        super().__init__()
        check_sizes(latent_dim=latent_dim, width=width)
        self.latent_dim = latent_dim
        self.width = width
        self.encoder = _mlp([N_PIXELS, width, width, latent_dim])
        self.decoder = _mlp([latent_dim, width, width, N_PIXELS])

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images.flatten(1))  # (N, 64) -> (N, L)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents).view(-1, 1, 8, 8)  # (N, L) -> (N, 1, 8, 8)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))


class DigitVAE(nn.Module):
    """Encoder x -> (mean, log_var) of q(z|x) (one shared trunk, two heads); decoder z -> f(z)."""

    def __init__(self, latent_dim: int = 8, width: int = 256) -> None:
        super().__init__()
        check_sizes(latent_dim=latent_dim, width=width)
        self.latent_dim = latent_dim
        self.width = width
        self.trunk = _mlp([N_PIXELS, width, width])
        self.trunk.append(nn.SiLU())
        self.to_mean = nn.Linear(width, latent_dim)
        self.to_log_var = nn.Linear(width, latent_dim)
        self.decoder = _mlp([latent_dim, width, width, N_PIXELS])

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log_var), each (N, L): the diagonal Gaussian q(z|x)."""
        hidden = self.trunk(images.flatten(1))  # (N, W)
        return self.to_mean(hidden), self.to_log_var(hidden)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """The decoder mean f(z): (N, L) -> (N, 1, 8, 8)."""
        return self.decoder(latents).view(-1, 1, 8, 8)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruction from the posterior mean (no sampling): decode(mean(x))."""
        return self.decode(self.encode(images)[0])
