"""GAN networks: MLPs for 2-D data, and a small DCGAN-style pair for the 8x8 digits.

Discriminators return *logits* l (D = sigmoid(l)): the losses use log-sigmoid, which is
stable where log D would underflow (Goodfellow et al. 2014; Radford et al. 2016 for DCGAN).
"""

from __future__ import annotations

import torch
from torch import nn

from diffusion_edu.core.checks import check_sizes


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, out_dim)."""

    def __init__(self, latent_dim: int = 2, out_dim: int = 2, width: int = 128, depth: int = 3) -> None:
        super().__init__()
        check_sizes(latent_dim=latent_dim, out_dim=out_dim, width=width, depth=depth)
        self.latent_dim, self.out_dim, self.width, self.depth = latent_dim, out_dim, width, depth
        layers: list[nn.Module] = []
        d_in = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.ReLU()]
            d_in = width
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.net(latents)


class MLPDiscriminator(nn.Module):
    """x (N, in_dim) -> logit (N,)."""

    def __init__(self, in_dim: int = 2, width: int = 128, depth: int = 3) -> None:
        super().__init__()
        check_sizes(in_dim=in_dim, width=width, depth=depth)
        self.in_dim, self.width, self.depth = in_dim, width, depth
        layers: list[nn.Module] = []
        d_in = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d_in, width), nn.LeakyReLU(0.2)]
            d_in = width
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class DigitGenerator(nn.Module):
    """DCGAN-style: z (N, latent_dim) -> (N, 4w, 2, 2) -> (N, 2w, 4, 4) -> (N, w, 8, 8) -> (N, 1, 8, 8) in [-1, 1]."""

    def __init__(self, latent_dim: int = 32, width: int = 32) -> None:
        super().__init__()
        check_sizes(latent_dim=latent_dim, width=width)
        self.latent_dim, self.width = latent_dim, width
        self.project = nn.Sequential(nn.Linear(latent_dim, 4 * width * 4), nn.BatchNorm1d(4 * width * 4), nn.ReLU())
        self.body = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1),  # (N, 2w, 4, 4)
            nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # (N, w, 8, 8)
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 1, 3, padding=1), nn.Tanh(),  # (N, 1, 8, 8)
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(latents).view(-1, 4 * self.width, 2, 2))


class DigitDiscriminator(nn.Module):
    """DCGAN-style: (N, 1, 8, 8) -> (N, w, 8, 8) -> (N, 2w, 4, 4) -> (N, 4w, 2, 2) -> logit (N,)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        check_sizes(width=width)
        self.width = width
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.LeakyReLU(0.2),  # (N, w, 8, 8)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, 2w, 4, 4)
            nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, 4w, 2, 2)
            nn.Flatten(), nn.Linear(4 * width * 4, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).squeeze(-1)
