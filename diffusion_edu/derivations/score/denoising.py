"""Chapter 11: denoising score matching (Vincent 2011) and Tweedie's formula, proved by SymPy. The
kernel's score -z / sigma, the sigma^2-weighted loss |sigma s + z|^2, and DSM = explicit score
matching on p_sigma + const; E[x_0 | x_t] = x_t + sigma^2 grad log p_sigma(x_t), hence DDPM's
eps = -sqrt(1 - alpha_bar) score (Ho et al. 2020)."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation
from diffusion_edu.derivations.score.calculus import (
    Expect,
    a,
    alpha_bar,
    b,
    gaussian_pdf,
    mu,
    s_0,
    sigma,
    x,
    x_0,
    x_tilde,
    z,
)


@derivation
def denoising_score_matching() -> Derivation:
    d = Derivation("denoising score matching (Vincent 2011)")
    kernel = d.chain(sp.Derivative(sp.log(gaussian_pdf(x_tilde, x_0, sigma)), x_tilde),
                     r"The blur kernel's score, $\tilde x = x_0 + \sigma z$ with $z \sim \mathcal N(0, 1)$:")
    kernel.to(-(x_tilde - x_0) / sigma**2, "differentiate the exponent; the normaliser drops out")
    kernel.to(-frac(add(x_0, sigma * z, -x_0), sigma**2), r"insert $\tilde x = x_0 + \sigma z$",
              using={x_tilde: x_0 + sigma * z})
    kernel.to(-z / sigma, r"$x_0$ cancels: the regression target is $-z/\sigma$ ($\sigma$ is a standard deviation)")
    s_val = sp.Symbol(r"s_{\theta}", real=True)
    weighted = d.chain(mul(power(sigma, 2), power(held(s_val + z / sigma), 2)),
                       r"Weighted by $\lambda(\sigma) = \sigma^2$, the loss at one noise level:")
    weighted.to(power(held(sigma * s_val + z), 2), r"move $\sigma$ inside the square: DDPM's loss with "
                r"$\epsilon_\theta = -\sigma s_\theta$")
    # DSM and explicit score matching differ by a constant: p_0 = N(mu, s_0^2), model s(x) = a x + b
    linear = a * x + b
    var_sigma = s_0**2 + sigma**2
    dsm = Expect(Expect(power(held(linear.subs(x, x_0 + sigma * z) + z / sigma), 2), z, 0, 1), x_0, mu, s_0)
    esm = Expect(power(held(linear + (x - mu) / var_sigma), 2), x, mu, sp.sqrt(var_sigma))
    gap = d.chain(add(dsm, -esm),
                  r"DSM against explicit score matching on the blurred $p_\sigma = \mathcal N(\mu, s_0^2 + \sigma^2)$, "
                  r"for $p_0 = \mathcal N(\mu, s_0^2)$ and $s_\theta = a x + b$:")
    gap.to(add(1 / sigma**2, -1 / var_sigma),
           r"Gaussian moments: every term in $a$ and $b$ cancels, leaving $\mathbb E[z^2]/\sigma^2$ minus "
           r"the blurred score's second moment")
    gap.to(s_0**2 / (sigma**2 * var_sigma),
           r"common denominator: a constant, so both losses have the same minimiser, the score of $p_\sigma$")
    return d


@derivation
def tweedie() -> Derivation:
    d = Derivation(r"Tweedie's formula and $\hat\epsilon = -\sqrt{1 - \bar\alpha_t}\,\nabla\log p_t$")
    kernel = gaussian_pdf(x, x_0, sigma)
    slope = d.chain(sp.Derivative(kernel, x), r"The blur kernel's slope in $x$:")
    slope.to(mul(kernel, frac(x_0 - x, sigma**2)),
             r"the chain rule; integrated against $p_0(x_0)$ it gives "
             r"$p_\sigma' = p_\sigma\,(\mathbb E[x_0\mid x] - x)/\sigma^2$, Tweedie's formula")
    blurred = gaussian_pdf(x, mu, sp.sqrt(s_0**2 + sigma**2))
    check = d.chain(add(x, mul(power(sigma, 2), sp.Derivative(sp.log(blurred), x))),
                    r"Check on a Gaussian prior $x_0 \sim \mathcal N(\mu, s_0^2)$, where "
                    r"$p_\sigma = \mathcal N(\mu, s_0^2 + \sigma^2)$, "
                    r"Tweedie's $x + \sigma^2\,\nabla\log p_\sigma(x)$ is:")
    check.to(add(x, mul(power(sigma, 2), -frac(x - mu, s_0**2 + sigma**2))), r"the score of $p_\sigma$")
    check.to(frac(s_0**2 * x + sigma**2 * mu, s_0**2 + sigma**2),
             r"common denominator: the posterior mean $\mathbb E[x_0\mid x]$ of chapter 2")
    score_t = sp.Symbol(r"\nabla\log p_t", real=True)
    eps_hat = sp.Symbol(r"\hat{\epsilon}", real=True)
    d.given(eps_hat, mul(-1, sqrt(1 - alpha_bar), score_t), "a noise predictor read as a scaled score model")
    x0 = d.chain(frac(add(x, -mul(sqrt(1 - alpha_bar), eps_hat)), sqrt(alpha_bar)),
                 r"DDPM's $\hat x_0$ (chapter 8) from $x_t$, here written $x$:", name=sp.Symbol(r"\hat{x}_0"))
    x0.to(frac(add(x, mul(1 - alpha_bar, score_t)), sqrt(alpha_bar)),
          r"insert $\hat\epsilon$: Tweedie's formula for $\sqrt{\bar\alpha_t}\,x_0$ blurred with variance "
          r"$1 - \bar\alpha_t$, divided by $\sqrt{\bar\alpha_t}$, so $\hat x_0 = \mathbb E[x_0\mid x_t]$",
          using={eps_hat: -sp.sqrt(1 - alpha_bar) * score_t})
    return d
