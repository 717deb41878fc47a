"""Chapters 7-9: DDPM (Ho et al. 2020) and its schedules (Nichol & Dhariwal 2021), proved by SymPy
as chains a reader follows. The chapters import this module; each part holds one subject:

- :mod:`.forward` -- the forward process: the closed form q(x_t | x_0) from T = 1..4 explicit steps
  and by induction for every t; what note 000's and note 003's forward formulas do instead;
- :mod:`.reverse` -- the posterior q(x_{t-1} | x_t, x_0) by completing the square, its mean in
  terms of eps, beta_tilde <= beta; the true reverse variance against beta_tilde and beta;
- :mod:`.elbo` -- the ELBO split into L_T + sum L_{t-1} + L_0 (T = 3 step by step, then every
  T = 1..6), L_{t-1} as a weighted eps error, and L_T;
- :mod:`.targets` -- the eps / x0 / v parameterisations, their conversions and loss weights;
- :mod:`.noise_schedules` -- the linear schedule's sum of betas and alpha_bar <= exp(-sum beta),
  the cosine schedule's ends and its SNR;
- :mod:`.notation` -- the symbols and displayed forms the parts share.

Every builder is registered once, as ``diffusion_edu.derivations.ddpm.<name>``.
"""

from __future__ import annotations

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.ddpm.elbo import elbo_decomposition
from diffusion_edu.derivations.ddpm.forward import forward_closed_form, forward_explicit_steps, note_errors_forward
from diffusion_edu.derivations.ddpm.noise_schedules import schedules
from diffusion_edu.derivations.ddpm.notation import (
    DEFS,
    HALF,
    POSTERIOR_DEFS,
    Bracket,
    Expect,
    alpha,
    alpha_bar,
    alpha_bar_prev,
    beta,
    beta_t,
    beta_tilde,
    eps,
    eps_hat,
    expect_normal,
    gaussian_expectation,
    gaussian_moment,
    log_normal,
    mu_tilde,
    s_t,
    sigma,
    v,
    x0,
    x_prev,
    x_t,
)
from diffusion_edu.derivations.ddpm.reverse import posterior, reverse_variance
from diffusion_edu.derivations.ddpm.targets import parameterisations
from diffusion_edu.derivations.proof import Derivation

__all__ = [
    # builders
    "forward_explicit_steps", "forward_closed_form", "note_errors_forward", "posterior", "reverse_variance",
    "elbo_decomposition", "parameterisations", "schedules", "all_derivations",
    # notation
    "DEFS", "HALF", "POSTERIOR_DEFS", "Bracket", "Expect", "alpha", "alpha_bar", "alpha_bar_prev", "beta", "beta_t",
    "beta_tilde", "eps", "eps_hat", "expect_normal", "gaussian_expectation", "gaussian_moment", "log_normal",
    "mu_tilde", "s_t", "sigma", "v", "x0", "x_prev", "x_t",
]


def all_derivations() -> list[Derivation]:
    """Every DDPM derivation, built (all parts)."""
    return registry.all_derivations(__name__)
