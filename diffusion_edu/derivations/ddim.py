"""Chapter 10: DDIM (Song, Meng & Ermon 2021), proved by SymPy.

- the non-Markovian family q_sigma(x_{t-1} | x_t, x_0) keeps DDPM's marginals q(x_t | x_0) for
  every sigma (DDIM Lemma 1), so DDPM's loss trains it unchanged;
- eta = 1 gives DDPM's posterior: variance beta_tilde_t and the same mean;
- eta = 0 is deterministic and is an Euler step of an ODE in x / sqrt(alpha_bar) and
  sqrt(1 / alpha_bar - 1) (DDIM eq. 14);
- the last step (alpha_bar_prev = 1) returns x0_hat exactly;
- respacing: keeping steps tau_1 < ... < tau_S and setting beta'_i = 1 - alpha_bar_{tau_i} /
  alpha_bar_{tau_{i-1}} telescopes to the same alpha_bar at the kept steps.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation

# alpha_bar_t = alpha_t * alpha_bar_{t-1}, with 0 < alpha_t < 1 and 0 < alpha_bar_{t-1} <= 1
alpha_t, alpha_bar_prev = sp.symbols("alpha_t alpha_bar_prev", positive=True)
sigma, eta = sp.symbols("sigma eta", nonnegative=True)
x_0, x_t, eps, z = sp.symbols("x_0 x_t epsilon z", real=True)
alpha_bar_t = alpha_t * alpha_bar_prev


def ddim_coefficients(alpha_bar: sp.Expr, alpha_bar_before: sp.Expr, sigma_: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """x_{t-1} = c_0 x_0 + c_t x_t + sigma z, the mean of DDIM's q_sigma(x_{t-1} | x_t, x_0) (DDIM eq. 7)."""
    c_t = sp.sqrt(1 - alpha_bar_before - sigma_**2) / sp.sqrt(1 - alpha_bar)
    c_0 = sp.sqrt(alpha_bar_before) - c_t * sp.sqrt(alpha_bar)
    return c_0, c_t


def same_marginals() -> Derivation:
    """If x_t ~ N(sqrt(ab_t) x_0, 1 - ab_t) then x_{t-1} ~ N(sqrt(ab_{t-1}) x_0, 1 - ab_{t-1}), any sigma."""
    d = Derivation("DDIM's non-Markovian forward family keeps q(x_t | x_0) for every sigma")
    ab, ab_prev = sp.symbols("alpha_bar_t alpha_bar_prev", positive=True)
    c_0, c_t = ddim_coefficients(ab, ab_prev, sigma)
    # x_t = sqrt(ab) x_0 + sqrt(1 - ab) eps, so x_{t-1} = (c_0 + c_t sqrt(ab)) x_0 + c_t sqrt(1 - ab) eps + sigma z
    d.equal("coefficient of x_0 in x_{t-1}", c_0 + c_t * sp.sqrt(ab), sp.sqrt(ab_prev),
            note="the mean is DDPM's sqrt(alpha_bar_{t-1}) x_0")
    d.equal("variance of x_{t-1} (eps, z independent: variances add)",
            (c_t * sp.sqrt(1 - ab)) ** 2 + sigma**2, 1 - ab_prev,
            note="DDPM's 1 - alpha_bar_{t-1}: by induction from t = T every marginal is DDPM's")
    d.keep("c_0", c_0)
    d.keep("c_t", c_t)
    return d


def ddim_sigma_expr(eta_: sp.Expr = eta) -> sp.Expr:
    """sigma_t(eta) of DDIM eq. 16 in terms of alpha_t and alpha_bar_{t-1}."""
    return eta_ * sp.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) * sp.sqrt(1 - alpha_bar_t / alpha_bar_prev)


def eta_one_is_ddpm() -> Derivation:
    d = Derivation("eta = 1 recovers DDPM's posterior q(x_{t-1} | x_t, x_0)")
    beta_t = 1 - alpha_t
    beta_tilde = (1 - alpha_bar_prev) / (1 - alpha_bar_t) * beta_t
    sigma_1 = ddim_sigma_expr(1)
    d.equal("sigma_t(eta=1)^2 = beta_tilde_t", sigma_1**2, beta_tilde, note="DDPM's posterior variance (eq. 7)")
    c_0, c_t = ddim_coefficients(alpha_bar_t, alpha_bar_prev, sigma_1)
    ddpm_c_t = sp.sqrt(alpha_t) * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
    ddpm_c_0 = sp.sqrt(alpha_bar_prev) * beta_t / (1 - alpha_bar_t)
    d.equal("(coefficient of x_t)^2 = DDPM's", c_t**2, ddpm_c_t**2,
            note="both coefficients are positive, so they are equal")
    d.equal("coefficient of x_0 = DDPM's", sp.sqrt(alpha_bar_prev) - ddpm_c_t * sp.sqrt(alpha_bar_t), ddpm_c_0,
            note="DDPM's posterior mean (eq. 7): the same Gaussian, so DDIM(eta=1) is DDPM")
    d.keep("sigma_eta", ddim_sigma_expr())
    return d


def eta_zero_is_an_ode_step() -> Derivation:
    """With sigma = 0, x_bar = x / sqrt(ab) and gamma = sqrt(1/ab - 1):
    x_bar_{t-1} = x_bar_t + (gamma_{t-1} - gamma_t) eps."""
    d = Derivation("eta = 0: deterministic, an Euler step of an ODE (DDIM eq. 13-14)")
    ab, ab_prev = sp.symbols("alpha_bar_t alpha_bar_prev", positive=True)
    d.equal("sigma_t(eta=0)", ddim_sigma_expr(0), 0, note="no noise: x_T determines x_0")
    x0_hat = (x_t - sp.sqrt(1 - ab) * eps) / sp.sqrt(ab)
    x_prev = sp.sqrt(ab_prev) * x0_hat + sp.sqrt(1 - ab_prev) * eps
    gamma_t, gamma_prev = sp.sqrt(1 / ab - 1), sp.sqrt(1 / ab_prev - 1)
    d.equal("x_{t-1} / sqrt(ab_{t-1}) = x_t / sqrt(ab_t) + (gamma_{t-1} - gamma_t) eps",
            sp.expand(x_prev / sp.sqrt(ab_prev)), sp.expand(x_t / sp.sqrt(ab) + (gamma_prev - gamma_t) * eps),
            note="Euler's method for dx_bar = eps(x, t) dgamma: the probability-flow ODE (chapter 12)")
    d.equal("the last step, alpha_bar_prev = 1, lands on x0_hat",
            x_prev.subs(ab_prev, 1), x0_hat, note="the sampler must return x0_hat, not a noisy x")
    d.equal("encoding inverts it: x_t = sqrt(ab_t) x0_hat + sqrt(1 - ab_t) eps",
            sp.sqrt(ab) * x0_hat + sp.sqrt(1 - ab) * eps, x_t, note="given eps, one step is a bijection")
    return d


def respacing() -> Derivation:
    """Three kept steps tau_1 < tau_2 < tau_3 with DDPM levels a_1 > a_2 > a_3."""
    d = Derivation("respacing keeps the marginals at the kept steps")
    a_1, a_2, a_3 = sp.symbols("alpha_bar_tau1 alpha_bar_tau2 alpha_bar_tau3", positive=True)
    betas = [1 - a_1, 1 - a_2 / a_1, 1 - a_3 / a_2]
    products = [sp.prod([1 - b for b in betas[: i + 1]]) for i in range(3)]
    for i, (prod, level) in enumerate(zip(products, (a_1, a_2, a_3), strict=True), 1):
        d.equal(f"prod of the first {i} respaced (1 - beta') = alpha_bar at tau_{i}", prod, level,
                note="telescoping" if i > 1 else "")
    d.equal("respaced posterior variance = DDIM's sigma(eta=1)^2 between kept steps",
            (1 - a_1) / (1 - a_2) * betas[1],
            (ddim_sigma_expr(1) ** 2).subs({alpha_t: a_2 / a_1, alpha_bar_prev: a_1}),
            note="so DDPM on the shorter chain is DDIM with eta = 1 on the sub-sequence")
    return d


def all_derivations() -> list[Derivation]:
    return [same_marginals(), eta_one_is_ddpm(), eta_zero_is_an_ode_step(), respacing()]
