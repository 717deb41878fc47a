"""Shared pieces of the benchmarks: the digit training loop at equal seconds, parameter counts, a model that counts
its calls, the ring with its real-vs-real floor, tables."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from diffusion_edu import data, metrics
from diffusion_edu.core.runtime import device
from diffusion_edu.training.loop import TrainResult, train


class Counted:
    """A model that counts its calls, so every NFE in the table is measured."""

    def __init__(self, model: Callable[..., torch.Tensor]) -> None:
        self.model, self.calls = model, 0

    def __call__(self, *args: Any) -> torch.Tensor:
        self.calls += 1
        return self.model(*args)


class Ring:
    """The 8-Gaussians ring, a real reference sample of 10 n points and the floor: the mean sliced Wasserstein distance
    of five fresh real draws of n points to it (all drawn from ``seed``)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.mixture = data.eight_gaussians()
        generator = torch.Generator().manual_seed(seed)
        self.real = self.mixture.sample(10 * n, generator)[0]
        self.floor = statistics.fmean(metrics.sliced_wasserstein(self.mixture.sample(n, generator)[0], self.real)
                                      for _ in range(5))
        self.n = n

    def ratio(self, samples: torch.Tensor) -> float:
        """The distance of ``samples`` to the reference over the floor."""
        return metrics.sliced_wasserstein(samples.float().cpu(), self.real) / self.floor

    def noise(self, seed: int) -> torch.Tensor:
        """n standard normal 2-D points from ``seed``, on the device."""
        return torch.randn(self.n, 2, generator=torch.Generator().manual_seed(seed)).to(device())


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_digits_for(model: nn.Module, loss_fn: Callable[[nn.Module, torch.Tensor], torch.Tensor], seconds: float,
                     lr: float = 2e-3, batch: int = 128, seed: int = 0, max_steps: int = 10**7) -> TrainResult:
    """Train on the training digits for ``seconds`` of wall time (cosine lr over an estimated length)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    images = data.load_digits().train_images.to(device())
    model.to(device())

    def batches(_step: int) -> torch.Tensor:
        return images[torch.randint(0, len(images), (batch,), generator=generator).to(device())]

    return train(model, loss_fn, batches, steps=max_steps, lr=lr, ema_decay=0.995, warmup_steps=50,
                 max_seconds=seconds, progress=False)


def train_cosine_for(model: nn.Module, loss_fn: Callable[[nn.Module, Any], torch.Tensor], batches: Callable[[int], Any],
                     seconds: float, lr: float, warmup: int) -> TrainResult:
    """Train for ``seconds`` with warm-up and a cosine learning rate over the number of steps that fit (estimated
    from a 10-step dry run on a copy of ``model``), as the chapters' recipes do over their fixed step counts."""
    import copy

    dry = train(copy.deepcopy(model), loss_fn, batches, steps=10, progress=False)
    steps = max(warmup + 10, int(seconds * dry.steps / dry.seconds))
    return train(model, loss_fn, batches, steps=steps, lr=lr, ema_decay=0.995, warmup_steps=warmup, cosine_decay=True,
                 max_seconds=seconds, progress=False)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def fmt(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
