"""One test per class of failure found by probing the package with bad input (issue 16): each
reproduction now raises a clear error naming the argument, or gives the right answer."""

import math
import warnings

import pytest
import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core import runtime
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.cross_attention import tokenize
from diffusion_edu.nets.embeddings import TimestepEmbedding, sinusoidal_embedding
from diffusion_edu.nets.score import ScoreMLP
from diffusion_edu.nets.unet import UNet
from diffusion_edu.probability.em import fit_gmm
from diffusion_edu.probability.gaussian import normal_log_pdf
from diffusion_edu.processes import ddim, ddpm, guidance, langevin, sde, sde_samplers
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule, respace_at
from diffusion_edu.recipes import vae
from diffusion_edu.training.loop import (
    CorruptCheckpointError,
    NonFiniteLossError,
    cached_model,
    load_checkpoint,
    save_checkpoint,
    train,
)

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------------------------------
# 1. the training guard fires before the damage
# ---------------------------------------------------------------------------------------------


def test_nan_gradient_never_reaches_the_weights_or_the_ema():
    torch.manual_seed(0)
    m = nn.Linear(1, 1)
    good = [p.detach().clone() for p in m.parameters()]

    def loss_fn(model, batch):  # finite loss (sqrt(0) = 0), NaN gradient (d sqrt at 0)
        return model(batch).pow(2).mean() + torch.sqrt((model.weight - model.weight.detach()).abs().sum())

    with pytest.raises(NonFiniteLossError, match=r"gradient of parameter 'weight'.*at step 0") as info:
        train(m, loss_fn, lambda s: torch.ones(4, 1), 5, progress=False)
    error = info.value
    assert isinstance(error, RuntimeError) and error.step == 0 and "weight" in error.tensor
    for before, after, ema in zip(good, m.parameters(), error.result.ema_model.parameters(), strict=True):
        assert torch.equal(before, after) and torch.isfinite(ema).all()
    assert error.result.model is m and all(p.grad is None for p in m.parameters())


def test_nan_after_good_steps_keeps_the_last_good_weights():
    torch.manual_seed(0)
    m = nn.Linear(2, 1)
    snapshots = []

    def loss_fn(model, batch):
        snapshots.append([p.detach().clone() for p in model.parameters()])
        loss = model(batch).square().mean()
        return loss * NAN if len(snapshots) == 4 else loss

    with pytest.raises(NonFiniteLossError, match="loss became nan at step 3") as info:
        train(m, loss_fn, lambda s: torch.randn(8, 2), 10, progress=False)
    assert info.value.result.losses and len(info.value.result.losses) == 3
    for before, after in zip(snapshots[-1], m.parameters(), strict=True):
        assert torch.equal(before, after)
    assert all(torch.isfinite(p).all() for p in info.value.result.ema_model.parameters())


def test_train_obscure_inputs_get_clear_errors():
    m = nn.Linear(2, 1)
    mse = lambda model, b: model(b).square().mean()  # noqa: E731
    with pytest.raises(TypeError, match="batches: expected an iterator.*got list"):
        train(m, mse, [torch.ones(4, 2)] * 3, 3, progress=False)
    with pytest.raises(ValueError, match="batches: the iterator ran out after 2 batches"):
        train(m, mse, iter([torch.ones(4, 2)] * 2), 3, progress=False)
    with pytest.raises(ValueError, match=r"loss_fn: expected a scalar loss.*shape \(4, 1\)"):
        train(m, lambda model, b: model(b).square(), lambda s: torch.ones(4, 2), 3, progress=False)
    with pytest.raises(ValueError, match=r"batches: expected a non-empty batch at step 0.*\(0, 2\)"):
        train(m, mse, lambda s: torch.ones(0, 2), 3, progress=False)
    with pytest.raises(ValueError, match="loss_fn: expected a loss that depends"):
        train(m, lambda model, b: torch.tensor(1.0), lambda s: torch.ones(4, 2), 3, progress=False)
    with pytest.raises(ValueError, match="ema_decay"):
        train(m, mse, lambda s: torch.ones(4, 2), 3, ema_decay=NAN, progress=False)
    with pytest.raises(ValueError, match="lr"):
        train(m, mse, lambda s: torch.ones(4, 2), 3, lr=INF, progress=False)


# ---------------------------------------------------------------------------------------------
# 2 and 7. the model cache
# ---------------------------------------------------------------------------------------------


class Width(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        if width > 100:
            raise ValueError("width: too wide")
        self.width = width
        self.net = nn.Linear(2, width)

    def forward(self, x):
        return self.net(x)


def _fit(model):
    return train(model, lambda m, b: m(b).square().mean(), lambda s: torch.randn(4, 2), 2, progress=False)


def test_cached_model_compares_the_stored_config(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    small, _ = cached_model("w", Width, {"width": 8}, _fit)
    wide_path = next((tmp_path / "models").iterdir())
    _, _ = cached_model("w", Width, {"width": 32}, _fit)
    target = [p for p in (tmp_path / "models").iterdir() if p != wide_path][0]
    target.write_bytes(wide_path.read_bytes())  # a width-8 file under the width-32 key
    with pytest.warns(RuntimeWarning, match="rebuilding.*config"):
        model, info = cached_model("w", Width, {"width": 32}, _fit)
    assert model.width == 32 and info["trained_now"]


def test_corrupt_cache_file_warns_and_a_valid_file_survives_a_constructor_error(tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    cached_model("w", Width, {"width": 8}, _fit)
    path = next((tmp_path / "models").iterdir())
    path.write_bytes(path.read_bytes()[:50])  # truncated
    with pytest.warns(RuntimeWarning, match="rebuilding.*not a readable checkpoint"):
        _, info = cached_model("w", Width, {"width": 8}, _fit)
    assert info["trained_now"]
    valid = path.read_bytes()

    def failing_fit(model):
        raise RuntimeError("training crashed")

    monkeypatch.setattr(Width, "__init__", lambda self, width=8: (_ for _ in ()).throw(ValueError("constructor")))
    with pytest.raises(ValueError, match="constructor"):
        cached_model("w", Width, {"width": 8}, failing_fit)
    assert path.read_bytes() == valid  # never deleted because of a later error


def test_load_checkpoint_on_a_truncated_file_names_it(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, Width(4), {"width": 4})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CorruptCheckpointError, match=r"m\.pt: not a readable checkpoint") as info:
        load_checkpoint(path, Width)
    assert isinstance(info.value, ValueError)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", Width)


def test_stale_temporary_files_are_cleaned(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv(runtime.CACHE_ENV, str(tmp_path))
    folder = tmp_path / "models"
    folder.mkdir()
    stale, fresh = folder / "x.pt.123.abcd.tmp", folder / "y.pt.456.ef01.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"in progress")
    os.utime(stale, (1, 1))
    cached_model("w", Width, {"width": 8}, _fit)
    assert not stale.exists() and fresh.exists()  # a live writer's file is left alone


# ---------------------------------------------------------------------------------------------
# 3. model outputs of the wrong shape never broadcast
# ---------------------------------------------------------------------------------------------


def test_wrong_model_output_shape_is_an_error():
    s = linear_schedule(50)
    x = torch.randn(8, 2)
    bad = lambda x, t: x.sum(1, keepdim=True)  # noqa: E731
    with pytest.raises(ValueError, match=r"model: expected model\(x, t\) to return shape \(8, 2\)"):
        ddpm.eps_loss(bad, x, s)
    with pytest.raises(ValueError, match="model: expected"):
        ddpm.ddpm_sample(bad, x, sub_grid(50, 50), schedule=s)
    with pytest.raises(ValueError, match="model: expected"):
        ddim.ddim_sample(bad, x, sub_grid(50, 5), schedule=s)
    with pytest.raises(ValueError, match=r"score: expected score\(x\) to return shape"):
        langevin.langevin(lambda x: x.sum(1, keepdim=True), x, [0.1] * 3)
    with pytest.raises(ValueError, match="score: expected"):
        langevin.annealed_langevin(lambda x, s: x[:, :1], x, [1.0, 0.5], step_size=0.01, steps_per_level=2)
    with pytest.raises(ValueError, match="score: expected"):
        sde_samplers.euler_maruyama(lambda x, t: x[:, :1], x, time_grid(3), sde=sde.VPSDE())
    with pytest.raises(TypeError, match="model: expected model.*to return a tensor"):
        ddpm.ddpm_sample(lambda x, t: None, x, sub_grid(50, 50), schedule=s)


def test_a_model_returning_nan_is_named():
    s = linear_schedule(10)
    with pytest.raises(ValueError, match="model: expected finite outputs"):
        ddpm.ddpm_sample(lambda x, t: torch.full_like(x, NAN), torch.randn(4, 2), sub_grid(10, 10), schedule=s)
    with pytest.raises(ValueError, match="score: expected finite outputs"):
        sde_samplers.probability_flow(lambda x, t: torch.full_like(x, NAN), torch.randn(4, 2), time_grid(2),
                                      sde=sde.VPSDE())


# ---------------------------------------------------------------------------------------------
# 4. slerp
# ---------------------------------------------------------------------------------------------


def test_slerp_equal_zero_and_opposite_latents():
    z = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ddim.slerp(z, z, 0.5), z)
    zero = ddim.slerp(torch.zeros_like(z), z, 0.25)
    torch.testing.assert_close(zero, 0.25 * z)
    for w in (0.0, 0.3, 0.5, 1.0):
        out = ddim.slerp(z, -z, w)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out.flatten(1).norm(dim=1), z.flatten(1).norm(dim=1))
    torch.testing.assert_close(ddim.slerp(z, -z, 0.0), z)
    torch.testing.assert_close(ddim.slerp(z, -z, 1.0), -z)
    half = ddim.slerp(z, -z, 0.5).flatten(1)
    assert (half * z.flatten(1)).sum(1).abs().max() < 1e-4  # a quarter turn: orthogonal to z
    with pytest.raises(ValueError, match="weight"):
        ddim.slerp(z, z, NAN)


# ---------------------------------------------------------------------------------------------
# 5. integer tensors are promoted, never truncated
# ---------------------------------------------------------------------------------------------


def test_integer_tensors_are_promoted():
    s = linear_schedule(10)
    out = ddpm.q_sample(torch.tensor([[3, 3]]), torch.tensor([0]), torch.zeros(1, 2), s)
    torch.testing.assert_close(out, math.sqrt(float(s.alpha_bar[0])) * torch.full((1, 2), 3.0))
    expected = normal_log_pdf(torch.tensor([0.0, 1.0]), 0.0, 0.5)
    torch.testing.assert_close(normal_log_pdf(torch.tensor([0, 1]), 0.0, 0.5), expected)
    assert torch.isfinite(expected).all()
    with pytest.raises(TypeError, match="x0: expected a real-valued tensor"):
        ddpm.q_sample(torch.tensor([[True, False]]), torch.tensor([0]), torch.zeros(1, 2), s)


# ---------------------------------------------------------------------------------------------
# 6. NaN and inf never pass a scalar check
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, name", [
    (lambda: ddim.ddim_sample(lambda x, t: x, torch.zeros(2, 2), sub_grid(10, 10), schedule=linear_schedule(10),
                              eta=NAN), "eta"),
    (lambda: linear_schedule(10, beta_start=NAN), "beta_start"),
    (lambda: cosine_schedule(s=-1.0), "s"),
    (lambda: vae.vae_loss(0.1, beta=NAN), "beta"),
    (lambda: langevin.annealed_langevin(lambda x, s: x, torch.zeros(2, 2), [1, NAN], step_size=0.1,
                                        steps_per_level=2), "grid"),
    (lambda: data.eight_gaussians().score(torch.zeros(2, 2), noise_std=NAN), "noise_std"),
    (lambda: data.eight_gaussians().score(torch.zeros(2, 2), scale=INF), "scale"),
    (lambda: langevin.langevin(lambda x: x, torch.zeros(2, 2), [INF] * 2), "grid"),
    (lambda: guidance.classifier_free_eps(torch.zeros(2), torch.zeros(2), NAN), "w"),
    (lambda: sde.VESDE(sigma=INF), "sigma"),
    (lambda: ddim.ddim_sigma(0.5, 0.9, NAN), "eta"),
])
def test_nan_and_inf_scalars_are_rejected(call, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name}:"):
        call()


def test_ddim_sigma_out_of_domain():
    with pytest.raises(ValueError, match="alpha_bar_prev: expected a level >= alpha_bar"):
        ddim.ddim_sigma(0.9, 0.5, 1.0)
    with pytest.raises(ValueError, match="alpha_bar: expected a number in"):
        ddim.ddim_sigma(1.0, 1.0, 1.0)
    assert ddim.ddim_sigma(0.5, 0.9, 0.0) == 0.0


# ---------------------------------------------------------------------------------------------
# 8. environment variables
# ---------------------------------------------------------------------------------------------


def test_device_that_is_not_available_is_an_error(monkeypatch):
    monkeypatch.delenv(runtime.BUDGET_ENV, raising=False)
    if not torch.cuda.is_available():
        monkeypatch.setenv(runtime.DEVICE_ENV, "cuda")
        with pytest.raises(ValueError, match=r"\$DIFFUSION_EDU_DEVICE: expected an available device, got 'cuda'"):
            runtime.device()
        with pytest.raises(ValueError, match="DIFFUSION_EDU_DEVICE"):
            runtime.budget()
    monkeypatch.setenv(runtime.DEVICE_ENV, "cuda:99")
    with pytest.raises(ValueError, match="DIFFUSION_EDU_DEVICE"):
        runtime.device()


def test_environment_variables_are_named(monkeypatch):
    monkeypatch.setenv(runtime.THREADS_ENV, "two")
    with pytest.raises(ValueError, match=r"\$DIFFUSION_EDU_THREADS: expected a whole number.*'two'"):
        runtime.set_threads()
    monkeypatch.setenv(runtime.BUDGET_ENV, "tpu")
    with pytest.raises(ValueError, match=r"\$DIFFUSION_EDU_BUDGET: expected one of"):
        runtime.budget()


# ---------------------------------------------------------------------------------------------
# 9. step indices
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [torch.tensor([-1, 0]), torch.tensor([10, 0]), torch.tensor([0.0, 1.0])])
def test_step_indices_are_checked_everywhere(t):
    s = linear_schedule(10)
    x, other = torch.zeros(2, 2), torch.zeros(2, 2)
    for fn in (ddpm.x0_from_eps, ddpm.eps_from_x0, ddpm.v_from_eps, ddpm.eps_from_v, ddpm.q_step):
        with pytest.raises(ValueError, match="^t: expected"):
            fn(x, t, other, s)
    with pytest.raises(ValueError, match="^t: expected"):
        ddpm.posterior(x, other, t, s)
    ring = data.eight_gaussians()
    with pytest.raises(ValueError, match="^t: expected"):
        ddpm.exact_eps_model(ring, s)(x, t)
    with pytest.raises(ValueError, match="^t: expected"):
        guidance.exact_classifier(ring, torch.arange(8) % 2, s)(x, t)


def test_respace_at_rejects_negative_and_unsorted_indices():
    s = linear_schedule(10)
    with pytest.raises(ValueError, match=r"kept: expected step indices in \[0, 9\]"):
        respace_at(s, torch.tensor([-1]))
    with pytest.raises(ValueError, match="kept: expected strictly increasing"):
        respace_at(s, torch.tensor([5, 2]))


# ---------------------------------------------------------------------------------------------
# 10. digit metrics
# ---------------------------------------------------------------------------------------------


def test_digit_metrics_check_inputs_before_training(monkeypatch):
    def no_training():
        raise AssertionError("the classifier must not be built for a bad call")

    monkeypatch.setattr(metrics, "digit_classifier", no_training)
    monkeypatch.setattr(metrics, "digit_floor", no_training)
    imgs = torch.rand(10, 1, 8, 8) * 2 - 1
    for n in (0, 1):
        with pytest.raises(ValueError, match="samples: expected at least 2 image"):
            metrics.evaluate_digits(imgs[:n])
    for scale in (1.0, 16.0):  # images in [0, 1] or [0, 16]
        with pytest.raises(ValueError, match=r"samples: expected pixels in \[-1, 1\]"):
            metrics.evaluate_digits(torch.rand(10, 1, 8, 8) * scale)
    with pytest.raises(ValueError, match=r"labels: expected an integer tensor of shape \(10,\)"):
        metrics.digit_accuracy(imgs, torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="samples: expected shape"):
        metrics.evaluate_digits(torch.rand(10, 8, 8))
    with pytest.raises(ValueError, match="features_a: expected at least 2 rows"):
        metrics.frechet_distance(torch.zeros(1, 4), torch.zeros(5, 4))


# ---------------------------------------------------------------------------------------------
# the rest of the list
# ---------------------------------------------------------------------------------------------


def test_fit_gmm_on_identical_points():
    fit = fit_gmm(torch.ones(20, 2), 3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(fit.means).all()
    torch.testing.assert_close(fit.means, torch.ones(3, 2, dtype=fit.means.dtype), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="reg_covar"):
        fit_gmm(torch.ones(20, 2), 2, reg_covar=0.0, generator=torch.Generator().manual_seed(0))


def test_tokenize_needs_a_list_of_words():
    with pytest.raises(TypeError, match=r"words: expected a list or tuple of words, got str; pass \['seven'\]"):
        tokenize("seven")
    assert tokenize(["seven"]).shape == (1, 5)


def test_odd_embedding_sizes_are_errors_not_a_dropped_feature():
    with pytest.raises(ValueError, match="dim: expected an even number"):
        sinusoidal_embedding(torch.arange(3), 7)
    with pytest.raises(ValueError, match="frequency_dim: expected an even number"):
        TimestepEmbedding(16, frequency_dim=9)
    with pytest.raises(ValueError, match="width: expected an even number"):
        ScoreMLP(width=33)
    assert UNet(channels=12)(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1])).shape == (2, 1, 8, 8)


def test_no_warning_on_good_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = linear_schedule(20)
        ddim.ddim_sample(lambda x, t: torch.zeros_like(x), torch.randn(3, 2), sub_grid(20, 4), schedule=s)
