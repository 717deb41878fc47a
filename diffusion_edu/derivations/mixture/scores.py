"""Chapter 3: the score of a Gaussian mixture, proved by SymPy. It is the responsibility-weighted
sum of the component scores, and adding Gaussian noise to a mixture gives a mixture: the exact
score the diffusion chapters use as an oracle."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul
from diffusion_edu.derivations.gaussian import Normal, integral, pdf, recip
from diffusion_edu.derivations.mixture.density import (
    mu_1,
    mu_2,
    noise_std,
    scale,
    sigma_1,
    sigma_2,
    w_1,
    x,
    y,
)
from diffusion_edu.derivations.proof import Derivation, evaluate, same_log
from diffusion_edu.derivations.registry import derivation


@derivation
def score_of_mixture() -> Derivation:
    """grad log p(x) = sum_k r_k(x) (mu_k - x) / sigma_k^2, and the noised mixture is a mixture."""
    d = Derivation("the score of a mixture, clean and noised")
    weights = [w_1, 1 - w_1]
    means, stds = [mu_1, mu_2], [sigma_1, sigma_2]
    shown = [mul(w, Normal(x, m, s)) for w, m, s in zip(weights, means, stds, strict=True)]
    comps = [w * pdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True)]
    resp = [c / sum(comps) for c in comps]
    r_1, r_2 = sp.symbols("r_1 r_2", positive=True)
    defs = {r_1: resp[0], r_2: resp[1]}
    score = sum(r * (m - x) / s**2 for r, m, s in zip(resp, means, stds, strict=True))
    d.given(r_1, frac(shown[0], add(*shown)), r"the responsibilities of chapter 3's E-step (likewise $r_2$)")
    clean = d.chain(sp.Derivative(sp.log(add(*shown)), x), "The score of the mixture:")
    clean.to(frac(add(*(mul(w, sp.Derivative(Normal(x, m, s), x))
                        for w, m, s in zip(weights, means, stds, strict=True))), add(*shown)),
             "the chain rule through the log")
    clean.to(frac(add(*(mul(c, frac(m - x, s**2)) for c, m, s in zip(shown, means, stds, strict=True))), add(*shown)),
             r"each component's derivative is $\mathcal N_k\,(\mu_k - x)/\sigma_k^2$")
    clean.to(add(mul(r_1, frac(mu_1 - x, sigma_1**2)), mul(r_2, frac(mu_2 - x, sigma_2**2))),
             r"divide by $p(x)$: each component pulls $x$ towards its mean, in proportion to its responsibility",
             using=defs)
    # a X + sigma_n Z for one component X ~ N(mu, s^2): convolve the densities, by completing the square in y
    noised_var = scale**2 * sigma_1**2 + noise_std**2
    m, v = sp.Symbol("m", real=True), sp.Symbol("v", positive=True)
    post = {v: 1 / (1 / sigma_1**2 + scale**2 / noise_std**2)}
    post[m] = post[v] * (mu_1 / sigma_1**2 + scale * x / noise_std**2)
    d.given(v, recip(add(recip(sigma_1**2), frac(scale**2, noise_std**2))), r"the posterior variance of $y$ given $x$")
    d.given(m, mul(v, held(mu_1 / sigma_1**2 + scale * x / noise_std**2)), r"the posterior mean of $y$ given $x$")
    one = d.chain(mul(Normal(y, mu_1, sigma_1), Normal(x, scale * y, noise_std)),
                  r"Noise one component: $x = a y + \sigma_n z$ with $y \sim \mathcal N(\mu_1, \sigma_1^2)$ has the "
                  r"joint density")
    one.to(mul(Normal(x, scale * mu_1, sp.sqrt(noised_var)), Normal(y, m, sp.sqrt(v))),
           r"complete the square in $y$ (chapter 1's posterior, with $y$ the unknown)", using=post, proof=same_log)
    marginal = d.chain(integral(mul(Normal(x, scale * mu_1, sp.sqrt(noised_var)), Normal(y, m, sp.sqrt(v))), y),
                       r"Integrate over $y$:")
    marginal.to(Normal(x, scale * mu_1, sp.sqrt(noised_var)),
                r"the posterior integrates to $1$: by linearity the noised mixture is a mixture with the same weights")
    noised_shown = [mul(w, Normal(x, scale * mm, sp.sqrt(scale**2 * s**2 + noise_std**2)))
                    for w, mm, s in zip(weights, means, stds, strict=True)]
    noised = [evaluate(c) for c in noised_shown]
    rt_1, rt_2 = sp.symbols(r"\tilde{r}_1 \tilde{r}_2", positive=True)
    noised_defs = {rt_1: noised[0] / sum(noised), rt_2: noised[1] / sum(noised)}
    d.given(rt_1, frac(noised_shown[0], add(*noised_shown)), r"the responsibilities of the noised mixture")
    d.chain(sp.Derivative(sp.log(add(*noised_shown)), x), "So the noised score is the same formula").to(
        add(*(mul(r, frac(scale * mm - x, scale**2 * s**2 + noise_std**2))
              for r, mm, s in zip((rt_1, rt_2), means, stds, strict=True))),
        r"with means $a\mu_k$ and variances $a^2\sigma_k^2 + \sigma_n^2$", using=noised_defs)
    d.keep("score", score)
    d.keep("density", sum(comps))
    return d
