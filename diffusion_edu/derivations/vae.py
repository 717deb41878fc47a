"""Chapter 5: the VAE's formulas, each step proved by SymPy as a chain (Kingma & Welling 2014).

- the evidence decomposition log p(x) = ELBO + KL(q(z|x) || p(z|x)), pointwise and, exactly,
  in a linear-Gaussian model where every term has a closed form;
- KL(N(mu, sigma^2) || N(0, 1)) by integration (note 003 prints its *negative*), then the sum
  over the coordinates of a diagonal Gaussian;
- the Gaussian decoder's log-likelihood as a scaled squared error plus a constant, and what that
  makes of a squared-error loss: the ELBO with decoder variance c is |x - f|^2 + 2c KL (up to a
  factor), so |x - f|^2 + KL read with a decoder of variance c is a beta-VAE with beta = 1/(2c);
- the reparameterisation trick: the pathwise gradient equals the gradient of the expectation.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul
from diffusion_edu.derivations.gaussian import Normal, pdf
from diffusion_edu.derivations.proof import Derivation, is_zero
from diffusion_edu.derivations.registry import derivation

x, z, z_1, z_2, eps = sp.symbols("x z z_1 z_2 epsilon", real=True)
mu, mu_1, mu_2, m, w, b = sp.symbols("mu mu_1 mu_2 m w b", real=True)
sigma, sigma_1, sigma_2, s, c = sp.symbols("sigma sigma_1 sigma_2 s c", positive=True)
log_var = sp.symbols("ell", real=True)  # ell = log sigma^2, what the encoder outputs

INF = sp.oo


@cache
def gaussian_moment(k: int, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[v^k] for v ~ N(mean, std^2), by integration."""
    v = sp.Dummy("v", real=True)
    return sp.expand(sp.integrate(v**k * pdf(v, mean, std), (v, -INF, INF)))


def _expect(expr: sp.Expr, variable: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr] under variable ~ N(mean, std^2). A polynomial in ``variable`` is integrated term by
    term (each moment by integration, cached); anything else is integrated directly."""
    expr = sp.expand(expr)
    if expr.is_polynomial(variable):
        poly = sp.Poly(expr, variable)
        return sp.expand(sum(coeff * gaussian_moment(k, mean, std) for (k,), coeff in poly.terms()))
    return sp.simplify(sp.integrate(expr * pdf(variable, mean, std), (variable, -INF, INF)).rewrite(sp.erf))


def _factors(expr: sp.Basic) -> list[sp.Basic]:
    """The factors of a product, unevaluated products flattened."""
    if isinstance(expr, sp.Mul):
        return [f for arg in expr.args for f in _factors(arg)]
    return [expr]


def _integrate_gaussians(expr: sp.Basic) -> sp.Basic:
    """Every integral of ``N(v; mean, std^2) f(v)`` over the real line replaced by E[f(v)] (moments, or
    SymPy's integral for a non-polynomial f), innermost first; the rest evaluated."""
    def one(integral: sp.Integral) -> sp.Expr:
        function = integral.function
        for variable, *_ in integral.limits:  # innermost first
            factors = _factors(function)
            density = next(f for f in factors if isinstance(f, Normal) and f.args[0] == variable)
            others = [f for f in factors if isinstance(f, Normal) and f is not density]
            rest = sp.Mul(*(f for f in factors if f is not density and not any(f is o for o in others)))
            rest = sp.expand_log(rest.doit(), force=True)
            function = sp.Mul(*others) * _expect(rest, variable, density.args[1].doit(), density.args[2].doit())
        return function
    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Integral), one).doit()


def _by_gaussian_integrals(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for forms holding Gaussian expectations, integrated by :func:`_integrate_gaussians`."""
    return is_zero(sp.expand(sp.expand_log(_integrate_gaussians(lhs) - _integrate_gaussians(rhs), force=True)))


def _logs(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Equal after evaluating and expanding every logarithm."""
    return is_zero(sp.expand(sp.expand_log(sp.sympify(lhs).doit(), force=True)
                             - sp.expand_log(sp.sympify(rhs).doit(), force=True)))


@derivation
def evidence_decomposition() -> Derivation:
    """log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)) for every q; exact in p(z) = N(0, 1),
    p(x|z) = N(w z + b, c), q(z|x) = N(m, s^2)."""
    d = Derivation(r"$\log p(x) = \mathrm{ELBO} + \mathrm{KL}(q(z\mid x)\,\|\,p(z\mid x))$")
    p_xz, p_z_given_x, q_z, p_x = (sp.Symbol(name, positive=True)
                                   for name in ("p(x, z)", r"p(z\mid x)", r"q(z\mid x)", "p(x)"))
    pointwise = d.chain(sp.log(p_x), r"For every $z$ and every $q$, since $p(x, z) = p(z\mid x)\,p(x)$:")
    pointwise.to(add(sp.log(frac(p_xz, q_z)), sp.log(frac(q_z, p_z_given_x))),
                 r"multiply and divide by $q(z\mid x)$ and $p(z\mid x)$; take $\mathbb{E}_q$: the left does not "
                 r"depend on $z$", using={p_xz: p_z_given_x * p_x}, proof=_logs)
    prior = Normal(z, 0, 1)
    likelihood = Normal(x, w * z + b, sp.sqrt(c))
    evidence = Normal(x, b, sp.sqrt(w**2 + c))
    d.given(sp.Symbol(r"p(z)\,p(x\mid z)"), mul(prior, likelihood),
            r"a linear-Gaussian model where every term has a closed form")
    marginal = d.chain(sp.Integral(mul(prior, likelihood), (z, -INF, INF)),
                       r"The evidence, note 000's continuous mixture (with its $dz$):", name=sp.Symbol("p(x)"))
    marginal.to(evidence, r"$x = wz + b + \sqrt{c}\,n$: a sum of independent Gaussians, variances add (chapter 2)")
    post_var = c / (w**2 + c)
    post_mean = w * (x - b) / (w**2 + c)
    posterior = Normal(z, post_mean, sp.sqrt(post_var))
    bayes = d.chain(sp.log(frac(mul(prior, likelihood), evidence)),
                    r"Bayes' rule, in logarithms: a quadratic in $z$,", name=sp.Symbol(r"\log p(z\mid x)"))
    bayes.to(sp.log(posterior), r"complete the square in $z$", proof=_logs)
    q = Normal(z, m, s)
    elbo_shown = sp.Integral(mul(q, sp.log(frac(mul(prior, likelihood), q))), (z, -INF, INF))
    kl_shown = sp.Integral(mul(q, sp.log(frac(q, posterior))), (z, -INF, INF))
    total = d.chain(add(elbo_shown, kl_shown), r"With any Gaussian $q = \mathcal{N}(m, s^2)$, the ELBO plus the "
                    r"posterior KL:")
    total.to(sp.log(evidence), r"integrate both against $q$ (its moments): the $m$ and $s$ cancel",
             proof=_by_gaussian_integrals)
    tight = d.chain(sp.Subs(kl_shown, (m, s), (post_mean, sp.sqrt(post_var))),
                    r"and the KL vanishes at $q = p(z\mid x)$: there the ELBO is tight,")
    tight.to(sp.Integer(0), r"$\log \frac{q}{p(z\mid x)} = 0$ when $q$ is the posterior", proof=_by_gaussian_integrals)
    elbo = _integrate_gaussians(elbo_shown)
    kl_post = _integrate_gaussians(kl_shown)
    d.keep("elbo", elbo)
    d.keep("kl_posterior", kl_post)
    d.keep("log_evidence", sp.log(pdf(x, b, sp.sqrt(w**2 + c))))
    return d


@derivation
def kl_to_standard_normal() -> Derivation:
    """KL(N(mu, sigma^2) || N(0, 1)) = (sigma^2 + mu^2 - 1 - log sigma^2) / 2, summed over coordinates."""
    d = Derivation(r"$\mathrm{KL}(\mathcal{N}(\mu, \sigma^2)\,\|\,\mathcal{N}(0, 1))$ by integration")
    q, p = Normal(z, mu, sigma), Normal(z, 0, 1)
    kl_value = (sigma**2 + mu**2 - 1 - sp.log(sigma**2)) / 2
    kl_shown = frac(add(sigma**2, mu**2, -1, -sp.log(sigma**2)), 2)
    ratio = d.chain(sp.log(frac(q, p)), r"The log-ratio of the encoder's $q$ to the prior $p$:")
    log_ratio = add(frac(z**2, 2), -frac((z - mu) ** 2, 2 * sigma**2), -sp.log(sigma))
    ratio.to(log_ratio, r"insert the densities: the factors $\sqrt{2\pi}$ cancel", proof=_logs)
    kl = d.chain(sp.Integral(mul(q, held(log_ratio)), (z, -INF, INF)), r"Its expectation under $q$:",
                 name=sp.Symbol(r"\mathrm{KL}(q\,\|\,p)"))
    kl.to(add(frac(add(mu**2, sigma**2), 2), -frac(sigma**2, 2 * sigma**2), -sp.log(sigma)),
          r"moments of $q$: $\mathbb{E}_q[z^2] = \mu^2 + \sigma^2$, $\mathbb{E}_q[(z - \mu)^2] = \sigma^2$",
          proof=_by_gaussian_integrals)
    kl.to(kl_shown, r"cancel $\sigma^2$; $\log \sigma = \frac12 \log \sigma^2$")
    note_000 = add(sp.log(frac(sigma_2, sigma_1)), frac(sigma_1**2 + (mu_1 - mu_2) ** 2, 2 * sigma_2**2),
                   -sp.Rational(1, 2))
    general = d.chain(sp.Subs(note_000, (mu_1, sigma_1, mu_2, sigma_2), (mu, sigma, 0, 1)),
                      r"Note 000's two-Gaussian formula (chapter 4) agrees:")
    general.to(add(sp.log(1 / sigma), frac(sigma**2 + mu**2, 2), -sp.Rational(1, 2)),
               r"insert $\mu_2 = 0$, $\sigma_2 = 1$")
    general.to(kl_shown, r"$\log(1/\sigma) = -\frac12 \log \sigma^2$; a common denominator")
    note_003 = frac(add(sp.log(sigma**2), 1, -sigma**2, -mu**2), 2)
    sign = d.chain(note_003, r"Note 003's (2.2) is minus the KL:")
    sign.to(-held(kl_value), r"factor out $-1$")
    at_one = d.chain(sp.Subs(note_003, (mu, sigma), (1, 1)), r"so it is negative where the KL is positive, e.g. at "
                     r"$\mu = \sigma = 1$:")
    at_one.to(-sp.Rational(1, 2), r"insert $\mu = \sigma = 1$")
    d.chain(sp.Derivative(kl_value, mu), r"The KL's minimum: stationary in $\mu$").to(mu, r"differentiate")
    d_sigma = d.chain(sp.Derivative(kl_value, sigma), r"and in $\sigma$")
    d_sigma.to(sigma - 1 / sigma, r"differentiate")
    d.chain(sp.Subs(sigma - 1 / sigma, sigma, 1), r"which vanishes at").to(sp.Integer(0), r"$\sigma = 1$")
    d.chain(sp.Subs(kl_value, (mu, sigma), (0, 1)), r"where the KL is").to(
        sp.Integer(0), r"$\log 1 = 0$: $q$ is the prior")
    ell = d.chain(sp.Subs(kl_shown, sigma, sp.exp(log_var / 2)),
                  r"In the encoder's output $\ell = \log \sigma^2$ (what the network predicts):")
    ell.to(frac(add(sp.exp(log_var), mu**2, -1, -log_var), 2), r"$\sigma^2 = e^{\ell}$ and $\log \sigma^2 = \ell$")
    # diagonal Gaussian in 2-D
    q2 = mul(Normal(z_1, mu_1, sigma_1), Normal(z_2, mu_2, sigma_2))
    p2 = mul(Normal(z_1, 0, 1), Normal(z_2, 0, 1))
    diagonal = d.chain(sp.Integral(sp.Integral(mul(q2, sp.log(frac(q2, p2))), (z_2, -INF, INF)), (z_1, -INF, INF)),
                       r"A diagonal $q$ in two dimensions: the log of a product is a sum, and each density integrates "
                       r"to $1$,", name=sp.Symbol(r"\mathrm{KL}_{\mathrm{diag}}"))
    diagonal.to(add(sp.Subs(kl_shown, (mu, sigma), (mu_1, sigma_1)), sp.Subs(kl_shown, (mu, sigma), (mu_2, sigma_2))),
                r"integrate over $z_2$, then $z_1$: the sum of the per-coordinate KLs (in $J$ dimensions, a sum over "
                r"$j = 1, \dots, J$)", proof=_by_gaussian_integrals)
    d.keep("kl", kl_value)
    d.keep("kl_log_var", (sp.exp(log_var) + mu**2 - 1 - log_var) / 2)
    return d


@derivation
def gaussian_decoder_likelihood(n_pixels: int = 3) -> Derivation:
    """log N(x; f(z), c I) = -|x - f(z)|^2 / (2c) - (D/2) log(2 pi c); the loss it makes, and beta."""
    d = Derivation(r"the Gaussian decoder's log-likelihood is a squared error scaled by $1/(2c)$")
    xs = sp.symbols(f"x_1:{n_pixels + 1}", real=True)
    fs = sp.symbols(f"f_1:{n_pixels + 1}", real=True)
    log_lik = sum(sp.log(pdf(xi, fi, sp.sqrt(c))) for xi, fi in zip(xs, fs, strict=True))
    squared_error = sum((xi - fi) ** 2 for xi, fi in zip(xs, fs, strict=True))
    lik = d.chain(add(*(sp.log(Normal(xi, fi, sp.sqrt(c))) for xi, fi in zip(xs, fs, strict=True))),
                  f"$D = {n_pixels}$ pixels, each $\\mathcal{{N}}(x_i; f_i, c)$ given $z$:",
                  name=sp.Symbol(r"\log p(x\mid z)"))
    lik.to(add(-frac(squared_error, 2 * c), -mul(sp.Rational(n_pixels, 2), sp.log(2 * sp.pi * c))),
           r"the log of each density; collect the constants", proof=_logs)
    err = sp.Symbol(r"\|x - f\|^2", nonnegative=True)
    kl = sp.Symbol(r"\mathrm{KL}", nonnegative=True)
    loss = d.chain(mul(2, c, held(frac(err, 2 * c) + kl)),
                   r"Minus the ELBO of one image is $\frac{\|x - f\|^2}{2c} + \mathrm{KL}$ plus a constant; a positive "
                   r"factor $2c$ does not move the minimiser:")
    loss.to(add(err, mul(2, c, kl)), r"multiply through: the KL's weight against the squared error is $2c$")
    note = d.chain(add(err, kl), r"So note 003's loss (2.1), with weight $1$ on both terms, is the ELBO only at "
                   r"$c = \frac12$. Read with a decoder of variance $c$, it is")
    note.to(mul(2, c, held(add(frac(err, 2 * c), mul(frac(1, 2 * c), kl)))),
            r"factor out $2c$: minus the log-likelihood plus $\beta\,\mathrm{KL}$ with $\beta = 1/(2c)$, a "
            r"$\beta$-VAE")
    beta_at = d.chain(sp.Subs(frac(1, 2 * c), c, sp.Rational(1, 10)), r"For the book's digit VAE, $c = 0.1$:",
                      name=sp.Symbol(r"\beta"))
    beta_at.to(sp.Integer(5), r"insert $c = \frac{1}{10}$: the note's loss would weight the KL five times more")
    d.keep("log_likelihood", log_lik)
    d.keep("squared_error", squared_error)
    d.keep("beta_of_note_loss", 1 / (2 * c))
    return d


@derivation
def reparameterisation_gradient() -> Derivation:
    """z = mu + sigma eps, eps ~ N(0, 1): d/dtheta E_q[f(z)] = E_eps[d/dtheta f(mu + sigma eps)] (f = z^2, z^3, exp)."""
    d = Derivation(r"the reparameterisation trick: pathwise gradients are unbiased")
    for name, f in ((r"z^2", lambda v: v**2), (r"z^3", lambda v: v**3), (r"e^z", sp.exp)):
        objective = _expect(f(z), z, mu, sigma)  # E_{z ~ N(mu, sigma^2)} f(z), a function of (mu, sigma)
        for param in (mu, sigma):
            chain = d.chain(sp.Derivative(sp.Integral(mul(Normal(z, mu, sigma), f(z)), (z, -INF, INF)), param),
                            f"$f(z) = {name}$, the gradient in ${sp.latex(param)}$:")
            chain.to(sp.Integral(mul(Normal(eps, 0, 1), sp.Derivative(f(mu + sigma * eps), param)), (eps, -INF, INF)),
                     r"substitute $z = \mu + \sigma\epsilon$, $\epsilon \sim \mathcal{N}(0, 1)$; differentiate under "
                     r"the integral", proof=_by_gaussian_integrals)
            chain.to(sp.diff(objective, param), r"integrate", proof=_by_gaussian_integrals)
        d.keep(f"objective {name}", objective)
    score = d.chain(sp.Integral(mul(Normal(z, mu, sigma), z**3, sp.Derivative(sp.log(Normal(z, mu, sigma)), mu)),
                                (z, -INF, INF)),
                    r"The score-function (REINFORCE) estimator, $f(z) = z^3$: the same gradient,")
    score.to(sp.Integral(mul(Normal(z, mu, sigma), z**3, frac(z - mu, sigma**2)), (z, -INF, INF)),
             r"$\partial_\mu \log q(z) = (z - \mu)/\sigma^2$", proof=_by_gaussian_integrals)
    score.to(sp.diff(_expect(z**3, z, mu, sigma), mu), r"integrate: unbiased too, but with a larger variance "
             r"(measured in the chapter)", proof=_by_gaussian_integrals)
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
