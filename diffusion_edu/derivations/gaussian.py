"""Chapter 2: the Gaussian. Every fact the diffusion chapters lean on, proved by SymPy.

- normalisation, mean and variance of N(mu, sigma^2);
- the standard normal (mu = 0, sigma = 1; note 000 says mu = 1, sigma = 0, which is no density);
- an affine map of a Gaussian is Gaussian; reparameterisation x = mu + sigma z;
- the sum of *independent* Gaussians: means add and variances add (DDPM's forward process);
- the product of two Gaussian *densities* is an unnormalised Gaussian density with the
  precision-weighted mean (DDPM's posterior);
- the maximum-likelihood estimates (sample mean, biased sample variance).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation, same_log

x, z, u, t = sp.symbols("x z u t", real=True)
mu, mu_1, mu_2 = sp.symbols("mu mu_1 mu_2", real=True)
sigma, sigma_1, sigma_2 = sp.symbols("sigma sigma_1 sigma_2", positive=True)
var_1, var_2 = sp.symbols("v_1 v_2", positive=True)
a = sp.symbols("a", nonzero=True, real=True)
b = sp.symbols("b", real=True)


def pdf(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """N(x; mean, std^2) = exp(-(x - mean)^2 / (2 std^2)) / (std sqrt(2 pi))."""
    return sp.exp(-((x_ - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


def mgf(mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """Moment generating function E[exp(t X)] of N(mean, std^2), in closed form."""
    return sp.exp(mean * t + std**2 * t**2 / 2)


def normalisation_and_moments() -> Derivation:
    d = Derivation("N(mu, sigma^2) is a density with mean mu and variance sigma^2")
    d.equal("Gaussian integral", sp.Integral(sp.exp(-(z**2) / 2), (z, -sp.oo, sp.oo)), sp.sqrt(2 * sp.pi))
    p = pdf(x, mu, sigma)
    d.equal("normalisation", sp.Integral(p, (x, -sp.oo, sp.oo)), 1)
    mean = d.equal("mean", sp.Integral(x * p, (x, -sp.oo, sp.oo)), mu)
    d.equal("variance", sp.Integral((x - mean) ** 2 * p, (x, -sp.oo, sp.oo)), sigma**2)
    d.equal("moment generating function", sp.Integral(sp.exp(t * x) * p, (x, -sp.oo, sp.oo)), mgf(mu, sigma))
    d.keep("pdf", p)
    return d


def standard_normal() -> Derivation:
    """mu = 0, sigma = 1. Note 000's 'mu = 1, sigma = 0' divides by zero: the limit is a point mass."""
    d = Derivation("the standard normal is N(0, 1)")
    d.equal("N(x; 0, 1)", pdf(x, 0, 1), sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi))
    d.equal(
        "note 000's sigma -> 0 at x = mu: the density blows up",
        sp.Limit(pdf(mu, mu, sigma), sigma, 0, "+"),
        sp.oo,
    )
    d.equal(
        "note 000's sigma -> 0 at x = mu + 1: the density vanishes",
        sp.Limit(pdf(mu + 1, mu, sigma), sigma, 0, "+"),
        0,
        note="so sigma = 0 is a point mass at mu (no density), and mu = 1 is not 'standard'",
    )
    d.keep("standard_pdf", pdf(x, 0, 1))
    return d


def affine_and_reparameterisation() -> Derivation:
    d = Derivation("affine maps and the reparameterisation x = mu + sigma z")
    # change of variables: y = a x + b has density p_x((y - b) / a) / |a|
    y = sp.symbols("y", real=True)
    d.equal(
        "a X + b ~ N(a mu + b, a^2 sigma^2)",
        pdf((y - b) / a, mu, sigma) / sp.Abs(a),
        pdf(y, a * mu + b, sp.Abs(a) * sigma),
    )
    d.equal(
        "x = mu + sigma z with z ~ N(0, 1) has density N(x; mu, sigma^2)",
        pdf((x - mu) / sigma, 0, 1) / sigma,
        pdf(x, mu, sigma),
        note="sampling becomes a differentiable function of (mu, sigma): the VAE's trick, DDPM's x_t",
    )
    d.equal(
        "and back: z = (x - mu) / sigma is standard normal",
        pdf(mu + sigma * z, mu, sigma) * sigma,
        pdf(z, 0, 1),
    )
    return d


def sum_of_independent() -> Derivation:
    """X ~ N(mu_1, s_1^2), Y ~ N(mu_2, s_2^2) independent: X + Y ~ N(mu_1 + mu_2, s_1^2 + s_2^2)."""
    d = Derivation("the sum of independent Gaussians: means add, variances add")
    mx = d.equal("M_X(t)", sp.Integral(sp.exp(t * x) * pdf(x, mu_1, sigma_1), (x, -sp.oo, sp.oo)), mgf(mu_1, sigma_1))
    my = d.equal("M_Y(t)", sp.Integral(sp.exp(t * x) * pdf(x, mu_2, sigma_2), (x, -sp.oo, sp.oo)), mgf(mu_2, sigma_2))
    sum_std = sp.sqrt(sigma_1**2 + sigma_2**2)
    d.equal(
        "M_{X+Y} = M_X M_Y (independence) is the MGF of N(mu_1 + mu_2, s_1^2 + s_2^2)",
        mx * my,
        mgf(mu_1 + mu_2, sum_std),
        note="an MGF that exists near t = 0 determines the distribution",
    )
    # the DDPM case: sqrt(alpha) x_{t-1} + sqrt(1 - alpha) eps, with x_{t-1} = sqrt(abar) x0 + sqrt(1 - abar) eps'
    alpha, alpha_bar = sp.symbols("alpha_t alphabar_{t-1}", positive=True)
    noise_var = alpha * (1 - alpha_bar) + (1 - alpha)
    d.equal(
        "DDPM: the noise variances alpha_t (1 - abar_{t-1}) + (1 - alpha_t) merge to 1 - alpha_t abar_{t-1}",
        noise_var,
        1 - alpha * alpha_bar,
    )
    d.keep("sum_mean", mu_1 + mu_2)
    d.keep("sum_var", sigma_1**2 + sigma_2**2)
    return d


def product_of_densities() -> Derivation:
    """N(x; m1, v1) N(x; m2, v2) = N(m1; m2, v1 + v2) N(x; m, v), 1/v = 1/v1 + 1/v2, m = v (m1/v1 + m2/v2)."""
    d = Derivation("the product of two Gaussian densities")
    var = 1 / (1 / var_1 + 1 / var_2)
    mean = var * (mu_1 / var_1 + mu_2 / var_2)
    d.equal("precision adds: v = v1 v2 / (v1 + v2)", var, var_1 * var_2 / (var_1 + var_2))
    lhs = pdf(x, mu_1, sp.sqrt(var_1)) * pdf(x, mu_2, sp.sqrt(var_2))
    rhs = pdf(mu_1, mu_2, sp.sqrt(var_1 + var_2)) * pdf(x, mean, sp.sqrt(var))
    d.equal("completing the square: the x-dependent exponents agree", sp.diff(sp.log(lhs), x), sp.diff(sp.log(rhs), x))
    d.equal("and so do the constants (compare at x = m)", lhs.subs(x, mean), rhs.subs(x, mean), proof=same_log)
    d.equal(
        "the product integrates to N(m1; m2, v1 + v2), not 1",
        sp.Integral(rhs, (x, -sp.oo, sp.oo)),
        pdf(mu_1, mu_2, sp.sqrt(var_1 + var_2)),
        note="a product of densities is an *unnormalised* Gaussian density (note 003 says 'a Gaussian')",
    )
    d.keep("product_mean", mean)
    d.keep("product_var", var)
    d.keep("product_log_scale", sp.log(pdf(mu_1, mu_2, sp.sqrt(var_1 + var_2))))
    return d


def maximum_likelihood() -> Derivation:
    """With S1 = sum x_i, S2 = sum x_i^2 over n points: mu* = S1/n, sigma*^2 = S2/n - (S1/n)^2."""
    d = Derivation("maximum likelihood for N(mu, sigma^2)")
    n = sp.symbols("n", positive=True, integer=True)
    s1, s2 = sp.symbols("S_1 S_2", real=True)
    # sum_i (x_i - mu)^2 = S2 - 2 mu S1 + n mu^2
    sq = s2 - 2 * mu * s1 + n * mu**2
    loglik = -n * sp.log(sigma) - n * sp.log(2 * sp.pi) / 2 - sq / (2 * sigma**2)
    (mu_star,) = sp.solve(sp.diff(loglik, mu), mu)
    d.equal("d/dmu = 0 at the sample mean", mu_star, s1 / n)
    var_star = s2 / n - (s1 / n) ** 2
    d.equal("d/dsigma = 0 at the biased sample variance",
            sp.diff(loglik, sigma).subs(mu, mu_star).subs(sigma, sp.sqrt(var_star)), 0)
    hess_mu = sp.diff(loglik, mu, 2)
    d.equal("d^2/dmu^2 = -n / sigma^2 < 0: a maximum", hess_mu, -n / sigma**2)
    d.keep("mle_mean", s1 / n)
    d.keep("mle_var", var_star)
    return d


def all_derivations() -> list[Derivation]:
    return [
        normalisation_and_moments(),
        standard_normal(),
        affine_and_reparameterisation(),
        sum_of_independent(),
        product_of_densities(),
        maximum_likelihood(),
    ]
