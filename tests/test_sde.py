import math

import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import sde as derive
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.score import ScoreMLP, ScoreUNet
from diffusion_edu.processes import likelihood, sde, sde_samplers
from diffusion_edu.processes.grids import time_grid
from diffusion_edu.processes.schedules import linear_schedule


def test_derivations_prove():
    for d in derive.all_derivations():
        assert len(d.steps) >= 1


def test_ve_kernel_torch_matches_sympy():
    variance = sp.lambdify((derive.t, derive.sigma), derive.ve_kernel()["kernel_var"], "math")
    ve = sde.VESDE(25.0)
    t = torch.tensor([0.01, 0.3, 1.0])
    for ti, std in zip(t.tolist(), ve.marginal_std(t).tolist(), strict=True):
        assert std**2 == pytest.approx(variance(ti, 25.0), rel=1e-10)


def test_ve_kernel_variance_by_simulation(generator):
    """Simulate dx = sigma^t dw with fine Euler-Maruyama steps: Var x(1) = the kernel variance."""
    ve = sde.VESDE(5.0)
    x = torch.zeros(20000, dtype=torch.float64)
    n = 400
    for i in range(n):
        g = float(ve.diffusion(torch.tensor([(i + 0.5) / n])))
        x = x + g * math.sqrt(1 / n) * torch.randn(x.shape, generator=generator, dtype=torch.float64)
    assert x.var().item() == pytest.approx(ve.prior_std() ** 2, rel=0.04)


def test_vp_is_ddpm_limit():
    vp = sde.VPSDE()
    schedule = linear_schedule(1000)
    t = (torch.arange(1000, dtype=torch.float64) + 1) / 1000
    torch.testing.assert_close(vp.marginal_scale(t) ** 2, schedule.alpha_bar, rtol=0.02, atol=1e-4)
    total = vp.marginal_scale(t) ** 2 + vp.marginal_std(t) ** 2
    torch.testing.assert_close(total, torch.ones(1000, dtype=torch.float64))


@pytest.mark.parametrize("which", ["ve", "vp"])
def test_samplers_with_exact_score_reach_the_data(which, generator):
    mixture = data.eight_gaussians()
    process = sde.VESDE(25.0) if which == "ve" else sde.VPSDE()
    score = sde.exact_score(mixture, process)
    real = mixture.sample(5000, generator)[0]
    floor = metrics.sliced_wasserstein(mixture.sample(500, generator)[0], real)
    samplers = ((sde_samplers.euler_maruyama, 100), (sde_samplers.predictor_corrector, 50),
                (sde_samplers.probability_flow, 15))
    for sampler, steps in samplers:
        x = sde.prior_sample(process, (500, 2), torch.Generator().manual_seed(1))
        out = sampler(score, x, time_grid(steps), sde=process, generator=torch.Generator().manual_seed(2))
        assert metrics.sliced_wasserstein(out, real) < 2.5 * floor, sampler.__name__


def test_ode_is_deterministic_and_em_is_seeded():
    mixture = data.eight_gaussians()
    ve = sde.VESDE(25.0)
    score = sde.exact_score(mixture, ve)
    x = sde.prior_sample(ve, (50, 2), torch.Generator().manual_seed(0))
    ode = [sde_samplers.probability_flow(score, x, time_grid(5), sde=ve) for _ in range(2)]
    assert torch.equal(*ode)
    a = sde_samplers.euler_maruyama(score, x, time_grid(10), sde=ve, generator=torch.Generator().manual_seed(4))
    b = sde_samplers.euler_maruyama(score, x, time_grid(10), sde=ve, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_log_likelihood_with_exact_score_matches_the_mixture():
    mixture = data.eight_gaussians()
    vp = sde.VPSDE()
    score = sde.exact_score(mixture, vp)
    x0 = mixture.sample(100, torch.Generator().manual_seed(0))[0].double()
    one, t_min = torch.ones(1), torch.tensor([1e-3])
    exact_prior = lambda x: mixture.log_prob(x.float(), float(vp.marginal_scale(one)),
                                             float(vp.marginal_std(one))).double()
    ll = likelihood.log_likelihood(score, x0, vp, 40, prior_log_prob=exact_prior)
    truth = mixture.log_prob(x0.float(), float(vp.marginal_scale(t_min)), float(vp.marginal_std(t_min)))
    assert (ll - truth).abs().max().item() < 0.01


def test_dsm_loss_is_minimised_by_the_exact_score(generator):
    """Vincent 2011: the exact score of p_t has a lower DSM loss than a perturbed score."""
    mixture = data.eight_gaussians()
    ve = sde.VESDE(25.0)
    score = sde.exact_score(mixture, ve)
    x0 = mixture.sample(20000, generator)[0]
    exact = sde.dsm_loss(score, x0, ve, torch.Generator().manual_seed(1)).item()
    worse = sde.dsm_loss(lambda x, t: 1.1 * score(x, t), x0, ve, torch.Generator().manual_seed(1)).item()
    assert exact < worse


def test_sde_density_diagram_is_the_exact_marginal():
    from matplotlib.figure import Figure

    from diffusion_edu.present.diagrams import sde_density

    mixture, vp = sde_density.mixture_1d(), sde.VPSDE()
    xs = torch.linspace(-12.0, 12.0, 4001)
    density = sde_density.marginal_density(mixture, vp, torch.tensor([1e-3, 0.3, 1.0]), xs)
    mass = torch.trapezoid(density, xs, dim=1)
    torch.testing.assert_close(mass, torch.ones(3), atol=1e-4, rtol=0)
    assert isinstance(sde_density.draw(n_paths=2, n_steps=8), Figure)


def test_score_nets_shapes_and_std_division():
    torch.manual_seed(0)
    net = ScoreMLP()
    x, t = torch.randn(7, 2), torch.rand(7)
    out1 = net(x, t, torch.ones(7))
    out2 = net(x, t, 2 * torch.ones(7))
    assert out1.shape == (7, 2) and torch.isfinite(out2).all()
    unet = ScoreUNet(channels=8)
    assert unet(torch.randn(3, 1, 8, 8), torch.rand(3), torch.ones(3)).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"std: expected a tensor of shape \(7,\)"):
        net(x, t, torch.ones(3))


def test_errors():
    ve = sde.VESDE()
    score = lambda x, t: -x
    with pytest.raises(ValueError, match="sigma: expected a value > 1"):
        sde.VESDE(0.5)
    with pytest.raises(TypeError, match="sde: expected a VESDE or VPSDE"):
        sde_samplers.euler_maruyama(score, torch.zeros(2, 2), time_grid(10), sde="ve")
    with pytest.raises(TypeError, match="score: expected a callable"):
        sde_samplers.predictor_corrector(None, torch.zeros(2, 2), time_grid(10), sde=ve)
    with pytest.raises(ValueError, match="method: expected one of"):
        sde_samplers.probability_flow(score, torch.zeros(2, 2), time_grid(10), sde=ve, method="rk45")
    with pytest.raises(ValueError, match=r"t_min: expected a float in \(0, 1\)"):
        time_grid(10, t_min=0.0)
    with pytest.raises(ValueError, match=r"grid: expected times in \(0, 1\]"):
        sde_samplers.euler_maruyama(score, torch.zeros(2, 2), [1.0, 0.5, 0.0], sde=ve)
    with pytest.raises(ValueError, match="n_steps: expected an int >= 1"):
        time_grid(0)
    with pytest.raises(ValueError, match="noise: expected shape"):
        sde.perturb(torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 3), ve)
    with pytest.raises(ValueError, match="spacing: expected one of"):
        time_grid(10, 1e-3, "cosine")
