"""Chapter 4: what makes KL a divergence (Kullback & Leibler 1951), proved by SymPy as chains.
Convexity of -log and its tangent-line inequality; Jensen's inequality for a two-point distribution
from it; Gibbs' inequality KL >= 0 for two-point distributions from Jensen, and KL(p||p) = 0 (the
general case is the same argument with more terms; the chapter checks it numerically); and
asymmetry on two exact examples."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul
from diffusion_edu.derivations.kl.gaussians import kl_gaussian_closed_form, mu_1, mu_2, sigma_1, sigma_2
from diffusion_edu.derivations.proof import Derivation, is_zero
from diffusion_edu.derivations.registry import derivation

u, m, a, b = sp.symbols("u m a b", positive=True)
r = sp.symbols("r", positive=True)
w = sp.symbols("p", positive=True)  # the weight of the first point, 0 < p < 1
q = sp.symbols("q", positive=True)  # the second distribution's first probability, 0 < q < 1
_h = r - 1 - sp.log(r)  # the gap between -log and its tangent, as a function of r = u / m


def _tangent_gap(u_: sp.Expr, m_: sp.Expr) -> sp.Expr:
    """-log u minus the tangent line of -log at m, evaluated at u."""
    return -sp.log(u_) - (-sp.log(m_) - (u_ - m_) / m_)


def _gap_nonnegative(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """lhs >= rhs = 0 with lhs = h(u/m), h(r) = r - 1 - log r: h(1) = 0, h'(1) = 0 and h'' = 1/r^2 > 0,
    so r = 1 is h's global minimum on r > 0 (h is convex there) and h >= 0."""
    gap = sp.sympify(lhs).doit()
    minimum_at_one = is_zero(_h.subs(r, 1)) and is_zero(sp.diff(_h, r).subs(r, 1))
    convex = sp.simplify(sp.diff(_h, r, 2) - 1 / r**2) == 0 and (1 / r**2).is_positive
    return bool(rhs == 0 and minimum_at_one and convex and is_zero(gap - _h.subs(r, u / m)))


def _two_tangents(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """lhs - rhs is p times the tangent gap at a plus (1 - p) times the gap at b: both gaps are >= 0
    (the tangent-line inequality), both weights are >= 0 (0 < p < 1, a premise)."""
    decomposition = w * _tangent_gap(a, m) + (1 - w) * _tangent_gap(b, m)
    return is_zero(sp.sympify(lhs).doit() - sp.sympify(rhs).doit() - decomposition)


def _jensen_instance(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """lhs >= rhs is Jensen's two-point inequality with a = q/p, b = (1 - q)/(1 - p)."""
    jensen_lhs = w * -sp.log(a) + (1 - w) * -sp.log(b)
    jensen_rhs = -sp.log(w * a + (1 - w) * b)
    instance = {a: q / w, b: (1 - q) / (1 - w)}
    return is_zero(sp.sympify(lhs).doit() - jensen_lhs.subs(instance)) and is_zero(
        sp.sympify(rhs).doit() - jensen_rhs.subs(instance))


@derivation
def jensen_and_nonnegativity() -> Derivation:
    """-log is convex; its tangent line lies below it; Jensen for a two-point distribution; KL >= 0."""
    d = Derivation(r"Jensen's inequality for $-\log$, and $\mathrm{KL} \ge 0$ (Gibbs' inequality)")
    mean = sp.Symbol("m", positive=True)
    d.given(m, add(mul(w, a), mul(1 - w, b)),
            r"the mean of a two-point variable $X$, equal to $a$ with probability $p$ and to $b$ otherwise "
            r"($0 < p < 1$)")
    convex = d.chain(sp.Derivative(-sp.log(u), (u, 2)), r"$-\log$ is convex: its second derivative is positive,")
    convex.to(1 / u**2, "differentiate twice")
    d.claim(sp.Gt(1 / u**2, 0, evaluate=False), r"for every $u > 0$")
    tangent = d.chain(add(-sp.log(u), sp.log(mean), frac(u - mean, mean)),
                      r"So $-\log$ lies above each tangent line: at $u$, the gap between $-\log u$ and the tangent "
                      r"$-\log m - (u - m)/m$ at $m$ is")
    tangent.to(add(u / mean, -1, -sp.log(frac(u, mean))), r"collect the logarithms")
    tangent.to(sp.Integer(0), r"with $r = u/m$: $h(r) = r - 1 - \log r$ has $h(1) = 0$, $h'(1) = 0$ and "
               r"$h''(r) = 1/r^2 > 0$, so $h \ge 0$", relation=">=", proof=_gap_nonnegative)
    jensen = d.chain(add(mul(w, -sp.log(a)), mul(1 - w, -sp.log(b))),
                     r"Jensen's inequality for the two-point $X$: $\mathbb{E}[-\log X] \ge -\log \mathbb{E}[X]$,",
                     name=sp.Symbol(r"\mathbb{E}[-\log X]"))
    jensen.to(add(mul(w, held(-sp.log(mean) - (a - mean) / mean)), mul(1 - w, held(-sp.log(mean) - (b - mean) / mean))),
              r"the tangent at $m$ lies below $-\log$, at $u = a$ and at $u = b$; the weights are $\ge 0$",
              relation=">=", proof=_two_tangents)
    jensen.to(add(-sp.log(mean), -frac(add(mul(w, a - mean), mul(1 - w, b - mean)), mean)),
              r"collect $-\log m$: the weights sum to $1$")
    jensen.to(-sp.log(mean), r"the linear term vanishes: $p(a - m) + (1 - p)(b - m) = 0$ by the definition of $m$",
              using={m: w * a + (1 - w) * b})
    jensen.to(-sp.log(add(mul(w, a), mul(1 - w, b))), r"definition of $m$: the mean of $X$",
              using={m: w * a + (1 - w) * b})
    kl_two = d.chain(add(mul(w, sp.log(frac(w, q))), mul(1 - w, sp.log(frac(1 - w, 1 - q)))),
                     r"Gibbs' inequality for two-point distributions $(p, 1 - p)$ and $(q, 1 - q)$, $0 < q < 1$:",
                     name=sp.Symbol(r"\mathrm{KL}(p\,\|\,q)"))
    kl_two.to(add(mul(w, -sp.log(frac(q, w))), mul(1 - w, -sp.log(frac(1 - q, 1 - w)))),
              r"$\log(y/z) = -\log(z/y)$: an expectation of $-\log X$ with $X = q(x)/p(x)$")
    kl_two.to(-sp.log(add(mul(w, frac(q, w)), mul(1 - w, frac(1 - q, 1 - w)))),
              r"Jensen above, with $a = q/p$ and $b = (1 - q)/(1 - p)$", relation=">=", proof=_jensen_instance)
    kl_two.to(-sp.log(add(q, held(1 - q))), r"cancel $p$ and $1 - p$: $\mathbb{E}_p[X] = \sum_x q(x)$")
    kl_two.to(sp.Integer(0), r"$q$ sums to $1$, and $\log 1 = 0$")
    # equality: three outcomes, q = p
    p1, p2, q1, q2 = sp.symbols("p_1 p_2 q_1 q_2", positive=True)
    ps, qs = [p1, p2, 1 - p1 - p2], [q1, q2, 1 - q1 - q2]
    kl_3 = sum(pi * sp.log(pi / qi) for pi, qi in zip(ps, qs, strict=True))
    same = d.chain(add(*(mul(pi, sp.log(frac(pi, pi))) for pi in ps)),
                   r"Equality when $q = p$ (three outcomes, say):", name=sp.Symbol(r"\mathrm{KL}(p\,\|\,p)"))
    same.to(add(*(mul(pi, sp.log(sp.Integer(1), evaluate=False)) for pi in ps)), r"each ratio is $1$")
    same.to(sp.Integer(0), r"$\log 1 = 0$")
    d.keep("kl_3", kl_3)
    d.keep("kl_two_point", w * sp.log(w / q) + (1 - w) * sp.log((1 - w) / (1 - q)))
    return d


@derivation
def asymmetry() -> Derivation:
    """KL(p||q) != KL(q||p), on a coin and on two Gaussians, exactly."""
    d = Derivation(r"KL is not symmetric: $\mathrm{KL}(p\,\|\,q) \ne \mathrm{KL}(q\,\|\,p)$")
    half, nine, one = sp.Rational(1, 2), sp.Rational(9, 10), sp.Rational(1, 10)
    forward = half * sp.log(half / nine) + half * sp.log(half / one)
    backward = nine * sp.log(nine / half) + one * sp.log(one / half)
    kl_pq, kl_qp = sp.Symbol(r"\mathrm{KL}(p\,\|\,q)"), sp.Symbol(r"\mathrm{KL}(q\,\|\,p)")
    fwd = d.chain(add(mul(half, sp.log(sp.Rational(5, 9))), mul(half, sp.log(5))),
                  r"A fair coin $p = (\frac12, \frac12)$ against a biased one $q = (\frac{9}{10}, \frac{1}{10})$: "
                  r"$\mathrm{KL}(p\,\|\,q) = \frac12 \log \frac{1/2}{9/10} + \frac12 \log \frac{1/2}{1/10}$,",
                  name=kl_pq)
    fwd.to(mul(half, sp.log(sp.Rational(25, 9))), r"$\log y + \log z = \log yz$")
    fwd.to(sp.log(sp.Rational(5, 3)), r"$\frac12 \log \frac{25}{9} = \log \frac53$")
    bwd = d.chain(add(mul(nine, sp.log(sp.Rational(9, 5))), mul(one, sp.log(sp.Rational(1, 5)))),
                  r"and the other way round, $\mathrm{KL}(q\,\|\,p) = \frac{9}{10} \log \frac{9/10}{1/2} + "
                  r"\frac{1}{10} \log \frac{1/10}{1/2}$,", name=kl_qp)
    bwd.to(add(mul(nine, sp.log(9)), -sp.log(5)), r"$\log \frac{y}{z} = \log y - \log z$; collect $\log 5$")
    d.claim(sp.Gt(sp.log(sp.Rational(5, 3)) - backward, sp.Rational(1, 10), evaluate=False),
            r"they differ by more than $0.1$ nats ($0.511$ against $0.368$)")
    narrow_wide = kl_gaussian_closed_form(0, 1, 0, 2)
    wide_narrow = kl_gaussian_closed_form(0, 2, 0, 1)
    general = add(sp.log(frac(sigma_2, sigma_1)), frac(sigma_1**2 + (mu_1 - mu_2) ** 2, 2 * sigma_2**2), -half)
    nw = d.chain(sp.Subs(general, (mu_1, sigma_1, mu_2, sigma_2), (0, 1, 0, 2)),
                 r"Two Gaussians with the closed form proved below: a narrow $p = \mathcal{N}(0, 1)$ inside a "
                 r"wide $q = \mathcal{N}(0, 4)$,")
    nw.to(add(sp.log(2), sp.Rational(1, 8), -half), r"insert $\mu_1 = \mu_2 = 0$, $\sigma_1 = 1$, $\sigma_2 = 2$")
    nw.to(sp.log(2) - sp.Rational(3, 8), r"add the fractions")
    wn = d.chain(sp.Subs(general, (mu_1, sigma_1, mu_2, sigma_2), (0, 2, 0, 1)),
                 r"and a wide $p = \mathcal{N}(0, 4)$ inside a narrow $q = \mathcal{N}(0, 1)$:")
    wn.to(add(sp.log(half), frac(4, 2), -half), r"insert $\sigma_1 = 2$, $\sigma_2 = 1$")
    wn.to(sp.Rational(3, 2) - sp.log(2), r"$\log \frac12 = -\log 2$; add the fractions")
    d.claim(sp.Lt(narrow_wide, wide_narrow, evaluate=False),
            r"a narrow $p$ inside a wide $q$ costs less than a wide $p$ inside a narrow $q$ ($0.318$ against $0.807$)")
    d.keep("coin_forward", forward)
    d.keep("coin_backward", backward)
    return d
