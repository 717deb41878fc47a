"""Chapter 4: KL derivations, closed forms vs SymPy and torch.distributions, the Monte Carlo estimator."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import kl as derive
from diffusion_edu.derivations.proof import Chain, Derivation, ProofError
from diffusion_edu.derivations.registry import builders
from diffusion_edu.probability import kl


# tests/test_derivations.py checks every registered derivation's form; here: how much each proves
@pytest.mark.parametrize("name", sorted(builders(derive.__name__)))
def test_every_derivation_proves_enough(name):
    assert builders(derive.__name__)[name]().n_proved >= 3


def test_module_registers_its_derivations():
    assert len(builders(derive.__name__)) >= 3


def test_kl_normal_matches_sympy_and_torch(generator):
    rule = derive.gaussian_kl()
    m1, m2 = torch.randn(2, 300, dtype=torch.float64, generator=generator)
    s1, s2 = torch.rand(2, 300, dtype=torch.float64, generator=generator) + 0.1
    args = (derive.mu_1, derive.sigma_1, derive.mu_2, derive.sigma_2)
    expected = sp.lambdify(args, rule["kl"])(m1.numpy(), s1.numpy(), m2.numpy(), s2.numpy())
    np.testing.assert_allclose(kl.kl_normal(m1, s1, m2, s2).numpy(), expected, rtol=1e-12)
    normal = torch.distributions.Normal
    reference = torch.distributions.kl_divergence(normal(m1, s1), normal(m2, s2))
    torch.testing.assert_close(kl.kl_normal(m1, s1, m2, s2), reference)


def test_diag_and_vae_forms(generator):
    mean, std = torch.randn(10, 8, dtype=torch.float64, generator=generator), torch.rand(10, 8, dtype=torch.float64,
                                                                                        generator=generator) + 0.1
    expected = 0.5 * (std**2 + mean**2 - 1 - torch.log(std**2)).sum(-1)
    torch.testing.assert_close(kl.kl_diag_normal(mean, std), expected)
    assert bool((kl.kl_diag_normal(mean, std) >= 0).all())


def test_categorical_properties(generator):
    dirichlet = torch.distributions.Dirichlet(torch.ones(4, dtype=torch.float64))
    p, q = dirichlet.sample((1000,)), dirichlet.sample((1000,))
    assert bool((kl.kl_categorical(p, q) >= 0).all())
    assert kl.kl_categorical(p, p).abs().max() < 1e-12
    fair, biased = torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([0.9, 0.1], dtype=torch.float64)
    coin = kl.kl_categorical(fair, biased)
    assert coin.item() == pytest.approx(math.log(5 / 3), rel=1e-12)
    assert kl.kl_categorical(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])).item() == math.inf


def test_monte_carlo_is_unbiased_with_the_predicted_error(generator):
    rule = derive.gaussian_kl()
    variance = float(rule["variance"].subs({derive.mu_1: 0, derive.sigma_1: 1, derive.mu_2: 1, derive.sigma_2: 2}))
    exact = kl.kl_normal(0.0, 1.0, 1.0, 2.0).item()
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob
    log_q = torch.distributions.Normal(1.0, 2.0).log_prob
    estimates, errors = zip(*(kl.kl_monte_carlo(log_p, log_q, torch.randn(1000, generator=generator))
                              for _ in range(200)), strict=True)
    estimates = torch.stack(estimates)
    assert abs(estimates.mean().item() - exact) < 4 * math.sqrt(variance / 1000 / 200)
    assert estimates.std().item() == pytest.approx(math.sqrt(variance / 1000), rel=0.15)
    assert torch.stack(errors).mean().item() == pytest.approx(math.sqrt(variance / 1000), rel=0.1)


def test_bad_inputs():
    with pytest.raises(ValueError, match="std_q: expected a value > 0"):
        kl.kl_normal(0.0, 1.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="q: expected shape"):
        kl.kl_categorical(torch.tensor([0.5, 0.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="p: expected non-negative probabilities"):
        kl.kl_categorical(torch.tensor([0.7, 0.7]), torch.tensor([0.5, 0.5]))
    with pytest.raises(TypeError, match="samples: expected a torch.Tensor"):
        kl.kl_monte_carlo(lambda x: x, lambda x: x, [1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mean_p: expected a torch.Tensor"):
        kl.kl_diag_normal(0.0, torch.ones(2))  # type: ignore[arg-type]


def test_jensen_is_proved_symbolically_and_holds_numerically(generator):
    d = derive.jensen_and_nonnegativity()
    relations = [step.relation for item in d.items if isinstance(item, Chain) for step in item.steps]
    assert relations.count(">=") == 3  # the tangent line, Jensen's two-point step, Gibbs' step
    kl_two = sp.lambdify((derive.w, derive.q), d["kl_two_point"], "numpy")
    p, q = torch.rand(2, 1000, dtype=torch.float64, generator=generator).clamp(1e-3, 1 - 1e-3)
    assert (kl_two(p.numpy(), q.numpy()) >= 0).all()
    both = torch.stack([p, 1 - p], -1), torch.stack([q, 1 - q], -1)
    np.testing.assert_allclose(kl.kl_categorical(*both).numpy(), kl_two(p.numpy(), q.numpy()), rtol=1e-10, atol=1e-15)


def test_a_wrong_tangent_step_is_refused():
    u, m = derive.u, derive.m
    with pytest.raises(ProofError):  # the tangent gap is >= 0, not <= 0
        Derivation("wrong").chain(-sp.log(u) + sp.log(m) + (u - m) / m, "gap").to(
            sp.Integer(0), "wrong direction", relation="<=")
