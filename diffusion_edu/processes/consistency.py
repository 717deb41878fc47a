"""Consistency models (Song, Dhariwal, Chen & Sutskever 2023, "Consistency models"): one function
f(x, sigma) that maps *every* point of a probability-flow ODE trajectory to the trajectory's start at sigma_min,
so one evaluation samples, and a few more refine.

- :func:`consistency_scalings` and :func:`consistency_function`: f = c_skip x + c_out F(c_in x, c_noise) with
  c_skip = sigma_d^2 / ((sigma - sigma_min)^2 + sigma_d^2) and c_out = sigma_d (sigma - sigma_min) / sqrt(sigma_d^2 +
  sigma^2) (Appendix C), so the boundary condition f(x, sigma_min) = x holds for every network (proved in
  :func:`diffusion_edu.derivations.few_steps.consistency_boundary`); c_in and c_noise are EDM's;
- :func:`teacher_ode_step` and :func:`consistency_distillation_loss`: consistency distillation, Algorithm 2: a
  teacher's Heun step between neighbouring levels, the student's outputs at both ends pulled together, the far end
  through a slowly moving copy theta^- (:func:`update_target`, an EMA with rate mu);
- :func:`consistency_sample`: Algorithm 1, one- and multistep sampling on the sampler contract of
  :mod:`diffusion_edu.processes.sampling`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from diffusion_edu.core.checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_number,
    check_output,
    check_positive,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.edm import SIGMA_MIN, Denoiser, Network
from diffusion_edu.processes.edm_samplers import check_sigma_grid
from diffusion_edu.processes.sampling import Callback, Grid, NoiseSampler, check_hooks, draw_noise, report


def _levels(sigma: object, sigma_min: float) -> torch.Tensor:
    if isinstance(sigma, (int, float)) and not isinstance(sigma, bool):
        sigma = torch.tensor(float(sigma), dtype=torch.float64)
    sigma = check_float_tensor("sigma", sigma, nonempty=False)
    if sigma.numel() and bool((sigma < sigma_min).any()):
        raise ValueError(f"sigma: expected noise levels >= sigma_min = {sigma_min:g} (the consistency function is "
                         f"defined from sigma_min up), got min {float(sigma.min()):.4g}")
    return sigma


def consistency_scalings(sigma: torch.Tensor | float, sigma_data: float,
                         sigma_min: float = SIGMA_MIN) -> dict[str, torch.Tensor]:
    """Song et al. 2023, Appendix C: c_skip = sigma_d^2 / ((sigma - sigma_min)^2 + sigma_d^2), c_out = sigma_d (sigma -
    sigma_min) / sqrt(sigma_d^2 + sigma^2) (EDM's with sigma shifted, so c_skip(sigma_min) = 1 and c_out(sigma_min)
    = 0), c_in = 1 / sqrt(sigma^2 + sigma_d^2) and c_noise = log(sigma) / 4 (EDM's). Tensors shaped like ``sigma``."""
    sigma_min = check_number("sigma_min", sigma_min, low=0.0, low_open=True)
    check_positive("sigma_data", sigma_data)
    sigma = _levels(sigma, sigma_min)
    shifted = sigma - sigma_min
    return {"c_skip": sigma_data**2 / (shifted.square() + sigma_data**2),
            "c_out": sigma_data * shifted / (sigma.square() + sigma_data**2).sqrt(),
            "c_in": (sigma.square() + sigma_data**2).rsqrt(), "c_noise": sigma.log() / 4}


def consistency_function(network: Network, x: torch.Tensor, sigma: torch.Tensor, sigma_data: float,
                         sigma_min: float = SIGMA_MIN) -> torch.Tensor:
    """f(x, sigma) = c_skip x + c_out F(c_in x, c_noise) (Song et al. 2023, eq. 5) for a batch x (N, ...) with sigma
    (N,) >= sigma_min; f(x, sigma_min) = x exactly, whatever the network outputs."""
    check_callable("network", network, "network(x, c_noise)")
    x = check_float_tensor("x", x, min_ndim=1)
    sigma = _levels(sigma, check_number("sigma_min", sigma_min, low=0.0, low_open=True))
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma: expected shape ({x.shape[0]},) (one level per sample), got {tuple(sigma.shape)}")
    c = {k: append_dims(v, x) for k, v in consistency_scalings(sigma, sigma_data, sigma_min).items()}
    out = check_output("network", network(c["c_in"] * x, c["c_noise"].flatten()), x, "network(x, c_noise)")
    return c["c_skip"] * x + c["c_out"] * out


@torch.no_grad()
def teacher_ode_step(teacher: Denoiser, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
                     heun: bool = True) -> torch.Tensor:
    """One step of the probability-flow ODE dx/dsigma = (x - D(x, sigma)) / sigma from sigma to sigma_next > 0
    (tensors (N,), one per sample): Euler, then with ``heun`` EDM Algorithm 1's correction (Song et al. 2023 distil
    with it). The teacher's estimate x_hat_(n) of Algorithm 2."""
    check_callable("teacher", teacher, "teacher(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    if bool((sigma_next <= 0).any()):
        raise ValueError("sigma_next: expected levels > 0 (the consistency function starts at sigma_min), got a 0")
    step = append_dims(sigma_next - sigma, x)
    slope = (x - check_output("teacher", teacher(x, sigma), x, "teacher(x, sigma)")) / append_dims(sigma, x)
    x_next = x + step * slope
    if heun:
        denoised = check_output("teacher", teacher(x_next, sigma_next), x, "teacher(x, sigma)")
        x_next = x + step * (slope + (x_next - denoised) / append_dims(sigma_next, x)) / 2
    return x_next


@torch.no_grad()
def update_target(target: nn.Module, model: nn.Module, decay: float) -> None:
    """theta^- <- stopgrad(mu theta^- + (1 - mu) theta) (Song et al. 2023, Algorithm 2), in place."""
    mu = check_number("decay", decay, low=0.0, high=1.0)
    for target_p, p in zip(target.parameters(), model.parameters(), strict=True):
        target_p.lerp_(p.detach(), 1.0 - mu)


def consistency_distillation_loss(model: Denoiser, target_model: Denoiser, teacher: Denoiser, y: torch.Tensor,
                                  levels: object, generator: torch.Generator | None = None,
                                  heun: bool = True) -> torch.Tensor:
    """Song et al. 2023, Algorithm 2 with the squared L2 distance and lambda = 1: for each sample a pair of
    neighbouring ``levels`` (decreasing, positive: the discretisation sigma_N > ... > sigma_1 = sigma_min) is drawn
    uniformly, x = y + sigma_(n+1) z, the teacher steps it to x_hat at sigma_n, and the loss is the mean over the
    batch of |f_theta(x, sigma_(n+1)) - f_theta^-(x_hat, sigma_n)|^2 / dim, with no gradient through the target."""
    check_callable("model", model, "model(x, sigma)")
    check_callable("target_model", target_model, "target_model(x, sigma)")
    y = check_float_tensor("y", y, min_ndim=1)
    values = check_sigma_grid(levels)
    if values[-1] == 0:
        raise ValueError("levels: expected positive levels ending at sigma_min, got a final 0")
    levels_t = torch.tensor(values, dtype=torch.float64)
    pair = torch.randint(0, len(values) - 1, (y.shape[0],), generator=generator)
    sigma, sigma_next = levels_t[pair].to(y.device, y.dtype), levels_t[pair + 1].to(y.device, y.dtype)
    x = y + append_dims(sigma, y) * torch.randn(y.shape, generator=generator).to(y.device, y.dtype)
    with torch.no_grad():
        target = target_model(teacher_ode_step(teacher, x, sigma, sigma_next, heun), sigma_next)
    output = check_output("model", model(x, sigma), x, "model(x, sigma)")
    return (output - target).square().flatten(1).mean(1).mean()


@torch.no_grad()
def consistency_sample(model: Denoiser, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
                       callback: Callback | None = None, noise_sampler: NoiseSampler | None = None,
                       sigma_min: float = SIGMA_MIN) -> torch.Tensor:
    """Multistep consistency sampling, Song et al. 2023, Algorithm 1: x ~ N(0, grid[0]^2 I) is mapped to
    x0 = f(x, grid[0]); then for each further level tau > 0 of ``grid`` fresh noise is added,
    x = x0 + sqrt(tau^2 - sigma_min^2) z, and x0 = f(x, tau). ``grid``: decreasing levels >= sigma_min ending with a
    0 (the data), so N evaluations need N + 1 levels, as for the EDM samplers; [sigma_max, 0] is one-step
    generation. Reports x = x0 after each evaluation; the noise comes from ``noise_sampler`` or ``generator``."""
    check_callable("model", model, "model(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    values = check_sigma_grid(grid)
    check_hooks(callback, noise_sampler)
    sigma_min = check_number("sigma_min", sigma_min, low=0.0, low_open=True)
    if values[-1] != 0 or values[-2] < sigma_min:
        raise ValueError(f"grid: expected levels >= sigma_min = {sigma_min:g} followed by a final 0, got last levels "
                         f"{values[-2:]}")
    for i, tau in enumerate(values[:-1]):
        if i > 0:
            x = x + math.sqrt(tau**2 - sigma_min**2) * draw_noise(x, generator, noise_sampler)
        levels = torch.full((x.shape[0],), tau, dtype=x.dtype, device=x.device)
        x = check_output("model", model(x, levels), x, "model(x, sigma)")
        report(callback, i, tau, x, x)
    return check_finite_result("model", x, "the model(x, sigma) calls")
