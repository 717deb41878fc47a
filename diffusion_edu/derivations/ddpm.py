"""Chapters 7-9: DDPM (Ho et al. 2020) and its schedules (Nichol & Dhariwal 2021), proved by SymPy
as chains a reader follows.

- the forward process: the closed form q(x_t | x_0) from T = 1..4 explicit steps and by induction
  for every t; what note 000's x_t = x_{t-1} + eps and x_t = sqrt(1 - beta) x_{t-1} + beta eps do
  instead; note 003's slip when merging two noises and its normalising constants;
- the posterior q(x_{t-1} | x_t, x_0): Bayes' rule, the exponent collected in powers of x_{t-1},
  the square completed, the normalisers combined; the mean in terms of eps; beta_tilde <= beta;
- the ELBO split into L_T + sum L_{t-1} + L_0: one instance (T = 3) step by step, with Bayes'
  rule inserted and the log q(x_t | x_0) terms telescoping, then every T = 1..6; the KL of two
  Gaussians with equal variance, L_{t-1} as a weighted eps error, and L_T;
- the eps / x0 / v parameterisations, their conversions and their loss weights (through the SNR);
- the schedules: the linear schedule's sum of betas and the bound alpha_bar <= exp(-sum beta),
  the cosine schedule's ends and its SNR; the true reverse variance against beta_tilde and beta.

Index convention here is the paper's: t = 1..T, alpha_bar_0 = 1 (the package stores index t - 1).
The standard deviation of the noise DDPM's sampler adds at step t is written s_t; sigma_t is kept
for the path's noise scale sqrt(1 - alpha_bar_t).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, holds
from diffusion_edu.derivations.registry import derivation

x0, x_t, x_prev, eps, eps_hat, v = sp.symbols(r"x_0 x_t x_{t-1} epsilon \hat{\epsilon} v", real=True)
alpha = sp.symbols("alpha_t", positive=True)  # alpha_t = 1 - beta_t, in (0, 1)
alpha_bar_prev = sp.symbols(r"\bar{\alpha}_{t-1}", positive=True)  # in (0, 1]
alpha_bar = sp.symbols(r"\bar{\alpha}_t", positive=True)  # in (0, 1)
s_t = sp.symbols("s_t", positive=True)  # the std of the noise the reverse sampler adds at step t
sigma = s_t  # the name under which chapter 8 imports it
beta = 1 - alpha
beta_t = sp.Symbol("beta_t", positive=True)  # displayed; stands for 1 - alpha_t
beta_tilde = sp.Symbol(r"\tilde{\beta}_t", positive=True)
mu_tilde = sp.Symbol(r"\tilde{\mu}_t", real=True)
HALF = sp.Rational(1, 2)

# definitions in terms of the two free symbols alpha_t, alpha_bar_{t-1} (no right side holds a key,
# so one substitution pass is exact)
_BETA_TILDE = (1 - alpha_bar_prev) * (1 - alpha) / (1 - alpha * alpha_bar_prev)
_MU_TILDE = (sp.sqrt(alpha_bar_prev) * (1 - alpha) * x0 + sp.sqrt(alpha) * (1 - alpha_bar_prev) * x_t) / (
    1 - alpha * alpha_bar_prev)
DEFS = {beta_t: 1 - alpha, alpha_bar: alpha * alpha_bar_prev}
POSTERIOR_DEFS = {**DEFS, beta_tilde: _BETA_TILDE, mu_tilde: _MU_TILDE}

_U, _W = sp.symbols("u w", positive=True)
_UNIT = {alpha: 1 / (1 + _W), alpha_bar_prev: 1 / (1 + _U)}  # 0 < alpha_t, alpha_bar_{t-1} < 1


def _nonnegative_in_unit_interval(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof of ``lhs >= rhs`` for forms in alpha_t, alpha_bar_{t-1}, both in (0, 1)."""
    difference = sp.factor(sp.together(evaluate(lhs).subs(_UNIT) - evaluate(rhs).subs(_UNIT)))
    return difference.is_nonnegative is True or holds(sp.Ge(difference, 0))


def log_normal(x_: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """log N(x; mean, var) = -(x - mean)^2 / (2 var) - log(2 pi var) / 2."""
    return -((x_ - mean) ** 2) / (2 * var) - sp.log(2 * sp.pi * var) / 2


def _square_term(x_: sp.Basic, mean: sp.Basic, var: sp.Basic, sign: int = -1) -> sp.Expr:
    """``-(x - mean)^2 / (2 var)`` as written (``+`` for sign = 1)."""
    term = frac(power(add(x_, -mean) if mean != 0 else x_, 2), mul(2, var))
    return term if sign > 0 else -term


def _log_term(var: sp.Basic, sign: int = -1) -> sp.Expr:
    """``-1/2 log(2 pi var)`` as written (``+`` for sign = 1)."""
    return mul(sign * HALF, sp.log(mul(2, sp.pi, var)))


def gaussian_moment(k: int, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[y^k] for y ~ N(mean, var): sum over even j of C(k, j) mean^(k-j) var^(j/2) (j - 1)!!."""
    return sp.Add(*(sp.binomial(k, j) * mean ** (k - j) * var ** (j // 2) * sp.factorial2(j - 1)
                    for j in range(0, k + 1, 2)))


def gaussian_expectation(expr: sp.Expr, y: sp.Symbol, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    """E[expr(y)] for y ~ N(mean, var) and expr a polynomial in y, term by term from the moments."""
    poly = sp.Poly(sp.expand(expr), y)
    return sp.Add(*(coeff * gaussian_moment(k, mean, var) for (k,), coeff in poly.terms()))


def expect_normal(expr: sp.Expr, y: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr(y)] for y ~ N(mean, std^2) (kept for older imports)."""
    return gaussian_expectation(expr, y, mean, std**2)


class Expect(sp.Function):
    """``E_{y ~ N(mean, var)}[expr]``, displayed as written; evaluated from the Gaussian moments."""

    nargs = 4

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:  # never evaluates on construction
        return None

    def doit(self, **hints: object) -> sp.Expr:
        expr, y, mean, var = (arg.doit(**hints) for arg in self.args)
        return gaussian_expectation(expr, y, mean, var)

    def _latex(self, printer: object) -> str:
        expr, y, mean, var = self.args
        p = printer._print  # type: ignore[attr-defined]
        return rf"\mathbb{{E}}_{{{p(y)}\sim\mathcal N({p(mean)},\,{p(var)})}}\left[{p(expr)}\right]"


class Bracket(sp.Function):
    """``(expr)``: a group of terms shown in parentheses (also as the first term of a sum); its value is ``expr``."""

    nargs = 1

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:
        return None

    def doit(self, **hints: object) -> sp.Expr:
        return self.args[0].doit(**hints)

    def _latex(self, printer: object) -> str:
        return rf"\left({printer._print(self.args[0])}\right)"  # type: ignore[attr-defined]


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


@derivation
def note_errors_forward() -> Derivation:
    """What the notes' forward formulas do instead, proved: note 000's random walk and its
    +beta eps step, note 003's merged standard deviation and its normalising constant."""
    d = Derivation("the forward formulas of the notes, checked")
    t, s, b, var = sp.symbols("t s beta V", positive=True)
    walk = d.chain(sp.Sum(1, (s, 1, t)), r"Note 000's $x_t = x_{t-1} + \epsilon_t$ gives $x_t = x_0 + \epsilon_1 + "
                   r"\dots + \epsilon_t$, a sum of $t$ independent unit-variance noises:",
                   name=sp.Symbol(r"\operatorname{Var}(x_t\mid x_0)"))
    walk.to(t, r"it grows without bound, and the mean stays $x_0$: nothing is forgotten")
    for noise, fixed_point in ((power(b, 2), b), (b, 1)):
        shown = r"\beta\,\epsilon" if noise != b else r"\sqrt{\beta}\,\epsilon"
        heading = (rf"Note 000's step $x_t = \sqrt{{1-\beta}}\,x_{{t-1}} + {shown}$ with a constant $\beta$ has "
                   rf"$V_t = (1-\beta)V_{{t-1}} + {sp.latex(noise)}$; a stationary variance $V$ makes the change zero:"
                   if noise != b else
                   rf"The right step, $x_t = \sqrt{{1-\beta}}\,x_{{t-1}} + {shown}$, the same way:")
        c = d.chain(add(var, -Bracket(add(mul(1 - b, var), noise))), heading)
        c.to(add(mul(b, var), -noise), r"multiply out: $V$ cancels once")
        c.to(mul(b, held(add(var, -fixed_point))),
             r"factor: zero only at $V = \beta$, about $0.02$ for the last $\beta$ of DDPM, not $1$" if fixed_point == b
             else r"factor: zero only at $V = 1$, the variance of $\mathcal N(0, I)$")
    b_t, b_s = sp.symbols(r"beta_t \beta_{t-1}", positive=True)
    merged = d.chain(add(mul(1 - b_t, b_s), b_t),
                     r"Merging $\sqrt{(1-\beta_t)\beta_{t-1}}\,\epsilon'$ and $\sqrt{\beta_t}\,\epsilon$ "
                     r"(independent): the variances add,", name=sp.Symbol(r"\operatorname{Var}(\text{noise})"))
    merged.to(add(b_s, -mul(b_t, b_s), b_t), "multiply out")
    merged.to(add(1, -mul(held(1 - b_t), held(1 - b_s))), r"factor: $1 - \bar\alpha$ over two steps")
    half = {b_t: HALF, b_s: HALF}
    note = d.chain(add(sqrt(mul(1 - b_t, b_s)), b_t),
                   r"Note 003 writes the merged standard deviation as $\sqrt{(1-\beta_t)\beta_{t-1}} + \beta_t$. "
                   r"At $\beta_t = \beta_{t-1} = 1/2$:")
    note.to(add(sqrt(mul(HALF, HALF)), HALF), r"insert $\beta_t = \beta_{t-1} = 1/2$", using=half)
    note.to(sp.Integer(1), r"$\sqrt{1/4} = 1/2$")
    note.to(sqrt(add(mul(HALF, HALF), HALF)), r"the right standard deviation $\sqrt{(1-\beta_t)\beta_{t-1} + \beta_t}$ "
            r"at the same $\beta$ is $\sqrt{3}/2$", relation="!=")
    y, m = sp.symbols("y m", real=True)
    density = d.chain(sp.Integral(frac(sp.exp(-_square_term(y, m, b, sign=1)), mul(b, sqrt(mul(2, sp.pi)))),
                                  (y, -sp.oo, sp.oo)),
                      r"Note 003's density, with normaliser $1/(\beta\sqrt{2\pi})$, integrated over $y$:")
    density.to(frac(sqrt(mul(2, sp.pi, b)), mul(b, sqrt(mul(2, sp.pi)))),
               r"the Gaussian integral $\int e^{-(y-m)^2/2\beta}\,dy = \sqrt{2\pi\beta}$")
    density.to(power(sqrt(b), -1), r"cancel: not $1$ unless $\beta = 1$; the normaliser is $1/\sqrt{2\pi\beta}$")
    return d


# ---------------------------------------------------------------------------------------------
# chapter 8: the posterior, the ELBO, the parameterisations
# ---------------------------------------------------------------------------------------------


def _definitions(d: Derivation, *, posterior: bool = True) -> None:
    d.given(beta_t, 1 - alpha, r"the variance of one forward step")
    d.given(alpha_bar, mul(alpha, alpha_bar_prev), r"definition of $\bar\alpha_t$, with $\bar\alpha_0 = 1$")
    if posterior:
        d.given(beta_tilde, mul(frac(1 - alpha_bar_prev, 1 - alpha_bar), beta_t), "the name of the posterior variance")
        d.given(mu_tilde, frac(add(mul(sqrt(alpha_bar_prev), beta_t, x0), mul(sqrt(alpha), 1 - alpha_bar_prev, x_t)),
                               1 - alpha_bar), "the name of the posterior mean")


@derivation
def posterior() -> Derivation:
    """q(x_{t-1} | x_t, x_0) = q(x_t | x_{t-1}) q(x_{t-1} | x_0) / q(x_t | x_0): the exponent collected
    in powers of x_{t-1} and the square completed; the normalisers combined; nothing is left over."""
    d = Derivation(r"the posterior $q(x_{t-1}\mid x_t, x_0)$, by completing the square")
    _definitions(d)
    log_step = sp.Symbol(r"\log q(x_{t}\mid x_{t-1})")
    log_prev = sp.Symbol(r"\log q(x_{t-1}\mid x_0)")
    log_marg = sp.Symbol(r"\log q(x_{t}\mid x_{0})")
    densities = {log_step: log_normal(x_t, sp.sqrt(alpha) * x_prev, 1 - alpha),
                 log_prev: log_normal(x_prev, sp.sqrt(alpha_bar_prev) * x0, 1 - alpha_bar_prev),
                 log_marg: log_normal(x_t, sp.sqrt(alpha * alpha_bar_prev) * x0, 1 - alpha * alpha_bar_prev)}
    squares = (_square_term(x_t, mul(sqrt(alpha), x_prev), beta_t),
               _square_term(x_prev, mul(sqrt(alpha_bar_prev), x0), 1 - alpha_bar_prev),
               _square_term(x_t, mul(sqrt(alpha_bar), x0), 1 - alpha_bar, sign=1))
    logs = (_log_term(beta_t), _log_term(1 - alpha_bar_prev), _log_term(1 - alpha_bar, sign=1))
    whole = d.chain(add(log_step, log_prev, -log_marg),
                    r"Bayes' rule, with the Markov property $q(x_t\mid x_{t-1}, x_0) = q(x_t\mid x_{t-1})$:",
                    name=sp.Symbol(r"\log q(x_{t-1}\mid x_t, x_0)"))
    whole.to(add(*squares, *logs), "insert the three Gaussian log-densities (chapter 2)",
             using={**DEFS, **densities})
    final = add(_square_term(x_prev, mu_tilde, beta_tilde), _log_term(beta_tilde))
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
    exponent.to(add(_square_term(x_prev, mu_tilde, beta_tilde), frac(power(mu_tilde, 2), mul(2, beta_tilde)), *free),
                r"complete the square: $-\frac{x^2 - 2\tilde\mu x}{2\tilde\beta} = "
                r"-\frac{(x - \tilde\mu)^2}{2\tilde\beta} + \frac{\tilde\mu^2}{2\tilde\beta}$", using=rest_defs)
    exponent.to(_square_term(x_prev, mu_tilde, beta_tilde),
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
    normaliser.to(_log_term(beta_tilde), r"definition of $\tilde\beta_t$", using=POSTERIOR_DEFS)

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
    kl = d.chain(Expect(add(_square_term(y, a, var), _log_term(var), _square_term(y, b, var, sign=1),
                            _log_term(var, sign=1)), y, a, var),
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
    prior_kl = d.chain(Expect(add(_square_term(y, m, w), _log_term(w), frac(power(y, 2), 2), log_2pi), y, m, w),
                       r"$L_T$ compares $q(x_T\mid x_0)$ with the prior $\mathcal N(0, 1)$, per dimension:",
                       name=sp.Symbol(r"L_T"))
    prior_kl.to(Expect(add(_square_term(y, m, w), frac(power(y, 2), 2), mul(-HALF, sp.log(w))), y, m, w),
                r"the $\log 2\pi$ terms cancel")
    prior_kl.to(add(-HALF, frac(add(mul(a_T, power(x0, 2)), w), 2), mul(-HALF, sp.log(w))),
                r"take expectations: $\mathbb E(y - \sqrt{\bar\alpha_T}x_0)^2 = 1 - \bar\alpha_T$ and "
                r"$\mathbb E\,y^2 = \bar\alpha_T x_0^2 + 1 - \bar\alpha_T$")
    prior_kl.to(frac(add(mul(a_T, held(add(power(x0, 2), -1))), -sp.log(w)), 2),
                r"collect: no parameters, a constant of training")
    d.keep("weight", (1 - alpha) ** 2 / (2 * s_t**2 * alpha * (1 - alpha * alpha_bar_prev)))
    d.keep("L_T", (a_T * (x0**2 - 1) - sp.log(1 - a_T)) / 2)
    return d


@derivation
def parameterisations() -> Derivation:
    """eps, x_0 and v predictions: conversions at fixed x_t, and the loss each one implies."""
    d = Derivation(r"$\epsilon$, $x_0$ and $v$: three parameterisations of one denoiser")
    root_a, root_1ma = sqrt(alpha_bar), sqrt(1 - alpha_bar)
    path = add(mul(root_a, x0), mul(root_1ma, eps))
    v_def = add(mul(root_a, eps), -mul(root_1ma, x0))
    snr = sp.Symbol(r"\mathrm{SNR}_t", positive=True)
    d.given(x_t, path, r"the closed form of chapter 7, $\epsilon \sim \mathcal N(0, I)$")
    d.given(v, v_def, r"the velocity, $v$-prediction's target")
    d.given(snr, frac(alpha_bar, 1 - alpha_bar), "the signal-to-noise ratio")
    xt_def = {x_t: sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * eps}
    both = {**xt_def, v: sp.sqrt(alpha_bar) * eps - sp.sqrt(1 - alpha_bar) * x0}
    c = d.chain(frac(add(x_t, -mul(root_1ma, eps)), root_a), r"From $x_t$ and $\epsilon$ back to $x_0$:")
    c.to(frac(add(held(path), -mul(root_1ma, eps)), root_a), r"insert $x_t$", using=xt_def)
    c.to(frac(mul(root_a, x0), root_a), "the noise terms cancel")
    c.to(x0, r"divide by $\sqrt{\bar\alpha_t}$")
    c = d.chain(add(mul(root_a, x_t), -mul(root_1ma, v)), r"From $x_t$ and $v$ back to $x_0$:")
    c.to(add(mul(root_a, held(path)), -mul(root_1ma, held(v_def))), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(alpha_bar, x0), mul(root_a, root_1ma, eps), -mul(root_1ma, root_a, eps), mul(1 - alpha_bar, x0)),
         "multiply out")
    c.to(x0, r"the $\epsilon$ terms cancel; $\bar\alpha_t + 1 - \bar\alpha_t = 1$")
    c = d.chain(add(mul(root_1ma, x_t), mul(root_a, v)), r"And to $\epsilon$:")
    c.to(add(mul(root_1ma, held(path)), mul(root_a, held(v_def))), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(root_1ma, root_a, x0), mul(1 - alpha_bar, eps), mul(alpha_bar, eps), -mul(root_a, root_1ma, x0)),
         "multiply out")
    c.to(eps, r"the $x_0$ terms cancel; $1 - \bar\alpha_t + \bar\alpha_t = 1$")
    c = d.chain(add(power(x_t, 2), power(v, 2)), r"$(x_t, v)$ is a rotation of $(x_0, \epsilon)$ by the angle "
                r"with $\cos\phi = \sqrt{\bar\alpha_t}$: lengths are kept,")
    c.to(add(power(held(path), 2), power(held(v_def), 2)), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(held(add(alpha_bar, 1 - alpha_bar)), power(x0, 2)), mul(held(add(1 - alpha_bar, alpha_bar)),
                                                                          power(eps, 2))),
         r"multiply out: the cross terms $\pm 2\sqrt{\bar\alpha_t(1-\bar\alpha_t)}\,x_0\epsilon$ cancel")
    c.to(add(power(x0, 2), power(eps, 2)), r"$\bar\alpha_t + 1 - \bar\alpha_t = 1$")
    x0_hat = frac(add(x_t, -mul(root_1ma, eps_hat)), root_a)
    c = d.chain(power(add(x0, -sp.Symbol(r"\hat{x}_0")), 2),
                r"Losses: predicting $\hat\epsilon$ implies $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)"
                r"/\sqrt{\bar\alpha_t}$, and the $x_0$ error is the noise error over the SNR,",
                name=sp.Symbol(r"\|x_{0} - \hat{x}_0\|^{2}"))
    c.to(power(add(x0, -held(x0_hat)), 2), r"insert $\hat x_0$",
         using={**xt_def, sp.Symbol(r"\hat{x}_0"): (sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * (eps - eps_hat))
                / sp.sqrt(alpha_bar)})
    c.to(power(mul(frac(root_1ma, root_a), held(add(eps_hat, -eps))), 2), r"insert $x_t$: $x_0$ cancels",
         using=xt_def)
    c.to(mul(frac(1 - alpha_bar, alpha_bar), power(add(eps, -eps_hat), 2)), "square out")
    c.to(frac(power(add(eps, -eps_hat), 2), snr), "definition of the SNR",
         using={snr: alpha_bar / (1 - alpha_bar)})
    v_hat = frac(add(eps_hat, -mul(root_1ma, x_t)), root_a)
    c = d.chain(power(add(v, -sp.Symbol(r"\hat{v}")), 2),
                r"Predicting $\hat v$ instead: from $\epsilon = \sqrt{1-\bar\alpha_t}\,x_t + \sqrt{\bar\alpha_t}\,v$ "
                r"the same prediction reads "
                r"$\hat v = (\hat\epsilon - \sqrt{1-\bar\alpha_t}\,x_t)/\sqrt{\bar\alpha_t}$, so",
                name=sp.Symbol(r"\|v - \hat v\|^2"))
    v_subs = {**both, sp.Symbol(r"\hat{v}"): (eps_hat - sp.sqrt(1 - alpha_bar) * (sp.sqrt(alpha_bar) * x0 + sp.sqrt(
        1 - alpha_bar) * eps)) / sp.sqrt(alpha_bar)}
    c.to(power(add(held(v_def), -held(v_hat)), 2), r"insert $v$ and $\hat v$", using=v_subs)
    c.to(frac(power(add(eps, -eps_hat), 2), alpha_bar), r"insert $x_t$ and multiply out: $x_0$ cancels",
         using=xt_def)
    c.to(mul(held(add(1, snr)), frac(1 - alpha_bar, alpha_bar), power(add(eps, -eps_hat), 2)),
         r"$1 + \mathrm{SNR}_t = 1/(1 - \bar\alpha_t)$", using={snr: alpha_bar / (1 - alpha_bar)})
    c.to(mul(held(add(1, snr)), power(add(x0, -sp.Symbol(r"\hat{x}_0")), 2)),
         r"the $x_0$ error above: $v$-prediction weights it by $1 + \mathrm{SNR}_t$",
         using={snr: alpha_bar / (1 - alpha_bar), sp.Symbol(r"\hat{x}_0"): x0 + sp.sqrt(1 - alpha_bar) * (eps - eps_hat)
                / sp.sqrt(alpha_bar)})
    d.keep("snr", alpha_bar / (1 - alpha_bar))
    return d


# ---------------------------------------------------------------------------------------------
# chapter 9: schedules
# ---------------------------------------------------------------------------------------------


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


@derivation
def reverse_variance() -> Derivation:
    """Var(x_{t-1} | x_t) = beta_tilde_t + c^2 Var(x_0 | x_t) by the law of total variance, with c the
    coefficient of x_0 in mu_tilde: at least beta_tilde_t, and above beta_t exactly when
    Var(x_0 | x_t) > 1 - alpha_bar_t. So beta_t is not an upper bound in general."""
    d = Derivation(r"the true reverse variance: $\tilde\beta_t$ bounds it below, $\beta_t$ does not bound it above")
    _definitions(d)
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


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
