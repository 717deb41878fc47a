"""Chapter 8: three targets for one denoiser, proved by SymPy: the eps, x_0 and v parameterisations
(Ho et al. 2020; Salimans & Ho 2022), their conversions at fixed x_t, and the loss weight each one
implies through the SNR."""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.ddpm.notation import alpha_bar, eps, eps_hat, v, x0, x_t
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation


@derivation
def parameterisations() -> Derivation:
    """eps, x_0 and v predictions: conversions at fixed x_t, and the loss each one implies."""
    d = Derivation(r"$\epsilon$, $x_0$ and $v$: three parameterisations of one denoiser")
    root_a, root_1ma = sqrt(alpha_bar), sqrt(1 - alpha_bar)
    path = add(mul(root_a, x0), mul(root_1ma, eps))
    v_def = add(mul(root_a, eps), -mul(root_1ma, x0))
    snr = sp.Symbol(r"\mathrm{SNR}_t", positive=True)
    d.given(x_t, path, r"the closed form of chapter 7, $\epsilon \sim \mathcal N(0, I)$")
    d.given(v, v_def, r"the velocity, $v$-prediction's target")
    d.given(snr, frac(alpha_bar, 1 - alpha_bar), "the signal-to-noise ratio")
    xt_def = {x_t: sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * eps}
    both = {**xt_def, v: sp.sqrt(alpha_bar) * eps - sp.sqrt(1 - alpha_bar) * x0}
    c = d.chain(frac(add(x_t, -mul(root_1ma, eps)), root_a), r"From $x_t$ and $\epsilon$ back to $x_0$:")
    c.to(frac(add(held(path), -mul(root_1ma, eps)), root_a), r"insert $x_t$", using=xt_def)
    c.to(frac(mul(root_a, x0), root_a), "the noise terms cancel")
    c.to(x0, r"divide by $\sqrt{\bar\alpha_t}$")
    c = d.chain(add(mul(root_a, x_t), -mul(root_1ma, v)), r"From $x_t$ and $v$ back to $x_0$:")
    c.to(add(mul(root_a, held(path)), -mul(root_1ma, held(v_def))), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(alpha_bar, x0), mul(root_a, root_1ma, eps), -mul(root_1ma, root_a, eps), mul(1 - alpha_bar, x0)),
         "multiply out")
    c.to(x0, r"the $\epsilon$ terms cancel; $\bar\alpha_t + 1 - \bar\alpha_t = 1$")
    c = d.chain(add(mul(root_1ma, x_t), mul(root_a, v)), r"And to $\epsilon$:")
    c.to(add(mul(root_1ma, held(path)), mul(root_a, held(v_def))), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(root_1ma, root_a, x0), mul(1 - alpha_bar, eps), mul(alpha_bar, eps), -mul(root_a, root_1ma, x0)),
         "multiply out")
    c.to(eps, r"the $x_0$ terms cancel; $1 - \bar\alpha_t + \bar\alpha_t = 1$")
    c = d.chain(add(power(x_t, 2), power(v, 2)), r"$(x_t, v)$ is a rotation of $(x_0, \epsilon)$ by the angle "
                r"with $\cos\phi = \sqrt{\bar\alpha_t}$: lengths are kept,")
    c.to(add(power(held(path), 2), power(held(v_def), 2)), r"insert $x_t$ and $v$", using=both)
    c.to(add(mul(held(add(alpha_bar, 1 - alpha_bar)), power(x0, 2)), mul(held(add(1 - alpha_bar, alpha_bar)),
                                                                          power(eps, 2))),
         r"multiply out: the cross terms $\pm 2\sqrt{\bar\alpha_t(1-\bar\alpha_t)}\,x_0\epsilon$ cancel")
    c.to(add(power(x0, 2), power(eps, 2)), r"$\bar\alpha_t + 1 - \bar\alpha_t = 1$")
    x0_hat = frac(add(x_t, -mul(root_1ma, eps_hat)), root_a)
    c = d.chain(power(add(x0, -sp.Symbol(r"\hat{x}_0")), 2),
                r"Losses: predicting $\hat\epsilon$ implies $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)"
                r"/\sqrt{\bar\alpha_t}$, and the $x_0$ error is the noise error over the SNR,",
                name=sp.Symbol(r"\|x_{0} - \hat{x}_0\|^{2}"))
    c.to(power(add(x0, -held(x0_hat)), 2), r"insert $\hat x_0$",
         using={**xt_def, sp.Symbol(r"\hat{x}_0"): (sp.sqrt(alpha_bar) * x0 + sp.sqrt(1 - alpha_bar) * (eps - eps_hat))
                / sp.sqrt(alpha_bar)})
    c.to(power(mul(frac(root_1ma, root_a), held(add(eps_hat, -eps))), 2), r"insert $x_t$: $x_0$ cancels",
         using=xt_def)
    c.to(mul(frac(1 - alpha_bar, alpha_bar), power(add(eps, -eps_hat), 2)), "square out")
    c.to(frac(power(add(eps, -eps_hat), 2), snr), "definition of the SNR",
         using={snr: alpha_bar / (1 - alpha_bar)})
    v_hat = frac(add(eps_hat, -mul(root_1ma, x_t)), root_a)
    c = d.chain(power(add(v, -sp.Symbol(r"\hat{v}")), 2),
                r"Predicting $\hat v$ instead: from $\epsilon = \sqrt{1-\bar\alpha_t}\,x_t + \sqrt{\bar\alpha_t}\,v$ "
                r"the same prediction reads "
                r"$\hat v = (\hat\epsilon - \sqrt{1-\bar\alpha_t}\,x_t)/\sqrt{\bar\alpha_t}$, so",
                name=sp.Symbol(r"\|v - \hat v\|^2"))
    v_subs = {**both, sp.Symbol(r"\hat{v}"): (eps_hat - sp.sqrt(1 - alpha_bar) * (sp.sqrt(alpha_bar) * x0 + sp.sqrt(
        1 - alpha_bar) * eps)) / sp.sqrt(alpha_bar)}
    c.to(power(add(held(v_def), -held(v_hat)), 2), r"insert $v$ and $\hat v$", using=v_subs)
    c.to(frac(power(add(eps, -eps_hat), 2), alpha_bar), r"insert $x_t$ and multiply out: $x_0$ cancels",
         using=xt_def)
    c.to(mul(held(add(1, snr)), frac(1 - alpha_bar, alpha_bar), power(add(eps, -eps_hat), 2)),
         r"$1 + \mathrm{SNR}_t = 1/(1 - \bar\alpha_t)$", using={snr: alpha_bar / (1 - alpha_bar)})
    c.to(mul(held(add(1, snr)), power(add(x0, -sp.Symbol(r"\hat{x}_0")), 2)),
         r"the $x_0$ error above: $v$-prediction weights it by $1 + \mathrm{SNR}_t$",
         using={snr: alpha_bar / (1 - alpha_bar), sp.Symbol(r"\hat{x}_0"): x0 + sp.sqrt(1 - alpha_bar) * (eps - eps_hat)
                / sp.sqrt(alpha_bar)})
    d.keep("snr", alpha_bar / (1 - alpha_bar))
    return d
