"""Chapter 11: scores, score matching and Langevin dynamics, proved by SymPy.

- the score of q = exp(-f) / Z is -grad f: the normalising constant vanishes (note 002 eq. 15);
- implicit score matching (Hyvarinen 2005) by integration by parts:
  E_p |s - grad log p|^2 = E_p[|s|^2 + 2 tr grad s] + const. Note 002 eq. 18 has -2 tr: its
  minimiser is the score with the wrong sign;
- denoising score matching (Vincent 2011): grad log N(x_t; x_0, sigma^2) = -(x_t - x_0) / sigma^2
  = -z / sigma, the sigma^2-weighted loss |sigma s + z|^2, and DSM = explicit score matching + const;
- Tweedie's formula E[x_0 | x_t] = x_t + sigma^2 grad log p_sigma(x_t), hence DDPM's
  eps = -sqrt(1 - alpha_bar) score;
- Langevin dynamics dx = grad log p dt + sqrt(2) dw leaves p invariant (Fokker-Planck); note 002's
  update x - eps grad log p + sqrt(2 eps) z does not, and its discrete chain diverges.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation

x, x_0, z, mu, a, b, c = sp.symbols("x x_0 z mu a b c", real=True)
sigma, s_0, epsilon, Z = sp.symbols("sigma s_0 epsilon Z", positive=True)
alpha_bar = sp.symbols("alpha_bar", positive=True)
f = sp.Function("f")
p = sp.Function("p")
s = sp.Function("s")


def gaussian_pdf(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return sp.exp(-((x_ - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


def gaussian_expectation(expr: sp.Expr, var: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr] for var ~ N(mean, std^2), expr a polynomial in var: moments by the moment generating function."""
    poly = sp.Poly(sp.expand(expr), var)
    t = sp.Symbol("t_mgf")
    mgf = sp.exp(mean * t + std**2 * t**2 / 2)
    total = 0
    for (power,), coeff in poly.terms():
        total += coeff * sp.diff(mgf, t, power).subs(t, 0)
    return sp.expand(total)


def score_basics() -> Derivation:
    d = Derivation("the score grad_x log q: the normalising constant vanishes")
    q = sp.exp(-f(x)) / Z
    d.equal("score of exp(-f(x)) / Z", sp.diff(sp.log(q), x), -sp.diff(f(x), x),
            note="Z does not depend on x: an energy model's score needs no partition function")
    d.equal("score of N(mu, sigma^2)", sp.diff(sp.log(gaussian_pdf(x, mu, sigma)), x), -(x - mu) / sigma**2)
    d.equal("the score integrates to zero against p: E_p[score] = int p' dx = 0",
            sp.integrate(gaussian_pdf(x, mu, sigma) * (-(x - mu) / sigma**2), (x, -sp.oo, sp.oo)), 0)
    return d


def implicit_score_matching() -> Derivation:
    """1-D; in D dimensions the derivative s' becomes the trace of the Jacobian, tr grad_x s."""
    d = Derivation("implicit score matching: integrate by parts (Hyvarinen 2005)")
    psi = sp.diff(p(x), x) / p(x)  # grad log p
    d.equal("the cross term's integrand: p (s psi) = s p'", p(x) * s(x) * psi, s(x) * sp.diff(p(x), x))
    d.equal("product rule: s p' = (s p)' - s' p", s(x) * sp.diff(p(x), x),
            sp.diff(s(x) * p(x), x) - sp.diff(s(x), x) * p(x),
            note="(s p) -> 0 at +-infinity, so E_p[s psi] = -E_p[s']")
    d.equal("expand the Fisher divergence's integrand", sp.expand(p(x) * (s(x) - psi) ** 2),
            sp.expand(p(x) * s(x) ** 2 - 2 * s(x) * sp.diff(p(x), x) + p(x) * psi**2),
            note="so E_p|s - psi|^2 = E_p[s^2] + 2 E_p[s'] + E_p[psi^2] (the last term has no parameters)")

    # concrete check: p = N(mu, sigma^2), a model s(x) = a x + b + c x^3
    model = a * x + b + c * x**3
    true_score = -(x - mu) / sigma**2
    fisher = gaussian_expectation((model - true_score) ** 2, x, mu, sigma)
    implicit = gaussian_expectation(model**2 + 2 * sp.diff(model, x), x, mu, sigma)
    const = gaussian_expectation(true_score**2, x, mu, sigma)
    d.equal("Gaussian p, s = a x + b + c x^3: Fisher divergence = E[s^2 + 2 s'] + E[psi^2]", fisher, implicit + const,
            note="the implicit objective needs only samples of p and the model's derivative")
    note_002 = gaussian_expectation(model**2 - 2 * sp.diff(model, x), x, mu, sigma)
    d.equal("note 002's E[s^2 - 2 s'] misses by 4 E[s'], which depends on the model",
            fisher - (note_002 + const), 4 * gaussian_expectation(sp.diff(model, x), x, mu, sigma))
    linear = {c: 0}
    right = sp.solve([sp.diff(implicit.subs(linear), v) for v in (a, b)], [a, b], dict=True)[0]
    wrong = sp.solve([sp.diff(note_002.subs(linear), v) for v in (a, b)], [a, b], dict=True)[0]
    d.equal("minimiser of E[s^2 + 2 s'] over s = a x + b: slope", right[a], -1 / sigma**2)
    d.equal("... and intercept: the true score -(x - mu) / sigma^2", right[b], mu / sigma**2)
    d.equal("minimiser of note 002's version: the score with the wrong sign", wrong[a], 1 / sigma**2,
            note="it would push Langevin samples away from the data")
    d.keep("fisher", fisher)
    return d


def denoising_score_matching() -> Derivation:
    d = Derivation("denoising score matching (Vincent 2011)")
    kernel = gaussian_pdf(x, x_0, sigma)
    d.equal("grad_{x_t} log N(x_t; x_0, sigma^2 I)", sp.diff(sp.log(kernel), x), -(x - x_0) / sigma**2,
            note="sigma is the kernel's standard deviation (note 002 calls it the variance)")
    d.equal("with x_t = x_0 + sigma z: the target is -z / sigma", (-(x - x_0) / sigma**2).subs(x, x_0 + sigma * z),
            -z / sigma)
    s_val = sp.Symbol("s_theta", real=True)
    d.equal("weight lambda = sigma^2: sigma^2 |s + z / sigma|^2 = |sigma s + z|^2 (note 002 eq. 5)",
            sigma**2 * (s_val + z / sigma) ** 2, (sigma * s_val + z) ** 2)
    # DSM and explicit score matching differ by a constant: p_0 = N(mu, s_0^2), model s(x) = a x + b
    model = a * x + b
    x_t = x_0 + sigma * z
    dsm_inner = gaussian_expectation(sp.expand((model.subs(x, x_t) + z / sigma) ** 2), z, 0, 1)
    dsm = gaussian_expectation(dsm_inner, x_0, mu, s_0)
    perturbed_score = -(x - mu) / (s_0**2 + sigma**2)  # p_sigma = N(mu, s_0^2 + sigma^2)
    esm = gaussian_expectation((model - perturbed_score) ** 2, x, mu, sp.sqrt(s_0**2 + sigma**2))
    gap = sp.simplify(dsm - esm)
    d.equal("DSM - explicit score matching on p_sigma does not depend on the model",
            sp.diff(gap, a) ** 2 + sp.diff(gap, b) ** 2, 0,
            note=f"the gap is the constant {sp.simplify(gap)}: same minimiser, the score of p_sigma")
    return d


def tweedie() -> Derivation:
    d = Derivation("Tweedie's formula and eps = -sqrt(1 - alpha_bar) score")
    d.equal("d/dx N(x; x_0, sigma^2) = N(x; x_0, sigma^2) (x_0 - x) / sigma^2",
            sp.diff(gaussian_pdf(x, x_0, sigma), x), gaussian_pdf(x, x_0, sigma) * (x_0 - x) / sigma**2,
            note="integrate against p_0(x_0): p_sigma'(x) = p_sigma(x) (E[x_0 | x] - x) / sigma^2")
    # check on a Gaussian prior x_0 ~ N(mu, s_0^2), where the posterior mean is known in closed form
    posterior_mean = (s_0**2 * x + sigma**2 * mu) / (s_0**2 + sigma**2)
    score_sigma = -(x - mu) / (s_0**2 + sigma**2)
    d.equal("Gaussian prior: x + sigma^2 score_sigma(x) = E[x_0 | x] (posterior mean by Bayes, chapter 2)",
            x + sigma**2 * score_sigma, posterior_mean)
    # DDPM scaling: x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps; sqrt(ab) x_0 is the "clean" variable
    x0_tweedie = (x + (1 - alpha_bar) * sp.Symbol("score")) / sp.sqrt(alpha_bar)
    eps_hat = sp.Symbol("eps_hat")
    x0_from_eps = (x - sp.sqrt(1 - alpha_bar) * eps_hat) / sp.sqrt(alpha_bar)
    solved = sp.solve(sp.Eq(x0_from_eps, x0_tweedie), eps_hat)[0]
    d.equal("x0_hat from eps = Tweedie's E[x_0 | x_t] exactly when eps_hat = -sqrt(1 - alpha_bar) score",
            solved, -sp.sqrt(1 - alpha_bar) * sp.Symbol("score"),
            note="a DDPM noise predictor is a scaled score model")
    return d


def langevin_invariance() -> Derivation:
    d = Derivation("Langevin dynamics leaves p invariant; note 002's sign does not")
    # Fokker-Planck for dx = v(x) dt + sqrt(2) dw: dp/dt = -(v p)' + p''
    v_right = sp.diff(sp.log(p(x)), x)
    d.equal("dx = grad log p dt + sqrt(2) dw: dp/dt = -(p grad log p)' + p'' = 0",
            -sp.diff(v_right * p(x), x) + sp.diff(p(x), x, 2), 0, note="p is a stationary density")
    d.equal("note 002's drift -grad log p: dp/dt = 2 p'' != 0",
            -sp.diff(-v_right * p(x), x) + sp.diff(p(x), x, 2), 2 * sp.diff(p(x), x, 2))
    # the discrete chain on p = N(0, s_0^2): x' = x + eps score(x) + sqrt(2 eps) z
    v = sp.Symbol("v", positive=True)
    right = sp.solve(sp.Eq(v, (1 - epsilon / s_0**2) ** 2 * v + 2 * epsilon), v)[0]
    d.equal("ULA on N(0, s_0^2): stationary variance", right, 2 * s_0**4 / (2 * s_0**2 - epsilon),
            note="valid for eps < 2 s_0^2; bias O(eps) (the corrector's and Metropolis' reason to exist)")
    d.equal("-> s_0^2 as eps -> 0", sp.limit(right, epsilon, 0), s_0**2)
    w = sp.Symbol("w", real=True)
    d.equal("note 002's chain multiplies x by 1 + eps / s_0^2 > 1 each step: the variance fixed point is negative",
            sp.solve(sp.Eq(w, (1 + epsilon / s_0**2) ** 2 * w + 2 * epsilon), w)[0],
            -2 * s_0**4 / (2 * s_0**2 + epsilon), note="no stationary distribution: the chain diverges")
    d.keep("ula_variance", right)
    return d


def all_derivations() -> list[Derivation]:
    return [score_basics(), implicit_score_matching(), denoising_score_matching(), tweedie(), langevin_invariance()]
