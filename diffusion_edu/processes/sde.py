"""Score-based SDEs (Song et al. 2021) as pure tensor functions: the VE and VP SDEs with their
perturbation kernels, the denoising score-matching loss and the exact score of a Gaussian mixture.
Their samplers are in :mod:`diffusion_edu.processes.sde_samplers`, exact likelihoods through the
probability-flow ODE in :mod:`diffusion_edu.processes.likelihood`.

Time is continuous, t in [0, 1]; a *score model* is any callable ``score(x, t) -> grad_x log p_t(x)``
with ``t`` a float tensor (N,).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_float_tensor,
    check_int,
    check_output,
    check_positive,
    check_same_shape,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.data import GaussianMixture, check_mixture

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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
        return -0.5 * append_dims(self.beta(t), x) * x

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


def check_sde(sde: object) -> SDE:
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


def score_at(score: ScoreFn, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """score(x, t), checked to have x's shape (never broadcast)."""
    return check_output("score", score(x, t), x, "score(x, t)")


def perturb(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, sde: SDE) -> torch.Tensor:
    """Sample the perturbation kernel: x_t = marginal_scale(t) x_0 + marginal_std(t) z."""
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    t = _check_times(t, x0.shape[0])
    noise = check_same_shape("noise", check_float_tensor("noise", noise), "x0", x0)
    check_sde(sde)
    return append_dims(sde.marginal_scale(t), x0) * x0 + append_dims(sde.marginal_std(t), x0) * noise


def dsm_loss(score: ScoreFn, x0: torch.Tensor, sde: SDE, generator: torch.Generator | None = None,
             t_min: float = 1e-3) -> torch.Tensor:
    """Denoising score matching with lambda(t) = std(t)^2 (note 002 eq. 5, Song et al. 2021 eq. 7):
    E_t E_{x_0} E_z |std(t) score(x_t, t) + z|^2 / D, t ~ U(t_min, 1)."""
    check_callable("score", score, "score(x, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    check_sde(sde)
    t_min = _check_t_min(t_min)
    t = (torch.rand(x0.shape[0], generator=generator) * (1 - t_min) + t_min).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = perturb(x0, t, noise, sde).to(x0.dtype)
    std = append_dims(sde.marginal_std(t), x0)
    return (std * score_at(score, x_t, t) + noise).square().mean()


def exact_score(mixture: GaussianMixture, sde: SDE) -> ScoreFn:
    """grad log p_t for data from ``mixture``: the mixture scaled by marginal_scale(t) plus
    N(0, marginal_std(t)^2 I), in closed form. The oracle every sampler is measured against."""
    check_mixture(mixture)
    check_sde(sde)

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
    check_sde(sde)
    dtype = next(net.parameters()).dtype

    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return net(x.to(dtype), t.to(dtype), sde.marginal_std(t).to(dtype)).to(x.dtype)

    return score


def prior_sample(sde: SDE, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """x(1) ~ N(0, prior_std^2 I): note 002 eq. 8 for the VE SDE (data negligible when sigma is large)."""
    if isinstance(shape, int) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ValueError(f"shape: expected a tuple of non-negative ints, got {shape!r}")
    return torch.randn(tuple(shape), generator=generator) * check_sde(sde).prior_std()


def _check_t_min(t_min: object) -> float:
    if isinstance(t_min, bool) or not isinstance(t_min, float) or not 0 < t_min < 1:
        raise ValueError(f"t_min: expected a float in (0, 1), got {t_min!r}")
    return t_min
