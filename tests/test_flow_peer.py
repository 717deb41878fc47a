"""Peer equivalence of chapter 16's flow-matching Euler sampler with diffusers' ``FlowMatchEulerDiscreteScheduler``,
float64, the same velocity, the same start, every intermediate state compared (the model of
tests/test_edm_peer.py).

How the conventions were matched:

- **Time is diffusers' sigma.** Both run from the noise at t = 1 to the data at t = 0 on x_t = (1 - t) x_0 + t eps;
  the scheduler's ``sigmas`` are the package's times, its ``timesteps`` are 1000 t (what it hands a network).
- **The shift** s t / (1 + (s - 1) t) of Stable Diffusion 3 is applied by both: the scheduler to the ``sigmas`` it
  is given, :func:`flow_grid` to its uniform times; the stored levels are compared first (float32 round-off), then
  the scheduler steps on the float64 levels, so the comparison tests the update rule, not the round-off.
- **The float32 cast.** ``step`` casts the state to float32 ("upcast"); the tests run it with ``torch.float32``
  standing for float64, as in tests/test_edm_peer.py.
"""

from __future__ import annotations

import contextlib
from unittest import mock

import pytest
import torch

from diffusion_edu.processes.flow_samplers import flow_euler, flow_grid
from diffusion_edu.processes.paths import RectifiedFlowPath

diffusers = pytest.importorskip("diffusers")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TOLERANCE = 1e-12
WEIGHT = torch.tensor([[0.9, -0.3, 0.2], [0.1, 0.8, -0.4], [-0.2, 0.5, 0.7]], dtype=torch.float64)


def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed smooth, time-dependent velocity in float64 (t of shape (N,))."""
    s = t.to(torch.float64)[:, None]
    return torch.tanh(x @ WEIGHT.T + 2 * s) - (1 - s) * x


@contextlib.contextmanager
def float64_step():
    with mock.patch.object(torch, "float32", torch.float64):
        yield


def peer(n_steps: int, shift: float) -> object:
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    uniform = [1.0 - i / n_steps for i in range(n_steps)]  # the scheduler appends the final 0 itself
    scheduler.set_timesteps(sigmas=uniform)
    return scheduler


@pytest.mark.parametrize("shift", [1.0, 3.0])
@pytest.mark.parametrize("n_steps", [1, 4, 10, 50])
def test_flow_grid_is_the_schedulers_sigmas(n_steps, shift):
    ours = torch.tensor(flow_grid(n_steps, shift), dtype=torch.float64)
    theirs = peer(n_steps, shift).sigmas.to(torch.float64)
    assert theirs.shape == ours.shape
    assert (theirs - ours).abs().max() < 1e-6  # float32 storage


@pytest.mark.parametrize("shift", [1.0, 3.0])
@pytest.mark.parametrize("n_steps", [1, 4, 10, 50])
def test_flow_euler_equals_flow_match_euler(n_steps, shift):
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(n_steps), dtype=torch.float64)
    grid = flow_grid(n_steps, shift)
    ours: list[torch.Tensor] = []
    flow_euler(velocity, x.clone(), grid, callback=lambda step: ours.append(step.x.clone()))

    scheduler = peer(n_steps, shift)
    scheduler.sigmas = torch.tensor(grid, dtype=torch.float64)  # the same levels, unrounded
    scheduler.timesteps = scheduler.sigmas[:-1] * 1000
    theirs, sample = [], x.clone()
    for timestep in scheduler.timesteps:
        t = torch.full((sample.shape[0],), float(timestep) / 1000, dtype=torch.float64)
        with float64_step():
            sample = scheduler.step(velocity(sample, t), timestep, sample).prev_sample
        theirs.append(sample.clone())
    assert len(ours) == len(theirs) == n_steps
    assert max((a - b).abs().max().item() for a, b in zip(ours, theirs, strict=True)) < TOLERANCE


@pytest.mark.parametrize("t", [0.0, 0.05, 0.5, 0.93, 1.0])
def test_scale_noise_is_the_rectified_flow_path(t):
    """diffusers' forward noising ``scale_noise`` is the package's path x_t = alpha_t x_0 + sigma_t eps."""
    x0, eps = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000)
    scheduler.set_timesteps(sigmas=[1.0, 0.93, 0.5, 0.05, 1e-9])
    scheduler.sigmas = torch.tensor([1.0, 0.93, 0.5, 0.05, 0.0, 0.0], dtype=torch.float64)
    scheduler.timesteps = scheduler.sigmas[:-1] * 1000
    timestep = torch.tensor([t * 1000], dtype=torch.float64)
    theirs = scheduler.scale_noise(x0, timestep, eps)
    path = RectifiedFlowPath()
    ours = path.alpha(t) * x0 + path.sigma(t) * eps
    assert (theirs - ours).abs().max() < TOLERANCE
