"""Progressive distillation of chapter 9's digit U-Net (recipes.few_step_digits), cheaply: the denoiser wrapper
against discrete_denoiser, the grid, a two-round chain with 2 steps per round in a temporary cache (the U-Net teacher
replaced by an untrained small one, so no 30-s teacher training), the cache, bad inputs."""

from __future__ import annotations

import pytest
import torch

from diffusion_edu.core import runtime
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import edm
from diffusion_edu.processes.edm_samplers import edm_euler
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.recipes import few_step_digits as fsd
from diffusion_edu.recipes.few_steps import TEACHER_STEPS


def test_denoiser_is_the_clipped_discrete_denoiser() -> None:
    torch.manual_seed(0)
    model = fsd.DigitDenoiser(channels=8).eval()
    x = 3.0 * torch.randn(6, 1, 8, 8)
    sigma = torch.tensor([0.02, 0.3, 1.0, 5.0, 40.0, 150.0])
    expected = edm.discrete_denoiser(model.unet, make_schedule("linear", 1000))(x, sigma)
    with torch.no_grad():
        torch.testing.assert_close(model(x, sigma), expected.clamp(-1, 1))
        model.clip = False
        torch.testing.assert_close(model(x, sigma), expected)


def test_grid() -> None:
    low, high = fsd.digit_sigma_range()
    assert low == pytest.approx(0.01, rel=1e-3) and 150 < high < 160
    full = fsd.digit_distillation_grid(TEACHER_STEPS)
    assert len(full) == TEACHER_STEPS + 1 and full[0].item() == pytest.approx(high) and full[-1].item() == 0.0
    assert full[-2].item() == pytest.approx(low)
    assert torch.equal(fsd.digit_distillation_grid(8), full[::8])
    assert fsd.digit_distillation_grid(1).tolist() == [pytest.approx(high), 0.0]


def test_two_rounds_train_cache_and_sample(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    torch.manual_seed(0)
    monkeypatch.setattr(fsd, "digit_unet", lambda progress=True: (UNet(in_channels=1, channels=8), {"seconds": 0.0}))
    student, info = fsd.distilled_digits(16, steps_per_round=2, batch_size=8, progress=False)
    assert isinstance(student, fsd.DigitDenoiser) and student.clip and student.unet.channels == 8
    assert info["steps"] == runtime.budget().steps(2) and info["total_seconds"] >= info["seconds"] > 0
    assert len(list((tmp_path / "models").glob("distilled-digits-*"))) == 2  # rounds 64 -> 32 and 32 -> 16
    again, info_again = fsd.distilled_digits(16, steps_per_round=2, batch_size=8, progress=False)
    assert info_again["seconds"] == info["seconds"]  # loaded, not retrained
    for a, b in zip(student.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    grid = fsd.digit_distillation_grid(16)
    with torch.no_grad():
        images = edm_euler(student, float(grid[0]) * torch.randn(4, 1, 8, 8), grid)
    assert images.shape == (4, 1, 8, 8) and images.abs().max().item() <= 1.0


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: fsd.digit_distillation_grid(3), ValueError, "^n_steps: expected a power of two"),
    (lambda: fsd.digit_distillation_grid(128), ValueError, "^n_steps"),
    (lambda: fsd.distilled_digits(6), ValueError, "^n_steps"),
    (lambda: fsd.distilled_digits(4, steps_per_round=0), ValueError, "^steps_per_round"),
    (lambda: fsd.distilled_digits(4, batch_size=1.5), TypeError, "^batch_size"),
    (lambda: fsd.distilled_digits(4, lr=0.0), ValueError, "^lr"),
    (lambda: fsd.distilled_digits(4, seed=-1), ValueError, "^seed"),
    (lambda: fsd.DigitDenoiser(clip=1), TypeError, "^clip"),
    (lambda: fsd.DigitDenoiser(channels=0), ValueError, "^channels"),
])
def test_bad_inputs(call, error, match: str) -> None:
    with pytest.raises(error, match=match):
        call()
