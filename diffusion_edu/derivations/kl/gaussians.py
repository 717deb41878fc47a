"""Chapter 4: the KL divergence between Gaussians, proved by SymPy as chains. KL between two
univariate Gaussians by integration, the diagonal multivariate form, the VAE's
KL(N(mu, sigma^2) || N(0, 1)) (note 003 has the sign flipped; Kingma & Welling 2014, appendix B),
the variance of the Monte Carlo estimator's summand (its error falls like 1/sqrt(n)); and the
forward-KL optimum over Gaussians is moment matching (Bishop 2006, section 10.7)."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul
from diffusion_edu.derivations.gaussian import Normal, pdf
from diffusion_edu.derivations.proof import Derivation, is_zero
from diffusion_edu.derivations.registry import derivation

x, t = sp.symbols("x t", real=True)
mu_1, mu_2 = sp.symbols("mu_1 mu_2", real=True)
sigma_1, sigma_2 = sp.symbols("sigma_1 sigma_2", positive=True)
INF = sp.oo


def kl_gaussian_closed_form(m1: sp.Expr, s1: sp.Expr, m2: sp.Expr, s2: sp.Expr) -> sp.Expr:
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    m1, s1, m2, s2 = (sp.sympify(v) for v in (m1, s1, m2, s2))
    return sp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - sp.Rational(1, 2)


@lru_cache(maxsize=1)
def _gaussian_moments() -> tuple[sp.Expr, ...]:
    """E[x^k] for k = 0..4 under N(mu_1, sigma_1^2), each by integration."""
    p = pdf(x, mu_1, sigma_1)
    return tuple(sp.expand(sp.simplify(sp.integrate(x**k * p, (x, -INF, INF)))) for k in range(5))


def _expect_polynomial(poly_in_x: sp.Expr) -> sp.Expr:
    """E_p[poly(x)] for p = N(mu_1, sigma_1^2): linearity plus the integrated moments."""
    moments = _gaussian_moments()
    coefficients = sp.Poly(sp.expand(poly_in_x), x).all_coeffs()[::-1]
    return sp.expand(sum(c * moments[k] for k, c in enumerate(coefficients)))


def _by_moments(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for forms holding integrals of a polynomial in x against N(x; mu_1, sigma_1^2): each
    such integral is replaced by linearity and the integrated moments E[x^k], k <= 4."""
    def integrate(expr: sp.Basic) -> sp.Basic:
        def one(integral: sp.Integral) -> sp.Expr:
            integrand = integral.function
            density = Normal(x, mu_1, sigma_1)
            return _expect_polynomial(sp.expand((integrand / density).doit()))
        return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Integral), one).doit()
    return is_zero(sp.expand(integrate(lhs) - integrate(rhs)))


def power2(expr: sp.Expr) -> sp.Expr:
    """``expr ** 2`` as written."""
    return sp.Pow(expr, 2, evaluate=False)


@derivation
def gaussian_kl() -> Derivation:
    """KL(N(mu_1, s_1^2) || N(mu_2, s_2^2)) by integration, and the quantities built on it."""
    d = Derivation(r"KL between two Gaussians $p = \mathcal{N}(\mu_1, \sigma_1^2)$ and "
                   r"$q = \mathcal{N}(\mu_2, \sigma_2^2)$, by integration")
    p, q_ = Normal(x, mu_1, sigma_1), Normal(x, mu_2, sigma_2)
    log_ratio = sp.log(sigma_2 / sigma_1) - (x - mu_1) ** 2 / (2 * sigma_1**2) + (x - mu_2) ** 2 / (2 * sigma_2**2)
    ratio = d.chain(sp.log(frac(p, q_)), r"The log-ratio is a quadratic in $x$:")
    ratio.to(add(sp.log(frac(sigma_2, sigma_1)), -frac((x - mu_1) ** 2, 2 * sigma_1**2),
                 frac((x - mu_2) ** 2, 2 * sigma_2**2)),
             r"insert the densities: the factors $\sqrt{2\pi}$ cancel, the exponents subtract")
    moment = d.chain(sp.Integral((x - mu_2) ** 2 * p, (x, -INF, INF)),
                     r"Its expectation needs two moments of $p$. The second, about $\mu_2$:")
    moment.to(sp.Integral(mul(add(power2(held(x - mu_1)), mul(2, held(mu_1 - mu_2), held(x - mu_1)),
                                  power2(held(mu_1 - mu_2))), p), (x, -INF, INF)),
              r"write $x - \mu_2 = (x - \mu_1) + (\mu_1 - \mu_2)$ and multiply out", proof=_by_moments)
    moment.to(add(sigma_1**2, mul(2, held(mu_1 - mu_2), 0), power2(held(mu_1 - mu_2))),
              r"$\mathbb{E}_p[(x - \mu_1)^2] = \sigma_1^2$ and $\mathbb{E}_p[x - \mu_1] = 0$ (integrals)",
              proof=_by_moments)
    moment.to(sigma_1**2 + (mu_1 - mu_2) ** 2, r"the middle term vanishes")
    closed = kl_gaussian_closed_form(mu_1, sigma_1, mu_2, sigma_2)
    closed_shown = add(sp.log(frac(sigma_2, sigma_1)), frac(sigma_1**2 + (mu_1 - mu_2) ** 2, 2 * sigma_2**2),
                       -sp.Rational(1, 2))
    kl = d.chain(sp.Integral(p * log_ratio, (x, -INF, INF)),
                 r"The KL is the expectation of the log-ratio under $p$:", name=sp.Symbol(r"\mathrm{KL}(p\,\|\,q)"))
    kl.to(add(sp.log(frac(sigma_2, sigma_1)), -frac(sigma_1**2, mul(2, sigma_1**2)),
              frac(sigma_1**2 + (mu_1 - mu_2) ** 2, 2 * sigma_2**2)),
          r"linearity, and the two moments: $\sigma_1^2$ about $\mu_1$, $\sigma_1^2 + (\mu_1 - \mu_2)^2$ about $\mu_2$",
          proof=_by_moments)
    kl.to(closed_shown, r"cancel $\sigma_1^2$: note 000's formula, now proved")
    vae = sp.Rational(1, 2) * (sigma_1**2 + mu_1**2 - 1 - sp.log(sigma_1**2))
    to_standard = d.chain(sp.Subs(closed_shown, (mu_2, sigma_2), (0, 1)),
                          r"The VAE's term: against the standard normal, $\mu_2 = 0$, $\sigma_2 = 1$,")
    to_standard.to(add(sp.log(1 / sigma_1), frac(sigma_1**2 + mu_1**2, 2), -sp.Rational(1, 2)),
                   r"insert $\mu_2 = 0$, $\sigma_2 = 1$")
    to_standard.to(frac(add(sigma_1**2, mu_1**2, -1, -sp.log(sigma_1**2)), 2),
                   r"$\log(1/\sigma_1) = -\frac12 \log \sigma_1^2$; a common denominator")
    # the Monte Carlo estimator's summand: its variance under p
    variance = sp.simplify(_expect_polynomial(sp.expand(sp.expand_log(log_ratio, force=True)) ** 2)
                           - _expect_polynomial(sp.expand_log(log_ratio, force=True)) ** 2)
    var_chain = d.chain(add(sp.Integral(p * log_ratio**2, (x, -INF, INF)), -power2(held(closed))),
                        r"The variance of the Monte Carlo summand $\log \frac{p(x)}{q(x)}$, $x \sim p$, "
                        r"is the mean square minus the squared mean:",
                        name=sp.Symbol(r"\operatorname{Var}_p\left[\log \frac{p}{q}\right]"))
    var_chain.to(add(frac(sigma_1**2 * (mu_1 - mu_2) ** 2, sigma_2**4), frac((sigma_1**2 - sigma_2**2) ** 2,
                                                                           2 * sigma_2**4)),
                 r"the moments of $p$ up to the fourth (integrals); collect", proof=_by_moments)
    # diagonal 2-D Gaussians
    x_2 = sp.symbols("x_2", real=True)
    m_2a, m_2b = sp.symbols("nu_1 nu_2", real=True)
    s_2a, s_2b = sp.symbols("tau_1 tau_2", positive=True)
    p_2, q_2 = Normal(x_2, m_2a, s_2a), Normal(x_2, m_2b, s_2b)
    split = d.chain(sp.log(frac(mul(p, p_2), mul(q_, q_2))),
                    r"Two independent coordinates: $p(x, x_2) = p(x)\,p_2(x_2)$, likewise $q$; the log-ratio splits,")
    split.to(add(sp.log(frac(p, q_)), sp.log(frac(p_2, q_2))), r"the log of a product is a sum",
             proof=lambda lhs, rhs: is_zero(sp.expand_log(sp.expand_log(lhs.doit(), force=True)
                                                          - sp.expand_log(rhs.doit(), force=True), force=True)))
    fubini = d.chain(sp.Integral(p_2, (x_2, -INF, INF)),
                     r"and integrating a function of $x$ alone against $p(x)\,p_2(x_2)$ leaves a factor")
    fubini.to(sp.Integer(1), r"a density integrates to $1$ (Fubini)")
    per_coordinate_shown = add(sp.log(frac(s_2b, s_2a)), frac(s_2a**2 + (m_2a - m_2b) ** 2, 2 * s_2b**2),
                               -sp.Rational(1, 2))
    diagonal = d.chain(sp.Add(*closed_shown.args, *per_coordinate_shown.args, evaluate=False),
                       r"so the KL of a diagonal Gaussian is the sum of the per-coordinate KLs:",
                       name=sp.Symbol(r"\mathrm{KL}_{\mathrm{diag}}"))
    diagonal.to(add(sp.log(frac(sigma_2 * s_2b, sigma_1 * s_2a)), frac(sigma_1**2 + (mu_1 - mu_2) ** 2, 2 * sigma_2**2),
                    frac(s_2a**2 + (m_2a - m_2b) ** 2, 2 * s_2b**2), -1),
                r"merge the logarithms and the two $-\frac12$")
    d.keep("kl", closed)
    d.keep("variance", variance)
    d.keep("vae", vae)
    return d


@derivation
def forward_kl_is_moment_matching() -> Derivation:
    """min over N(m, s^2) of KL(p || N(m, s^2)) for any p with mean M1 and second moment M2."""
    d = Derivation(r"the forward-KL optimum over Gaussians $q = \mathcal{N}(m, s^2)$ is moment matching")
    mm = sp.symbols("m", real=True)
    s = sp.symbols("s", positive=True)
    m1 = sp.symbols("M_1", real=True)
    v = sp.symbols("V", positive=True)  # Var_p[x] > 0
    m2 = m1**2 + v
    entropy = sp.symbols("H_p", real=True)
    expected_square = sp.Symbol(r"\mathbb{E}_p[(x - m)^2]")
    d.given(sp.Symbol(r"\mathbb{E}_p[x]"), m1, r"the mean of $p$")
    d.given(sp.Symbol(r"\mathbb{E}_p[x^2]"), add(m1**2, v), r"its second moment; $V > 0$ is its variance")
    d.given(sp.Symbol("H_p"), sp.Symbol(r"-\mathbb{E}_p[\log p(x)]"),
            r"the entropy of $p$, which does not depend on $q$")
    log_q = d.chain(sp.log(Normal(x, mm, s)), r"The log-density of $q$:")
    log_q.to(add(-sp.log(s), -sp.log(2 * sp.pi) / 2, -frac((x - mm) ** 2, 2 * s**2)), "the log of the density",
             proof=lambda lhs, rhs: is_zero(sp.expand_log(lhs.doit(), force=True) - rhs))
    square = d.chain((x - mm) ** 2, r"Its expectation under $p$ needs only two moments of $p$:")
    square.to(add(x**2, -2 * mm * x, mm**2), "multiply out")
    d.given(expected_square, add(m2, -2 * mm * m1, mm**2),
            r"linearity of $\mathbb{E}_p$: insert $\mathbb{E}_p[x^2]$ and $\mathbb{E}_p[x]$")
    kl = -entropy + sp.log(s) + sp.log(2 * sp.pi) / 2 + (m2 - 2 * mm * m1 + mm**2) / (2 * s**2)
    kl_chain = d.chain(add(-entropy, -sp.Symbol(r"\mathbb{E}_p[\log q(x)]")),
                       r"So the KL depends on $p$ only through $M_1$, $V$ (and a constant):",
                       name=sp.Symbol(r"\mathrm{KL}(p\,\|\,q)"))
    kl_chain.to(add(-entropy, sp.log(s), sp.log(2 * sp.pi) / 2, frac(expected_square, 2 * s**2)),
                r"insert $\log q$", using={sp.Symbol(r"\mathbb{E}_p[\log q(x)]"):
                                           -sp.log(s) - sp.log(2 * sp.pi) / 2 - expected_square / (2 * s**2)})
    kl_chain.to(add(-entropy, sp.log(s), sp.log(2 * sp.pi) / 2, frac(add(v, power2(held(mm - m1))), 2 * s**2)),
                r"insert $\mathbb{E}_p[(x - m)^2]$ and complete the square in $m$",
                using={expected_square: m2 - 2 * mm * m1 + mm**2})
    kl_shown = add(-entropy, sp.log(s), sp.log(2 * sp.pi) / 2, frac(add(v, power2(held(mm - m1))), 2 * s**2))
    d_m = d.chain(sp.Derivative(kl_shown, mm), r"Stationary in $m$:")
    d_m.to(frac(mm - m1, s**2), r"differentiate: only the square depends on $m$")
    d.chain(sp.Subs(frac(mm - m1, s**2), mm, m1), r"which vanishes at the mean of $p$,").to(
        sp.Integer(0), r"at $m = M_1 = \mathbb{E}_p[x]$")
    kl_at = add(-entropy, sp.log(s), sp.log(2 * sp.pi) / 2, frac(v, 2 * s**2))
    d_s = d.chain(sp.Derivative(kl_at, s), r"Stationary in $s$, at $m = M_1$:")
    d_s.to(add(1 / s, -frac(v, s**3)), r"differentiate")
    d.chain(sp.Subs(add(1 / s, -frac(v, s**3)), s, sp.sqrt(v)), r"which vanishes at the standard deviation of $p$,"
            ).to(sp.Integer(0), r"at $s^2 = V = \operatorname{Var}_p[x]$")
    curvature = d.chain(sp.Derivative(kl_shown, (mm, 2)), r"A minimum in $m$: the curvature")
    curvature.to(1 / s**2, r"differentiate twice")
    d.claim(sp.Gt(1 / s**2, 0, evaluate=False), r"is positive for every $s$")
    curvature_s = d.chain(sp.Subs(sp.Derivative(kl_at, (s, 2)), s, sp.sqrt(v)), r"and in $s$, at $s^2 = V$:")
    curvature_s.to(2 / v, r"differentiate twice, insert $s^2 = V$")
    d.claim(sp.Gt(2 / v, 0, evaluate=False), r"positive: a minimum")
    d.keep("m_star", m1)
    d.keep("var_star", v)
    d.keep("kl", kl)
    return d
