"""Chapter 4: the Kullback-Leibler divergence (Kullback and Leibler, 1951), proved by SymPy.

- Jensen's inequality for the convex -log (tangent-line proof) and from it KL >= 0 (Gibbs' inequality);
- asymmetry on two exact examples;
- KL between two univariate Gaussians by integration; the diagonal multivariate form; the VAE's
  KL(N(mu, sigma^2) || N(0, 1)) (note 003 has the sign flipped);
- the variance of the Monte Carlo estimator's summand (its error falls like 1/sqrt(n));
- the forward-KL optimum over Gaussians is moment matching.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from diffusion_edu.derivations.gaussian import pdf
from diffusion_edu.derivations.proof import Derivation, is_zero

x, t = sp.symbols("x t", real=True)
mu_1, mu_2 = sp.symbols("mu_1 mu_2", real=True)
sigma_1, sigma_2 = sp.symbols("sigma_1 sigma_2", positive=True)


def kl_gaussian_closed_form(m1: sp.Expr, s1: sp.Expr, m2: sp.Expr, s2: sp.Expr) -> sp.Expr:
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    m1, s1, m2, s2 = (sp.sympify(v) for v in (m1, s1, m2, s2))
    return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


@lru_cache(maxsize=1)
def _gaussian_moments() -> tuple[sp.Expr, ...]:
    """E[x^k] for k = 0..4 under N(mu_1, sigma_1^2), each by integration."""
    p = pdf(x, mu_1, sigma_1)
    return tuple(sp.expand(sp.simplify(sp.integrate(x**k * p, (x, -sp.oo, sp.oo)))) for k in range(5))


def _expect_polynomial(poly_in_x: sp.Expr) -> sp.Expr:
    """E_p[poly(x)] for p = N(mu_1, sigma_1^2): linearity plus the integrated moments."""
    moments = _gaussian_moments()
    coefficients = sp.Poly(sp.expand(poly_in_x), x).all_coeffs()[::-1]
    return sp.expand(sum(c * moments[k] for k, c in enumerate(coefficients)))


def jensen_and_nonnegativity() -> Derivation:
    """Jensen for phi = -log: E[-log X] >= -log E[X]. With X = q(x)/p(x), x ~ p: KL(p||q) >= 0."""
    d = Derivation("Jensen's inequality, and KL >= 0")
    m = sp.symbols("m", positive=True)
    u = sp.symbols("u", positive=True)
    tangent_gap = -sp.log(u) - (-sp.log(m) - (u - m) / m)  # phi(u) - (tangent of phi at m)(u)
    d.equal("the gap between -log u and its tangent at m vanishes at u = m", tangent_gap.subs(u, m), 0)
    d.equal("its derivative vanishes at u = m too", sp.diff(tangent_gap, u).subs(u, m), 0)
    d.true("and its second derivative 1/u^2 is > 0: -log lies above every tangent (convexity)",
           sp.diff(tangent_gap, u, 2) > 0)
    # expectation of the tangent inequality at m = E[X]: E[-log X] >= -log E[X] - (E[X] - E[X]) / E[X]
    mean_x = sp.symbols("E[X]", positive=True)
    d.equal(
        "take expectations at m = E[X]: the tangent's expectation is -log E[X] (the linear term averages to 0)",
        -sp.log(mean_x) - (mean_x - mean_x) / mean_x,
        -sp.log(mean_x),
        note="Jensen: E[-log X] >= -log E[X], with equality iff X is constant",
    )
    p1, p2, q1, q2 = sp.symbols("p_1 p_2 q_1 q_2", positive=True)
    p = [p1, p2, 1 - p1 - p2]
    q = [q1, q2, 1 - q1 - q2]
    d.equal("with X = q(x)/p(x) and x ~ p: E_p[X] = sum_x q(x) = 1",
            sum(pi * qi / pi for pi, qi in zip(p, q, strict=True)), 1)
    kl = sum(pi * sp.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    d.equal("and E_p[-log X] = sum_x p log(p/q) = KL(p||q), so KL(p||q) >= -log 1 = 0",
            sum(-pi * sp.log(qi / pi) for pi, qi in zip(p, q, strict=True)), kl,
            proof=lambda lhs, rhs: is_zero(sp.expand_log(lhs - rhs, force=True)))
    d.equal("equality when X is constant, i.e. q = p: KL(p||p) = 0", kl.subs({q1: p1, q2: p2}), 0)
    d.keep("kl_3", kl)
    return d


def asymmetry() -> Derivation:
    """KL(p||q) != KL(q||p), on a coin and on two Gaussians, exactly."""
    d = Derivation("KL is not symmetric")
    half, nine, one = sp.Rational(1, 2), sp.Rational(9, 10), sp.Rational(1, 10)
    forward = half * sp.log(half / nine) + half * sp.log(half / one)
    backward = nine * sp.log(nine / half) + one * sp.log(one / half)
    d.equal("fair coin p vs 90/10 coin q: KL(p||q) = log(5/3)", forward, sp.log(sp.Rational(5, 3)),
            proof=lambda lhs, rhs: is_zero(sp.expand_log(lhs - rhs, force=True)))
    d.equal("KL(q||p) = (9/10) log(9/5) + (1/10) log(1/5)", backward,
            nine * sp.log(sp.Rational(9, 5)) + one * sp.log(sp.Rational(1, 5)),
            proof=lambda lhs, rhs: is_zero(sp.expand_log(lhs - rhs, force=True)))
    d.true("they differ: 0.511 vs 0.368", sp.N(forward - backward, 30) > sp.Rational(1, 10))
    narrow_wide = kl_gaussian_closed_form(0, 1, 0, 2)
    wide_narrow = kl_gaussian_closed_form(0, 2, 0, 1)
    d.equal("KL(N(0,1) || N(0,4)) = log 2 - 3/8", narrow_wide, sp.log(2) - sp.Rational(3, 8))
    d.equal("KL(N(0,4) || N(0,1)) = 3/2 - log 2", wide_narrow, sp.Rational(3, 2) - sp.log(2))
    d.true("a narrow p inside a wide q costs less than a wide p inside a narrow q",
           sp.N(wide_narrow - narrow_wide, 30) > 0)
    d.keep("coin_forward", forward)
    d.keep("coin_backward", backward)
    return d


def gaussian_kl() -> Derivation:
    """KL(N(mu_1, s_1^2) || N(mu_2, s_2^2)) by integration, and the quantities built on it."""
    d = Derivation("KL between two Gaussians, by integration")
    p, q = pdf(x, mu_1, sigma_1), pdf(x, mu_2, sigma_2)
    log_ratio = sp.expand(sp.expand_log(sp.log(p) - sp.log(q), force=True))
    d.equal(
        "log p(x) - log q(x) is a quadratic in x",
        sp.degree(log_ratio, x),
        2,
    )
    moments = _gaussian_moments()
    d.equal("E_p[1] = 1, E_p[x] = mu_1, E_p[x^2] = mu_1^2 + sigma_1^2 (integrals)",
            sp.Matrix(moments[:3]), sp.Matrix([1, mu_1, mu_1**2 + sigma_1**2]))
    kl = _expect_polynomial(log_ratio)
    closed = kl_gaussian_closed_form(mu_1, sigma_1, mu_2, sigma_2)
    d.equal(
        "KL = integral of p (log p - log q) dx = log(s2/s1) + (s1^2 + (mu_1 - mu_2)^2) / (2 s2^2) - 1/2",
        kl,
        closed,
        note="note 000's formula, now proved",
    )
    vae = sp.Rational(1, 2) * (sigma_1**2 + mu_1**2 - 1 - sp.log(sigma_1**2))
    d.equal(
        "the VAE's term: KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1 - log s^2) / 2",
        closed.subs({mu_2: 0, sigma_2: 1}),
        vae,
        note="note 003 writes (log s^2 + 1 - s^2 - mu^2) / 2, which is minus this (and so <= 0)",
    )
    second = _expect_polynomial(log_ratio**2)
    variance = sp.simplify(second - kl**2)
    d.equal(
        "Var_p[log p/q] = sigma_1^2 (mu_1 - mu_2)^2 / s2^4 + (s1^2 - s2^2)^2 / (2 s2^4)",
        variance,
        sigma_1**2 * (mu_1 - mu_2) ** 2 / sigma_2**4 + (sigma_1**2 - sigma_2**2) ** 2 / (2 * sigma_2**4),
        note="so the Monte Carlo estimate from n samples has standard deviation sqrt(Var / n)",
    )
    # diagonal D-dimensional Gaussians: the log-ratio is a sum over coordinates, and integrating a
    # function of x_d against the product density leaves the 1-D integral (the others integrate to 1)
    x_2 = sp.symbols("x_2", real=True)
    m_2a, m_2b = sp.symbols("nu_1 nu_2", real=True)
    s_2a, s_2b = sp.symbols("tau_1 tau_2", positive=True)
    p_2, q_2 = pdf(x_2, m_2a, s_2a), pdf(x_2, m_2b, s_2b)
    d.equal(
        "2-D diagonal: log(p(x1) p(x2) / (q(x1) q(x2))) = log(p(x1)/q(x1)) + log(p(x2)/q(x2))",
        sp.expand_log(sp.log(p * p_2 / (q * q_2)), force=True),
        sp.expand_log(sp.log(p / q), force=True) + sp.expand_log(sp.log(p_2 / q_2), force=True),
    )
    d.equal("Fubini: the other coordinate's density integrates to 1",
            sp.Integral(p_2, (x_2, -sp.oo, sp.oo)), 1)
    d.equal(
        "so KL(diagonal) = sum_d KL_d = sum_d [log(s_qd/s_pd) + (s_pd^2 + (m_pd - m_qd)^2) / (2 s_qd^2) - 1/2]",
        kl + kl_gaussian_closed_form(m_2a, s_2a, m_2b, s_2b),
        closed + kl_gaussian_closed_form(m_2a, s_2a, m_2b, s_2b),
    )
    d.keep("kl", closed)
    d.keep("variance", variance)
    d.keep("vae", vae)
    return d


def forward_kl_is_moment_matching() -> Derivation:
    """min over N(m, s^2) of KL(p || N(m, s^2)) for any p with mean M1 and second moment M2."""
    d = Derivation("the forward-KL optimum is moment matching")
    m = sp.symbols("m", real=True)
    s = sp.symbols("s", positive=True)
    m1, m2 = sp.symbols("M_1 M_2", real=True)
    entropy = sp.symbols("H_p", real=True)
    # KL(p || q) = -H(p) - E_p[log q] and E_p[log q] only needs E_p[x] = M1 and E_p[x^2] = M2
    expected_log_q = -sp.log(s) - sp.log(2 * sp.pi) / 2 - (m2 - 2 * m * m1 + m**2) / (2 * s**2)
    kl = -entropy - expected_log_q
    d.equal("log N(x; m, s^2) = -log s - log(2 pi)/2 - (x - m)^2 / (2 s^2)",
            sp.expand_log(sp.log(pdf(x, m, s)), force=True),
            -sp.log(s) - sp.log(2 * sp.pi) / 2 - (x - m) ** 2 / (2 * s**2))
    square = sp.Poly(sp.expand((x - m) ** 2), x).all_coeffs()[::-1]  # coefficients of 1, x, x^2
    d.equal("E_p[(x - m)^2] = M_2 - 2 m M_1 + m^2 by linearity: KL(p||q) = -H(p) - E_p[log q] depends on p "
            "only through M_1, M_2",
            square[0] + square[1] * m1 + square[2] * m2, m2 - 2 * m * m1 + m**2)
    (m_star,) = sp.solve(sp.diff(kl, m), m)
    d.equal("dKL/dm = 0 at m = E_p[x]", m_star, m1)
    s_star = sp.sqrt(m2 - m1**2)
    d.equal("dKL/ds = 0 at s^2 = E_p[x^2] - E_p[x]^2 = Var_p[x]",
            sp.diff(kl, s).subs(m, m_star).subs(s, sp.Symbol("S", positive=True)).subs(
                sp.Symbol("S", positive=True), s_star), 0)
    d.equal("d^2KL/dm^2 = 1/s^2 > 0: a minimum", sp.diff(kl, m, 2), 1 / s**2)
    d.keep("m_star", m1)
    d.keep("var_star", m2 - m1**2)
    return d


def all_derivations() -> list[Derivation]:
    return [jensen_and_nonnegativity(), asymmetry(), gaussian_kl(), forward_kl_is_moment_matching()]
