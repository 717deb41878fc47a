"""Chapter 17's EDM digit U-Net and its progressive distillation (recipes.edm, recipes.few_step_digits), cheaply:
the EDM U-Net against the preconditioning formula, the clipped denoiser, a two-round chain with 2 steps per round in
a temporary cache (the teacher replaced by an untrained small EDM U-Net, so no teacher training), the cache, bad
inputs."""

from __future__ import annotations

import pytest
import torch

from diffusion_edu.core import runtime
from diffusion_edu.processes import edm
from diffusion_edu.processes.edm_samplers import edm_euler
from diffusion_edu.recipes import edm as edm_recipes
from diffusion_edu.recipes import few_step_digits as fsd
from diffusion_edu.recipes.edm import NOISE_SCALE, EDMUNet
from diffusion_edu.recipes.few_steps import distillation_grid


def test_edm_unet_is_the_preconditioned_unet() -> None:
    torch.manual_seed(0)
    model = EDMUNet(channels=8, sigma_data=0.6).eval()
    x = 3.0 * torch.randn(5, 1, 8, 8)
    sigma = torch.tensor([0.002, 0.3, 1.0, 5.0, 80.0])
    c = {k: v[:, None, None, None].float() for k, v in edm.preconditioning(sigma.double(), 0.6).items()}
    with torch.no_grad():
        expected = c["c_skip"] * x + c["c_out"] * model.network(c["c_in"] * x, NOISE_SCALE * c["c_noise"].flatten())
        torch.testing.assert_close(model(x, sigma), expected)
        # at sigma -> 0 the skip takes over: D(x, sigma) -> x, whatever the network says
        torch.testing.assert_close(model(x, torch.full((5,), 1e-6)), x, atol=1e-5, rtol=0)


def test_clipped_denoiser() -> None:
    wide = lambda x, sigma: 3 * x  # noqa: E731
    x = torch.linspace(-1, 1, 12).reshape(3, 4)
    out = edm.clipped(wide)(x, torch.ones(3))
    assert out.max().item() == 1.0 and out.min().item() == -1.0
    torch.testing.assert_close(out, (3 * x).clamp(-1, 1))
    torch.testing.assert_close(edm.clipped(wide, bound=5.0)(x, torch.ones(3)), 3 * x)
    with pytest.raises(ValueError, match="^bound"):
        edm.clipped(wide, bound=0.0)
    with pytest.raises(TypeError, match="^denoiser"):
        edm.clipped("not a model")


def test_edm_digit_unet_trains_and_caches(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    model, info = edm_recipes.edm_digit_unet(cpu_steps=2, channels=8, progress=False)
    assert isinstance(model, EDMUNet) and model.channels == 8 and info["trained_now"]
    assert model.sigma_data == edm_recipes.digits_sigma_data() and 0.3 < model.sigma_data < 0.9
    again, info_again = edm_recipes.edm_digit_unet(cpu_steps=2, channels=8, progress=False)
    assert not info_again["trained_now"]
    for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_two_rounds_train_cache_and_sample(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    torch.manual_seed(0)
    monkeypatch.setattr(fsd, "edm_digit_unet", lambda progress=True: (EDMUNet(channels=8), {"seconds": 0.0}))
    student, info = fsd.distilled_digits(16, steps_per_round=2, batch_size=8, progress=False)
    assert isinstance(student, EDMUNet) and student.channels == 8
    assert info["steps"] == runtime.budget().steps(2) and info["total_seconds"] >= info["seconds"] > 0
    assert len(list((tmp_path / "models").glob("distilled-digits-*"))) == 2  # rounds 64 -> 32 and 32 -> 16
    again, info_again = fsd.distilled_digits(16, steps_per_round=2, batch_size=8, progress=False)
    assert info_again["seconds"] == info["seconds"]  # loaded, not retrained
    for a, b in zip(student.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    grid = distillation_grid(16)
    with torch.no_grad():
        images = edm_euler(edm.clipped(student), float(grid[0]) * torch.randn(4, 1, 8, 8), grid)
    assert images.shape == (4, 1, 8, 8) and images.abs().max().item() <= 1.0


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: fsd.distilled_digits(6), ValueError, "^n_steps: expected a power of two"),
    (lambda: fsd.distilled_digits(128), ValueError, "^n_steps"),
    (lambda: fsd.distilled_digits(4, steps_per_round=0), ValueError, "^steps_per_round"),
    (lambda: fsd.distilled_digits(4, batch_size=1.5), TypeError, "^batch_size"),
    (lambda: fsd.distilled_digits(4, lr=0.0), ValueError, "^lr"),
    (lambda: fsd.distilled_digits(4, seed=-1), ValueError, "^seed"),
    (lambda: edm_recipes.edm_digit_unet(cpu_steps=0), ValueError, "^cpu_steps"),
    (lambda: edm_recipes.edm_digit_unet(channels=2.5), TypeError, "^channels"),
    (lambda: edm_recipes.edm_digit_unet(p_std=-1.0), ValueError, "^p_std"),
    (lambda: EDMUNet(channels=0), ValueError, "^channels"),
    (lambda: EDMUNet(sigma_data=0.0), ValueError, "^sigma_data"),
])
def test_bad_inputs(call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
