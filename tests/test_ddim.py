import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import ddim as derive
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.processes import ddim, ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule


def test_derivations_prove_as_chains():
    built = {d.title: d for d in derive.all_derivations()}
    assert len(built) == 4
    assert sum(d.n_proved for d in built.values()) >= 30
    for d in built.values():
        assert len(d.steps) >= 5, d.title
    lemma = derive.same_marginals()
    assert lemma.steps[-1].rhs == 1 - derive.alpha_bar_prev  # the variance is DDPM's, whatever s_t is


def test_sampler_noise_at_eta_one_is_the_posterior_variance():
    ab, ab_prev = derive.alpha_t * derive.alpha_bar_prev, derive.alpha_bar_prev
    beta_tilde = (1 - ab_prev) / (1 - ab) * (1 - derive.alpha_t)
    assert sp.simplify(derive.ddim_sigma_expr(1) ** 2 - beta_tilde) == 0
    assert derive.ddim_sigma_expr(0) == 0


def test_sigma_matches_sympy_and_posterior_variance():
    s = linear_schedule(100)
    sigma_expr = sp.lambdify((derive.eta, derive.alpha_t, derive.alpha_bar_prev), derive.ddim_sigma_expr(), "math")
    for step in (1, 10, 99):
        ab, ab_prev = s.alpha_bar[step].item(), s.alpha_bar[step - 1].item()
        for eta in (0.0, 0.5, 1.0):
            assert ddim.ddim_sigma(ab, ab_prev, eta) == pytest.approx(sigma_expr(eta, ab / ab_prev, ab_prev), rel=1e-12)
        assert ddim.ddim_sigma(ab, ab_prev, 1.0) ** 2 == pytest.approx(s.posterior_variance[step].item(), rel=1e-10)


def _toy_model(x, t):
    return torch.tanh(x) * (1 + t[:, None].to(x.dtype) / 100)


def test_eta_one_all_steps_is_ddpm_draw_for_draw():
    s = linear_schedule(50)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    every = sub_grid(50, 50)
    out_ddpm = ddpm.ddpm_sample(_toy_model, x_T, every, schedule=s, generator=torch.Generator().manual_seed(2))
    out_ddim = ddim.ddim_sample(_toy_model, x_T, every, schedule=s, eta=1.0, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(out_ddim, out_ddpm, rtol=1e-9, atol=1e-9)


def test_respaced_ddpm_is_ddim_eta_one_on_the_subsequence():
    s = linear_schedule(100)
    tau = sub_grid(100, 10)
    short = ddpm.chain_on_grid(s, tau.tolist())
    torch.testing.assert_close(short.alpha_bar, s.alpha_bar[tau.flip(0)])
    x_T = torch.randn(32, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out_ddpm = ddpm.ddpm_sample(_toy_model, x_T, tau, schedule=s, generator=torch.Generator().manual_seed(3))
    out_ddim = ddim.ddim_sample(_toy_model, x_T, tau, schedule=s, eta=1.0, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out_ddim, out_ddpm, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_last_step_lands_exactly_on_x0_hat(eta):
    s = cosine_schedule(200)
    seen = []
    tau = sub_grid(200, 7, "trailing")
    x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    out = ddim.ddim_sample(_toy_model, x_T, tau, schedule=s, eta=eta, generator=torch.Generator().manual_seed(0),
                           callback=lambda step: seen.append((step.t, step.x0)))
    assert [t for t, _ in seen] == tau.tolist()
    assert torch.equal(out, seen[-1][1])  # bit-exact: no noise, no leftover eps term


def test_eta_zero_is_deterministic_and_oracle_reaches_the_data():
    mixture = data.eight_gaussians()
    s = linear_schedule(1000)
    oracle = ddpm.exact_eps_model(mixture, s)
    x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    tau = sub_grid(1000, 50)
    a = ddim.ddim_sample(oracle, x_T, tau, schedule=s)
    b = ddim.ddim_sample(oracle, x_T, tau, schedule=s)
    assert torch.equal(a, b)
    real, again = mixture.sample(1000, torch.Generator().manual_seed(5))[0], mixture.sample(1000)[0]
    report = metrics.evaluate_2d(a, real, again)["swd"]
    assert report.value < 2.5 * report.floor, report


def test_inversion_round_trip_with_the_oracle():
    mixture = data.eight_gaussians()
    s = linear_schedule(1000)
    oracle = ddpm.exact_eps_model(mixture, s)
    x0 = mixture.sample(200, torch.Generator().manual_seed(0))[0]
    tau = sub_grid(1000, 100)
    latent = ddim.ddim_invert(oracle, x0, tau.flip(0), schedule=s)  # an encoder climbs: increasing steps
    assert abs(latent.std().item() - 1) < 0.15  # the latent looks like N(0, I)
    back = ddim.ddim_sample(oracle, latent, tau, schedule=s)
    assert (back - x0).norm(dim=1).median().item() < 0.05
    refined_latent = ddim.ddim_invert(oracle, x0, tau.flip(0), schedule=s, fixed_point_iterations=2)
    refined = ddim.ddim_sample(oracle, refined_latent, tau, schedule=s)
    assert (refined - x0).norm(dim=1).median().item() <= (back - x0).norm(dim=1).median().item()


def test_sub_grids():
    assert sub_grid(1000, 10).tolist() == list(range(900, -1, -100))
    trailing = sub_grid(1000, 10, "trailing")
    assert trailing[0].item() == 999 and trailing[-1].item() == 99
    quad = sub_grid(1000, 20, "quadratic")
    assert len(quad) == 20 and bool(torch.all(quad[1:] < quad[:-1]))
    linspace = sub_grid(1000, 100, "linspace")  # IDDPM's respacing keeps both ends
    assert linspace[0].item() == 999 and linspace[-1].item() == 0
    for spacing in ("leading", "trailing", "linspace", "quadratic"):
        assert sub_grid(30, 30, spacing).tolist() == list(range(29, -1, -1))


def test_slerp_endpoints_and_norm():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(4, 1, 8, 8, generator=g), torch.randn(4, 1, 8, 8, generator=g)
    torch.testing.assert_close(ddim.slerp(z0, z1, 0.0), z0)
    torch.testing.assert_close(ddim.slerp(z0, z1, 1.0), z1, rtol=1e-5, atol=1e-5)
    mid, lerp = ddim.slerp(z0, z1, 0.5), 0.5 * (z0 + z1)
    assert np.all(mid.flatten(1).norm(dim=1).numpy() > lerp.flatten(1).norm(dim=1).numpy())


def test_errors():
    s = linear_schedule(10)
    x = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r"eta: expected a number in \[0, 1\]"):
        ddim.ddim_sample(_toy_model, x, sub_grid(10, 10), schedule=s, eta=-1.0)
    with pytest.raises(ValueError, match="grid: expected strictly decreasing"):
        ddim.ddim_sample(_toy_model, x, torch.tensor([2, 5]), schedule=s)
    with pytest.raises(ValueError, match=r"grid: expected step indices in \[0, 9\]"):
        ddim.ddim_sample(_toy_model, x, torch.tensor([10, 0]), schedule=s)
    with pytest.raises(ValueError, match="grid: expected integer step indices"):
        ddim.ddim_sample(_toy_model, x, torch.tensor([1.0, 0.0]), schedule=s)
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        ddim.ddim_sample(_toy_model, [0.0], sub_grid(10, 10), schedule=s)
    with pytest.raises(ValueError, match="n_steps: expected at most T = 10"):
        sub_grid(10, 11)
    with pytest.raises(ValueError, match="spacing: expected one of"):
        sub_grid(10, 5, "random")
    with pytest.raises(ValueError, match="z1: expected shape"):
        ddim.slerp(torch.zeros(2, 3), torch.zeros(2, 4), 0.5)
    with pytest.raises(ValueError, match="fixed_point_iterations: expected an int >= 0"):
        ddim.ddim_invert(_toy_model, x, torch.arange(10), schedule=s, fixed_point_iterations=-1)
