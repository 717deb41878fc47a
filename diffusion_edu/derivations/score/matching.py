"""Chapter 11: the score and score matching, proved by SymPy. The score of q = exp(-f) / Z is
-grad f: the normalising constant vanishes; a score integrates to zero against its density.
Implicit score matching (Hyvarinen 2005): expand the square, rewrite the cross term
E_p[s grad log p] = int s p', integrate by parts (the boundary term vanishes), so
J(theta) = E_p[|s|^2 / 2 + div s] + const; checked on a Gaussian with a cubic model, and the sign
slip (E_p[|s|^2 / 2 - div s]) whose minimiser is the score with the wrong sign."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation
from diffusion_edu.derivations.score.calculus import (
    Expect,
    Z,
    a,
    b,
    by_parts,
    c,
    f,
    gaussian_expectation,
    gaussian_pdf,
    integrals_agree,
    mu,
    oo,
    p,
    s,
    sigma,
    x,
)


@derivation
def score_basics() -> Derivation:
    d = Derivation(r"the score $\nabla_x \log q$: the normalising constant vanishes")
    energy = d.chain(sp.Derivative(sp.log(frac(sp.exp(-f(x)), Z)), x),
                     r"An energy model $q(x) = e^{-f(x)}/Z$ with $Z = \int e^{-f}$:")
    energy.to(sp.Derivative(add(-f(x), -sp.log(Z)), x), "the logarithm of a quotient")
    energy.to(add(-sp.Derivative(f(x), x), -sp.Derivative(sp.log(Z), x)), "differentiate term by term")
    energy.to(-sp.Derivative(f(x), x), r"$Z$ does not depend on $x$: the score needs no partition function")
    normal = d.chain(sp.Derivative(sp.log(gaussian_pdf(x, mu, sigma)), x),
                     r"The score of $\mathcal N(\mu, \sigma^2)$:")
    normal.to(sp.Derivative(add(-frac((x - mu) ** 2, 2 * sigma**2), -sp.log(mul(sigma, sqrt(2 * sp.pi)))), x),
              "take the logarithm")
    normal.to(-(x - mu) / sigma**2, "differentiate: the constant drops out")
    pdf = gaussian_pdf(x, mu, sigma)
    mean = d.chain(sp.Integral(mul(pdf, -(x - mu) / sigma**2), (x, -oo, oo)),
                   r"A score averages to zero under its density, $\mathbb E_p[\nabla \log p] = 0$:")
    mean.to(sp.Integral(sp.Derivative(pdf, x), (x, -oo, oo)), r"$p\,\nabla\log p = \nabla p$")
    mean.to(add(sp.Limit(pdf, x, oo), -sp.Limit(pdf, x, -oo)), "the fundamental theorem of calculus")
    mean.to(sp.Integer(0), r"the density vanishes at $\pm\infty$")
    return d


@derivation
def implicit_score_matching() -> Derivation:
    """Hyvarinen 2005 in 1-D, for any density p and model s with p s -> 0 at +-infinity; then the
    same identity on a Gaussian p and a cubic model, by exact Gaussian moments."""
    d = Derivation(r"implicit score matching: integrate by parts (Hyvärinen 2005)")
    score_p = sp.Derivative(sp.log(p(x)), x)  # the unknown data score
    const = sp.Symbol("C")
    const_value = mul(sp.Rational(1, 2), sp.Integral(mul(p(x), power(score_p, 2)), (x, -oo, oo)))
    d.given(const, const_value, r"the part of $J$ without the model: a constant in $\theta$")
    premise = {sp.Limit(s(x) * p(x), x, oo): 0, sp.Limit(s(x) * p(x), x, -oo): 0}
    d.given(sp.Limit(mul(s(x), p(x)), x, oo), sp.Integer(0),
            r"premise: $s_\theta\,p \to 0$ at $\pm\infty$ (the same at $-\infty$)")
    fisher = d.chain(mul(sp.Rational(1, 2), sp.Integral(mul(p(x), power(held(s(x) - score_p), 2)), (x, -oo, oo))),
                     r"The Fisher divergence between the model's score and the data's; "
                     r"its cross term holds the unknown $\nabla\log p$:",
                     name=sp.Symbol(r"J(\theta)"))
    cross = sp.Integral(mul(p(x), s(x), score_p), (x, -oo, oo))
    expanded = add(sp.Integral(mul(sp.Rational(1, 2), p(x), power(s(x), 2)), (x, -oo, oo)), -cross, const_value)
    fisher.to(expanded, "expand the square; the integral is linear", proof=integrals_agree())
    part = d.chain(cross, r"The cross term, rewritten so that $\nabla\log p$ disappears:")
    part.to(sp.Integral(mul(s(x), sp.Derivative(p(x), x)), (x, -oo, oo)),
            r"$p\,\partial_x \log p = \partial_x p$", proof=integrals_agree())
    boundary = add(sp.Limit(mul(s(x), p(x)), x, oo), -sp.Limit(mul(s(x), p(x)), x, -oo))
    part.to(add(boundary, -sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo))),
            r"integrate by parts: $\int u\,w' = [u\,w] - \int u'\,w$", proof=by_parts(s(x), p(x)))
    part.to(-sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo)),
            r"the boundary term vanishes (premise)", proof=integrals_agree(premises=premise))
    insert = d.chain(expanded, r"Back in $J(\theta)$:", name=sp.Symbol(r"J(\theta)"))
    insert.to(add(sp.Integral(mul(sp.Rational(1, 2), p(x), power(s(x), 2)), (x, -oo, oo)),
                  sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo)), const_value),
              r"insert the cross term",
              proof=integrals_agree(vanishing=(s(x) * p(x),)))
    insert.to(add(sp.Integral(mul(p(x), held(add(mul(sp.Rational(1, 2), power(s(x), 2)), sp.Derivative(s(x), x)))),
                              (x, -oo, oo)), const),
              r"one integral: $J(\theta) = \mathbb E_p\big[\tfrac12 s_\theta^2 + \partial_x s_\theta\big] + C$, "
              r"samples of $p$ and the model suffice",
              proof=integrals_agree(premises={const: const_value}))

    # the same identity on p = N(mu, sigma^2) and a cubic model, by exact Gaussian moments
    model = a * x + b + c * x**3
    true_score = -(x - mu) / sigma**2
    check = d.chain(Expect(mul(sp.Rational(1, 2), power(held(add(model, frac(x - mu, sigma**2))), 2)), x, mu, sigma),
                    r"Check on $p = \mathcal N(\mu, \sigma^2)$, score $-(x-\mu)/\sigma^2$, and a cubic model "
                    r"$s_\theta = a x + b + c x^3$:")
    check.to(add(Expect(add(mul(sp.Rational(1, 2), power(held(model), 2)), sp.diff(model, x)), x, mu, sigma),
                 Expect(mul(sp.Rational(1, 2), power(true_score, 2)), x, mu, sigma)),
             r"by the identity above, with its constant")
    implicit = gaussian_expectation(model**2 / 2 + sp.diff(model, x), x, mu, sigma)
    d.keep("fisher", gaussian_expectation((model - true_score) ** 2, x, mu, sigma))
    d.keep("implicit", implicit)

    # its minimiser over s = a x + b: complete the square
    linear = a * x + b
    minimum = d.chain(Expect(add(mul(sp.Rational(1, 2), power(held(linear), 2)), a), x, mu, sigma),
                      r"Minimise $J$ over $s_\theta = a x + b$ (then $s_\theta' = a$):")
    minimum.to(add(mul(sp.Rational(1, 2), power(a, 2), held(mu**2 + sigma**2)), mul(a, b, mu),
                   mul(sp.Rational(1, 2), power(b, 2)), a),
               r"Gaussian moments $\mathbb E x = \mu$, $\mathbb E x^2 = \mu^2 + \sigma^2$")
    minimum.to(add(mul(sp.Rational(1, 2), power(held(b + a * mu), 2)),
                   mul(sp.Rational(1, 2), power(sigma, 2), power(held(add(a, 1 / sigma**2)), 2)),
                   -1 / (2 * sigma**2)),
               r"complete the square in $b$, then in $a$: the minimum is at $a = -1/\sigma^2$, "
               r"$b = \mu/\sigma^2$, the true score $-(x-\mu)/\sigma^2$")
    return d


@derivation
def implicit_score_matching_sign() -> Derivation:
    """The pitfall: E_p[s^2 / 2 - s'] instead of + s'. On a Gaussian, over s = a x + b, its
    minimiser is the true score with the wrong sign."""
    d = Derivation(r"the sign of the divergence term: $\mathbb E_p\big[\tfrac12 s_\theta^2 - s_\theta'\big]$ "
                   r"learns the score backwards")
    linear = a * x + b
    wrong = d.chain(Expect(add(mul(sp.Rational(1, 2), power(held(linear), 2)), -a), x, mu, sigma),
                    r"The same minimisation with the divergence term's sign flipped, on "
                    r"$p = \mathcal N(\mu, \sigma^2)$:")
    wrong.to(add(mul(sp.Rational(1, 2), power(a, 2), held(mu**2 + sigma**2)), mul(a, b, mu),
                 mul(sp.Rational(1, 2), power(b, 2)), -a),
             r"Gaussian moments $\mathbb E x = \mu$, $\mathbb E x^2 = \mu^2 + \sigma^2$")
    wrong.to(add(mul(sp.Rational(1, 2), power(held(b + a * mu), 2)),
                 mul(sp.Rational(1, 2), power(sigma, 2), power(held(add(a, -1 / sigma**2)), 2)),
                 -1 / (2 * sigma**2)),
             r"complete the squares: the minimum is at $a = +1/\sigma^2$, $b = -\mu/\sigma^2$, "
             r"the score with the wrong sign")
    model = a * x + b + c * x**3
    true_score = -(x - mu) / sigma**2
    gap = d.chain(add(Expect(mul(sp.Rational(1, 2), power(held(model - true_score), 2)), x, mu, sigma),
                      -Expect(add(mul(sp.Rational(1, 2), power(held(model), 2)), -sp.diff(model, x)), x, mu, sigma)),
                  r"How far the flipped objective is from the Fisher divergence, for a cubic model:")
    gap.to(add(Expect(mul(2, sp.diff(model, x)), x, mu, sigma), Expect(mul(sp.Rational(1, 2), power(true_score, 2)),
                                                                      x, mu, sigma)),
           r"by the identity: $2\,\mathbb E_p[s_\theta']$ plus the constant")
    gap.to(add(2 * a + 6 * c * (mu**2 + sigma**2), 1 / (2 * sigma**2)),
           r"Gaussian moments: the gap depends on the model, so the minimisers differ")
    return d
