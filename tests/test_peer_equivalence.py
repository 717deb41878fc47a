"""Peer equivalence (smalldiffusion's ``test_DDIM_equivalence`` is the model): the package's DDIM and DDPM
samplers against diffusers' ``DDIMScheduler`` and ``DDPMScheduler``, in float64, on the same model, the same
starting point and the same noise, every intermediate state compared.

diffusers keeps its schedule in float32; both schedulers get the package's float64 ``alphas_cumprod`` (and
betas) instead, so the comparison tests the update rules, not float32 round-off. A smooth float64 model
stands in for a network: the samplers only ever see its outputs.
"""

from __future__ import annotations

import pytest
import torch

from diffusion_edu.processes import ddim, ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import Schedule, cosine_schedule, linear_schedule

diffusers = pytest.importorskip("diffusers")

T = 1000
TOLERANCE = 1e-10
SHAPE = (6, 3)  # 6 samples of dimension 3


def smooth_model(schedule: Schedule):
    """A fixed nonlinear eps-model in float64 whose implied x_0 = 1.5 tanh(W x + t / T) stays in [-1.5, 1.5],
    so the states stay O(1) over 1000 steps as a trained denoiser's do, and clipping x_0 at 1 bites."""
    weight = torch.tensor([[0.9, -0.3, 0.2], [0.1, 0.8, -0.4], [-0.2, 0.5, 0.7]], dtype=torch.float64)

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        alpha_bar = schedule.alpha_bar[t][:, None]
        x0 = 1.5 * torch.tanh(x @ weight.T + t.to(torch.float64)[:, None] / T)
        return (x - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()

    return model


def use_exact_schedule(peer: object, schedule: Schedule) -> None:
    """Replace the peer's float32 schedule tensors by the package's float64 ones."""
    peer.betas = schedule.betas.clone()
    peer.alphas = schedule.alphas.clone()
    peer.alphas_cumprod = schedule.alpha_bar.clone()


def start(seed: int) -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def states_of_sampler(run) -> list[torch.Tensor]:
    states: list[torch.Tensor] = []
    run(lambda step: states.append(step.x.clone()))
    return states


def max_difference(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    if len(ours) != len(theirs):
        raise AssertionError(f"{len(ours)} intermediate states against the peer's {len(theirs)}")
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))


DDIM_CASES = [(eta, n, spacing, clip) for eta in (0.0, 1.0) for n in (10, 20, 50, 100)
              for spacing in ("leading", "trailing") for clip in (False, True)]


@pytest.mark.parametrize(("eta", "n_steps", "spacing", "clip"), DDIM_CASES)
def test_ddim_equals_diffusers(eta: float, n_steps: int, spacing: str, clip: bool) -> None:
    schedule = linear_schedule(T)
    peer = diffusers.DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", set_alpha_to_one=True,
                                   steps_offset=0, timestep_spacing=spacing, clip_sample=clip,
                                   clip_sample_range=1.0)
    use_exact_schedule(peer, schedule)
    peer.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    peer.set_timesteps(n_steps)
    grid = sub_grid(T, n_steps, spacing)
    assert torch.equal(peer.timesteps, grid), (peer.timesteps, grid)  # the same visits, in the same order

    x_T = start(1)
    noises = [torch.randn(SHAPE, generator=torch.Generator().manual_seed(100 + i), dtype=torch.float64)
              for i in range(n_steps)]
    model = smooth_model(schedule)
    theirs, x = [], x_T.clone()
    for i, step in enumerate(peer.timesteps):
        t = torch.full((SHAPE[0],), int(step), dtype=torch.long)
        x = peer.step(model(x, t), int(step), x, eta=eta, use_clipped_model_output=True,
                      variance_noise=noises[i] if eta > 0 else None).prev_sample
        theirs.append(x)

    queue = iter(noises)
    ours = states_of_sampler(lambda callback: ddim.ddim_sample(
        model, x_T.clone(), grid, schedule=schedule, eta=eta, clip_x0=1.0 if clip else None,
        callback=callback, noise_sampler=lambda like: next(queue)))
    assert max_difference(ours, theirs) < TOLERANCE


@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["posterior", "beta"])
@pytest.mark.parametrize("clip", [False, True])
def test_ddpm_full_loop_equals_diffusers(schedule_name: str, variance: str, clip: bool) -> None:
    schedule = linear_schedule(T) if schedule_name == "linear" else cosine_schedule(T)
    peer = diffusers.DDPMScheduler(num_train_timesteps=T, variance_type="fixed_small" if variance == "posterior"
                                   else "fixed_large", clip_sample=clip, clip_sample_range=1.0)
    use_exact_schedule(peer, schedule)
    peer.set_timesteps(T)
    assert torch.equal(peer.timesteps, sub_grid(T, T))

    x_T = start(2)
    peer_noise = torch.Generator().manual_seed(7)
    model = smooth_model(schedule)
    theirs, x = [], x_T.clone()
    for step in peer.timesteps:
        t = torch.full((SHAPE[0],), int(step), dtype=torch.long)
        x = peer.step(model(x, t), int(step), x, generator=peer_noise).prev_sample
        theirs.append(x)

    our_noise = torch.Generator().manual_seed(7)  # diffusers draws randn(shape, generator, dtype=float64) per step
    ours = states_of_sampler(lambda callback: ddpm.ddpm_sample(
        model, x_T.clone(), sub_grid(T, T), schedule=schedule, variance=variance,
        clip_x0=1.0 if clip else None, callback=callback,
        noise_sampler=lambda like: torch.randn(like.shape, generator=our_noise, dtype=like.dtype)))
    assert max_difference(ours, theirs) < TOLERANCE


def test_clipping_bites() -> None:
    """The clipped cases test clipping: on this model, clipping x_0 at 1 changes the samples."""
    schedule = linear_schedule(T)
    model = smooth_model(schedule)
    clipped = ddim.ddim_sample(model, start(1), sub_grid(T, 20), schedule=schedule, clip_x0=1.0)
    unclipped = ddim.ddim_sample(model, start(1), sub_grid(T, 20), schedule=schedule)
    assert float((clipped - unclipped).abs().max()) > 0.1


def test_equivalence_is_sensitive() -> None:
    """The tolerance is not vacuous: with diffusers' own float32 schedule (one round-off of alpha_bar, ~1e-8
    relative) the same DDIM-50 run already differs from the package's by far more than the tolerance."""
    schedule = linear_schedule(T)
    peer = diffusers.DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", set_alpha_to_one=True,
                                   steps_offset=0, clip_sample=False)
    peer.set_timesteps(50)
    model = smooth_model(schedule)
    x = start(3)
    ours = ddim.ddim_sample(model, x.clone(), sub_grid(T, 50), schedule=schedule)
    for step in peer.timesteps:
        t = torch.full((SHAPE[0],), int(step), dtype=torch.long)
        x = peer.step(model(x, t), int(step), x).prev_sample
    assert float((ours - x).abs().max()) > 1e3 * TOLERANCE
