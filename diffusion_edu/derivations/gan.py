"""Chapter 6: the GAN objective, each step proved by SymPy as a chain (Goodfellow et al. 2014).

- for a fixed generator, the discriminator that maximises V(D, G) is D* = p_data / (p_data + p_g):
  pointwise, maximise a log D + b log(1 - D) over D in (0, 1);
- with D*, the generator's criterion is C(G) = -log 4 + 2 JSD(p_data || p_g), minimised exactly
  at p_g = p_data (where D* = 1/2);
- the saturating generator loss log(1 - D(G(z))) has a vanishing gradient when the
  discriminator confidently rejects fakes; the non-saturating -log D(G(z)) does not.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul
from diffusion_edu.derivations.proof import Derivation, is_zero
from diffusion_edu.derivations.registry import derivation

a, b = sp.symbols("a b", positive=True)  # p_data(x), p_g(x) at one point x
D = sp.symbols("D", positive=True)  # the discriminator's output at x, in (0, 1)
logit = sp.symbols("l", real=True)  # D = sigmoid(l)


class Sigmoid(sp.Function):
    """``sigma(l)`` as a reader writes it; evaluates (``doit``, as every proof does) to 1 / (1 + exp(-l))."""

    nargs = 1

    def doit(self, **hints: object) -> sp.Expr:
        (arg,) = (arg.doit(**hints) for arg in self.args)
        return 1 / (1 + sp.exp(-arg))

    def _latex(self, printer: sp.printing.latex.LatexPrinter, exp: object = None) -> str:
        out = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"


def _log_identity(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Equal after expanding every logarithm (positive arguments)."""
    def expanded(expr: sp.Basic) -> sp.Basic:
        expr = sp.sympify(expr).doit()
        expr = expr.replace(lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.factor(e.args[0])))
        return sp.expand(sp.expand_log(expr, force=True))
    return is_zero(expanded(lhs) - expanded(rhs))


@derivation
def optimal_discriminator() -> Derivation:
    """argmax_{D in (0,1)} a log D + b log(1 - D) = a / (a + b)."""
    d = Derivation(r"the optimal discriminator $D^* = p_{\mathrm{data}} / (p_{\mathrm{data}} + p_g)$")
    objective = a * sp.log(D) + b * sp.log(1 - D)
    d.given(sp.Symbol("a"), sp.Symbol(r"p_{\mathrm{data}}(x)"), r"the data density at one point $x$")
    d.given(sp.Symbol("b"), sp.Symbol(r"p_g(x)"), r"the generator's density there; $V(D, G)$ integrates "
            r"$a \log D(x) + b \log(1 - D(x))$ over $x$, so it is maximised point by point")
    slope = d.chain(sp.Derivative(objective, D), r"The slope in $D$:")
    slope.to(add(frac(a, D), -frac(b, 1 - D)), r"differentiate: $(\log D)' = 1/D$, $(\log(1 - D))' = -1/(1 - D)$")
    cleared = d.chain(mul(held(frac(a, D) - frac(b, 1 - D)), D, held(1 - D)),
                      r"Multiply by $D(1 - D) > 0$, which keeps the sign and the zero:")
    cleared.to(add(mul(a, held(1 - D)), -mul(b, D)), r"cancel the denominators")
    cleared.to(add(a, -mul(held(a + b), D)), r"collect $D$")
    d_star = a / (a + b)
    d.chain(sp.Subs(a - (a + b) * D, D, frac(a, a + b)), r"a linear function of $D$, zero at one point:").to(
        sp.Integer(0), r"at $D^* = a/(a + b)$")
    other = d.chain(1 - frac(a, a + b), r"The probability of fake at $D^*$:")
    other.to(frac(b, a + b), r"a common denominator")
    d.claim(sp.And(sp.Gt(d_star, 0, evaluate=False), sp.Gt(b / (a + b), 0, evaluate=False)),
            r"$D^*$ lies strictly inside $(0, 1)$")
    second = d.chain(sp.Derivative(objective, (D, 2)), r"The curvature:")
    second.to(add(-frac(a, D**2), -frac(b, (1 - D) ** 2)), r"differentiate twice")
    at_star = d.chain(sp.Subs(-a / D**2 - b / (1 - D) ** 2, D, d_star), r"at $D^*$:")
    at_star.to(-frac((a + b) ** 3, a * b), r"insert $D^*$ and $1 - D^* = b/(a + b)$; collect")
    d.claim(sp.Lt(-(a + b) ** 3 / (a * b), 0, evaluate=False), r"negative: $D^*$ is the maximum")
    d.chain(sp.Subs(frac(a, a + b), b, a), r"At $p_g = p_{\mathrm{data}}$ ($b = a$) the best discriminator is").to(
        sp.Rational(1, 2), r"$a/(2a)$: it outputs $\frac12$ everywhere")
    d.keep("d_star", d_star)
    d.keep("objective", objective)
    return d


@derivation
def generator_criterion() -> Derivation:
    """C(G) = max_D V(D, G) = -log 4 + KL(p_data || m) + KL(p_g || m) = -log 4 + 2 JSD, m = (p_data + p_g)/2."""
    d = Derivation(r"$C(G) = \max_D V(D, G) = -\log 4 + 2\,\mathrm{JSD}(p_{\mathrm{data}}\,\|\,p_g)$")
    d_star = a / (a + b)
    value = a * sp.log(d_star) + b * sp.log(1 - d_star)
    half = sp.Rational(1, 2)
    point = d.chain(add(mul(a, sp.log(frac(a, a + b))), mul(b, sp.log(frac(b, a + b)))),
                    r"At one point, with $D^*$ inserted and $m = (a + b)/2$ the mixture's density:")
    mix = sp.Symbol("m", positive=True)
    point.to(add(mul(a, sp.log(mul(half, a / mix))), mul(b, sp.log(mul(half, b / mix)))),
             r"$\frac{a}{a + b} = \frac12 \cdot \frac{a}{m}$", using={mix: (a + b) / 2}, proof=_log_identity)
    point.to(add(-mul(held(a + b), sp.log(2)), mul(a, sp.log(a / mix)), mul(b, sp.log(b / mix))),
             r"$\log \frac12 = -\log 2$; collect it", using={mix: (a + b) / 2}, proof=_log_identity)
    n = 3
    ps = sp.symbols(f"p_1:{n + 1}", positive=True)
    qs = sp.symbols(f"q_1:{n + 1}", positive=True)
    kl_pm, kl_qm = sp.Symbol(r"\mathrm{KL}(p\,\|\,m)"), sp.Symbol(r"\mathrm{KL}(q\,\|\,m)")
    jsd = sp.Symbol(r"\mathrm{JSD}(p\,\|\,q)")
    kl_pm_sum = sum(p * sp.log(2 * p / (p + q)) for p, q in zip(ps, qs, strict=True))
    kl_qm_sum = sum(q * sp.log(2 * q / (p + q)) for p, q in zip(ps, qs, strict=True))
    normalised = {ps[-1]: 1 - ps[0] - ps[1], qs[-1]: 1 - qs[0] - qs[1]}
    d.given(kl_pm, sp.Sum(sp.Symbol("p_i") * sp.log(sp.Symbol("p_i") / sp.Symbol("m_i")), (sp.Symbol("i"), 1, n)),
            r"with $m_i = (p_i + q_i)/2$, on $3$ points")
    d.given(kl_qm, sp.Sum(sp.Symbol("q_i") * sp.log(sp.Symbol("q_i") / sp.Symbol("m_i")), (sp.Symbol("i"), 1, n)),
            r"likewise")
    d.given(jsd, add(mul(half, kl_pm), mul(half, kl_qm)), r"the Jensen-Shannon divergence")
    pointwise_terms = []
    for p, q in zip(ps, qs, strict=True):
        pointwise_terms += [mul(p, sp.log(frac(p, p + q))), mul(q, sp.log(frac(q, p + q)))]
    total = d.chain(add(*pointwise_terms),
                    r"Summed over the points of a discrete space (3 points, say), with $p = p_{\mathrm{data}}$, "
                    r"$q = p_g$:", name=sp.Symbol("C(G)"))
    total.to(add(*(-mul(held(p + q), sp.log(2)) for p, q in zip(ps, qs, strict=True)), kl_pm, kl_qm),
             r"the identity above at each point; collect the KL sums", using={kl_pm: kl_pm_sum, kl_qm: kl_qm_sum},
             proof=_log_identity)
    total.to(add(-mul(2, sp.log(2)), kl_pm, kl_qm), r"$\sum_i p_i = \sum_i q_i = 1$", using=normalised)
    total.to(add(-sp.log(4), mul(2, jsd)), r"definition of the JSD",
             using={jsd: (kl_pm + kl_qm) / 2})
    at_equal = d.chain(sp.Subs(add(mul(a, sp.log(frac(a, a + b))), mul(b, sp.log(frac(b, a + b)))), b, a),
                       r"At $p_g = p_{\mathrm{data}}$ every point has $D^* = \frac12$:")
    at_equal.to(mul(2, a, sp.log(sp.Rational(1, 2))), r"insert $b = a$")
    at_equal.to(-mul(a, sp.log(4)), r"$2 \log \frac12 = -\log 4$: summed, $C(G) = -\log 4$, the minimum since "
                r"$\mathrm{JSD} \ge 0$")
    d.keep("pointwise_value", value)
    return d


@derivation
def saturation() -> Derivation:
    """With D = sigmoid(l): d/dl log(1 - D) = -D -> 0 as D -> 0, d/dl [-log D] = -(1 - D) -> -1."""
    d = Derivation(r"why $\log(1 - D(G(z)))$ saturates and $-\log D(G(z))$ does not")
    sig = 1 / (1 + sp.exp(-logit))
    shown = Sigmoid(logit)
    d.given(shown, 1 / (1 + sp.exp(-logit)), r"the discriminator's output $D = \sigma(l)$ from its logit $l$")
    saturating = d.chain(sp.Derivative(sp.log(1 - shown), logit),
                         r"The minimax generator loss (note 003's update):")
    saturating.to(-sp.Derivative(shown, logit) / (1 - shown), r"the chain rule")
    saturating.to(-shown, r"$\sigma' = \sigma(1 - \sigma)$")
    non_saturating = d.chain(sp.Derivative(-sp.log(shown), logit), r"The non-saturating loss:")
    non_saturating.to(-sp.Derivative(shown, logit) / shown, r"the chain rule")
    non_saturating.to(-(1 - shown), r"$\sigma' = \sigma(1 - \sigma)$")
    d.chain(sp.Limit(-shown, logit, -sp.oo), r"Early on $D$ rejects the fakes ($l \to -\infty$): the saturating "
            "gradient vanishes,").to(sp.Integer(0), r"$e^{-l} \to \infty$")
    d.chain(sp.Limit(-(1 - shown), logit, -sp.oo), r"while the non-saturating gradient does not:").to(
        sp.Integer(-1), r"$\sigma(l) \to 0$")
    d.claim(sp.And(sp.Lt(-shown, 0, evaluate=False), sp.Lt(-(1 - shown), 0, evaluate=False)),
            r"both derivatives are negative for every $l$: both losses push $D(G(z))$ up, to the same fixed point")
    d.keep("saturating_grad", -sig)
    d.keep("non_saturating_grad", -(1 - sig))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
