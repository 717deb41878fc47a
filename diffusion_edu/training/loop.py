"""The one training loop: AdamW, gradient clipping, an EMA of the weights, a progress bar, a
non-finite guard that stops *before* a NaN reaches the weights (the guards live in
:mod:`diffusion_edu.training.guards`), and (re-exported from :mod:`diffusion_edu.training.model_cache`)
checkpoints that carry the model's config and the model cache.

Every chapter trains through :func:`train`; what differs between models is only the
``loss_fn(model, batch) -> scalar`` and the batches.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from diffusion_edu.core.checks import check_callable, check_int, check_number, check_positive
from diffusion_edu.training.guards import NonFiniteLossError, check_batch, check_loss, clip_gradients, guard_gradients


class EMA:
    """Exponential moving average of a model's parameters (and a copy of its buffers).

    Sampling from the EMA weights is what makes small diffusion models good: the raw weights
    jitter with the last minibatches.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        self.decay = check_number("decay", decay, low=0.0, high=1.0, high_open=True)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        # warm-up: early on, average over the steps seen so far rather than the initial weights
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        # one multi-tensor kernel for all parameters: per-tensor Python loops dominate small models' steps
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in model.parameters()], 1.0 - decay)
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)


@dataclass
class TrainResult:
    model: nn.Module
    ema_model: nn.Module
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0


Batches = Iterator[Any] | Callable[[int], Any]


def _batch_source(batches: object) -> Callable[[int], Any]:
    """``batches`` as a function ``step -> batch``; an exhausted iterator is a clear error."""
    if callable(batches):
        return batches
    if not isinstance(batches, Iterator):
        raise TypeError(f"batches: expected an iterator of batches or a function step -> batch, got "
                        f"{type(batches).__name__} (wrap a list in iter(...))")

    def next_batch(step: int) -> Any:
        try:
            return next(batches)
        except StopIteration:
            raise ValueError(f"batches: the iterator ran out after {step} batches, but steps asks for "
                             "more; pass more batches, fewer steps, or a function step -> batch") from None

    return next_batch


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    batches: Batches,
    steps: int,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    grad_clip: float | None = 1.0,
    ema_decay: float = 0.999,
    warmup_steps: int = 0,
    cosine_decay: bool = False,
    max_seconds: float | None = None,
    progress: bool = True,
    description: str = "train",
    foreach: bool | None = True,
) -> TrainResult:
    """Train ``model`` for ``steps`` steps of AdamW on ``loss_fn(model, batch)``.

    ``batches`` is an iterator of batches or a function ``step -> batch``. The learning rate
    warms up linearly for ``warmup_steps`` and then, if ``cosine_decay``, follows a cosine to
    zero. ``max_seconds`` stops early (used by benchmarks comparing models at equal time).
    ``foreach=True`` (the default here) uses multi-tensor kernels for AdamW and gradient clipping, which
    torch enables by default only on CUDA; with the multi-tensor EMA update they make a small MLP's CPU
    step ~20% faster (15 -> 12 ms on 2 cores; U-Net steps are compute-bound). ``None`` is torch's default.

    Before every optimiser step the loss and every gradient are checked (one fused check): a NaN or inf
    raises :class:`NonFiniteLossError` naming the step and the tensor, with the model and its EMA still
    at the last good weights (``error.result``).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model: expected trainable parameters, got none that require grad")
    check_callable("loss_fn", loss_fn, "loss_fn(model, batch)")
    check_int("steps", steps)
    check_positive("lr", lr)
    check_number("weight_decay", weight_decay, low=0.0)
    if grad_clip is not None:
        check_positive("grad_clip", grad_clip)
    check_int("warmup_steps", warmup_steps, minimum=0)
    if max_seconds is not None:
        check_positive("max_seconds", max_seconds)
    if foreach not in (True, False, None):
        raise ValueError(f"foreach: expected True, False or None, got {foreach!r}")
    ema = EMA(model, check_number("ema_decay", ema_decay, low=0.0, high=1.0, high_open=True))
    next_batch = _batch_source(batches)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=foreach)

    def lr_factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if cosine_decay:
            progress_ = (step - warmup_steps) / max(1, steps - warmup_steps)
            return 0.5 * (1 + math.cos(math.pi * progress_))
        return 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    result = TrainResult(model=model, ema_model=ema.model)
    model.train()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    try:
        for step in bar:
            batch = next_batch(step)
            check_batch(batch, step)
            loss = check_loss(loss_fn(model, batch), step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grads, norms = guard_gradients(model, loss, step, steps, result, foreach)
            if grad_clip is not None:
                clip_gradients(grads, norms, grad_clip)
            optimizer.step()
            scheduler.step()
            ema.update(model)
            result.losses.append(loss.item())
            if step % 50 == 0:
                bar.set_postfix(loss=f"{result.losses[-1]:.4f}")
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    except BaseException:
        optimizer.zero_grad(set_to_none=True)  # no NaN gradient lingers on the returned model
        raise
    finally:
        bar.close()
        model.eval()
        result.seconds = time.perf_counter() - start
        result.steps = len(result.losses)
    return result


# checkpoints and the model cache live in diffusion_edu.training.model_cache; re-exported here, where they always were
from diffusion_edu.training.model_cache import (  # noqa: E402
    CorruptCheckpointError,
    cached_model,
    load_checkpoint,
    save_checkpoint,
)

__all__ = ["NonFiniteLossError", "EMA", "TrainResult", "train", "guard_gradients", "clip_gradients", "check_loss",
           "check_batch", "save_checkpoint", "load_checkpoint", "cached_model", "CorruptCheckpointError"]
