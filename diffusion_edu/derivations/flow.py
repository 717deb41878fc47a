"""Chapter 16: flow matching (Lipman et al. 2023), rectified flow (Liu et al. 2023) and stochastic
interpolants (Albergo & Vanden-Eijnden 2023), proved by SymPy as chains a reader follows.

- the conditional Gaussian path p_t(x | x_0) = N(alpha_t x_0, sigma_t^2) satisfies the continuity
  equation with the conditional velocity u_t(x | x_0) = alpha_t' x_0 + sigma_t' (x - alpha_t x_0) / sigma_t;
- the conditional flow-matching loss is the marginal one plus a term free of the network, so the two
  have the same gradient (Lipman et al. Theorem 2);
- the marginal velocity of any Gaussian path in terms of the score, and chapter 12's probability-flow
  ODEs (VP and VE) as that velocity for their (alpha_t, sigma_t).

Time derivatives are written with a dot; the 1-D forms hold per coordinate (the path is isotropic).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm import Bracket
from diffusion_edu.derivations.forms import add, frac, held, mul, power
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation

t = sp.Symbol("t", positive=True)
x, x_0 = sp.symbols("x x_0", real=True)
alpha, sigma = sp.symbols(r"\alpha_t \sigma_t", positive=True)
d_alpha, d_sigma = sp.symbols(r"\dot{\alpha}_t \dot{\sigma}_t", real=True)
z = sp.Symbol("z", real=True)  # the standardised offset (x - alpha_t x_0) / sigma_t
beta = sp.Symbol(r"\beta_t", positive=True)
score = sp.Symbol(r"s_t", real=True)  # the score grad log p_t(x) at x
x0_hat, eps_hat = sp.symbols(r"\hat{x}_0 \hat{\epsilon}", real=True)
U = sp.Symbol("U", real=True)  # the conditional velocity, a random variable given x
MOMENTS = {1: sp.Symbol(r"\mathbb{E}[U]", real=True), 2: sp.Symbol(r"\mathbb{E}[U^2]", real=True)}
density = sp.Function("p")(x, t)
velocity = sp.Function("u")(x, t)

# the symbols as functions of t, for the proofs
_A, _S = sp.Function("A")(t), sp.Function("S")(t)
_EXPLICIT_DENSITY = sp.exp(-(x - _A * x_0) ** 2 / (2 * _S**2)) / (sp.sqrt(2 * sp.pi) * _S)
_EXPLICIT_VELOCITY = _A.diff(t) * x_0 + _S.diff(t) * (x - _A * x_0) / _S


class Mean(sp.Function):
    """``E[expr]`` over the random U, displayed as written; evaluated by linearity from U's moments
    (``expr`` a polynomial of degree at most 2 in U)."""

    nargs = 1

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:  # never evaluates on construction
        return None

    def doit(self, **hints: object) -> sp.Expr:
        poly = sp.Poly(sp.expand(self.args[0].doit(**hints)), U)
        return sp.Add(*(coeff * (MOMENTS[k] if k else 1) for (k,), coeff in poly.terms()))

    def _latex(self, printer: object) -> str:
        return rf"\mathbb{{E}}\left[{printer._print(self.args[0])}\right]"  # type: ignore[attr-defined]


def _explicit(expr: sp.Basic) -> sp.Basic:
    """``expr`` with the Gaussian path written out: p and u as the functions of (x, t) they stand for,
    the dotted symbols as derivatives; derivatives then evaluated."""
    expr = evaluate(expr).subs({density: _EXPLICIT_DENSITY, velocity: _EXPLICIT_VELOCITY}).doit()
    return expr.subs({z: (x - _A * x_0) / _S, d_alpha: _A.diff(t), d_sigma: _S.diff(t)}).subs({alpha: _A, sigma: _S})


def _same_path(lhs: sp.Basic, rhs: sp.Basic) -> bool:
    """Proof for forms of the conditional Gaussian path: equal once written out, relative to the density."""
    return is_zero(sp.simplify((_explicit(lhs) - _explicit(rhs)) / _EXPLICIT_DENSITY))


@derivation
def continuity_equation() -> Derivation:
    """The conditional Gaussian path and its conditional velocity satisfy the continuity equation."""
    d = Derivation(r"The conditional Gaussian path moves by its conditional velocity (the continuity equation)")
    d.given(density, sp.Symbol(r"\mathcal{N}(x;\ \alpha_t x_0,\ \sigma_t^2)"),
            r"the path given one data point $x_0$ (the noise $\epsilon$ scaled by $\sigma_t$ around $\alpha_t x_0$)")
    d.given(velocity, add(mul(d_alpha, x_0), mul(d_sigma, z)),
            r"the time derivative of $x_t = \alpha_t x_0 + \sigma_t \epsilon$ at the $\epsilon$ that reaches $x$")
    d.given(z, frac(add(x, -mul(alpha, x_0)), sigma), r"that $\epsilon$: the standardised offset")
    sigma_rate = frac(d_sigma, sigma)
    chain = d.chain(add(sp.Derivative(density, t), sp.Derivative(Bracket(mul(density, velocity)), x)),
                    r"Mass is conserved when the density's change in time equals the inflow, "
                    r"$\partial_t p + \partial_x (p\,u) = 0$:")
    chain.to(add(sp.Derivative(density, t), mul(velocity, sp.Derivative(density, x)),
                 mul(density, sp.Derivative(velocity, x))), "the product rule", proof=_same_path)
    chain.to(mul(density, held(add(-sigma_rate, frac(mul(z, d_alpha, x_0), sigma), mul(power(z, 2), sigma_rate),
                                   -mul(velocity, frac(z, sigma)), sigma_rate))),
             r"differentiate the Gaussian: $\partial_t \log p = -\dot\sigma_t/\sigma_t + z\,\dot\alpha_t x_0/\sigma_t "
             r"+ z^2 \dot\sigma_t/\sigma_t$, $\partial_x \log p = -z/\sigma_t$, $\partial_x u = \dot\sigma_t/\sigma_t$",
             proof=_same_path)
    chain.to(mul(density, held(add(frac(mul(z, d_alpha, x_0), sigma), mul(power(z, 2), sigma_rate),
                                   -mul(held(add(mul(d_alpha, x_0), mul(d_sigma, z))), frac(z, sigma))))),
             r"$\pm\dot\sigma_t/\sigma_t$ cancel; insert $u$", proof=_same_path)
    chain.to(sp.Integer(0), r"multiply out: every term cancels", proof=_same_path)
    d.keep("velocity", _EXPLICIT_VELOCITY)
    return d


@derivation
def same_gradient() -> Derivation:
    """Conditional and marginal flow matching differ by a constant in the network: same gradient."""
    v, u_marginal = sp.symbols(r"v_\theta u_t", real=True)
    mean_u, mean_u2 = MOMENTS[1], MOMENTS[2]
    d = Derivation(r"Conditional flow matching has the marginal loss's gradient (Lipman et al., Theorem 2)")
    d.given(U, sp.Symbol(r"u_{t}(x \mid x_{0})"),
            r"the conditional velocity, random through $x_0 \sim p(x_0 \mid x_t = x)$; $v_\theta = v_\theta(x, t)$ "
            r"is fixed given $x$")
    d.given(u_marginal, mean_u, r"the marginal velocity is the posterior mean of the conditional one")
    chain = d.chain(Mean(power(held(add(v, -U)), 2)),
                    r"At each $(x, t)$ the conditional loss averages over the data points that could have "
                    r"produced $x$:", name=sp.Symbol(r"\mathcal{L}_{\mathrm{CFM}}(x, t)"))
    chain.to(add(power(v, 2), -mul(2, v, mean_u), mean_u2), r"expand the square; the expectation is linear")
    chain.to(add(power(v, 2), -mul(2, v, u_marginal), mean_u2), r"$\mathbb{E}[U] = u_t$",
             using={mean_u: u_marginal})
    chain.to(add(power(held(add(v, -u_marginal)), 2), held(add(mean_u2, -power(u_marginal, 2)))),
             r"complete the square: the marginal loss $(v_\theta - u_t)^2$ plus the variance of $U$, "
             r"which does not depend on $\theta$")
    gradient = d.chain(sp.Derivative(add(power(held(add(v, -u_marginal)), 2),
                                         held(add(mean_u2, -power(u_marginal, 2)))), v),
                       r"so the two losses have the same gradient in the network's output, hence in $\theta$:",
                       name=sp.Symbol(r"\partial \mathcal{L}_{\mathrm{CFM}} / \partial v_\theta"))
    gradient.to(mul(2, held(add(v, -u_marginal))),
                r"the variance term is constant in $v_\theta$; this is "
                r"$\partial (v_\theta - u_t)^2 / \partial v_\theta$")
    return d


@derivation
def probability_flow_is_a_flow() -> Derivation:
    """The marginal velocity of a Gaussian path from the score; the VP and VE probability-flow ODEs."""
    d = Derivation(r"The marginal velocity from the score, and chapter 12's probability-flow ODE as a flow")
    d.given(eps_hat, mul(-1, sigma, score), r"Tweedie (chapter 11): the posterior mean of the noise")
    d.given(x0_hat, frac(add(x, mul(power(sigma, 2), score)), alpha), r"Tweedie: the posterior mean of $x_0$")
    marginal = d.chain(add(mul(d_alpha, x0_hat), mul(d_sigma, eps_hat)),
                       r"The marginal velocity is the posterior mean of $\dot\alpha_t x_0 + \dot\sigma_t \epsilon$:",
                       name=sp.Symbol(r"u_{t}(x)"))
    marginal.to(add(mul(d_alpha, frac(add(x, mul(power(sigma, 2), score)), alpha)), -mul(d_sigma, sigma, score)),
                "insert both posterior means", using={eps_hat: -sigma * score, x0_hat: (x + sigma**2 * score) / alpha})
    general = add(mul(frac(d_alpha, alpha), x), mul(held(add(frac(mul(d_alpha, power(sigma, 2)), alpha),
                                                             -mul(sigma, d_sigma))), score))
    marginal.to(general, r"collect the terms in $x$ and in the score")
    # VP: alpha = exp(-B / 2) with B' = beta, sigma^2 = 1 - alpha^2
    vp = {d_alpha: -beta * alpha / 2, d_sigma: beta * alpha**2 / (2 * sigma)}
    vp_chain = d.chain(general, r"VP (chapter 12): $\dot\alpha_t = -\beta_t \alpha_t / 2$, and $\sigma_t^2 = 1 - "
                                r"\alpha_t^2$ gives $\sigma_t \dot\sigma_t = \beta_t \alpha_t^2 / 2$:")
    vp_chain.to(add(mul(-frac(beta, 2), x), mul(held(add(mul(-frac(beta, 2), power(sigma, 2)),
                                                         -mul(frac(beta, 2), power(alpha, 2)))), score)),
                r"insert both rates", using=vp)
    vp_chain.to(add(mul(-frac(beta, 2), x), -mul(frac(beta, 2), score)),
                r"$\alpha_t^2 + \sigma_t^2 = 1$: the VP probability-flow ODE $f - \tfrac12 g^2 s_t$ with "
                r"$f = -\tfrac12 \beta_t x$, $g^2 = \beta_t$", using={sigma: sp.sqrt(1 - alpha**2)})
    ve_chain = d.chain(general, r"VE (chapter 12): $\alpha_t = 1$, $\dot\alpha_t = 0$, $\sigma_t^2 = v(t)$:")
    ve_chain.to(-mul(sigma, d_sigma, score), r"only the score term is left", using={d_alpha: 0, alpha: 1})
    ve_chain.to(-mul(frac(1, 2), sp.Symbol(r"\dot{v}(t)"), score),
                r"$\sigma_t \dot\sigma_t = \tfrac12 \dot v(t) = \tfrac12 g(t)^2$: the VE probability-flow ODE",
                using={d_sigma: sp.Symbol(r"\dot{v}(t)") / (2 * sigma)})
    d.keep("marginal_velocity", evaluate(general))
    return d
