"""Chapter 1: Bayes' theorem, proved by SymPy as chains a reader follows.

- Bayes' theorem from the product rule, on a general 2x2 joint table;
- a diagnostic test in exact rationals (the base-rate effect);
- Gaussian prior x Gaussian likelihood -> Gaussian posterior, by completing the square; the
  same algebra with y = c x + noise gives DDPM's posterior q(x_{t-1} | x_t, x_0) (chapter 8);
- note 003's density prefactor 1 / (beta sqrt(2 pi)) is not normalised (it must be 1 / sqrt(2 pi beta));
- sequential updating: after n observations the posterior variance is s^2 v0 / (s^2 + n v0) ~ s^2 / n.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.gaussian import Normal, integral, pdf, recip
from diffusion_edu.derivations.proof import Derivation, same_log
from diffusion_edu.derivations.registry import derivation

x, y = sp.symbols("x y", real=True)
prior_mean, obs_scale = sp.symbols("m_0 c", real=True)
prior_var, noise_var = sp.symbols("v_0 s^2", positive=True)
n = sp.symbols("n", positive=True, integer=True)
sum_y = sp.symbols("S_n", real=True)


def _p(text: str) -> sp.Symbol:
    return sp.Symbol(f"P({text})", positive=True)


@derivation
def product_rule() -> Derivation:
    """P(A|B) P(B) = P(A, B) = P(B|A) P(A)  =>  P(A|B) = P(A) P(B|A) / P(B), on any joint table."""
    d = Derivation("Bayes' theorem from the product rule")
    # a general joint distribution of two binary events: P(A,B), P(A,~B), P(~A,B), P(~A,~B)
    j_ab, j_anb, j_nab = sp.symbols(r"P_{AB} P_{A\bar{B}} P_{\bar{A}B}", positive=True)
    j_nanb = sp.Symbol(r"P_{\bar{A}\bar{B}}", positive=True)
    p_a, p_b, p_na = _p("A"), _p("B"), _p(r"\bar{A}")
    a_b, b_a, b_na, na_b = _p(r"A\mid B"), _p(r"B\mid A"), _p(r"B\mid \bar{A}"), _p(r"\bar{A}\mid B")
    table = {j_nanb: 1 - j_ab - j_anb - j_nab}
    defs = {p_a: j_ab + j_anb, p_b: j_ab + j_nab, p_na: j_nab + j_nanb, a_b: j_ab / (j_ab + j_nab),
            b_a: j_ab / (j_ab + j_anb), b_na: j_nab / (j_nab + j_nanb), na_b: j_nab / (j_ab + j_nab)}

    def using(*extra: dict) -> dict:  # definitions first, then the table's last cell
        out = {k: v.subs(table) for k, v in defs.items()}
        out.update(table)
        return out

    d.given(j_nanb, 1 - j_ab - j_anb - j_nab, "any joint table of two events: four cells that sum to one")
    d.given(p_b, add(j_ab, j_nab), "a marginal: sum the row")
    d.given(p_a, add(j_ab, j_anb), "a marginal: sum the column")
    d.given(a_b, frac(j_ab, p_b), r"conditional probability (and likewise $P(B\mid A)$, $P(B\mid\bar A)$)")
    both = d.chain(mul(a_b, p_b), "The product rule, both ways:")
    both.to(j_ab, r"definition of $P(A\mid B)$: the joint probability", using=using())
    both.to(mul(b_a, p_a), r"definition of $P(B\mid A)$", using=using())
    d.chain(a_b, "Divide by $P(B)$:").to(frac(mul(p_a, b_a), p_b), "Bayes' theorem", using=using())
    d.chain(p_b, "The evidence, by total probability:").to(
        add(mul(b_a, p_a), mul(b_na, p_na)), r"split $P(B)$ into the cells with $A$ and with $\bar A$", using=using())
    d.chain(add(a_b, na_b), "The posteriors sum to one:").to(
        frac(add(j_ab, j_nab), p_b), "common denominator", using=using()).to(
        sp.Integer(1), r"the numerator is $P(B)$", using=using())
    return d


PREVALENCE, SENSITIVITY, SPECIFICITY = sp.Rational(1, 100), sp.Rational(99, 100), sp.Rational(95, 100)


@derivation
def diagnostic_test(
    prevalence: sp.Rational = PREVALENCE,
    sensitivity: sp.Rational = SENSITIVITY,
    specificity: sp.Rational = SPECIFICITY,
) -> Derivation:
    """P(disease | positive) in exact rationals. With the defaults: 1/6, although the test is '99% sensitive'."""
    d = Derivation("a diagnostic test, in exact rationals")
    prior, sens, spec = (sp.Rational(v) for v in (prevalence, sensitivity, specificity))
    evidence = sens * prior + (1 - spec) * (1 - prior)
    posterior = sens * prior / evidence
    # the same numbers by counting people ("natural frequencies"): 10,000 people tested
    people = 10_000
    true_pos, false_pos = people * prior * sens, people * (1 - prior) * (1 - spec)
    plus = d.chain(add(mul(sens, prior), mul(1 - spec, 1 - prior)),
                   r"The evidence $P(+) = P(+\mid D)\,P(D) + P(+\mid\bar D)\,P(\bar D)$:", name=_p("+"))
    plus.to(frac(add(true_pos, false_pos), people),
            f"count {people:,} people: {true_pos} true and {false_pos} false positives")
    plus.to(evidence, "reduce the fraction")
    post = d.chain(frac(mul(sens, prior), evidence), r"Bayes' theorem, $P(D\mid +) = P(+\mid D)\,P(D)/P(+)$:",
                   name=_p(r"D\mid +"))
    post.to(frac(true_pos, add(true_pos, false_pos)), "in people: true positives over all positives")
    post.to(posterior, "reduce the fraction")
    p, se, sc = sp.symbols("p s_e s_p", positive=True)
    general = se * p / (se * p + (1 - sc) * (1 - p))
    shown = frac(mul(se, p), add(mul(se, p), mul(1 - sc, 1 - p)))
    numbers = {p: prior, se: sens, sc: spec}
    d.chain(shown, r"The same in symbols ($p$ the prevalence, $s_e$ the sensitivity, $s_p$ the specificity):",
            name=_p(r"D\mid +")).to(posterior, "insert the numbers", using=numbers)
    slope = d.chain(sp.Derivative(shown, p), r"The base-rate effect: the posterior rises with the prevalence, since "
                    r"the numerator $s_e(1 - s_p)$ of its derivative is positive for $s_p < 1$ and the denominator is "
                    r"a square:")
    slope.to(frac(mul(se, 1 - sc), power(add(mul(se, p), mul(1 - sc, 1 - p)), 2)), "the quotient rule")
    d.keep("evidence", evidence)
    d.keep("posterior", posterior)
    d.keep("general", general)
    return d


def _posterior_forms() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(variance, mean, evidence variance) of the Gaussian posterior, in the symbols of this module."""
    post_var = 1 / (1 / prior_var + obs_scale**2 / noise_var)
    post_mean = post_var * (prior_mean / prior_var + obs_scale * y / noise_var)
    return post_var, post_mean, obs_scale**2 * prior_var + noise_var


@derivation
def gaussian_posterior() -> Derivation:
    """Prior x ~ N(m0, v0), likelihood y | x ~ N(c x, s^2): posterior N(m, v) with
    1/v = 1/v0 + c^2/s^2 and m = v (m0/v0 + c y/s^2); evidence y ~ N(c m0, c^2 v0 + s^2)."""
    d = Derivation("Gaussian prior times Gaussian likelihood is the evidence times a Gaussian posterior")
    post_var, post_mean, evidence_var = _posterior_forms()
    m, v = sp.Symbol("m", real=True), sp.Symbol("v", positive=True)
    defs = {m: post_mean, v: post_var}
    d.given(v, recip(add(recip(prior_var), frac(obs_scale**2, noise_var))), "the precisions add")
    d.given(m, mul(v, held(prior_mean / prior_var + obs_scale * y / noise_var)), "the precision-weighted mean")
    log_joint = d.chain(add(sp.log(Normal(x, prior_mean, sp.sqrt(prior_var))),
                            sp.log(Normal(y, obs_scale * x, sp.sqrt(noise_var)))),
                        r"The log of prior times likelihood, $\log p(x) + \log p(y\mid x)$,")
    log_joint.to(add(-frac(power(x - prior_mean, 2), 2 * prior_var), -frac(power(y - obs_scale * x, 2), 2 * noise_var),
                     -frac(sp.log(mul(4, sp.pi**2, prior_var, noise_var)), 2)),
                 r"write out the logs: a quadratic in $x$", proof=same_log_or_equal)
    log_joint.to(add(-frac(power(x - m, 2), 2 * v), -frac(power(y - obs_scale * prior_mean, 2), mul(2, evidence_var)),
                     -frac(sp.log(mul(4, sp.pi**2, v, evidence_var)), 2)),
                 r"complete the square in $x$: the coefficient of $x^2$ is $-\frac{1}{2v}$, that of $x$ is "
                 r"$\frac{m}{v}$; the rest is free of $x$", using=defs, proof=same_log_or_equal)
    joint = d.chain(mul(Normal(x, prior_mean, sp.sqrt(prior_var)), Normal(y, obs_scale * x, sp.sqrt(noise_var))),
                    r"Exponentiate: $p(x)\,p(y\mid x)$ factorises as")
    joint.to(mul(Normal(y, obs_scale * prior_mean, sp.sqrt(evidence_var)), Normal(x, m, sp.sqrt(v))),
             r"the log above: the evidence $p(y)$ times the posterior $p(x\mid y) = \mathcal N(x; m, v)$",
             using=defs, proof=same_log)
    evidence = Normal(y, obs_scale * prior_mean, sp.sqrt(evidence_var))
    marginal = d.chain(integral(mul(evidence, Normal(x, m, sp.sqrt(v)))),
                       r"The evidence normalises the posterior: $p(y) = \int p(x)\,p(y\mid x)\,dx$ is")
    marginal.to(evidence, r"the posterior integrates to $1$")
    d.keep("posterior_mean", post_mean)
    d.keep("posterior_var", post_var)
    d.keep("evidence", pdf(y, obs_scale * prior_mean, sp.sqrt(evidence_var)))
    return d


def same_log_or_equal(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Logs of densities: equal after expanding every log (SymPy needs the hint)."""
    from diffusion_edu.derivations.proof import evaluate, is_zero

    lhs, rhs = evaluate(lhs), evaluate(rhs)
    return is_zero(sp.expand(sp.expand_log(lhs, force=True) - sp.expand_log(rhs, force=True)))


@derivation
def ddpm_posterior_preview() -> Derivation:
    """The same algebra with prior q(x_{t-1}|x_0) and likelihood q(x_t|x_{t-1}) (chapter 8 uses it)."""
    d = Derivation(r"preview of chapter 8: $q(x_{t-1}\mid x_t, x_0)$ is the Gaussian posterior above")
    alpha, alpha_bar_prev = sp.symbols(r"alpha_t \bar{\alpha}_{t-1}", positive=True)
    alpha_bar, beta, beta_tilde = sp.symbols(r"\bar{\alpha}_t beta_t \tilde{\beta}_t", positive=True)
    x0, xt = sp.symbols("x_0 x_t", real=True)
    defs = {beta_tilde: (1 - alpha_bar_prev) * (1 - alpha) / (1 - alpha * alpha_bar_prev),
            alpha_bar: alpha * alpha_bar_prev, beta: 1 - alpha}
    prior_text, likelihood_text = r"the prior $q(x_{t-1}\mid x_0)$", r"the likelihood $q(x_t\mid x_{t-1})$"
    d.given(prior_mean, mul(sqrt(alpha_bar_prev), x0), f"the mean of {prior_text}")
    d.given(prior_var, 1 - alpha_bar_prev, f"the variance of {prior_text}")
    d.given(obs_scale, sqrt(alpha), f"the scale of {likelihood_text}")
    d.given(noise_var, beta, f"the variance of {likelihood_text}; the observation $y$ is $x_t$")
    d.given(alpha_bar, mul(alpha, alpha_bar_prev), r"definition of $\bar\alpha_t$, with $\beta_t = 1 - \alpha_t$")
    subs = {prior_mean: sp.sqrt(alpha_bar_prev) * x0, prior_var: 1 - alpha_bar_prev, obs_scale: sp.sqrt(alpha),
            noise_var: 1 - alpha, y: xt}
    post_var, post_mean, _ = (e.subs(subs) for e in _posterior_forms())
    variance = d.chain(recip(add(recip(1 - alpha_bar_prev), frac(alpha, beta))),
                       r"The posterior variance $v$, with $c^2 = \alpha_t$ and $s^2 = \beta_t$:", name=beta_tilde)
    variance.to(frac(mul(1 - alpha_bar_prev, beta), add(beta, mul(alpha, 1 - alpha_bar_prev))), "common denominator")
    variance.to(frac(mul(1 - alpha_bar_prev, beta), 1 - alpha_bar),
                r"$\beta_t + \alpha_t(1 - \bar\alpha_{t-1}) = 1 - \alpha_t\bar\alpha_{t-1} = 1 - \bar\alpha_t$",
                using=defs)
    mean = d.chain(mul(beta_tilde, held(sqrt(alpha_bar_prev) * x0 / (1 - alpha_bar_prev) + sqrt(alpha) * xt / beta)),
                   "The posterior mean, precision-weighted:", name=sp.Symbol(r"\tilde{\mu}_t"))
    mean.to(frac(add(mul(sqrt(alpha_bar_prev), beta, x0), mul(sqrt(alpha), 1 - alpha_bar_prev, xt)), 1 - alpha_bar),
            r"insert $\tilde\beta_t$ and multiply out", using=defs)
    evidence = d.chain(Normal(xt, mul(sqrt(alpha), sqrt(alpha_bar_prev), x0),
                              sp.sqrt(add(mul(alpha, 1 - alpha_bar_prev), beta))),
                       r"The evidence $\mathcal N(y; c\,m_0, c^2v_0 + s^2)$ is")
    evidence.to(Normal(xt, sqrt(alpha_bar) * x0, sp.sqrt(1 - alpha_bar)),
                r"chapter 7's closed form $q(x_t\mid x_0)$, as it must be", using=defs)
    # note 003 writes each factor as 1 / (variance sqrt(2 pi)) exp(...): that is not a density
    v = sp.symbols("beta_t", positive=True)
    note = d.chain(integral(mul(recip(mul(v, sqrt(2 * sp.pi))), sp.exp(-frac(power(x - y, 2), 2 * v)))),
                   r"Note 003 writes the factors with the variance where the standard deviation belongs:")
    note.to(frac(sqrt(2 * sp.pi * v), mul(v, sqrt(2 * sp.pi))),
            r"the Gaussian integral: $\int e^{-(x-y)^2/(2\beta_t)}\,dx = \sqrt{2\pi\beta_t}$")
    note.to(recip(sqrt(v)), r"not $1$: the prefactor must be $1/\sqrt{2\pi\beta_t}$")
    d.keep("posterior_var", post_var)
    d.keep("posterior_mean", post_mean)
    return d


@derivation
def sequential_updating() -> Derivation:
    """Observations y_i = x + noise, noise ~ N(0, s^2), prior x ~ N(m0, v0). After n of them
    (sum S_n): v_n = s^2 v0 / (s^2 + n v0), m_n = v_n (m0/v0 + S_n/s^2). One more observation
    updates (m_n, v_n) exactly as the one-shot formula for n + 1: yesterday's posterior is today's prior."""
    d = Derivation("sequential Bayesian updating of a Gaussian mean")
    y_next = sp.symbols("y_{n+1}", real=True)
    v_n, v_next, m_n = sp.Symbol("v_n", positive=True), sp.Symbol("v_{n+1}", positive=True), sp.Symbol("m_n", real=True)
    ybar = sp.Symbol(r"\bar{y}", real=True)

    def variance(k: sp.Expr) -> sp.Expr:
        return 1 / (1 / prior_var + k / noise_var)

    def mean(k: sp.Expr, total: sp.Expr) -> sp.Expr:
        return variance(k) * (prior_mean / prior_var + total / noise_var)

    defs = {v_n: variance(n), m_n: mean(n, sum_y), v_next: variance(n + 1)}
    d.given(v_n, recip(add(recip(prior_var), frac(n, noise_var))),
            r"after $n$ observations ($c = 1$): the precisions add")
    d.given(m_n, mul(v_n, held(prior_mean / prior_var + sum_y / noise_var)), r"with $S_n = y_1 + \dots + y_n$")
    d.chain(recip(add(recip(prior_var), frac(n, noise_var))), name=v_n).to(
        frac(mul(noise_var, prior_var), add(noise_var, mul(n, prior_var))), "common denominator")
    step = d.chain(recip(add(recip(v_n), recip(noise_var))),
                   r"One more observation, with $\mathcal N(m_n, v_n)$ as the prior:", name=v_next)
    step.to(recip(add(recip(prior_var), frac(n + 1, noise_var))), r"insert $v_n$: one more precision $1/s^2$",
            using=defs)
    update = d.chain(mul(v_next, held(m_n / v_n + y_next / noise_var)), name=sp.Symbol("m_{n+1}"))
    update.to(mul(v_next, held(prior_mean / prior_var + (sum_y + y_next) / noise_var)),
              r"insert $m_n$ and $v_n$: the one-shot formula with $S_{n+1} = S_n + y_{n+1}$", using=defs)
    shrink = d.chain(sp.Limit(mul(n, frac(mul(noise_var, prior_var), add(noise_var, mul(n, prior_var)))), n, sp.oo),
                     r"The variance shrinks like $s^2/n$:")
    shrink.to(sp.Limit(frac(mul(noise_var, prior_var), add(noise_var / n, prior_var)), n, sp.oo), r"divide by $n$")
    shrink.to(noise_var, r"$s^2/n \to 0$")
    forget = d.chain(sp.Limit(mul(variance(n), held(prior_mean / prior_var + n * ybar / noise_var)), n, sp.oo),
                     r"and the mean tends to the sample mean $\bar y = S_n/n$ (the prior is forgotten):")
    forget.to(ybar, r"divide numerator and denominator by $n$")
    d.keep("variance_n", variance(n))
    d.keep("mean_n", mean(n, sum_y))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
