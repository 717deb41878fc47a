"""Chapter 11: Langevin dynamics, proved by SymPy. dx = grad log p dt + sqrt(2) dw leaves p
invariant (Fokker-Planck); the unadjusted chain x <- x + eps grad log p + sqrt(2 eps) z on
N(0, s_0^2) has stationary variance 2 s_0^4 / (2 s_0^2 - eps) (for eps < 2 s_0^2; Roberts &
Tweedie 1996); with the drift's sign flipped there is none."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation
from diffusion_edu.derivations.score.calculus import Dx, epsilon, p, s_0, x, z


@derivation
def langevin_invariance() -> Derivation:
    d = Derivation(r"Langevin dynamics $dx = \nabla\log p\,dt + \sqrt2\,dw$ leaves $p$ invariant")
    dpdt = sp.Symbol(r"\frac{\partial p}{\partial t}")
    d.given(dpdt, add(-Dx(mul(sp.Symbol("v"), p(x)), x), sp.Derivative(p(x), (x, 2))),
            r"Fokker–Planck for $dx = v\,dt + \sqrt2\,dw$")
    score_p = sp.Derivative(sp.log(p(x)), x)
    right = d.chain(add(-Dx(mul(p(x), score_p), x), sp.Derivative(p(x), (x, 2))),
                    r"With the drift $v = \partial_x\log p$:", name=dpdt)
    right.to(add(-sp.Derivative(sp.Derivative(p(x), x), x, evaluate=False), sp.Derivative(p(x), (x, 2))),
             r"$p\,\partial_x\log p = \partial_x p$")
    right.to(sp.Integer(0), r"the terms cancel: $p$ is a stationary density")
    flipped = d.chain(add(-Dx(mul(-1, p(x), score_p), x), sp.Derivative(p(x), (x, 2))),
                      r"With the drift's sign flipped, $v = -\partial_x\log p$:", name=dpdt)
    flipped.to(add(sp.Derivative(sp.Derivative(p(x), x), x, evaluate=False), sp.Derivative(p(x), (x, 2))),
               r"$p\,\partial_x\log p = \partial_x p$")
    flipped.to(mul(2, sp.Derivative(p(x), (x, 2))), r"the terms add up: no density with $p'' \ne 0$ stays put")

    # the discrete chain on p = N(0, s_0^2): x' = (1 - eps / s_0^2) x + sqrt(2 eps) z
    v_inf = sp.Symbol(r"v_{\infty}", positive=True)
    shrink = 1 - epsilon / s_0**2
    d.given(sp.Symbol(r"x'"), add(mul(held(shrink), x), mul(sqrt(2 * epsilon), z)),
            r"one step $x + \varepsilon\,\nabla\log p(x) + \sqrt{2\varepsilon}\,z$ on $\mathcal N(0, s_0^2)$, "
            r"whose score is $-x/s_0^2$")
    fixed = d.chain(add(power(held(shrink), 2) * 2 * epsilon / (1 - power(held(shrink), 2)), 2 * epsilon),
                    r"$x$ and $z$ are independent, so $\operatorname{Var} x' = (1 - \varepsilon/s_0^2)^2 "
                    r"\operatorname{Var} x + 2\varepsilon$; its fixed point $v_\infty = 2\varepsilon/(1 - "
                    r"(1 - \varepsilon/s_0^2)^2)$ is kept by one more step:")
    fixed.to(frac(2 * epsilon, add(1, -power(shrink, 2))), "common denominator")
    fixed.to(frac(2 * epsilon, add(2 * epsilon / s_0**2, -epsilon**2 / s_0**4)), "multiply out the square")
    fixed.to(frac(2 * s_0**4, add(2 * s_0**2, -epsilon)), r"multiply above and below by $s_0^4/\varepsilon$")
    ula = 2 * s_0**4 / (2 * s_0**2 - epsilon)
    bias = d.chain(add(frac(2 * s_0**4, add(2 * s_0**2, -epsilon)), -s_0**2),
                   r"Valid while $|1 - \varepsilon/s_0^2| < 1$, i.e. $\varepsilon < 2 s_0^2$; "
                   r"the unadjusted chain overshoots the target variance:", name=v_inf - s_0**2)
    bias.to(frac(mul(s_0**2, epsilon), add(2 * s_0**2, -epsilon)),
            r"common denominator: positive, of order $\varepsilon$")
    d.chain(sp.Limit(ula, epsilon, 0), r"and the bias vanishes with the step:").to(
        s_0**2, r"as $\varepsilon \to 0$ the chain's law tends to $p$")
    grow = 1 + epsilon / s_0**2
    wrong = d.chain(frac(2 * epsilon, add(1, -power(grow, 2))),
                    r"With the drift's sign flipped the chain multiplies $x$ by $1 + \varepsilon/s_0^2 > 1$; "
                    r"the same fixed point:")
    wrong.to(frac(2 * epsilon, add(-2 * epsilon / s_0**2, -epsilon**2 / s_0**4)), "multiply out the square")
    wrong.to(-frac(2 * s_0**4, add(2 * s_0**2, epsilon)), r"multiply above and below by $s_0^4/\varepsilon$")
    d.claim(sp.Lt(-frac(2 * s_0**4, add(2 * s_0**2, epsilon)), 0, evaluate=False),
            "a negative variance: no stationary law, the chain diverges")
    d.keep("ula_variance", ula)
    return d
