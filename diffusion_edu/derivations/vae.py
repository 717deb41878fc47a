"""Chapter 5: the VAE's formulas, each step proved by SymPy (Kingma & Welling 2014).

- the evidence decomposition log p(x) = ELBO + KL(q(z|x) || p(z|x)), pointwise and, exactly,
  in a linear-Gaussian model where every term has a closed form;
- KL(N(mu, sigma^2) || N(0, 1)) by integration (note 003 prints its *negative*), then the sum
  over the coordinates of a diagonal Gaussian;
- the Gaussian decoder's log-likelihood as a scaled squared error plus a constant;
- the reparameterisation trick: the pathwise gradient equals the gradient of the expectation.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from diffusion_edu.derivations.gaussian import pdf
from diffusion_edu.derivations.proof import Derivation

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


def evidence_decomposition() -> Derivation:
    """log p(x) = ELBO(q) + KL(q(z|x) || p(z|x)) for every q; exact in p(z) = N(0, 1),
    p(x|z) = N(w z + b, c), q(z|x) = N(m, s^2)."""
    d = Derivation("log p(x) = ELBO + KL(q(z|x) || p(z|x))")
    p_xz, p_z_given_x, q_z, p_x = sp.symbols("p_{xz} p_{z|x} q_z p_x", positive=True)
    # pointwise in z: p(x, z) = p(z|x) p(x), so log p(x) = log p(x,z)/q(z) + log q(z)/p(z|x)
    d.equal(
        "for every z: log p(x) = log[p(x,z)/q(z)] + log[q(z)/p(z|x)]   (p(x,z) = p(z|x) p(x))",
        sp.log(p_x),
        sp.log(p_z_given_x * p_x / q_z) + sp.log(q_z / p_z_given_x),
        proof=lambda lhs, rhs: sp.simplify(sp.expand_log(lhs - rhs, force=True)) == 0,
        note="take E_q of both sides: the left does not depend on z",
    )
    # the linear-Gaussian model: everything in closed form
    prior = pdf(z, 0, 1)
    likelihood = pdf(x, w * z + b, sp.sqrt(c))
    evidence = pdf(x, b, sp.sqrt(w**2 + c))  # x = w z + b + sqrt(c) n: variances add (chapter 2)
    d.equal(
        "p(x) = integral of p(z) p(x|z) dz = N(x; b, w^2 + c)   (note 000's continuous mixture, with dz)",
        sp.Integral(prior * likelihood, (z, -INF, INF)),
        evidence,
    )
    post_var = c / (w**2 + c)
    post_mean = w * (x - b) / (w**2 + c)
    posterior = pdf(z, post_mean, sp.sqrt(post_var))
    d.equal(
        "Bayes: p(z|x) = p(z) p(x|z) / p(x) = N(z; w(x - b)/(w^2 + c), c/(w^2 + c))",
        sp.expand(sp.expand_log(sp.log(prior * likelihood / evidence), force=True)),
        sp.expand(sp.expand_log(sp.log(posterior), force=True)),
    )
    q = pdf(z, m, s)
    elbo = _expect(sp.expand_log(sp.log(prior * likelihood) - sp.log(q), force=True), z, m, s)
    kl_post = _expect(sp.expand_log(sp.log(q) - sp.log(posterior), force=True), z, m, s)
    d.equal(
        "ELBO(m, s) + KL(q || p(z|x)) = log p(x), whatever m and s are",
        elbo + kl_post,
        sp.expand_log(sp.log(evidence), force=True),
    )
    d.equal(
        "the KL vanishes at q = p(z|x): there the ELBO is tight",
        kl_post.subs({m: post_mean, s: sp.sqrt(post_var)}),
        0,
    )
    d.keep("elbo", elbo)
    d.keep("kl_posterior", kl_post)
    d.keep("log_evidence", sp.log(evidence))
    return d


def kl_to_standard_normal() -> Derivation:
    """KL(N(mu, sigma^2) || N(0, 1)) = (sigma^2 + mu^2 - 1 - log sigma^2) / 2, summed over coordinates."""
    d = Derivation("KL(N(mu, sigma^2) || N(0, 1)) by integration")
    q, p = pdf(z, mu, sigma), pdf(z, 0, 1)
    log_ratio = sp.expand(sp.expand_log(sp.log(q) - sp.log(p), force=True))
    d.equal("log q(z) - log p(z)", log_ratio, z**2 / 2 - (z - mu) ** 2 / (2 * sigma**2) - sp.log(sigma))
    kl = d.equal(
        "E_q[log q - log p] = integral of q(z) (log q(z) - log p(z)) dz = (sigma^2 + mu^2 - 1 - log sigma^2) / 2",
        sp.Integral(log_ratio * q, (z, -INF, INF)),
        (sigma**2 + mu**2 - 1 - sp.log(sigma**2)) / 2,
    )
    # note 000's general two-Gaussian formula, specialised to N(0, 1), agrees
    note_000 = sp.log(1 / sigma) + (sigma**2 + mu**2) / 2 - sp.Rational(1, 2)
    d.equal("note 000's two-Gaussian KL with mu_2 = 0, sigma_2 = 1 gives the same", note_000, kl)
    note_003 = (sp.log(sigma**2) + 1 - sigma**2 - mu**2) / 2
    d.equal("note 003's formula (2.2) is minus the KL", note_003, -kl)
    d.true("so the note's value is <= 0 (at mu = 1, sigma = 1 it is -1/2), the KL is >= 0",
           sp.Eq(note_003.subs({mu: 1, sigma: 1}), -sp.Rational(1, 2)))
    d.equal("the KL's minimum: d/dmu = 0 at mu = 0", sp.solve(sp.diff(kl, mu), mu)[0], 0)
    d.equal("and d/dsigma = 0 at sigma = 1, where KL = 0", sp.solve(sp.diff(kl, sigma), sigma)[0], 1)
    d.equal("in the encoder's output ell = log sigma^2", kl.subs(sigma, sp.exp(log_var / 2)),
            (sp.exp(log_var) + mu**2 - 1 - log_var) / 2)
    # diagonal Gaussian in 2-D: the log-ratio splits into a sum, and each factor integrates to 1
    q2 = pdf(z_1, mu_1, sigma_1) * pdf(z_2, mu_2, sigma_2)
    p2 = pdf(z_1, 0, 1) * pdf(z_2, 0, 1)
    log_ratio_2 = sp.expand(sp.expand_log(sp.log(q2) - sp.log(p2), force=True))
    inner = _expect(log_ratio_2, z_2, mu_2, sigma_2)
    kl_2 = _expect(inner, z_1, mu_1, sigma_1)
    d.equal(
        "diagonal q in 2-D: the double integral is the sum of the per-coordinate KLs",
        kl_2,
        kl.subs({mu: mu_1, sigma: sigma_1}) + kl.subs({mu: mu_2, sigma: sigma_2}),
        note="log of a product is a sum, so in J dimensions KL = sum_j (sigma_j^2 + mu_j^2 - 1 - log sigma_j^2) / 2",
    )
    d.keep("kl", kl)
    d.keep("kl_log_var", (sp.exp(log_var) + mu**2 - 1 - log_var) / 2)
    return d


def gaussian_decoder_likelihood(n_pixels: int = 3) -> Derivation:
    """log N(x; f(z), c I) = -|x - f(z)|^2 / (2c) - (D/2) log(2 pi c)."""
    d = Derivation("the Gaussian decoder's log-likelihood is a scaled squared error")
    xs = sp.symbols(f"x_1:{n_pixels + 1}", real=True)
    fs = sp.symbols(f"f_1:{n_pixels + 1}", real=True)
    log_lik = sum(sp.log(pdf(xi, fi, sp.sqrt(c))) for xi, fi in zip(xs, fs, strict=True))
    squared_error = sum((xi - fi) ** 2 for xi, fi in zip(xs, fs, strict=True))
    rhs = -squared_error / (2 * c) - sp.Rational(n_pixels, 2) * sp.log(2 * sp.pi * c)
    d.equal(f"log N(x; f, c I) for D = {n_pixels} pixels", sp.expand(sp.expand_log(log_lik, force=True)),
            sp.expand(sp.expand_log(rhs, force=True)))
    kl_sym = sp.symbols("KL", nonnegative=True)
    d.equal(
        "minus the ELBO, per image: |x - f|^2/(2c) + KL + const; x 2c gives note 003's loss with beta = 2c",
        2 * c * (squared_error / (2 * c) + kl_sym),
        squared_error + 2 * c * kl_sym,
        note="so |x - x_hat|^2 + KL (note 003's (2.1)) is the ELBO only for c = 1/2; a smaller c is a beta < 1 VAE",
    )
    d.keep("log_likelihood", log_lik)
    d.keep("squared_error", squared_error)
    return d


def reparameterisation_gradient() -> Derivation:
    """z = mu + sigma eps, eps ~ N(0, 1): d/dtheta E_q[f(z)] = E_eps[d/dtheta f(mu + sigma eps)] (f = z^2, z^3, exp)."""
    d = Derivation("the reparameterisation trick: pathwise gradients are unbiased")
    for name, f in (("z^2", lambda v: v**2), ("z^3", lambda v: v**3), ("exp z", sp.exp)):
        objective = _expect(f(z), z, mu, sigma)  # E_{z ~ N(mu, sigma^2)} f(z), a function of (mu, sigma)
        for param in (mu, sigma):
            pathwise = _expect(sp.diff(f(mu + sigma * eps), param), eps, 0, 1)
            d.equal(f"f = {name}: d/d{param} E_q[f(z)] = E_eps[d/d{param} f(mu + sigma eps)]",
                    sp.diff(objective, param), pathwise)
        d.keep(f"objective {name}", objective)
    # the score-function (REINFORCE) identity is also unbiased: d/dmu E_q f = E_q[f(z) d/dmu log q(z)]
    score = sp.diff(sp.log(pdf(z, mu, sigma)), mu)
    d.equal("score-function estimator, f = z^3: E_q[f(z) d/dmu log q(z)] is the same gradient",
            _expect(z**3 * score, z, mu, sigma), sp.diff(_expect(z**3, z, mu, sigma), mu),
            note="unbiased too, but its variance is much larger (measured in the chapter)")
    return d


def all_derivations() -> list[Derivation]:
    return [evidence_decomposition(), kl_to_standard_normal(), gaussian_decoder_likelihood(),
            reparameterisation_gradient()]
