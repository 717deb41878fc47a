"""Chapter 3: Gaussian mixtures, proved by SymPy as chains a reader follows. The chapter imports
this module; each part holds one subject:

- :mod:`.density` -- the mixture density integrates to 1; its mean and variance (moment matching,
  used in chapter 4); log-sum-exp, the stable log-density; the continuous mixture
  p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1), the VAE's model; the chapter's symbols;
- :mod:`.em` -- responsibilities are Bayes' rule over the component label; with them the bound is
  tight (the E-step), and the M-step's stationarity conditions give the EM updates (Dempster et
  al., 1977);
- :mod:`.scores` -- the score of a mixture is the responsibility-weighted sum of component scores,
  and adding Gaussian noise to a mixture gives a mixture (the oracle of the diffusion chapters).

Every builder is registered once, as ``diffusion_edu.derivations.mixture.<name>``.
"""

from __future__ import annotations

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.mixture.density import (
    by_component_moments,
    component_moment,
    continuous_mixture,
    density_and_moments,
    exp_equal,
    log_sum_exp,
    mu_1,
    mu_2,
    mu_3,
    noise_std,
    scale,
    sigma_1,
    sigma_2,
    sigma_3,
    w_1,
    w_2,
    x,
    y,
    z,
)
from diffusion_edu.derivations.mixture.em import log_equal, responsibilities_and_em
from diffusion_edu.derivations.mixture.scores import score_of_mixture
from diffusion_edu.derivations.proof import Derivation

__all__ = [
    # builders
    "density_and_moments", "log_sum_exp", "responsibilities_and_em", "score_of_mixture", "continuous_mixture",
    "all_derivations",
    # symbols and proofs
    "by_component_moments", "component_moment", "exp_equal", "log_equal", "mu_1", "mu_2", "mu_3", "noise_std",
    "scale", "sigma_1", "sigma_2", "sigma_3", "w_1", "w_2", "x", "y", "z",
]


def all_derivations() -> list[Derivation]:
    """Every derivation of chapter 3, built (all parts)."""
    return registry.all_derivations(__name__)
