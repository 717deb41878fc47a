"""Chapter 18: few-step generation, proved by SymPy as chains a reader follows (the torch side is
:mod:`diffusion_edu.processes.distillation` and :mod:`diffusion_edu.processes.consistency`).

- progressive distillation (Salimans & Ho 2022, Algorithm 2): the target x0 for which the student's *one* DDIM
  step from level t to t'' lands where the teacher's *two* steps t -> t' -> t'' land, on any Gaussian path
  z = alpha x + sigma eps; its v-form; its last step (t'' = 0), where the target is the teacher's output;
- consistency models (Song et al. 2023, section 3 and Appendix C): the skip and output scalings
  c_skip = sigma_d^2 / ((sigma - sigma_min)^2 + sigma_d^2),
  c_out = sigma_d (sigma - sigma_min) / sqrt(sigma_d^2 + sigma^2)
  meet the boundary condition f(x, sigma_min) = x for every network, and reduce to EDM's as sigma_min -> 0.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation

z, z_end, x_hat, x_tilde, eps_tilde = sp.symbols(r"z_t z_{t''} \hat{x} \tilde{x} \tilde{\epsilon}", real=True)
alpha, sigma = sp.symbols(r"alpha_t sigma_t", positive=True)
alpha_end, sigma_end = sp.symbols(r"\alpha_{t''} \sigma_{t''}", positive=True)
x, F = sp.symbols(r"x F_\theta", real=True)
s, s_min, s_d = sp.symbols(r"sigma \sigma_{min} sigma_d", positive=True)

RATIO = frac(sigma_end, sigma)  # sigma_t'' / sigma_t, as written


def skip(level: sp.Basic) -> sp.Expr:
    """c_skip at ``level`` as written: sigma_d^2 / ((level - sigma_min)^2 + sigma_d^2)."""
    return frac(power(s_d, 2), add(power(held(add(level, -s_min)), 2), power(s_d, 2)))


def out(level: sp.Basic) -> sp.Expr:
    """c_out at ``level`` as written: sigma_d (level - sigma_min) / sqrt(sigma_d^2 + level^2)."""
    return frac(mul(s_d, held(add(level, -s_min))), sqrt(add(power(s_d, 2), power(level, 2))))


SKIP, OUT = skip(s), out(s)


def ddim_step(z_from: sp.Basic, x0: sp.Basic, a_from: sp.Basic, s_from: sp.Basic, a_to: sp.Basic,
              s_to: sp.Basic) -> sp.Expr:
    """DDIM's deterministic step as written: alpha' x0 + sigma' eps_hat with eps_hat = (z - alpha x0) / sigma."""
    return add(mul(a_to, x0), mul(s_to, frac(add(z_from, -mul(a_from, x0)), s_from)))


@derivation
def distillation_target() -> Derivation:
    d = Derivation(r"the progressive-distillation target: one student step lands where two teacher steps land")
    d.given(sp.Symbol(r"z_t"), add(mul(alpha, sp.Symbol("x")), mul(sigma, sp.Symbol(r"\epsilon"))),
            r"the noisy point on a Gaussian path; the signal-to-noise ratio $\alpha_t^2/\sigma_t^2$ grows as "
            r"$t$ falls, so $\alpha_{t''}/\sigma_{t''} > \alpha_t/\sigma_t$")
    d.given(z_end, sp.Symbol(r"\mathrm{DDIM}(\mathrm{DDIM}(z_t;\,t \to t');\,t' \to t'')"),
            r"the teacher's two deterministic DDIM steps (Salimans and Ho 2022, Algorithm 2)")
    step = d.chain(ddim_step(z, x_hat, alpha, sigma, alpha_end, sigma_end),
                   r"The student's one DDIM step from $t$ to $t''$ with its prediction $\hat x$:",
                   name=sp.Symbol(r"\mathrm{DDIM}(z_t;\,t \to t'')"))
    step.to(add(mul(held(alpha_end - sigma_end * alpha / sigma), x_hat), mul(RATIO, z)),
            r"collect: a fixed multiple of $z_t$ plus a multiple of $\hat x$")
    target = frac(add(z_end, -mul(RATIO, z)), add(alpha_end, -mul(RATIO, alpha)))
    coefficient = held(alpha_end - sigma_end * alpha / sigma)
    solve = d.chain(x_hat, r"Ask it to land on the teacher's $z_{t''}$ and solve that linear equation for "
                    r"$\hat x$; the coefficient $\alpha_{t''} - \sigma_{t''}\alpha_t/\sigma_t$ is positive because the "
                    r"signal-to-noise ratio grows, so the solution is unique:")
    solve.to(target, r"subtract $(\sigma_{t''}/\sigma_t) z_t$ from both sides of "
             r"$z_{t''} = (\alpha_{t''} - \sigma_{t''}\alpha_t/\sigma_t)\hat x + (\sigma_{t''}/\sigma_t) z_t$ "
             r"and divide by the coefficient: this is Algorithm 2's target $\tilde x$",
             using={z_end: mul(coefficient, x_hat) + sigma_end / sigma * z})
    land = d.chain(ddim_step(z, target, alpha, sigma, alpha_end, sigma_end),
                   r"Check: the student's step from $z_t$ with $\hat x = \tilde x$,",
                   name=sp.Symbol(r"\mathrm{DDIM}(z_t;\,t \to t'')"))
    land.to(z_end, r"the $z_t$ terms cancel and the rest divides out: exactly the teacher's point")
    vform = d.chain(add(mul(alpha, eps_tilde), -mul(sigma, x_tilde)),
                    r"The same target for a $v$-network ($v = \alpha\epsilon - \sigma x$, the parameterisation "
                    r"Salimans and Ho train) with $\tilde\epsilon = (z_t - \alpha_t\tilde x)/\sigma_t$:",
                    name=sp.Symbol(r"\tilde v"))
    vform.to(frac(add(mul(alpha, z), -mul(held(alpha**2 + sigma**2), x_tilde)), sigma),
             r"insert $\tilde\epsilon$ and put everything over $\sigma_t$",
             using={eps_tilde: (z - alpha * x_tilde) / sigma})
    vform.to(frac(add(mul(alpha, z), -x_tilde), sigma), r"on a variance-preserving path $\alpha_t^2 + \sigma_t^2 = 1$",
             using={alpha: sp.sqrt(1 - sigma**2)}, proof=lambda a, b: sp.simplify(a - b) == 0)
    last = d.chain(target, r"The last step ends at the data, $\alpha_{t''} = 1$ and $\sigma_{t''} = 0$:",
                   name=x_tilde)
    last.to(z_end, r"the ratio $\sigma_{t''}/\sigma_t$ vanishes: the target is the teacher's sample itself",
            using={alpha_end: 1, sigma_end: 0})
    d.keep("x_target", (z_end - sigma_end / sigma * z) / (alpha_end - sigma_end / sigma * alpha))
    d.keep("v_target", (alpha * z - (alpha**2 + sigma**2) * x_tilde) / sigma)
    return d


@derivation
def consistency_boundary() -> Derivation:
    d = Derivation(r"the consistency model's boundary condition $f_\theta(x, \sigma_{min}) = x$")
    d.given(sp.Symbol(r"f_{\theta}(x, \sigma)"), add(mul(sp.Symbol(r"c_{skip}(\sigma)"), x),
                                                    mul(sp.Symbol(r"c_{out}(\sigma)"), F)),
            r"the consistency function around a free network $F_\theta$ (Song et al. 2023, eq. 5)")
    d.given(sp.Symbol(r"c_{skip}(\sigma)"), SKIP, r"EDM's skip weight with $\sigma$ shifted by $\sigma_{min}$ "
            r"(Song et al. 2023, Appendix C)")
    d.given(sp.Symbol(r"c_{out}(\sigma)"), OUT, r"EDM's output scale with the factor $\sigma$ shifted")
    at_min = d.chain(skip(s_min), r"At the smallest level the skip path passes $x$ through,",
                     name=sp.Symbol(r"c_{skip}(\sigma_{min})"))
    at_min.to(frac(power(s_d, 2), power(s_d, 2)), r"$\sigma_{min} - \sigma_{min} = 0$")
    at_min.to(sp.Integer(1), r"a ratio of equal positive numbers")
    off = d.chain(out(s_min), r"and the network is switched off,", name=sp.Symbol(r"c_{out}(\sigma_{min})"))
    off.to(sp.Integer(0), r"the factor $\sigma_{min} - \sigma_{min}$ vanishes")
    f = d.chain(add(mul(skip(s_min), x), mul(out(s_min), F)),
                r"so the boundary condition holds exactly, whatever $F_\theta$ outputs (no training needed):",
                name=sp.Symbol(r"f_{\theta}(x, \sigma_{min})"))
    f.to(x, r"the two values above")
    edm = d.chain(sp.Limit(SKIP, s_min, 0), r"With $\sigma_{min} \to 0$ the scalings are EDM's (chapter 17), so a "
                  r"consistency model starts from an EDM denoiser's network:", name=sp.Symbol(r"c_{skip}(\sigma)"))
    edm.to(frac(power(s_d, 2), add(power(s, 2), power(s_d, 2))), r"the shift goes to zero")
    edm_out = d.chain(sp.Limit(OUT, s_min, 0), r"and", name=sp.Symbol(r"c_{out}(\sigma)"))
    edm_out.to(frac(mul(s, s_d), sqrt(add(power(s, 2), power(s_d, 2)))),
               r"the factor $\sigma - \sigma_{min}$ becomes $\sigma$")
    d.keep("c_skip", s_d**2 / ((s - s_min) ** 2 + s_d**2))
    d.keep("c_out", s_d * (s - s_min) / sp.sqrt(s_d**2 + s**2))
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
