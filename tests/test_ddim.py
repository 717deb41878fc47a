import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu import data, ddim, ddpm, metrics
from diffusion_edu.derivations import ddim as derive
from diffusion_edu.schedules import cosine_schedule, linear_schedule


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
    out_ddpm = ddpm.ddpm_sample(_toy_model, x_T, s, torch.Generator().manual_seed(2))
    out_ddim = ddim.ddim_sample(_toy_model, x_T, s, eta=1.0, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(out_ddim, out_ddpm, rtol=1e-9, atol=1e-9)


def test_respaced_ddpm_is_ddim_eta_one_on_the_subsequence():
    s = linear_schedule(100)
    tau = ddim.timestep_sequence(100, 10)
    short = ddim.respaced_schedule(s, tau)
    torch.testing.assert_close(short.alpha_bar, s.alpha_bar[tau])
    x_T = torch.randn(32, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out_ddpm = ddpm.ddpm_sample(lambda x, i: _toy_model(x, tau[i]), x_T, short, torch.Generator().manual_seed(3))
    out_ddim = ddim.ddim_sample(_toy_model, x_T, s, tau, eta=1.0, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out_ddim, out_ddpm, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("eta", [0.0, 0.7])
def test_last_step_lands_exactly_on_x0_hat(eta):
    s = cosine_schedule(200)
    seen = []
    tau = ddim.timestep_sequence(200, 7, "trailing")
    x_T = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    out = ddim.ddim_sample(_toy_model, x_T, s, tau, eta=eta, generator=torch.Generator().manual_seed(0),
                           callback=lambda t, x, x0: seen.append((t, x0)))
    assert [t for t, _ in seen] == tau.flip(0).tolist()
    assert torch.equal(out, seen[-1][1])  # bit-exact: no noise, no leftover eps term


def test_eta_zero_is_deterministic_and_oracle_reaches_the_data():
    mixture = data.eight_gaussians()
    s = linear_schedule(1000)
    oracle = ddpm.exact_eps_model(mixture, s)
    x_T = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    tau = ddim.timestep_sequence(1000, 50)
    a = ddim.ddim_sample(oracle, x_T, s, tau)
    b = ddim.ddim_sample(oracle, x_T, s, tau)
    assert torch.equal(a, b)
    real, again = mixture.sample(1000, torch.Generator().manual_seed(5))[0], mixture.sample(1000)[0]
    report = metrics.evaluate_2d(a, real, again)["swd"]
    assert report.value < 2.5 * report.floor, report


def test_inversion_round_trip_with_the_oracle():
    mixture = data.eight_gaussians()
    s = linear_schedule(1000)
    oracle = ddpm.exact_eps_model(mixture, s)
    x0 = mixture.sample(200, torch.Generator().manual_seed(0))[0]
    tau = ddim.timestep_sequence(1000, 100)
    latent = ddim.ddim_invert(oracle, x0, s, tau)
    assert abs(latent.std().item() - 1) < 0.15  # the latent looks like N(0, I)
    back = ddim.ddim_sample(oracle, latent, s, tau)
    assert (back - x0).norm(dim=1).median().item() < 0.05
    refined = ddim.ddim_sample(oracle, ddim.ddim_invert(oracle, x0, s, tau, fixed_point_iterations=2), s, tau)
    assert (refined - x0).norm(dim=1).median().item() <= (back - x0).norm(dim=1).median().item()


def test_timestep_sequences():
    assert ddim.timestep_sequence(1000, 10).tolist() == list(range(0, 1000, 100))
    trailing = ddim.timestep_sequence(1000, 10, "trailing")
    assert trailing[-1].item() == 999 and trailing[0].item() == 99
    quad = ddim.timestep_sequence(1000, 20, "quadratic")
    assert len(quad) == 20 and bool(torch.all(quad[1:] > quad[:-1]))
    assert ddim.timestep_sequence(30, 30).tolist() == list(range(30))


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
        ddim.ddim_sample(_toy_model, x, s, eta=-1.0)
    with pytest.raises(ValueError, match="timesteps: expected strictly increasing"):
        ddim.ddim_sample(_toy_model, x, s, torch.tensor([5, 2]))
    with pytest.raises(ValueError, match=r"timesteps: expected indices in \[0, 9\]"):
        ddim.ddim_sample(_toy_model, x, s, torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="timesteps: expected a non-empty 1-D integer tensor"):
        ddim.ddim_sample(_toy_model, x, s, torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        ddim.ddim_sample(_toy_model, [0.0], s)
    with pytest.raises(ValueError, match="num_steps: expected at most T = 10"):
        ddim.timestep_sequence(10, 11)
    with pytest.raises(ValueError, match="spacing: expected one of"):
        ddim.timestep_sequence(10, 5, "random")
    with pytest.raises(ValueError, match="z1: expected shape"):
        ddim.slerp(torch.zeros(2, 3), torch.zeros(2, 4), 0.5)
    with pytest.raises(ValueError, match="fixed_point_iterations: expected an int >= 0"):
        ddim.ddim_invert(_toy_model, x, s, fixed_point_iterations=-1)
