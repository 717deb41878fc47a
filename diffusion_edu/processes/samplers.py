"""Every sampler of the package, by name: each follows the contract of
:mod:`diffusion_edu.processes.sampling`, ``name(model, x, grid, *, generator=None, callback=None,
**options)`` (tests/test_sampler_contract.py checks every entry)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.processes.consistency import consistency_sample
from diffusion_edu.processes.ddim import ddim_invert, ddim_sample
from diffusion_edu.processes.ddpm import ddpm_sample
from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun, edm_stochastic
from diffusion_edu.processes.flow_samplers import flow_euler, flow_heun, flow_rk4
from diffusion_edu.processes.langevin import annealed_langevin, langevin
from diffusion_edu.processes.sde_samplers import euler_maruyama, predictor_corrector, probability_flow

SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {
    "ddpm_sample": ddpm_sample,  # model(x_t, t) eps, grid: decreasing step indices, schedule=
    "ddim_sample": ddim_sample,  # as DDPM, plus eta=
    "ddim_invert": ddim_invert,  # an encoder: grid *increasing* step indices, x the data
    "euler_maruyama": euler_maruyama,  # score(x, t), grid: decreasing times in (0, 1], sde=
    "predictor_corrector": predictor_corrector,
    "probability_flow": probability_flow,
    "langevin": langevin,  # score(x), grid: non-increasing step sizes
    "annealed_langevin": annealed_langevin,  # score(x, sigma), grid: decreasing noise levels
    "edm_euler": edm_euler,  # denoiser(x, sigma) -> x0, grid: decreasing sigmas ending at 0 (karras_sigmas)
    "edm_heun": edm_heun,
    "edm_stochastic": edm_stochastic,  # plus s_churn=, s_tmin=, s_tmax=, s_noise=
    "dpm_solver_pp_2m": dpm_solver_pp_2m,
    "consistency_sample": consistency_sample,  # consistency model f(x, sigma) -> x0, grid: levels ending at 0
    "flow_euler": flow_euler,  # velocity v(x, t), grid: decreasing times from 1 (noise) to 0 (data), flow_grid
    "flow_heun": flow_heun,
    "flow_rk4": flow_rk4,
}
