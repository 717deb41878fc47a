"""Chapter 10: DDIM (Song, Meng & Ermon 2021), proved by SymPy as chains a reader follows.

- the non-Markovian family q(x_{t-1} | x_t, x_0) with sampler noise s_t keeps DDPM's marginals
  q(x_t | x_0) for every s_t (DDIM Lemma 1), so DDPM's loss trains it unchanged;
- eta = 1 gives DDPM's posterior: variance beta_tilde_t and the same mean coefficients;
- eta = 0 is deterministic and is an Euler step of an ODE in x / sqrt(alpha_bar) and
  gamma = sqrt(1 - alpha_bar) / sqrt(alpha_bar) (DDIM eq. 14); the last step (alpha_bar_prev = 1)
  returns x0_hat exactly; encoding with the same eps inverts a step;
- respacing: keeping steps tau_1 < tau_2 < tau_3 and setting beta'_i = 1 - alpha_bar_{tau_i} /
  alpha_bar_{tau_{i-1}} telescopes to the same alpha_bar at the kept steps.

The sampler's noise standard deviation is written s_t (s_t(eta) for DDIM), never sigma_t, which
the book keeps for the noise scale sqrt(1 - alpha_bar_t) of the path.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation

# alpha_bar_t = alpha_t * alpha_bar_{t-1}, with 0 < alpha_t < 1 and 0 < alpha_bar_{t-1} <= 1
alpha_t = sp.Symbol("alpha_t", positive=True)
alpha_bar_prev = sp.Symbol(r"\bar{\alpha}_{t-1}", positive=True)
alpha_bar = sp.Symbol(r"\bar{\alpha}_t", positive=True)
sigma = sp.Symbol("s_t", nonnegative=True)  # the sampler's noise std s_t (the name is kept for old imports)
s_t = sigma
eta = sp.Symbol("eta", nonnegative=True)
beta_t = sp.Symbol("beta_t", positive=True)
beta_tilde = sp.Symbol(r"\tilde{\beta}_t", positive=True)
x_0, x_t, x_prev = sp.symbols("x_0 x_t x_{t-1}", real=True)
eps, z = sp.symbols(r"\hat{\epsilon} z", real=True)
x0_hat = sp.Symbol(r"\hat{x}_0", real=True)
alpha_bar_t = alpha_t * alpha_bar_prev  # alpha_bar_t in terms of the two free symbols

_U, _W = sp.symbols("u w", positive=True)


def in_unit_interval(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for forms in alpha_t and alpha_bar_{t-1}: equal for every 0 < alpha_t < 1 and
    0 < alpha_bar_{t-1} < 1, written as 1 / (1 + w) and 1 / (1 + u) with u, w > 0 so that SymPy
    knows 1 - alpha_bar_{t-1} > 0 (a square root of a square then comes out)."""
    unit = {alpha_t: 1 / (1 + _W), alpha_bar_prev: 1 / (1 + _U)}
    return is_zero(evaluate(lhs).subs(unit) - evaluate(rhs).subs(unit))


def ddim_coefficients(alpha_bar_: sp.Expr, alpha_bar_before: sp.Expr, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """x_{t-1} = c_0 x_0 + c_t x_t + s z, the mean of DDIM's q(x_{t-1} | x_t, x_0) (DDIM eq. 7)."""
    c_t = sp.sqrt(1 - alpha_bar_before - s**2) / sp.sqrt(1 - alpha_bar_)
    c_0 = sp.sqrt(alpha_bar_before) - c_t * sp.sqrt(alpha_bar_)
    return c_0, c_t


def ddim_sigma_expr(eta_: sp.Expr = eta) -> sp.Expr:
    """s_t(eta) of DDIM eq. 16 in terms of alpha_t and alpha_bar_{t-1}."""
    return eta_ * sp.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t)) * sp.sqrt(1 - alpha_bar_t / alpha_bar_prev)


def _s_form(eta_: sp.Expr) -> sp.Expr:
    """s_t(eta) as DDIM writes it, with alpha_bar_t as a symbol (no factor shown for eta = 1)."""
    roots = (sqrt(frac(1 - alpha_bar_prev, 1 - alpha_bar)), sqrt(1 - frac(alpha_bar, alpha_bar_prev)))
    return mul(*roots) if eta_ == 1 else mul(eta_, *roots)


@derivation
def same_marginals() -> Derivation:
    """If x_t ~ N(sqrt(ab_t) x_0, 1 - ab_t) then x_{t-1} ~ N(sqrt(ab_{t-1}) x_0, 1 - ab_{t-1}), any s_t."""
    d = Derivation(r"DDIM's Lemma 1: the non-Markovian step keeps $q(x_t\mid x_0)$ for every $s_t$")
    marginal = add(mul(sqrt(alpha_bar), x_0), mul(sqrt(1 - alpha_bar), eps))
    d.given(x_t, marginal, r"DDPM's marginal at $t$ (the induction hypothesis), $\hat\epsilon \sim \mathcal N(0, I)$")
    direction = frac(sqrt(1 - alpha_bar_prev - s_t**2), sqrt(1 - alpha_bar))
    step = d.chain(add(mul(sqrt(alpha_bar_prev), x_0), mul(direction, held(add(x_t, -mul(sqrt(alpha_bar), x_0)))),
                       mul(s_t, z)),
                   r"DDIM's step (its eq. 7): re-noise $x_0$ to level $t-1$, pointing along the noise that "
                   r"$x_t$ carries, plus fresh noise $s_t z$ with $z \sim \mathcal N(0, I)$ "
                   r"independent of $\hat\epsilon$:", name=x_prev)
    step.to(add(mul(sqrt(alpha_bar_prev), x_0), mul(direction, held(add(marginal, -mul(sqrt(alpha_bar), x_0)))),
                mul(s_t, z)), r"insert the marginal of $x_t$", using={x_t: marginal})
    step.to(add(mul(sqrt(alpha_bar_prev), x_0), mul(direction, sqrt(1 - alpha_bar), eps), mul(s_t, z)),
            r"the $x_0$ terms in the bracket cancel")
    step.to(add(mul(sqrt(alpha_bar_prev), x_0), mul(sqrt(1 - alpha_bar_prev - s_t**2), eps), mul(s_t, z)),
            r"$\sqrt{1 - \bar\alpha_t}$ cancels: the mean is DDPM's $\sqrt{\bar\alpha_{t-1}}\,x_0$")
    variance = d.chain(add(power(sqrt(1 - alpha_bar_prev - s_t**2), 2), power(s_t, 2)),
                       r"The noises $\hat\epsilon$ and $z$ are independent, so their variances add:",
                       name=sp.Symbol(r"\operatorname{Var}(x_{t-1}\mid x_0)"))
    variance.to(add(1 - alpha_bar_prev, -power(s_t, 2), power(s_t, 2)), "square the root")
    variance.to(1 - alpha_bar_prev, r"$s_t^2$ cancels: DDPM's variance at $t-1$, whatever $s_t$ is; "
                r"by induction down from $t = T$ every marginal is DDPM's")
    c_0, c_t = ddim_coefficients(alpha_bar, alpha_bar_prev, s_t)
    d.keep("c_0", c_0)
    d.keep("c_t", c_t)
    return d


@derivation
def eta_one_is_ddpm() -> Derivation:
    d = Derivation(r"$\eta = 1$ recovers DDPM's posterior $q(x_{t-1}\mid x_t, x_0)$")
    defs = {alpha_bar: alpha_t * alpha_bar_prev, beta_t: 1 - alpha_t,
            beta_tilde: (1 - alpha_bar_prev) / (1 - alpha_t * alpha_bar_prev) * (1 - alpha_t)}
    d.given(alpha_bar, mul(alpha_t, alpha_bar_prev), r"definition of $\bar\alpha_t$, with $\beta_t = 1 - \alpha_t$")
    d.given(sp.Symbol(r"s_{t}(\eta)"), _s_form(eta), r"DDIM's sampler noise (its eq. 16)")
    d.given(beta_tilde, mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), beta_t),
            r"DDPM's posterior variance (chapter 8)")
    var = d.chain(power(_s_form(1), 2), r"The variance at $\eta = 1$:", name=power(sp.Symbol(r"s_{t}(1)"), 2))
    var.to(mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), held(1 - frac(alpha_bar, alpha_bar_prev))),
           "square both roots")
    var.to(mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), held(1 - alpha_t)),
           r"$\bar\alpha_t / \bar\alpha_{t-1} = \alpha_t$", using=defs)
    var.to(beta_tilde, r"$1 - \alpha_t = \beta_t$: DDPM's $\tilde\beta_t$", using=defs)
    ddpm_c_t = frac(mul(sqrt(alpha_t), 1 - alpha_bar_prev), 1 - alpha_bar)
    c_t = d.chain(frac(sqrt(1 - alpha_bar_prev - beta_tilde), sqrt(1 - alpha_bar)),
                  r"The coefficient of $x_t$ in the mean, $\sqrt{1 - \bar\alpha_{t-1} - s_t^2}\,/\,"
                  r"\sqrt{1 - \bar\alpha_t}$, at $s_t^2 = \tilde\beta_t$:", name=sp.Symbol("c_t"))
    c_t.to(frac(sqrt(add(1 - alpha_bar_prev, -mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), beta_t))),
                sqrt(1 - alpha_bar)), r"insert $\tilde\beta_t$", using=defs)
    c_t.to(frac(sqrt(frac(mul(held(1 - alpha_bar_prev), held(1 - alpha_bar - beta_t)), 1 - alpha_bar)),
                sqrt(1 - alpha_bar)), r"factor out $1 - \bar\alpha_{t-1}$", using=defs)
    c_t.to(frac(sqrt(frac(mul(alpha_t, power(held(1 - alpha_bar_prev), 2)), 1 - alpha_bar)), sqrt(1 - alpha_bar)),
           r"$1 - \bar\alpha_t - \beta_t = \alpha_t - \alpha_t\bar\alpha_{t-1}$", using=defs)
    c_t.to(ddpm_c_t, r"take the root, as $0 < \alpha_t < 1$ and $0 < \bar\alpha_{t-1} < 1$; this is DDPM's "
           r"coefficient of $x_t$ in $\tilde\mu_t$", using=defs, proof=in_unit_interval)
    c_0 = d.chain(add(sqrt(alpha_bar_prev), -mul(ddpm_c_t, sqrt(alpha_bar))),
                  r"The coefficient of $x_0$, $\sqrt{\bar\alpha_{t-1}} - c_t\sqrt{\bar\alpha_t}$:",
                  name=sp.Symbol("c_0"))
    c_0.to(frac(mul(sqrt(alpha_bar_prev), held(add(1 - alpha_bar, -mul(alpha_t, 1 - alpha_bar_prev)))),
                1 - alpha_bar), r"$\sqrt{\bar\alpha_t} = \sqrt{\alpha_t}\sqrt{\bar\alpha_{t-1}}$; one denominator",
           using=defs)
    c_0.to(frac(mul(sqrt(alpha_bar_prev), held(1 - alpha_t)), 1 - alpha_bar),
           r"multiply out: $\alpha_t\bar\alpha_{t-1} = \bar\alpha_t$ cancels", using=defs)
    c_0.to(frac(mul(sqrt(alpha_bar_prev), beta_t), 1 - alpha_bar),
           r"$1 - \alpha_t = \beta_t$, DDPM's coefficient of $x_0$ in $\tilde\mu_t$; same mean, same variance, "
           r"so DDIM with $\eta = 1$ is DDPM",
           using=defs)
    d.keep("sigma_eta", ddim_sigma_expr())
    return d


@derivation
def eta_zero_is_an_ode_step() -> Derivation:
    """With s_t = 0, x_bar = x / sqrt(ab) and gamma = sqrt(1 - ab) / sqrt(ab):
    x_bar_{t-1} = x_bar_t + (gamma_{t-1} - gamma_t) eps."""
    d = Derivation(r"$\eta = 0$: a deterministic step, Euler's method for an ODE (DDIM eq. 13-14)")
    x0_form = frac(add(x_t, -mul(sqrt(1 - alpha_bar), eps)), sqrt(alpha_bar))
    gamma, gamma_prev = sp.symbols(r"\gamma_t \gamma_{t-1}", positive=True)
    defs = {x0_hat: (x_t - sp.sqrt(1 - alpha_bar) * eps) / sp.sqrt(alpha_bar),
            gamma: sp.sqrt(1 - alpha_bar) / sp.sqrt(alpha_bar),
            gamma_prev: sp.sqrt(1 - alpha_bar_prev) / sp.sqrt(alpha_bar_prev)}
    d.given(x0_hat, x0_form, r"the network's guess of the clean point")
    d.given(gamma, frac(sqrt(1 - alpha_bar), sqrt(alpha_bar)), r"noise-to-signal ratio at $t$ (and at $t-1$)")
    zero = d.chain(_s_form(0), r"No fresh noise:", name=sp.Symbol(r"s_{t}(0)"))
    zero.to(sp.Integer(0), r"a factor $\eta = 0$: $x_T$ determines the sample")
    ode = d.chain(frac(add(mul(sqrt(alpha_bar_prev), x0_hat), mul(sqrt(1 - alpha_bar_prev), eps)),
                       sqrt(alpha_bar_prev)),
                  r"Divide the step $x_{t-1} = \sqrt{\bar\alpha_{t-1}}\,\hat x_0 + \sqrt{1 - \bar\alpha_{t-1}}\,"
                  r"\hat\epsilon$ by $\sqrt{\bar\alpha_{t-1}}$:", name=frac(x_prev, sqrt(alpha_bar_prev)))
    ode.to(add(x0_hat, mul(gamma_prev, eps)), r"term by term; definition of $\gamma_{t-1}$", using=defs)
    ode.to(add(frac(x_t, sqrt(alpha_bar)), -mul(gamma, eps), mul(gamma_prev, eps)),
           r"insert $\hat x_0$; definition of $\gamma_t$", using=defs)
    ode.to(add(frac(x_t, sqrt(alpha_bar)), mul(held(gamma_prev - gamma), eps)),
           r"collect $\hat\epsilon$: with $\bar x = x / \sqrt{\bar\alpha}$ this is Euler's method for "
           r"$d\bar x = \hat\epsilon\, d\gamma$, the probability-flow ODE (chapter 12)", using=defs)
    last = d.chain(add(mul(sqrt(alpha_bar_prev), x0_hat), mul(sqrt(1 - alpha_bar_prev), eps)),
                   r"The last step jumps to $\bar\alpha_{t-1} = 1$:", name=x_prev)
    last.to(add(mul(sqrt(1), x0_hat), mul(sqrt(add(1, -1)), eps)), r"$\bar\alpha_{t-1} = 1$",
            using={alpha_bar_prev: 1})
    last.to(x0_hat, r"$\sqrt{1} = 1$ and $\sqrt{0} = 0$: the sampler returns $\hat x_0$, not a noisy point")
    encode = d.chain(add(mul(sqrt(alpha_bar), x0_hat), mul(sqrt(1 - alpha_bar), eps)),
                     r"Encoding runs the step upwards with the same $\hat\epsilon$:")
    encode.to(add(mul(sqrt(alpha_bar), held(x0_form)), mul(sqrt(1 - alpha_bar), eps)), r"insert $\hat x_0$",
              using=defs)
    encode.to(x_t, r"the $\hat\epsilon$ terms cancel: given $\hat\epsilon$, one step is a bijection")
    return d


@derivation
def respacing() -> Derivation:
    """Three kept steps tau_1 < tau_2 < tau_3 with DDPM levels a_1 > a_2 > a_3."""
    d = Derivation("respacing keeps the marginals at the kept steps")
    a = sp.symbols(r"\bar{\alpha}_{\tau_1} \bar{\alpha}_{\tau_2} \bar{\alpha}_{\tau_3}", positive=True)
    b = sp.symbols(r"\beta'_1 \beta'_2 \beta'_3", positive=True)
    defs = {b[0]: 1 - a[0], b[1]: 1 - a[1] / a[0], b[2]: 1 - a[2] / a[1]}
    d.given(b[0], 1 - a[0], r"the first respaced step")
    for i in (1, 2):
        d.given(b[i], 1 - frac(a[i], a[i - 1]), rf"respaced step {i + 1}: one jump between kept levels")
    first = d.chain(1 - b[0], r"The signal kept after the first respaced step:")
    first.to(a[0], r"insert $\beta'_1$: DDPM's level at $\tau_1$", using=defs)
    for n in (2, 3):
        prod = d.chain(mul(*(held(1 - b[i]) for i in range(n))),
                       rf"The product of the first {n} respaced $1 - \beta'_i$:")
        prod.to(mul(a[0], *(frac(a[i], a[i - 1]) for i in range(1, n))), r"insert each $\beta'_i$", using=defs)
        prod.to(a[n - 1], rf"the product telescopes to DDPM's level at $\tau_{n}$")
    post = d.chain(mul(frac(1 - a[0], 1 - a[1]), b[1]),
                   r"DDPM's posterior variance on the shorter chain, at the second kept step:")
    post.to(mul(frac(1 - a[0], 1 - a[1]), held(1 - frac(a[1], a[0]))), r"insert $\beta'_2$", using=defs)
    post.to(power(mul(sqrt(frac(1 - a[0], 1 - a[1])), sqrt(1 - frac(a[1], a[0]))), 2),
            r"the square of DDIM's $s(1)$ between the levels $\bar\alpha_{\tau_2}$ and $\bar\alpha_{\tau_1}$: "
            r"DDPM on the shorter chain is DDIM with $\eta = 1$ on the kept steps")
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
