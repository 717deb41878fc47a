"""Score-based SDEs (Song et al. 2021) as pure tensor functions: the VE and VP SDEs with their
perturbation kernels, three samplers with one signature, and exact likelihoods through the
probability-flow ODE.

Time is continuous, t in [0, 1]; a *score model* is any callable ``score(x, t) -> grad_x log p_t(x)``
with ``t`` a float tensor (N,). Every sampler is ``sampler(score, x, sde, n_steps, generator=None,
t_min=1e-3, callback=None, spacing="uniform", **options)`` and starts from ``x ~`` the prior at t = 1;
``callback(t, x)`` sees the state after each step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from diffusion_edu._checks import (
    check_callable,
    check_choice,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_number,
    check_output,
    check_positive,
    check_same_shape,
)
from diffusion_edu.data import GaussianMixture, check_mixture

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SDECallback = Callable[[float, torch.Tensor], None]


def _expand(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, ...) to broadcast over ``like``."""
    return values.to(like.dtype).view(-1, *([1] * (like.ndim - 1)))


@dataclass(frozen=True)
class VESDE:
    """Note 002's variance-exploding SDE dx = sigma^t dw, t in [0, 1] (no drift).

    Solving dVar/dt = g(t)^2 = sigma^(2t) from Var(0) = 0 gives the perturbation kernel
    p_0t(x_t | x_0) = N(x_0, (sigma^(2t) - 1) / (2 ln sigma) I) (chapter 12 derives it).
    """

    sigma: float = 25.0

    def __post_init__(self) -> None:
        check_positive("sigma", self.sigma)
        if self.sigma <= 1:
            raise ValueError(f"sigma: expected a value > 1 (the noise must grow), got {self.sigma}")

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        """g(t) = sigma^t, (N,)."""
        return self.sigma ** t.double()

    def marginal_scale(self, t: torch.Tensor) -> torch.Tensor:
        """The mean of x_t is marginal_scale(t) * x_0: 1 for a VE SDE."""
        return torch.ones_like(t, dtype=torch.float64)

    def marginal_std(self, t: torch.Tensor) -> torch.Tensor:
        """sqrt((sigma^(2t) - 1) / (2 ln sigma)), (N,)."""
        return ((self.sigma ** (2 * t.double()) - 1) / (2 * math.log(self.sigma))).sqrt()

    def prior_std(self) -> float:
        return float(self.marginal_std(torch.ones(1)))

    def langevin_alpha(self, t: torch.Tensor) -> torch.Tensor:
        """alpha_i of the corrector's step rule (Song et al. 2021 Algorithms 4-5): 1 for VE."""
        return torch.ones_like(t, dtype=torch.float64)


@dataclass(frozen=True)
class VPSDE:
    """The variance-preserving SDE dx = -beta(t) x / 2 dt + sqrt(beta(t)) dw, beta linear from beta_min
    to beta_max: DDPM's continuous limit (beta_min = 0.1, beta_max = 20 match DDPM's linear schedule
    with T = 1000, Song et al. 2021 eq. 11)."""

    beta_min: float = 0.1
    beta_max: float = 20.0
    n_discrete: int = 1000  # the DDPM chain it is the limit of: the corrector's alpha_i uses its betas

    def __post_init__(self) -> None:
        check_positive("beta_min", self.beta_min)
        check_positive("beta_max", self.beta_max)
        if self.beta_max < self.beta_min:
            raise ValueError(f"beta_max: expected a value >= beta_min = {self.beta_min}, got {self.beta_max}")
        check_int("n_discrete", self.n_discrete)

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t.double() * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: torch.Tensor) -> torch.Tensor:
        """int_0^t beta(s) ds."""
        t = t.double()
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * _expand(self.beta(t), x) * x

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta(t).sqrt()

    def marginal_scale(self, t: torch.Tensor) -> torch.Tensor:
        """exp(-int beta / 2): DDPM's sqrt(alpha_bar) in the limit."""
        return torch.exp(-0.5 * self.integrated_beta(t))

    def marginal_std(self, t: torch.Tensor) -> torch.Tensor:
        """sqrt(1 - exp(-int beta)): DDPM's sqrt(1 - alpha_bar)."""
        return (-torch.expm1(-self.integrated_beta(t))).sqrt()

    def prior_std(self) -> float:
        return 1.0

    def langevin_alpha(self, t: torch.Tensor) -> torch.Tensor:
        """alpha_i = 1 - beta_i, with DDPM's discrete beta_i = beta(t) / n_discrete (Song et al. 2021
        Algorithm 5 and its code), independent of the sampler's step count."""
        return 1 - self.beta(t) / self.n_discrete


SDE = VESDE | VPSDE


def _check_sde(sde: object) -> SDE:
    if not isinstance(sde, (VESDE, VPSDE)):
        raise TypeError(f"sde: expected a VESDE or VPSDE, got {type(sde).__name__}")
    return sde


def _check_times(t: torch.Tensor, n: int) -> torch.Tensor:
    """Continuous times (N,) in [0, 1]; integer tensors are promoted."""
    t = check_float_tensor("t", t, nonempty=False)
    if t.shape != (n,):
        raise ValueError(f"t: expected shape ({n},), got {tuple(t.shape)}")
    if not bool(torch.all((t >= 0) & (t <= 1))):
        raise ValueError(f"t: expected times in [0, 1], got [{float(t.min()):.4g}, {float(t.max()):.4g}]")
    return t


def _score_at(score: ScoreFn, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """score(x, t), checked to have x's shape (never broadcast)."""
    return check_output("score", score(x, t), x, "score(x, t)")


def perturb(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, sde: SDE) -> torch.Tensor:
    """Sample the perturbation kernel: x_t = marginal_scale(t) x_0 + marginal_std(t) z."""
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    t = _check_times(t, x0.shape[0])
    noise = check_same_shape("noise", check_float_tensor("noise", noise), "x0", x0)
    _check_sde(sde)
    return _expand(sde.marginal_scale(t), x0) * x0 + _expand(sde.marginal_std(t), x0) * noise


def dsm_loss(score: ScoreFn, x0: torch.Tensor, sde: SDE, generator: torch.Generator | None = None,
             t_min: float = 1e-3) -> torch.Tensor:
    """Denoising score matching with lambda(t) = std(t)^2 (note 002 eq. 5, Song et al. 2021 eq. 7):
    E_t E_{x_0} E_z |std(t) score(x_t, t) + z|^2 / D, t ~ U(t_min, 1)."""
    check_callable("score", score, "score(x, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    _check_sde(sde)
    t_min = _check_t_min(t_min)
    t = (torch.rand(x0.shape[0], generator=generator) * (1 - t_min) + t_min).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = perturb(x0, t, noise, sde).to(x0.dtype)
    std = _expand(sde.marginal_std(t), x0)
    return (std * _score_at(score, x_t, t) + noise).square().mean()


def exact_score(mixture: GaussianMixture, sde: SDE) -> ScoreFn:
    """grad log p_t for data from ``mixture``: the mixture scaled by marginal_scale(t) plus
    N(0, marginal_std(t)^2 I), in closed form. The oracle every sampler is measured against."""
    check_mixture(mixture)
    _check_sde(sde)

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, min_ndim=1)
        t = _check_times(t, x.shape[0])
        scale, std = sde.marginal_scale(t).float().cpu(), sde.marginal_std(t).float().cpu()
        return mixture.score(x.float().cpu(), scale, std).to(x.device, x.dtype)

    return score


def net_score(net: torch.nn.Module, sde: SDE) -> ScoreFn:
    """A score network ``net(x, t, std)`` (:mod:`diffusion_edu.nets.score`) as a score function."""
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"net: expected a torch.nn.Module score network net(x, t, std), got {type(net).__name__}")
    _check_sde(sde)
    dtype = next(net.parameters()).dtype

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return net(x.to(dtype), t.to(dtype), sde.marginal_std(t).to(dtype)).to(x.dtype)

    return score


def prior_sample(sde: SDE, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """x(1) ~ N(0, prior_std^2 I): note 002 eq. 8 for the VE SDE (data negligible when sigma is large)."""
    if isinstance(shape, int) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ValueError(f"shape: expected a tuple of non-negative ints, got {shape!r}")
    return torch.randn(tuple(shape), generator=generator) * _check_sde(sde).prior_std()


GRIDS = ("uniform", "geometric")


def time_grid(n_steps: int, t_min: float = 1e-3, spacing: str = "uniform") -> list[float]:
    """n_steps + 1 times from 1 down to t_min: ``uniform`` (Song et al. 2021) or ``geometric``
    (constant ratio, small steps near t_min where the score of a sharp density is stiff)."""
    check_int("n_steps", n_steps)
    check_choice("spacing", spacing, GRIDS)
    t_min = _check_t_min(t_min)
    if spacing == "uniform":
        return torch.linspace(1.0, t_min, n_steps + 1, dtype=torch.float64).tolist()
    return torch.logspace(0.0, math.log10(t_min), n_steps + 1, dtype=torch.float64).tolist()


def _check_t_min(t_min: object) -> float:
    if isinstance(t_min, bool) or not isinstance(t_min, float) or not 0 < t_min < 1:
        raise ValueError(f"t_min: expected a float in (0, 1), got {t_min!r}")
    return t_min


def _check_sampler_inputs(score: object, x: object, sde: object, callback: object = None) -> torch.Tensor:
    check_callable("score", score, "score(x, t)")
    _check_sde(sde)
    if callback is not None:
        check_callable("callback", callback, "callback(t, x)")
    return check_float_tensor("x", x, min_ndim=1)


def _reverse_sde_step(score: ScoreFn, x: torch.Tensor, t: float, dt: float, sde: SDE) -> torch.Tensor:
    """The mean of one Euler-Maruyama step of the reverse SDE from t to t - dt:
    x - [f(x, t) - g(t)^2 score(x, t)] dt."""
    t_vec = torch.full((x.shape[0],), t, dtype=torch.float64, device=x.device)
    g = _expand(sde.diffusion(t_vec), x)
    return x - (sde.drift(x, t_vec) - g**2 * _score_at(score, x, t_vec.to(x.dtype))) * dt


def _predictor_step(score: ScoreFn, x: torch.Tensor, t: float, dt: float, sde: SDE,
                    generator: torch.Generator | None, last: bool) -> torch.Tensor:
    """One Euler-Maruyama step of the reverse SDE: the mean step plus g(t) sqrt(dt) z, except at the
    last step, which returns the mean (adding noise there would only blur the samples)."""
    x_mean = _reverse_sde_step(score, x, t, dt, sde)
    if last:
        return x_mean
    g = float(sde.diffusion(torch.tensor([t])))
    return x_mean + g * math.sqrt(dt) * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


@torch.no_grad()
def euler_maruyama(
    score: ScoreFn, x: torch.Tensor, sde: SDE, n_steps: int, generator: torch.Generator | None = None,
    t_min: float = 1e-3, callback: SDECallback | None = None, spacing: str = "uniform",
) -> torch.Tensor:
    """Euler-Maruyama on the reverse SDE dx = [f - g^2 score] dt + g dw_bar (Song et al. 2021 eq. 6;
    note 002 eq. 11): ``n_steps`` steps of size dt = (1 - t_min) / n_steps from t = 1 to t_min,
    x <- x - [f - g^2 score] dt + g sqrt(dt) z, with no noise at the last step. One score call per step."""
    x = _check_sampler_inputs(score, x, sde, callback)
    grid = time_grid(n_steps, t_min, spacing)
    for i, (t, t_next) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        dt = t - t_next
        x = _predictor_step(score, x, t, dt, sde, generator, last=i == n_steps - 1)
        if callback is not None:
            callback(t_next, x)
    return check_finite_result("score", x, "the score(x, t) calls")


@torch.no_grad()
def langevin_correct(
    score: ScoreFn, x: torch.Tensor, t: float, sde: SDE, snr: float, n_steps: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The corrector of Song et al. 2021 Algorithms 4-5: ``n_steps`` Langevin steps at fixed t with
    step eps = 2 alpha (snr |z| / |score|)^2, norms averaged over the batch, so each step's drift
    eps |score| is ``snr`` times the noise sqrt(2 eps) |z| (with alpha = 1). A zero score moves nothing."""
    x = _check_sampler_inputs(score, x, sde)
    t = check_number("t", t, low=0.0, high=1.0)
    check_positive("snr", snr)
    check_int("n_steps", n_steps, minimum=0)
    t_vec = torch.full((x.shape[0],), t, dtype=torch.float64, device=x.device)
    alpha = float(sde.langevin_alpha(t_vec[:1]))
    for _ in range(n_steps):
        grad = _score_at(score, x, t_vec.to(x.dtype))
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        grad_norm = grad.flatten(1).norm(dim=1).mean()
        noise_norm = noise.flatten(1).norm(dim=1).mean()
        step = torch.where(grad_norm > 0, 2 * alpha * (snr * noise_norm / grad_norm) ** 2, 0.0)
        x = x + step * grad + (2 * step).sqrt() * noise
    return x


@torch.no_grad()
def predictor_corrector(
    score: ScoreFn, x: torch.Tensor, sde: SDE, n_steps: int, generator: torch.Generator | None = None,
    t_min: float = 1e-3, callback: SDECallback | None = None, spacing: str = "uniform", snr: float = 0.16,
    corrector_steps: int = 1,
) -> torch.Tensor:
    """Predictor-corrector sampling (Song et al. 2021 Algorithm 1, with Algorithms 4-5's Langevin
    corrector): at each time, ``corrector_steps`` Langevin corrections of x at that t (signal-to-noise
    rule ``snr``), then one Euler-Maruyama predictor step to the next time, no noise at the last step.
    Score calls: n_steps * (1 + corrector_steps)."""
    x = _check_sampler_inputs(score, x, sde, callback)
    check_positive("snr", snr)
    check_int("corrector_steps", corrector_steps)
    grid = time_grid(n_steps, t_min, spacing)
    for i, (t, t_next) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        dt = t - t_next
        x = langevin_correct(score, x, t, sde, snr, corrector_steps, generator)
        x = _predictor_step(score, x, t, dt, sde, generator, last=i == n_steps - 1)
        if callback is not None:
            callback(t_next, x)
    return check_finite_result("score", x, "the score(x, t) calls")


def ode_velocity(score: ScoreFn, x: torch.Tensor, t: float, sde: SDE) -> torch.Tensor:
    """The probability-flow ODE's velocity dx/dt = f(x, t) - g(t)^2 score(x, t) / 2 (Song et al. 2021 eq. 13)."""
    x = _check_sampler_inputs(score, x, sde)
    return _velocity(score, x, check_number("t", t, low=0.0, high=1.0), sde)


def _velocity(score: ScoreFn, x: torch.Tensor, t: float, sde: SDE) -> torch.Tensor:
    t_vec = torch.full((x.shape[0],), t, dtype=torch.float64, device=x.device)
    g = _expand(sde.diffusion(t_vec), x)
    return sde.drift(x, t_vec) - 0.5 * g**2 * _score_at(score, x, t_vec.to(x.dtype))


METHODS = ("euler", "heun", "rk4")


def _ode_step(velocity: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, t: float, h: float,
              method: str) -> torch.Tensor:
    """One fixed step of size h (negative when integrating backwards in time)."""
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
    score: ScoreFn, x: torch.Tensor, sde: SDE, n_steps: int, generator: torch.Generator | None = None,
    t_min: float = 1e-3, callback: SDECallback | None = None, spacing: str = "uniform", method: str = "rk4",
) -> torch.Tensor:
    """Integrate the probability-flow ODE dx/dt = f - g^2 score / 2 (Song et al. 2021 section 4.3)
    from t = 1 to t_min with ``n_steps`` fixed steps of ``method`` (euler: 1 score call per step,
    heun: 2, rk4: 4; the paper uses an adaptive RK45, fixed steps make the cost known).
    Deterministic: ``generator`` is unused and kept for the common signature."""
    x = _check_sampler_inputs(score, x, sde, callback)
    check_choice("method", method, METHODS)
    grid = time_grid(n_steps, t_min, spacing)
    for t, t_next in zip(grid[:-1], grid[1:], strict=True):
        x = _ode_step(lambda y, s: _velocity(score, y, s, sde), x, t, t_next - t, method)
        if callback is not None:
            callback(t_next, x)
    return check_finite_result("score", x, "the score(x, t) calls")


SAMPLERS = {"euler_maruyama": euler_maruyama, "predictor_corrector": predictor_corrector,
            "probability_flow": probability_flow}


def _divergence(velocity: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exact divergence sum_i d v_i / d x_i by autograd, one backward pass per dimension (N,)."""
    div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    flat_v = velocity.flatten(1)
    for i in range(flat_v.shape[1]):
        grad = torch.autograd.grad(flat_v[:, i].sum(), x, retain_graph=True)[0]
        div = div + grad.flatten(1)[:, i]
    return div


def log_likelihood(
    score: ScoreFn, x0: torch.Tensor, sde: SDE, n_steps: int, t_min: float = 1e-3,
    prior_log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None, method: str = "rk4",
    spacing: str = "geometric",
) -> torch.Tensor:
    """log p_{t_min}(x0) (N,) by the instantaneous change of variables (Chen et al. 2018; Song et al.
    2021 appendix D.2): integrate d/dt [x, log p] = [v(x, t), -div v(x, t)] from t_min to 1, then
    log p_{t_min}(x0) = log p_1(x(1)) + int_{t_min}^1 div v dt. The divergence is exact (autograd,
    fine for low dimensions). ``prior_log_prob`` defaults to N(0, prior_std^2 I)."""
    check_callable("score", score, "score(x, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=2)
    _check_sde(sde)
    check_choice("method", method, METHODS)
    if prior_log_prob is not None:
        check_callable("prior_log_prob", prior_log_prob, "prior_log_prob(x)")
    grid = time_grid(n_steps, t_min, spacing)[::-1]  # t_min -> 1

    def augmented(state: torch.Tensor, t: float) -> torch.Tensor:
        with torch.enable_grad():
            y = state[:, :-1].detach().requires_grad_(True)
            velocity = _velocity(score, y, t, sde)
            div = _divergence(velocity, y)
        return torch.cat([velocity.detach(), div.detach()[:, None]], dim=1)

    state = torch.cat([x0.flatten(1), torch.zeros(x0.shape[0], 1, dtype=x0.dtype, device=x0.device)], dim=1)
    for t, t_next in zip(grid[:-1], grid[1:], strict=True):
        state = _ode_step(augmented, state, t, t_next - t, method)
    x1, integral = state[:, :-1], state[:, -1]
    if prior_log_prob is None:
        std = sde.prior_std()
        dim = x1.shape[1]
        prior = -0.5 * (x1 / std).square().sum(1) - dim * math.log(std) - 0.5 * dim * math.log(2 * math.pi)
    else:
        prior = prior_log_prob(x1)
        if not isinstance(prior, torch.Tensor) or prior.shape != integral.shape:
            raise ValueError(f"prior_log_prob: expected prior_log_prob(x) to return shape {tuple(integral.shape)}, "
                             f"got {tuple(prior.shape) if isinstance(prior, torch.Tensor) else type(prior).__name__}")
    return check_finite_result("score", prior + integral, "the score(x, t) calls")
