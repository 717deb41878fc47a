"""Chapter 3: EM for a Gaussian mixture (Dempster, Laird & Rubin 1977), proved by SymPy.
Responsibilities are Bayes' rule over the component label; with them the bound is tight (the
E-step), and the M-step's stationarity conditions give the EM updates."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul, power
from diffusion_edu.derivations.gaussian import Normal
from diffusion_edu.derivations.mixture.density import (
    mu_1,
    mu_2,
    sigma_1,
    sigma_2,
    w_1,
    x,
)
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation


def log_equal(left: sp.Basic, right: sp.Basic) -> bool:
    """Proof for sums of logs of densities: equal once every log is expanded."""
    left, right = evaluate(left), evaluate(right)
    return is_zero(sp.expand(sp.expand_log(left, force=True) - sp.expand_log(right, force=True)))



@derivation
def responsibilities_and_em() -> Derivation:
    """E-step: r_k = p(k | x) by Bayes. M-step: maximise sum_i sum_k r_ik log(w_k N(x_i; mu_k, sigma_k^2)).

    Per component, with R = sum_i r_ik, S1 = sum_i r_ik x_i, S2 = sum_i r_ik x_i^2, the stationarity
    conditions give mu = S1/R, sigma^2 = S2/R - (S1/R)^2; with a Lagrange multiplier for
    sum_k w_k = 1, w_k = R_k / sum_j R_j.
    """
    d = Derivation("responsibilities are Bayes' rule; the EM updates are stationary points")
    w_2_ = 1 - w_1
    n_1, n_2 = Normal(x, mu_1, sigma_1), Normal(x, mu_2, sigma_2)
    joint = [mul(w_1, n_1), mul(w_2_, n_2)]
    evidence = add(*joint)
    r_1, r_2 = sp.symbols("r_1 r_2", positive=True)
    resp = {r_1: evaluate(frac(joint[0], evidence)), r_2: evaluate(frac(joint[1], evidence))}
    d.given(r_1, frac(joint[0], evidence), r"Bayes' rule over the label: $r_k = p(k\mid x)$ (likewise $r_2$)")
    total = d.chain(add(r_1, r_2), "The responsibilities sum to one:")
    total.to(frac(evidence, evidence), "common denominator", using=resp)
    total.to(sp.Integer(1), r"the numerator is $p(x)$")
    soft = d.chain(r_1, "They are the softmax of the log-joint (how the package computes them, in log space):")
    a_1, a_2 = sp.symbols("a_1 a_2", real=True)
    logs = {a_1: sp.log(evaluate(joint[0])), a_2: sp.log(evaluate(joint[1]))}
    d.given(a_1, sp.log(joint[0]), r"the log-joint of component $1$ (likewise $a_2$)")
    soft.to(frac(sp.exp(a_1), add(sp.exp(a_1), sp.exp(a_2))), r"write each $w_k\mathcal N_k$ as $e^{a_k}$",
            using={**resp, **logs})
    px = sp.log(held(evidence))
    bound = d.chain(add(mul(r_1, sp.log(frac(joint[0], r_1))), mul(r_2, sp.log(frac(joint[1], r_2)))),
                    r"The E-step: with $r = p(k\mid x)$ the bound $\sum_k r_k \log\frac{w_k\mathcal N_k}{r_k}$ "
                    "is tight:")
    bound.to(add(mul(r_1, px), mul(r_2, px)), r"insert $r_k$: each ratio $w_k\mathcal N_k/r_k$ is $p(x)$",
             using=resp, proof=log_equal)
    bound.to(px, r"the $r_k$ sum to one; by Jensen (chapter 4) any other $r$ gives less, so EM never decreases "
             r"$\log p(x)$", using=resp, proof=log_equal)
    big_r, s1, s2 = sp.symbols("R S_1 S_2", positive=True)
    mu, sigma = sp.symbols("mu", real=True), sp.symbols("sigma", positive=True)
    # sum_i r_i log N(x_i; mu, sigma^2) with sum_i r_i (x_i - mu)^2 = S2 - 2 mu S1 + R mu^2
    sq = add(s2, -2 * mu * s1, big_r * mu**2)
    q = -big_r * sp.log(sigma) - big_r * sp.log(2 * sp.pi) / 2 - (s2 - 2 * mu * s1 + big_r * mu**2) / (2 * sigma**2)
    q_shown = add(-big_r * sp.log(sigma), -frac(big_r * sp.log(2 * sp.pi), 2), -frac(held(sq), 2 * sigma**2))
    d.given(sp.Symbol("Q_k"), q_shown,
            r"the M-step's objective for one component: $\sum_i r_{ik} \log \mathcal N(x_i; \mu, \sigma^2)$ with "
            r"$R = \sum_i r_{ik}$, $S_1 = \sum_i r_{ik} x_i$, $S_2 = \sum_i r_{ik} x_i^2$")
    dmu = d.chain(sp.Derivative(q_shown, mu), r"The derivative in the mean")
    dmu.to(frac(add(s1, -big_r * mu), sigma**2), r"differentiate the quadratic in $\mu$")
    d.chain(frac(add(s1, -mul(big_r, frac(s1, big_r))), sigma**2),
            r"vanishes at the weighted mean $\mu^* = S_1/R$:").to(sp.Integer(0), r"$R \cdot S_1/R = S_1$")
    d.chain(sp.Derivative(q_shown, (mu, 2)), "a maximum:").to(-frac(big_r, sigma**2), "differentiate twice")
    var_star = s2 / big_r - (s1 / big_r) ** 2
    dsigma = d.chain(sp.Derivative(q_shown, sigma), "The derivative in the standard deviation")
    dsigma.to(frac(add(held(sq), -big_r * sigma**2), sigma**3), r"differentiate in $\sigma$, common denominator")
    at = d.chain(add(s2, -mul(2, frac(s1, big_r), s1), mul(big_r, power(frac(s1, big_r), 2)),
                     -mul(big_r, held(var_star))),
                 r"vanishes at $\mu^*$ and the weighted variance $\sigma^{*2} = S_2/R - (S_1/R)^2$; "
                 "its numerator there:")
    at.to(sp.Integer(0), "multiply out: every term cancels")
    big = sp.symbols("R_1:4", positive=True)
    v = sp.symbols("w_1:4", positive=True)
    lam = sp.Symbol("lambda", positive=True)
    d.given(sp.Symbol("L"), add(*(mul(r, sp.log(w)) for r, w in zip(big, v, strict=True)),
                                -mul(lam, add(*v, -1))),
            r"the weights' part of the objective, with a Lagrange multiplier for $\sum_k w_k = 1$")
    lagrangian = sum(r * sp.log(w) for r, w in zip(big, v, strict=True)) - lam * (sum(v) - 1)
    d.chain(sp.Derivative(lagrangian, v[0]), "Stationary in each weight:").to(
        add(frac(big[0], v[0]), -lam), r"differentiate: so $w_k = R_k/\lambda$")
    d.chain(add(*(frac(r, lam) for r in big)), r"and the constraint fixes $\lambda$: with $w_k = R_k/\lambda$, "
            r"$\sum_k w_k$ is").to(
        frac(add(*big), lam), r"common denominator: it is $1$ for $\lambda = \sum_j R_j$, so $w_k = R_k/\sum_j R_j$")
    d.keep("mu_star", s1 / big_r)
    d.keep("var_star", var_star)
    d.keep("q", q)
    return d
