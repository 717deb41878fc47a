"""Chapter 6: the GAN objective, each step proved by SymPy (Goodfellow et al. 2014).

- for a fixed generator, the discriminator that maximises V(D, G) is D* = p_data / (p_data + p_g):
  pointwise, maximise a log D + b log(1 - D) over D in (0, 1);
- with D*, the generator's criterion is C(G) = -log 4 + 2 JSD(p_data || p_g), minimised exactly
  at p_g = p_data (where D* = 1/2);
- the saturating generator loss log(1 - D(G(z))) has a vanishing gradient when the
  discriminator confidently rejects fakes; the non-saturating -log D(G(z)) does not.
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation

a, b = sp.symbols("a b", positive=True)  # p_data(x), p_g(x) at one point x
D = sp.symbols("D", positive=True)  # the discriminator's output at x, in (0, 1)
logit = sp.symbols("l", real=True)  # D = sigmoid(l)


def optimal_discriminator() -> Derivation:
    """argmax_{D in (0,1)} a log D + b log(1 - D) = a / (a + b)."""
    d = Derivation("the optimal discriminator D* = p_data / (p_data + p_g)")
    objective = a * sp.log(D) + b * sp.log(1 - D)
    d.equal("V(D, G) = integral of [p_data(x) log D(x) + p_g(x) log(1 - D(x))] dx: maximise pointwise; "
            "d/dD of a log D + b log(1 - D)", sp.diff(objective, D), a / D - b / (1 - D))
    (d_star,) = sp.solve(sp.Eq(sp.diff(objective, D), 0), D)
    d.equal("the stationary point", d_star, a / (a + b))
    d.equal("1 - D* = p_g / (p_data + p_g)", 1 - d_star, b / (a + b))
    d.true("D* > 0 and 1 - D* > 0: D* lies in (0, 1)", sp.And(d_star > 0, b / (a + b) > 0))
    second = sp.diff(objective, D, 2)
    d.equal("second derivative -a/D^2 - b/(1 - D)^2", second, -a / D**2 - b / (1 - D) ** 2)
    d.true("which is < 0 at D*: a maximum", sp.simplify(second.subs(D, d_star)) < 0)
    d.equal("at p_g = p_data (a = b) the best discriminator outputs 1/2 everywhere",
            d_star.subs(b, a), sp.Rational(1, 2))
    d.keep("d_star", d_star)
    d.keep("objective", objective)
    return d


def generator_criterion() -> Derivation:
    """C(G) = max_D V(D, G) = -log 4 + KL(p_data || m) + KL(p_g || m) = -log 4 + 2 JSD, m = (p_data + p_g)/2."""
    d = Derivation("C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g)")
    d_star = a / (a + b)
    value = a * sp.log(d_star) + b * sp.log(1 - d_star)
    mixture = (a + b) / 2
    pointwise = -(a + b) * sp.log(2) + a * sp.log(a / mixture) + b * sp.log(b / mixture)
    d.equal(
        "pointwise: a log D* + b log(1 - D*) = -(a + b) log 2 + a log(a/m) + b log(b/m)",
        sp.expand_log(value, force=True),
        sp.expand_log(pointwise, force=True),
    )
    # summed over the points of a discrete space, a and b each sum to 1
    n = 3
    ps = sp.symbols(f"p_1:{n + 1}", positive=True)
    qs = sp.symbols(f"q_1:{n + 1}", positive=True)
    total = sum(pointwise.subs({a: p, b: q}, simultaneous=True) for p, q in zip(ps, qs, strict=True))
    kl_p_m = sum(p * sp.log(p / ((p + q) / 2)) for p, q in zip(ps, qs, strict=True))
    kl_q_m = sum(q * sp.log(q / ((p + q) / 2)) for p, q in zip(ps, qs, strict=True))
    jsd = (kl_p_m + kl_q_m) / 2
    normalised = {ps[-1]: 1 - sum(ps[:-1]), qs[-1]: 1 - sum(qs[:-1])}
    d.equal(
        f"summed over {n} points with sum p = sum q = 1: C(G) = -log 4 + 2 JSD",
        sp.expand_log(total.subs(normalised), force=True),
        sp.expand_log((-sp.log(4) + 2 * jsd).subs(normalised), force=True),
    )
    d.equal("at p_g = p_data each point contributes -a log 4, so C(G) = -log 4: the global minimum, as JSD >= 0",
            value.subs(b, a), -a * sp.log(4))
    d.keep("pointwise_value", value)
    return d


def saturation() -> Derivation:
    """With D = sigmoid(l): d/dl log(1 - D) = -D -> 0 as D -> 0, d/dl [-log D] = -(1 - D) -> -1."""
    d = Derivation("why log(1 - D(G(z))) saturates and -log D(G(z)) does not")
    sig = 1 / (1 + sp.exp(-logit))
    saturating = sp.log(1 - sig)  # the generator *minimises* this (note 003's update)
    non_saturating = -sp.log(sig)  # the generator minimises this instead (Goodfellow et al., section 3)
    d.equal("d/dl log(1 - sigmoid(l)) = -sigmoid(l)", sp.simplify(sp.diff(saturating, logit)), -sig)
    d.equal("d/dl [-log sigmoid(l)] = -(1 - sigmoid(l))", sp.simplify(sp.diff(non_saturating, logit)), -(1 - sig))
    d.equal("early on D rejects fakes (l -> -oo): the saturating gradient vanishes",
            sp.Limit(sp.diff(saturating, logit), logit, -sp.oo), 0)
    d.equal("while the non-saturating gradient tends to -1",
            sp.Limit(sp.diff(non_saturating, logit), logit, -sp.oo), -1)
    d.true("both derivatives are < 0 for every l: both losses push D(G(z)) up, to the same fixed point",
           sp.And(-sig < 0, -sp.exp(-logit) / (1 + sp.exp(-logit)) < 0))
    d.keep("saturating_grad", -sig)
    d.keep("non_saturating_grad", -(1 - sig))
    return d


def all_derivations() -> list[Derivation]:
    return [optimal_discriminator(), generator_criterion(), saturation()]
