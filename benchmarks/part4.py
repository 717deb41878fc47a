"""Part IV on the 8-Gaussians ring, in two sections.

``training_race``: the same MLP (chapter 8's width and depth, batch and learning rate) trained for a fixed
number of wall-clock seconds with three losses -- DDPM's eps loss, flow matching (rectified flow) and EDM's
preconditioned loss -- each sampled with a deterministic sampler at about 50 network evaluations (DDIM-50,
flow Heun-25, EDM Heun-25) and divided by the *exact* model through the same sampler (the mixture's eps,
velocity or denoiser): 1.0 means training has nothing left to gain for that sampler.

``few_steps``: flow matching vs DDPM at equal network evaluations (1, 2, 4, 10, 20, 50), before and after
reflow, and the distilled students (progressive distillation, consistency distillation) at 1, 2 and 4 steps
against their teacher at 50, with each model's training seconds.

Distances are sliced Wasserstein over the real-vs-real floor. Every configuration runs ``repeats`` times,
interleaved (repeat r of every configuration before repeat r + 1 of any); the tables show medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import Ring
from diffusion_edu import data, recipes
from diffusion_edu.core.runtime import device
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.processes import ddim, ddpm, edm, flow
from diffusion_edu.processes.consistency import consistency_sample
from diffusion_edu.processes.edm_samplers import edm_euler, edm_heun
from diffusion_edu.processes.flow_samplers import flow_euler, flow_grid, flow_heun
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import linear_schedule
from diffusion_edu.recipes.edm import EDMDenoiser, dataset_sigma_data, edm_2d
from diffusion_edu.recipes.few_steps import consistency_2d, distillation_grid, distilled_2d
from diffusion_edu.recipes.flow import flow_2d, reflow_2d
from diffusion_edu.training.loop import train

DATASET = "eight_gaussians"
SIGMA_MAX, SIGMA_MIN = edm.SIGMA_MAX, edm.SIGMA_MIN


def _samplers(schedule: Any) -> dict[str, Callable[[Callable[..., torch.Tensor], torch.Tensor], torch.Tensor]]:
    """loss name -> run(model, z) at ~50 network evaluations with that loss's own deterministic sampler."""
    return {
        "DDPM (eps)": lambda m, z: ddim.ddim_sample(m, z, sub_grid(1000, 50), schedule=schedule),
        "flow matching": lambda m, z: flow_heun(m, z, flow_grid(25)),
        "EDM": lambda m, z: edm_heun(m, SIGMA_MAX * z, edm.karras_sigmas(25, SIGMA_MIN, SIGMA_MAX)),
    }


def _fit(loss_name: str, seconds: float, seed: int, schedule: Any, sigma_data: float) -> torch.nn.Module:
    """Chapter 8's MLP and optimiser settings, ``seconds`` of training with ``loss_name``'s loss."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if loss_name == "EDM":
        model = EDMDenoiser(sigma_data=sigma_data)
        loss = lambda m, y: edm.edm_loss(m, y, sigma_data, generator)  # noqa: E731
    else:
        model = TimeMLP(dim=2, width=128, depth=3)
        loss = ((lambda m, y: ddpm.eps_loss(m, y, schedule, generator)) if loss_name == "DDPM (eps)"  # noqa: E731
                else (lambda m, y: flow.flow_matching_loss(m, y, generator)))
    model.to(device())
    result = train(model, loss, lambda _step: data.sample_2d(DATASET, 512, generator).to(device()), steps=10**6,
                   lr=2e-3, ema_decay=0.995, warmup_steps=100, max_seconds=seconds, progress=False)
    return result.ema_model.eval()


def training_race(seconds_grid: tuple[float, ...] = (5.0, 10.0, 20.0), n: int = 2000, repeats: int = 3
                  ) -> dict[str, Any]:
    ring, schedule = Ring(n), linear_schedule(1000)
    sigma_data = dataset_sigma_data(DATASET)
    samplers = _samplers(schedule)
    exact = {"DDPM (eps)": ddpm.exact_eps_model(ring.mixture, schedule),
             "flow matching": flow.mixture_velocity(ring.mixture),
             "EDM": edm.mixture_denoiser(ring.mixture)}
    runs: dict[tuple[str, float], list[float]] = {}
    for repeat in range(repeats):
        for seconds in seconds_grid:
            for name, sample in samplers.items():
                model = _fit(name, seconds, repeat, schedule, sigma_data)
                z = ring.noise(100 + repeat)
                with torch.no_grad():
                    learned, oracle = ring.ratio(sample(model, z)), ring.ratio(sample(exact[name], z))
                runs.setdefault((name, seconds), []).append(learned / oracle)
    rows = [{"loss": name, "train_s": seconds, "ratio_to_oracle": statistics.median(values)}
            for (name, seconds), values in runs.items()]
    at_10 = {row["loss"]: row["ratio_to_oracle"] for row in rows if row["train_s"] == 10.0}
    return {"rows": rows, "at_10s": at_10, "fastest_at_10s": min(at_10, key=at_10.get) if at_10 else None}


def few_steps(n: int = 2000, repeats: int = 3) -> dict[str, Any]:
    ring, schedule = Ring(n), linear_schedule(1000)
    eps_net, eps_info = recipes.ddpm_2d(DATASET, progress=False)
    flow_net, flow_info = flow_2d(DATASET, progress=False)
    reflow_net, reflow_info = reflow_2d(DATASET, progress=False)
    teacher, teacher_info = edm_2d(DATASET, progress=False)
    students = {k: distilled_2d(DATASET, k, progress=False) for k in (1, 2, 4)}
    cm, cm_info = consistency_2d(DATASET, progress=False)
    velocity = flow.mixture_velocity(ring.mixture)
    nfes = (1, 2, 4, 10, 20, 50)
    configs: dict[tuple[str, int], Callable[[torch.Tensor], torch.Tensor]] = {}
    for k in nfes:
        configs[("DDIM, DDPM's eps network", k)] = lambda z, k=k: ddim.ddim_sample(eps_net, z, sub_grid(1000, k),
                                                                                  schedule=schedule)
        configs[("flow Euler, exact velocity", k)] = lambda z, k=k: flow_euler(velocity, z, flow_grid(k))
        configs[("flow Euler, rectified flow", k)] = lambda z, k=k: flow_euler(flow_net, z, flow_grid(k))
        configs[("flow Euler, after reflow", k)] = lambda z, k=k: flow_euler(reflow_net, z, flow_grid(k))
    for k in (1, 2, 4):
        configs[("progressive distillation", k)] = lambda z, k=k: edm_euler(students[k][0], SIGMA_MAX * z,
                                                                            distillation_grid(k))
        configs[("consistency model", k)] = lambda z, k=k: consistency_sample(
            cm, SIGMA_MAX * z, edm.karras_sigmas(k, SIGMA_MIN, SIGMA_MAX) if k > 1 else [SIGMA_MAX, 0.0],
            generator=torch.Generator().manual_seed(7))
    configs[("EDM teacher, Euler", 50)] = lambda z: edm_euler(teacher, SIGMA_MAX * z,
                                                              edm.karras_sigmas(50, SIGMA_MIN, SIGMA_MAX))
    runs: dict[tuple[str, int], list[float]] = {}
    for repeat in range(repeats):
        z = ring.noise(200 + repeat)
        for key, sample in configs.items():
            with torch.no_grad():
                runs.setdefault(key, []).append(ring.ratio(sample(z)))
    rows = [{"model": name, "nfe": k, "swd_ratio": statistics.median(values)} for (name, k), values in runs.items()]
    median = {key: statistics.median(values) for key, values in runs.items()}
    teacher_50 = median[("EDM teacher, Euler", 50)]
    costs = [{"model": "DDPM eps network (chapter 8)", "train_s": eps_info["seconds"]},
             {"model": "rectified flow", "train_s": flow_info["seconds"]},
             {"model": "reflow (pairs + fine-tuning)", "train_s": reflow_info["seconds"]},
             {"model": "EDM teacher", "train_s": teacher_info["seconds"]},
             {"model": "progressive distillation, 64 -> 1 steps", "train_s": students[1][1]["total_seconds"]},
             {"model": "consistency distillation", "train_s": cm_info["seconds"]}]
    return {"rows": rows, "costs": costs, "teacher_50": teacher_50,
            "reflow_1_vs_50": median[("flow Euler, after reflow", 1)] / median[("flow Euler, after reflow", 50)],
            "distilled_4_vs_teacher_50": median[("progressive distillation", 4)] / teacher_50,
            "straightness": {"rectified flow": flow.straightness(flow_net, ring.noise(300)),
                             "after reflow": flow.straightness(reflow_net, ring.noise(300))}}


if __name__ == "__main__":
    for section in (few_steps, training_race):
        out = section()
        for row in out["rows"]:
            print(row)
        print({key: value for key, value in out.items() if key != "rows"})
