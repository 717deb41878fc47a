"""Langevin dynamics driven by a score function, plain and annealed (NCSN), as pure tensor functions.

The update is x <- x + eps grad log p(x) + sqrt(2 eps) z, z ~ N(0, I): the Euler-Maruyama step of
dx = grad log p(x) dt + sqrt(2) dw, whose stationary density is p (chapter 11 proves it). Note 002
writes ``x - eps grad log p``, which runs away from the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from diffusion_edu._checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_output,
    check_positive,
)

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
NoiseScoreFn = Callable[[torch.Tensor, float], torch.Tensor]
LangevinCallback = Callable[[int, torch.Tensor], None]


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


@torch.no_grad()
def langevin(
    score: ScoreFn,
    x: torch.Tensor,
    step_size: float,
    n_steps: int,
    generator: torch.Generator | None = None,
    callback: LangevinCallback | None = None,
) -> torch.Tensor:
    """Unadjusted Langevin algorithm (ULA; Roberts & Tweedie 1996; Welling & Teh 2011):
    ``n_steps`` of x <- x + step_size * score(x) + sqrt(2 step_size) z from the initial points ``x``.

    With no Metropolis correction the chain's stationary law is p only as step_size -> 0 (its
    variance on N(0, s^2) is s^2 / (1 - step_size / (2 s^2)), chapter 11). ``callback(i, x)`` sees
    the state after step i.
    """
    check_callable("score", score, "score(x)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_positive("step_size", step_size)
    check_int("n_steps", n_steps)
    _check_callback(callback)
    noise_scale = math.sqrt(2 * step_size)
    for i in range(n_steps):
        x = x + step_size * check_output("score", score(x), x, "score(x)") + noise_scale * _noise(x, generator)
        if callback is not None:
            callback(i, x)
    return check_finite_result("score, step_size", x, "the chain (score(x) or a too large step_size)")


def _check_callback(callback: object) -> None:
    if callback is not None:
        check_callable("callback", callback, "callback(i, x)")


def geometric_sigmas(sigma_max: float, sigma_min: float, n_levels: int) -> list[float]:
    """Noise levels sigma_1 > ... > sigma_L in geometric progression (NCSN, Song & Ermon 2019)."""
    check_positive("sigma_max", sigma_max)
    check_positive("sigma_min", sigma_min)
    check_int("n_levels", n_levels, minimum=2)
    if sigma_min >= sigma_max:
        raise ValueError(f"sigma_min: expected a value below sigma_max = {sigma_max}, got {sigma_min}")
    ratio = math.log(sigma_min / sigma_max) / (n_levels - 1)
    return [sigma_max * math.exp(i * ratio) for i in range(n_levels)]


@torch.no_grad()
def annealed_langevin(
    score: NoiseScoreFn,
    x: torch.Tensor,
    sigmas: Sequence[float],
    n_steps_each: int,
    step_lr: float,
    generator: torch.Generator | None = None,
    denoise: bool = True,
    callback: LangevinCallback | None = None,
) -> torch.Tensor:
    """Annealed Langevin dynamics, NCSN Algorithm 1 (Song & Ermon 2019).

    ``score(x, sigma)`` is the score of the data blurred by N(0, sigma^2 I). For each level
    sigma_i of the decreasing ``sigmas``, run ``n_steps_each`` Langevin steps with step size
    eps_i = step_lr * sigma_i^2 / sigma_L^2 (the paper's alpha_i = 2 eps_i in its x + alpha_i / 2 score +
    sqrt(alpha_i) z): large steps cross between modes while the blurred density still connects
    them, small steps refine. ``denoise`` ends with Tweedie's step x + sigma_L^2 score(x, sigma_L)
    (Jolicoeur-Martineau et al. 2021), removing the last level's noise.
    """
    check_callable("score", score, "score(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_int("n_steps_each", n_steps_each)
    check_positive("step_lr", step_lr)
    _check_callback(callback)
    if isinstance(sigmas, torch.Tensor):
        sigmas = check_float_tensor("sigmas", sigmas, ndim=1).tolist()
    if isinstance(sigmas, (str, bytes)) or not hasattr(sigmas, "__iter__"):
        raise TypeError(f"sigmas: expected a sequence of noise levels, got {type(sigmas).__name__}")
    sigmas = list(sigmas)
    for sg in sigmas:
        check_positive("sigmas", sg)
    sigmas = [float(sg) for sg in sigmas]
    increasing = any(not b < a for a, b in zip(sigmas[:-1], sigmas[1:], strict=True))
    if len(sigmas) < 1 or increasing:
        raise ValueError(f"sigmas: expected positive, strictly decreasing noise levels, got {sigmas}")
    sigma_last = sigmas[-1]
    if math.log(sigmas[0]) - math.log(sigma_last) + 0.5 * math.log(step_lr) > 300:  # step sizes would overflow
        raise ValueError(f"sigmas: expected sigma_1 / sigma_L small enough for finite step sizes, got {sigmas}")
    k = 0
    for sigma in sigmas:
        step_size = step_lr * (sigma / sigma_last) ** 2
        noise_scale = math.sqrt(2 * step_size)
        for _ in range(n_steps_each):
            grad = check_output("score", score(x, sigma), x, "score(x, sigma)")
            x = x + step_size * grad + noise_scale * _noise(x, generator)
            if callback is not None:
                callback(k, x)
            k += 1
    if denoise:
        x = x + sigma_last**2 * check_output("score", score(x, sigma_last), x, "score(x, sigma)")
    return check_finite_result("score, sigmas, step_lr", x,
                               "the chain (score(x, sigma), or step sizes step_lr * sigma_i^2 / sigma_L^2 too large)")


def mode_weights(x: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """Fraction of the points ``x`` (N, D) nearest to each of the ``means`` (K, D): the mode weights a
    sampler found, to compare with a mixture's true weights."""
    x = check_float_tensor("x", x, min_ndim=1)
    means = check_float_tensor("means", means, min_ndim=1)
    if x.ndim != 2 or means.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"means: expected shape (K, {x.shape[-1]}) for x of shape {tuple(x.shape)}, "
                         f"got {tuple(means.shape)}")
    nearest = torch.cdist(x.float(), means.float()).argmin(dim=1)
    return torch.bincount(nearest, minlength=means.shape[0]).float() / x.shape[0]
