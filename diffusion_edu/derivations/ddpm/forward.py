"""Chapter 7: DDPM's forward process (Ho et al. 2020), proved by SymPy as chains a reader follows.
The closed form q(x_t | x_0) from T = 1..4 explicit steps and by induction for every t; what
note 000's x_t = x_{t-1} + eps and x_t = sqrt(1 - beta) x_{t-1} + beta eps do instead; note 003's
slip when merging two noises and its normalising constant."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm.notation import (
    HALF,
    Bracket,
    alpha,
    alpha_bar,
    alpha_bar_prev,
    eps,
    square_term,
    x0,
    x_prev,
    x_t,
)
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation


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
    density = d.chain(sp.Integral(frac(sp.exp(-square_term(y, m, b, sign=1)), mul(b, sqrt(mul(2, sp.pi)))),
                                  (y, -sp.oo, sp.oo)),
                      r"Note 003's density, with normaliser $1/(\beta\sqrt{2\pi})$, integrated over $y$:")
    density.to(frac(sqrt(mul(2, sp.pi, b)), mul(b, sqrt(mul(2, sp.pi)))),
               r"the Gaussian integral $\int e^{-(y-m)^2/2\beta}\,dy = \sqrt{2\pi\beta}$")
    density.to(power(sqrt(b), -1), r"cancel: not $1$ unless $\beta = 1$; the normaliser is $1/\sqrt{2\pi\beta}$")
    return d
