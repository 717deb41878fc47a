"""DDPM (Ho et al. 2020) as pure tensor functions: the forward process, the posterior, the
parameterisation conversions, the training loss, and ancestral sampling (Algorithm 2).

A *model* here is any callable ``model(x_t, t) -> eps_hat`` with ``t`` a long tensor (N,) of
step indices (see :mod:`diffusion_edu.processes.schedules` for the convention). The exact-score oracle
:func:`exact_eps_model` is one such callable, so learned models and the oracle run through the
same sampler.

Inputs are checked (see :mod:`diffusion_edu.core.checks`): data tensors must be finite, integer ones are
promoted to the default float dtype; ``t`` must be an integer tensor (N,) with entries in [0, T - 1];
a model's output must have the shape of its input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_choice,
    check_finite_result,
    check_float_tensor,
    check_output,
    check_positive,
    check_same_shape,
    check_steps,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.data import GaussianMixture, check_mixture
from diffusion_edu.processes.paths import DiscretePath
from diffusion_edu.processes.predictions import eps_from_score
from diffusion_edu.processes.sampling import (
    Callback,
    Grid,
    NoiseSampler,
    check_hooks,
    check_step_grid,
    draw_noise,
    report,
)
from diffusion_edu.processes.schedules import Schedule, check_schedule, respace_at

EpsModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] (a float64 schedule quantity, computed there before any cast) broadcast against
    ``like`` (N, ...), in like's dtype and device."""
    return append_dims(values[t.cpu()], like)


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
    alpha_bar = schedule.alpha_bar
    return _at(alpha_bar.sqrt(), t, x0) * x0 + _at((1 - alpha_bar).sqrt(), t, x0) * noise


def q_step(x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps (DDPM eq. 2)."""
    x_prev, t, noise = _check_inputs("x_prev", x_prev, t, schedule, "noise", noise)
    beta = schedule.betas
    return _at((1 - beta).sqrt(), t, x_prev) * x_prev + _at(beta.sqrt(), t, x_prev) * noise


def x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """Invert the forward process: x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    x_t, t, eps = _check_inputs("x_t", x_t, t, schedule, "eps", eps)
    return _x0_from_eps(x_t, t, eps, schedule)


def _x0_from_eps(x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    alpha_bar = schedule.alpha_bar
    return (x_t - _at((1 - alpha_bar).sqrt(), t, x_t) * eps) / _at(alpha_bar.sqrt(), t, x_t)


def eps_from_x0(x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t)."""
    x_t, t, x0 = _check_inputs("x_t", x_t, t, schedule, "x0", x0)
    alpha_bar = schedule.alpha_bar
    return (x_t - _at(alpha_bar.sqrt(), t, x_t) * x0) / _at((1 - alpha_bar).sqrt(), t, x_t)


def v_from_eps(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """The v-parameterisation (Salimans & Ho 2022): v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0."""
    x0, t, eps = _check_inputs("x0", x0, t, schedule, "eps", eps)
    alpha_bar = schedule.alpha_bar
    return _at(alpha_bar.sqrt(), t, x0) * eps - _at((1 - alpha_bar).sqrt(), t, x0) * x0


def eps_from_v(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v."""
    x_t, t, v = _check_inputs("x_t", x_t, t, schedule, "v", v)
    alpha_bar = schedule.alpha_bar
    return _at((1 - alpha_bar).sqrt(), t, x_t) * x_t + _at(alpha_bar.sqrt(), t, x_t) * v


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
    coef_x0, coef_xt = _posterior_coefficients(schedule)
    mean = _at(coef_x0, t, x_t) * x0 + _at(coef_xt, t, x_t) * x_t
    return mean, _at(schedule.posterior_variance, t, x_t).expand_as(mean)


def _posterior_coefficients(schedule: Schedule) -> tuple[torch.Tensor, torch.Tensor]:
    """The posterior mean's weights on x_0 and x_t, in float64: computing 1 - alpha_bar after a cast to
    float32 loses ~1e-3 relative near t = 0, where alpha_bar ~ 1."""
    alpha_bar, alpha_bar_prev = schedule.alpha_bar, schedule.alpha_bar_prev
    coef_x0 = alpha_bar_prev.sqrt() * schedule.betas / (1 - alpha_bar)
    coef_xt = schedule.alphas.sqrt() * (1 - alpha_bar_prev) / (1 - alpha_bar)
    return coef_x0, coef_xt


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


VARIANCES = ("posterior", "beta")


def chain_on_grid(schedule: Schedule, steps: list[int]) -> Schedule:
    """The Markov chain DDPM runs on decreasing step indices ``steps``: the schedule itself on every
    step, else IDDPM's respaced chain whose marginals at the kept steps are the schedule's
    (:func:`diffusion_edu.processes.schedules.respace_at`)."""
    if steps == list(range(schedule.T - 1, -1, -1)):
        return schedule
    return respace_at(schedule, torch.tensor(steps[::-1]))


@torch.no_grad()
def ddpm_sample(
    model: EpsModel,
    x: torch.Tensor,
    grid: Grid,
    *,
    schedule: Schedule,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    variance: str = "posterior",
    clip_x0: float | None = None,
    noise_sampler: NoiseSampler | None = None,
) -> torch.Tensor:
    """Ancestral sampling, DDPM Algorithm 2 (Ho et al. 2020), from x = x_T ~ N(0, I).

    ``grid``: decreasing step indices of ``schedule`` (every step, ``range(T - 1, -1, -1)``, or a
    :func:`diffusion_edu.processes.grids.sub_grid`). On a sub-grid this is IDDPM's respacing (Nichol &
    Dhariwal 2021): the chain with beta'_i = 1 - alpha_bar[tau_i] / alpha_bar[tau_{i-1}], the model
    called at the original indices tau_i. At each step

        x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)
        x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z,

    sigma_t^2 = beta_tilde_t (``variance="posterior"``) or beta_t (``"beta"``), no noise at the last
    step. ``clip_x0`` clips x0_hat to [-c, c] and uses the posterior mean form (DDPM eq. 7; the same
    update when nothing is clipped). Every coefficient is computed in float64 and then cast.
    """
    check_callable("model", model, "model(x_t, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    check_schedule(schedule)
    steps = check_step_grid(grid, schedule.T)
    check_choice("variance", variance, VARIANCES)
    if clip_x0 is not None:
        check_positive("clip_x0", clip_x0)
    check_hooks(callback, noise_sampler)
    chain = chain_on_grid(schedule, steps)
    alpha_bar = chain.alpha_bar
    sqrt_alpha_bar, sqrt_one_minus = alpha_bar.sqrt().tolist(), (1 - alpha_bar).sqrt().tolist()
    eps_coef = (chain.betas / (1 - alpha_bar).sqrt()).tolist()
    sqrt_alpha = chain.alphas.sqrt().tolist()
    coef_x0, coef_xt = (c.tolist() for c in _posterior_coefficients(chain))
    sigma = (chain.posterior_variance if variance == "posterior" else chain.betas).sqrt().tolist()
    draw_dtype = torch.get_default_dtype()  # the draws of every earlier release: seeded figures stay put
    for i, step in enumerate(steps):
        k = len(steps) - 1 - i  # the index of this step in the chain
        t = torch.full((x.shape[0],), step, dtype=torch.long, device=x.device)
        eps = check_output("model", model(x, t), x)
        x0_hat = (x - sqrt_one_minus[k] * eps) / sqrt_alpha_bar[k]
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
            mean = coef_x0[k] * x0_hat + coef_xt[k] * x
        else:
            mean = (x - eps_coef[k] * eps) / sqrt_alpha[k]
        x = mean if k == 0 else mean + sigma[k] * draw_noise(x, generator, noise_sampler, draw_dtype)
        report(callback, i, step, x, x0_hat)
    return check_finite_result("model", x, "the model(x_t, t) calls")


def exact_eps_model(mixture: GaussianMixture, schedule: Schedule) -> EpsModel:
    """The perfect denoiser for data from ``mixture``: eps*(x_t, t) = -sqrt(1 - alpha_bar_t) grad log q_t(x_t),
    with q_t the mixture scaled by sqrt(alpha_bar_t) plus N(0, (1 - alpha_bar_t) I), in closed form.
    No learned model can beat it; chapters measure learned models against it."""
    check_mixture(mixture)
    path = DiscretePath(schedule)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, min_ndim=1)
        t = _check_t(t, schedule, x.shape[0])
        noise_std = path.sigma(t).float()  # formed in float64: 1 - alpha_bar near t = 0 needs it
        score = mixture.score(x.cpu().float(), path.alpha(t).float(), noise_std)
        return eps_from_score(score, append_dims(noise_std, score)).to(x.device, x.dtype)

    return model


