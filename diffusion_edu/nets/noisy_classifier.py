"""A time-conditioned classifier p_phi(y | x_t, t) on noisy 8x8 digits, for classifier guidance
(Dhariwal & Nichol 2021, section 4): trained on x_t from the unchanged forward process at every
noise level, so its gradient grad_x log p_phi(y | x_t, t) is defined all along the reverse chain."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_edu.core.checks import check_sizes
from diffusion_edu.nets.embeddings import TimestepEmbedding
from diffusion_edu.nets.unet import ResBlock, _norm


class NoisyDigitClassifier(nn.Module):
    """The U-Net's down path as a classifier: (x_t (N, 1, 8, 8), t (N,)) -> logits (N, num_classes)."""

    def __init__(self, channels: int = 24, num_classes: int = 10) -> None:
        super().__init__()
        check_sizes(channels=channels, num_classes=num_classes)
        self.channels, self.num_classes = channels, num_classes
        c, emb_dim = channels, 4 * channels
        self.time_embedding = TimestepEmbedding(emb_dim)
        self.input = nn.Conv2d(1, c, 3, padding=1)
        self.block_1 = ResBlock(c, c, emb_dim)  # 8x8
        self.block_2 = ResBlock(c, 2 * c, emb_dim)  # 4x4
        self.block_3 = ResBlock(2 * c, 2 * c, emb_dim)  # 2x2
        self.head = nn.Sequential(_norm(2 * c), nn.SiLU(), nn.Flatten(), nn.Linear(2 * c * 4, num_classes))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time_embedding(t)  # (N, E)
        h = self.block_1(self.input(x), emb)  # (N, c, 8, 8)
        h = self.block_2(F.avg_pool2d(h, 2), emb)  # (N, 2c, 4, 4)
        h = self.block_3(F.avg_pool2d(h, 2), emb)  # (N, 2c, 2, 2)
        return self.head(h)  # (N, K)
