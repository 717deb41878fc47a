"""Chapter 11: scores, score matching and Langevin dynamics, proved by SymPy as chains a reader
follows. The chapter imports this module; each part holds one subject:

- :mod:`.matching` -- the score of q = exp(-f) / Z is -grad f; a score integrates to zero against
  its density; implicit score matching (Hyvarinen 2005) by integration by parts, checked on a
  Gaussian with a cubic model, and the sign slip whose minimiser is the score with the wrong sign;
- :mod:`.denoising` -- denoising score matching (Vincent 2011) and Tweedie's formula, hence DDPM's
  eps = -sqrt(1 - alpha_bar) score;
- :mod:`.langevin` -- Langevin dynamics leaves p invariant (Fokker-Planck); the unadjusted chain's
  stationary variance 2 s_0^4 / (2 s_0^2 - eps) on N(0, s_0^2), and none with the drift flipped;
- :mod:`.calculus` -- the symbols, displayed derivatives and expectations, and the proofs for
  integrals of unknown functions that the parts share.

1-D throughout: in D dimensions the derivative s' becomes the divergence tr grad_x s. Every builder
is registered once, as ``diffusion_edu.derivations.score.<name>``.
"""

from __future__ import annotations

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.score.calculus import (
    Dx,
    Expect,
    Z,
    a,
    alpha_bar,
    b,
    by_parts,
    c,
    epsilon,
    f,
    gaussian_expectation,
    gaussian_pdf,
    integrals_agree,
    mu,
    oo,
    p,
    s,
    s_0,
    sigma,
    theta,
    x,
    x_0,
    x_tilde,
    z,
)
from diffusion_edu.derivations.score.denoising import denoising_score_matching, tweedie
from diffusion_edu.derivations.score.langevin import langevin_invariance
from diffusion_edu.derivations.score.matching import implicit_score_matching, implicit_score_matching_sign, score_basics

__all__ = [
    # builders
    "score_basics", "implicit_score_matching", "implicit_score_matching_sign", "denoising_score_matching", "tweedie",
    "langevin_invariance", "all_derivations",
    # calculus
    "Dx", "Expect", "Z", "a", "alpha_bar", "b", "by_parts", "c", "epsilon", "f", "gaussian_expectation",
    "gaussian_pdf", "integrals_agree", "mu", "oo", "p", "s", "s_0", "sigma", "theta", "x", "x_0", "x_tilde", "z",
]


def all_derivations() -> list[Derivation]:
    """Every derivation of chapter 11, built (all parts)."""
    return registry.all_derivations(__name__)
