"""Peer equivalence of chapter 17's samplers with diffusers, float64, the same model, the same start and the same
noise, every intermediate state compared (the model of tests/test_peer_equivalence.py).

How the conventions were matched:

- **One denoiser.** A smooth float64 denoiser D(x, sigma) stands in for a network. diffusers' Euler, Heun and
  DPM-Solver schedulers take an eps prediction (``prediction_type="epsilon"``); they are given
  eps = (x - D(x, sigma)) / sigma at the state and level they step from, which they turn back into D.
- **Float64 levels.** diffusers computes its sigmas in float64 and stores them in float32; each test first checks
  that the stored levels are the package's :func:`karras_sigmas` to float32 round-off, then hands the scheduler the
  float64 levels, so the comparison tests the update rules, not the round-off.
- **The float32 cast.** ``EulerDiscreteScheduler``, ``EDMEulerScheduler`` and ``DPMSolverMultistepScheduler`` cast
  the state to float32 inside ``step`` ("upcast"); the tests run ``step`` with ``torch.float32`` standing for
  float64 (:func:`float64_step`), and :func:`test_the_float32_cast_is_what_differs` shows the cast alone costs ~1e-6.
- **The last step** goes to sigma = 0 (``final_sigmas_type="zero"``): Heun takes no correction there (EDM
  Algorithm 1; diffusers' last call is first order), and DPM-Solver++ returns D (the limit of its update for
  h -> infinity; diffusers takes a first-order last step whenever the final sigma is 0).
- **Grids from a DDPM schedule.** With ``use_karras_sigmas=True`` and ``timestep_spacing="linspace"``, diffusers'
  sigma_max and sigma_min are those of the training schedule's last and first step,
  sqrt((1 - alpha_bar) / alpha_bar); the model is called at a *timestep* found from sigma by interpolating
  log sigma (fractional for Euler and Heun, rounded for DPM-Solver): here the denoiser takes sigma itself, so only
  the grid and the update are compared; :func:`test_sigma_to_t_matches` checks the timestep map separately.
- **Scales.** Euler and Heun keep the state in EDM's scale x = y + sigma n (they divide the model's *input* by
  sqrt(1 + sigma^2)); DPM-Solver keeps the DDPM scale x / sqrt(1 + sigma^2); the test rescales the peer's states.
"""

from __future__ import annotations

import contextlib
import math
from unittest import mock

import numpy as np
import pytest
import torch

from diffusion_edu.processes import edm
from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun, edm_stochastic
from diffusion_edu.processes.schedules import linear_schedule

diffusers = pytest.importorskip("diffusers")
# diffusers builds its sigmas with np.array(tensor) (a NumPy 2 copy-keyword notice, not about the numbers)
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

TOLERANCE = 1e-10
SHAPE = (6, 3)
SCHEDULE = linear_schedule(1000)
WEIGHT = torch.tensor([[0.9, -0.3, 0.2], [0.1, 0.8, -0.4], [-0.2, 0.5, 0.7]], dtype=torch.float64)


def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A fixed smooth denoiser in float64: D -> x as sigma -> 0, and |D| <= 1.5 + |x| / (1 + sigma^2)."""
    s = sigma.to(torch.float64)[:, None]
    return x / (1 + s**2) + 1.5 * torch.tanh(x @ WEIGHT.T / (1 + s) + 0.1 * s.log1p()) * s**2 / (1 + s**2)


def network(x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
    """A fixed smooth network F(c_in x, c_noise) for the preconditioned (EDMEulerScheduler) case."""
    return torch.tanh(x_in @ WEIGHT.T + c_noise.to(torch.float64)[:, None])


@contextlib.contextmanager
def float64_step():
    """Run a diffusers ``step`` with its float32 upcast of the state made a float64 one (see the module doc)."""
    with mock.patch.object(torch, "float32", torch.float64):
        yield


def start(seed: int, scale: float) -> torch.Tensor:
    return scale * torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def sigma_range() -> tuple[float, float]:
    sigmas = edm.schedule_sigmas(SCHEDULE)
    return float(sigmas[0]), float(sigmas[-1])


def exact_schedule(peer: object) -> None:
    peer.alphas_cumprod = SCHEDULE.alpha_bar.clone()


def ours_states(sampler, model, x, grid, **options) -> list[torch.Tensor]:
    states: list[torch.Tensor] = []
    sampler(model, x.clone(), grid, callback=lambda step: states.append(step.x.clone()), **options)
    return states


def max_difference(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> float:
    if len(ours) != len(theirs):
        raise AssertionError(f"{len(ours)} intermediate states against the peer's {len(theirs)}")
    return max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))


def eps_for(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return (x - denoiser(x, torch.full((x.shape[0],), sigma, dtype=torch.float64))) / sigma


@pytest.mark.parametrize("n_steps", [5, 10, 20, 50])
def test_euler_karras_equals_euler_discrete(n_steps: int) -> None:
    peer = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                            use_karras_sigmas=True, timestep_spacing="linspace")
    exact_schedule(peer)
    peer.set_timesteps(n_steps)
    grid = edm.karras_sigmas(n_steps, *sigma_range())
    torch.testing.assert_close(peer.sigmas.double(), grid, rtol=1e-6, atol=0)  # float32 round-off only
    peer.sigmas = grid.clone()
    peer.is_scale_input_called = True  # the denoiser takes x and sigma, not diffusers' scaled input
    x0 = start(1, math.sqrt(1 + float(grid[0]) ** 2))  # diffusers' init_noise_sigma
    theirs, x = [], x0.clone()
    for i, t in enumerate(peer.timesteps):
        with float64_step():
            x = peer.step(eps_for(x, float(grid[i])), t, x).prev_sample
        theirs.append(x)
    assert max_difference(ours_states(edm_euler, denoiser, x0, grid), theirs) < TOLERANCE


@pytest.mark.parametrize("n_steps", [5, 10, 20, 50])
def test_heun_equals_heun_discrete(n_steps: int) -> None:
    """diffusers calls ``step`` 2N - 1 times (an Euler predictor, then its correction); the states after each
    completed Heun step (odd calls) and after the last, first-order call to sigma = 0 are compared."""
    peer = diffusers.HeunDiscreteScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                           use_karras_sigmas=True, timestep_spacing="linspace")
    exact_schedule(peer)
    peer.set_timesteps(n_steps)
    grid = edm.karras_sigmas(n_steps, *sigma_range())
    doubled = torch.cat([grid[:1], grid[1:-1].repeat_interleave(2), grid[-1:]])
    torch.testing.assert_close(peer.sigmas.double(), doubled, rtol=1e-6, atol=0)
    peer.sigmas = doubled.clone()
    x0 = start(2, math.sqrt(1 + float(grid[0]) ** 2))
    calls, x = [], x0.clone()
    for i, t in enumerate(peer.timesteps):
        x = peer.step(eps_for(x, float(doubled[i])), t, x).prev_sample  # no float32 cast in Heun's step
        calls.append(x)
    assert len(calls) == 2 * n_steps - 1
    theirs = calls[1::2] + calls[-1:]
    assert max_difference(ours_states(edm_heun, denoiser, x0, grid), theirs) < TOLERANCE


@pytest.mark.parametrize("n_steps", [5, 10, 20, 50])
def test_dpm_solver_pp_2m_equals_dpm_solver_multistep(n_steps: int) -> None:
    peer = diffusers.DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                                 algorithm_type="dpmsolver++", solver_order=2,
                                                 use_karras_sigmas=True, timestep_spacing="linspace")
    exact_schedule(peer)
    peer.set_timesteps(n_steps)
    grid = edm.karras_sigmas(n_steps, *sigma_range())
    torch.testing.assert_close(peer.sigmas.double(), grid, rtol=1e-6, atol=0)
    peer.sigmas = grid.clone()
    x0 = start(3, math.sqrt(1 + float(grid[0]) ** 2))
    theirs, x_vp = [], x0 / math.sqrt(1 + float(grid[0]) ** 2)  # the peer's state is x / sqrt(1 + sigma^2)
    for i, t in enumerate(peer.timesteps):
        scale = math.sqrt(1 + float(grid[i]) ** 2)
        with float64_step():
            x_vp = peer.step(eps_for(x_vp * scale, float(grid[i])), t, x_vp).prev_sample
        theirs.append(x_vp * math.sqrt(1 + float(grid[i + 1]) ** 2))
    assert max_difference(ours_states(dpm_solver_pp_2m, denoiser, x0, grid), theirs) < TOLERANCE


@pytest.mark.parametrize("n_steps", [5, 18, 50])
@pytest.mark.parametrize("s_churn", [0.0, 40.0])
def test_preconditioned_euler_equals_edm_euler(n_steps: int, s_churn: float) -> None:
    """EDMEulerScheduler: EDM's own grid (sigma_min 0.002, sigma_max 80, rho 7), its preconditioning (c_in, c_noise
    on the way in, c_skip, c_out on the way out, sigma_data 0.5) around one network, and churn (EDM Algorithm 2 with
    Euler steps: ``second_order=False``); the noise it adds is the same draws.

    One convention differs: diffusers' pipelines evaluate the network *before* ``step`` adds the churn noise (at x_i
    and sigma_i), while Algorithm 2 evaluates it after (at x_hat and sigma_hat). The test feeds the peer the network
    output at (x_hat, sigma_hat), reading the churn noise from a copy of the peer's generator, so both run
    Algorithm 2; with s_churn = 0 the two conventions coincide."""
    peer = diffusers.EDMEulerScheduler(sigma_data=0.5, prediction_type="epsilon")
    peer.set_timesteps(n_steps)
    grid = edm.karras_sigmas(n_steps)
    torch.testing.assert_close(peer.sigmas.double(), grid, rtol=1e-6, atol=0)
    peer.sigmas = grid.clone()
    peer.is_scale_input_called = True  # the network's input is formed below, at sigma_hat (Algorithm 2)
    x0 = start(4, float(grid[0]))
    theirs, x = [], x0.clone()
    peer_noise = torch.Generator().manual_seed(11)
    for i, t in enumerate(peer.timesteps):
        sigma = float(grid[i])
        gamma = min(s_churn / n_steps, math.sqrt(2) - 1) if s_churn else 0.0
        sigma_hat = torch.tensor(sigma * (1 + gamma), dtype=torch.float64)
        noise_state = peer_noise.get_state()
        x_hat = x + math.sqrt(float(sigma_hat) ** 2 - sigma**2) * torch.randn(
            SHAPE, generator=torch.Generator().set_state(noise_state), dtype=torch.float64) if gamma else x
        c = edm.preconditioning(sigma_hat, 0.5)  # the peer evaluates at sigma_hat; its own precondition_* agree:
        torch.testing.assert_close(peer.precondition_inputs(x_hat, sigma_hat), c["c_in"] * x_hat, rtol=1e-15, atol=0)
        output = network(c["c_in"] * x_hat, c["c_noise"].expand(SHAPE[0]))
        with float64_step():
            x = peer.step(output, t, x, s_churn=s_churn, generator=peer_noise).prev_sample
        theirs.append(x)

    def ours_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return edm.precondition(network, x, sigma, 0.5)

    our_noise = torch.Generator().manual_seed(11)
    ours = ours_states(edm_stochastic, ours_denoiser, x0, grid, s_churn=s_churn, second_order=False,
                       noise_sampler=lambda like: torch.randn(like.shape, generator=our_noise, dtype=like.dtype))
    assert max_difference(ours, theirs) < TOLERANCE


def test_preconditioning_equals_edm_euler() -> None:
    """c_skip, c_out (eps convention: D = c_skip x + c_out F), c_in and c_noise against EDMEulerScheduler's own."""
    peer = diffusers.EDMEulerScheduler(sigma_data=0.5, prediction_type="epsilon")
    sigma = torch.tensor([0.002, 0.1, 0.5, 1.0, 7.0, 80.0], dtype=torch.float64)
    c = edm.preconditioning(sigma, 0.5)
    torch.testing.assert_close(peer.precondition_noise(sigma), c["c_noise"], rtol=1e-15, atol=0)
    x, f = torch.ones(6, dtype=torch.float64), torch.zeros(6, dtype=torch.float64)
    torch.testing.assert_close(peer.precondition_outputs(x, f, sigma), c["c_skip"], rtol=1e-15, atol=0)
    torch.testing.assert_close(peer.precondition_outputs(0 * x, x, sigma), c["c_out"], rtol=1e-15, atol=0)
    torch.testing.assert_close(peer.precondition_inputs(x, sigma), c["c_in"], rtol=1e-15, atol=0)


def test_sigma_to_t_matches() -> None:
    """The timestep a DDPM model is called at for a Karras level: the package's log-sigma interpolation equals
    diffusers' (fractional in Euler and Heun; DPM-Solver rounds it, the package's ``quantize``)."""
    peer = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                            use_karras_sigmas=True, timestep_spacing="linspace")
    exact_schedule(peer)
    peer.set_timesteps(20)
    grid = edm.karras_sigmas(20, *sigma_range(), append_zero=False)
    log_sigmas = np.log(edm.schedule_sigmas(SCHEDULE).numpy())
    theirs = np.array([peer._sigma_to_t(s, log_sigmas) for s in grid.numpy()])
    np.testing.assert_allclose(edm.sigma_to_t(grid, SCHEDULE).numpy(), theirs, rtol=0, atol=1e-9)


def test_the_float32_cast_is_what_differs() -> None:
    """Without :func:`float64_step` the peer's Euler runs its update in float32: the same run then differs by far
    more than the tolerance (so the tolerance is not vacuous), and by no more than float32 round-off."""
    peer = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="linear",
                                            use_karras_sigmas=True, timestep_spacing="linspace")
    exact_schedule(peer)
    peer.set_timesteps(10)
    grid = edm.karras_sigmas(10, *sigma_range())
    peer.sigmas = grid.clone()
    peer.is_scale_input_called = True
    x0 = start(5, math.sqrt(1 + float(grid[0]) ** 2))
    x = x0.clone()
    for i, t in enumerate(peer.timesteps):
        x = peer.step(eps_for(x, float(grid[i])), t, x).prev_sample
    ours = edm_euler(denoiser, x0.clone(), grid)
    difference = float((ours - x).abs().max())
    assert 1e3 * TOLERANCE < difference < 1e-4
