"""Chapter 4: the Kullback-Leibler divergence (Kullback & Leibler 1951), proved by SymPy as chains.
The chapter imports this module; each part holds one subject:

- :mod:`.properties` -- convexity of -log and its tangent-line inequality; Jensen's inequality for
  a two-point distribution; Gibbs' inequality KL >= 0 and KL(p||p) = 0; asymmetry on two exact
  examples;
- :mod:`.gaussians` -- KL between two univariate Gaussians by integration, the diagonal
  multivariate form, the VAE's KL(N(mu, sigma^2) || N(0, 1)) (note 003 has the sign flipped), the
  variance of the Monte Carlo estimator's summand; the forward-KL optimum over Gaussians is
  moment matching.

Every builder is registered once, as ``diffusion_edu.derivations.kl.<name>``.
"""

from __future__ import annotations

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.kl.gaussians import (
    INF,
    forward_kl_is_moment_matching,
    gaussian_kl,
    kl_gaussian_closed_form,
    mu_1,
    mu_2,
    power2,
    sigma_1,
    sigma_2,
    t,
    x,
)
from diffusion_edu.derivations.kl.properties import a, asymmetry, b, jensen_and_nonnegativity, m, q, r, u, w
from diffusion_edu.derivations.proof import Derivation

__all__ = [
    # builders
    "jensen_and_nonnegativity", "asymmetry", "gaussian_kl", "forward_kl_is_moment_matching", "all_derivations",
    # symbols and forms
    "INF", "a", "b", "kl_gaussian_closed_form", "m", "mu_1", "mu_2", "power2", "q", "r", "sigma_1", "sigma_2", "t",
    "u", "w", "x",
]


def all_derivations() -> list[Derivation]:
    """Every derivation of chapter 4, built (all parts)."""
    return registry.all_derivations(__name__)
