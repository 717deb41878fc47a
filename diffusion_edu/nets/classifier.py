"""The digit classifier whose features define the digit metrics (an 8x8 stand-in for Inception)."""

from __future__ import annotations

import torch
from torch import nn

from diffusion_edu.core.checks import check_sizes


class DigitClassifier(nn.Module):
    """A small CNN: (N, 1, 8, 8) images in [-1, 1] -> 10 logits, with a 128-D feature layer."""

    def __init__(self, width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()
        check_sizes(width=width, feature_dim=feature_dim)
        self.width = width
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.GELU(),  # (N, w, 8, 8)
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.AvgPool2d(2),  # (N, w, 4, 4)
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.GELU(),
            nn.AvgPool2d(2),  # (N, 2w, 2, 2)
            nn.Flatten(),  # (N, 8w)
            nn.Linear(8 * width, feature_dim), nn.GELU(),  # (N, F)
        )
        self.head = nn.Linear(feature_dim, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(images))
