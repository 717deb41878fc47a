"""Every sampler of diffusion_edu.processes.samplers.SAMPLERS meets the sampler contract:
``name(model, x, grid, *, generator=None, callback=None, **options)``, one SamplerStep per update
with the right index and t, a seeded run is deterministic, a bad grid raises a ValueError naming it."""

from __future__ import annotations

import inspect

import pytest
import torch

from diffusion_edu.processes import ddpm
from diffusion_edu.processes.edm import karras_sigmas
from diffusion_edu.processes.flow_samplers import flow_grid
from diffusion_edu.processes.grids import sigma_grid, sub_grid, time_grid
from diffusion_edu.processes.samplers import SAMPLERS
from diffusion_edu.processes.sampling import SamplerStep
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule
from diffusion_edu.processes.sde import VESDE, VPSDE

SCHEDULE = linear_schedule(100)


def eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 0.5 * x + 0.01 * t[:, None].to(x.dtype)


def score_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return -x / (1 + t[:, None])


STEPS = sub_grid(100, 10, "linspace")
TIMES = time_grid(6)
SIGMAS = sigma_grid(5.0, 0.5, 4)
KARRAS = karras_sigmas(5, sigma_max=10.0).tolist()  # five levels, then 0
FLOW_TIMES = flow_grid(5)  # 1, 0.8, ..., 0


def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return x - 0.3 * t[:, None].to(x.dtype)


def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The exact denoiser E[x0 | x] for data N(0, I) seen at noise level sigma."""
    return x / (1 + torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1)) ** 2)
# name: (model, grid, options, number of updates, the grid entry of each update)
SETUPS = {
    "ddpm_sample": (eps_model, STEPS, {"schedule": SCHEDULE}, 10, STEPS.tolist()),
    "ddim_sample": (eps_model, STEPS, {"schedule": SCHEDULE, "eta": 0.5}, 10, STEPS.tolist()),
    "ddim_invert": (eps_model, STEPS.flip(0), {"schedule": SCHEDULE}, 10, STEPS.flip(0).tolist()),
    "euler_maruyama": (score_model, TIMES, {"sde": VPSDE()}, 6, TIMES[:-1]),
    "predictor_corrector": (score_model, TIMES, {"sde": VPSDE(), "n_corrector": 2}, 6, TIMES[:-1]),
    "probability_flow": (score_model, TIMES, {"sde": VESDE(), "method": "heun"}, 6, TIMES[:-1]),
    "langevin": (lambda x: -x, [0.1, 0.1, 0.05], {}, 3, [0.1, 0.1, 0.05]),
    "annealed_langevin": (lambda x, s: -x / (1 + s**2), SIGMAS, {"step_size": 0.01, "steps_per_level": 2}, 8,
                          [s for s in SIGMAS for _ in range(2)]),
    "edm_euler": (denoiser, KARRAS, {}, 5, KARRAS[:-1]),
    "edm_heun": (denoiser, KARRAS, {}, 5, KARRAS[:-1]),
    "edm_stochastic": (denoiser, KARRAS, {"s_churn": 2.0}, 5, KARRAS[:-1]),
    "dpm_solver_pp_2m": (denoiser, KARRAS, {}, 5, KARRAS[:-1]),
    "consistency_sample": (denoiser, KARRAS, {}, 5, KARRAS[:-1]),
    "flow_euler": (velocity, FLOW_TIMES, {}, 5, FLOW_TIMES[:-1]),
    "flow_heun": (velocity, FLOW_TIMES, {}, 5, FLOW_TIMES[:-1]),
    "flow_rk4": (velocity, FLOW_TIMES, {}, 5, FLOW_TIMES[:-1]),
}
STOCHASTIC = {"ddpm_sample", "ddim_sample", "euler_maruyama", "predictor_corrector", "langevin",
              "annealed_langevin", "edm_stochastic", "consistency_sample"}
# a grid of the right kind in the wrong order, one out of range, and an empty one
BAD_GRIDS = {
    "steps": ([3, 5, 1], [120, 50, 0], []),
    "increasing steps": ([5, 3, 1], [0, 50, 120], []),
    "times": ([0.5, 0.9, 0.1], [1.5, 0.5, 0.1], []),
    "levels": ([1.0, 2.0, 0.5], [2.0, 1.0, -0.5], []),
    "sigmas": ([1.0, 2.0, 0.0], [2.0, float("nan"), 0.0], []),
}
GRID_KIND = {"ddpm_sample": "steps", "ddim_sample": "steps", "ddim_invert": "increasing steps",
             "euler_maruyama": "times", "predictor_corrector": "times", "probability_flow": "times",
             "langevin": "levels", "annealed_langevin": "levels", "edm_euler": "sigmas", "edm_heun": "sigmas",
             "edm_stochastic": "sigmas", "dpm_solver_pp_2m": "sigmas", "consistency_sample": "sigmas",
             "flow_euler": "times", "flow_heun": "times", "flow_rk4": "times"}


def test_every_sampler_has_a_setup():
    assert set(SAMPLERS) == set(SETUPS) == set(GRID_KIND)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_signature(name):
    parameters = list(inspect.signature(SAMPLERS[name]).parameters.values())
    assert [p.name for p in parameters[:3]] == ["model", "x", "grid"] or [p.name for p in parameters[:3]] == [
        "score", "x", "grid"]
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters[:3])
    rest = {p.name: p for p in parameters[3:]}
    assert all(p.kind == p.KEYWORD_ONLY for p in rest.values()), name
    assert rest["generator"].default is None and rest["callback"].default is None


def _run(name, seed=0, **extra):
    model, grid, options, _, _ = SETUPS[name]
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(99))
    return SAMPLERS[name](model, x, grid, generator=torch.Generator().manual_seed(seed), **options, **extra)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_callback_once_per_update(name):
    steps: list[SamplerStep] = []
    out = _run(name, callback=steps.append)
    _, _, _, n_updates, times = SETUPS[name]
    assert all(isinstance(s, SamplerStep) for s in steps)
    assert [s.index for s in steps] == list(range(n_updates))
    assert [s.t for s in steps] == pytest.approx(times)
    assert torch.equal(steps[-1].x, out) or name == "annealed_langevin"  # its last move is the denoising step
    has_x0 = name not in ("langevin", "annealed_langevin")
    assert all((s.x0 is not None) == has_x0 for s in steps)
    with pytest.raises(AttributeError):
        steps[0].index = 5  # frozen


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_seeded_runs_are_deterministic(name):
    assert torch.equal(_run(name, seed=3), _run(name, seed=3))
    if name in STOCHASTIC:
        assert not torch.equal(_run(name, seed=3), _run(name, seed=4))


@pytest.mark.parametrize("name", sorted(STOCHASTIC))
def test_noise_sampler_replaces_the_generator(name):
    zeros = _run(name, noise_sampler=torch.zeros_like)
    assert torch.equal(zeros, _run(name, seed=5, noise_sampler=torch.zeros_like))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("which", range(3))
def test_bad_grid_names_grid(name, which):
    model, _, options, _, _ = SETUPS[name]
    grid = BAD_GRIDS[GRID_KIND[name]][which]
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match="^grid: expected"):
        SAMPLERS[name](model, x, grid, **options)


def test_ddpm_full_grid_and_sub_grid():
    """Every step is the schedule's own chain; a sub-grid is IDDPM's respaced chain (step for step the
    schedule's marginals at the kept steps)."""
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    full = ddpm.ddpm_sample(eps_model, x, torch.arange(100).flip(0), schedule=SCHEDULE,
                            generator=torch.Generator().manual_seed(1))
    assert torch.equal(full, ddpm.ddpm_sample(eps_model, x, sub_grid(100, 100), schedule=SCHEDULE,
                                              generator=torch.Generator().manual_seed(1)))
    chain = ddpm.chain_on_grid(SCHEDULE, STEPS.tolist())
    assert chain.T == 10
    assert torch.allclose(chain.alpha_bar, SCHEDULE.alpha_bar[STEPS.flip(0)], rtol=1e-12)


@pytest.mark.parametrize("schedule", [linear_schedule(1000), cosine_schedule(1000)], ids=["linear", "cosine"])
def test_ddpm_float32_posterior_tracks_float64(schedule):
    """Every coefficient is computed in float64 and then cast: near t = 0, where alpha_bar ~ 1, forming
    1 - alpha_bar after a cast to float32 drifted the cosine-schedule sampler ~6e-4 from its own float64
    run (the posterior mean's weight sqrt(alpha_bar_prev) beta / (1 - alpha_bar) is ~1 there)."""

    def exact_eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # data N(0, 0.5^2 I)
        alpha_bar = schedule.alpha_bar[t]
        return ((1 - alpha_bar).sqrt() / (0.25 * alpha_bar + 1 - alpha_bar)).to(x.dtype)[:, None] * x

    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1))
    runs = [ddpm.ddpm_sample(exact_eps, x.to(dtype), sub_grid(1000, 1000), schedule=schedule, clip_x0=10.0,
                             generator=torch.Generator().manual_seed(2)) for dtype in (torch.float32, torch.float64)]
    assert (runs[0].double() - runs[1]).abs().max() < 1e-5  # measured 1.5e-6 (linear), 3.4e-6 (cosine)
