"""The checks every training loop runs at each step (:func:`diffusion_edu.training.loop.train`, and the
GAN's two players in :mod:`diffusion_edu.training.gan`): a batch holds data, the loss is a
differentiable scalar, and one fused check that the loss and every gradient are finite *before* the
optimiser step, so a NaN never reaches the weights; then gradient clipping reusing its norms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from diffusion_edu.training.loop import TrainResult


class NonFiniteLossError(RuntimeError, FloatingPointError):
    """The loss or a parameter's gradient became NaN or inf. Raised *before* the optimiser step, so the
    weights and the EMA are the last good (finite) ones. Attributes: ``step``, ``tensor`` (``"loss"`` or
    ``"gradient of <parameter name>"``) and ``result``, the :class:`TrainResult` so far (its ``model`` and
    ``ema_model`` hold the last good weights, ``losses`` the finite losses before the failure)."""

    def __init__(self, message: str, step: int | None = None, tensor: str | None = None,
                 result: TrainResult | None = None) -> None:
        super().__init__(message)
        self.step, self.tensor, self.result = step, tensor, result


def check_batch(batch: object, step: int) -> None:
    """A batch must hold data: no ``None``, no tensor with zero samples (its mean loss would be NaN)."""
    parts = batch if isinstance(batch, (tuple, list)) else (batch,)
    if batch is None or not parts:
        raise ValueError(f"batches: expected a batch at step {step}, got {batch!r}")
    for part in parts:
        if isinstance(part, torch.Tensor) and (part.numel() == 0 or (part.ndim > 0 and part.shape[0] == 0)):
            raise ValueError(f"batches: expected a non-empty batch at step {step}, got a tensor of shape "
                             f"{tuple(part.shape)}")


def check_loss(loss: object, step: int, who: str = "loss_fn") -> torch.Tensor:
    """The value of ``loss_fn``: a differentiable floating-point scalar tensor."""
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"{who}: expected a scalar tensor at step {step}, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"{who}: expected a scalar loss (one value) at step {step}, got shape "
                         f"{tuple(loss.shape)}; reduce it, e.g. with .mean()")
    if not loss.is_floating_point():
        raise TypeError(f"{who}: expected a floating-point loss at step {step}, got dtype {loss.dtype}")
    if not loss.requires_grad:
        raise ValueError(f"{who}: expected a loss that depends on the model's trainable parameters at step "
                         f"{step}, got one that does not require grad (computed under no_grad, or detached?)")
    return loss.reshape(())


def guard_gradients(model: nn.Module, loss: torch.Tensor, step: int, steps: int, result: TrainResult,
                    foreach: bool | None = True, who: str = "") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """After ``loss.backward()`` and before any optimiser step: one fused check (a multi-tensor norm of
    every gradient, stacked with the loss, one device sync) that the loss and all gradients are finite.
    Raises :class:`NonFiniteLossError` naming the step and the tensor, carrying ``result``. Returns the
    gradients and their norms, for :func:`clip_gradients`."""
    named = [(name, p.grad) for name, p in model.named_parameters() if p.grad is not None]
    if not named:
        raise ValueError(f"loss_fn: expected the loss to depend on the {who or 'model'}'s parameters at step "
                         f"{step}, but no parameter received a gradient")
    grads = [grad for _, grad in named]
    if foreach is False:
        norms = [torch.linalg.vector_norm(grad) for grad in grads]
    else:
        norms = list(torch._foreach_norm(grads))
    values = torch.stack([loss.detach().float().to(norms[0].device), *(n.float() for n in norms)])
    finite = torch.isfinite(values)
    if not bool(finite.all()):
        prefix = f"{who} " if who else ""
        if not bool(finite[0]):
            tensor, what = f"{prefix}loss", f"became {values[0].item()}"
        else:
            bad = int((~finite[1:]).nonzero()[0])
            tensor = f"gradient of {prefix}parameter {named[bad][0]!r}"
            what = f"is not finite (norm {values[bad + 1].item()})"
        result.steps = len(result.losses)
        raise NonFiniteLossError(
            f"{tensor} {what} at step {step} (of {steps}); the optimiser step was skipped, so "
            f"the model and its EMA keep the last good weights (error.result); try a lower learning rate or "
            f"check loss_fn and its inputs", step=step, tensor=tensor, result=result)
    return grads, norms


def clip_gradients(grads: list[torch.Tensor], norms: list[torch.Tensor], max_norm: float) -> None:
    """Scale the gradients so their total norm is at most ``max_norm`` (as ``clip_grad_norm_``, reusing the
    norms :func:`guard_gradients` computed)."""
    total = torch.linalg.vector_norm(torch.stack(norms))
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(grads, scale)
