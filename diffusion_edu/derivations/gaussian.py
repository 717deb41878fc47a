"""Chapter 2: the Gaussian. Every fact the diffusion chapters lean on, proved by SymPy as a chain.

- normalisation, mean, variance and moment generating function of N(mu, sigma^2);
- the standard normal (mu = 0, sigma = 1; note 000 says mu = 1, sigma = 0, which is no density);
- an affine map of a Gaussian is Gaussian; reparameterisation x = mu + sigma z;
- the sum of *independent* Gaussians: means add and variances add (DDPM's forward process);
- the variance of one forward step, with sqrt(beta) (preserved) and note 000's beta (shrinks);
- the product of two Gaussian *densities* is an unnormalised Gaussian density with the
  precision-weighted mean (DDPM's posterior);
- the maximum-likelihood estimates (sample mean, biased sample variance).

Densities are displayed as :class:`Normal` (``N(x; mu, sigma^2)``) and written out for the proofs.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, same_log
from diffusion_edu.derivations.registry import derivation

x, z, u, t = sp.symbols("x z u t", real=True)
mu, mu_1, mu_2 = sp.symbols("mu mu_1 mu_2", real=True)
sigma, sigma_1, sigma_2 = sp.symbols("sigma sigma_1 sigma_2", positive=True)
var_1, var_2 = sp.symbols("v_1 v_2", positive=True)
a = sp.symbols("a", nonzero=True, real=True)
b = sp.symbols("b", real=True)
INF = sp.oo


def pdf(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """N(x; mean, std^2) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
    return sp.exp(-((x_ - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


class Normal(sp.Function):
    """``N(x; mean, std^2)`` as a reader writes it; evaluates (``doit``, as every proof does) to :func:`pdf`."""

    nargs = 3

    def doit(self, **hints: object) -> sp.Expr:
        x_, mean, std = (arg.doit(**hints) for arg in self.args)
        return pdf(x_, mean, std)

    def _latex(self, printer: sp.printing.latex.LatexPrinter, exp: object = None) -> str:
        x_, mean, std = self.args
        out = rf"\mathcal{{N}}\left({printer._print(x_)};\, {printer._print(mean)},\, {printer._print(std**2)}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"


def written(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """The density written out as a reader would: ``1 / (std sqrt(2 pi)) exp(-(x - mean)^2 / (2 std^2))``."""
    return mul(recip(mul(std, sqrt(2 * sp.pi))), sp.exp(-frac(power(x_ - mean, 2), 2 * power(std, 2))))


def recip(expr: sp.Expr) -> sp.Expr:
    """``1 / expr`` as written."""
    return power(expr, -1)


def integral(expr: sp.Expr, var: sp.Symbol = x) -> sp.Integral:
    """The unevaluated integral of ``expr`` over the real line."""
    return sp.Integral(expr, (var, -INF, INF))


def mgf(mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """Moment generating function E[exp(t X)] of N(mean, std^2), in closed form."""
    return sp.exp(mean * t + std**2 * t**2 / 2)


phi = Normal(z, 0, 1)  # the standard normal density, in z


@derivation
def normalisation_and_moments() -> Derivation:
    d = Derivation(r"$\mathcal N(\mu, \sigma^2)$ is a density with mean $\mu$ and variance $\sigma^2$")
    d.given(Normal(x, mu, sigma), written(x, mu, sigma), r"the Gaussian density, $\sigma > 0$")
    d.chain(integral(sp.exp(-(z**2) / 2), z), "The Gaussian integral:").to(
        sqrt(2 * sp.pi), r"square it and integrate in polar coordinates: the square is $2\pi$")
    p = Normal(x, mu, sigma)
    total = d.chain(integral(p), "It integrates to one:")
    total.to(integral(phi, z), r"substitute $x = \mu + \sigma z$, $dx = \sigma\,dz$: the $\sigma$ cancels")
    total.to(sp.Integer(1), r"the Gaussian integral: $\int e^{-z^2/2}\,dz = \sqrt{2\pi}$")
    mean = d.chain(integral(x * p), "Its mean:")
    mean.to(integral(mul(held(mu + sigma * z), phi), z), r"substitute $x = \mu + \sigma z$")
    mean.to(add(mul(mu, integral(phi, z)), mul(sigma, integral(z * phi, z))), "split the integral")
    mean.to(mu, r"the first integral is $1$; the second vanishes, since $z\,e^{-z^2/2}$ is odd")
    variance = d.chain(integral(power(x - mu, 2) * p), "Its variance:")
    variance.to(mul(power(sigma, 2), integral(z**2 * phi, z)), r"substitute $x = \mu + \sigma z$")
    variance.to(sigma**2, r"integrate by parts: $\int z^2 \varphi(z)\,dz = \int \varphi(z)\,dz = 1$")
    shifted = Normal(x, mu + sigma**2 * t, sigma)
    moments = d.chain(integral(sp.exp(t * x) * p), r"Its moment generating function $E[e^{tX}]$:")
    moments.to(mul(sp.exp(add(mu * t, frac(sigma**2 * t**2, 2))), integral(shifted)),
               r"complete the square: $tx - \frac{(x-\mu)^2}{2\sigma^2} = \mu t + \frac{\sigma^2t^2}{2} - "
               r"\frac{(x - \mu - \sigma^2 t)^2}{2\sigma^2}$")
    moments.to(mgf(mu, sigma), r"the shifted density integrates to $1$")
    d.keep("pdf", pdf(x, mu, sigma))
    return d


@derivation
def standard_normal() -> Derivation:
    """mu = 0, sigma = 1. Note 000's 'mu = 1, sigma = 0' divides by zero: the limit is a point mass."""
    d = Derivation(r"the standard normal is $\mathcal N(0, 1)$; note 000's $\sigma = 0$ is no density")
    d.chain(Normal(x, 0, 1), r"Set $\mu = 0$ and $\sigma = 1$ in the density:").to(
        frac(sp.exp(-frac(x**2, 2)), sqrt(2 * sp.pi)), r"write out the density: the exponent is $-x^2/2$")
    d.chain(integral(x**2 * Normal(x, 0, 1)), "It has variance one:").to(
        sp.Integer(1), "the variance above, with $\\sigma = 1$")
    peak = d.chain(sp.Limit(Normal(mu, mu, sigma), sigma, 0, "+"),
                   r"Note 000 calls $\mu = 1$, $\sigma = 0$ standard. As $\sigma \to 0$, at $x = \mu$:")
    peak.to(sp.Limit(recip(mul(sigma, sqrt(2 * sp.pi))), sigma, 0, "+"), r"at $x = \mu$ the exponent is $0$")
    peak.to(INF, r"$1/\sigma$ grows without bound: the density blows up")
    away = d.chain(sp.Limit(Normal(mu + 1, mu, sigma), sigma, 0, "+"), r"and at $x = \mu + 1$:")
    away.to(sp.Limit(frac(sp.exp(-recip(2 * sigma**2)), mul(sigma, sqrt(2 * sp.pi))), sigma, 0, "+"),
            r"at $x = \mu + 1$ the exponent is $-1/(2\sigma^2)$")
    away.to(sp.Integer(0), r"$e^{-1/(2\sigma^2)}$ vanishes faster than any power of $\sigma$: a point mass at $\mu$, "
            "no density")
    d.keep("standard_pdf", pdf(x, 0, 1))
    return d


@derivation
def affine_and_reparameterisation() -> Derivation:
    d = Derivation(r"affine maps and the reparameterisation $x = \mu + \sigma z$")
    y = sp.symbols("y", real=True)
    affine = d.chain(frac(Normal((y - b) / a, mu, sigma), sp.Abs(a)),
                     r"An affine map $Y = aX + b$ of $X \sim \mathcal N(\mu, \sigma^2)$, $a \ne 0$, has by "
                     r"the change of variables the density",
                     name=sp.Symbol("p_{Y}(y)"))
    affine.to(mul(recip(mul(sp.Abs(a), sigma, sqrt(2 * sp.pi))),
                  sp.exp(-frac(power(held((y - b) / a - mu), 2), 2 * sigma**2))), "write out the density")
    affine.to(mul(recip(mul(sp.Abs(a), sigma, sqrt(2 * sp.pi))),
                  sp.exp(-frac(power(held(y - a * mu - b), 2), mul(2, a**2, sigma**2)))),
              r"multiply the bracket by $a$ and the denominator by $a^2$", proof=same_log)
    affine.to(Normal(y, a * mu + b, sp.Abs(a) * sigma),
              r"a Gaussian density with mean $a\mu + b$ and variance $a^2\sigma^2$", proof=same_log)
    reparam = d.chain(frac(Normal((x - mu) / sigma, 0, 1), sigma),
                      r"Reparameterisation: $x = \mu + \sigma z$ with $z \sim \mathcal N(0, 1)$ has density")
    reparam.to(Normal(x, mu, sigma), r"the affine rule with $a = \sigma$, $b = \mu$: sampling is a differentiable "
               r"function of $(\mu, \sigma)$, the VAE's trick and DDPM's one-shot $x_t$", proof=same_log)
    back = d.chain(mul(sigma, Normal(mu + sigma * z, mu, sigma)),
                   r"and back: $z = (x - \mu)/\sigma$ has density")
    back.to(Normal(z, 0, 1), r"the exponent is $-\sigma^2z^2/(2\sigma^2) = -z^2/2$ and $\sigma$ cancels")
    return d


@derivation
def sum_of_independent() -> Derivation:
    """X ~ N(mu_1, s_1^2), Y ~ N(mu_2, s_2^2) independent: X + Y ~ N(mu_1 + mu_2, s_1^2 + s_2^2)."""
    d = Derivation("the sum of independent Gaussians: means add, variances add")
    name = sp.Symbol("M_{X+Y}(t)")
    d.given(name, sp.Symbol(r"E\left[e^{tX}\right] E\left[e^{tY}\right]"),
            r"the moment generating function $E[e^{t(X+Y)}]$ factorises when $X$ and $Y$ are independent")
    c = d.chain(mul(integral(sp.exp(t * x) * Normal(x, mu_1, sigma_1)),
                    integral(sp.exp(t * x) * Normal(x, mu_2, sigma_2))),
                r"With $X \sim \mathcal N(\mu_1, \sigma_1^2)$ and $Y \sim \mathcal N(\mu_2, \sigma_2^2)$:", name=name)
    c.to(mul(mgf(mu_1, sigma_1), mgf(mu_2, sigma_2)), "each factor is a Gaussian's moment generating function")
    c.to(sp.exp(add(mul(held(mu_1 + mu_2), t), mul(held(sigma_1**2 + sigma_2**2), frac(t**2, 2)))),
         r"add the exponents: the moment generating function of $\mathcal N(\mu_1 + \mu_2, \sigma_1^2 + "
         r"\sigma_2^2)$, which determines the distribution")
    # the DDPM case: sqrt(alpha) x_{t-1} + sqrt(1 - alpha) eps, with x_{t-1} = sqrt(abar) x0 + sqrt(1 - abar) eps'
    alpha, alpha_bar = sp.symbols(r"alpha_t \bar{\alpha}_{t-1}", positive=True)
    ddpm = d.chain(add(mul(alpha, 1 - alpha_bar), 1 - alpha),
                   r"DDPM's forward step merges two independent noises, of variances $\alpha_t(1 - \bar\alpha_{t-1})$ "
                   r"and $1 - \alpha_t$:")
    ddpm.to(1 - alpha * alpha_bar, r"multiply out: $\alpha_t$ cancels")
    d.keep("sum_mean", mu_1 + mu_2)
    d.keep("sum_var", sigma_1**2 + sigma_2**2)
    return d


@derivation
def one_step_variance() -> Derivation:
    """Var x_t for x_t = sqrt(1 - beta) x_{t-1} + c eps with Var x_{t-1} = 1: c = sqrt(beta) keeps it 1."""
    beta = sp.symbols("beta", positive=True)
    d = Derivation(r"the variance of one forward step from $\operatorname{Var} x_{t-1} = 1$")
    var_t = sp.Symbol(r"\operatorname{Var} x_t")
    right = d.chain(add(mul(1 - beta, 1), power(sqrt(beta), 2)),
                    r"With $x_t = \sqrt{1-\beta}\,x_{t-1} + \sqrt{\beta}\,\epsilon$ the variances add (independent "
                    "terms):", name=var_t)
    right.to(add(1 - beta, beta), r"$(\sqrt{\beta})^2 = \beta$")
    right.to(sp.Integer(1), r"$\beta$ cancels: the variance is preserved for every $\beta$")
    note = d.chain(add(mul(1 - beta, 1), power(beta, 2)),
                   r"With note 000's $x_t = \sqrt{1-\beta}\,x_{t-1} + \beta\,\epsilon$:", name=var_t)
    note.to(add(1, -mul(beta, held(1 - beta))), r"factor: below $1$ for every $0 < \beta < 1$, so the signal "
            "shrinks towards 0")
    d.keep("preserved", sp.Integer(1))
    d.keep("note_000", 1 - beta + beta**2)
    return d


@derivation
def product_of_densities() -> Derivation:
    """N(x; m1, v1) N(x; m2, v2) = N(m1; m2, v1 + v2) N(x; m, v), 1/v = 1/v1 + 1/v2, m = v (m1/v1 + m2/v2)."""
    d = Derivation("the product of two Gaussian densities")
    m, v = sp.Symbol("m", real=True), sp.Symbol("v", positive=True)
    var = 1 / (1 / var_1 + 1 / var_2)
    mean = var * (mu_1 / var_1 + mu_2 / var_2)
    defs = {m: mean, v: var}
    d.given(v, recip(add(recip(var_1), recip(var_2))), "the precisions add")
    d.given(m, mul(v, held(mu_1 / var_1 + mu_2 / var_2)), "the precision-weighted mean")
    d.chain(recip(add(recip(var_1), recip(var_2))), name=v).to(
        frac(var_1 * var_2, var_1 + var_2), "common denominator")
    exponent = d.chain(add(-frac(power(x - mu_1, 2), 2 * var_1), -frac(power(x - mu_2, 2), 2 * var_2)),
                       "The exponents of the two densities, added:")
    exponent.to(add(-frac(power(x - m, 2), 2 * v), -frac(power(mu_1 - mu_2, 2), mul(2, var_1 + var_2))),
                r"complete the square in $x$: the coefficient of $x^2$ is $-\frac{1}{2v}$, that of $x$ is "
                r"$\frac{m}{v}$; the rest does not depend on $x$", using=defs)
    product = d.chain(mul(Normal(x, mu_1, sp.sqrt(var_1)), Normal(x, mu_2, sp.sqrt(var_2))),
                      "So the product of the densities is")
    product.to(mul(Normal(mu_1, mu_2, sp.sqrt(var_1 + var_2)), Normal(x, m, sp.sqrt(v))),
               r"the exponent above; the prefactors agree since $v_1 v_2 = v\,(v_1 + v_2)$",
               using=defs, proof=same_log)
    mass = d.chain(integral(mul(Normal(mu_1, mu_2, sp.sqrt(var_1 + var_2)), Normal(x, m, sp.sqrt(v)))),
                   "It integrates to a constant, not to one (note 003 calls it a Gaussian):")
    mass.to(Normal(mu_1, mu_2, sp.sqrt(var_1 + var_2)), r"the factor in $x$ integrates to $1$")
    d.keep("product_mean", mean)
    d.keep("product_var", var)
    d.keep("product_log_scale", sp.log(pdf(mu_1, mu_2, sp.sqrt(var_1 + var_2))))
    return d


@derivation
def maximum_likelihood() -> Derivation:
    """With S1 = sum x_i, S2 = sum x_i^2 over n points: mu* = S1/n, sigma*^2 = S2/n - (S1/n)^2."""
    d = Derivation(r"maximum likelihood for $\mathcal N(\mu, \sigma^2)$")
    n = sp.symbols("n", positive=True, integer=True)
    s1, s2 = sp.symbols("S_1 S_2", real=True)
    ell = sp.Symbol(r"\ell(\mu, \sigma)")
    sq = add(s2, -2 * mu * s1, n * mu**2)  # sum_i (x_i - mu)^2 = S2 - 2 mu S1 + n mu^2
    loglik = add(-n * sp.log(sigma), -frac(n * sp.log(2 * sp.pi), 2), -frac(held(sq), 2 * sigma**2))
    d.given(ell, loglik, r"the log-likelihood of $n$ points, with $S_1 = \sum_i x_i$, $S_2 = \sum_i x_i^2$ and so "
            r"$\sum_i (x_i - \mu)^2 = S_2 - 2\mu S_1 + n\mu^2$")
    mean = d.chain(sp.Derivative(loglik, mu), "The derivative in the mean,")
    mean.to(frac(add(s1, -n * mu), sigma**2), r"differentiate the quadratic in $\mu$")
    d.chain(frac(add(s1, -mul(n, frac(s1, n))), sigma**2), r"vanishes at the sample mean $\mu^* = S_1/n$:").to(
        sp.Integer(0), r"$n \cdot S_1/n = S_1$")
    curvature = d.chain(sp.Derivative(loglik, (mu, 2)), "and the stationary point is a maximum:")
    curvature.to(-frac(n, sigma**2), r"differentiate twice")
    d.claim(sp.Lt(-n / sigma**2, 0, evaluate=False), r"the curvature is negative for $n > 0$")
    var_star = s2 / n - (s1 / n) ** 2
    scale = d.chain(sp.Derivative(loglik, sigma), "The derivative in the standard deviation,")
    scale.to(add(-frac(n, sigma), frac(held(sq), sigma**3)), r"differentiate in $\sigma$")
    scale.to(frac(add(held(sq), -n * sigma**2), sigma**3), "common denominator")
    at = d.chain(add(s2, -mul(2, frac(s1, n), s1), mul(n, power(frac(s1, n), 2)), -mul(n, held(var_star))),
                 r"vanishes at $\mu^* = S_1/n$ and $\sigma^{*2} = S_2/n - (S_1/n)^2$, the biased sample variance; "
                 "the numerator is")
    at.to(sp.Integer(0), "multiply out: every term cancels")
    d.keep("mle_mean", s1 / n)
    d.keep("mle_var", var_star)
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
