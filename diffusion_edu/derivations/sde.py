"""Chapter 12: score-based SDEs (Song et al. 2021), proved by SymPy as chains a reader follows.

- linear SDEs dx = f(t) x dt + g(t) dw: the mean and variance ODEs m' = f m, v' = 2 f v + g^2, from
  one Euler-Maruyama step;
- note 002's VE SDE dx = sigma^t dw: v(t) = int_0^t sigma^(2s) ds = (sigma^(2t) - 1) / (2 ln sigma);
- the VP SDE, for any beta(t): v = 1 - exp(-int beta) and mean factor exp(-int beta / 2) solve the
  moment ODEs; DDPM's step is its Euler-Maruyama step to first order; DDPM's alpha_bar ->
  exp(-int beta) as T -> infinity; beta_min = 0.1, beta_max = 20 are DDPM's linear schedule times
  T = 1000;
- the probability-flow ODE has the forward process's marginals, and the reverse SDE runs them
  backwards (Fokker-Planck, 1-D);
- the instantaneous change of variables d log p(x(t), t) / dt = -div v;
- the corrector's step rule: eps = 2 (r |z| / |s|)^2 makes |drift| / |noise| = r.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation
from diffusion_edu.derivations.score import Dx

t, s_, x, dt = sp.symbols("t s x Delta_t", real=True)
sigma = sp.symbols("sigma", positive=True)
beta_min, beta_max, b, N = sp.symbols("beta_min beta_max b N", positive=True)
r, z_norm, s_norm = sp.symbols("r |z| |s|", positive=True)
z = sp.Symbol("z", real=True)
p = sp.Function("p")
f = sp.Function("f")
g = sp.Function("g")
v = sp.Function("v")
m = sp.Function("m")
beta = sp.Function("beta")
x_0 = sp.Symbol("x_0", real=True)


def _sigma_above_one(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for forms in sigma > 1: SymPy keeps the case sigma = 1 (where g = 1, v = t) apart in a
    Piecewise; the VE SDE needs sigma > 1, so ln sigma != 0."""
    def general(e: sp.Basic) -> sp.Basic:
        e = sp.piecewise_fold(evaluate(e))
        return e.subs({sp.Ne(sigma, 1): True, sp.Ne(sp.log(sigma), 0): True, sp.Eq(sp.log(sigma), 0): False})
    return is_zero(general(lhs) - general(rhs))


@derivation
def moment_odes() -> Derivation:
    """Ito: for dx = f(t) x dt + g(t) dw, E[x] and Var[x] evolve as m' = f m, v' = 2 f v + g^2.
    Read off the Euler-Maruyama step x' = x + f x dt + g sqrt(dt) z, to first order in dt."""
    d = Derivation(r"mean and variance of a linear SDE $dx = f(t)\,x\,dt + g(t)\,dw$")
    d.given(sp.Symbol("x'"), add(x, mul(f(t), x, dt), mul(g(t), sqrt(dt), z)),
            r"one Euler–Maruyama step, $z \sim \mathcal N(0, 1)$ independent of $x$")
    mean = d.chain(frac(add(m(t), mul(f(t), m(t), dt), -m(t)), dt),
                   r"Take expectations, $\mathbb E x = m(t)$, $\mathbb E z = 0$:",
                   name=sp.Symbol(r"\frac{\mathbb E x' - m}{\Delta_t}"))
    mean.to(f(t) * m(t), r"$m$ cancels; divide by $\Delta_t$: so $m' = f\,m$")
    var = d.chain(sp.Limit(frac(add(mul(power(held(1 + f(t) * dt), 2), v(t)), mul(power(g(t), 2), dt), -v(t)), dt),
                           dt, 0),
                  r"Variances add ($x$ and $z$ independent), $\operatorname{Var} x = v(t)$:",
                  name=sp.Symbol(r"\lim \frac{\operatorname{Var} x' - v}{\Delta_t}"))
    var.to(sp.Limit(add(2 * f(t) * v(t), f(t) ** 2 * v(t) * dt, g(t) ** 2), dt, 0),
           r"multiply out the square; divide by $\Delta_t$")
    var.to(add(2 * f(t) * v(t), g(t) ** 2), r"let $\Delta_t \to 0$: so $v' = 2 f v + g^2$")
    return d


@derivation
def ve_kernel() -> Derivation:
    d = Derivation(r"note 002's VE SDE $dx = \sigma^t\,dw$: the perturbation kernel")
    d.given(g(t), power(sigma, t), r"the diffusion coefficient, $\sigma > 1$; no drift, so the mean stays $x_0$")
    kernel_var = (sigma ** (2 * t) - 1) / (2 * sp.log(sigma))
    solve = d.chain(sp.Integral(power(sigma, 2 * s_), (s_, 0, t)),
                    r"With $f = 0$ the variance ODE is $v' = g^2 = \sigma^{2t}$, $v(0) = 0$; integrate it:",
                    name=v(t))
    solve.to(frac(add(power(sigma, 2 * t), -1), 2 * sp.log(sigma)),
             r"$\sigma^{2s} = e^{2 s \ln\sigma}$ (note 002 eq. 7)", proof=_sigma_above_one)
    prior = d.chain(sp.Subs(frac(add(power(sigma, 2 * t), -1), 2 * sp.log(sigma)), t, 1),
                    r"At $t = 1$, the prior's variance (note 002 eq. 8):")
    prior.to(frac(add(power(sigma, 2), -1), 2 * sp.log(sigma)), r"insert $t = 1$: about $9.8^2$ for $\sigma = 25$")
    small = d.chain(sp.Limit(frac(add(power(sigma, 2 * t), -1), mul(2, t, sp.log(sigma))), t, 0), r"For small $t$:")
    small.to(sp.Integer(1), r"$\sigma^{2t} - 1 \approx 2t\ln\sigma$: the noise starts like Brownian motion, "
             r"$v \approx t$")
    var_symbol = sp.Symbol("v", positive=True)
    score = d.chain(sp.Derivative(-(x - x_0) ** 2 / (2 * var_symbol), x),
                    r"The kernel's score, $\nabla\log\mathcal N(x; x_0, v)$, the target of denoising score matching:")
    score.to(-(x - x_0) / var_symbol, "differentiate the exponent; the normaliser does not depend on $x$")
    d.keep("kernel_var", kernel_var)
    return d


@derivation
def vp_sde() -> Derivation:
    d = Derivation(r"the VP SDE $dx = -\tfrac12\beta(t)\,x\,dt + \sqrt{\beta(t)}\,dw$ is DDPM's continuous limit")
    total = sp.Integral(beta(s_), (s_, 0, t))
    d.given(sp.Symbol("B(t)"), total, r"the integrated noise rate, for any rate $\beta(t) > 0$")
    var = d.chain(sp.Derivative(1 - sp.exp(-total), t),
                  r"The variance ODE with $f = -\tfrac12\beta$, $g^2 = \beta$ is $v' = -\beta v + \beta$, $v(0) = 0$. "
                  r"Try $v = 1 - e^{-B}$ (DDPM's $1 - \bar\alpha_t$), which is 0 at $t = 0$:")
    var.to(mul(beta(t), sp.exp(-total)), r"the chain rule, $B' = \beta$")
    var.to(add(mul(-1, beta(t), held(1 - sp.exp(-total))), beta(t)),
           r"add and subtract $\beta$: this is $-\beta v + \beta$, so $v = 1 - e^{-B}$ solves the ODE")
    mean = d.chain(sp.Derivative(sp.exp(-total / 2), t),
                   r"The mean ODE $m' = -\tfrac12\beta m$, $m(0) = 1$; try $m = e^{-B/2}$ "
                   r"(DDPM's $\sqrt{\bar\alpha_t}$):")
    mean.to(mul(-sp.Rational(1, 2), beta(t), sp.exp(-total / 2)), r"the chain rule: this is $-\tfrac12\beta m$")
    preserve = d.chain(add(power(sp.exp(-total / 2), 2), 1 - sp.exp(-total)),
                       r"Variance preserving, $m^2 + v$:")
    preserve.to(add(sp.exp(-total), 1, -sp.exp(-total)), r"$(e^{-B/2})^2 = e^{-B}$")
    preserve.to(sp.Integer(1), "the exponentials cancel: unit-variance data stay at unit variance")
    step = d.chain(sqrt(1 - b * dt), r"DDPM's step $x_i = \sqrt{1 - \beta_i}\,x_{i-1} + \sqrt{\beta_i}\,z$ with "
                   r"$\beta_i = \beta(t)\,\Delta_t$; its mean factor, here with $b = \beta(t)$:")
    step.to(add(1, -b * dt / 2, sp.O(dt**2)),
            r"Taylor: so $x_i - x_{i-1} = -\tfrac12\beta x\,\Delta_t + \sqrt{\beta\,\Delta_t}\,z + O(\Delta_t^2)$, "
            r"the VP SDE's Euler–Maruyama step",
            proof=lambda lhs, rhs: is_zero(sp.series(evaluate(lhs), dt, 0, 2).removeO() - evaluate(rhs).removeO()))
    product = d.chain(sp.Limit(mul(N, sp.log(1 - b / N)), N, sp.oo),
                      r"DDPM's $\bar\alpha$ is a product of $N$ factors $1 - \beta(t_i)/N$; "
                      r"the log of one factor, times $N$:")
    product.to(-b, r"$\log(1 - u) = -u + O(u^2)$: the product tends to $e^{-\int\beta}$")
    i = sp.Symbol("i", integer=True, positive=True)
    d.given(beta(t), add(beta_min, mul(t, held(beta_max - beta_min))), "the linear schedule")
    linear = beta_min + t * (beta_max - beta_min)
    int_beta = sp.integrate(beta_min + s_ * (beta_max - beta_min), (s_, 0, t))
    riemann = d.chain(sp.Limit(sp.Sum(frac(linear.subs(t, i / N), N), (i, 1, N)), N, sp.oo),
                      r"The Riemann sum of the linear schedule:")
    riemann.to(sp.Limit(add(beta_min, frac(mul(held(beta_max - beta_min), held(N + 1)), 2 * N)), N, sp.oo),
               r"$\sum_{i=1}^N i = N(N+1)/2$")
    riemann.to(frac(beta_min + beta_max, 2), r"let $N \to \infty$")
    riemann.to(sp.Integral(linear.subs(t, s_), (s_, 0, 1)), r"the integral $\int_0^1 \beta(s)\,ds$ of the schedule")
    scale_min = d.chain(mul(1000, sp.Rational(1, 10_000)),
                        r"DDPM's linear schedule ($\beta_1 = 10^{-4}$, $\beta_T = 0.02$) times $T = 1000$:",
                        name=beta_min)
    scale_min.to(sp.Rational(1, 10), "so the VP SDE's rate starts at 0.1")
    d.chain(mul(1000, sp.Rational(2, 100)), name=beta_max).to(sp.Integer(20), "and ends at 20")
    d.keep("int_beta", int_beta)
    return d


@derivation
def fokker_planck() -> Derivation:
    """1-D, x-dependent drift f(x, t) and diffusion g(t); p = p(x, t)."""
    d = Derivation("the probability-flow ODE and the reverse SDE share the forward marginals")
    P = p(x, t)
    drift = f(x, t)
    G = g(t)
    half_g2 = mul(sp.Rational(1, 2), power(G, 2))
    dpdt = sp.Symbol(r"\frac{\partial p}{\partial t}")
    forward = add(-Dx(mul(drift, P), x), mul(half_g2, sp.Derivative(P, (x, 2))))
    d.given(dpdt, forward, r"Fokker–Planck of the forward SDE $dx = f\,dt + g\,dw$")
    score = sp.Derivative(sp.log(P), x)
    flow = d.chain(-Dx(mul(held(add(drift, -mul(half_g2, score))), P), x),
                   r"The probability-flow ODE $dx/dt = f - \tfrac12 g^2\,\partial_x\log p$ moves mass by the "
                   r"continuity equation $\partial_t p = -\partial_x(v\,p)$:", name=dpdt)
    flow.to(-Dx(add(mul(drift, P), -mul(half_g2, sp.Derivative(P, x))), x),
            r"multiply out; $p\,\partial_x\log p = \partial_x p$")
    flow.to(forward, r"differentiate the second term: the forward Fokker–Planck equation, so the same $p_t$ "
            "at every $t$, along deterministic paths")
    reverse = d.chain(add(-Dx(mul(-1, held(add(drift, -mul(power(G, 2), score))), P), x),
                          mul(half_g2, sp.Derivative(P, (x, 2)))),
                      r"The reverse SDE in reverse time $u = T - t$, drift $-(f - g^2\,\partial_x\log p)$, "
                      r"its Fokker–Planck equation:", name=sp.Symbol(r"\frac{\partial p}{\partial u}"))
    reverse.to(add(Dx(mul(drift, P), x), -mul(power(G, 2), sp.Derivative(P, (x, 2))),
                   mul(half_g2, sp.Derivative(P, (x, 2)))),
               r"multiply out; $p\,\partial_x\log p = \partial_x p$")
    reverse.to(add(Dx(mul(drift, P), x), -mul(half_g2, sp.Derivative(P, (x, 2)))),
               r"collect the second derivatives: this is $-\partial_t p$, the forward "
               r"marginals run backwards, $p_T \to p_0$ (Anderson 1982)")
    both = d.chain(add(reverse.current, forward), r"Check, $\partial_u p + \partial_t p$:")
    both.to(sp.Integer(0), "every term cancels")
    return d


@derivation
def change_of_variables() -> Derivation:
    d = Derivation(r"instantaneous change of variables: $\frac{d}{dt}\log p(x(t), t) = -\partial_x v$")
    P = p(x, t)
    vel = sp.Function("v")(x, t)
    d.given(sp.Derivative(P, t), -Dx(mul(vel, P), x), r"the continuity equation of $dx/dt = v$")
    along = d.chain(frac(add(sp.Derivative(P, t), mul(vel, sp.Derivative(P, x))), P),
                    r"Along a path of $dx/dt = v$, by the chain rule:",
                    name=sp.Symbol(r"\frac{d}{dt}\log p(x(t), t)"))
    along.to(frac(add(-Dx(mul(vel, P), x), mul(vel, sp.Derivative(P, x))), P), "insert the continuity equation",
             using={sp.Derivative(P, t): -sp.diff(vel * P, x)})
    along.to(frac(add(-mul(P, sp.Derivative(vel, x)), -mul(vel, sp.Derivative(P, x)), mul(vel, sp.Derivative(P, x))),
                  P), "the product rule")
    along.to(-sp.Derivative(vel, x), r"cancel: integrate from $t_{\min}$ to 1 for "
             r"$\log p_0(x) = \log p_1(x(1)) + \int \partial_x v\,dt$ (Chen et al. 2018)")
    return d


@derivation
def corrector_step_rule() -> Derivation:
    d = Derivation("the corrector's signal-to-noise step rule (Song et al. 2021, Algorithm 4)")
    eps = sp.Symbol("epsilon", positive=True)
    rule = 2 * (r * z_norm / s_norm) ** 2
    d.given(eps, mul(2, power(held(frac(mul(r, z_norm), s_norm)), 2)), "the step size, from the target ratio $r$")
    ratio = d.chain(frac(mul(eps, s_norm), mul(sqrt(2 * eps), z_norm)),
                    r"The Langevin step's drift $\varepsilon s$ against its noise $\sqrt{2\varepsilon}\,z$, in size:")
    ratio.to(mul(sqrt(eps / 2), frac(s_norm, z_norm)), r"$\varepsilon/\sqrt{2\varepsilon} = \sqrt{\varepsilon/2}$")
    ratio.to(r, r"insert $\varepsilon$: the drift is $r$ times the noise, whatever the score's size",
             using={eps: rule})
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
