"""The sampler playground's runs in Python: the package's own samplers driven by the settings the
page's JavaScript takes (``templates/playground.samplers.js``), so a test can run both on the same
start points and noise and prove them equal.

Settings are a JSON-able dict, the page's ``spec``: ``sampler`` (one of :data:`SAMPLERS`), ``steps``,
``eta`` (DDIM), ``model`` (``"exact"``: the mixture's closed-form score; ``"network"``: the trained
chapter-8 network), ``mixture`` (``weights`` (not necessarily normalised), ``means`` [[x, y]], ``stds``
(isotropic), ``classes``), and classifier-free guidance toward class ``label`` with weight ``guidance``
(w = 0 unguided, the book's convention eps_u + w (eps_c - eps_u); oracle only).

The discrete samplers (DDPM ancestral, DDIM) run the linear schedule with T = 1000 on the IDDPM
``linspace`` sub-grid, which keeps both ends; the continuous ones run the VP SDE (beta from 0.1 to
20, its limit) from t = 1 to t_min = 1e-3 on a uniform time grid. The network, trained on DDPM's
step indices, answers the SDE samplers at the index t (T - 1): score = -eps / std(t). EDM's Heun and
DPM-Solver++(2M) run x = x_t / sqrt(alpha_bar) on the Karras grid (rho = 7) between DDPM's smallest and largest
noise levels sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t), from x_T sqrt(1 + sigma_max^2), with the mixture's
exact denoiser or the network as :func:`diffusion_edu.processes.edm.discrete_denoiser`. The flow-matching
samplers (Euler, Heun) run rectified flow's path x_t = (1 - t) x_0 + t eps from t = 1 (noise) to 0 (data) on the
uniform :func:`diffusion_edu.processes.flow_samplers.flow_grid`, driven by the mixture's exact marginal velocity
(:func:`diffusion_edu.processes.flow.mixture_velocity`), guided by the same rule on the velocities; the network,
an eps model, does not drive them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from diffusion_edu.core.checks import check_choice, check_float_tensor, check_int, check_number
from diffusion_edu.data import GaussianMixture
from diffusion_edu.processes import ddim, ddpm, edm, edm_samplers, flow, flow_samplers, guidance, sde, sde_samplers
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.processes.schedules import make_schedule

SAMPLERS = ("ddpm", "ddim", "euler_maruyama", "predictor_corrector", "probability_flow", "edm_heun",
            "dpm_solver_pp_2m", "flow_euler", "flow_heun")
MODELS = ("exact", "network")
EDM = {"edm_heun": edm_samplers.edm_heun, "dpm_solver_pp_2m": edm_samplers.dpm_solver_pp_2m}
FLOW = {"flow_euler": flow_samplers.flow_euler, "flow_heun": flow_samplers.flow_heun}
T = 1000
T_MIN = 1e-3
SNR = 0.16  # the corrector's signal-to-noise ratio (Song et al. 2021's default for VP)
SCHEDULE = make_schedule("linear", T)
VP = sde.VPSDE()
SIGMA_MIN, SIGMA_MAX = (float(s) for s in edm.schedule_sigmas(SCHEDULE)[[0, -1]])  # DDPM's levels, 0.01 .. 157

Tensor = torch.Tensor
EpsModel = Callable[[Tensor, Tensor], Tensor]


def mixture_from(spec: dict[str, Any]) -> tuple[GaussianMixture, Tensor]:
    """A settings ``mixture`` entry as a GaussianMixture (weights normalised) and its component classes."""
    weights = torch.tensor(spec["weights"], dtype=torch.float64)
    if weights.ndim != 1 or bool(torch.any(weights <= 0)):
        raise ValueError(f"mixture: expected positive weights, got {spec['weights']!r}")
    means = torch.tensor(spec["means"], dtype=torch.float32)
    mixture = GaussianMixture((weights / weights.sum()).float(), means, torch.tensor(spec["stds"], dtype=torch.float32))
    return mixture, torch.tensor(spec["classes"], dtype=torch.long)


def _guided(unconditional: Callable[[Tensor, Tensor], Tensor], conditional: Callable[[Tensor, Tensor], Tensor],
            w: float) -> Callable[[Tensor, Tensor], Tensor]:
    """Classifier-free guidance of two exact models (eps, score, denoiser or velocity: the same linear rule)."""
    if w == 0:
        return unconditional

    def model(x: Tensor, t: Tensor) -> Tensor:
        return guidance.classifier_free_eps(unconditional(x, t), conditional(x, t), w)

    return model


def eps_model(settings: dict[str, Any], network: nn.Module | None = None) -> EpsModel:
    """The eps model DDPM and DDIM call: the (guided) oracle or the network."""
    if settings["model"] == "network":
        return _network(network)
    mixture, classes = mixture_from(settings["mixture"])
    label_mixture = guidance.class_mixture(mixture, classes, settings["label"]) if settings["guidance"] else mixture
    return _guided(ddpm.exact_eps_model(mixture, SCHEDULE), ddpm.exact_eps_model(label_mixture, SCHEDULE),
                   settings["guidance"])


def score_model(settings: dict[str, Any], network: nn.Module | None = None) -> sde.ScoreFn:
    """The score the SDE samplers call: the (guided) oracle, or -network(x, t (T - 1)) / std(t)."""
    if settings["model"] == "network":
        eps = _network(network)

        def score(x: Tensor, t: Tensor) -> Tensor:
            return -eps(x, t.float() * (T - 1)) / VP.marginal_std(t).to(x.dtype)[:, None]

        return score
    mixture, classes = mixture_from(settings["mixture"])
    label_mixture = guidance.class_mixture(mixture, classes, settings["label"]) if settings["guidance"] else mixture
    return _guided(sde.exact_score(mixture, VP), sde.exact_score(label_mixture, VP), settings["guidance"])


def denoiser(settings: dict[str, Any], network: nn.Module | None = None) -> edm.Denoiser:
    """The denoiser EDM's samplers call: the (guided) exact mixture denoiser, or the network in sigma."""
    if settings["model"] == "network":
        return edm.discrete_denoiser(_network(network), SCHEDULE)
    mixture, classes = mixture_from(settings["mixture"])
    label_mixture = guidance.class_mixture(mixture, classes, settings["label"]) if settings["guidance"] else mixture
    return _guided(edm.mixture_denoiser(mixture), edm.mixture_denoiser(label_mixture), settings["guidance"])


def velocity_model(settings: dict[str, Any]) -> flow_samplers.VelocityFn:
    """The velocity the flow samplers call: the mixture's (guided) exact marginal velocity on rectified flow's
    path. Guidance is the same linear rule on the velocities: the velocity is affine in the score,
    u = -(x + t score) / (1 - t), so guiding the score and guiding the velocity agree."""
    if settings["model"] != "exact":
        raise ValueError(f"settings['model']: the flow samplers run on the exact velocity only, got "
                         f"{settings['model']!r}")
    mixture, classes = mixture_from(settings["mixture"])
    label_mixture = guidance.class_mixture(mixture, classes, settings["label"]) if settings["guidance"] else mixture
    return _guided(flow.mixture_velocity(mixture), flow.mixture_velocity(label_mixture), settings["guidance"])


def _network(network: nn.Module | None) -> EpsModel:
    if not isinstance(network, nn.Module):
        raise TypeError(f"network: expected the trained eps network (an nn.Module), got {type(network).__name__}")
    device = next(network.parameters()).device

    def eps(x: Tensor, t: Tensor) -> Tensor:
        return network(x.to(device), t.to(device)).to(x.device)

    return eps


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with defaults filled in, each checked."""
    if not isinstance(settings, dict):
        raise TypeError(f"settings: expected a dict, got {type(settings).__name__}")
    settings = {"eta": 0.0, "model": "exact", "label": 0, "guidance": 0.0, **settings}
    check_choice("settings['sampler']", settings["sampler"], SAMPLERS)
    check_choice("settings['model']", settings["model"], MODELS)
    check_int("settings['steps']", settings["steps"], minimum=2 if settings["sampler"] in ("ddpm", *EDM) else 1)
    check_number("settings['eta']", settings["eta"], low=0.0, high=1.0)
    check_number("settings['guidance']", settings["guidance"], low=0.0)
    if settings["model"] == "network" and settings["sampler"] in FLOW:
        raise ValueError(f"settings['model']: expected 'exact' with {settings['sampler']} (the network is an eps "
                         "model; the flow samplers run on the exact velocity only), got 'network'")
    if settings["model"] == "network" and settings["guidance"]:
        raise ValueError("settings['guidance']: expected 0 with the (unconditional) network, got "
                         f"{settings['guidance']}")
    return settings


@torch.no_grad()
def sample(settings: dict[str, Any], x: Tensor, noise: Sequence[Tensor], network: nn.Module | None = None) -> Tensor:
    """Run the package's sampler named by ``settings`` from the points ``x`` (N, 2), feeding it the
    draws of ``noise`` in order (``noise_sampler``), exactly what the page's JavaScript does."""
    settings = check_settings(settings)
    x = check_float_tensor("x", x, ndim=2)
    draws = iter(noise)

    def noise_sampler(like: Tensor) -> Tensor:
        try:
            return next(draws)
        except StopIteration:
            raise ValueError("noise: expected enough draws for the sampler, got too few") from None

    name, steps = settings["sampler"], settings["steps"]
    if name in ("ddpm", "ddim"):
        grid = sub_grid(T, steps, "linspace")
        model = eps_model(settings, network)
        if name == "ddpm":
            return ddpm.ddpm_sample(model, x, grid, schedule=SCHEDULE, noise_sampler=noise_sampler)
        return ddim.ddim_sample(model, x, grid, schedule=SCHEDULE, eta=settings["eta"], noise_sampler=noise_sampler)
    if name in FLOW:
        return FLOW[name](velocity_model(settings), x, flow_samplers.flow_grid(steps))
    if name in EDM:
        grid = edm.karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
        return EDM[name](denoiser(settings, network), x * math.sqrt(1 + SIGMA_MAX**2), grid)
    grid = time_grid(steps, T_MIN)
    score = score_model(settings, network)
    if name == "euler_maruyama":
        return sde_samplers.euler_maruyama(score, x, grid, sde=VP, noise_sampler=noise_sampler)
    if name == "predictor_corrector":
        return sde_samplers.predictor_corrector(score, x, grid, sde=VP, snr=SNR, n_corrector=1,
                                                noise_sampler=noise_sampler)
    return sde_samplers.probability_flow(score, x, grid, sde=VP, method="rk4")
