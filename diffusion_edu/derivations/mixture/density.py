"""Chapter 3: the Gaussian mixture as a density, proved by SymPy as chains a reader follows. It
integrates to 1; its mean and variance (moment matching, used in chapter 4); log-sum-exp,
log sum_k exp(a_k) = m + log sum_k exp(a_k - m) for any m (the stable log-density); and the
continuous mixture p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1), the VAE's model
(Kingma & Welling 2014). The symbols here are the chapter's; the other parts import them."""

from __future__ import annotations

import functools
from collections.abc import Callable

import sympy as sp

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


def exp_equal(left: sp.Basic, right: sp.Basic) -> bool:
    """Proof for logs of sums: exp of both sides, multiplied out, agree."""
    left, right = evaluate(left), evaluate(right)
    return is_zero(sp.expand(sp.exp(left)) - sp.expand(sp.exp(right)))



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
