"""Chapter 1: the Bayes derivations hold, and the torch functions compute exactly them."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import bayes as derive
from diffusion_edu.derivations.registry import builders
from diffusion_edu.probability import bayes

# proved steps (chain links and claims) per derivation: each one a form a reader sees change
PROVED = {"product_rule": 6, "diagnostic_test": 6, "gaussian_posterior": 4, "ddpm_posterior_preview": 6,
          "sequential_updating": 6}


@pytest.mark.parametrize("name", sorted(PROVED))
def test_every_derivation_is_proved(name):
    derivation = getattr(derive, name)()
    assert derivation.n_proved == PROVED[name]


def test_every_builder_is_counted():
    assert set(builders(derive.__name__)) == {f"{derive.__name__}.{name}" for name in PROVED}


def test_diagnostic_test_is_exact():
    d = derive.diagnostic_test()
    assert d["posterior"] == sp.Rational(1, 6)
    assert d["evidence"] == sp.Rational(297, 5000)
    assert float(bayes.diagnostic_posterior(0.01, 0.99, 0.95)) == pytest.approx(1 / 6, rel=1e-12)


def test_gaussian_posterior_matches_sympy(generator):
    rule = derive.gaussian_posterior()
    m0, y, c = torch.randn(3, 300, dtype=torch.float64, generator=generator)
    v0, s2 = torch.rand(2, 300, dtype=torch.float64, generator=generator) + 0.05
    args = (derive.prior_mean, derive.prior_var, derive.y, derive.noise_var, derive.obs_scale)
    values = [t.numpy() for t in (m0, v0, y, s2, c)]
    mean, var = bayes.gaussian_posterior(m0, v0, y, s2, scale=c)
    np.testing.assert_allclose(mean.numpy(), sp.lambdify(args, rule["posterior_mean"], "numpy")(*values), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), sp.lambdify(args, rule["posterior_var"], "numpy")(*values), rtol=1e-12)


def test_ddpm_posterior_variance():
    alpha_bar_prev, beta = 0.7, 0.02
    _, var = bayes.gaussian_posterior(0.0, 1 - alpha_bar_prev, 0.0, beta, scale=math.sqrt(1 - beta))
    assert var == pytest.approx((1 - alpha_bar_prev) * beta / (1 - (1 - beta) * alpha_bar_prev), rel=1e-12)


def test_sequential_equals_batch_and_closed_form(generator):
    obs = 2.0 + torch.randn(5, 40, dtype=torch.float64, generator=generator)
    means, variances = bayes.sequential_gaussian_mean(obs, prior_mean=0.5, prior_var=3.0, noise_var=0.7)
    n = torch.arange(41, dtype=torch.float64)
    torch.testing.assert_close(variances, bayes.closed_form_posterior_var(n, 3.0, 0.7), rtol=1e-12, atol=0)
    # all 40 at once: m = v (m0 / v0 + S / s^2)
    batch = variances[-1] * (0.5 / 3.0 + obs.sum(1) / 0.7)
    torch.testing.assert_close(means[:, -1], batch, rtol=1e-12, atol=1e-12)
    assert means.shape == (5, 41)


def test_seeded_determinism():
    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return bayes.sequential_gaussian_mean(torch.randn(3, 10, generator=g), 0.0, 1.0, 1.0)[0]
    torch.testing.assert_close(run(3), run(3), rtol=0, atol=0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="prevalence: expected probabilities"):
        bayes.diagnostic_posterior(1.5, 0.9, 0.9)
    with pytest.raises(ValueError, match="noise_var: expected a value > 0"):
        bayes.gaussian_posterior(0.0, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="observations: expected a 2-D tensor"):
        bayes.sequential_gaussian_mean(torch.zeros(3), 0.0, 1.0, 1.0)
    with pytest.raises(TypeError, match="n: expected a torch.Tensor"):
        bayes.closed_form_posterior_var([1, 2], 1.0, 1.0)  # type: ignore[arg-type]


def test_the_frequency_tree_counts_the_same_posterior_as_the_derivation():
    from fractions import Fraction

    import matplotlib

    matplotlib.use("Agg")
    from diffusion_edu.present.diagrams import bayes_tree

    n = bayes_tree.counts(10_000, Fraction(1, 100), Fraction(99, 100), Fraction(95, 100))
    assert (n["true_pos"], n["false_pos"]) == (99, 495)
    assert n["true_pos"] / (n["true_pos"] + n["false_pos"]) == derive.diagnostic_test()["posterior"]
    assert sum(n[k] for k in ("true_pos", "false_neg", "false_pos", "true_neg")) == n["people"]
    fig = bayes_tree.draw(prevalence=derive.PREVALENCE, sensitivity=derive.SENSITIVITY,
                          specificity=derive.SPECIFICITY)
    assert fig.axes
