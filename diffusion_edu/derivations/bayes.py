"""Chapter 1: Bayes' theorem, proved by SymPy.

- Bayes' theorem from the product rule, on a general 2x2 joint table;
- a diagnostic test in exact rationals (the base-rate effect);
- Gaussian prior x Gaussian likelihood -> Gaussian posterior, by completing the square; the
  same algebra with y = c x + noise gives DDPM's posterior q(x_{t-1} | x_t, x_0) (chapter 8);
- note 003's density prefactor 1 / (beta sqrt(2 pi)) is not normalised (it must be 1 / sqrt(2 pi beta));
- sequential updating: after n observations the posterior variance is s^2 v0 / (s^2 + n v0) ~ s^2 / n.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.gaussian import pdf
from diffusion_edu.derivations.proof import Derivation, same_log

x, y = sp.symbols("x y", real=True)
prior_mean, obs_scale = sp.symbols("m_0 c", real=True)
prior_var, noise_var = sp.symbols("v_0 s^2", positive=True)
n = sp.symbols("n", positive=True, integer=True)
sum_y = sp.symbols("S_n", real=True)


def product_rule() -> Derivation:
    """P(A|B) P(B) = P(A, B) = P(B|A) P(A)  =>  P(A|B) = P(A) P(B|A) / P(B), on any joint table."""
    d = Derivation("Bayes' theorem from the product rule")
    # a general joint distribution of two binary events: P(A,B), P(A,~B), P(~A,B), P(~A,~B)
    j_ab, j_anb, j_nab = sp.symbols("P_{AB} P_{A\\bar{B}} P_{\\bar{A}B}", positive=True)
    j_nanb = 1 - j_ab - j_anb - j_nab
    p_a, p_b = j_ab + j_anb, j_ab + j_nab
    a_given_b, b_given_a = j_ab / p_b, j_ab / p_a
    b_given_not_a = j_nab / (j_nab + j_nanb)
    d.equal("product rule, conditioning on B: P(A|B) P(B) = P(A, B)", a_given_b * p_b, j_ab)
    d.equal("product rule, conditioning on A: P(B|A) P(A) = P(A, B)", b_given_a * p_a, j_ab)
    d.equal("divide by P(B): Bayes' theorem", a_given_b, p_a * b_given_a / p_b)
    d.equal(
        "the evidence by total probability: P(B) = P(B|A) P(A) + P(B|~A) P(~A)",
        p_b,
        b_given_a * p_a + b_given_not_a * (1 - p_a),
    )
    d.equal(
        "the posteriors of A and ~A sum to 1",
        a_given_b + b_given_not_a * (1 - p_a) / p_b,
        1,
    )
    return d


PREVALENCE, SENSITIVITY, SPECIFICITY = sp.Rational(1, 100), sp.Rational(99, 100), sp.Rational(95, 100)


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
    sick = people * prior
    true_pos, false_pos = sick * sens, (people - sick) * (1 - spec)
    d.equal("P(+) = P(+|D) P(D) + P(+|~D) P(~D) = (true + false positives) / people",
            evidence, (true_pos + false_pos) / people)
    d.equal("P(D|+) = P(+|D) P(D) / P(+) = true positives / all positives", posterior,
            true_pos / (true_pos + false_pos))
    p, se, sc = sp.symbols("p s_e s_p", positive=True)
    general = se * p / (se * p + (1 - sc) * (1 - p))
    d.equal("the same in symbols (p: prevalence, s_e: sensitivity, s_p: specificity)",
            general.subs({p: prior, se: sens, sc: spec}), posterior)
    d.equal(
        "the base-rate effect: dP(D|+)/dp > 0 (for s_p < 1), so a rare disease means a small P(D|+)",
        sp.diff(general, p),
        se * (1 - sc) / (se * p + (1 - sc) * (1 - p)) ** 2,
    )
    d.keep("evidence", evidence)
    d.keep("posterior", posterior)
    d.keep("general", general)
    return d


def gaussian_posterior() -> Derivation:
    """Prior x ~ N(m0, v0), likelihood y | x ~ N(c x, s^2): posterior N(m, v) with
    1/v = 1/v0 + c^2/s^2 and m = v (m0/v0 + c y/s^2); evidence y ~ N(c m0, c^2 v0 + s^2)."""
    d = Derivation("Gaussian prior x Gaussian likelihood = evidence x Gaussian posterior")
    prior = pdf(x, prior_mean, sp.sqrt(prior_var))
    likelihood = pdf(y, obs_scale * x, sp.sqrt(noise_var))
    post_var = 1 / (1 / prior_var + obs_scale**2 / noise_var)
    post_mean = post_var * (prior_mean / prior_var + obs_scale * y / noise_var)
    posterior = pdf(x, post_mean, sp.sqrt(post_var))
    evidence = pdf(y, obs_scale * prior_mean, sp.sqrt(obs_scale**2 * prior_var + noise_var))
    log_joint = sp.expand(sp.expand_log(sp.log(prior * likelihood), force=True))
    d.equal(
        "log p(x) p(y|x) is quadratic in x: the coefficient of x^2 is -(1/v0 + c^2/s^2) / 2",
        sp.diff(log_joint, x, 2) / 2,
        -1 / (2 * post_var),
        note="the precisions add",
    )
    d.equal(
        "the coefficient of x is m0/v0 + c y/s^2 (completing the square gives the mean)",
        sp.diff(log_joint, x).subs(x, 0),
        post_mean / post_var,
    )
    d.equal(
        "so d/dx log p(x) p(y|x) = d/dx log N(x; m, v): the posterior is N(m, v)",
        sp.diff(log_joint, x),
        sp.diff(sp.log(posterior), x),
    )
    d.equal(
        "what is left over is the evidence: p(x) p(y|x) = N(y; c m0, c^2 v0 + s^2) N(x; m, v)",
        (prior * likelihood).subs(x, post_mean),
        (evidence * posterior).subs(x, post_mean),
        proof=same_log,
    )
    d.equal(
        "the evidence normalises the posterior: integral over x of p(x) p(y|x) = p(y)",
        sp.Integral(evidence * posterior, (x, -sp.oo, sp.oo)),
        evidence,
    )
    d.keep("posterior_mean", post_mean)
    d.keep("posterior_var", post_var)
    d.keep("evidence", evidence)
    return d


def ddpm_posterior_preview() -> Derivation:
    """The same algebra with prior q(x_{t-1}|x_0) and likelihood q(x_t|x_{t-1}) (chapter 8 uses it)."""
    d = Derivation("preview of chapter 8: q(x_{t-1} | x_t, x_0) is the Gaussian posterior above")
    alpha, alpha_bar_prev = sp.symbols("alpha_t alphabar_{t-1}", positive=True)
    x0, xt = sp.symbols("x_0 x_t", real=True)
    beta = 1 - alpha
    alpha_bar = alpha * alpha_bar_prev
    general = gaussian_posterior()
    subs = {
        prior_mean: sp.sqrt(alpha_bar_prev) * x0,
        prior_var: 1 - alpha_bar_prev,
        obs_scale: sp.sqrt(alpha),
        noise_var: beta,
        y: xt,
    }
    post_var = general["posterior_var"].subs(subs)
    post_mean = general["posterior_mean"].subs(subs)
    d.equal(
        "variance: beta~_t = (1 - abar_{t-1}) beta_t / (1 - abar_t)",
        post_var,
        (1 - alpha_bar_prev) * beta / (1 - alpha_bar),
    )
    d.equal(
        "mean: (sqrt(abar_{t-1}) beta_t x_0 + sqrt(alpha_t) (1 - abar_{t-1}) x_t) / (1 - abar_t)",
        post_mean,
        (sp.sqrt(alpha_bar_prev) * beta * x0 + sp.sqrt(alpha) * (1 - alpha_bar_prev) * xt) / (1 - alpha_bar),
    )
    d.equal(
        "the evidence is q(x_t|x_0) = N(sqrt(abar_t) x_0, 1 - abar_t), as it must be",
        general["evidence"].subs(subs),
        pdf(xt, sp.sqrt(alpha_bar) * x0, sp.sqrt(1 - alpha_bar)),
    )
    # note 003 writes each factor as 1 / (variance sqrt(2 pi)) exp(...): that is not a density
    v = sp.symbols("beta_t", positive=True)
    note_003 = sp.exp(-((x - y) ** 2) / (2 * v)) / (v * sp.sqrt(2 * sp.pi))
    d.equal(
        "note 003's factor 1/(beta sqrt(2 pi)) exp(-(x - m)^2 / (2 beta)) integrates to 1/sqrt(beta), not 1",
        sp.Integral(note_003, (x, -sp.oo, sp.oo)),
        1 / sp.sqrt(v),
        note="the prefactor needs the standard deviation: 1/sqrt(2 pi beta)",
    )
    d.keep("posterior_var", post_var)
    d.keep("posterior_mean", post_mean)
    return d


def sequential_updating() -> Derivation:
    """Observations y_i = x + noise, noise ~ N(0, s^2), prior x ~ N(m0, v0). After n of them
    (sum S_n): v_n = s^2 v0 / (s^2 + n v0), m_n = v_n (m0/v0 + S_n/s^2). One more observation
    updates (m_n, v_n) exactly as the one-shot formula for n + 1: yesterday's posterior is today's prior."""
    d = Derivation("sequential Bayesian updating of a Gaussian mean")
    y_next = sp.symbols("y_{n+1}", real=True)

    def variance(k: sp.Expr) -> sp.Expr:
        return 1 / (1 / prior_var + k / noise_var)

    def mean(k: sp.Expr, total: sp.Expr) -> sp.Expr:
        return variance(k) * (prior_mean / prior_var + total / noise_var)

    one = gaussian_posterior()
    step = {obs_scale: 1, prior_mean: sp.Symbol("M"), prior_var: sp.Symbol("V", positive=True), y: y_next}
    step_var = one["posterior_var"].subs(step)
    step_mean = one["posterior_mean"].subs(step)
    current = {sp.Symbol("M"): mean(n, sum_y), sp.Symbol("V", positive=True): variance(n)}
    d.equal("after n observations: v_n = s^2 v0 / (s^2 + n v0)", variance(n),
            noise_var * prior_var / (noise_var + n * prior_var))
    d.equal("update v_n with one more observation: v_{n+1}", step_var.subs(current), variance(n + 1))
    d.equal("update m_n with y_{n+1}: m_{n+1} uses S_{n+1} = S_n + y_{n+1}", step_mean.subs(current),
            mean(n + 1, sum_y + y_next))
    d.equal("n v_n -> s^2: the posterior variance shrinks like s^2 / n", sp.Limit(n * variance(n), n, sp.oo),
            noise_var)
    d.equal("and the posterior mean -> the sample mean S_n / n (the prior is forgotten)",
            sp.Limit(mean(n, n * sp.Symbol("ybar", real=True)), n, sp.oo), sp.Symbol("ybar", real=True))
    d.keep("variance_n", variance(n))
    d.keep("mean_n", mean(n, sum_y))
    return d


def all_derivations() -> list[Derivation]:
    return [product_rule(), diagnostic_test(), gaussian_posterior(), ddpm_posterior_preview(), sequential_updating()]
