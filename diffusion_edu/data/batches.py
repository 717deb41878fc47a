"""Minibatches for :func:`diffusion_edu.training.loop.train`: one seeded iterator for every dataset."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from diffusion_edu.core.checks import check_int
from diffusion_edu.data.images import load_digits

Batch = torch.Tensor | tuple[torch.Tensor, ...]


def random_batches(tensors: Sequence[torch.Tensor], batch_size: int, generator: torch.Generator,
                   device: torch.device | str | None = None) -> Callable[[int], Batch]:
    """``step -> batch`` for :func:`diffusion_edu.training.loop.train`: ``batch_size`` rows drawn with
    replacement, the same rows of every tensor (a lone tensor comes back alone, several as a tuple).

    The tensors are moved to ``device`` once (``None``: they stay where they are); the indices are drawn
    on the CPU from ``generator`` and then moved, so a seed gives the same batches on every device."""
    if isinstance(tensors, torch.Tensor) or not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        raise TypeError(f"tensors: expected a non-empty sequence of tensors, got {type(tensors).__name__}")
    n = len(tensors[0])
    if n < 1 or any(len(t) != n for t in tensors):
        raise ValueError(f"tensors: expected the same number of rows (>= 1) in each, got {[len(t) for t in tensors]}")
    check_int("batch_size", batch_size)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator: expected a torch.Generator, got {type(generator).__name__}")
    on_device = tuple(t if device is None else t.to(device) for t in tensors)

    def batch(_step: int) -> Batch:
        index = torch.randint(0, n, (batch_size,), generator=generator).to(on_device[0].device)
        rows = tuple(t[index] for t in on_device)
        return rows[0] if len(rows) == 1 else rows

    return batch


def digit_batches(batch_size: int, generator: torch.Generator, *, labels: bool = False,
                  device: torch.device | str | None = None) -> Callable[[int], Batch]:
    """Minibatches of the training digits (:func:`random_batches`): images (B, 1, 8, 8), or
    (images, labels) with ``labels=True``; on ``device`` (``None``: the CPU, where the digits load)."""
    digits = load_digits()
    tensors = (digits.train_images, digits.train_labels) if labels else (digits.train_images,)
    return random_batches(tensors, batch_size, generator, device)
