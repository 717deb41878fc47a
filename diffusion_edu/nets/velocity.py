"""Velocity networks for flow matching (chapter 16): the book's denoisers, with the flow's time t in [0, 1]
spread over the 0..1000 range their sinusoidal embedding was sized for (as Stable Diffusion 3 feeds
1000 t to its transformer); without it the lowest frequencies would barely change over the whole path."""

from __future__ import annotations

import torch

from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.nets.unet import UNet

TIME_SCALE = 1000.0


class FlowMLP(TimeMLP):
    """:class:`TimeMLP` predicting a velocity v(x_t, t), t in [0, 1]: (N, D), (N,) -> (N, D)."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x, TIME_SCALE * t, labels)


class FlowUNet(UNet):
    """:class:`UNet` predicting a velocity v(x_t, t), t in [0, 1]: (N, C, 8, 8), (N,) -> (N, C, 8, 8)."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x, TIME_SCALE * t, labels)
