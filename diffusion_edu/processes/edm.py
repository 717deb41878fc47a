"""EDM (Karras et al. 2022, "Elucidating the design space of diffusion-based generative models"): the
noise level sigma as the time, x = y + sigma n with y the data (the :class:`~diffusion_edu.processes.paths.EDMPath`),
and a *denoiser* D(x, sigma) ~ E[y | x] as the model every sampler of
:mod:`diffusion_edu.processes.edm_samplers` runs.

- :func:`karras_sigmas`: the grid sigma_i = (sigma_max^(1/rho) + i / (N - 1) (sigma_min^(1/rho) -
  sigma_max^(1/rho)))^rho, rho = 7, then 0 (EDM eq. 5);
- :func:`preconditioning`: c_skip, c_out, c_in, c_noise of D = c_skip x + c_out F(c_in x, c_noise) (EDM
  Table 1, derived in :mod:`diffusion_edu.derivations.edm`), :func:`precondition` applies them to a network F,
  :func:`loss_weight` is lambda(sigma) = 1 / c_out^2 and :func:`edm_loss` the training loss (EDM eq. 2, 8);
- :func:`mixture_denoiser`: the exact denoiser of a Gaussian mixture (Tweedie: D = x + sigma^2 score);
- :func:`clipped`: a denoiser whose output is clipped to the data's range (DDIM's ``clip_x0``, for pixels in [-1, 1]);
- :func:`schedule_sigmas` and :func:`discrete_denoiser`: a DDPM eps model as a denoiser in sigma, with
  sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) and x = x_t / sqrt(alpha_bar_t) (EDM Appendix C.1; k-diffusion's
  ``DiscreteEpsDDPMDenoiser``, diffusers' ``EulerDiscreteScheduler``).

Denoisers are called ``D(x, sigma)`` with ``sigma`` a tensor (N,) of x's dtype, one noise level per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_float_tensor,
    check_int,
    check_number,
    check_output,
    check_positive,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.data import GaussianMixture, check_mixture
from diffusion_edu.processes.schedules import Schedule, check_schedule

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Network = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # EDM's values (Table 1)


def karras_sigmas(n_steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO,
                  append_zero: bool = True) -> torch.Tensor:
    """EDM eq. 5: n_steps levels from sigma_max down to sigma_min, equally spaced in sigma^(1/rho), then a final 0
    (the clean data) when ``append_zero``; float64, decreasing. rho = 1 is uniform in sigma, rho -> infinity
    uniform in log sigma; rho = 7 makes the steps near sigma_min short (the step is ~ sigma^(1 - 1/rho))."""
    check_int("n_steps", n_steps)
    sigma_min = check_number("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = check_number("sigma_max", sigma_max, low=sigma_min, low_open=n_steps > 1)
    rho = check_number("rho", rho, low=0.0, low_open=True)
    ramp = torch.linspace(0, 1, n_steps, dtype=torch.float64)
    low, high = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (high + ramp * (low - high)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]) if append_zero else sigmas


def _sigma(sigma: object) -> torch.Tensor:
    if isinstance(sigma, (int, float)) and not isinstance(sigma, bool):
        sigma = torch.tensor(float(sigma), dtype=torch.float64)
    sigma = check_float_tensor("sigma", sigma, nonempty=False)
    if sigma.numel() and bool((sigma < 0).any()):
        raise ValueError(f"sigma: expected noise levels >= 0, got min {float(sigma.min()):.4g}")
    return sigma


def preconditioning(sigma: torch.Tensor | float, sigma_data: float) -> dict[str, torch.Tensor]:
    """EDM Table 1 (its Appendix B.6 derives them; :func:`diffusion_edu.derivations.edm.preconditioning` proves them):
    c_in = 1 / sqrt(sigma^2 + sigma_data^2) gives the network an input of unit variance; c_skip = sigma_data^2 /
    (sigma^2 + sigma_data^2) makes the network's target as small as possible, and c_out = sigma sigma_data /
    sqrt(sigma^2 + sigma_data^2) scales it to unit variance; c_noise = log(sigma) / 4 (an empirical choice; at
    sigma = 0 it is -inf and unused, since c_out = 0 there). Tensors shaped like ``sigma``, in its dtype."""
    sigma = _sigma(sigma)
    check_positive("sigma_data", sigma_data)
    total = sigma.square() + sigma_data**2
    return {"c_skip": sigma_data**2 / total, "c_out": sigma * sigma_data / total.sqrt(),
            "c_in": total.rsqrt(), "c_noise": sigma.log() / 4}


def loss_weight(sigma: torch.Tensor | float, sigma_data: float) -> torch.Tensor:
    """lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 = 1 / c_out^2 (EDM Table 1): the denoiser's
    squared error weighted so the *network's* error F - F_target has unit weight at every noise level."""
    sigma = _sigma(sigma)
    if sigma.numel() and bool((sigma == 0).any()):
        raise ValueError("sigma: expected noise levels > 0 (the weight is infinite at sigma = 0), got a 0")
    check_positive("sigma_data", sigma_data)
    return (sigma.square() + sigma_data**2) / (sigma * sigma_data).square()


def precondition(network: Network, x: torch.Tensor, sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) (EDM eq. 7) for a batch x (N, ...) with sigma (N,) > 0."""
    check_callable("network", network, "network(x, c_noise)")
    x = check_float_tensor("x", x, min_ndim=1)
    sigma = _sigma(sigma)
    if sigma.shape != (x.shape[0],):
        raise ValueError(f"sigma: expected shape ({x.shape[0]},) (one level per sample), got {tuple(sigma.shape)}")
    c = {k: append_dims(v, x) for k, v in preconditioning(sigma, sigma_data).items()}
    out = check_output("network", network(c["c_in"] * x, c["c_noise"].flatten()), x, "network(x, c_noise)")
    return c["c_skip"] * x + c["c_out"] * out


def edm_loss(denoiser: Denoiser, y: torch.Tensor, sigma_data: float, generator: torch.Generator | None = None,
             p_mean: float = -1.2, p_std: float = 1.2) -> torch.Tensor:
    """EDM's training loss (eq. 2 with Table 1's choices): ln sigma ~ N(p_mean, p_std^2), x = y + sigma n,
    mean over the batch of lambda(sigma) |D(x, sigma) - y|^2 / dim. Noise is drawn on the CPU from ``generator``
    and moved to y's device, so a seeded run is the same on every device."""
    check_callable("denoiser", denoiser, "denoiser(x, sigma)")
    y = check_float_tensor("y", y, min_ndim=1)
    check_positive("sigma_data", sigma_data)
    p_mean, p_std = check_number("p_mean", p_mean), check_number("p_std", p_std, low=0.0, low_open=True)
    log_sigma = torch.randn(y.shape[0], generator=generator) * p_std + p_mean
    noise = torch.randn(y.shape, generator=generator).to(y.device, y.dtype)
    sigma = log_sigma.exp().to(y.device, y.dtype)
    x = y + append_dims(sigma, y) * noise
    error = (denoiser(x, sigma) - y).square().flatten(1).mean(1)
    return (loss_weight(sigma, sigma_data) * error).mean()


def mixture_denoiser(mixture: GaussianMixture) -> Denoiser:
    """The exact denoiser E[y | x] for data y from ``mixture`` and x = y + sigma n: Tweedie's
    x + sigma^2 grad log p_sigma(x), with p_sigma the mixture with every variance raised by sigma^2 (closed form).
    At sigma = 0 it returns x. No learned denoiser can beat it."""
    check_mixture(mixture)

    def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, ndim=2)
        sigma = _sigma(sigma)
        score = mixture.score(x.cpu().double(), 1.0, sigma.cpu().double())
        return (x.cpu().double() + append_dims(sigma.cpu().double().square(), score) * score).to(x.device, x.dtype)

    return denoiser


def schedule_sigmas(schedule: Schedule) -> torch.Tensor:
    """sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) of each step of a DDPM schedule (float64, increasing): the
    noise level of x_t / sqrt(alpha_bar_t) = x_0 + sigma_t eps, so DDPM's path is EDM's path rescaled."""
    check_schedule(schedule)
    alpha_bar = schedule.alpha_bar.double()
    return ((1 - alpha_bar) / alpha_bar).sqrt()


def sigma_to_t(sigma: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The fractional step index whose sigma_t is ``sigma``: linear interpolation in log sigma between the two
    neighbouring steps, clamped to [0, T - 1] (diffusers' and k-diffusion's ``_sigma_to_t``)."""
    log_sigma = _sigma(sigma).double().clamp_min(1e-10).log()
    log_sigmas = schedule_sigmas(schedule).log().to(log_sigma.device)  # the schedule lives on the CPU
    low = (log_sigma[..., None] >= log_sigmas).sum(-1).sub(1).clamp(0, len(log_sigmas) - 2)
    w = ((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1])).clamp(0, 1)
    return low + w


def discrete_denoiser(eps_model: Network, schedule: Schedule, quantize: bool = False) -> Denoiser:
    """A DDPM eps model ``eps_model(x_t, t)`` as a denoiser in EDM's sigma: D(x, sigma) = x - sigma
    eps(x / sqrt(1 + sigma^2), t(sigma)), since x_t = x / sqrt(1 + sigma^2) has alpha_bar = 1 / (1 + sigma^2).
    ``t(sigma)`` is :func:`sigma_to_t` (fractional; rounded to the nearest step with ``quantize``, for a model that
    takes only integer steps). Valid for sigma in [sigma_0, sigma_(T-1)] of the schedule."""
    check_callable("eps_model", eps_model, "eps_model(x_t, t)")
    check_schedule(schedule)

    def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, min_ndim=1)
        sigma = _sigma(sigma).to(x.device)
        t = sigma_to_t(sigma, schedule)
        t = t.round().long() if quantize else t.to(x.dtype)
        scale = append_dims((1 + sigma.double().square()).rsqrt(), x).to(x.dtype)
        eps = check_output("eps_model", eps_model(x * scale, t.to(x.device)), x, "eps_model(x_t, t)")
        return x - append_dims(sigma.to(x.dtype), x) * eps

    return denoiser


def data_std(y: torch.Tensor) -> float:
    """sigma_data: the standard deviation of the data, pooled over coordinates (EDM uses 0.5 for images in
    [-1, 1]; a 2-D set has its own)."""
    y = check_float_tensor("y", y, min_ndim=1)
    return float(math.sqrt(float(y.double().var(0).mean())))


def clipped(denoiser: Denoiser, bound: float = 1.0) -> Denoiser:
    """``denoiser`` with its output, the clean-data estimate, clipped to [-bound, bound]: the samplers' version of
    DDIM's ``clip_x0`` for data known to lie in a box (pixels in [-1, 1])."""
    check_callable("denoiser", denoiser, "denoiser(x, sigma)")
    bound = check_number("bound", bound, low=0.0, low_open=True)

    def clipped_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return denoiser(x, sigma).clamp(-bound, bound)

    return clipped_denoiser
