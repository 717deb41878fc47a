"""Chapter 13: guidance (Dhariwal & Nichol 2021; Ho & Salimans 2022), proved by SymPy as chains.

- Bayes on scores: the score of p(x | y) is the score of p(x) plus the classifier's; p(y) has no x
  and vanishes; the same in closed form on a two-class 1-D mixture, whose classifier is logistic;
- a guidance scale s samples p(x) p(y | x)^s / Z_s, a sharpened classifier (s = 1: Bayes' rule;
  s = 0: the unconditional model);
- classifier guidance shifts the reverse *mean* by s Sigma g (completing the square, with log p(y | x)
  linearised around the mean); the curvature, hence the variance, is unchanged;
- the same in eps form: eps_hat = eps - s sqrt(1 - alpha_bar) g, since eps = -sqrt(1 - alpha_bar) score;
- classifier-free guidance eps_u + w (eps_c - eps_u) is classifier guidance of scale w with the
  implicit classifier p(x | y) p(y) / p(x); it targets p(x | y)^w p(x)^(1 - w); Ho & Salimans'
  (1 + w') eps_c - w' eps_u is the book's w = 1 + w'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, is_zero
from diffusion_edu.derivations.registry import derivation

x, mu, g, m_0, m_1 = sp.symbols("x mu g m_0 m_1", real=True)
s, w, w_ho, Sigma, v = sp.symbols("s w w' Sigma v", positive=True)
alpha_bar = sp.Symbol(r"\bar{\alpha}_t", positive=True)
pi_1 = sp.symbols("pi_1", positive=True)  # the prior probability of class 1, in (0, 1)
eps = sp.Symbol("epsilon", real=True)
eps_c, eps_u = sp.symbols("epsilon_c epsilon_u", real=True)
p_y = sp.Symbol("p(y)", positive=True)  # a class's prior: a number, no x in it


class _Density(sp.Function):
    """A density of x displayed as the book writes it (``p(y\\mid x)``)."""

    shown = "p"

    def _latex(self, printer: object, exp: str | None = None) -> str:
        shown = self.shown.format(printer._print(self.args[0]))  # type: ignore[attr-defined]
        return f"{shown}^{{{exp}}}" if exp else shown


class Shown(sp.Symbol):
    """A symbol whose LaTeX is its name, verbatim (``\\nabla_x\\log p(x)``)."""

    def _latex(self, printer: object, exp: str | None = None) -> str:
        return f"{{{self.name}}}^{{{exp}}}" if exp else self.name


class p(_Density):  # noqa: N801 - the density p(x)
    shown = "p({})"


class p_y_given_x(_Density):  # noqa: N801 - the classifier p(y | x), a function of x
    shown = r"p(y\mid {})"


class p_x_given_y(_Density):  # noqa: N801 - the conditional density p(x | y)
    shown = r"p({}\mid y)"


class p_s(_Density):  # noqa: N801 - the guided target density
    shown = "p_s({})"


class p_implicit(_Density):  # noqa: N801 - the implicit classifier of classifier-free guidance
    shown = r"p_i(y\mid {})"


class Normal(sp.Function):
    """``N(x; mean, var)``, displayed as such; evaluated (``doit``) to the explicit density."""

    nargs = 3

    def doit(self, **hints: object) -> sp.Expr:
        x_, mean, var = (a.doit(**hints) for a in self.args)
        return normal_pdf(x_, mean, var)

    def _latex(self, printer: object, exp: str | None = None) -> str:
        x_, mean, var = (printer._print(a) for a in self.args)  # type: ignore[attr-defined]
        shown = rf"\mathcal{{N}}({x_};\, {mean},\, {var})"
        return f"{shown}^{{{exp}}}" if exp else shown


def normal_pdf(x_: sp.Expr, mean: sp.Expr, var: sp.Expr) -> sp.Expr:
    return sp.exp(-((x_ - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def D(expr: sp.Expr) -> sp.Expr:  # noqa: N802 - the gradient in x, displayed unevaluated
    return sp.Derivative(expr, x)


def _logs(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for logs of positive densities: evaluate the derivatives, expand the logs."""
    return is_zero(sp.expand(sp.expand_log(lhs.doit(), force=True) - sp.expand_log(rhs.doit(), force=True)))


def _inserting(definitions: Mapping[sp.Basic, sp.Basic]) -> Callable[[sp.Basic, sp.Basic], bool]:
    """Proof of a step that inserts a definition of a density: substitute it into the displayed
    (unevaluated) previous form, then compare as logs."""
    return lambda lhs, rhs: _logs(lhs.subs(definitions), rhs.subs(definitions))


@derivation
def bayes_on_scores() -> Derivation:
    d = Derivation(r"Bayes' rule on scores: $\nabla_x\log p(x\mid y) = \nabla_x\log p(x) + "
                   r"\nabla_x\log p(y\mid x)$")
    bayes = frac(mul(p_y_given_x(x), p(x)), p_y)
    d.given(p_x_given_y(x), bayes, "Bayes' rule")
    c = d.chain(D(sp.log(p_x_given_y(x))), r"The score of the conditional, in one dimension (each coordinate "
                r"of $\nabla_x$ is the same computation):")
    c.to(D(sp.log(bayes)), "insert Bayes' rule", proof=_inserting({p_x_given_y(x): bayes}))
    c.to(D(add(sp.log(p(x)), sp.log(p_y_given_x(x)), -sp.log(p_y))), "the log of a product and a quotient",
         proof=_logs)
    c.to(add(D(sp.log(p(x))), D(sp.log(p_y_given_x(x))), -D(sp.log(p_y))), "the derivative of a sum", proof=_logs)
    c.to(add(D(sp.log(p(x))), D(sp.log(p_y_given_x(x)))),
         r"$p(y)$ has no $x$: the intractable normaliser drops out of the score", proof=_logs)

    # closed form: two classes, p(x | y=k) = N(x; m_k, v), p(y=1) = pi_1
    n_0, n_1 = Normal(x, m_0, v), Normal(x, m_1, v)
    mixture = add(mul(1 - pi_1, n_0), mul(pi_1, n_1))
    classifier = frac(mul(pi_1, n_1), p(x))
    d.given(p(x), mixture, r"two classes of equal variance $v$, prior $p(y = 1) = \pi_1$")
    d.given(sp.Symbol(r"p(y = 1\mid x)"), classifier, "Bayes' rule for class 1")
    on_mixture = _inserting({p(x): mixture})  # every step below is proved on the explicit mixture
    mix = d.chain(add(D(sp.log(p(x))), D(sp.log(classifier))),
                  r"In closed form: the mixture's score plus the class-1 classifier's score is")
    mix.to(D(sp.log(mul(p(x), classifier))), "a sum of logs is the log of the product", proof=_logs)
    mix.to(D(sp.log(mul(pi_1, n_1))), "the mixture cancels", proof=on_mixture)
    mix.to(-(x - m_1) / v, r"differentiate the exponent of $\mathcal{N}(x;\, m_1,\, v)$: the score of class 1 alone",
           proof=on_mixture)

    logistic = d.chain(frac(mul(pi_1, n_1), mixture), r"The classifier is a logistic function of a linear function "
                       r"of $x$:", name=sp.Symbol(r"p(y = 1\mid x)"))
    logistic.to(power(held(add(1, frac(mul(1 - pi_1, n_0), mul(pi_1, n_1)))), -1),
                r"divide by $\pi_1\,\mathcal{N}(x;\, m_1,\, v)$")
    ratio = sp.exp(((x - m_1) ** 2 - (x - m_0) ** 2) / (2 * v))
    logistic.to(power(held(add(1, mul(frac(1 - pi_1, pi_1), ratio))), -1),
                r"equal variances: the normalisers $\sqrt{2\pi v}$ cancel")
    linear = sp.exp(mul(held(m_0 - m_1), held(2 * x - m_0 - m_1)) / (2 * v))
    logistic.to(power(held(add(1, mul(frac(1 - pi_1, pi_1), linear))), -1),
                "difference of two squares: the exponent is linear in $x$")
    d.keep("classifier", pi_1 * normal_pdf(x, m_1, v) / ((1 - pi_1) * normal_pdf(x, m_0, v)
                                                          + pi_1 * normal_pdf(x, m_1, v)))
    d.keep("marginal", (1 - pi_1) * normal_pdf(x, m_0, v) + pi_1 * normal_pdf(x, m_1, v))
    return d


@derivation
def sharpened_classifier() -> Derivation:
    d = Derivation(r"a guidance scale $s$ samples $p(x)\,p(y\mid x)^s$: a sharpened classifier")
    z_s = sp.Symbol("Z_s", positive=True)  # the normaliser of p(x) p(y | x)^s: no x in it
    target = frac(mul(p(x), power(p_y_given_x(x), s)), z_s)
    d.given(p_s(x), target, r"the guided target; $Z_s$ normalises it and has no $x$")
    c = d.chain(D(sp.log(target)), r"Its score:", name=D(sp.log(p_s(x))))
    c.to(D(add(sp.log(p(x)), mul(s, sp.log(p_y_given_x(x))), -sp.log(z_s))),
         "the log of a product, a power and a quotient", proof=_logs)
    guided = add(D(sp.log(p(x))), mul(s, D(sp.log(p_y_given_x(x)))))
    c.to(guided, r"differentiate: $Z_s$ has no $x$, so it never needs computing", proof=_logs)
    one = d.chain(guided, r"At $s = 1$ the target is the conditional $p(x\mid y)$:")
    one.to(add(D(sp.log(p(x))), D(sp.log(p_y_given_x(x)))), r"insert $s = 1$", using={s: 1})
    bayes = p_y_given_x(x) * p(x) / p_y
    one.to(D(sp.log(p_x_given_y(x))), r"Bayes' rule on scores (above)",
           proof=lambda lhs, rhs: _logs(lhs, rhs.subs(p_x_given_y(x), bayes)))
    zero = d.chain(guided, r"At $s = 0$ the classifier's term vanishes; $s > 1$ raises its weight:")
    zero.to(D(sp.log(p(x))), r"insert $s = 0$: the unconditional score", using={s: 0})
    return d


@derivation
def classifier_guided_mean() -> Derivation:
    """log N(x; mu, Sigma) + s g (x - mu) = log N(x; mu + s Sigma g, Sigma) + C, C free of x."""
    d = Derivation(r"classifier guidance shifts the reverse mean by $s\,\Sigma\,g$ (Dhariwal and Nichol, "
                   r"section 4.1)")
    d.given(sp.Symbol(r"\log p(y\mid x)"), add(sp.Symbol(r"\log p(y\mid \mu)"), mul(g, held(x - mu))),
            r"linearised around the mean $\mu$ of the step, $g = \nabla_x\log p(y\mid x)$ at $\mu$")
    start = add(sp.log(Normal(x, mu, Sigma)), mul(s, g, held(x - mu)))
    c = d.chain(start, r"The log of the guided step $\mathcal{N}(x;\, \mu,\, \Sigma)\,p(y\mid x)^s$, up to a "
                r"constant:")
    c.to(add(-frac(power(held(x - mu), 2), 2 * Sigma), mul(s, g, held(x - mu)), -frac(sp.log(2 * sp.pi * Sigma), 2)),
         "write out the Gaussian's log-density")
    constant = frac(mul(power(s, 2), Sigma, power(g, 2)), 2)
    c.to(add(-frac(power(held(add(x, -mu, -mul(s, Sigma, g))), 2), 2 * Sigma), constant,
             -frac(sp.log(2 * sp.pi * Sigma), 2)), r"complete the square in $x$")
    c.to(add(sp.log(Normal(x, add(mu, mul(s, Sigma, g)), Sigma)), frac(mul(power(s, 2), Sigma, power(g, 2)), 2)),
         r"a Gaussian's log-density again, with mean $\mu + s\Sigma g$; the constant only renormalises")
    curvature = d.chain(sp.Derivative(start, (x, 2)), r"The curvature, minus the inverse variance, is unchanged:")
    curvature.to(-1 / Sigma, r"differentiate twice: the linear term $s g (x - \mu)$ vanishes")
    curvature.to(sp.Derivative(sp.log(Normal(x, mu, Sigma)), (x, 2)),
                 "the unguided step's curvature: the variance is kept, only the mean moves")
    return d


@derivation
def guided_eps() -> Derivation:
    d = Derivation(r"the same shift in $\epsilon$ form (Dhariwal and Nichol, Algorithm 2)")
    score = Shown(r"\nabla_x\log p_t(x_t)", real=True)
    k = sqrt(1 - alpha_bar)
    d.given(eps, -k * score, r"a noise prediction is a scaled score (chapter 11)")
    c = d.chain(mul(-1, k, held(add(score, mul(s, g)))),
                r"Replace the score by the guided score $\nabla_x\log p_t(x_t) + s\,g$:", name=Shown(r"\hat\epsilon"))
    c.to(add(mul(-1, k, score), -mul(s, k, g)), "multiply out")
    c.to(add(eps, -mul(s, k, g)), r"the first term is the unguided $\epsilon$",
         using={score: -eps / sp.sqrt(1 - alpha_bar)})
    d.keep("guided_eps", eps - s * sp.sqrt(1 - alpha_bar) * g)
    return d


@derivation
def classifier_free() -> Derivation:
    d = Derivation("classifier-free guidance and its implicit classifier (Ho and Salimans 2022)")
    k = sqrt(1 - alpha_bar)
    score_c, score_u = Shown(r"\nabla_x\log p(x\mid y)", real=True), Shown(r"\nabla_x\log p(x)", real=True)
    eps_w = add(eps_u, mul(w, held(eps_c - eps_u)))
    d.given(sp.Symbol(r"\hat\epsilon_w"), eps_w, "the book's classifier-free combination")
    scores = d.chain(mul(-1, frac(held(eps_w), k)),
                     r"In scores ($\epsilon = -\sqrt{1 - \bar\alpha_t}\,\nabla_x\log p_t$ for both predictions):",
                     name=Shown(r"-\frac{\hat\epsilon_w}{\sqrt{1 - \bar\alpha_t}}"))
    scores.to(add(-frac(eps_u, k), mul(w, held(add(-frac(eps_c, k), frac(eps_u, k))))),
              r"divide each term by $-\sqrt{1 - \bar\alpha_t}$")
    scores.to(add(score_u, mul(w, held(add(score_c, -score_u)))), r"each $\epsilon$ is a scaled score",
              using={score_c: -eps_c / sp.sqrt(1 - alpha_bar), score_u: -eps_u / sp.sqrt(1 - alpha_bar)})

    implicit = frac(mul(p_x_given_y(x), p_y), p(x))
    d.given(p_implicit(x), implicit, r"the implicit classifier: Bayes' rule with the model's own densities")
    ic = d.chain(D(sp.log(p_implicit(x))), r"The gradient of the implicit classifier:")
    ic.to(D(sp.log(implicit)), "insert its definition", proof=_inserting({p_implicit(x): implicit}))
    ic.to(add(D(sp.log(p_x_given_y(x))), -D(sp.log(p(x)))), r"logs; $p(y)$ has no $x$", proof=_logs)

    target = mul(p(x), power(frac(p_x_given_y(x), p(x)), w))
    cfg = d.chain(D(sp.log(target)), r"The target of the combination: $p(x)$ tilted by the implicit "
                  r"classifier to the power $w$, $p(y)^w$ dropped as it has no $x$:")
    cfg.to(add(D(sp.log(p(x))), mul(w, D(sp.log(frac(p_x_given_y(x), p(x)))))),
           "the log of a product and a power", proof=_logs)
    cfg.to(add(D(sp.log(p(x))), mul(w, held(add(D(sp.log(p_x_given_y(x))), -D(sp.log(p(x))))))),
           "the implicit classifier's gradient, above: classifier guidance of scale $w$, no classifier trained",
           proof=_logs)
    cfg.to(D(sp.log(mul(power(p_x_given_y(x), w), power(p(x), 1 - w)))),
           r"collect: the target density $p(x\mid y)^w\,p(x)^{1 - w}$", proof=_logs)

    ho = d.chain(add(mul(1 + w_ho, eps_c), -mul(w_ho, eps_u)),
                 r"Ho and Salimans write $(1 + w')\,\epsilon_c - w'\epsilon_u$:")
    ho.to(add(eps_c, mul(w_ho, held(eps_c - eps_u))), r"regroup the $w'$ terms")
    ho.to(add(eps_u, mul(held(1 + w_ho), held(eps_c - eps_u))),
          r"add and subtract $\epsilon_u$: the book's form with $w = 1 + w'$")
    d.keep("eps_w", eps_u + w * (eps_c - eps_u))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
