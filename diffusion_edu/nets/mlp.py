"""A time-conditioned MLP denoiser for 2-D data: (x_t (N, D), t (N,)) -> (N, D)."""

from __future__ import annotations

import torch
from torch import nn

from diffusion_edu.core.checks import check_sizes
from diffusion_edu.nets.embeddings import TimestepEmbedding


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        check_sizes(width=width)
        self.norm = nn.LayerNorm(width)
        self.linear_1 = nn.Linear(width, width)
        self.linear_2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.linear_2(torch.nn.functional.silu(self.linear_1(self.norm(h)) + emb))


class TimeMLP(nn.Module):
    """Residual MLP; the timestep embedding is added inside every block.

    ``num_classes`` > 0 adds a label embedding (index ``num_classes`` is the "no label" token
    used by classifier-free guidance)."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, num_classes: int = 0) -> None:
        super().__init__()
        check_sizes(dim=dim, width=width)
        check_sizes(0, depth=depth, num_classes=num_classes)
        self.dim, self.width, self.depth, self.num_classes = dim, width, depth, num_classes
        self.time_embedding = TimestepEmbedding(width)
        self.label_embedding = nn.Embedding(num_classes + 1, width) if num_classes > 0 else None
        self.input = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.output = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.time_embedding(t)  # (N, W)
        if self.label_embedding is not None:
            if labels is None:  # unconditional: the null token
                labels = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
            emb = emb + self.label_embedding(labels)
        h = self.input(x)  # (N, W)
        for block in self.blocks:
            h = block(h, emb)
        return self.output(h)
