"""Chapters 8-9: the reverse step's target (Ho et al. 2020), proved by SymPy. The posterior
q(x_{t-1} | x_t, x_0) by Bayes' rule, the exponent collected in powers of x_{t-1}, the square
completed and the normalisers combined; its mean in terms of eps; beta_tilde <= beta; and the true
reverse variance Var(x_{t-1} | x_t), which beta_tilde bounds below and beta_t does not bound above
(Nichol & Dhariwal 2021 learn it between the two)."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm.notation import (
    DEFS,
    HALF,
    POSTERIOR_DEFS,
    alpha,
    alpha_bar,
    alpha_bar_prev,
    beta,
    beta_t,
    beta_tilde,
    eps,
    log_normal,
    log_term,
    mu_tilde,
    square_term,
    state_definitions,
    x0,
    x_prev,
    x_t,
)
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, holds
from diffusion_edu.derivations.registry import derivation

_U, _W = sp.symbols("u w", positive=True)
_UNIT = {alpha: 1 / (1 + _W), alpha_bar_prev: 1 / (1 + _U)}  # 0 < alpha_t, alpha_bar_{t-1} < 1


def _nonnegative_in_unit_interval(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof of ``lhs >= rhs`` for forms in alpha_t, alpha_bar_{t-1}, both in (0, 1)."""
    difference = sp.factor(sp.together(evaluate(lhs).subs(_UNIT) - evaluate(rhs).subs(_UNIT)))
    return difference.is_nonnegative is True or holds(sp.Ge(difference, 0))


@derivation
def posterior() -> Derivation:
    """q(x_{t-1} | x_t, x_0) = q(x_t | x_{t-1}) q(x_{t-1} | x_0) / q(x_t | x_0): the exponent collected
    in powers of x_{t-1} and the square completed; the normalisers combined; nothing is left over."""
    d = Derivation(r"the posterior $q(x_{t-1}\mid x_t, x_0)$, by completing the square")
    state_definitions(d)
    log_step = sp.Symbol(r"\log q(x_{t}\mid x_{t-1})")
    log_prev = sp.Symbol(r"\log q(x_{t-1}\mid x_0)")
    log_marg = sp.Symbol(r"\log q(x_{t}\mid x_{0})")
    densities = {log_step: log_normal(x_t, sp.sqrt(alpha) * x_prev, 1 - alpha),
                 log_prev: log_normal(x_prev, sp.sqrt(alpha_bar_prev) * x0, 1 - alpha_bar_prev),
                 log_marg: log_normal(x_t, sp.sqrt(alpha * alpha_bar_prev) * x0, 1 - alpha * alpha_bar_prev)}
    squares = (square_term(x_t, mul(sqrt(alpha), x_prev), beta_t),
               square_term(x_prev, mul(sqrt(alpha_bar_prev), x0), 1 - alpha_bar_prev),
               square_term(x_t, mul(sqrt(alpha_bar), x0), 1 - alpha_bar, sign=1))
    logs = (log_term(beta_t), log_term(1 - alpha_bar_prev), log_term(1 - alpha_bar, sign=1))
    whole = d.chain(add(log_step, log_prev, -log_marg),
                    r"Bayes' rule, with the Markov property $q(x_t\mid x_{t-1}, x_0) = q(x_t\mid x_{t-1})$:",
                    name=sp.Symbol(r"\log q(x_{t-1}\mid x_t, x_0)"))
    whole.to(add(*squares, *logs), "insert the three Gaussian log-densities (chapter 2)",
             using={**DEFS, **densities})
    final = add(square_term(x_prev, mu_tilde, beta_tilde), log_term(beta_tilde))
    whole.to(final, r"collect powers of $x_{t-1}$ and complete the square; combine the logs (both shown "
             r"next): this is $\log\mathcal N(x_{t-1};\tilde\mu_t,\tilde\beta_t)$, with no constant left over",
             using=POSTERIOR_DEFS)
    rest = sp.Symbol("C_t", real=True)
    rest_terms = (-frac(power(x_t, 2), mul(2, beta_t)),
                  -frac(mul(alpha_bar_prev, power(x0, 2)), mul(2, 1 - alpha_bar_prev)), squares[2])
    d.given(rest, add(*rest_terms), r"what the exponents hold free of $x_{t-1}$")
    rest_defs = {**POSTERIOR_DEFS, rest: evaluate(add(*rest_terms)).subs(DEFS)}
    free = (rest,)
    exponent = d.chain(add(*squares), r"The exponents, collected in powers of $x_{t-1}$, then the square completed:")
    exponent.to(add(mul(-HALF, held(add(frac(alpha, beta_t), power(1 - alpha_bar_prev, -1))), power(x_prev, 2)),
                    mul(held(add(frac(mul(sqrt(alpha), x_t), beta_t), frac(mul(sqrt(alpha_bar_prev), x0),
                                                                            1 - alpha_bar_prev))), x_prev),
                    *free), r"multiply out the squares and collect powers of $x_{t-1}$",
                using={**DEFS, rest: rest_defs[rest]})
    exponent.to(add(-frac(mul(1 - alpha_bar, power(x_prev, 2)), mul(2, beta_t, 1 - alpha_bar_prev)),
                    frac(mul(held(add(mul(sqrt(alpha_bar_prev), beta_t, x0),
                                      mul(sqrt(alpha), 1 - alpha_bar_prev, x_t))), x_prev),
                         mul(beta_t, 1 - alpha_bar_prev)), *free),
                r"one denominator per bracket, with $\alpha_t(1 - \bar\alpha_{t-1}) + \beta_t = 1 - \bar\alpha_t$",
                using={**DEFS, rest: rest_defs[rest]})
    exponent.to(add(-frac(power(x_prev, 2), mul(2, beta_tilde)), frac(mul(mu_tilde, x_prev), beta_tilde), *free),
                r"name the coefficients: $\tilde\beta_t$ and $\tilde\mu_t$ as defined above", using=rest_defs)
    exponent.to(add(square_term(x_prev, mu_tilde, beta_tilde), frac(power(mu_tilde, 2), mul(2, beta_tilde)), *free),
                r"complete the square: $-\frac{x^2 - 2\tilde\mu x}{2\tilde\beta} = "
                r"-\frac{(x - \tilde\mu)^2}{2\tilde\beta} + \frac{\tilde\mu^2}{2\tilde\beta}$", using=rest_defs)
    exponent.to(square_term(x_prev, mu_tilde, beta_tilde),
                r"what is free of $x_{t-1}$ is zero (next)", using=rest_defs)
    leftover = d.chain(add(frac(power(mu_tilde, 2), mul(2, beta_tilde)), rest),
                       r"What is left over, free of $x_{t-1}$, vanishes:")
    leftover.to(add(frac(power(mu_tilde, 2), mul(2, beta_tilde)), *rest_terms), r"insert $C_t$", using=rest_defs)
    leftover.to(sp.Integer(0), r"insert $\tilde\mu_t$ and $\tilde\beta_t$ and multiply out over the denominator "
                r"$2\beta_t(1-\bar\alpha_{t-1})(1-\bar\alpha_t)$: the coefficients of $x_t^2$, $x_t x_0$ and $x_0^2$ "
                r"are all zero", using=rest_defs)
    normaliser = d.chain(add(*logs), r"The normalisers:")
    normaliser.to(mul(-HALF, sp.log(frac(mul(2, sp.pi, beta_t, 1 - alpha_bar_prev), 1 - alpha_bar))),
                  r"combine the logs: one $2\pi$ cancels", using=DEFS)
    normaliser.to(log_term(beta_tilde), r"definition of $\tilde\beta_t$", using=POSTERIOR_DEFS)

    eps_form = frac(add(x_t, -mul(frac(beta_t, sqrt(1 - alpha_bar)), eps)), sqrt(alpha))
    x0_of_eps = frac(add(x_t, -mul(sqrt(1 - alpha_bar), eps)), sqrt(alpha_bar))
    mean = d.chain(mu_tilde, r"The mean in terms of the noise: from the closed form of chapter 7, "
                   r"$x_0 = (x_t - \sqrt{1 - \bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}$.")
    mean.to(frac(add(mul(sqrt(alpha_bar_prev), beta_t, held(x0_of_eps)), mul(sqrt(alpha), 1 - alpha_bar_prev, x_t)),
                 1 - alpha_bar), r"insert $\tilde\mu_t$ and this $x_0$",
            using={**POSTERIOR_DEFS, x0: (x_t - sp.sqrt(1 - alpha * alpha_bar_prev) * eps)
                   / sp.sqrt(alpha * alpha_bar_prev)})
    mean.to(frac(add(mul(frac(beta_t, sqrt(alpha)), held(add(x_t, -mul(sqrt(1 - alpha_bar), eps)))),
                     mul(sqrt(alpha), 1 - alpha_bar_prev, x_t)), 1 - alpha_bar),
            r"$\sqrt{\bar\alpha_{t-1}}/\sqrt{\bar\alpha_t} = 1/\sqrt{\alpha_t}$", using=DEFS)
    mean.to(add(frac(mul(held(add(beta_t, mul(alpha, 1 - alpha_bar_prev))), x_t), mul(sqrt(alpha), 1 - alpha_bar)),
                -frac(mul(beta_t, eps), mul(sqrt(alpha), sqrt(1 - alpha_bar)))),
            r"collect $x_t$ over the denominator $\sqrt{\alpha_t}(1 - \bar\alpha_t)$", using=DEFS)
    mean.to(eps_form, r"$\beta_t + \alpha_t(1 - \bar\alpha_{t-1}) = 1 - \bar\alpha_t$: its coefficient is "
            r"$1/\sqrt{\alpha_t}$", using=DEFS)

    gap = d.chain(add(beta_t, -beta_tilde), r"The posterior variance is at most $\beta_t$:")
    gap.to(mul(beta_t, held(add(1, -frac(1 - alpha_bar_prev, 1 - alpha_bar)))),
           r"insert $\tilde\beta_t$; factor out $\beta_t$", using=POSTERIOR_DEFS)
    gap.to(frac(mul(beta_t, held(add(alpha_bar_prev, -alpha_bar))), 1 - alpha_bar), "one denominator", using=DEFS)
    gap.to(frac(mul(power(beta_t, 2), alpha_bar_prev), 1 - alpha_bar),
           r"$\bar\alpha_{t-1} - \bar\alpha_t = \bar\alpha_{t-1}(1 - \alpha_t) = \bar\alpha_{t-1}\beta_t$", using=DEFS)
    gap.to(sp.Integer(0), r"a square times a positive number over a positive one: $\tilde\beta_t \le \beta_t$",
           relation=">=", using=DEFS, proof=_nonnegative_in_unit_interval)

    abar_0, alpha_1, beta_1, x_1 = sp.symbols(r"\bar{\alpha}_0 alpha_1 beta_1 x_1", positive=True)
    var_1 = d.chain(mul(frac(1 - abar_0, add(1, -mul(alpha_1, abar_0))), beta_1),
                    r"At $t = 1$ the posterior is a point mass at $x_0$ (with $\bar\alpha_0 = 1$):",
                    name=sp.Symbol(r"\tilde{\beta}_1"))
    var_1.to(mul(frac(add(1, -1), add(1, -alpha_1)), beta_1), r"insert $\bar\alpha_0 = 1$", using={abar_0: 1})
    var_1.to(sp.Integer(0), "the numerator vanishes")
    mean_1 = d.chain(frac(add(mul(sqrt(abar_0), beta_1, x0), mul(sqrt(alpha_1), 1 - abar_0, x_1)),
                          add(1, -mul(alpha_1, abar_0))), name=sp.Symbol(r"\tilde{\mu}_1"))
    mean_1.to(frac(add(mul(sqrt(1), beta_1, x0), mul(sqrt(alpha_1), add(1, -1), x_1)), add(1, -alpha_1)),
              r"insert $\bar\alpha_0 = 1$", using={abar_0: 1})
    mean_1.to(frac(mul(beta_1, x0), add(1, -alpha_1)), r"the $x_1$ term vanishes")
    mean_1.to(x0, r"$1 - \alpha_1 = \beta_1$", using={beta_1: 1 - alpha_1})
    d.keep("mean", (sp.sqrt(alpha_bar_prev) * beta * x0 + sp.sqrt(alpha) * (1 - alpha_bar_prev) * x_t)
           / (1 - alpha * alpha_bar_prev))
    d.keep("variance", (1 - alpha_bar_prev) / (1 - alpha * alpha_bar_prev) * beta)
    d.keep("eps_mean", (x_t - beta / sp.sqrt(1 - alpha * alpha_bar_prev) * eps) / sp.sqrt(alpha))
    return d


@derivation
def reverse_variance() -> Derivation:
    """Var(x_{t-1} | x_t) = beta_tilde_t + c^2 Var(x_0 | x_t) by the law of total variance, with c the
    coefficient of x_0 in mu_tilde: at least beta_tilde_t, and above beta_t exactly when
    Var(x_0 | x_t) > 1 - alpha_bar_t. So beta_t is not an upper bound in general."""
    d = Derivation(r"the true reverse variance: $\tilde\beta_t$ bounds it below, $\beta_t$ does not bound it above")
    state_definitions(d)
    coeff = sp.Symbol("c_t", positive=True)
    c_def = frac(mul(sqrt(alpha_bar_prev), beta_t), 1 - alpha_bar)
    d.given(coeff, c_def, r"the coefficient of $x_0$ in $\tilde\mu_t$")
    var0 = sp.Symbol(r"\operatorname{Var}(x_0\mid x_t)", nonnegative=True)
    defs = {**POSTERIOR_DEFS, coeff: sp.sqrt(alpha_bar_prev) * (1 - alpha) / (1 - alpha * alpha_bar_prev)}
    mean_var = sp.Symbol(r"\mathbb{E}\big[\operatorname{Var}(x_{t-1}\mid x_t, x_0)\,\big|\,x_t\big]")
    var_mean = sp.Symbol(r"\operatorname{Var}\big(\mathbb{E}[x_{t-1}\mid x_t, x_0]\,\big|\,x_t\big)")
    d.given(mean_var, beta_tilde, r"the posterior variance $\tilde\beta_t$ does not depend on $x_0$")
    d.given(var_mean, mul(power(coeff, 2), var0), r"$\tilde\mu_t$ is $c_t x_0$ plus a function of $x_t$")
    total = d.chain(add(mean_var, var_mean),
                    r"The law of total variance, over the unknown $x_0$ given $x_t$:",
                    name=sp.Symbol(r"\operatorname{Var}(x_{t-1}\mid x_t)"))
    total.to(add(beta_tilde, mul(power(coeff, 2), var0)), "insert both (given above)",
             using={mean_var: beta_tilde, var_mean: coeff**2 * var0})
    total.to(beta_tilde, r"a variance is $\ge 0$; equality only when $x_t$ determines $x_0$", relation=">=")
    gap = d.chain(frac(add(beta_t, -beta_tilde), power(coeff, 2)),
                  r"It exceeds $\beta_t$ when $c_t^2\operatorname{Var}(x_0\mid x_t) > \beta_t - \tilde\beta_t$, i.e. "
                  r"when $\operatorname{Var}(x_0\mid x_t)$ exceeds")
    gap.to(mul(frac(mul(power(beta_t, 2), alpha_bar_prev), 1 - alpha_bar),
               frac(power(1 - alpha_bar, 2), mul(alpha_bar_prev, power(beta_t, 2)))),
           r"$\beta_t - \tilde\beta_t$ from the posterior; divide by $c_t^2$", using=defs)
    gap.to(1 - alpha_bar, r"$\beta_t^2\bar\alpha_{t-1}$ cancels: the variance of the noise in $x_t$; data spread "
           r"wider than that (a ring of radius 2, say) puts the true variance above $\beta_t$", using=defs)
    d.keep("x0_coefficient", sp.sqrt(alpha_bar_prev) * (1 - alpha) / (1 - alpha * alpha_bar_prev))
    return d
