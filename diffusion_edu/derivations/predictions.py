"""What a network predicts on a Gaussian noise path x_t = alpha_t x_0 + sigma_t eps, proved by SymPy as
chains a reader follows (the torch side is :mod:`diffusion_edu.processes.predictions`).

- x_0 and eps from each other, on any path;
- v = alpha eps - sigma x_0 (Salimans & Ho 2022): eps and x_0 from (x_t, v) on any path, divided by
  alpha^2 + sigma^2; on a variance-preserving path (DDPM, the VP SDE) that is 1;
- the score of the Gaussian kernel is -eps / sigma, and Tweedie's x_0 = (x_t + sigma^2 score) / alpha;
- the velocity u = d x_t / dt = alpha' x_0 + sigma' eps from (x_t, eps) and from (x_t, x_0), and back;
  rectified flow's u = eps - x_0, EDM's u = (x_t - x_0) / sigma, and the VP path's velocity is the
  probability-flow ODE's f - g^2 score / 2;
- the log-SNR lambda = log(alpha^2 / sigma^2) of each path family, each decreasing in t.

1-D throughout: every formula acts coordinate by coordinate.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation, evaluate, is_zero
from diffusion_edu.derivations.registry import derivation

alpha, sigma = sp.symbols("alpha_t sigma_t", positive=True)
d_alpha, d_sigma = sp.symbols(r"\dot{\alpha}_t \dot{\sigma}_t", real=True)
x_t, x_0, eps, v, score, u = sp.symbols(r"x_t x_0 epsilon v_t \nabla\log{p_t} u_t", real=True)
t = sp.Symbol("t", positive=True)
alpha_bar = sp.Symbol(r"\bar{\alpha}_t", positive=True)
B = sp.Symbol("B_t", positive=True)  # the VP SDE's integral of beta from 0 to t
beta = sp.Symbol("beta_t", positive=True)
s_ve = sp.Symbol("s", positive=True)  # the VE SDE's base (VESDE.sigma > 1)
lam = sp.Symbol("lambda_t", real=True)

PATH = alpha * x_0 + sigma * eps
X0_FROM_EPS = (x_t - sigma * eps) / alpha
EPS_FROM_X0 = (x_t - alpha * x_0) / sigma
EPS_FROM_V = (sigma * x_t + alpha * v) / (alpha**2 + sigma**2)
X0_FROM_V = (alpha * x_t - sigma * v) / (alpha**2 + sigma**2)
SCORE_FROM_EPS = -eps / sigma
X0_FROM_SCORE = (x_t + sigma**2 * score) / alpha
VELOCITY_FROM_EPS = d_alpha / alpha * x_t + (d_sigma - d_alpha * sigma / alpha) * eps
VELOCITY_FROM_X0 = d_sigma / sigma * x_t + (d_alpha - d_sigma * alpha / sigma) * x_0
EPS_FROM_VELOCITY = (alpha * u - d_alpha * x_t) / (alpha * d_sigma - sigma * d_alpha)
X0_FROM_VELOCITY = (d_sigma * x_t - sigma * u) / (alpha * d_sigma - sigma * d_alpha)

PATH_FORM = add(mul(alpha, x_0), mul(sigma, eps))  # the path as written (SymPy would reorder PATH)
_PATH_REASON = r"insert the path $x_t = \alpha_t x_0 + \sigma_t \epsilon$"
_W = sp.Symbol("w", positive=True)


def in_unit_interval(variable: sp.Symbol) -> Callable[[sp.Basic, sp.Basic], bool]:
    """Proof for forms in a variable in (0, 1), written 1 / (1 + w) with w > 0, so SymPy knows that
    1 minus it is positive."""
    def proof(lhs: sp.Basic, rhs: sp.Basic) -> bool:
        unit = {variable: 1 / (1 + _W)}
        return is_zero(evaluate(lhs).subs(unit) - evaluate(rhs).subs(unit))
    return proof


@derivation
def x0_and_eps() -> Derivation:
    d = Derivation(r"$x_0$ and $\epsilon$ from each other, on any Gaussian path")
    d.given(x_t, add(mul(alpha, x_0), mul(sigma, eps)), r"the path, with $\alpha_t > 0$, $\sigma_t > 0$")
    x0 = d.chain(frac(add(x_t, -mul(sigma, eps)), alpha), r"Solve the path for the clean point:")
    x0.to(frac(add(held(PATH_FORM), -mul(sigma, eps)), alpha), _PATH_REASON,
          using={x_t: PATH})
    x0.to(x_0, r"the noise terms cancel, then $\alpha_t$ does")
    noise = d.chain(frac(add(x_t, -mul(alpha, x_0)), sigma), r"Solve it for the noise:")
    noise.to(frac(add(held(PATH_FORM), -mul(alpha, x_0)), sigma), _PATH_REASON,
             using={x_t: PATH})
    noise.to(eps, r"the signal terms cancel, then $\sigma_t$ does")
    d.keep("x0_from_eps", X0_FROM_EPS)
    d.keep("eps_from_x0", EPS_FROM_X0)
    return d


@derivation
def v_prediction() -> Derivation:
    d = Derivation(r"the $v$-prediction $v_t = \alpha_t\epsilon - \sigma_t x_0$ and back")
    defs = {x_t: PATH, v: alpha * eps - sigma * x_0}
    d.given(v, add(mul(alpha, eps), -mul(sigma, x_0)), r"Salimans & Ho's $v$ (progressive distillation)")
    d.given(x_t, add(mul(alpha, x_0), mul(sigma, eps)), "the path")
    norm = add(power(alpha, 2), power(sigma, 2))
    from_eps = d.chain(add(mul(alpha, eps), -mul(sigma, frac(add(x_t, -mul(sigma, eps)), alpha))),
                       r"$v$ from the noise and $x_t$: insert $x_0 = (x_t - \sigma_t\epsilon)/\alpha_t$:", name=v)
    from_eps.to(frac(add(mul(held(norm), eps), -mul(sigma, x_t)), alpha), "one denominator")
    from_x0 = d.chain(add(mul(alpha, frac(add(x_t, -mul(alpha, x_0)), sigma)), -mul(sigma, x_0)),
                      r"$v$ from the clean point and $x_t$: insert $\epsilon = (x_t - \alpha_t x_0)/\sigma_t$:",
                      name=v)
    from_x0.to(frac(add(mul(alpha, x_t), -mul(held(norm), x_0)), sigma), "one denominator")
    eps_ = d.chain(frac(add(mul(sigma, x_t), mul(alpha, v)), norm), r"Back from $v$ to the noise, on any path:")
    eps_.to(frac(add(mul(sigma, held(PATH_FORM)), mul(alpha, held(alpha * eps - sigma * x_0))), norm),
            r"insert $x_t$ and $v$", using=defs)
    eps_.to(frac(mul(held(norm), eps), norm), r"the $x_0$ terms cancel")
    eps_.to(eps, r"cancel $\alpha_t^2 + \sigma_t^2$")
    x0 = d.chain(frac(add(mul(alpha, x_t), -mul(sigma, v)), norm), r"and to the clean point:")
    x0.to(frac(add(mul(alpha, held(PATH_FORM)), -mul(sigma, held(alpha * eps - sigma * x_0))), norm),
          r"insert $x_t$ and $v$", using=defs)
    x0.to(x_0, r"the $\epsilon$ terms cancel, and so does $\alpha_t^2 + \sigma_t^2$")
    vp = {sigma: sp.sqrt(1 - alpha**2)}
    vp_eps = d.chain(frac(add(mul(sigma, x_t), mul(alpha, v)), norm),
                     r"A variance-preserving path (DDPM, the VP SDE) has $\alpha_t^2 + \sigma_t^2 = 1$, and "
                     r"only there do the divisions go away:")
    vp_eps.to(add(mul(sigma, x_t), mul(alpha, v)), r"$\alpha_t^2 + \sigma_t^2 = 1$", using=vp)
    vp_x0 = d.chain(frac(add(mul(alpha, x_t), -mul(sigma, v)), norm), r"and likewise:")
    vp_x0.to(add(mul(alpha, x_t), -mul(sigma, v)), r"$\alpha_t^2 + \sigma_t^2 = 1$", using=vp)
    d.keep("v_from_eps", alpha * eps - sigma * X0_FROM_EPS)
    d.keep("v_from_x0", alpha * EPS_FROM_X0 - sigma * x_0)
    d.keep("eps_from_v", EPS_FROM_V)
    d.keep("x0_from_v", X0_FROM_V)
    return d


@derivation
def score_from_eps() -> Derivation:
    d = Derivation(r"the score is $-\epsilon/\sigma_t$, and Tweedie's $x_0$")
    kernel = sp.exp(-(x_t - alpha * x_0) ** 2 / (2 * sigma**2)) / (sigma * sp.sqrt(2 * sp.pi))
    grad = d.chain(sp.Derivative(sp.log(kernel), x_t),
                   r"The score of the path's conditional density $p(x_t\mid x_0) = "
                   r"\mathcal N(x_t;\, \alpha_t x_0, \sigma_t^2)$:")
    grad.to(sp.Derivative(add(-frac(power(held(x_t - alpha * x_0), 2), 2 * sigma**2),
                              -sp.log(mul(sigma, sqrt(2 * sp.pi)))), x_t), "take the logarithm")
    grad.to(-frac(add(x_t, -mul(alpha, x_0)), power(sigma, 2)), "differentiate: the constant drops out")
    grad.to(-frac(mul(sigma, eps), power(sigma, 2)), _PATH_REASON, using={x_t: PATH})
    grad.to(-frac(eps, sigma), r"cancel one $\sigma_t$. Averaged over $x_0$ given $x_t$ (denoising score "
            r"matching, chapter 11) this reads $\nabla\log p_t(x_t) = -\mathbb E[\epsilon\mid x_t]/\sigma_t$, "
            r"so a noise predictor is a scaled score model")
    tweedie = d.chain(frac(add(x_t, mul(power(sigma, 2), score)), alpha),
                      r"Tweedie's formula for the clean point, from a score:", name=sp.Symbol(r"\hat{x}_0"))
    tweedie.to(frac(add(x_t, -mul(sigma, eps)), alpha), r"insert $\nabla\log p_t = -\epsilon/\sigma_t$",
               using={score: -eps / sigma})
    tweedie.to(x_0, _PATH_REASON, using={x_t: PATH})
    d.keep("score_from_eps", SCORE_FROM_EPS)
    d.keep("eps_from_score", -sigma * score)
    d.keep("x0_from_score", X0_FROM_SCORE)
    return d


def _velocity_chains(d: Derivation) -> None:
    """u from (x_t, eps) and from (x_t, x_0), and (eps, x_0) back from (x_t, u)."""
    defs = {x_t: PATH, u: d_alpha * x_0 + d_sigma * eps}
    from_eps = d.chain(add(mul(frac(d_alpha, alpha), x_t), mul(held(d_sigma - d_alpha * sigma / alpha), eps)),
                       r"The velocity from $x_t$ and the noise (what an $\epsilon$ model gives):", name=u)
    from_eps.to(add(mul(frac(d_alpha, alpha), held(PATH_FORM)), mul(held(d_sigma - d_alpha * sigma / alpha), eps)),
                _PATH_REASON, using=defs)
    from_eps.to(add(mul(d_alpha, x_0), mul(d_sigma, eps)), r"the $\dot\alpha_t\sigma_t\epsilon/\alpha_t$ terms cancel")
    from_x0 = d.chain(add(mul(frac(d_sigma, sigma), x_t), mul(held(d_alpha - d_sigma * alpha / sigma), x_0)),
                      r"and from $x_t$ and the clean point (what a denoiser gives):", name=u)
    from_x0.to(add(mul(d_alpha, x_0), mul(d_sigma, eps)), r"insert the path: the $\dot\sigma_t\alpha_t x_0/\sigma_t$ "
               r"terms cancel", using=defs)
    rate = add(mul(alpha, d_sigma), -mul(sigma, d_alpha))
    back = d.chain(frac(add(mul(alpha, u), -mul(d_alpha, x_t)), rate),
                   r"Back from a velocity model, dividing by $\alpha_t\dot\sigma_t - \sigma_t\dot\alpha_t = "
                   r"-\alpha_t\sigma_t\dot\lambda_t/2$, positive where the log-SNR falls:")
    back.to(eps, r"insert $x_t$ and $u_t$: the $x_0$ terms cancel", using=defs)
    back0 = d.chain(frac(add(mul(d_sigma, x_t), -mul(sigma, u)), rate), r"and likewise:")
    back0.to(x_0, r"insert $x_t$ and $u_t$: the $\epsilon$ terms cancel", using=defs)


@derivation
def velocity() -> Derivation:
    d = Derivation(r"the velocity $u_t = \dot\alpha_t x_0 + \dot\sigma_t\epsilon$ of a continuous path")
    a, s = sp.Function("alpha"), sp.Function("sigma")
    flow = d.chain(sp.Derivative(add(mul(a(t), x_0), mul(s(t), eps)), t),
                   r"Move $t$ with $x_0$ and $\epsilon$ held fixed:", name=u)
    flow.to(add(mul(sp.Derivative(a(t), t), x_0), mul(sp.Derivative(s(t), t), eps)),
            r"differentiate term by term; write $\dot\alpha_t$, $\dot\sigma_t$ for the derivatives")
    _velocity_chains(d)
    rf = d.chain(sp.Derivative(add(mul(held(1 - t), x_0), mul(t, eps)), t),
                 r"Rectified flow, $\alpha_t = 1 - t$ and $\sigma_t = t$: a straight line from data to noise:", name=u)
    rf.to(add(eps, -x_0), r"differentiate: the same velocity at every $t$")
    edm = d.chain(add(mul(d_alpha, x_0), mul(d_sigma, eps)),
                  r"EDM, $\alpha = 1$ and $\sigma_t = t$:", name=u)
    edm.to(eps, r"$\dot\alpha = 0$ and $\dot\sigma = 1$", using={d_alpha: 0, d_sigma: 1})
    edm.to(frac(add(x_t, -x_0), sigma), r"the noise from a denoiser's $x_0$: EDM's ODE "
           r"$dx/d\sigma = (x - D(x; \sigma))/\sigma$", using={x_t: x_0 + sigma * eps})
    vp = {alpha: sp.exp(-B / 2), sigma: sp.sqrt(1 - sp.exp(-B)), d_alpha: -beta * sp.exp(-B / 2) / 2,
          d_sigma: beta * sp.exp(-B) / (2 * sp.sqrt(1 - sp.exp(-B))), score: -eps / sp.sqrt(1 - sp.exp(-B))}
    vp_u = d.chain(add(mul(frac(d_alpha, alpha), x_t), mul(held(d_sigma - d_alpha * sigma / alpha), eps)),
                   r"The VP path, $\alpha_t = e^{-B_t/2}$ and $\sigma_t = \sqrt{1 - e^{-B_t}}$ with "
                   r"$\dot B_t = \beta_t$, so $\dot\alpha_t = -\beta_t\alpha_t/2$ and "
                   r"$\dot\sigma_t = \beta_t\alpha_t^2/(2\sigma_t)$:", name=u)
    vp_u.to(add(-mul(frac(beta, 2), x_t), mul(frac(beta, mul(2, sigma)), eps)),
            r"insert the derivatives; $\alpha_t^2 + \sigma_t^2 = 1$", using=vp)
    vp_u.to(add(-mul(frac(beta, 2), x_t), -mul(frac(beta, 2), score)),
            r"$\epsilon/\sigma_t = -\nabla\log p_t$: the probability-flow ODE's $f - g^2\nabla\log p_t/2$ with "
            r"$f = -\beta_t x/2$ and $g^2 = \beta_t$ (chapter 12)", using=vp)
    d.keep("velocity_from_eps", VELOCITY_FROM_EPS)
    d.keep("velocity_from_x0", VELOCITY_FROM_X0)
    d.keep("eps_from_velocity", EPS_FROM_VELOCITY)
    d.keep("x0_from_velocity", X0_FROM_VELOCITY)
    return d


@derivation
def log_snr() -> Derivation:
    d = Derivation(r"the log signal-to-noise ratio $\lambda_t = \log(\alpha_t^2/\sigma_t^2)$ of each path")
    ddpm = d.chain(sp.log(frac(power(sqrt(alpha_bar), 2), power(sqrt(1 - alpha_bar), 2))),
                   r"DDPM, $\alpha_t = \sqrt{\bar\alpha_t}$ and $\sigma_t = \sqrt{1 - \bar\alpha_t}$:", name=lam)
    ddpm.to(sp.log(frac(alpha_bar, 1 - alpha_bar)), r"square the roots; it grows with $\bar\alpha_t$, which "
            r"falls as $t$ grows, so $\lambda_t$ falls")
    vp = d.chain(sp.log(frac(power(sp.exp(-B / 2), 2), add(1, -sp.exp(-B)))),
                 r"The VP SDE, $\alpha_t = e^{-B_t/2}$, $\sigma_t^2 = 1 - e^{-B_t}$:", name=lam)
    vp.to(-sp.log(add(sp.exp(B), -1)), r"multiply through by $e^{B_t}$; $B_t$ grows with $t$, so "
          r"$\lambda_t$ falls")
    ve = d.chain(sp.log(frac(2 * sp.log(s_ve), add(power(s_ve, 2 * t), -1))),
                 r"The VE SDE, $\alpha = 1$ and $\sigma_t^2 = (s^{2t} - 1)/(2\ln s)$, so "
                 r"$\alpha^2/\sigma_t^2 = 1/\sigma_t^2$:", name=lam)
    ve.to(add(sp.log(2 * sp.log(s_ve)), -sp.log(add(power(s_ve, 2 * t), -1))),
          r"the logarithm of a quotient; $s^{2t}$ grows with $t$ for $s > 1$", using={s_ve: 1 + _W})
    rf = d.chain(sp.log(frac(power(1 - t, 2), power(t, 2))), r"Rectified flow, $\alpha_t = 1 - t$, $\sigma_t = t$:",
                 name=lam)
    rf.to(mul(2, sp.log(frac(1 - t, t))), r"for $0 < t < 1$", proof=in_unit_interval(t))
    slope = d.chain(sp.Derivative(mul(2, sp.log(frac(1 - t, t))), t), r"Its slope:")
    slope.to(-frac(2, mul(t, held(1 - t))), r"negative on $0 < t < 1$", proof=in_unit_interval(t))
    edm = d.chain(sp.log(frac(1, power(sigma, 2))), r"EDM, $\alpha = 1$ and $t = \sigma_t$:", name=lam)
    edm.to(-mul(2, sp.log(sigma)), r"falls as the noise level grows")
    d.keep("ddpm", sp.log(alpha_bar / (1 - alpha_bar)))
    d.keep("vp", -sp.log(sp.exp(B) - 1))
    d.keep("ve", sp.log(2 * sp.log(s_ve)) - sp.log(s_ve ** (2 * t) - 1))
    d.keep("rectified_flow", 2 * sp.log((1 - t) / t))
    d.keep("edm", -2 * sp.log(sigma))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
