"""Chapter 3: Gaussian mixtures, proved by SymPy as chains a reader follows.

- the mixture density integrates to 1; its mean and variance (moment matching, used in chapter 4);
- log-sum-exp: log sum_k exp(a_k) = m + log sum_k exp(a_k - m) for any m (the stable log-density);
- responsibilities are Bayes' rule over the component label; with them the bound is tight
  (the E-step), and the M-step's stationarity conditions give the EM updates (Dempster et al., 1977);
- the score of a mixture is the responsibility-weighted sum of component scores, and adding
  Gaussian noise to a mixture gives a mixture (the oracle of the diffusion chapters);
- the continuous mixture p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1): the VAE's model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.gaussian import Normal, integral, pdf, recip
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero, same_log
from diffusion_edu.derivations.registry import derivation

x, y, z = sp.symbols("x y z", real=True)
w_1, w_2 = sp.symbols("w_1 w_2", positive=True)
mu_1, mu_2, mu_3 = sp.symbols("mu_1 mu_2 mu_3", real=True)
sigma_1, sigma_2, sigma_3 = sp.symbols("sigma_1 sigma_2 sigma_3", positive=True)
noise_std, scale = sp.symbols("sigma_n a", positive=True)


def _three_components() -> tuple[list[sp.Expr], list[sp.Expr], list[sp.Expr]]:
    weights = [w_1, w_2, 1 - w_1 - w_2]
    return weights, [mu_1, mu_2, mu_3], [sigma_1, sigma_2, sigma_3]


@functools.cache
def component_moment(power_: int) -> sp.Lambda:
    """E[x^power] under one component N(mu, sigma^2), by integration (generic symbols)."""
    mu, sigma = sp.symbols("mu", real=True), sp.symbols("sigma", positive=True)
    value = sp.simplify(sp.integrate(x**power_ * pdf(x, mu, sigma), (x, -sp.oo, sp.oo)))
    return sp.Lambda((mu, sigma), value)


def exp_equal(left: sp.Basic, right: sp.Basic) -> bool:
    """Proof for logs of sums: exp of both sides, multiplied out, agree."""
    left, right = evaluate(left), evaluate(right)
    return is_zero(sp.expand(sp.exp(left)) - sp.expand(sp.exp(right)))


def log_equal(left: sp.Basic, right: sp.Basic) -> bool:
    """Proof for sums of logs of densities: equal once every log is expanded."""
    left, right = evaluate(left), evaluate(right)
    return is_zero(sp.expand(sp.expand_log(left, force=True) - sp.expand_log(right, force=True)))


def _unheld(expr: sp.Basic) -> sp.Basic:
    while expr.atoms(sp.UnevaluatedExpr):
        expr = expr.xreplace({u: u.args[0] for u in expr.atoms(sp.UnevaluatedExpr)})
    return expr


def by_component_moments(using: dict) -> Callable[[sp.Basic, sp.Basic], bool]:
    """Proof for integrals of a mixture: by linearity, each integral of a polynomial in ``x`` times one
    component ``N(x; mu_k, sigma_k^2)`` is a sum of that component's moments (each integrated once, by
    SymPy, with generic symbols), then ``using`` is substituted."""

    def integrate(expr: sp.Basic) -> sp.Basic:
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(_unheld(expr))):
            (normal,) = [f for f in sp.Mul.make_args(term) if isinstance(f, Normal)]
            for (j,), coeff in sp.Poly(term / normal, x).terms():
                total += coeff * component_moment(j)(normal.args[1], normal.args[2])
        return total

    def prove(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        sides = [_unheld(side).replace(lambda e: isinstance(e, sp.Integral), lambda e: integrate(e.function))
                 for side in (lhs, rhs)]
        return is_zero(sp.expand((sides[0] - sides[1]).subs(using)))

    return prove


@derivation
def density_and_moments() -> Derivation:
    """p(x) = sum_k w_k N(x; mu_k, sigma_k^2) with sum_k w_k = 1 (here K = 3).

    Integrals of the mixture are sums of component integrals (linearity), each done by SymPy.
    """
    d = Derivation("a Gaussian mixture is a density; its mean and variance")
    weights, means, stds = _three_components()
    w_3 = sp.Symbol("w_3", positive=True)
    shown_w = [w_1, w_2, w_3]
    last = {w_3: 1 - w_1 - w_2}
    comps = [Normal(x, m, s) for m, s in zip(means, stds, strict=True)]
    density = sum(w * pdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True))
    d.given(w_3, 1 - w_1 - w_2, "the weights sum to one")
    d.given(sp.Symbol("p(x)"), add(*(mul(w, c) for w, c in zip(shown_w, comps, strict=True))),
            r"draw the label $k$ with probability $w_k$, then $x \sim \mathcal N(\mu_k, \sigma_k^2)$: the sum over "
            r"$k$ of $p(k)\,p(x\mid k)$")
    mixture = add(*(mul(w, c) for w, c in zip(shown_w, comps, strict=True)))

    def termwise(f: sp.Expr) -> sp.Expr:
        return add(*(mul(w, integral(mul(f, c))) if f != 1 else mul(w, integral(c))
                     for w, c in zip(shown_w, comps, strict=True)))

    moments = by_component_moments(last)
    total = d.chain(integral(held(mixture)), "It integrates to one:")
    total.to(termwise(1), "linearity: one integral per component", proof=moments)
    total.to(add(*shown_w), "each component integrates to $1$", proof=moments)
    total.to(sp.Integer(1), "the weights sum to one", proof=moments)
    mean_shown = add(*(mul(w, m) for w, m in zip(shown_w, means, strict=True)))
    first = d.chain(integral(mul(x, held(mixture))), "Its mean:", name=sp.Symbol(r"\bar{\mu}"))
    first.to(termwise(x), "linearity", proof=moments)
    first.to(mean_shown, r"each component has mean $\mu_k$", proof=moments)
    second = d.chain(integral(mul(x**2, held(mixture))), "Its second moment:")
    second.to(termwise(x**2), "linearity", proof=moments)
    second.to(add(*(mul(w, held(s**2 + m**2)) for w, m, s in zip(shown_w, means, stds, strict=True))),
              r"each component's second moment is $\sigma_k^2 + \mu_k^2$", proof=moments)
    mbar = sp.Symbol(r"\bar{\mu}", real=True)
    mean = sum(w * m for w, m in zip(weights, means, strict=True))
    var = d.chain(add(*(mul(w, held(s**2 + m**2)) for w, m, s in zip(shown_w, means, stds, strict=True)),
                      -power(mbar, 2)), r"So its variance, $E[x^2] - \bar\mu^2$, is",
                  name=sp.Symbol(r"\operatorname{Var} x"))
    var.to(add(*(mul(w, s**2) for w, s in zip(shown_w, stds, strict=True)),
               *(mul(w, power(m - mbar, 2)) for w, m in zip(shown_w, means, strict=True))),
           r"within-component variance plus the spread of the means about $\bar\mu$ (use $\sum_k w_k = 1$)",
           using={mbar: mean, **last})
    second_moment = sum(w * (s**2 + m**2) for w, m, s in zip(weights, means, stds, strict=True))
    d.keep("density", density)
    d.keep("mean", mean)
    d.keep("variance", second_moment - mean**2)
    return d


@derivation
def log_sum_exp() -> Derivation:
    """log sum_k exp(a_k) = m + log sum_k exp(a_k - m): with m = max_k a_k no exp overflows."""
    d = Derivation(r"log-sum-exp: the stable way to evaluate $\log p(x)$")
    a = sp.symbols("a_1:4", real=True)
    m = sp.symbols("m", real=True)
    shifted = add(*(sp.exp(add(a_k, -m)) for a_k in a))
    c = d.chain(sp.log(add(*(sp.exp(a_k) for a_k in a))), r"For any $m$:")
    c.to(sp.log(mul(sp.exp(m), held(shifted))), r"factor out $e^m$", proof=exp_equal)
    c.to(add(m, sp.log(shifted)), r"the log of a product is the sum of the logs", proof=exp_equal)
    terms = d.chain(sp.exp(held(sp.log(w_1) + sp.log(Normal(x, mu_1, sigma_1)))),
                    r"With $a_k = \log w_k + \log \mathcal N(x; \mu_k, \sigma_k^2)$ each term is a component of "
                    r"the mixture, so the left side is $\log p(x)$:")
    terms.to(mul(w_1, Normal(x, mu_1, sigma_1)), r"$e^{\log u + \log v} = uv$")
    big = [sp.Integer(1000), sp.Integer(999), sp.Integer(-5)]
    example = d.chain(sp.log(add(*(sp.exp(v, evaluate=False) for v in big))),
                      r"At $m = \max_k a_k$ every $e^{a_k - m} \le 1$, so nothing overflows; for "
                      r"$a = (1000, 999, -5)$, where $e^{1000}$ overflows a float,")
    example.to(add(1000, sp.log(add(1, sp.exp(-1, evaluate=False), sp.exp(-1005, evaluate=False)))),
               r"factor out $e^{1000}$: the terms are $1$, $e^{-1}$ and $e^{-1005}$", proof=exp_equal)
    return d


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


@derivation
def continuous_mixture() -> Derivation:
    """p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1) and p(x | z) = N(x; a z + b, s^2)."""
    d = Derivation(r"the continuous mixture: infinitely many components, indexed by $z$")
    a, s = sp.symbols("a s", positive=True)
    b = sp.symbols("b", real=True)
    m, v = sp.Symbol("m", real=True), sp.Symbol("v", positive=True)
    marginal_std = sp.sqrt(a**2 + s**2)
    defs = {m: a * (x - b) / (a**2 + s**2), v: s**2 / (a**2 + s**2)}
    d.given(m, frac(mul(a, held(x - b)), a**2 + s**2), r"the posterior mean of $z$ given $x$")
    d.given(v, frac(s**2, a**2 + s**2), r"the posterior variance: what a VAE's encoder approximates")
    joint = d.chain(mul(Normal(z, 0, 1), Normal(x, a * z + b, s)),
                    r"Prior $p(z) = \mathcal N(0, 1)$ times a linear decoder "
                    r"$p(x\mid z) = \mathcal N(x; az + b, s^2)$:")
    joint.to(mul(Normal(x, b, marginal_std), Normal(z, m, sp.sqrt(v))), r"complete the square in $z$",
             using=defs, proof=same_log)
    p = d.chain(integral(mul(Normal(z, 0, 1), Normal(x, a * z + b, s)), z), r"So $p(x) = \int p(z)\,p(x\mid z)\,dz$ is")
    p.to(mul(Normal(x, b, marginal_std), integral(Normal(z, m, sp.sqrt(v)), z)), "the factorisation above",
         using=defs, proof=lambda lhs, rhs: same_log(evaluate(lhs).subs(defs), evaluate(rhs).subs(defs)))
    p.to(Normal(x, b, marginal_std), r"the posterior integrates to $1$: one wide Gaussian (a neural decoder $f(z)$ "
         "gives a rich density, chapter 5)")
    d.chain(integral(Normal(x, b, marginal_std)), "It is a density:").to(sp.Integer(1), "a Gaussian integrates to $1$")
    sigma = sp.symbols("sigma", positive=True)
    note = d.chain(sp.Limit(Normal(1, 1, sigma), sigma, 0, "+"),
                   r"Note 000's prior $p(z) \sim \mathcal N(1, 0)$ is no density: as $\sigma \to 0$, at $z = 1$")
    note.to(sp.Limit(recip(mul(sigma, sqrt(2 * sp.pi))), sigma, 0, "+"), "the exponent is $0$")
    note.to(sp.oo, r"it blows up; the prior is $\mathcal N(0, 1)$ ($\mathcal N(0, I)$ in several dimensions)")
    d.keep("marginal", pdf(x, b, marginal_std))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
