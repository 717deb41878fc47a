"""Chapter 9: the noise schedules, proved by SymPy: the linear schedule's sum of betas (Ho et al.
2020) and the bound alpha_bar <= exp(-sum beta); the cosine schedule's ends and its SNR (Nichol &
Dhariwal 2021)."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm.notation import HALF
from diffusion_edu.derivations.forms import add, frac, held, mul, power
from diffusion_edu.derivations.proof import Derivation, evaluate
from diffusion_edu.derivations.registry import derivation


@derivation
def schedules() -> Derivation:
    """The linear schedule's sum of betas and alpha_bar_T <= exp(-sum beta); the cosine schedule's
    ends (so its last beta is clipped) and its SNR at s = 0."""
    d = Derivation("the linear and cosine schedules")
    i, t, T = sp.symbols("i t T", positive=True, integer=True)
    b1, bT, u = sp.symbols("beta_1 beta_T u", positive=True)
    beta_i = add(b1, mul(frac(add(bT, -b1), add(T, -1)), held(add(i, -1))))
    d.given(sp.Symbol(r"\beta_i"), beta_i, r"the linear schedule, from $\beta_1$ to $\beta_T$")
    total = d.chain(sp.Sum(beta_i, (i, 1, t)), r"The sum of the first $t$ of the $\beta_i$:",
                    name=sp.Sum(sp.Symbol(r"\beta_i"), (i, 1, t)))
    total.to(add(mul(t, b1), mul(frac(add(bT, -b1), add(T, -1)), sp.Sum(add(i, -1), (i, 1, t)))),
             r"split the sum: $\beta_1$ appears $t$ times")
    total.to(add(mul(t, b1), mul(frac(add(bT, -b1), add(T, -1)), frac(mul(t, add(t, -1)), 2))),
             r"$\sum_{i=1}^t (i - 1) = 0 + 1 + \dots + (t-1) = t(t-1)/2$")
    at_T = d.chain(add(mul(T, b1), mul(frac(add(bT, -b1), add(T, -1)), frac(mul(T, add(T, -1)), 2))),
                   r"At $t = T$:")
    at_T.to(add(mul(T, b1), frac(mul(T, add(bT, -b1)), 2)), r"$T - 1$ cancels")
    at_T.to(frac(mul(T, add(b1, bT)), 2), r"$T$ times the mean of $\beta_1$ and $\beta_T$: $10.05$ for DDPM's "
            r"$T = 1000$, $\beta_1 = 10^{-4}$, $\beta_T = 0.02$")
    g = add(-u, -sp.log(add(1, -u)))
    g_0 = d.chain(sp.Subs(g, u, 0), r"Why $\bar\alpha_t \le e^{-\sum\beta_i}$: $g(u) = -u - \log(1 - u)$ is "
                  r"$\ge 0$ on $[0, 1)$, since it starts at $0$,")
    g_0.to(sp.Integer(0), r"$\log 1 = 0$")
    slope = d.chain(sp.Derivative(g, u), r"and never decreases:")
    slope.to(add(-1, power(add(1, -u), -1)), r"differentiate: $(-\log(1-u))' = 1/(1-u)$")
    slope.to(frac(u, add(1, -u)), r"one denominator: $\ge 0$ on $[0, 1)$; so $\log(1 - \beta_i) \le -\beta_i$ and "
             r"$\log\bar\alpha_t = \sum_i \log(1 - \beta_i) \le -\sum_i\beta_i$")
    # cosine (IDDPM): abar(t) = f(t) / f(0), f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2), tau = t / T
    s = sp.symbols("s", positive=True)
    tau = sp.symbols("tau", positive=True)

    def f(at: sp.Basic) -> sp.Expr:
        return power(sp.cos(mul(frac(add(at, s), add(1, s)), frac(sp.pi, 2))), 2)

    f_0 = power(sp.cos(mul(frac(s, add(1, s)), frac(sp.pi, 2))), 2)
    abar_cos = frac(f(tau), f_0)
    d.given(sp.Symbol(r"\bar{\alpha}(\tau)"), abar_cos, r"IDDPM's cosine schedule, $\tau = t/T$, offset $s$")
    start = d.chain(sp.Subs(abar_cos, tau, 0), r"At $\tau = 0$ it starts at $1$:")
    start.to(frac(f_0, f_0), r"insert $\tau = 0$")
    start.to(sp.Integer(1), "numerator and denominator are the same")
    end = d.chain(sp.Subs(abar_cos, tau, 1), r"At $\tau = 1$ it ends at $0$, for every $s$,")
    end.to(frac(power(sp.cos(frac(sp.pi, 2), evaluate=False), 2), f_0), r"insert $\tau = 1$: $(1 + s)/(1 + s) = 1$")
    end.to(sp.Integer(0), r"$\cos(\pi/2) = 0$; so $\beta_T = 1 - \bar\alpha_T/\bar\alpha_{T-1} = 1$, and the package "
           r"clips it to $0.999$")
    half_pi = mul(frac(sp.pi, 2), tau)
    snr = d.chain(frac(power(sp.cos(half_pi), 2), add(1, -power(sp.cos(half_pi), 2))),
                  r"With $s = 0$, $\bar\alpha = \cos^2(\pi\tau/2)$ and the SNR is",
                  name=sp.Symbol(r"\mathrm{SNR}(\tau)"))
    snr.to(frac(power(sp.cos(half_pi), 2), power(sp.sin(half_pi), 2)), r"$1 - \cos^2 = \sin^2$")
    snr.to(power(sp.cot(half_pi), 2), r"$\cos/\sin = \cot$: $\log\mathrm{SNR}$ falls steadily, with no plateau")
    mid = d.chain(sp.Subs(sp.log(power(sp.cot(half_pi), 2)), tau, HALF), r"Half-way, at $\tau = 1/2$:",
                  name=sp.Symbol(r"\log\mathrm{SNR}(1/2)"))
    mid.to(sp.log(power(sp.cot(frac(sp.pi, 4), evaluate=False), 2)), r"insert $\tau = 1/2$")
    mid.to(sp.Integer(0), r"$\cot(\pi/4) = 1$: signal and noise are equal at the midpoint")
    d.keep("cosine_alpha_bar", evaluate(abar_cos))
    d.keep("tau", tau)
    d.keep("s", s)
    return d
