"""Langevin dynamics driven by a score function, plain and annealed (NCSN), as pure tensor functions.

The update is x <- x + eps grad log p(x) + sqrt(2 eps) z, z ~ N(0, I): the Euler-Maruyama step of
dx = grad log p(x) dt + sqrt(2) dw, whose stationary density is p (chapter 11 proves it). Note 002
writes ``x - eps grad log p``, which runs away from the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_output,
    check_positive,
)
from diffusion_edu.processes.sampling import (
    Callback,
    Grid,
    NoiseSampler,
    check_hooks,
    check_level_grid,
    draw_noise,
    report,
)

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
NoiseScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


@torch.no_grad()
def langevin(
    score: ScoreFn,
    x: torch.Tensor,
    grid: Grid,
    *,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """Unadjusted Langevin algorithm (ULA; Roberts & Tweedie 1996; Welling & Teh 2011): for each step
    size eps_i of ``grid``, x <- x + eps_i score(x) + sqrt(2 eps_i) z, from the initial points ``x``.

    ``grid`` is the non-increasing sequence of step sizes, one per step: ``[eps] * n`` for the
    constant step of the chapter, or a decaying one as in stochastic-gradient Langevin dynamics.
    With no Metropolis correction the chain's stationary law is p only as eps -> 0 (its variance on
    N(0, s^2) is s^2 / (1 - eps / (2 s^2)), chapter 11). ``score(x)`` is the target's score; the
    callback's ``t`` is the step size, ``x0`` None.
    """
    check_callable("score", score, "score(x)")
    x = check_float_tensor("x", x, min_ndim=1)
    step_sizes = check_level_grid(grid, strict=False, what="step sizes")
    check_hooks(callback, noise_sampler)
    for i, step_size in enumerate(step_sizes):
        grad = check_output("score", score(x), x, "score(x)")
        x = x + step_size * grad + math.sqrt(2 * step_size) * draw_noise(x, generator, noise_sampler)
        report(callback, i, step_size, x, None)
    return check_finite_result("score, grid", x, "the chain (score(x) or a too large step size)")


@torch.no_grad()
def annealed_langevin(
    score: NoiseScoreFn,
    x: torch.Tensor,
    grid: Grid,
    *,
    step_size: float,
    steps_per_level: int,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    denoise: bool = True,
    noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """Annealed Langevin dynamics, NCSN Algorithm 1 (Song & Ermon 2019).

    ``grid``: the noise levels sigma_1 > ... > sigma_L (e.g.
    :func:`diffusion_edu.processes.grids.sigma_grid`); ``score(x, sigma)`` is the score of the data
    blurred by N(0, sigma^2 I). At each level run ``steps_per_level`` Langevin steps with step size
    eps_i = step_size * sigma_i^2 / sigma_L^2 (the paper's alpha_i = 2 eps_i in its
    x + alpha_i / 2 score + sqrt(alpha_i) z): large steps cross between modes while the blurred
    density still connects them, small steps refine. ``denoise`` ends with Tweedie's step
    x + sigma_L^2 score(x, sigma_L) (Jolicoeur-Martineau et al. 2021), removing the last level's
    noise. The callback sees every Langevin step (index k over all levels, ``t`` its sigma, ``x0``
    None); the final denoising step is not one.
    """
    check_callable("score", score, "score(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    sigmas = check_level_grid(grid)
    check_positive("step_size", step_size)
    check_int("steps_per_level", steps_per_level)
    check_hooks(callback, noise_sampler)
    sigma_last = sigmas[-1]
    if math.log(sigmas[0]) - math.log(sigma_last) + 0.5 * math.log(step_size) > 300:  # step sizes would overflow
        raise ValueError(f"grid: expected sigma_1 / sigma_L small enough for finite step sizes, got {sigmas}")
    k = 0
    for sigma in sigmas:
        eps = step_size * (sigma / sigma_last) ** 2
        noise_scale = math.sqrt(2 * eps)
        for _ in range(steps_per_level):
            grad = check_output("score", score(x, sigma), x, "score(x, sigma)")
            x = x + eps * grad + noise_scale * draw_noise(x, generator, noise_sampler)
            report(callback, k, sigma, x, None)
            k += 1
    if denoise:
        x = x + sigma_last**2 * check_output("score", score(x, sigma_last), x, "score(x, sigma)")
    return check_finite_result("score, grid, step_size", x,
                               "the chain (score(x, sigma), or step sizes step_size * sigma_i^2 / sigma_L^2 too large)")


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
