"""DDIM (Song, Meng & Ermon 2021) as pure tensor functions: sampling on a sub-sequence of steps
with the eta knob (the sub-sequence from :func:`diffusion_edu.processes.grids.sub_grid`),
deterministic encoding (inversion), and slerp.

Models are the same ``model(x_t, t) -> eps_hat`` callables as in :mod:`diffusion_edu.processes.ddpm`
(``t`` a long tensor (N,) of step indices, 0-based as in :mod:`diffusion_edu.processes.schedules`), so a
model trained for DDPM samples with DDIM unchanged: DDIM keeps the marginals q(x_t | x_0) and
therefore the training loss.
"""

from __future__ import annotations

import math

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_no_overflow,
    check_number,
    check_output,
    check_positive,
    check_same_shape,
)
from diffusion_edu.processes.ddpm import EpsModel
from diffusion_edu.processes.sampling import (
    Callback,
    Grid,
    NoiseSampler,
    check_hooks,
    check_step_grid,
    draw_noise,
    report,
)
from diffusion_edu.processes.schedules import Schedule, check_schedule


def ddim_sigma(alpha_bar: float, alpha_bar_prev: float, eta: float) -> float:
    """sigma_t(eta) = eta sqrt((1 - alpha_bar_prev) / (1 - alpha_bar)) sqrt(1 - alpha_bar / alpha_bar_prev)
    (DDIM eq. 16). eta = 1 gives DDPM's posterior standard deviation, eta = 0 a deterministic step.
    Levels are alpha_bar values with 0 < alpha_bar <= alpha_bar_prev <= 1 and alpha_bar < 1 (a step goes
    from a noisier level to a cleaner one)."""
    _check_levels(alpha_bar, alpha_bar_prev)
    check_number("eta", eta, low=0.0)
    ratio = (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)
    return check_no_overflow("eta", eta * math.sqrt(ratio))


def _check_levels(alpha_bar: float, alpha_bar_prev: float) -> None:
    alpha_bar = check_number("alpha_bar", alpha_bar, low=0.0, high=1.0, low_open=True, high_open=True)
    alpha_bar_prev = check_number("alpha_bar_prev", alpha_bar_prev, low=0.0, high=1.0, low_open=True)
    if alpha_bar_prev < alpha_bar:
        raise ValueError(f"alpha_bar_prev: expected a level >= alpha_bar = {alpha_bar:g} (a step removes noise), "
                         f"got {alpha_bar_prev:g}")


def ddim_step(
    x: torch.Tensor, eps: torch.Tensor, alpha_bar: float, alpha_bar_prev: float, sigma: float,
    noise: torch.Tensor | None = None, clip_x0: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of DDIM eq. 12 from level alpha_bar to alpha_bar_prev; returns (x_prev, x0_hat):

    x_prev = sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - sigma^2) eps + sigma z,
    x0_hat = (x - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar).

    With ``clip_x0`` the clipped x0_hat is used and eps is recomputed from it (so the step stays on
    the line through x and x0_hat). With alpha_bar_prev = 1 (the last step) x_prev is x0_hat exactly.
    """
    x = check_float_tensor("x", x)
    eps = check_same_shape("eps", check_float_tensor("eps", eps), "x", x)
    _check_levels(alpha_bar, alpha_bar_prev)
    sigma = check_number("sigma", sigma, low=0.0)
    if sigma > math.sqrt(1 - alpha_bar_prev) + 1e-9:
        raise ValueError(f"sigma: expected at most sqrt(1 - alpha_bar_prev) = {math.sqrt(1 - alpha_bar_prev):.4g} "
                         f"(eta <= 1), got {sigma:g}")
    if noise is not None:
        check_same_shape("noise", check_float_tensor("noise", noise), "x", x)
    if clip_x0 is not None:
        check_positive("clip_x0", clip_x0)
    return _ddim_step(x, eps, alpha_bar, alpha_bar_prev, sigma, noise, clip_x0)


def _ddim_step(x: torch.Tensor, eps: torch.Tensor, alpha_bar: float, alpha_bar_prev: float, sigma: float,
               noise: torch.Tensor | None, clip_x0: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    x0_hat = (x - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
        eps = (x - math.sqrt(alpha_bar) * x0_hat) / math.sqrt(1 - alpha_bar)
    direction = math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0))
    x_prev = math.sqrt(alpha_bar_prev) * x0_hat + direction * eps
    if sigma > 0 and noise is not None:
        x_prev = x_prev + sigma * noise
    return x_prev, x0_hat


@torch.no_grad()
def ddim_sample(
    model: EpsModel,
    x: torch.Tensor,
    grid: Grid,
    *,
    schedule: Schedule,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    eta: float = 0.0,
    clip_x0: float | None = None,
    noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """DDIM sampling (Song, Meng & Ermon 2021, eq. 12 with sigma from eq. 16) from x = x_T ~ N(0, I).

    ``grid``: the sub-sequence tau of step indices, decreasing (every step, or a
    :func:`diffusion_edu.processes.grids.sub_grid`). One model call per entry. Notation, for the step
    from tau_i to tau_{i-1}:

    - alpha_bar_t = alpha_bar[tau_i], alpha_bar_prev = alpha_bar[tau_{i-1}], and 1 after the last
      entry (the step to x_0; never alpha_bar[tau_{-1}], the classic bug)
    - eps = model(x_t, tau_i), x0_hat = "predicted x_0", sigma = sigma_t(eta) of eq. 16

    1. x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)  (clipped with ``clip_x0``, eps
       then recomputed from it)
    2. direction = sqrt(1 - alpha_bar_prev - sigma^2) eps, "direction pointing to x_t"
    3. x_prev = sqrt(alpha_bar_prev) x0_hat + direction + sigma z, z ~ N(0, I) (no noise at the last
       step, whose x_prev is x0_hat exactly)

    ``eta`` = 0 is deterministic (the probability-flow ODE's discretisation); eta = 1 on every step
    is DDPM's ancestral sampler (Algorithm 2, posterior variance) draw for draw.
    """
    check_callable("model", model, "model(x_t, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_schedule(schedule)
    steps = check_step_grid(grid, schedule.T)
    eta = check_number("eta", eta, low=0.0, high=1.0)  # DDIM's range: 0 deterministic .. 1 DDPM
    if clip_x0 is not None:
        check_positive("clip_x0", clip_x0)
    check_hooks(callback, noise_sampler)
    alpha_bar_all = schedule.alpha_bar.tolist()
    draw_dtype = torch.get_default_dtype()  # the draws of every earlier release: seeded figures stay put
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        alpha_bar = alpha_bar_all[step]
        alpha_bar_prev = 1.0 if last else alpha_bar_all[steps[i + 1]]
        sigma = ddim_sigma(alpha_bar, alpha_bar_prev, eta)
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        eps = check_output("model", model(x, t), x)
        noise = None if last or sigma == 0 else draw_noise(x, generator, noise_sampler, draw_dtype)
        x, x0_hat = _ddim_step(x, eps, alpha_bar, alpha_bar_prev, sigma, noise, clip_x0)
        report(callback, i, step, x, x0_hat)
    return check_finite_result("model", x, "the model(x_t, t) calls")


@torch.no_grad()
def ddim_invert(
    model: EpsModel,
    x: torch.Tensor,
    grid: Grid,
    *,
    schedule: Schedule,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    fixed_point_iterations: int = 0,
) -> torch.Tensor:
    """Deterministic encoding x_0 -> x_T: DDIM's eta = 0 update run forwards (DDIM section 5.4).

    ``grid``: the step indices tau, **increasing** (an encoder climbs from the data to the noise; pass
    the decoding grid reversed, ``grid.flip(0)``); ``x`` is the data x_0. Going up from tau_{i-1} to
    tau_i needs eps at the *arrival* point (x_{tau_i}, tau_i), which is unknown; the usual
    approximation evaluates the model at (x_{tau_{i-1}}, tau_i). ``fixed_point_iterations`` > 0
    refines it by re-evaluating at the current guess of x_{tau_i} (one more network call per step
    each), which makes encoding an exact inverse of :func:`ddim_sample` with eta = 0 when it
    converges. Deterministic: ``generator`` is unused and kept for the common signature.
    """
    check_callable("model", model, "model(x_t, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_schedule(schedule)
    steps = check_step_grid(grid, schedule.T, increasing=True)
    check_int("fixed_point_iterations", fixed_point_iterations, minimum=0)
    check_hooks(callback)
    alpha_bar_all = schedule.alpha_bar.tolist()
    alpha_bar_from = 1.0
    for i, step in enumerate(steps):
        alpha_bar_to = alpha_bar_all[step]
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        x_up = x  # the first guess of the arrival point
        for _ in range(fixed_point_iterations + 1):
            eps = check_output("model", model(x_up, t), x)
            x0_hat = (x - math.sqrt(1 - alpha_bar_from) * eps) / math.sqrt(alpha_bar_from)
            x_up = math.sqrt(alpha_bar_to) * x0_hat + math.sqrt(1 - alpha_bar_to) * eps
        x, alpha_bar_from = x_up, alpha_bar_to
        report(callback, i, step, x, x0_hat)
    return check_finite_result("model", x, "the model(x_t, t) calls")


def slerp(z0: torch.Tensor, z1: torch.Tensor, weight: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two noise latents (Shoemake 1985), per sample:
    sin((1 - w) theta) / sin(theta) z0 + sin(w theta) / sin(theta) z1, theta the angle between them.
    Unlike a straight line it keeps the norm of Gaussian latents near sqrt(D), where the sampler
    expects them (DDIM section 5.3). ``weight`` is a number in [0, 1] (or a 0-d tensor).

    Degenerate pairs get a defined answer, never NaN: parallel latents (theta ~ 0, e.g. z0 = z1) and a
    zero latent fall back to the straight line (1 - w) z0 + w z1, the formula's limit (z0 = z1 gives z0);
    for opposite latents (theta ~ pi) the great circle is not unique, and the path turns through a fixed
    direction u orthogonal to z0: ((1 - w)|z0| + w|z1|) (cos(w pi) z0/|z0| + sin(w pi) u).
    """
    z0 = check_float_tensor("z0", z0, min_ndim=1)
    z1 = check_same_shape("z1", check_float_tensor("z1", z1, min_ndim=1), "z0", z0)
    w = check_number("weight", weight, low=0.0, high=1.0)
    dtype = torch.promote_types(z0.dtype, z1.dtype)
    flat0, flat1 = z0.flatten(1).to(dtype), z1.flatten(1).to(dtype)  # (N, D)
    norm0, norm1 = flat0.norm(dim=1, keepdim=True), flat1.norm(dim=1, keepdim=True)  # (N, 1)
    cos = ((flat0 * flat1).sum(1, keepdim=True) / (norm0 * norm1).clamp_min(torch.finfo(dtype).tiny)).clamp(-1, 1)
    theta = torch.arccos(cos)  # (N, 1)
    tol = 1e-6 if dtype == torch.float64 else 1e-3
    parallel = (norm0 == 0) | (norm1 == 0) | (theta < tol)
    opposite = ~parallel & (theta > math.pi - tol)
    regular = ~(parallel | opposite)
    theta_safe = torch.where(regular, theta, torch.ones_like(theta))
    out = (torch.sin((1 - w) * theta_safe) * flat0 + torch.sin(w * theta_safe) * flat1) / torch.sin(theta_safe)
    out = torch.where(parallel, (1 - w) * flat0 + w * flat1, out)
    if bool(opposite.any()):
        e0 = flat0 / norm0.clamp_min(torch.finfo(dtype).tiny)
        axis = torch.zeros_like(flat0)
        axis[torch.arange(len(flat0)), e0.abs().argmin(dim=1)] = 1.0  # the coordinate axis least aligned with z0
        u = axis - (axis * e0).sum(1, keepdim=True) * e0
        u = u / u.norm(dim=1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
        turn = ((1 - w) * norm0 + w * norm1) * (math.cos(w * math.pi) * e0 + math.sin(w * math.pi) * u)
        out = torch.where(opposite, turn, out)
    return out.view(z0.shape)
