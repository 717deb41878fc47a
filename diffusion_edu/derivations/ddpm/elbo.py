"""Chapter 8: DDPM's ELBO (Ho et al. 2020, eq. 5), proved by SymPy. It splits into
L_T + sum L_{t-1} + L_0: one instance (T = 3) step by step, with Bayes' rule inserted and the
log q(x_t | x_0) terms telescoping, then every T = 1..6; the KL of two Gaussians with equal variance,
L_{t-1} as a weighted eps error, and L_T."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm.notation import (
    DEFS,
    HALF,
    Bracket,
    Expect,
    alpha,
    alpha_bar,
    alpha_bar_prev,
    beta_t,
    eps,
    eps_hat,
    log_term,
    mu_tilde,
    s_t,
    square_term,
    x0,
    x_t,
)
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation


def _elbo_symbols(T: int) -> dict[str, dict[int, sp.Symbol] | sp.Symbol]:
    """The log-densities of the ELBO for T steps, as symbols named by their LaTeX (``\\operatorname{log}``
    renders as ``\\log``; the line breaker counts its three letters)."""
    log = r"\operatorname{log}"
    return {
        "prior": sp.Symbol(rf"{log} p(x_{{{T}}})"),
        "step": {t: sp.Symbol(rf"{log} q(x_{{{t}}}\mid x_{{{t - 1}}})") for t in range(1, T + 1)},
        "marg": {t: sp.Symbol(rf"{log} q(x_{{{t}}}\mid x_{{0}})") for t in range(1, T + 1)},  # step[1] is marg[1]
        "post": {t: sp.Symbol(rf"{log} q(x_{{{t - 1}}}\mid x_{{{t}}}, x_{{0}})") for t in range(2, T + 1)},
        "model": {t: sp.Symbol(rf"{log} p_\theta(x_{{{t - 1}}}\mid x_{{{t}}})") for t in range(1, T + 1)},
    }


_RATIO = {t: sp.Symbol(rf"R_{{{t}}}") for t in range(1, 64)}
_ELL_T, _ELL = sp.Symbol(r"\ell_{T}"), {k: sp.Symbol(rf"\ell_{{{k}}}") for k in range(0, 64)}


def _elbo_meaning(T: int) -> dict[sp.Symbol, sp.Expr]:
    """R_t, l_T, l_{t-1}, l_0 in terms of the log-densities, with Bayes' rule inserted for t >= 2."""
    sym = _elbo_symbols(T)
    step, marg, post, model = sym["step"], sym["marg"], sym["post"], sym["model"]
    bayes = {t: post[t] + marg[t] - marg[t - 1] for t in range(2, T + 1)}
    out: dict[sp.Symbol, sp.Expr] = {_RATIO[t]: bayes.get(t, step[t]) - model[t] for t in range(1, T + 1)}
    out[_ELL_T] = marg[T] - sym["prior"]
    out.update({_ELL[t - 1]: post[t] - model[t] for t in range(2, T + 1)})
    out[_ELL[0]] = -model[1]
    return out


@derivation
def elbo_decomposition(max_T: int = 6) -> Derivation:
    """-log p_theta(x_{0:T}) / q(x_{1:T} | x_0) = l_T + sum_{t>=2} l_{t-1} + l_0, pointwise: shown step by
    step for T = 3, then proved for every T = 1..max_T; their expectations under q are L_T, L_{t-1}, L_0.

    The only fact used is Bayes' rule with the Markov property, for t >= 2,
    q(x_t | x_{t-1}) = q(x_{t-1} | x_t, x_0) q(x_t | x_0) / q(x_{t-1} | x_0).
    Then the KL of two Gaussians with equal variance, L_{t-1} as a weighted eps error, and L_T.
    """
    d = Derivation(rf"the ELBO splits into $L_T + \sum_{{t\ge2}} L_{{t-1}} + L_0$ ($T = 1, \dots, {max_T}$)")
    d.given(sp.Symbol(r"R_{t}"), sp.Symbol(r"\log\frac{q(x_t\mid x_{t-1})}{p_\theta(x_{t-1}\mid x_t)}"),
            "one forward step against one reverse step")
    d.given(_ELL_T, sp.Symbol(r"\log\frac{q(x_T\mid x_0)}{p(x_T)}"), r"its expectation is $L_T$, a KL")
    d.given(sp.Symbol(r"\ell_{t-1}"), sp.Symbol(r"\log\frac{q(x_{t-1}\mid x_t, x_0)}{p_\theta(x_{t-1}\mid x_t)}"),
            r"its expectation is $L_{t-1}$, a KL ($t \ge 2$)")
    d.given(_ELL[0], sp.Symbol(r"-\log p_\theta(x_{0}\mid x_{1})"), r"its expectation is $L_0$, the decoder term")
    T = 3
    sym = _elbo_symbols(T)
    prior, step, marg, post, model = sym["prior"], sym["step"], sym["marg"], sym["post"], sym["model"]
    meaning: dict[sp.Symbol, sp.Expr] = {}

    def ratio(top: str, bottom: str, value: sp.Expr) -> sp.Symbol:
        """``log(top / bottom)`` as one displayed symbol (``\\operatorname{log}``, which renders as ``\\log``,
        so the line breaker counts its three letters); its value is kept for the proofs."""
        shown = sp.Symbol(rf"\operatorname{{log}}\frac{{{top}}}{{{bottom}}}")
        meaning[shown] = value
        return shown

    def q(a: int, b: int, c: int | None = None) -> str:
        return rf"q(x_{{{a}}}\mid x_{{{b}}}{f', x_{{{c}}}' if c is not None else ''})"

    def p(a: int, b: int) -> str:
        return rf"p_\theta(x_{{{a}}}\mid x_{{{b}}})"

    forward = [ratio(q(t, t - 1), p(t - 1, t), step[t] - model[t]) for t in range(1, T + 1)]
    reverse = {t: ratio(q(t - 1, t, 0), p(t - 1, t), post[t] - model[t]) for t in range(2, T + 1)}
    marginal = {t: ratio(q(t, 0), q(t - 1, 0), marg[t] - marg[t - 1]) for t in range(2, T + 1)}
    last = ratio(q(T, 0), rf"p(x_{{{T}}})", marg[T] - prior)
    bayes = {step[t]: post[t] + marg[t] - marg[t - 1] for t in range(2, T + 1)}
    d.given(sp.Symbol(r"q(x_{t}\mid x_{t-1})"),
            sp.Symbol(r"\frac{q(x_{t-1}\mid x_t, x_0)\,q(x_t\mid x_0)}{q(x_{t-1}\mid x_0)}"),
            r"Bayes' rule with the Markov property, $t \ge 2$")
    c = d.chain(add(-prior, *(_RATIO[t] for t in range(1, T + 1))),
                r"For $T = 3$: the negative log of $p_\theta(x_{0:3})/q(x_{1:3}\mid x_0)$ is a sum of log-ratios, "
                r"one per step,", name=sp.Symbol(r"-\log\frac{p_\theta(x_{0:3})}{q(x_{1:3}\mid x_0)}"))
    c.to(add(-prior, *forward), "write out the log-ratios",
         using={**meaning, **{_RATIO[t]: step[t] - model[t] for t in range(1, T + 1)}})
    c.to(add(-prior, forward[0], *(Bracket(add(reverse[t], marginal[t])) for t in range(2, T + 1))),
         r"Bayes' rule for $t = 2, 3$", using={k: value.subs(bayes) for k, value in meaning.items()})
    c.to(add(Bracket(add(marg[1], *(marginal[t] for t in range(2, T + 1)))), -prior, -model[1],
             *(reverse[t] for t in range(2, T + 1))),
         r"split the first ratio; gather the marginals $q(x_t\mid x_0)$", using=meaning)
    c.to(add(marg[T], -prior, -model[1], *(reverse[t] for t in range(2, T + 1))),
         r"the bracket telescopes to $\log q(x_3\mid x_0)$", using=meaning)
    c.to(add(last, *(reverse[t] for t in range(T, 1, -1)), -model[1]), "regroup: one term per level", using=meaning)
    c.to(add(_ELL_T, *(_ELL[t - 1] for t in range(T, 1, -1)), _ELL[0]), r"name the terms (definitions above)",
         using={**meaning, _ELL_T: marg[T] - prior, _ELL[0]: -model[1],
                **{_ELL[t - 1]: post[t] - model[t] for t in range(2, T + 1)}})
    for T in range(1, max_T + 1):
        sym = _elbo_symbols(T)
        general = d.chain(add(-sym["prior"], *(_RATIO[t] for t in range(1, T + 1))),
                          r"The same steps for every $T$ up to "
                          rf"${max_T}$ (taking $\mathbb E_q$ turns each $\ell$ into its $L$):" if T == 1 else "")
        general.to(add(_ELL_T, *(_ELL[k] for k in range(T - 1, -1, -1))),
                   rf"$T = {T}$: Bayes' rule for $t \ge 2$, then the telescoping" if T > 1
                   else r"$T = 1$: $q(x_1\mid x_0)$ is the first step itself", using=_elbo_meaning(T))

    y, a, b = sp.symbols("y a b", real=True)
    var = power(s_t, 2)
    kl = d.chain(Expect(add(square_term(y, a, var), log_term(var), square_term(y, b, var, sign=1),
                            log_term(var, sign=1)), y, a, var),
                 r"$L_{t-1}$ compares two Gaussians; with the same variance $s_t^2$ their KL is",
                 name=sp.Symbol(r"\operatorname{KL}\big(\mathcal N(a, s_t^2)\,\|\,\mathcal N(b, s_t^2)\big)"))
    kl.to(Expect(frac(add(power(add(y, -b), 2), -power(add(y, -a), 2)), mul(2, var)), y, a, var),
          "the normalisers are equal and cancel")
    kl.to(Expect(frac(add(mul(2, held(add(a, -b)), y), power(b, 2), -power(a, 2)), mul(2, var)), y, a, var),
          r"multiply out the squares: $y^2$ cancels")
    kl.to(frac(add(mul(2, held(add(a, -b)), a), power(b, 2), -power(a, 2)), mul(2, var)),
          r"take expectations: $\mathbb E\,y = a$")
    kl.to(frac(power(add(a, -b), 2), mul(2, var)), r"multiply out: $a^2 - 2ab + b^2$")

    mu_theta = sp.Symbol(r"\mu_\theta", real=True)
    model_mean = frac(add(x_t, -mul(frac(beta_t, sqrt(1 - alpha_bar)), eps_hat)), sqrt(alpha))
    true_mean = frac(add(x_t, -mul(frac(beta_t, sqrt(1 - alpha_bar)), eps)), sqrt(alpha))
    means = {**DEFS, mu_tilde: (x_t - (1 - alpha) / sp.sqrt(1 - alpha * alpha_bar_prev) * eps) / sp.sqrt(alpha),
             mu_theta: (x_t - (1 - alpha) / sp.sqrt(1 - alpha * alpha_bar_prev) * eps_hat) / sp.sqrt(alpha)}
    weight_chain = d.chain(frac(power(add(mu_tilde, -mu_theta), 2), mul(2, var)),
                           r"So $L_{t-1}$, up to a constant free of $\theta$, with the model's mean written like "
                           r"$\tilde\mu_t$ in terms of the noise, "
                           r"$\mu_\theta = (x_t - \beta_t\hat\epsilon/\sqrt{1-\bar\alpha_t})/\sqrt{\alpha_t}$, "
                           r"is a weighted noise error:", name=sp.Symbol(r"L_{t-1}"))
    weight_chain.to(frac(power(add(true_mean, -model_mean), 2), mul(2, var)),
                    r"insert both means ($\tilde\mu_t$ in terms of $\epsilon$, proved above)", using=means)
    weight_chain.to(frac(power(mul(frac(beta_t, mul(sqrt(alpha), sqrt(1 - alpha_bar))), held(add(eps_hat, -eps))), 2),
                         mul(2, var)), r"the $x_t$ terms cancel", using=DEFS)
    weight_chain.to(mul(frac(power(beta_t, 2), mul(2, var, alpha, 1 - alpha_bar)), power(add(eps, -eps_hat), 2)),
                    r"square out; $L_{\mathrm{simple}}$ keeps $(\epsilon - \hat\epsilon)^2$ and drops this weight",
                    using=DEFS)

    a_T = sp.Symbol(r"\bar{\alpha}_T", positive=True)
    w = add(1, -a_T)
    m = mul(sqrt(a_T), x0)
    log_2pi = mul(HALF, sp.log(mul(2, sp.pi)))
    prior_kl = d.chain(Expect(add(square_term(y, m, w), log_term(w), frac(power(y, 2), 2), log_2pi), y, m, w),
                       r"$L_T$ compares $q(x_T\mid x_0)$ with the prior $\mathcal N(0, 1)$, per dimension:",
                       name=sp.Symbol(r"L_T"))
    prior_kl.to(Expect(add(square_term(y, m, w), frac(power(y, 2), 2), mul(-HALF, sp.log(w))), y, m, w),
                r"the $\log 2\pi$ terms cancel")
    prior_kl.to(add(-HALF, frac(add(mul(a_T, power(x0, 2)), w), 2), mul(-HALF, sp.log(w))),
                r"take expectations: $\mathbb E(y - \sqrt{\bar\alpha_T}x_0)^2 = 1 - \bar\alpha_T$ and "
                r"$\mathbb E\,y^2 = \bar\alpha_T x_0^2 + 1 - \bar\alpha_T$")
    prior_kl.to(frac(add(mul(a_T, held(add(power(x0, 2), -1))), -sp.log(w)), 2),
                r"collect: no parameters, a constant of training")
    d.keep("weight", (1 - alpha) ** 2 / (2 * s_t**2 * alpha * (1 - alpha * alpha_bar_prev)))
    d.keep("L_T", (a_T * (x0**2 - 1) - sp.log(1 - a_T)) / 2)
    return d
