"""DDPM (Ho et al. 2020) as pure tensor functions: the forward process, the posterior, the
parameterisation conversions, the training loss, and ancestral sampling (Algorithm 2).

A *model* here is any callable ``model(x_t, t) -> eps_hat`` with ``t`` a long tensor (N,) of
step indices (see :mod:`diffusion_edu.schedules` for the convention). The exact-score oracle
:func:`exact_eps_model` is one such callable, so learned models and the oracle run through the
same sampler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu._checks import check_tensor
from diffusion_edu.data import GaussianMixture
from diffusion_edu.schedules import Schedule

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[int, torch.Tensor, torch.Tensor], None]


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] reshaped to broadcast against ``like`` (N, ...), in like's dtype and device."""
    return values.to(like.device)[t].to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def _check_t(t: torch.Tensor, schedule: Schedule, n: int) -> torch.Tensor:
    check_tensor("t", t)
    if t.dtype not in (torch.int64, torch.int32) or t.shape != (n,):
        raise ValueError(f"t: expected an integer tensor of shape ({n},), got {t.dtype} {tuple(t.shape)}")
    if bool(torch.any(t < 0)) or bool(torch.any(t >= schedule.T)):
        raise ValueError(f"t: expected step indices in [0, {schedule.T - 1}], got [{int(t.min())}, {int(t.max())}]")
    return t


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps: one shot from x_0 (DDPM eq. 4)."""
    check_tensor("x0", x0)
    _check_t(t, schedule, x0.shape[0])
    if noise.shape != x0.shape:
        raise ValueError(f"noise: expected shape {tuple(x0.shape)} (as x0), got {tuple(noise.shape)}")
    alpha_bar = _at(schedule.alpha_bar, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def q_step(x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps (DDPM eq. 2)."""
    beta = _at(schedule.betas, _check_t(t, schedule, x_prev.shape[0]), x_prev)
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise


def x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """Invert the forward process: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def eps_from_x0(x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def v_from_eps(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The v-parameterisation (Salimans & Ho 2022): v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0."""
    alpha_bar = _at(schedule.alpha_bar, t, x0)
    return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0


def eps_from_v(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v."""
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (1 - alpha_bar).sqrt() * x_t + alpha_bar.sqrt() * v


def posterior(
    x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) (DDPM eq. 6-7):
    mean = [sqrt(alpha_bar_{t-1}) beta_t x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) x_t] / (1 - alpha_bar_t),
    variance = beta_tilde_t."""
    alpha_bar, alpha_bar_prev = _at(schedule.alpha_bar, t, x_t), _at(schedule.alpha_bar_prev, t, x_t)
    beta, alpha = _at(schedule.betas, t, x_t), _at(schedule.alphas, t, x_t)
    mean = (alpha_bar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - alpha_bar_prev) * x_t) / (1 - alpha_bar)
    return mean, _at(schedule.posterior_variance, t, x_t).expand_as(mean)


def eps_loss(
    model: EpsModel, x0: torch.Tensor, schedule: Schedule, generator: torch.Generator | None = None
) -> torch.Tensor:
    """L_simple (DDPM Algorithm 1): E_{t, eps} |eps - eps_theta(x_t, t)|^2 with t uniform."""
    n = x0.shape[0]
    t = torch.randint(0, schedule.T, (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = q_sample(x0, t, noise, schedule)
    return (model(x_t, t) - noise).square().mean()


@torch.no_grad()
def ddpm_sample(
    model: EpsModel,
    x: torch.Tensor,
    schedule: Schedule,
    generator: torch.Generator | None = None,
    variance: str = "posterior",
    clip_x0: float | None = None,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Ancestral sampling, DDPM Algorithm 2: from x = x_T ~ N(0, I), for t = T..1,
    x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta(x_t, t)) / sqrt(alpha_t) + sigma_t z,
    with sigma_t^2 = beta_tilde_t (``variance="posterior"``) or beta_t (``"beta"``), and no noise
    at the last step. ``clip_x0`` clips the implied x_0 to [-c, c] and uses the posterior mean
    form (the same update when nothing is clipped). ``callback(t, x_t, x0_hat)`` sees every step.
    """
    check_tensor("x", x)
    if variance not in ("posterior", "beta"):
        raise ValueError(f"variance: expected 'posterior' or 'beta', got {variance!r}")
    sigma2_all = schedule.posterior_variance if variance == "posterior" else schedule.betas
    for step in reversed(range(schedule.T)):
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        eps = model(x, t)
        x0_hat = x0_from_eps(x, t, eps, schedule)
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
            mean, _ = posterior(x0_hat, x, t, schedule)
        else:
            beta, alpha = _at(schedule.betas, t, x), _at(schedule.alphas, t, x)
            mean = (x - beta / (1 - _at(schedule.alpha_bar, t, x)).sqrt() * eps) / alpha.sqrt()
        if callback is not None:
            callback(step, x, x0_hat)
        if step > 0:
            noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
            x = mean + _at(sigma2_all, t, x).sqrt() * noise
        else:
            x = mean
    return x


def respaced_model(model: EpsModel, kept: torch.Tensor) -> EpsModel:
    """Run ``model`` (trained on the full schedule) on a respaced one: step i of the short schedule
    is step ``kept[i]`` of the full one (see :func:`diffusion_edu.schedules.respace`)."""
    check_tensor("kept", kept)

    def respaced(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x, kept.to(t.device)[t])

    return respaced


def exact_eps_model(mixture: GaussianMixture, schedule: Schedule) -> EpsModel:
    """The perfect denoiser for data from ``mixture``: eps*(x_t, t) = -sqrt(1 - alpha_bar_t) grad log q_t(x_t),
    with q_t the mixture scaled by sqrt(alpha_bar_t) plus N(0, (1 - alpha_bar_t) I), in closed form.
    No learned model can beat it; chapters measure learned models against it."""

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        alpha_bar = schedule.alpha_bar[t.cpu()].to(torch.float32)
        noise_std = (1 - alpha_bar).sqrt()
        score = mixture.score(x.cpu().float(), alpha_bar.sqrt(), noise_std)
        return (-noise_std[:, None] * score).to(x.device, x.dtype)

    return model


