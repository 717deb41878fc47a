"""Chapters 7-9: DDPM (Ho et al. 2020) and its schedules (Nichol & Dhariwal 2021), proved by SymPy.

- the forward process: the closed form q(x_t | x_0) from T = 1..4 explicit steps and by induction
  for every t; what note 000's x_t = x_{t-1} + eps and x_t = sqrt(1 - beta) x_{t-1} + beta eps do
  instead; note 003's slip when merging two noises and its normalising constants;
- the posterior q(x_{t-1} | x_t, x_0) by completing the square: mean, variance beta_tilde, and the
  whole density (normalisation included); the mean in terms of eps;
- the ELBO split into L_T + sum L_{t-1} + L_0 (pointwise, for T = 1..6), the KL of two Gaussians
  with equal variance, and the reduction of L_{t-1} to a weighted eps error: L_simple drops the weight;
- the eps / x0 / v parameterisations, their conversions and their loss weights (through the SNR);
- the schedules: the linear schedule's sum of betas and the bound alpha_bar <= exp(-sum beta),
  the cosine schedule's SNR and why its last beta must be clipped.

Index convention here is the paper's: t = 1..T, alpha_bar_0 = 1 (the package stores index t - 1).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation

x0, x_t, x_prev, eps, eps_hat, v = sp.symbols(r"x_0 x_t x_{t-1} epsilon \hat{\epsilon} v", real=True)
alpha = sp.symbols("alpha_t", positive=True)  # alpha_t = 1 - beta_t, in (0, 1)
alpha_bar_prev = sp.symbols(r"\bar{\alpha}_{t-1}", positive=True)  # in (0, 1]
alpha_bar = sp.symbols(r"\bar{\alpha}_t", positive=True)  # in (0, 1)
sigma = sp.symbols("sigma_t", positive=True)
beta = 1 - alpha


def log_normal(x_: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """log N(x; mean, var) = -(x - mean)^2 / (2 var) - log(2 pi var) / 2."""
    return -((x_ - mean) ** 2) / (2 * var) - sp.log(2 * sp.pi * var) / 2


def expect_normal(expr: sp.Expr, y: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr(y)] for y ~ N(mean, std^2), integrated over z with y = mean + std z (fast for SymPy)."""
    z = sp.Dummy("z", real=True)
    integrand = sp.expand(expr.subs(y, mean + std * z)) * sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    return sp.integrate(integrand, (z, -sp.oo, sp.oo))


# ---------------------------------------------------------------------------------------------
# chapter 7: the forward process
# ---------------------------------------------------------------------------------------------


@derivation
def forward_explicit_steps(max_steps: int = 4) -> Derivation:
    """Unroll x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps_t for t = 1..max_steps.

    x_t is x_0 times a coefficient plus a sum of independent standard normals eps_1..eps_t with
    coefficients c_i; by the sum rule (chapter 2) the noise is N(0, sum c_i^2). Both are proved.
    """
    d = Derivation(f"the forward process, unrolled for $T = 1, \\dots, {max_steps}$ explicit steps")
    alphas = sp.symbols(f"alpha_1:{max_steps + 1}", positive=True)
    noises = sp.symbols(f"epsilon_1:{max_steps + 1}", real=True)
    d.given(sp.Symbol(r"\bar{\alpha}_t"), sp.Product(sp.Symbol(r"\alpha_s"), (sp.Symbol("s"), 1, sp.Symbol("t"))),
            r"the product of the $\alpha_s$ up to $t$")
    x = x0
    for t in range(1, max_steps + 1):
        x = sp.expand(sp.sqrt(alphas[t - 1]) * x + sp.sqrt(1 - alphas[t - 1]) * noises[t - 1])
        product = sp.Mul(*alphas[:t])
        coefficients = [x.coeff(noises[i]) for i in range(t)]
        c = d.chain(add(*(power(ci, 2) for ci in coefficients)),
                    f"$T = {t}$: the noise $\\sum_i c_i\\epsilon_i$ has variance $\\sum_i c_i^2$ (independent terms)")
        c.to(1 - product, "multiply out: the sum telescopes")
        if t > 1:
            d.chain(x.coeff(x0), f"$T = {t}$: the coefficient of $x_0$ is a product of roots").to(
                sqrt(product), r"$\sqrt{a}\,\sqrt{b} = \sqrt{ab}$ for $a, b > 0$")
        d.keep(f"x_{t}", x)
    return d


@derivation
def forward_closed_form() -> Derivation:
    """Induction: if x_{t-1} = sqrt(abar_{t-1}) x_0 + sqrt(1 - abar_{t-1}) eps', then
    x_t = sqrt(alpha_t) x_{t-1} + sqrt(1 - alpha_t) eps = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps''."""
    d = Derivation(r"the closed form $q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\ "
                   r"(1 - \bar\alpha_t) I\big)$, by induction over $t$")
    eps_prev = sp.Symbol(r"\epsilon'", real=True)
    hypothesis = add(mul(sqrt(alpha_bar_prev), x0), mul(sqrt(1 - alpha_bar_prev), eps_prev))
    d.given(alpha_bar, mul(alpha, alpha_bar_prev), r"definition of $\bar\alpha_t$, with $\bar\alpha_0 = 1$")
    d.given(x_prev, hypothesis, r"the induction hypothesis, $\epsilon' \sim \mathcal N(0, I)$")
    one_step = d.chain(add(mul(sqrt(alpha), x_prev), mul(sqrt(1 - alpha), eps)),
                       r"One more forward step, with fresh noise $\epsilon \sim \mathcal N(0, I)$ "
                       r"independent of $\epsilon'$:",
                       name=x_t)
    one_step.to(add(mul(sqrt(alpha), held(hypothesis)), mul(sqrt(1 - alpha), eps)),
                "insert the induction hypothesis", using={x_prev: hypothesis})
    one_step.to(add(mul(sqrt(mul(alpha, alpha_bar_prev)), x0), mul(sqrt(mul(alpha, 1 - alpha_bar_prev)), eps_prev),
                    mul(sqrt(1 - alpha), eps)), r"multiply out; $\sqrt{a}\,\sqrt{b} = \sqrt{ab}$")
    one_step.to(add(mul(sqrt(alpha_bar), x0), mul(sqrt(mul(alpha, 1 - alpha_bar_prev)), eps_prev),
                    mul(sqrt(1 - alpha), eps)), r"definition of $\bar\alpha_t$",
                using={alpha_bar: alpha * alpha_bar_prev})
    variance = d.chain(add(mul(alpha, 1 - alpha_bar_prev), 1 - alpha),
                       r"The two noise terms are independent Gaussians, so their variances add:")
    variance.to(1 - alpha * alpha_bar_prev, r"multiply out: $\alpha_t$ cancels")
    variance.to(1 - alpha_bar, r"definition of $\bar\alpha_t$", using={alpha_bar: alpha * alpha_bar_prev})
    base = d.chain(add(mul(alpha, 1 - sp.Symbol(r"\bar{\alpha}_0")), 1 - alpha),
                   r"The base case $t = 1$ is the same computation with $\bar\alpha_0 = 1$; the variance:")
    base.to(add(mul(alpha, add(1, -1)), 1 - alpha), r"$\bar\alpha_0 = 1$", using={sp.Symbol(r"\bar{\alpha}_0"): 1})
    base.to(1 - alpha, "the first term vanishes: one step of noise, variance $1 - \\alpha_1 = 1 - \\bar\\alpha_1$")
    var_prev = sp.Symbol(r"\operatorname{Var} x_{t-1}", positive=True)
    unit = d.chain(add(mul(alpha, var_prev), 1 - alpha), r"Why the mean is scaled by $\sqrt{1 - \beta_t}$: the "
                   "variance of one step,", name=sp.Symbol(r"\operatorname{Var} x_t"))
    unit.to(add(mul(alpha, 1), 1 - alpha), r"data of unit variance, $\operatorname{Var} x_{t-1} = 1$",
            using={var_prev: 1})
    unit.to(sp.Integer(1), "the variance is preserved at every step")
    d.keep("mean", sp.sqrt(alpha_bar) * x0)
    d.keep("variance", 1 - alpha_bar)
    return d


def note_errors_forward() -> Derivation:
    """What the notes' forward formulas would do, proved."""
    d = Derivation("the notes' forward formulas, checked")
    t, s, b, var = sp.symbols("t s beta V", positive=True)
    # note 000: x_t = x_{t-1} + eps => x_t = x_0 + eps_1 + ... + eps_t
    d.equal("note 000, x_t = x_{t-1} + eps: Var(x_t | x_0) = sum of t unit variances = t",
            sp.Sum(1, (s, 1, t)), t, note="grows without bound; x_0 is never forgotten")
    # note 000: x_t = sqrt(1 - beta) x_{t-1} + beta eps, constant beta: stationary variance V = (1 - beta) V + beta^2
    stationary = sp.solve(sp.Eq(var, (1 - b) * var + b**2), var)
    d.equal("note 000, + beta eps: the stationary variance solves V = (1 - beta) V + beta^2", stationary[0], b,
            note="so x_T -> N(0, beta), about N(0, 0.02) for DDPM's betas, not N(0, 1)")
    d.equal("correct, + sqrt(beta) eps: V = (1 - beta) V + beta has V = 1",
            sp.solve(sp.Eq(var, (1 - b) * var + b), var)[0], 1)
    # note 003: merging sqrt((1 - b_t) b_{t-1}) eps' + sqrt(b_t) eps
    b_t, b_s = sp.symbols("beta_t beta_{t-1}", positive=True)
    correct = sp.sqrt((1 - b_t) * b_s + b_t)
    d.equal("merged noise std sqrt((1 - beta_t) beta_{t-1} + beta_t) = sqrt(1 - (1 - beta_t)(1 - beta_{t-1}))",
            correct**2, 1 - (1 - b_t) * (1 - b_s))
    note_003 = sp.sqrt((1 - b_t) * b_s) + b_t
    half = {b_t: sp.Rational(1, 2), b_s: sp.Rational(1, 2)}
    d.true("note 003's 'sqrt((1 - beta_t) beta_{t-1}) + beta_t' is not that std (at beta = 1/2)",
           sp.Ne(note_003.subs(half), correct.subs(half)))
    # note 003's normalising constants 1 / (beta sqrt(2 pi)): the variance where the std belongs
    y, m = sp.symbols("y m", real=True)
    d.equal("note 003's 'density' exp(-(y - m)^2 / (2 beta)) / (beta sqrt(2 pi)) integrates to 1 / sqrt(beta)",
            sp.Integral(sp.exp(-((y - m) ** 2) / (2 * b)) / (b * sp.sqrt(2 * sp.pi)), (y, -sp.oo, sp.oo)),
            1 / sp.sqrt(b), note="the normaliser is 1 / sqrt(2 pi beta)")
    return d


# ---------------------------------------------------------------------------------------------
# chapter 8: the posterior, the ELBO, the parameterisations
# ---------------------------------------------------------------------------------------------


def posterior() -> Derivation:
    """q(x_{t-1} | x_t, x_0) = q(x_t | x_{t-1}) q(x_{t-1} | x_0) / q(x_t | x_0), by completing the square."""
    d = Derivation("the posterior q(x_{t-1} | x_t, x_0), by completing the square")
    abar = alpha * alpha_bar_prev
    log_post = (log_normal(x_t, sp.sqrt(alpha) * x_prev, beta)
                + log_normal(x_prev, sp.sqrt(alpha_bar_prev) * x0, 1 - alpha_bar_prev)
                - log_normal(x_t, sp.sqrt(abar) * x0, 1 - abar))
    beta_tilde = (1 - alpha_bar_prev) / (1 - abar) * beta
    mean = (sp.sqrt(alpha_bar_prev) * beta * x0 + sp.sqrt(alpha) * (1 - alpha_bar_prev) * x_t) / (1 - abar)
    expanded = sp.expand(log_post)
    d.equal("coefficient of x_{t-1}^2: -(alpha_t / beta_t + 1 / (1 - abar_{t-1})) / 2 = -1 / (2 beta_tilde_t)",
            expanded.coeff(x_prev, 2), -1 / (2 * beta_tilde),
            note="beta_tilde_t = (1 - abar_{t-1}) beta_t / (1 - abar_t)")
    d.equal("coefficient of x_{t-1}: sqrt(alpha_t) x_t / beta_t + sqrt(abar_{t-1}) x_0 / (1 - abar_{t-1})"
            " = mu_tilde / beta_tilde",
            expanded.coeff(x_prev, 1), mean / beta_tilde,
            note="mu_tilde = (sqrt(abar_{t-1}) beta_t x_0 + sqrt(alpha_t) (1 - abar_{t-1}) x_t) / (1 - abar_t)")
    d.equal("the whole log-density, constants included, is log N(x_{t-1}; mu_tilde, beta_tilde)",
            log_post, log_normal(x_prev, mean, beta_tilde),
            note="no leftover constant: the posterior is exactly this Gaussian, for any beta_t in (0, 1)")
    eps_mean = (x_t - beta / sp.sqrt(1 - abar) * eps) / sp.sqrt(alpha)
    d.equal("substituting x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t): "
            "mu_tilde = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t)",
            mean.subs(x0, (x_t - sp.sqrt(1 - abar) * eps) / sp.sqrt(abar)), eps_mean)
    d.equal("beta_t - beta_tilde_t = beta_t^2 abar_{t-1} / (1 - abar_t) >= 0, so beta_tilde_t <= beta_t",
            beta - beta_tilde, beta**2 * alpha_bar_prev / (1 - abar))
    d.equal("at t = 1 (abar_0 = 1) the posterior is a point mass: beta_tilde_1 = 0",
            sp.Subs(beta_tilde, alpha_bar_prev, 1), 0)
    d.equal("... at x_0: mu_tilde_1 = x_0", sp.Subs(mean, alpha_bar_prev, 1), x0)
    d.keep("mean", mean)
    d.keep("variance", beta_tilde)
    d.keep("eps_mean", eps_mean)
    return d


def elbo_decomposition(max_T: int = 6) -> Derivation:
    """-log p(x_0) <= E_q[-log p(x_{0:T}) / q(x_{1:T} | x_0)] = L_T + sum_{t>=2} L_{t-1} + L_0, pointwise.

    Each log-density is a symbol; the only fact used is Bayes with the Markov property,
    log q(x_t | x_{t-1}) = log q(x_{t-1} | x_t, x_0) + log q(x_t | x_0) - log q(x_{t-1} | x_0) (t >= 2).
    Taking E_q of the rearranged terms gives KL divergences (L_T, L_{t-1}) and the decoder term L_0.
    """
    d = Derivation(f"the ELBO splits into L_T + L_(T-1) + ... + L_1 + L_0 (T = 1..{max_T})")
    for T in range(1, max_T + 1):
        step = sp.symbols(f"logq_step1:{T + 1}")  # log q(x_t | x_{t-1})
        marg = sp.symbols(f"logq_marg1:{T + 1}")  # log q(x_t | x_0)
        post = sp.symbols(f"logq_post1:{T + 1}")  # log q(x_{t-1} | x_t, x_0) (used for t >= 2)
        model = sp.symbols(f"logp1:{T + 1}")  # log p_theta(x_{t-1} | x_t)
        prior = sp.Symbol("logp_T")  # log p(x_T)
        negative_elbo = -prior - sum(model[t] - step[t] for t in range(T))
        bayes = {step[t]: post[t] + marg[t] - marg[t - 1] for t in range(1, T)}
        bayes[step[0]] = marg[0]  # q(x_1 | x_0) is both the first step and the first marginal
        split = (marg[T - 1] - prior) + sum(post[t] - model[t] for t in range(1, T)) - model[0]
        d.equal(f"T = {T}: -log p(x_(0:T)) / q(x_(1:T) | x_0) = L_T + sum L_(t-1) + L_0 (integrands)",
                negative_elbo.subs(bayes), split,
                note="the q(x_t | x_0) terms telescope" if T > 1 else "")
    # L_{t-1} is a KL between two Gaussians with the same variance sigma^2
    y, a, b = sp.symbols("y a b", real=True)
    kl = expect_normal(log_normal(y, a, sigma**2) - log_normal(y, b, sigma**2), y, a, sigma)
    d.equal("KL(N(a, sigma^2) || N(b, sigma^2)) = (a - b)^2 / (2 sigma^2)", kl, (a - b) ** 2 / (2 * sigma**2))
    abar = alpha * alpha_bar_prev
    mean_true = (x_t - beta / sp.sqrt(1 - abar) * eps) / sp.sqrt(alpha)
    mean_model = (x_t - beta / sp.sqrt(1 - abar) * eps_hat) / sp.sqrt(alpha)
    weight = beta**2 / (2 * sigma**2 * alpha * (1 - abar))
    d.equal("with mu_theta = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t): "
            "L_(t-1) = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) |eps - eps_theta|^2",
            (mean_true - mean_model) ** 2 / (2 * sigma**2), weight * (eps - eps_hat) ** 2,
            note="L_simple keeps |eps - eps_theta|^2 and drops this weight")
    # L_T: KL(q(x_T | x_0) || N(0, 1)) per dimension, no parameters
    a_T, w = sp.symbols(r"\bar{\alpha}_T w", positive=True)  # w stands for 1 - abar_T > 0
    kl_T = expect_normal(log_normal(y, sp.sqrt(a_T) * x0, w) - log_normal(y, 0, 1), y, sp.sqrt(a_T) * x0, sp.sqrt(w))
    kl_T = kl_T.subs(w, 1 - a_T)
    d.equal("L_T = KL(N(sqrt(abar_T) x_0, 1 - abar_T) || N(0, 1)) = (abar_T (x_0^2 - 1) - log(1 - abar_T)) / 2",
            kl_T, (a_T * (x0**2 - 1) - sp.log(1 - a_T)) / 2, note="no parameters: a constant of training")
    d.keep("weight", weight)
    d.keep("L_T", (a_T * (x0**2 - 1) - sp.log(1 - a_T)) / 2)
    return d


def parameterisations() -> Derivation:
    """eps, x_0 and v predictions: conversions at fixed x_t, and the loss each one implies."""
    d = Derivation("eps, x_0 and v: three parameterisations of one denoiser")
    root_a, root_1ma = sp.sqrt(alpha_bar), sp.sqrt(1 - alpha_bar)
    xt = root_a * x0 + root_1ma * eps
    d.equal("x_0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)", (xt - root_1ma * eps) / root_a, x0)
    d.equal("eps = (x_t - sqrt(abar) x_0) / sqrt(1 - abar)", (xt - root_a * x0) / root_1ma, eps)
    v_def = root_a * eps - root_1ma * x0
    d.equal("v = sqrt(abar) eps - sqrt(1 - abar) x_0 gives x_0 = sqrt(abar) x_t - sqrt(1 - abar) v",
            root_a * xt - root_1ma * v_def, x0)
    d.equal("... and eps = sqrt(1 - abar) x_t + sqrt(abar) v", root_1ma * xt + root_a * v_def, eps)
    d.equal("x_t and v are a rotation of (x_0, eps): |x_t|^2 + |v|^2 = |x_0|^2 + |eps|^2",
            xt**2 + v_def**2, x0**2 + eps**2)
    snr = alpha_bar / (1 - alpha_bar)
    x0_of = (xt - root_1ma * eps_hat) / root_a  # the x_0 implied by predicting eps_hat at the same x_t
    v_of = (eps_hat - root_1ma * xt) / root_a  # from eps = sqrt(1 - abar) x_t + sqrt(abar) v
    d.equal("x_0 error = eps error / SNR: |x_0 - x0_hat|^2 = (1 - abar) / abar |eps - eps_hat|^2",
            (x0 - x0_of) ** 2, (eps - eps_hat) ** 2 / snr)
    d.equal("v error: |v - v_hat|^2 = |eps - eps_hat|^2 / abar = (1 + SNR) |x_0 - x0_hat|^2",
            sp.expand((v_def - v_of) ** 2), sp.expand((1 + snr) * (x0 - x0_of) ** 2))
    d.keep("snr", snr)
    return d


# ---------------------------------------------------------------------------------------------
# chapter 9: schedules
# ---------------------------------------------------------------------------------------------


def schedules() -> Derivation:
    d = Derivation("the linear and cosine schedules")
    i, t, T = sp.symbols("i t T", positive=True, integer=True)
    b1, bT, u = sp.symbols("beta_1 beta_T u", positive=True)
    beta_i = b1 + (bT - b1) * (i - 1) / (T - 1)
    total = sp.Sum(beta_i, (i, 1, t))  # displayed unevaluated; the proof evaluates it
    closed = t * b1 + (bT - b1) * t * (t - 1) / (2 * (T - 1))
    d.equal("linear: sum_(i<=t) beta_i = t beta_1 + (beta_T - beta_1) t (t - 1) / (2 (T - 1))", total, closed)
    d.equal("... at t = T: T (beta_1 + beta_T) / 2", closed.subs(t, T), T * (b1 + bT) / 2)
    g = -u - sp.log(1 - u)  # >= 0 on [0, 1): g(0) = 0 and g' >= 0
    d.equal("log(1 - u) <= -u: g(u) = -u - log(1 - u) has g(0) = 0 ...", sp.Subs(g, u, 0), 0)
    d.equal("... and g'(u) = u / (1 - u) >= 0 on [0, 1), so log abar_t = sum log(1 - beta_i) <= -sum beta_i",
            sp.Derivative(g, u), u / (1 - u), note="abar_T <= exp(-T (beta_1 + beta_T) / 2) = exp(-10.05) for DDPM")
    # cosine (IDDPM): abar(t) = f(t) / f(0), f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2)
    s = sp.symbols("s", positive=True)
    tau = sp.symbols("tau", positive=True)  # t / T in [0, 1]
    f = sp.cos((tau + s) / (1 + s) * sp.pi / 2) ** 2
    abar_cos = f / f.subs(tau, 0)
    d.equal("cosine: abar(0) = 1", sp.Subs(abar_cos, tau, 0), 1)
    d.equal("cosine: abar(T) = 0 for every s, so beta_T = 1 - abar_T / abar_(T-1) = 1: it must be clipped (0.999)",
            sp.Subs(abar_cos, tau, 1), 0)
    abar_s0 = sp.cos(tau * sp.pi / 2) ** 2
    d.equal("cosine with s = 0: SNR = abar / (1 - abar) = cot^2(pi t / (2T))",
            abar_s0 / (1 - abar_s0), sp.cot(tau * sp.pi / 2) ** 2)
    d.equal("... so log SNR = -2 log tan(pi t / (2T)), which is 0 at the midpoint t = T/2",
            sp.Subs(sp.log(sp.cot(tau * sp.pi / 2) ** 2), tau, sp.Rational(1, 2)), 0)
    d.keep("cosine_alpha_bar", abar_cos)
    d.keep("tau", tau)
    d.keep("s", s)
    return d
