import math

import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import score as derive
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.processes import langevin
from diffusion_edu.processes.grids import sigma_grid


def test_derivations_prove():
    for d in derive.all_derivations():
        assert len(d.steps) >= 1


def test_implicit_score_matching_identity_and_minimiser():
    """Fisher divergence = implicit objective + a constant free of the model; its minimiser over
    s = a x + b is the true score -(x - mu) / sigma^2."""
    d = derive.implicit_score_matching()
    gap = sp.expand(d["fisher"] / 2 - d["implicit"])
    assert not gap.free_symbols & {derive.a, derive.b, derive.c}
    j = d["implicit"].subs(derive.c, 0)
    best = sp.solve([sp.diff(j, derive.a), sp.diff(j, derive.b)], [derive.a, derive.b], dict=True)[0]
    assert sp.simplify(best[derive.a] + 1 / derive.sigma**2) == 0
    assert sp.simplify(best[derive.b] - derive.mu / derive.sigma**2) == 0


def test_ula_variance_matches_sympy(generator):
    """ULA on N(0, s^2) has stationary variance 2 s^4 / (2 s^2 - eps) (proved in derivations.score)."""
    s0, eps = 1.0, 0.4
    predicted = sp.lambdify((derive.s_0, derive.epsilon), derive.langevin_invariance()["ula_variance"])(s0, eps)
    x = torch.zeros(20000, 1, dtype=torch.float64)
    x = langevin.langevin(lambda y: -y / s0**2, x, [eps] * 200, generator=generator)
    assert x.var().item() == pytest.approx(predicted, rel=0.04)
    assert predicted > s0**2  # the bias of the unadjusted chain


def test_langevin_exact_score_converges(generator):
    mixture = data.GaussianMixture(torch.tensor([0.3, 0.7]), torch.tensor([[-1.0, 0.0], [1.0, 0.0]]),
                                   torch.tensor([0.6, 0.6]))
    x = 3 * torch.randn(1000, 2, generator=generator)
    x = langevin.langevin(mixture.score, x, [0.02] * 300, generator=generator)
    real = mixture.sample(5000, generator)[0]
    floor = metrics.sliced_wasserstein(mixture.sample(1000, generator)[0], real)
    assert metrics.sliced_wasserstein(x, real) < 2.5 * floor


def test_annealed_langevin_recovers_mode_weights(generator):
    means = torch.tensor([[-4.0, -4.0], [4.0, 4.0]])
    mixture = data.GaussianMixture(torch.tensor([0.2, 0.8]), means, torch.tensor([1.0, 1.0]))
    x = torch.rand(1000, 2, generator=generator) * 16 - 8
    plain = langevin.langevin(mixture.score, x, [0.1] * 200, generator=generator)
    sigmas = sigma_grid(20.0, 0.5, 10)
    annealed = langevin.annealed_langevin(lambda y, s: mixture.score(y, 1.0, s), x, sigmas, step_size=0.02,
                                          steps_per_level=80, generator=generator)
    w_plain, w_annealed = langevin.mode_weights(plain, means), langevin.mode_weights(annealed, means)
    assert abs(w_plain[0].item() - 0.5) < 0.07  # stuck with the initial basins
    assert abs(w_annealed[0].item() - 0.2) < 0.06


def test_seeded_determinism():
    score = lambda y: -y
    a = langevin.langevin(score, torch.zeros(5, 2), [0.1] * 10, generator=torch.Generator().manual_seed(3))
    b = langevin.langevin(score, torch.zeros(5, 2), [0.1] * 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_sigma_grid():
    sigmas = sigma_grid(10.0, 0.01, 4)
    assert sigmas[0] == pytest.approx(10.0) and sigmas[-1] == pytest.approx(0.01)
    assert sigmas[1] / sigmas[0] == pytest.approx(sigmas[2] / sigmas[1])
    assert math.isclose(sigmas[1], 1.0)


def test_errors():
    with pytest.raises(ValueError, match="grid: expected positive finite step sizes"):
        langevin.langevin(lambda y: y, torch.zeros(2, 2), [0.0] * 5)
    with pytest.raises(ValueError, match="grid: expected decreasing step sizes"):
        langevin.langevin(lambda y: y, torch.zeros(2, 2), [0.1, 0.2])
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        langevin.langevin(lambda y: y, [0.0], [0.1] * 5)
    with pytest.raises(ValueError, match="grid: expected strictly decreasing noise levels"):
        langevin.annealed_langevin(lambda y, s: y, torch.zeros(2, 2), [0.1, 1.0], step_size=0.1, steps_per_level=5)
    with pytest.raises(ValueError, match="sigma_min: expected a value below sigma_max"):
        sigma_grid(1.0, 2.0, 5)
    with pytest.raises(ValueError, match="means: expected shape"):
        langevin.mode_weights(torch.zeros(4, 2), torch.zeros(3, 3))
