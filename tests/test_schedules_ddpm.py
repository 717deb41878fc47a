import pytest
import torch

from diffusion_edu import data
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.processes import ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import Schedule, cosine_schedule, linear_schedule, make_schedule


def test_linear_schedule_matches_ddpm():
    s = linear_schedule(1000)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    assert s.alpha_bar[-1].item() == pytest.approx(4.04e-5, rel=0.01)
    assert bool(torch.all(s.alpha_bar[1:] < s.alpha_bar[:-1]))
    # scaled to other T, the end point stays comparable
    assert linear_schedule(100).alpha_bar[-1].item() < 1e-3


def test_cosine_schedule():
    s = cosine_schedule(1000)
    assert s.alpha_bar[0].item() == pytest.approx(1.0, abs=1e-3)
    assert s.alpha_bar[-1].item() < 1e-8
    assert s.betas.max().item() <= 0.999


def test_posterior_variance_is_between_0_and_beta():
    s = make_schedule("linear", 200)
    assert s.posterior_variance[0].item() == 0.0  # at the first step x_0 is known exactly
    assert bool(torch.all(s.posterior_variance <= s.betas))


def test_schedule_errors():
    with pytest.raises(ValueError, match="name: expected one of"):
        make_schedule("sigmoid")
    with pytest.raises(ValueError, match="T: expected an int >= 1"):
        linear_schedule(0)
    with pytest.raises(ValueError, match=r"betas: expected values in \(0, 1\)"):
        Schedule(torch.tensor([0.1, 1.5], dtype=torch.float64))


def test_one_shot_equals_step_by_step_in_distribution(generator):
    s = linear_schedule(50)
    x0 = torch.full((20000, 1), 1.5, dtype=torch.float64)
    x = x0
    for step in range(s.T):
        t = torch.full((len(x),), step)
        x = ddpm.q_step(x, t, torch.randn(x.shape, generator=generator, dtype=torch.float64), s)
    t = torch.full((len(x0),), s.T - 1)
    one_shot = ddpm.q_sample(x0, t, torch.randn(x0.shape, generator=generator, dtype=torch.float64), s)
    assert x.mean().item() == pytest.approx(one_shot.mean().item(), abs=0.03)
    assert x.var().item() == pytest.approx(one_shot.var().item(), rel=0.04)


def test_conversions_round_trip(generator):
    s = cosine_schedule(100)
    x0 = torch.randn(16, 2, generator=generator, dtype=torch.float64)
    eps = torch.randn(16, 2, generator=generator, dtype=torch.float64)
    t = torch.randint(0, 100, (16,), generator=generator)
    x_t = ddpm.q_sample(x0, t, eps, s)
    torch.testing.assert_close(ddpm.x0_from_eps(x_t, t, eps, s), x0)
    torch.testing.assert_close(ddpm.eps_from_x0(x_t, t, x0, s), eps)
    torch.testing.assert_close(ddpm.eps_from_v(x_t, t, ddpm.v_from_eps(x0, t, eps, s), s), eps)


def test_q_sample_errors():
    s = linear_schedule(10)
    with pytest.raises(ValueError, match=r"t: expected step indices in \[0, 9\]"):
        ddpm.q_sample(torch.zeros(2, 2), torch.tensor([0, 10]), torch.zeros(2, 2), s)
    with pytest.raises(ValueError, match="t: expected an integer tensor"):
        ddpm.q_sample(torch.zeros(2, 2), torch.tensor([0.5, 1.0]), torch.zeros(2, 2), s)
    with pytest.raises(ValueError, match="noise: expected shape"):
        ddpm.q_sample(torch.zeros(2, 2), torch.tensor([0, 1]), torch.zeros(2, 3), s)
    with pytest.raises(ValueError, match="variance: expected"):
        ddpm.ddpm_sample(lambda x, t: x, torch.zeros(2, 2), sub_grid(10, 10), schedule=s, variance="learned")


def test_algorithm_2_mean_equals_posterior_mean_of_x0_hat(generator):
    """DDPM's eps-form update and the posterior mean evaluated at x0_hat are the same function."""
    s = linear_schedule(100)
    x_t = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    eps = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    t = torch.randint(1, 100, (8,), generator=generator)
    x0_hat = ddpm.x0_from_eps(x_t, t, eps, s)
    mean, _ = ddpm.posterior(x0_hat, x_t, t, s)
    beta, alpha, alpha_bar = s.betas[t, None], s.alphas[t, None], s.alpha_bar[t, None]
    torch.testing.assert_close(mean, (x_t - beta / (1 - alpha_bar).sqrt() * eps) / alpha.sqrt())


def test_oracle_sampler_reaches_the_floor():
    generator = torch.Generator().manual_seed(0)
    mixture = data.eight_gaussians()
    s = linear_schedule(200)
    x = ddpm.ddpm_sample(ddpm.exact_eps_model(mixture, s), torch.randn(1000, 2, generator=generator),
                         sub_grid(200, 200), schedule=s, generator=generator)
    real = mixture.sample(1000, generator)[0]
    report = metrics.evaluate_2d(x, real, [mixture.sample(1000, generator)[0] for _ in range(3)])["swd"]
    assert report.ratio < 1.5, report


def test_sampling_is_seeded():
    mixture, s = data.eight_gaussians(), linear_schedule(20)
    oracle = ddpm.exact_eps_model(mixture, s)
    runs = [ddpm.ddpm_sample(oracle, torch.randn(5, 2, generator=torch.Generator().manual_seed(4)), sub_grid(20, 20),
                             schedule=s, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(*runs)


def test_nets_shapes_and_conditioning(generator):
    from diffusion_edu.nets.mlp import TimeMLP
    from diffusion_edu.nets.unet import UNet

    unet = UNet(channels=8, num_classes=10)
    x, t = torch.randn(4, 1, 8, 8, generator=generator), torch.randint(0, 1000, (4,), generator=generator)
    assert unet(x, t).shape == (4, 1, 8, 8)
    assert torch.equal(unet(x, t), torch.zeros(4, 1, 8, 8))  # zero-initialised output layer
    for param in unet.parameters():  # leave the zero init so the labels can reach the output
        torch.nn.init.normal_(param, std=0.1)
    assert not torch.equal(unet(x, t, torch.tensor([0, 1, 2, 3])), unet(x, t))  # labels matter
    mlp = TimeMLP(width=16, num_classes=3)
    assert mlp(torch.randn(5, 2, generator=generator), torch.arange(5)).shape == (5, 2)


def test_recipe_trains_and_caches(tmp_path, monkeypatch):
    from diffusion_edu import recipes

    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))
    model, info = recipes.ddpm_2d("moons", T=50, cpu_steps=30, progress=False)
    assert info["trained_now"] and info["steps"] == 30
    again, info_again = recipes.ddpm_2d("moons", T=50, cpu_steps=30, progress=False)
    assert not info_again["trained_now"]
    x, t = torch.randn(3, 2), torch.tensor([0, 10, 49])
    assert torch.equal(model(x, t), again(x, t))


def test_schedules_and_one_step_match_diffusers():
    """Peer check: diffusers' DDPMScheduler (a test-only dependency, benchmarks/requirements.txt) gives
    the same alpha products for 'linear' and 'squaredcos_cap_v2', and the same mean and variance of
    one ancestral step."""
    diffusers = pytest.importorskip("diffusers")
    for ours, theirs in ((linear_schedule(1000), "linear"), (cosine_schedule(1000), "squaredcos_cap_v2")):
        peer = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule=theirs)
        torch.testing.assert_close(ours.alpha_bar.float(), peer.alphas_cumprod.float(), rtol=1e-4, atol=1e-7)
        for step in (0, 1, 500, 999):  # diffusers computes in float32: ~1e-4 relative round-off
            assert float(ours.posterior_variance[step]) == pytest.approx(float(peer._get_variance(step)), rel=1e-3,
                                                                         abs=1e-20)
    # one ancestral step from the same x_t and eps, with the same noise draw: the same x_{t-1}
    schedule = linear_schedule(1000)
    peer = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=False)
    generator = torch.Generator().manual_seed(0)
    x_t, eps = torch.randn(2, 4, 1, 8, 8, generator=generator)
    for step in (1, 300, 999):
        out = peer.step(eps, step, x_t, generator=torch.Generator().manual_seed(1))
        x0_hat = ddpm.x0_from_eps(x_t, torch.full((4,), step), eps, schedule)
        mean, var = ddpm.posterior(x0_hat, x_t, torch.full((4,), step), schedule)
        torch.testing.assert_close(out.pred_original_sample, x0_hat, rtol=1e-3, atol=1e-3)  # float32 peer
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(out.prev_sample, mean + var.sqrt() * noise, rtol=1e-3, atol=1e-3)


def test_recipe_errors_name_the_argument():
    from diffusion_edu import recipes

    with pytest.raises(ValueError, match="dataset"):
        recipes.ddpm_2d("spirals")


@pytest.mark.parametrize("budget_name", ["cpu", "gpu"])
def test_digit_networks_follow_the_budget(budget_name, monkeypatch):
    """The budget sizes the digit U-Net (c channels) and the DiT (D = 2c) so that chapter 14 compares them
    at equal parameter counts (within 10 %) on either budget; channels_last is an internal layout only."""
    from diffusion_edu.core.runtime import budget
    from diffusion_edu.nets.dit import DiT
    from diffusion_edu.nets.unet import UNet
    from diffusion_edu.recipes.guidance import dit_config

    monkeypatch.setenv("DIFFUSION_EDU_BUDGET", budget_name)
    unet = UNet(channels=budget().digit_channels, num_classes=10)
    dit = DiT(**dit_config())
    n_unet, n_dit = (sum(p.numel() for p in m.parameters()) for m in (unet, dit))
    assert abs(n_dit / n_unet - 1) < 0.1, (n_unet, n_dit)
    out = unet(torch.randn(3, 1, 8, 8), torch.tensor([0, 5, 999]))
    assert out.is_contiguous() and out.shape == (3, 1, 8, 8)
