"""Small tensor helpers every layer shares (one copy of each)."""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)  # the Gaussian's normalising constant, log(2 pi)


def append_dims(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-sample values (N,) reshaped to (N, 1, ..., 1) so they broadcast over ``like`` (N, ...),
    in like's dtype and on like's device."""
    if values.ndim != 1:
        raise ValueError(f"values: expected a 1-D tensor (N,) of per-sample values, got shape {tuple(values.shape)}")
    return values.to(device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))
