"""The GPU code path, checked on a CPU: under the emulated accelerator (benchmarks/emulated_accelerator.py)
the samplers and recipes obey CUDA's device rules and give exactly the CPU's numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from benchmarks.emulated_accelerator import AcceleratorTensor, emulate_accelerator
from diffusion_edu.core import runtime
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.nets.score import ScoreMLP
from diffusion_edu.processes import ddim, ddpm, guidance, langevin, latent, likelihood, sde, sde_samplers
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.recipes import diffusion as recipes
from diffusion_edu.recipes import edm as recipes_edm
from diffusion_edu.recipes import guidance as recipes_guidance
from diffusion_edu.recipes import latent as latent_recipe
from diffusion_edu.recipes import vae


def test_emulator_raises_where_cuda_would():
    with emulate_accelerator() as device:
        assert runtime.device() == device
        x = torch.randn(4, 3).to(device)
        assert isinstance(x, AcceleratorTensor) and x.device == device
        with pytest.raises(RuntimeError, match="same device"):
            x + torch.ones(4, 3)
        with pytest.raises(RuntimeError, match="same device"):
            torch.ones(4)[torch.tensor([0, 1]).to(device)]  # accelerator indices into a CPU tensor
        with pytest.raises(RuntimeError, match="CPU generator"):
            torch.randn(3, generator=torch.Generator(), device=device)
        with pytest.raises(RuntimeError, match="numpy"):
            x.numpy()
        # what CUDA allows: 0-dim CPU tensors, CPU indices, and the same values as on the CPU
        assert torch.equal((x * torch.tensor(2.0)).cpu(), x.cpu() * 2)
        assert torch.equal(x[torch.tensor([0, 2])].cpu(), x.cpu()[[0, 2]])
        assert type(x.cpu()) is torch.Tensor
    assert runtime.device().type != "meta"


def _on_both(run: Callable[[torch.device], list[torch.Tensor]]) -> None:
    """``run(device)`` on the CPU and on the emulated accelerator: the same numbers, bit for bit."""
    on_cpu = run(torch.device("cpu"))
    with emulate_accelerator() as device:
        on_accelerator = [value.cpu() for value in run(device)]
    for a, b in zip(on_cpu, on_accelerator, strict=True):
        assert torch.equal(a, b)


def test_ddpm_ddim_and_guidance_samplers_run_on_the_accelerator():
    torch.manual_seed(0)
    net = TimeMLP(dim=2, width=16, depth=1, num_classes=3).eval()
    classifier = guidance.exact_classifier(*_labelled_ring(), make_schedule("linear", 20))
    schedule = make_schedule("linear", 20)

    def run(device: torch.device) -> list[torch.Tensor]:
        model = net.to(device)
        x = torch.randn(32, 2, generator=torch.Generator().manual_seed(1)).to(device)
        labels = torch.arange(32) % 3
        cfg = guidance.classifier_free_model(model, labels.to(device), w=2.0, null_label=3)
        cg = guidance.classifier_guided_model(guidance.conditioned(model, labels.to(device)), classifier, labels,
                                              schedule, 1.0)
        return [
            ddpm.ddpm_sample(lambda x, t: model(x, t), x, sub_grid(20, 20), schedule=schedule,
                             generator=torch.Generator().manual_seed(2)),
            ddim.ddim_sample(cfg, x, sub_grid(20, 5), schedule=schedule, eta=0.5,
                             generator=torch.Generator().manual_seed(3)),
            ddim.ddim_invert(lambda x, t: model(x, t), x, torch.arange(20), schedule=schedule),
            ddpm.ddpm_sample(cg, x, sub_grid(20, 20), schedule=schedule, generator=torch.Generator().manual_seed(4)),
        ]

    _on_both(run)


def _labelled_ring():
    from diffusion_edu import data

    mixture = data.eight_gaussians()
    return mixture, torch.arange(len(mixture.means)) % 3


def test_sde_and_langevin_samplers_run_on_the_accelerator():
    torch.manual_seed(0)
    net = ScoreMLP(dim=2, width=16, depth=1).eval()
    ve = sde.VESDE()
    mixture, _ = _labelled_ring()

    def run(device: torch.device) -> list[torch.Tensor]:
        score = sde.net_score(net.to(device), ve)
        x = sde.prior_sample(ve, (16, 2), torch.Generator().manual_seed(1)).to(device)
        g = torch.Generator().manual_seed(2)
        return [
            sde_samplers.euler_maruyama(score, x, time_grid(5), sde=ve, generator=g),
            sde_samplers.predictor_corrector(score, x, time_grid(5), sde=ve, generator=g),
            sde_samplers.probability_flow(score, x, time_grid(3), sde=ve, method="heun"),
            likelihood.log_likelihood(sde.exact_score(mixture, ve), x[:4] / 10, ve, 4),
            langevin.langevin(lambda x: mixture.score(x.cpu(), 1.0, 0.0).to(x.device), x / 10, [0.01] * 3,
                              generator=g),
        ]

    _on_both(run)


@pytest.mark.parametrize("make", [
    lambda: recipes.ddpm_2d("moons", cpu_steps=3, progress=False),
    lambda: recipes.digit_unet(conditional=True, cpu_steps=2, channels=8, progress=False),
    lambda: recipes_guidance.noisy_digit_classifier(cpu_steps=2, progress=False),
    lambda: recipes_guidance.digit_dit(cpu_steps=2, progress=False),
    lambda: recipes_edm.edm_digit_unet(cpu_steps=2, channels=8, progress=False),
], ids=["ddpm_2d", "digit_unet", "noisy_classifier", "digit_dit", "edm_digit_unet"])
def test_recipes_train_save_and_load_on_the_accelerator(make, tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    with emulate_accelerator():
        trained, info = make()
        assert info["trained_now"] and all(isinstance(p, AcceleratorTensor) for p in trained.parameters())
    # the checkpoint holds CPU tensors: it loads where there is no accelerator, with the same weights
    loaded, info = make()
    assert not info["trained_now"] and loaded.training is False
    for a, b in zip(trained.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(a.cpu(), b) and b.device.type == "cpu"


def test_latent_diffusion_trains_and_samples_on_the_accelerator(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    monkeypatch.setitem(vae.DIGIT_VAE_RECIPE, "steps", 2)
    monkeypatch.setitem(latent_recipe.LATENT_RECIPE, "steps", 2)
    with emulate_accelerator():
        denoiser, info = latent_recipe.trained_latent_denoiser(progress=False)
        assert info["trained_now"] and all(isinstance(p, AcceleratorTensor) for p in denoiser.parameters())
        images = latent.sample(denoiser, info["vae"], info["scale"], torch.arange(4), make_schedule("linear", 1000),
                               num_steps=3, w=2.0, generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 8, 8) and torch.isfinite(images.cpu()).all()


def test_part_iv_samplers_run_on_the_accelerator():
    """EDM's samplers on a DDPM eps network wrapped as a denoiser (the schedule stays on the CPU), the flow
    samplers on a velocity network, and the consistency sampler: the CPU's numbers on the emulated device."""
    from diffusion_edu.processes import edm
    from diffusion_edu.processes.consistency import consistency_sample
    from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun, edm_stochastic
    from diffusion_edu.processes.flow_samplers import flow_euler, flow_grid, flow_heun, flow_rk4

    torch.manual_seed(0)
    net = TimeMLP(dim=2, width=16, depth=1).eval()
    schedule = make_schedule("linear", 50)
    sigmas = edm.schedule_sigmas(schedule)
    grid = edm.karras_sigmas(4, float(sigmas[0]), float(sigmas[-1]))

    def run(device: torch.device) -> list[torch.Tensor]:
        model = net.to(device)
        denoiser = edm.discrete_denoiser(model, schedule)
        velocity = lambda x, t: model(x, 1000 * t)  # noqa: E731
        z = torch.randn(8, 2, generator=torch.Generator().manual_seed(1)).to(device)
        noise = lambda x: torch.ones_like(x)  # noqa: E731  (a device-side noise draw)
        with torch.no_grad():
            return [edm_euler(denoiser, float(sigmas[-1]) * z, grid), edm_heun(denoiser, float(sigmas[-1]) * z, grid),
                    dpm_solver_pp_2m(denoiser, float(sigmas[-1]) * z, grid),
                    edm_stochastic(denoiser, float(sigmas[-1]) * z, grid, s_churn=1.0, noise_sampler=noise),
                    consistency_sample(denoiser, float(sigmas[-1]) * z, grid, noise_sampler=noise),
                    flow_euler(velocity, z, flow_grid(4)), flow_heun(velocity, z, flow_grid(4)),
                    flow_rk4(velocity, z, flow_grid(2))]

    _on_both(run)


def test_mixture_densities_take_accelerator_inputs():
    """A GaussianMixture's log-density, responsibilities and score of device points (its parameters stay on the
    CPU) give the CPU's numbers on the device, with per-sample scales and noise levels on either device."""
    from diffusion_edu import data

    mixture = data.eight_gaussians()

    def run(device: torch.device) -> list[torch.Tensor]:
        x = torch.randn(6, 2, generator=torch.Generator().manual_seed(2)).to(device)
        scale, std = torch.linspace(0.2, 1.0, 6).to(device), torch.linspace(0.1, 0.9, 6)
        return [mixture.log_prob(x, scale, std), mixture.responsibilities(x, 0.5, 0.3), mixture.score(x, scale, std)]

    _on_both(run)
