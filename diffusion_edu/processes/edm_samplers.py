"""Fast solvers of EDM's probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma (Karras et al. 2022, eq. 3
with s = 1, sigma(t) = t), on the sampler contract of :mod:`diffusion_edu.processes.sampling`:

    ``name(model, x, grid, *, generator=None, callback=None, **options)``

- ``model``: a denoiser ``D(x, sigma)`` (sigma a tensor (N,) of x's dtype), e.g. from
  :mod:`diffusion_edu.processes.edm` (a preconditioned network, the mixture oracle, a wrapped DDPM eps model);
- ``x``: the start, x ~ N(0, grid[0]^2 I) for an EDM model;
- ``grid``: the noise levels visited, strictly decreasing, positive except a final 0
  (:func:`diffusion_edu.processes.edm.karras_sigmas`); N steps need N + 1 levels;
- each update reports a :class:`~diffusion_edu.processes.sampling.SamplerStep` with ``t`` the level it started
  from and ``x0`` the denoiser's output there.

Network evaluations (NFE) for N steps ending at 0: Euler N, Heun 2N - 1 (no correction at sigma = 0),
DPM-Solver++(2M) N. First-order DPM-Solver++, Euler in sigma and DDIM are one update (proved in
:mod:`diffusion_edu.derivations.edm`).
"""

from __future__ import annotations

import math

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_number,
    check_output,
)
from diffusion_edu.processes.edm import Denoiser
from diffusion_edu.processes.sampling import (
    Callback,
    Grid,
    NoiseSampler,
    _show,
    _values,
    check_hooks,
    draw_noise,
    report,
)


def check_sigma_grid(grid: object) -> list[float]:
    """Noise levels for an ODE solver: at least two, finite, strictly decreasing, positive except a last 0."""
    values = [float(v) for v in _values(grid)]
    if len(values) < 2:
        raise ValueError(f"grid: expected at least two noise levels (a step goes from one to the next), got {values}")
    if not all(0 <= v < math.inf for v in values) or any(v == 0 for v in values[:-1]):
        raise ValueError(f"grid: expected finite noise levels > 0 (only the last may be 0), got {_show(values)}")
    if any(b >= a for a, b in zip(values[:-1], values[1:], strict=True)):
        raise ValueError(f"grid: expected strictly decreasing noise levels (visited in order), got {_show(values)}")
    return values


def _start(model: object, x: object, grid: object, callback: object,
           noise_sampler: object = None) -> tuple[torch.Tensor, list[float]]:
    check_callable("model", model, "model(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    sigmas = check_sigma_grid(grid)
    check_hooks(callback, noise_sampler)
    return x, sigmas


def _denoise(model: Denoiser, x: torch.Tensor, sigma: float) -> torch.Tensor:
    levels = torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device)
    return check_output("model", model(x, levels), x, "model(x, sigma)")


@torch.no_grad()
def edm_euler(model: Denoiser, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
              callback: Callback | None = None) -> torch.Tensor:
    """Euler's method in sigma (EDM Algorithm 1 without its second-order correction): for each pair
    sigma_i > sigma_(i+1), d = (x - D(x, sigma_i)) / sigma_i and x <- x + (sigma_(i+1) - sigma_i) d. One denoiser call
    per step; the step to sigma = 0 returns D(x, sigma_i). Deterministic (``generator`` is unused)."""
    x, sigmas = _start(model, x, grid, callback)
    for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        denoised = _denoise(model, x, sigma)
        x = x + (sigma_next - sigma) * (x - denoised) / sigma
        report(callback, i, sigma, x, denoised)
    return check_finite_result("model", x, "the model(x, sigma) calls")


@torch.no_grad()
def edm_heun(model: Denoiser, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
             callback: Callback | None = None) -> torch.Tensor:
    """Heun's second-order method in sigma, EDM Algorithm 1 (s(t) = 1, sigma(t) = t): an Euler step to
    sigma_(i+1), then, unless sigma_(i+1) = 0, the average of the slopes at both ends:
    x_(i+1) = x_i + (sigma_(i+1) - sigma_i) (d_i + d'_(i+1)) / 2. 2N - 1 denoiser calls for N steps ending at 0."""
    return edm_stochastic(model, x, grid, generator=generator, callback=callback)


@torch.no_grad()
def edm_stochastic(model: Denoiser, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
                   callback: Callback | None = None, noise_sampler: NoiseSampler | None = None,
                   s_churn: float = 0.0, s_tmin: float = 0.0, s_tmax: float = math.inf, s_noise: float = 1.0,
                   second_order: bool = True) -> torch.Tensor:
    """EDM Algorithm 2, the stochastic sampler: at each level sigma_i in [s_tmin, s_tmax], "churn": raise the
    noise to sigma_hat = (1 + gamma) sigma_i with gamma = min(s_churn / N, sqrt(2) - 1) by adding fresh noise
    sqrt(sigma_hat^2 - sigma_i^2) s_noise z, then take Algorithm 1's Heun step from sigma_hat to sigma_(i+1)
    (an Euler step only with ``second_order=False``, as diffusers' ``EDMEulerScheduler`` and
    ``EulerDiscreteScheduler`` do with ``s_churn``). s_churn = 0 is Algorithm 1 exactly (:func:`edm_heun`).
    The added noise comes from ``noise_sampler`` or is drawn from ``generator``."""
    x, sigmas = _start(model, x, grid, callback, noise_sampler)
    s_churn = check_number("s_churn", s_churn, low=0.0)
    s_tmin = check_number("s_tmin", s_tmin, low=0.0)
    s_tmax = s_tmax if s_tmax == math.inf else check_number("s_tmax", s_tmax, low=s_tmin)
    s_noise = check_number("s_noise", s_noise, low=0.0)
    if not isinstance(second_order, bool):
        raise TypeError(f"second_order: expected a bool, got {type(second_order).__name__}")
    n_steps = len(sigmas) - 1
    for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        gamma = min(s_churn / n_steps, math.sqrt(2) - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1 + gamma)
        if gamma > 0:
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * draw_noise(x, generator, noise_sampler)
        denoised = _denoise(model, x, sigma_hat)
        slope = (x - denoised) / sigma_hat
        x_next = x + (sigma_next - sigma_hat) * slope
        if second_order and sigma_next > 0:
            slope_next = (x_next - _denoise(model, x_next, sigma_next)) / sigma_next
            x_next = x + (sigma_next - sigma_hat) * (slope + slope_next) / 2
        x = x_next
        report(callback, i, sigma, x, denoised)
    return check_finite_result("model", x, "the model(x, sigma) calls")


@torch.no_grad()
def dpm_solver_pp_2m(model: Denoiser, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
                     callback: Callback | None = None, lower_order_final: bool = True) -> torch.Tensor:
    """DPM-Solver++(2M), Lu et al. 2022 ("DPM-Solver++", Algorithm 2), on EDM's path (alpha = 1), in the
    log-SNR lambda = -log sigma. With h = lambda_(i+1) - lambda_i = log(sigma_i / sigma_(i+1)) the exact solution
    of the ODE for a denoiser held constant over the step is
    x_(i+1) = (sigma_(i+1) / sigma_i) x_i - (e^(-h) - 1) D (the exponential integrator); the multistep method
    takes D = (1 + 1 / (2 r)) D_i - 1 / (2 r) D_(i-1), r = h_(i-1) / h_i, a linear extrapolation in lambda of the
    last two denoiser outputs. The first step has no history and is first order; a step to sigma = 0 (h infinite)
    returns D_i; with ``lower_order_final`` the last step is first order when there are fewer than 15 steps (Lu
    et al.'s default, which diffusers' ``DPMSolverMultistepScheduler`` keeps). One denoiser call per step;
    deterministic (``generator`` is unused)."""
    x, sigmas = _start(model, x, grid, callback)
    if not isinstance(lower_order_final, bool):
        raise TypeError(f"lower_order_final: expected a bool, got {type(lower_order_final).__name__}")
    n_steps = len(sigmas) - 1
    previous: tuple[torch.Tensor, float] | None = None  # (D_(i-1), h_(i-1))
    for i, (sigma, sigma_next) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        denoised = _denoise(model, x, sigma)
        if sigma_next == 0:
            x = denoised  # the limit h -> infinity: e^(-h) = 0
        else:
            h = math.log(sigma / sigma_next)
            first_order = previous is None or (lower_order_final and i == n_steps - 1 and n_steps < 15)
            if first_order:
                estimate = denoised
            else:
                r = previous[1] / h
                estimate = (1 + 1 / (2 * r)) * denoised - 1 / (2 * r) * previous[0]
            x = (sigma_next / sigma) * x - math.expm1(-h) * estimate
            previous = (denoised, h)
        report(callback, i, sigma, x, denoised)
    return check_finite_result("model", x, "the model(x, sigma) calls")
