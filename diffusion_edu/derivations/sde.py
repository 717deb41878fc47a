"""Chapter 12: score-based SDEs (Song et al. 2021), proved by SymPy.

- linear SDEs dx = f(t) x dt + g(t) dw: the mean and variance ODEs m' = f m, v' = 2 f v + g^2;
- note 002's VE SDE dx = sigma^t dw: solving v' = sigma^(2t), v(0) = 0 gives the kernel variance
  (sigma^(2t) - 1) / (2 ln sigma);
- the VP SDE: v = 1 - exp(-int beta) and mean factor exp(-int beta / 2); DDPM's step
  x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z is its Euler-Maruyama step to first order, and
  DDPM's alpha_bar -> exp(-int beta) as T -> infinity; beta_min = 0.1, beta_max = 20 are DDPM's
  linear schedule times T = 1000;
- the reverse SDE and the probability-flow ODE have the forward process's marginals
  (Fokker-Planck, 1-D);
- the instantaneous change of variables d log p(x(t), t) / dt = -div v;
- the corrector's step rule: eps = 2 (r |z| / |s|)^2 makes |drift| / |noise| = r.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation

t, s_, x, dt = sp.symbols("t s x Delta_t", real=True)
sigma = sp.symbols("sigma", positive=True)
beta_min, beta_max, b, N = sp.symbols("beta_min beta_max b N", positive=True)
r, z_norm, s_norm = sp.symbols("r |z| |s|", positive=True)
p = sp.Function("p")
f = sp.Function("f")
g = sp.Function("g")
v = sp.Function("v")
m = sp.Function("m")


def moment_odes() -> Derivation:
    """Ito: for dx = f(t) x dt + g(t) dw, E[x] and Var[x] evolve as m' = f m, v' = 2 f v + g^2.
    Checked here on the Euler-Maruyama step x' = x + f x dt + g sqrt(dt) z, to first order in dt."""
    d = Derivation("mean and variance of a linear SDE")
    mean_next = m(t) + f(t) * m(t) * dt
    var_next = (1 + f(t) * dt) ** 2 * v(t) + g(t) ** 2 * dt  # x, z independent: variances add
    d.equal("(E[x'] - m) / dt", sp.simplify((mean_next - m(t)) / dt), f(t) * m(t))
    d.equal("(Var[x'] - v) / dt -> 2 f v + g^2 as dt -> 0", sp.limit((var_next - v(t)) / dt, dt, 0),
            2 * f(t) * v(t) + g(t) ** 2)
    return d


def ve_kernel() -> Derivation:
    d = Derivation("note 002's VE SDE dx = sigma^t dw: the perturbation kernel")
    solution = sp.dsolve(sp.Eq(v(t).diff(t), sigma ** (2 * t)), v(t), ics={v(0): 0}).rhs
    # SymPy keeps the case sigma = 1 (g = 1, v = t) apart; the VE SDE needs sigma > 1
    solution = sp.piecewise_fold(solution).subs(sp.Ne(sp.log(sigma), 0), True)
    kernel_var = (sigma ** (2 * t) - 1) / (2 * sp.log(sigma))
    d.equal("solve v' = g^2 = sigma^(2t), v(0) = 0 (f = 0: no drift)", solution, kernel_var,
            note="note 002 eq. 7 (the mean stays x_0)")
    d.equal("check: d/dt of the kernel variance", sp.diff(kernel_var, t), sigma ** (2 * t))
    d.equal("at t = 1: the prior variance (note 002 eq. 8)", kernel_var.subs(t, 1),
            (sigma**2 - 1) / (2 * sp.log(sigma)))
    d.equal("small t: v ~ t (the noise starts like Brownian motion)", sp.limit(kernel_var / t, t, 0), 1)
    d.equal("the kernel's score, grad log N(x; x_0, v): -(x - x_0) / v",
            sp.diff(-(x - sp.Symbol("x_0")) ** 2 / (2 * kernel_var), x), -(x - sp.Symbol("x_0")) / kernel_var)
    d.keep("kernel_var", kernel_var)
    return d


def vp_sde() -> Derivation:
    d = Derivation("the VP SDE is DDPM's continuous limit")
    beta = beta_min + t * (beta_max - beta_min)
    int_beta = sp.integrate(beta_min + s_ * (beta_max - beta_min), (s_, 0, t))
    var = sp.dsolve(sp.Eq(v(t).diff(t), -beta * v(t) + beta), v(t), ics={v(0): 0}).rhs
    d.equal("solve v' = -beta v + beta (f = -beta/2, g^2 = beta), v(0) = 0", var, 1 - sp.exp(-int_beta),
            note="DDPM's 1 - alpha_bar")
    mean = sp.dsolve(sp.Eq(m(t).diff(t), -beta / 2 * m(t)), m(t), ics={m(0): 1}).rhs
    d.equal("solve m' = -beta m / 2, m(0) = 1", mean, sp.exp(-int_beta / 2), note="DDPM's sqrt(alpha_bar)")
    d.equal("variance preserving: mean^2 + variance = 1", mean**2 + var, 1)
    # DDPM's step with beta_i = beta(t) dt, expanded in dt
    series = sp.series(sp.sqrt(1 - b * dt), dt, 0, 2).removeO()
    d.equal("sqrt(1 - beta dt) = 1 - beta dt / 2 + O(dt^2)", series, 1 - b * dt / 2,
            note="so x_i - x_{i-1} = -beta x dt / 2 + sqrt(beta dt) z + O(dt^2): the VP SDE's Euler-Maruyama step")
    d.equal("N log(1 - b / N) -> -b as N -> oo", sp.limit(N * sp.log(1 - b / N), N, sp.oo), -b,
            note="a product of N factors (1 - beta(t_i) / N) tends to exp(-int beta)")
    i = sp.Symbol("i", integer=True, positive=True)
    riemann = sp.summation((beta_min + i / N * (beta_max - beta_min)) / N, (i, 1, N))
    d.equal("the Riemann sum sum_i beta(i/N) / N -> int_0^1 beta", sp.limit(riemann, N, sp.oo), int_beta.subs(t, 1))
    beta_1, beta_T, T = sp.Rational(1, 10_000), sp.Rational(2, 100), 1000
    d.equal("DDPM's linear schedule times T = 1000: beta_min", T * beta_1, sp.Rational(1, 10))
    d.equal("... and beta_max", T * beta_T, 20)
    d.keep("int_beta", int_beta)
    return d


def fokker_planck() -> Derivation:
    """1-D, x-dependent drift f(x, t) and diffusion g(t); p = p(x, t)."""
    d = Derivation("reverse SDE and probability-flow ODE share the forward marginals")
    P = p(x, t)
    drift = sp.Function("f")(x, t)
    G = g(t)
    forward_dpdt = -sp.diff(drift * P, x) + G**2 / 2 * sp.diff(P, x, 2)  # Fokker-Planck of dx = f dt + g dw
    flow_velocity = drift - G**2 / 2 * sp.diff(P, x) / P
    d.equal("the probability-flow ODE dx/dt = f - g^2 score / 2 obeys the same continuity equation",
            -sp.diff(flow_velocity * P, x), forward_dpdt, note="same p_t for every t, deterministic paths")
    # reverse SDE in reverse time u = T - t: dx = -(f - g^2 score) du + g dw, Fokker-Planck in u
    reverse_drift = -(drift - G**2 * sp.diff(P, x) / P)
    reverse_dpdu = -sp.diff(reverse_drift * P, x) + G**2 / 2 * sp.diff(P, x, 2)
    d.equal("the reverse SDE's Fokker-Planck in u = T - t is -(forward dp/dt)", reverse_dpdu, -forward_dpdt,
            note="it runs the marginals backwards: p_T -> p_0 (Anderson 1982)")
    return d


def change_of_variables() -> Derivation:
    d = Derivation("instantaneous change of variables: d log p(x(t), t) / dt = -div v")
    P = p(x, t)
    vel = sp.Function("v")(x, t)
    dpdt = -sp.diff(vel * P, x)  # continuity equation
    total = (dpdt + vel * sp.diff(P, x)) / P  # d/dt log p(x(t), t) along dx/dt = v
    d.equal("along a path of dx/dt = v", sp.simplify(total), -sp.diff(vel, x),
            note="integrate from t_min to 1: log p_0(x) = log p_1(x(1)) + int div v dt (Chen et al. 2018)")
    return d


def corrector_step_rule() -> Derivation:
    d = Derivation("the corrector's signal-to-noise step rule (Song et al. 2021 Algorithm 4)")
    eps = 2 * (r * z_norm / s_norm) ** 2
    d.equal("|eps s| / |sqrt(2 eps) z| = r", eps * s_norm / (sp.sqrt(2 * eps) * z_norm), r,
            note="the drift is r times the noise at every noise level, whatever the score's size")
    return d


def all_derivations() -> list[Derivation]:
    return [moment_odes(), ve_kernel(), vp_sde(), fokker_planck(), change_of_variables(), corrector_step_rule()]
