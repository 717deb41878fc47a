"""Chapter 11: scores, score matching and Langevin dynamics, proved by SymPy as chains a reader follows.

- the score of q = exp(-f) / Z is -grad f: the normalising constant vanishes; a score integrates
  to zero against its density;
- implicit score matching (Hyvarinen 2005): expand the square, rewrite the cross term
  E_p[s grad log p] = int s p', integrate by parts (the boundary term vanishes), so
  J(theta) = E_p[|s|^2 / 2 + div s] + const; checked on a Gaussian with a cubic model, and the
  sign slip (E_p[|s|^2 / 2 - div s]) whose minimiser is the score with the wrong sign;
- denoising score matching (Vincent 2011): the kernel's score -z / sigma, the sigma^2-weighted loss
  |sigma s + z|^2, and DSM = explicit score matching on p_sigma + const;
- Tweedie's formula E[x_0 | x_t] = x_t + sigma^2 grad log p_sigma(x_t), hence DDPM's
  eps = -sqrt(1 - alpha_bar) score;
- Langevin dynamics dx = grad log p dt + sqrt(2) dw leaves p invariant (Fokker-Planck); the
  unadjusted chain x <- x + eps grad log p + sqrt(2 eps) z on N(0, s_0^2) has stationary variance
  2 s_0^4 / (2 s_0^2 - eps) (for eps < 2 s_0^2); with the drift's sign flipped there is none.

1-D throughout: in D dimensions the derivative s' becomes the divergence tr grad_x s.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation

x, x_0, z, mu, a, b, c = sp.symbols("x x_0 z mu a b c", real=True)
sigma, s_0, epsilon, Z = sp.symbols("sigma s_0 epsilon Z", positive=True)
alpha_bar = sp.Symbol(r"\bar{\alpha}_t", positive=True)
f = sp.Function("f")
p = sp.Function("p")
s = sp.Function(r"s_{\theta}")
theta = sp.Symbol("theta")
x_tilde = sp.Symbol(r"\tilde{x}", real=True)
oo = sp.oo


def gaussian_pdf(x_: sp.Expr, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return sp.exp(-((x_ - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


def gaussian_expectation(expr: sp.Expr, var: sp.Symbol, mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    """E[expr] for var ~ N(mean, std^2), expr a polynomial in var: moments by the moment generating function."""
    poly = sp.Poly(sp.expand(expr), var)
    t = sp.Symbol("t_mgf")
    mgf = sp.exp(mean * t + std**2 * t**2 / 2)
    total = 0
    for (k,), coeff in poly.terms():
        total += coeff * sp.diff(mgf, t, k).subs(t, 0)
    return sp.expand(total)


class Expect(sp.Function):
    """``Expect(g, v, m, s)``: E[g] over v ~ N(m, s^2), displayed as an expectation and evaluated
    (for a proof) by exact Gaussian moments; g must be a polynomial in v."""

    nargs = 4

    def doit(self, deep: bool = True, **hints: object) -> sp.Expr:
        g, var, mean, std = self.args
        if deep:
            g = g.doit(deep=deep, **hints)
        return gaussian_expectation(g, var, mean, std)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\mathbb{{E}}_{{{printer._print(self.args[1])}}}\left[{printer._print(self.args[0])}\right]"


class Dx(sp.Function):
    """``Dx(g, v)``: the derivative of g in v, displayed as $\\partial_v(g)$ with its brackets (SymPy
    prints the derivative of a product without them) and evaluated by differentiating."""

    nargs = 2

    def doit(self, deep: bool = True, **hints: object) -> sp.Expr:
        g, var = self.args
        return sp.diff(g.doit(deep=deep, **hints) if deep else g, var)

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return rf"\partial_{{{printer._print(self.args[1])}}}\left({printer._print(self.args[0])}\right)"


# ---------------------------------------------------------------------------------------------
# proofs for integrals of unknown functions
# ---------------------------------------------------------------------------------------------


def _split_integrals(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``expr`` = integral over the real line of D + R: (D, R), or None if some term is not of
    that kind (an integral over other limits, or a coefficient that depends on ``var``)."""
    integrand, rest = sp.S.Zero, sp.S.Zero
    for term in sp.Add.make_args(sp.expand(expr)):
        integrals = [fac for fac in sp.Mul.make_args(term) if isinstance(fac, sp.Integral)]
        if not integrals:
            rest += term
            continue
        if len(integrals) > 1 or integrals[0].limits != ((var, -oo, oo),):
            return None
        coeff = term / integrals[0]
        if var in coeff.free_symbols:
            return None
        integrand += coeff * integrals[0].function
    return integrand, rest


def _limit_key(limit: sp.Limit) -> sp.Limit:
    """A limit with its expression evaluated (so that forms written in another order match)."""
    return sp.Limit(evaluate(limit.args[0]), *limit.args[1:])


def integrals_agree(var: sp.Symbol = x, premises: dict | None = None,
                    vanishing: tuple[sp.Expr, ...] = ()) -> callable:
    """A proof for forms made of integrals over the real line of unknown functions: linearity of
    the integral (the integrands, collected, cancel), after substituting ``premises`` (limits
    known to vanish). A leftover integrand that is a constant times the derivative of one of
    ``vanishing`` (functions whose limits at both ends are premised to be 0) integrates to 0."""
    premises = premises or {}
    limits = {_limit_key(k): v for k, v in premises.items() if isinstance(k, sp.Limit)}
    others = {k: v for k, v in premises.items() if not isinstance(k, sp.Limit)}

    def known(limit: sp.Limit) -> sp.Basic:
        return limits.get(_limit_key(limit), limit)

    def proof(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        difference = sp.sympify(lhs - rhs).xreplace(others).replace(lambda e: isinstance(e, sp.Limit), known)
        split = _split_integrals(difference, var)
        if split is None:
            return False
        integrand, rest = (evaluate(part) for part in split)
        if not is_zero(rest):
            return False
        if is_zero(integrand):
            return True
        for F in vanishing:
            ratio = sp.simplify(integrand / sp.diff(F, var))
            if var not in ratio.free_symbols:
                return True
        return False

    return proof


def by_parts(u: sp.Expr, w: sp.Expr, var: sp.Symbol = x) -> callable:
    """A proof of integration by parts, int u w' = [u w] - int u' w, as the fundamental theorem of
    calculus: the integrands' difference is exactly (u w)', and the displayed boundary term is
    exactly lim (u w) at +oo minus at -oo (limits kept as symbols: whether they vanish is a premise)."""
    product = u * w
    boundary = sp.Limit(product, var, oo) - sp.Limit(product, var, -oo)

    def proof(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        split = _split_integrals(sp.sympify(lhs - rhs), var)
        if split is None:
            return False
        integrand, rest = split
        return is_zero(evaluate(integrand) - sp.diff(product, var)) and sp.expand(rest + boundary) == 0

    return proof


# ---------------------------------------------------------------------------------------------
# the derivations
# ---------------------------------------------------------------------------------------------


@derivation
def score_basics() -> Derivation:
    d = Derivation(r"the score $\nabla_x \log q$: the normalising constant vanishes")
    energy = d.chain(sp.Derivative(sp.log(frac(sp.exp(-f(x)), Z)), x),
                     r"An energy model $q(x) = e^{-f(x)}/Z$ with $Z = \int e^{-f}$:")
    energy.to(sp.Derivative(add(-f(x), -sp.log(Z)), x), "the logarithm of a quotient")
    energy.to(add(-sp.Derivative(f(x), x), -sp.Derivative(sp.log(Z), x)), "differentiate term by term")
    energy.to(-sp.Derivative(f(x), x), r"$Z$ does not depend on $x$: the score needs no partition function")
    normal = d.chain(sp.Derivative(sp.log(gaussian_pdf(x, mu, sigma)), x),
                     r"The score of $\mathcal N(\mu, \sigma^2)$:")
    normal.to(sp.Derivative(add(-frac((x - mu) ** 2, 2 * sigma**2), -sp.log(mul(sigma, sqrt(2 * sp.pi)))), x),
              "take the logarithm")
    normal.to(-(x - mu) / sigma**2, "differentiate: the constant drops out")
    pdf = gaussian_pdf(x, mu, sigma)
    mean = d.chain(sp.Integral(mul(pdf, -(x - mu) / sigma**2), (x, -oo, oo)),
                   r"A score averages to zero under its density, $\mathbb E_p[\nabla \log p] = 0$:")
    mean.to(sp.Integral(sp.Derivative(pdf, x), (x, -oo, oo)), r"$p\,\nabla\log p = \nabla p$")
    mean.to(add(sp.Limit(pdf, x, oo), -sp.Limit(pdf, x, -oo)), "the fundamental theorem of calculus")
    mean.to(sp.Integer(0), r"the density vanishes at $\pm\infty$")
    return d


@derivation
def implicit_score_matching() -> Derivation:
    """Hyvarinen 2005 in 1-D, for any density p and model s with p s -> 0 at +-infinity; then the
    same identity on a Gaussian p and a cubic model, by exact Gaussian moments."""
    d = Derivation(r"implicit score matching: integrate by parts (Hyvärinen 2005)")
    score_p = sp.Derivative(sp.log(p(x)), x)  # the unknown data score
    const = sp.Symbol("C")
    const_value = mul(sp.Rational(1, 2), sp.Integral(mul(p(x), power(score_p, 2)), (x, -oo, oo)))
    d.given(const, const_value, r"the part of $J$ without the model: a constant in $\theta$")
    premise = {sp.Limit(s(x) * p(x), x, oo): 0, sp.Limit(s(x) * p(x), x, -oo): 0}
    d.given(sp.Limit(mul(s(x), p(x)), x, oo), sp.Integer(0),
            r"premise: $s_\theta\,p \to 0$ at $\pm\infty$ (the same at $-\infty$)")
    fisher = d.chain(mul(sp.Rational(1, 2), sp.Integral(mul(p(x), power(held(s(x) - score_p), 2)), (x, -oo, oo))),
                     r"The Fisher divergence between the model's score and the data's; "
                     r"its cross term holds the unknown $\nabla\log p$:",
                     name=sp.Symbol(r"J(\theta)"))
    cross = sp.Integral(mul(p(x), s(x), score_p), (x, -oo, oo))
    expanded = add(sp.Integral(mul(sp.Rational(1, 2), p(x), power(s(x), 2)), (x, -oo, oo)), -cross, const_value)
    fisher.to(expanded, "expand the square; the integral is linear", proof=integrals_agree())
    part = d.chain(cross, r"The cross term, rewritten so that $\nabla\log p$ disappears:")
    part.to(sp.Integral(mul(s(x), sp.Derivative(p(x), x)), (x, -oo, oo)),
            r"$p\,\partial_x \log p = \partial_x p$", proof=integrals_agree())
    boundary = add(sp.Limit(mul(s(x), p(x)), x, oo), -sp.Limit(mul(s(x), p(x)), x, -oo))
    part.to(add(boundary, -sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo))),
            r"integrate by parts: $\int u\,w' = [u\,w] - \int u'\,w$", proof=by_parts(s(x), p(x)))
    part.to(-sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo)),
            r"the boundary term vanishes (premise)", proof=integrals_agree(premises=premise))
    insert = d.chain(expanded, r"Back in $J(\theta)$:", name=sp.Symbol(r"J(\theta)"))
    insert.to(add(sp.Integral(mul(sp.Rational(1, 2), p(x), power(s(x), 2)), (x, -oo, oo)),
                  sp.Integral(mul(p(x), sp.Derivative(s(x), x)), (x, -oo, oo)), const_value),
              r"insert the cross term",
              proof=integrals_agree(vanishing=(s(x) * p(x),)))
    insert.to(add(sp.Integral(mul(p(x), held(add(mul(sp.Rational(1, 2), power(s(x), 2)), sp.Derivative(s(x), x)))),
                              (x, -oo, oo)), const),
              r"one integral: $J(\theta) = \mathbb E_p\big[\tfrac12 s_\theta^2 + \partial_x s_\theta\big] + C$, "
              r"samples of $p$ and the model suffice",
              proof=integrals_agree(premises={const: const_value}))

    # the same identity on p = N(mu, sigma^2) and a cubic model, by exact Gaussian moments
    model = a * x + b + c * x**3
    true_score = -(x - mu) / sigma**2
    check = d.chain(Expect(mul(sp.Rational(1, 2), power(held(add(model, frac(x - mu, sigma**2))), 2)), x, mu, sigma),
                    r"Check on $p = \mathcal N(\mu, \sigma^2)$, score $-(x-\mu)/\sigma^2$, and a cubic model "
                    r"$s_\theta = a x + b + c x^3$:")
    check.to(add(Expect(add(mul(sp.Rational(1, 2), power(held(model), 2)), sp.diff(model, x)), x, mu, sigma),
                 Expect(mul(sp.Rational(1, 2), power(true_score, 2)), x, mu, sigma)),
             r"by the identity above, with its constant")
    implicit = gaussian_expectation(model**2 / 2 + sp.diff(model, x), x, mu, sigma)
    d.keep("fisher", gaussian_expectation((model - true_score) ** 2, x, mu, sigma))
    d.keep("implicit", implicit)

    # its minimiser over s = a x + b: complete the square
    linear = a * x + b
    minimum = d.chain(Expect(add(mul(sp.Rational(1, 2), power(held(linear), 2)), a), x, mu, sigma),
                      r"Minimise $J$ over $s_\theta = a x + b$ (then $s_\theta' = a$):")
    minimum.to(add(mul(sp.Rational(1, 2), power(a, 2), held(mu**2 + sigma**2)), mul(a, b, mu),
                   mul(sp.Rational(1, 2), power(b, 2)), a),
               r"Gaussian moments $\mathbb E x = \mu$, $\mathbb E x^2 = \mu^2 + \sigma^2$")
    minimum.to(add(mul(sp.Rational(1, 2), power(held(b + a * mu), 2)),
                   mul(sp.Rational(1, 2), power(sigma, 2), power(held(add(a, 1 / sigma**2)), 2)),
                   -1 / (2 * sigma**2)),
               r"complete the square in $b$, then in $a$: the minimum is at $a = -1/\sigma^2$, "
               r"$b = \mu/\sigma^2$, the true score $-(x-\mu)/\sigma^2$")
    return d


@derivation
def implicit_score_matching_sign() -> Derivation:
    """The pitfall: E_p[s^2 / 2 - s'] instead of + s'. On a Gaussian, over s = a x + b, its
    minimiser is the true score with the wrong sign."""
    d = Derivation(r"the sign of the divergence term: $\mathbb E_p\big[\tfrac12 s_\theta^2 - s_\theta'\big]$ "
                   r"learns the score backwards")
    linear = a * x + b
    wrong = d.chain(Expect(add(mul(sp.Rational(1, 2), power(held(linear), 2)), -a), x, mu, sigma),
                    r"The same minimisation with the divergence term's sign flipped, on "
                    r"$p = \mathcal N(\mu, \sigma^2)$:")
    wrong.to(add(mul(sp.Rational(1, 2), power(a, 2), held(mu**2 + sigma**2)), mul(a, b, mu),
                 mul(sp.Rational(1, 2), power(b, 2)), -a),
             r"Gaussian moments $\mathbb E x = \mu$, $\mathbb E x^2 = \mu^2 + \sigma^2$")
    wrong.to(add(mul(sp.Rational(1, 2), power(held(b + a * mu), 2)),
                 mul(sp.Rational(1, 2), power(sigma, 2), power(held(add(a, -1 / sigma**2)), 2)),
                 -1 / (2 * sigma**2)),
             r"complete the squares: the minimum is at $a = +1/\sigma^2$, $b = -\mu/\sigma^2$, "
             r"the score with the wrong sign")
    model = a * x + b + c * x**3
    true_score = -(x - mu) / sigma**2
    gap = d.chain(add(Expect(mul(sp.Rational(1, 2), power(held(model - true_score), 2)), x, mu, sigma),
                      -Expect(add(mul(sp.Rational(1, 2), power(held(model), 2)), -sp.diff(model, x)), x, mu, sigma)),
                  r"How far the flipped objective is from the Fisher divergence, for a cubic model:")
    gap.to(add(Expect(mul(2, sp.diff(model, x)), x, mu, sigma), Expect(mul(sp.Rational(1, 2), power(true_score, 2)),
                                                                      x, mu, sigma)),
           r"by the identity: $2\,\mathbb E_p[s_\theta']$ plus the constant")
    gap.to(add(2 * a + 6 * c * (mu**2 + sigma**2), 1 / (2 * sigma**2)),
           r"Gaussian moments: the gap depends on the model, so the minimisers differ")
    return d


@derivation
def denoising_score_matching() -> Derivation:
    d = Derivation("denoising score matching (Vincent 2011)")
    kernel = d.chain(sp.Derivative(sp.log(gaussian_pdf(x_tilde, x_0, sigma)), x_tilde),
                     r"The blur kernel's score, $\tilde x = x_0 + \sigma z$ with $z \sim \mathcal N(0, 1)$:")
    kernel.to(-(x_tilde - x_0) / sigma**2, "differentiate the exponent; the normaliser drops out")
    kernel.to(-frac(add(x_0, sigma * z, -x_0), sigma**2), r"insert $\tilde x = x_0 + \sigma z$",
              using={x_tilde: x_0 + sigma * z})
    kernel.to(-z / sigma, r"$x_0$ cancels: the regression target is $-z/\sigma$ ($\sigma$ is a standard deviation)")
    s_val = sp.Symbol(r"s_{\theta}", real=True)
    weighted = d.chain(mul(power(sigma, 2), power(held(s_val + z / sigma), 2)),
                       r"Weighted by $\lambda(\sigma) = \sigma^2$, the loss at one noise level:")
    weighted.to(power(held(sigma * s_val + z), 2), r"move $\sigma$ inside the square: DDPM's loss with "
                r"$\epsilon_\theta = -\sigma s_\theta$")
    # DSM and explicit score matching differ by a constant: p_0 = N(mu, s_0^2), model s(x) = a x + b
    linear = a * x + b
    var_sigma = s_0**2 + sigma**2
    dsm = Expect(Expect(power(held(linear.subs(x, x_0 + sigma * z) + z / sigma), 2), z, 0, 1), x_0, mu, s_0)
    esm = Expect(power(held(linear + (x - mu) / var_sigma), 2), x, mu, sp.sqrt(var_sigma))
    gap = d.chain(add(dsm, -esm),
                  r"DSM against explicit score matching on the blurred $p_\sigma = \mathcal N(\mu, s_0^2 + \sigma^2)$, "
                  r"for $p_0 = \mathcal N(\mu, s_0^2)$ and $s_\theta = a x + b$:")
    gap.to(add(1 / sigma**2, -1 / var_sigma),
           r"Gaussian moments: every term in $a$ and $b$ cancels, leaving $\mathbb E[z^2]/\sigma^2$ minus "
           r"the blurred score's second moment")
    gap.to(s_0**2 / (sigma**2 * var_sigma),
           r"common denominator: a constant, so both losses have the same minimiser, the score of $p_\sigma$")
    return d


@derivation
def tweedie() -> Derivation:
    d = Derivation(r"Tweedie's formula and $\hat\epsilon = -\sqrt{1 - \bar\alpha_t}\,\nabla\log p_t$")
    kernel = gaussian_pdf(x, x_0, sigma)
    slope = d.chain(sp.Derivative(kernel, x), r"The blur kernel's slope in $x$:")
    slope.to(mul(kernel, frac(x_0 - x, sigma**2)),
             r"the chain rule; integrated against $p_0(x_0)$ it gives "
             r"$p_\sigma' = p_\sigma\,(\mathbb E[x_0\mid x] - x)/\sigma^2$, Tweedie's formula")
    blurred = gaussian_pdf(x, mu, sp.sqrt(s_0**2 + sigma**2))
    check = d.chain(add(x, mul(power(sigma, 2), sp.Derivative(sp.log(blurred), x))),
                    r"Check on a Gaussian prior $x_0 \sim \mathcal N(\mu, s_0^2)$, where "
                    r"$p_\sigma = \mathcal N(\mu, s_0^2 + \sigma^2)$, "
                    r"Tweedie's $x + \sigma^2\,\nabla\log p_\sigma(x)$ is:")
    check.to(add(x, mul(power(sigma, 2), -frac(x - mu, s_0**2 + sigma**2))), r"the score of $p_\sigma$")
    check.to(frac(s_0**2 * x + sigma**2 * mu, s_0**2 + sigma**2),
             r"common denominator: the posterior mean $\mathbb E[x_0\mid x]$ of chapter 2")
    score_t = sp.Symbol(r"\nabla\log p_t", real=True)
    eps_hat = sp.Symbol(r"\hat{\epsilon}", real=True)
    d.given(eps_hat, mul(-1, sqrt(1 - alpha_bar), score_t), "a noise predictor read as a scaled score model")
    x0 = d.chain(frac(add(x, -mul(sqrt(1 - alpha_bar), eps_hat)), sqrt(alpha_bar)),
                 r"DDPM's $\hat x_0$ (chapter 8) from $x_t$, here written $x$:", name=sp.Symbol(r"\hat{x}_0"))
    x0.to(frac(add(x, mul(1 - alpha_bar, score_t)), sqrt(alpha_bar)),
          r"insert $\hat\epsilon$: Tweedie's formula for $\sqrt{\bar\alpha_t}\,x_0$ blurred with variance "
          r"$1 - \bar\alpha_t$, divided by $\sqrt{\bar\alpha_t}$, so $\hat x_0 = \mathbb E[x_0\mid x_t]$",
          using={eps_hat: -sp.sqrt(1 - alpha_bar) * score_t})
    return d


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


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
