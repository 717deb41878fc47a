"""DDPM (Ho et al. 2020) as pure tensor functions: the forward process, the posterior, the
parameterisation conversions, the training loss, and ancestral sampling (Algorithm 2).

A *model* here is any callable ``model(x_t, t) -> eps_hat`` with ``t`` a long tensor (N,) of
step indices (see :mod:`diffusion_edu.schedules` for the convention). The exact-score oracle
:func:`exact_eps_model` is one such callable, so learned models and the oracle run through the
same sampler.

Inputs are checked (see :mod:`diffusion_edu._checks`): data tensors must be finite, integer ones are
promoted to the default float dtype; ``t`` must be an integer tensor (N,) with entries in [0, T - 1];
a model's output must have the shape of its input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu._checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_output,
    check_positive,
    check_same_shape,
    check_steps,
)
from diffusion_edu.data import GaussianMixture, check_mixture
from diffusion_edu.schedules import Schedule, check_schedule

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[int, torch.Tensor, torch.Tensor], None]


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] reshaped to broadcast against ``like`` (N, ...), in like's dtype and device."""
    return values.to(like.device)[t].to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


def _check_t(t: torch.Tensor, schedule: Schedule, n: int) -> torch.Tensor:
    return check_steps("t", t, check_schedule(schedule).T, n)


def _check_pair(name: str, value: torch.Tensor, other_name: str, other: torch.Tensor) -> torch.Tensor:
    return check_same_shape(name, check_float_tensor(name, value), other_name, other)


def _check_inputs(x_name: str, x: torch.Tensor, t: torch.Tensor, schedule: Schedule, other_name: str,
                  other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A data tensor (N, ...), its step indices t (N,) and a second tensor of the same shape, all checked."""
    x = check_float_tensor(x_name, x, min_ndim=1)
    t = _check_t(t, schedule, x.shape[0])
    return x, t, _check_pair(other_name, other, x_name, x)


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps: one shot from x_0 (DDPM eq. 4)."""
    x0, t, noise = _check_inputs("x0", x0, t, schedule, "noise", noise)
    alpha_bar = _at(schedule.alpha_bar, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def q_step(x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps (DDPM eq. 2)."""
    x_prev, t, noise = _check_inputs("x_prev", x_prev, t, schedule, "noise", noise)
    beta = _at(schedule.betas, t, x_prev)
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise


def x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """Invert the forward process: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    x_t, t, eps = _check_inputs("x_t", x_t, t, schedule, "eps", eps)
    return _x0_from_eps(x_t, t, eps, schedule)


def _x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (x_t - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def eps_from_x0(x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
    x_t, t, x0 = _check_inputs("x_t", x_t, t, schedule, "x0", x0)
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def v_from_eps(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The v-parameterisation (Salimans & Ho 2022): v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0."""
    x0, t, eps = _check_inputs("x0", x0, t, schedule, "eps", eps)
    alpha_bar = _at(schedule.alpha_bar, t, x0)
    return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0


def eps_from_v(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v."""
    x_t, t, v = _check_inputs("x_t", x_t, t, schedule, "v", v)
    alpha_bar = _at(schedule.alpha_bar, t, x_t)
    return (1 - alpha_bar).sqrt() * x_t + alpha_bar.sqrt() * v


def posterior(
    x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) (DDPM eq. 6-7):
    mean = [sqrt(alpha_bar_{t-1}) beta_t x_0 + sqrt(alpha_t) (1 - alpha_bar_{t-1}) x_t] / (1 - alpha_bar_t),
    variance = beta_tilde_t."""
    x_t, t, x0 = _check_inputs("x_t", x_t, t, schedule, "x0", x0)
    return _posterior(x0, x_t, t, schedule)


def _posterior(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
               schedule: Schedule) -> tuple[torch.Tensor, torch.Tensor]:
    alpha_bar, alpha_bar_prev = _at(schedule.alpha_bar, t, x_t), _at(schedule.alpha_bar_prev, t, x_t)
    beta, alpha = _at(schedule.betas, t, x_t), _at(schedule.alphas, t, x_t)
    mean = (alpha_bar_prev.sqrt() * beta * x0 + alpha.sqrt() * (1 - alpha_bar_prev) * x_t) / (1 - alpha_bar)
    return mean, _at(schedule.posterior_variance, t, x_t).expand_as(mean)


def eps_loss(
    model: EpsModel, x0: torch.Tensor, schedule: Schedule, generator: torch.Generator | None = None
) -> torch.Tensor:
    """L_simple (DDPM Algorithm 1): E_{t, eps} |eps - eps_theta(x_t, t)|^2 with t uniform."""
    check_callable("model", model, "model(x_t, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    check_schedule(schedule)
    n = x0.shape[0]
    t = torch.randint(0, schedule.T, (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = q_sample(x0, t, noise, schedule)
    return (check_output("model", model(x_t, t), noise) - noise).square().mean()


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
    check_callable("model", model, "model(x_t, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_schedule(schedule)
    if variance not in ("posterior", "beta"):
        raise ValueError(f"variance: expected 'posterior' or 'beta', got {variance!r}")
    if clip_x0 is not None:
        check_positive("clip_x0", clip_x0)
    if callback is not None:
        check_callable("callback", callback, "callback(t, x_t, x0_hat)")
    sigma2_all = schedule.posterior_variance if variance == "posterior" else schedule.betas
    for step in reversed(range(schedule.T)):
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        eps = check_output("model", model(x, t), x)
        x0_hat = _x0_from_eps(x, t, eps, schedule)  # the inputs were checked once, above
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
            mean, _ = _posterior(x0_hat, x, t, schedule)
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
    return check_finite_result("model", x, "the model(x_t, t) calls")


def respaced_model(model: EpsModel, kept: torch.Tensor) -> EpsModel:
    """Run ``model`` (trained on the full schedule) on a respaced one: step i of the short schedule
    is step ``kept[i]`` of the full one (see :func:`diffusion_edu.schedules.respace`)."""
    check_callable("model", model, "model(x_t, t)")
    kept = check_steps("kept", kept, 2**62)
    if kept.ndim != 1 or len(kept) < 1:
        raise ValueError(f"kept: expected a non-empty 1-D tensor of step indices, got shape {tuple(kept.shape)}")

    def respaced(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = check_steps("t", t, len(kept), x.shape[0] if isinstance(x, torch.Tensor) and x.ndim else None)
        return model(x, kept.to(t.device)[t])

    return respaced


def exact_eps_model(mixture: GaussianMixture, schedule: Schedule) -> EpsModel:
    """The perfect denoiser for data from ``mixture``: eps*(x_t, t) = -sqrt(1 - alpha_bar_t) grad log q_t(x_t),
    with q_t the mixture scaled by sqrt(alpha_bar_t) plus N(0, (1 - alpha_bar_t) I), in closed form.
    No learned model can beat it; chapters measure learned models against it."""
    check_mixture(mixture)
    check_schedule(schedule)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, min_ndim=1)
        t = _check_t(t, schedule, x.shape[0])
        alpha_bar = schedule.alpha_bar[t.cpu()].to(torch.float32)
        noise_std = (1 - alpha_bar).sqrt()
        score = mixture.score(x.cpu().float(), alpha_bar.sqrt(), noise_std)
        return (-noise_std[:, None] * score).to(x.device, x.dtype)

    return model


