"""Chapter 3: Gaussian mixtures, proved by SymPy.

- the mixture density integrates to 1; its mean and variance (moment matching, used in chapter 4);
- log-sum-exp: log sum_k exp(a_k) = m + log sum_k exp(a_k - m) for any m (the stable log-density);
- responsibilities are Bayes' rule over the component label; with them the bound is tight
  (the E-step), and the M-step's stationarity conditions give the EM updates (Dempster et al., 1977);
- the score of a mixture is the responsibility-weighted sum of component scores, and adding
  Gaussian noise to a mixture gives a mixture (the oracle of the diffusion chapters);
- the continuous mixture p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1): the VAE's model.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.gaussian import pdf
from diffusion_edu.derivations.proof import Derivation, is_zero, same_log

x, y, z = sp.symbols("x y z", real=True)
w_1, w_2 = sp.symbols("w_1 w_2", positive=True)
mu_1, mu_2, mu_3 = sp.symbols("mu_1 mu_2 mu_3", real=True)
sigma_1, sigma_2, sigma_3 = sp.symbols("sigma_1 sigma_2 sigma_3", positive=True)
noise_std, scale = sp.symbols("sigma_n a", positive=True)


def _three_components() -> tuple[list[sp.Expr], list[sp.Expr], list[sp.Expr]]:
    weights = [w_1, w_2, 1 - w_1 - w_2]
    return weights, [mu_1, mu_2, mu_3], [sigma_1, sigma_2, sigma_3]


def component_moment(power: int) -> sp.Expr:
    """E[x^power] under one component N(mu, sigma^2), by integration (generic symbols)."""
    mu, sigma = sp.symbols("mu", real=True), sp.symbols("sigma", positive=True)
    value = sp.simplify(sp.integrate(x**power * pdf(x, mu, sigma), (x, -sp.oo, sp.oo)))
    return sp.Lambda((mu, sigma), value)


def density_and_moments() -> Derivation:
    """p(x) = sum_k w_k N(x; mu_k, sigma_k^2) with sum_k w_k = 1 (here K = 3).

    Integrals of the mixture are sums of component integrals (linearity), each done by SymPy.
    """
    d = Derivation("a Gaussian mixture is a density; its mean and variance")
    weights, means, stds = _three_components()
    density = sum(w * pdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True))
    moments = [component_moment(k) for k in range(3)]

    def mixture_moment(k: int) -> sp.Expr:  # integral of x^k p(x) dx = sum_k w_k E_k[x^k]
        return sum(w * moments[k](m, s) for w, m, s in zip(weights, means, stds, strict=True))

    d.equal("integral of p(x) = sum_k w_k (each component integrates to 1) = 1", mixture_moment(0), 1)
    mean = sum(w * m for w, m in zip(weights, means, strict=True))
    d.equal("E[x] = sum_k w_k mu_k", mixture_moment(1), mean)
    second = sum(w * (s**2 + m**2) for w, m, s in zip(weights, means, stds, strict=True))
    d.equal(
        "Var[x] = sum_k w_k (sigma_k^2 + mu_k^2) - E[x]^2",
        mixture_moment(2) - mean**2,
        second - mean**2,
        note="within-component variance plus the spread of the means",
    )
    # ancestral sampling: summing the joint p(k) p(x | k) over the label k gives back p(x)
    joint = [w * pdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True)]
    d.equal("ancestral sampling: sum_k p(k) p(x | k) = p(x)", sum(joint), density)
    d.keep("density", density)
    d.keep("mean", mean)
    d.keep("variance", second - mean**2)
    return d


def log_sum_exp() -> Derivation:
    """log sum_k exp(a_k) = m + log sum_k exp(a_k - m): with m = max_k a_k no exp overflows."""
    d = Derivation("log-sum-exp: the stable way to evaluate log p(x)")
    a = sp.symbols("a_1:4", real=True)
    m = sp.symbols("m", real=True)
    lhs = sp.log(sum(sp.exp(a_k) for a_k in a))
    rhs = m + sp.log(sum(sp.exp(a_k - m) for a_k in a))

    def exp_equal(left: sp.Expr, right: sp.Expr) -> bool:
        return is_zero(sp.expand(sp.exp(left)) - sp.expand(sp.exp(right)))

    d.equal("log sum_k e^(a_k) = m + log sum_k e^(a_k - m) for every m", lhs, rhs, proof=exp_equal)
    d.equal(
        "with a_k = log w_k + log N(x; mu_k, sigma_k^2) the left side is log p(x)",
        sp.exp(sp.log(w_1) + sp.log(pdf(x, mu_1, sigma_1))),
        w_1 * pdf(x, mu_1, sigma_1),
    )
    big = sp.Integer(1000)
    d.true("at m = max a_k every term exp(a_k - m) <= 1 (here a = (1000, 999, -5))",
           sp.And(*(sp.exp(v - big) <= 1 for v in (big, big - 1, sp.Integer(-5)))))
    return d


def responsibilities_and_em() -> Derivation:
    """E-step: r_k = p(k | x) by Bayes. M-step: maximise sum_i sum_k r_ik log(w_k N(x_i; mu_k, sigma_k^2)).

    Per component, with R = sum_i r_ik, S1 = sum_i r_ik x_i, S2 = sum_i r_ik x_i^2, the stationarity
    conditions give mu = S1/R, sigma^2 = S2/R - (S1/R)^2; with a Lagrange multiplier for
    sum_k w_k = 1, w_k = R_k / sum_j R_j.
    """
    d = Derivation("responsibilities are Bayes' rule; the EM updates are stationary points")
    weights = [w_1, 1 - w_1]
    comps = [pdf(x, mu_1, sigma_1), pdf(x, mu_2, sigma_2)]
    evidence = sum(w * c for w, c in zip(weights, comps, strict=True))
    resp = [w * c / evidence for w, c in zip(weights, comps, strict=True)]
    d.equal("r_k = p(k | x) = w_k N_k(x) / sum_j w_j N_j(x) (Bayes): they sum to 1", sum(resp), 1)
    d.equal(
        "r_k = softmax_k(log w_k + log N_k(x))",
        resp[0],
        sp.exp(sp.log(weights[0] * comps[0])) / sum(sp.exp(sp.log(w * c)) for w, c in zip(weights, comps, strict=True)),
    )
    bound = sum(r * sp.log(w * c / r) for r, w, c in zip(resp, weights, comps, strict=True))
    d.equal(
        "E-step: with r = p(k | x) the bound sum_k r_k log(w_k N_k / r_k) equals log p(x)",
        sp.expand_log(bound, force=True),
        sp.expand_log(sp.log(evidence), force=True),
        proof=lambda lhs, rhs: is_zero(sp.simplify(sp.exp(lhs - rhs)) - 1),
        note="Jensen (chapter 4) makes it a lower bound for any other r; so EM never decreases log p",
    )
    big_r, s1, s2 = sp.symbols("R S_1 S_2", positive=True)
    mu, sigma = sp.symbols("mu", real=True), sp.symbols("sigma", positive=True)
    # sum_i r_i log N(x_i; mu, sigma^2) with sum_i r_i (x_i - mu)^2 = S2 - 2 mu S1 + R mu^2
    q = -big_r * sp.log(sigma) - big_r * sp.log(2 * sp.pi) / 2 - (s2 - 2 * mu * s1 + big_r * mu**2) / (2 * sigma**2)
    (mu_star,) = sp.solve(sp.diff(q, mu), mu)
    d.equal("dQ/dmu_k = 0: mu_k = sum_i r_ik x_i / sum_i r_ik", mu_star, s1 / big_r)
    var_star = s2 / big_r - (s1 / big_r) ** 2
    d.equal(
        "dQ/dsigma_k = 0 at sigma_k^2 = sum_i r_ik (x_i - mu_k)^2 / sum_i r_ik",
        sp.diff(q, sigma).subs(mu, mu_star).subs(sigma, sp.sqrt(var_star)),
        0,
    )
    d.equal("d^2Q/dmu_k^2 = -R_k / sigma_k^2 < 0: a maximum", sp.diff(q, mu, 2), -big_r / sigma**2)
    r_1, r_2, r_3, lam = sp.symbols("R_1 R_2 R_3 lambda", positive=True)
    v_1, v_2, v_3 = sp.symbols("v_1:4", positive=True)
    lagrangian = r_1 * sp.log(v_1) + r_2 * sp.log(v_2) + r_3 * sp.log(v_3) - lam * (v_1 + v_2 + v_3 - 1)
    solution = sp.solve([sp.diff(lagrangian, s) for s in (v_1, v_2, v_3, lam)], [v_1, v_2, v_3, lam], dict=True)[0]
    d.equal("weights (Lagrange multiplier for sum w = 1): w_k = R_k / sum_j R_j",
            solution[v_1], r_1 / (r_1 + r_2 + r_3))
    d.keep("mu_star", s1 / big_r)
    d.keep("var_star", var_star)
    d.keep("q", q)
    return d


def score_of_mixture() -> Derivation:
    """grad log p(x) = sum_k r_k(x) (mu_k - x) / sigma_k^2, and the noised mixture is a mixture."""
    d = Derivation("the score of a mixture, clean and noised")
    weights = [w_1, 1 - w_1]
    means, stds = [mu_1, mu_2], [sigma_1, sigma_2]
    comps = [w * pdf(x, m, s) for w, m, s in zip(weights, means, stds, strict=True)]
    resp = [c / sum(comps) for c in comps]
    score = sum(r * (m - x) / s**2 for r, m, s in zip(resp, means, stds, strict=True))
    d.equal("d/dx log p(x) = sum_k r_k(x) (mu_k - x) / sigma_k^2", sp.diff(sp.log(sum(comps)), x), score,
            note="each component pulls x towards its mean, in proportion to its responsibility")
    # a X + sigma_n Z for one component X ~ N(mu, s^2): convolve the densities, by completing the square in y
    joint = pdf(y, mu_1, sigma_1) * pdf(x, scale * y, noise_std)
    noised_std = sp.sqrt(scale**2 * sigma_1**2 + noise_std**2)
    post_var = 1 / (1 / sigma_1**2 + scale**2 / noise_std**2)
    post_mean = post_var * (mu_1 / sigma_1**2 + scale * x / noise_std**2)
    d.equal(
        "one component under x = a y + sigma_n z: N(y; mu, s^2) N(x; a y, sigma_n^2) = N(x; a mu, a^2 s^2 + "
        "sigma_n^2) N(y; m, v)",
        joint,
        pdf(x, scale * mu_1, noised_std) * pdf(y, post_mean, sp.sqrt(post_var)),
        proof=same_log,
        note="chapter 1's completing the square, with y as the unknown",
    )
    d.equal(
        "integrate over y: the density of x = a y + sigma_n z is N(x; a mu, a^2 s^2 + sigma_n^2)",
        sp.Integral(pdf(y, post_mean, sp.sqrt(post_var)), (y, -sp.oo, sp.oo)) * pdf(x, scale * mu_1, noised_std),
        pdf(x, scale * mu_1, noised_std),
        note="by linearity the noised mixture is a mixture with the same weights",
    )
    noised = [w * pdf(x, scale * m, sp.sqrt(scale**2 * s**2 + noise_std**2))
              for w, m, s in zip(weights, means, stds, strict=True)]
    noised_resp = [c / sum(noised) for c in noised]
    d.equal(
        "so the noised score is the same formula with means a mu_k and variances a^2 sigma_k^2 + sigma_n^2",
        sp.diff(sp.log(sum(noised)), x),
        sum(r * (scale * m - x) / (scale**2 * s**2 + noise_std**2)
            for r, m, s in zip(noised_resp, means, stds, strict=True)),
    )
    d.keep("score", score)
    d.keep("density", sum(comps))
    return d


def continuous_mixture() -> Derivation:
    """p(x) = integral of p(z) p(x | z) dz with p(z) = N(0, 1) and p(x | z) = N(x; a z + b, s^2)."""
    d = Derivation("the continuous mixture: infinitely many components, indexed by z")
    a, s = sp.symbols("a s", positive=True)
    b = sp.symbols("b", real=True)
    marginal = pdf(x, b, sp.sqrt(a**2 + s**2))
    post_var = s**2 / (a**2 + s**2)
    post_mean = a * (x - b) / (a**2 + s**2)
    d.equal(
        "completing the square in z: N(z; 0, 1) N(x; a z + b, s^2) = N(x; b, a^2 + s^2) N(z; m, v)",
        pdf(z, 0, 1) * pdf(x, a * z + b, s),
        marginal * pdf(z, post_mean, sp.sqrt(post_var)),
        proof=same_log,
        note="m = a (x - b) / (a^2 + s^2), v = s^2 / (a^2 + s^2): the posterior p(z | x) a VAE's encoder approximates",
    )
    d.equal(
        "so p(x) = integral of p(z) p(x | z) dz = N(x; b, a^2 + s^2)",
        marginal * sp.Integral(pdf(z, post_mean, sp.sqrt(post_var)), (z, -sp.oo, sp.oo)),
        marginal,
        note="a linear decoder gives one wide Gaussian; a neural decoder f(z) gives a rich p(x) (chapter 5)",
    )
    d.equal("it is a density: it integrates to 1 over x", sp.Integral(marginal, (x, -sp.oo, sp.oo)), 1)
    sigma = sp.symbols("sigma", positive=True)
    d.equal(
        "note 000's p(z) ~ N(1, 0) is no density: at z = 1 it blows up as sigma -> 0",
        sp.Limit(pdf(1, 1, sigma), sigma, 0, "+"),
        sp.oo,
        note="the prior is N(0, 1) (N(0, I) in several dimensions)",
    )
    d.keep("marginal", marginal)
    return d


def all_derivations() -> list[Derivation]:
    return [density_and_moments(), log_sum_exp(), responsibilities_and_em(), score_of_mixture(), continuous_mixture()]
