"""Samplers of the score-based SDEs (Song et al. 2021), on the sampler contract of
:mod:`diffusion_edu.processes.sampling`: ``sampler(score, x, grid, *, sde, generator=None,
callback=None, **options)`` with ``score(x, t) -> grad_x log p_t(x)`` (``t`` a float tensor (N,)),
``x`` drawn from the prior at t = grid[0] and ``grid`` the decreasing times in (0, 1] (N steps need
N + 1 times: :func:`diffusion_edu.processes.grids.time_grid`). Each step's x_0 estimate is Tweedie's
(x_t + std(t)^2 score(x_t, t)) / scale(t), from the score the step evaluated first.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_choice,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_number,
    check_positive,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.sampling import (
    Callback,
    Grid,
    NoiseSampler,
    check_hooks,
    check_time_grid,
    draw_noise,
    report,
)
from diffusion_edu.processes.sde import SDE, ScoreFn, check_sde, score_at

METHODS = ("euler", "heun", "rk4")


def _times(t: float, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, dtype=torch.float64, device=x.device)


def _tweedie(x: torch.Tensor, t: float, score_value: torch.Tensor, sde: SDE) -> torch.Tensor:
    """E[x_0 | x_t] = (x_t + std(t)^2 score(x_t, t)) / scale(t) (Tweedie's formula, Efron 2011)."""
    t_vec = _times(t, x)
    std, scale = sde.marginal_std(t_vec), sde.marginal_scale(t_vec)
    return (x + append_dims(std**2, x) * score_value) / append_dims(scale, x)


def _check_inputs(score: object, x: object, grid: object, sde: object) -> tuple[torch.Tensor, list[float]]:
    check_callable("score", score, "score(x, t)")
    check_sde(sde)
    return check_float_tensor("x", x, min_ndim=1), check_time_grid(grid)


def _predictor_step(score: ScoreFn, x: torch.Tensor, t: float, dt: float, sde: SDE, generator: torch.Generator | None,
                    noise_sampler: NoiseSampler | None, last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One Euler-Maruyama step of the reverse SDE from t to t - dt, x - [f(x, t) - g(t)^2 score] dt
    + g(t) sqrt(dt) z, except at the last step, which returns the mean (noise there would only blur
    the samples). Returns the new x and the score it used."""
    t_vec = _times(t, x)
    score_value = score_at(score, x, t_vec.to(x.dtype))
    g = append_dims(sde.diffusion(t_vec), x)
    x_mean = x - (sde.drift(x, t_vec) - g**2 * score_value) * dt
    if last:
        return x_mean, score_value
    g_t = float(sde.diffusion(torch.tensor([t])))
    return x_mean + g_t * math.sqrt(dt) * draw_noise(x, generator, noise_sampler), score_value


@torch.no_grad()
def euler_maruyama(
    score: ScoreFn, x: torch.Tensor, grid: Grid, *, sde: SDE, generator: torch.Generator | None = None,
    callback: Callback | None = None, noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """Euler-Maruyama on the reverse SDE dx = [f - g^2 score] dt + g dw_bar (Song et al. 2021 eq. 6;
    Algorithm 1 with the reverse-diffusion predictor and no corrector; note 002 eq. 11): for each pair
    t_i > t_{i+1} of ``grid``, dt = t_i - t_{i+1} and x <- x - [f - g^2 score] dt + g sqrt(dt) z, with no
    noise at the last step. One score call per step."""
    x, times = _check_inputs(score, x, grid, sde)
    check_hooks(callback, noise_sampler)
    n_steps = len(times) - 1
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:], strict=True)):
        x_prev = x
        x, score_value = _predictor_step(score, x, t, t - t_next, sde, generator, noise_sampler, i == n_steps - 1)
        report(callback, i, t, x, _tweedie(x_prev, t, score_value, sde) if callback is not None else None)
    return check_finite_result("score", x, "the score(x, t) calls")


@torch.no_grad()
def langevin_correct(
    score: ScoreFn, x: torch.Tensor, t: float, *, sde: SDE, snr: float, n_steps: int,
    generator: torch.Generator | None = None, noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """The corrector of Song et al. 2021 Algorithms 4-5: ``n_steps`` Langevin steps at fixed t with
    step eps = 2 alpha (snr |z| / |score|)^2, norms averaged over the batch, so each step's drift
    eps |score| is ``snr`` times the noise sqrt(2 eps) |z| (with alpha = 1). A zero score moves nothing."""
    check_callable("score", score, "score(x, t)")
    check_sde(sde)
    x = check_float_tensor("x", x, min_ndim=1)
    t = check_number("t", t, low=0.0, high=1.0)
    check_positive("snr", snr)
    check_int("n_steps", n_steps, minimum=0)
    t_vec = _times(t, x)
    alpha = float(sde.langevin_alpha(t_vec[:1]))
    for _ in range(n_steps):
        grad = score_at(score, x, t_vec.to(x.dtype))
        noise = draw_noise(x, generator, noise_sampler)
        grad_norm = grad.flatten(1).norm(dim=1).mean()
        noise_norm = noise.flatten(1).norm(dim=1).mean()
        step = torch.where(grad_norm > 0, 2 * alpha * (snr * noise_norm / grad_norm) ** 2, 0.0)
        x = x + step * grad + (2 * step).sqrt() * noise
    return x


@torch.no_grad()
def predictor_corrector(
    score: ScoreFn, x: torch.Tensor, grid: Grid, *, sde: SDE, generator: torch.Generator | None = None,
    callback: Callback | None = None, snr: float = 0.16, n_corrector: int = 1,
    noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """Predictor-corrector sampling (Song et al. 2021 Algorithm 1; Algorithms 2-3 for the VE and VP
    SDEs, with Algorithms 4-5's Langevin corrector): at each time t_i of ``grid`` but the last,
    ``n_corrector`` Langevin corrections of x at t_i (signal-to-noise rule ``snr``), then one
    Euler-Maruyama predictor step to t_{i+1}, no noise at the last step.
    Score calls: (len(grid) - 1) * (1 + n_corrector)."""
    x, times = _check_inputs(score, x, grid, sde)
    check_positive("snr", snr)
    check_int("n_corrector", n_corrector)
    check_hooks(callback, noise_sampler)
    n_steps = len(times) - 1
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:], strict=True)):
        x = langevin_correct(score, x, t, sde=sde, snr=snr, n_steps=n_corrector, generator=generator,
                             noise_sampler=noise_sampler)
        x_prev = x
        x, score_value = _predictor_step(score, x, t, t - t_next, sde, generator, noise_sampler, i == n_steps - 1)
        report(callback, i, t, x, _tweedie(x_prev, t, score_value, sde) if callback is not None else None)
    return check_finite_result("score", x, "the score(x, t) calls")


def ode_velocity(score: ScoreFn, x: torch.Tensor, t: float, sde: SDE) -> torch.Tensor:
    """The probability-flow ODE's velocity dx/dt = f(x, t) - g(t)^2 score(x, t) / 2 (Song et al. 2021 eq. 13)."""
    check_callable("score", score, "score(x, t)")
    check_sde(sde)
    x = check_float_tensor("x", x, min_ndim=1)
    return velocity_and_score(score, x, check_number("t", t, low=0.0, high=1.0), sde)[0]


def velocity_and_score(score: ScoreFn, x: torch.Tensor, t: float, sde: SDE) -> tuple[torch.Tensor, torch.Tensor]:
    """The probability-flow velocity at (x, t) and the score it used (inputs already checked)."""
    t_vec = _times(t, x)
    g = append_dims(sde.diffusion(t_vec), x)
    score_value = score_at(score, x, t_vec.to(x.dtype))
    return sde.drift(x, t_vec) - 0.5 * g**2 * score_value, score_value


def ode_step(velocity: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, t: float, h: float,
             method: str) -> torch.Tensor:
    """One fixed step of size h (negative when integrating backwards in time): Euler, Heun's
    trapezoid, or classic fourth-order Runge-Kutta."""
    k1 = velocity(x, t)
    if method == "euler":
        return x + h * k1
    if method == "heun":
        k2 = velocity(x + h * k1, t + h)
        return x + h * (k1 + k2) / 2
    k2 = velocity(x + h / 2 * k1, t + h / 2)
    k3 = velocity(x + h / 2 * k2, t + h / 2)
    k4 = velocity(x + h * k3, t + h)
    return x + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6


@torch.no_grad()
def probability_flow(
    score: ScoreFn, x: torch.Tensor, grid: Grid, *, sde: SDE, generator: torch.Generator | None = None,
    callback: Callback | None = None, method: str = "rk4",
) -> torch.Tensor:
    """Integrate the probability-flow ODE dx/dt = f - g^2 score / 2 (Song et al. 2021 section 4.3 and
    eq. 13) down ``grid`` with one fixed step of ``method`` per pair of times (euler: 1 score call per
    step, heun: 2, rk4: 4; the paper uses an adaptive RK45, fixed steps make the cost known).
    Deterministic: ``generator`` is unused and kept for the common signature."""
    x, times = _check_inputs(score, x, grid, sde)
    check_choice("method", method, METHODS)
    check_hooks(callback)
    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:], strict=True)):
        scores: list[torch.Tensor] = []

        def velocity(y: torch.Tensor, s: float, scores: list[torch.Tensor] = scores) -> torch.Tensor:
            value, score_value = velocity_and_score(score, y, s, sde)
            scores.append(score_value)
            return value

        x_prev = x
        x = ode_step(velocity, x, t, t_next - t, method)
        report(callback, i, t, x, _tweedie(x_prev, t, scores[0], sde) if callback is not None else None)
    return check_finite_result("score", x, "the score(x, t) calls")
