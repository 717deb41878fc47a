"""Chapter 17: EDM (Karras et al. 2022) and fast solvers (Lu et al. 2022), proved by SymPy as chains a reader
follows (the torch side is :mod:`diffusion_edu.processes.edm` and :mod:`diffusion_edu.processes.edm_samplers`).

- the preconditioning c_in, c_skip, c_out from a network input and a network target of unit variance, the loss
  weight lambda = 1 / c_out^2, and the behaviour at sigma -> 0 and sigma -> infinity (EDM Appendix B.6);
- the Karras grid (EDM eq. 5): its ends, and its step size ~ sigma^(1 - 1/rho), short at low noise;
- one update, three names: Euler in sigma, first-order DPM-Solver++ and DDIM (eta = 0) are the same step.

Data y has mean 0 and variance sigma_d^2 per coordinate, the noise n is standard normal and independent of it;
the 1-D forms hold per coordinate.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation

sigma, sigma_d = sp.symbols(r"sigma sigma_d", positive=True)
c_in, c_skip, c_out = sp.symbols(r"c_{in} c_{skip} c_{out}", positive=True)
c = sp.Symbol("c", real=True)  # a candidate c_skip
var_x, var_target, weight = sp.symbols(r"\mathrm{Var}[x] \mathrm{Var}[F_{target}] \lambda(\sigma)", positive=True)
x, y, n, F = sp.symbols(r"x y n F_\theta", real=True)
sigma_min, sigma_max, rho = sp.symbols(r"\sigma_{min} \sigma_{max} rho", positive=True)
i, N = sp.symbols("i N", positive=True)
sigma_next = sp.Symbol(r"\sigma'", positive=True)
x0_hat = sp.Symbol(r"\hat{x}_0", real=True)
alpha_bar, alpha_bar_next = sp.symbols(r"\bar{\alpha}_t \bar{\alpha}_{t'}", positive=True)
x_t, eps_hat = sp.symbols(r"x_t \hat{\epsilon}", real=True)
h = sp.Symbol("h", positive=True)

TOTAL = add(power(sigma, 2), power(sigma_d, 2))  # sigma^2 + sigma_d^2, as written
C_IN = power(TOTAL, -sp.S.Half)
C_SKIP = frac(power(sigma_d, 2), TOTAL)
C_OUT = frac(mul(sigma, sigma_d), sqrt(TOTAL))
WEIGHT = frac(TOTAL, power(mul(sigma, sigma_d), 2))


@derivation
def preconditioning() -> Derivation:
    d = Derivation(r"EDM's preconditioning from unit-variance network input and target")
    d.given(sp.Symbol(r"D(x;\sigma)"), add(mul(c_skip, x), mul(c_out, sp.Symbol(r"F_\theta(c_{in}x;\,c_{noise})"))),
            r"the denoiser built around the network $F_\theta$ (EDM eq. 7)")
    d.given(x, add(y, mul(sigma, n)), r"the noisy input: data $y$ of variance $\sigma_d^2$ plus independent noise "
            r"$\sigma n$, $n \sim \mathcal N(0, 1)$")
    inp = d.chain(mul(power(c_in, 2), var_x), r"The network's input $c_{in}x$ should have unit variance:",
                  name=sp.Symbol(r"\mathrm{Var}[c_{in}x]"))
    inp.to(mul(power(c_in, 2), held(TOTAL)), r"independent terms: their variances add, "
           r"$\mathrm{Var}[x] = \sigma_d^2 + \sigma^2$", using={var_x: sigma**2 + sigma_d**2})
    inp.to(sp.Integer(1), r"choose $c_{in} = 1/\sqrt{\sigma^2 + \sigma_d^2}$, the positive root of "
           r"$c_{in}^2(\sigma^2 + \sigma_d^2) = 1$", using={c_in: 1 / sp.sqrt(sigma**2 + sigma_d**2)})
    target = d.chain(frac(add(y, -mul(c_skip, x)), c_out),
                     r"$D = y$ exactly when the network outputs this target (solve the first given for $F_\theta$):",
                     name=sp.Symbol(r"F_{target}"))
    target.to(frac(add(mul(held(1 - c_skip), y), -mul(c_skip, sigma, n)), c_out), r"insert $x = y + \sigma n$",
              using={x: y + sigma * n})
    d.given(var_target, frac(add(mul(power(held(1 - c), 2), power(sigma_d, 2)), mul(power(c, 2), power(sigma, 2))),
                             power(c_out, 2)),
            r"the target's variance for $c_{skip} = c$ (independent terms again)")
    slope = d.chain(sp.Derivative(add(mul(power(held(1 - c), 2), power(sigma_d, 2)), mul(power(c, 2), power(sigma, 2))),
                                  c),
                    r"$c_{skip}$ makes the target as small as possible: the numerator's slope in $c$")
    slope.to(add(mul(2, c, held(TOTAL)), -mul(2, power(sigma_d, 2))), "differentiate the two squares")
    slope.to(mul(2, held(TOTAL), held(c - sigma_d**2 / (sigma**2 + sigma_d**2))),
             r"factor: zero only at $c = \sigma_d^2/(\sigma^2 + \sigma_d^2)$, a minimum since the second derivative "
             r"$2(\sigma^2 + \sigma_d^2)$ is positive")
    numerator = d.chain(add(mul(power(held(1 - c), 2), power(sigma_d, 2)), mul(power(c, 2), power(sigma, 2))),
                        r"The smallest numerator, at $c = c_{skip} = \sigma_d^2/(\sigma^2 + \sigma_d^2)$:")
    numerator.to(add(mul(power(frac(power(sigma, 2), TOTAL), 2), power(sigma_d, 2)),
                     mul(power(frac(power(sigma_d, 2), TOTAL), 2), power(sigma, 2))),
                 r"$1 - c_{skip} = \sigma^2/(\sigma^2 + \sigma_d^2)$", using={c: sigma_d**2 / (sigma**2 + sigma_d**2)})
    numerator.to(frac(mul(power(sigma, 2), power(sigma_d, 2)), TOTAL), r"factor out $\sigma^2\sigma_d^2$")
    out = d.chain(sigma**2 * sigma_d**2 / ((sigma**2 + sigma_d**2) * c_out**2),
                  r"so the target's variance is", name=var_target)
    out.to(sp.Integer(1), r"choose $c_{out} = \sigma\sigma_d/\sqrt{\sigma^2 + \sigma_d^2}$ for unit variance",
           using={c_out: sigma * sigma_d / sp.sqrt(sigma**2 + sigma_d**2)})
    error = sp.Symbol(r"(F_\theta - F_{target})")
    loss = d.chain(mul(weight, power(sp.Symbol(r"(D - y)"), 2)), r"The loss weight: the weighted denoising error is")
    loss.to(mul(weight, power(c_out, 2), power(error, 2)),
            r"insert $D - y = c_{out}(F_\theta - F_{target})$ (the first given minus the target's definition)",
            using={sp.Symbol(r"(D - y)"): c_out * error})
    lam = d.chain(mul(WEIGHT, power(C_OUT, 2)), r"and with EDM's $\lambda(\sigma) = 1/c_{out}^2$ every noise level "
                  r"weighs the network's error alike:", name=mul(weight, power(c_out, 2)))
    lam.to(sp.Integer(1), r"the two fractions cancel")
    d.keep("c_in", 1 / sp.sqrt(sigma**2 + sigma_d**2))
    d.keep("c_skip", sigma_d**2 / (sigma**2 + sigma_d**2))
    d.keep("c_out", sigma * sigma_d / sp.sqrt(sigma**2 + sigma_d**2))
    d.keep("loss_weight", (sigma**2 + sigma_d**2) / (sigma * sigma_d) ** 2)
    return d


@derivation
def boundaries() -> Derivation:
    d = Derivation(r"the preconditioning at the two ends of the noise range")
    skip0 = d.chain(sp.Limit(C_SKIP, sigma, 0), r"No noise: the skip path passes $x$ through,", name=c_skip)
    skip0.to(sp.Integer(1), r"$\sigma^2 \to 0$")
    out0 = d.chain(sp.Limit(C_OUT, sigma, 0), r"and the network is switched off, so $D(x; 0) = x$ whatever it outputs:",
                   name=c_out)
    out0.to(sp.Integer(0), r"the factor $\sigma$ goes to zero")
    small = d.chain(sp.Limit(frac(sigma_d, sqrt(TOTAL)), sigma, 0), name=frac(c_out, sigma),
                    heading=r"For small $\sigma$, $c_{out} \approx \sigma$, so "
                    r"$D \approx x + \sigma F_\theta$: the network predicts $-\epsilon$, as a DDPM network does:")
    small.to(sp.Integer(1), r"$\sqrt{\sigma^2 + \sigma_d^2} \to \sigma_d$")
    skip_inf = d.chain(sp.Limit(C_SKIP, sigma, sp.oo), r"Much noise: the skip path is closed,", name=c_skip)
    skip_inf.to(sp.Integer(0), r"the denominator grows without bound")
    out_inf = d.chain(sp.Limit(C_OUT, sigma, sp.oo), r"and $D \approx \sigma_d F_\theta$: the network predicts the "
                      r"clean data (scaled to unit variance), never amplifying its error by $\sigma$:", name=c_out)
    out_inf.to(sigma_d, r"$\sigma/\sqrt{\sigma^2 + \sigma_d^2} \to 1$")
    in_inf = d.chain(sp.Limit(mul(sigma, C_IN), sigma, sp.oo), r"The input $c_{in}x \approx x/\sigma$: unit noise, "
                     r"whatever the level:", name=mul(sigma, c_in))
    in_inf.to(sp.Integer(1), r"the same ratio")
    return d


@derivation
def karras_grid() -> Derivation:
    d = Derivation(r"the Karras grid $\sigma_i$, equally spaced in $\sigma^{1/\rho}$")
    bracket = held(sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
    grid = power(add(power(sigma_max, 1 / rho), mul(frac(i, add(N, -1)), bracket)), rho)
    d.given(sp.Symbol(r"\sigma_i"), grid, r"EDM eq. 5, $i = 0, \dots, N - 1$, then $\sigma_N = 0$")
    def root(a: sp.Basic, b: sp.Basic) -> bool:  # (s^(1/rho))^rho = s for s > 0
        return sp.simplify(sp.powdenest(sp.sympify(a).doit(), force=True) - sp.sympify(b).doit()) == 0

    first = d.chain(power(power(sigma_max, 1 / rho), rho), r"At $i = 0$ the second term vanishes: the grid starts at "
                    r"the top,", name=sp.Symbol(r"\sigma_0"))
    first.to(sigma_max, r"$(s^{1/\rho})^\rho = s$ for $s > 0$", proof=root)
    last = d.chain(power(add(power(sigma_max, 1 / rho), held(sigma_min ** (1 / rho) - sigma_max ** (1 / rho))), rho),
                   r"and at $i = N - 1$ the fraction is 1, so it ends at the bottom:", name=sp.Symbol(r"\sigma_{N-1}"))
    last.to(power(power(sigma_min, 1 / rho), rho), r"the $\sigma_{max}$ terms cancel")
    last.to(sigma_min, r"$(s^{1/\rho})^\rho = s$", proof=root)
    step = d.chain(sp.Derivative(grid, i), r"The step between neighbours, $d\sigma_i/di$:")
    u = sp.Symbol("u", positive=True)  # the bracket, sigma_i^(1/rho)
    sigma_i = sp.Symbol(r"\sigma_i")
    inner = sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho)) / (N - 1)
    step.to(mul(rho, power(sp.Symbol(r"\sigma_i"), 1 - 1 / rho), frac(bracket, add(N, -1))),
            r"the chain rule, with the bracket $\sigma_i^{1/\rho}$: steps shrink like $\sigma^{1 - 1/\rho}$, so with "
            r"$\rho = 7$ they are short at low noise (and $\rho \to \infty$ is a geometric grid, "
            r"$d\sigma \propto \sigma$)",
            proof=lambda a, b: sp.simplify(a.doit().subs(inner, u) - b.doit().subs(sigma_i, u**rho)) == 0)
    return d


@derivation
def one_step_three_names() -> Derivation:
    d = Derivation(r"Euler in $\sigma$, first-order DPM-Solver++ and DDIM take the same step")
    euler = d.chain(add(x, mul(held(sigma_next - sigma), frac(add(x, -x0_hat), sigma))),
                    r"Euler's step from $\sigma$ to $\sigma'$ on $dx/d\sigma = (x - \hat x_0)/\sigma$, with "
                    r"$\hat x_0 = D(x;\sigma)$:", name=sp.Symbol("x'"))
    euler.to(add(mul(frac(sigma_next, sigma), x), mul(held(1 - sigma_next / sigma), x0_hat)),
             r"collect $x$ and $\hat x_0$: a blend of the state and the denoised guess")
    dpm = d.chain(add(mul(frac(sigma_next, sigma), x), -mul(held(add(sp.exp(-h), -1)), x0_hat)),
                  r"DPM-Solver++'s first-order step (Lu et al. 2022, eq. 9 with $\alpha = 1$) over "
                  r"$h = \lambda' - \lambda = \log(\sigma/\sigma')$:", name=sp.Symbol("x'"))
    dpm.to(add(mul(frac(sigma_next, sigma), x), mul(held(1 - sigma_next / sigma), x0_hat)),
           r"$e^{-h} = \sigma'/\sigma$: the same blend", using={h: sp.log(sigma / sigma_next)})
    ddim = d.chain(frac(add(mul(sqrt(alpha_bar_next), x0_hat), mul(sqrt(1 - alpha_bar_next), eps_hat)),
                        sqrt(alpha_bar_next)),
                   r"DDIM ($\eta = 0$) lands at "
                   r"$\sqrt{\bar\alpha_{t'}}\hat x_0 + \sqrt{1 - \bar\alpha_{t'}}\hat\epsilon$; "
                   r"divide by $\sqrt{\bar\alpha_{t'}}$ to read it in EDM's scale, where "
                   r"$\sigma' = \sqrt{(1 - \bar\alpha_{t'})/\bar\alpha_{t'}}$:", name=sp.Symbol("x'"))
    ddim.to(add(x0_hat, mul(sigma_next, eps_hat)), r"$\sigma'$ as defined",
            using={alpha_bar_next: 1 / (1 + sigma_next**2)})
    ddim.to(add(x0_hat, mul(sigma_next, frac(add(x, -x0_hat), sigma))),
            r"the predicted noise in EDM's scale: $x = x_t/\sqrt{\bar\alpha_t} = \hat x_0 + \sigma\hat\epsilon$",
            using={eps_hat: (x - x0_hat) / sigma})
    ddim.to(add(mul(frac(sigma_next, sigma), x), mul(held(1 - sigma_next / sigma), x0_hat)),
            r"collect: Euler's blend again, so DDIM is Euler's method on EDM's ODE (EDM section 3)")
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
