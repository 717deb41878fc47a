"""Goal 3: samplers at equal network evaluations (NFE) on the 8-Gaussians ring, for the exact-score
oracle and for chapter 8's learned eps-MLP: wall time and sliced Wasserstein distance (vs floor).

DDPM/DDIM run on the discrete linear schedule (T = 1000); the SDE samplers on its continuous
limit, the VP SDE (beta 0.1 -> 20). The learned eps model becomes a score for the SDE samplers by
score(x, t) = -eps(x, round(t T) - 1) / std(t)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from diffusion_edu import data, recipes
from diffusion_edu.core.runtime import device
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.processes import ddim, ddpm, sde
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.processes.schedules import linear_schedule
from diffusion_edu.processes.sde_samplers import euler_maruyama, predictor_corrector, probability_flow

Sampler = Callable[[ddpm.EpsModel, sde.ScoreFn, torch.Tensor, torch.Generator], torch.Tensor]


def _eps_to_score(eps_model: ddpm.EpsModel, vp: sde.VPSDE, T: int) -> sde.ScoreFn:
    def score(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        steps = (t.double() * T).round().long().clamp(1, T) - 1
        std = append_dims(vp.marginal_std(t), x)
        return -eps_model(x, steps.to(x.device)) / std

    return score


def run(n: int = 2000) -> dict[str, Any]:
    mixture = data.eight_gaussians()
    schedule, vp, T = linear_schedule(1000), sde.VPSDE(), 1000
    generator = torch.Generator().manual_seed(0)
    real = mixture.sample(n, generator)[0]
    floor_draws = [mixture.sample(n, generator)[0] for _ in range(5)]
    learned, _ = recipes.ddpm_2d("eight_gaussians", progress=False)
    models: dict[str, tuple[ddpm.EpsModel, sde.ScoreFn]] = {
        "oracle": (ddpm.exact_eps_model(mixture, schedule), sde.exact_score(mixture, vp)),
        "learned": (learned, _eps_to_score(learned, vp, T)),
    }
    samplers: list[tuple[str, int, Sampler]] = [
        ("DDPM-1000", 1000, lambda e, s, x, g: ddpm.ddpm_sample(e, x, sub_grid(T), schedule=schedule, generator=g)),
        ("DDIM-100", 100, lambda e, s, x, g: ddim.ddim_sample(e, x, sub_grid(T, 100), schedule=schedule)),
        ("DDIM-50", 50, lambda e, s, x, g: ddim.ddim_sample(e, x, sub_grid(T, 50), schedule=schedule)),
        ("DDIM-20", 20, lambda e, s, x, g: ddim.ddim_sample(e, x, sub_grid(T, 20), schedule=schedule)),
        ("DDIM-10", 10, lambda e, s, x, g: ddim.ddim_sample(e, x, sub_grid(T, 10), schedule=schedule)),
        ("Euler-Maruyama-100", 100, lambda e, s, x, g: euler_maruyama(s, x, time_grid(100), sde=vp, generator=g)),
        ("PC-50 (+1 corrector)", 100, lambda e, s, x, g: predictor_corrector(s, x, time_grid(50), sde=vp, generator=g)),
        ("PF-ODE RK4-25", 100, lambda e, s, x, g: probability_flow(s, x, time_grid(25), sde=vp, method="rk4")),
    ]
    rows = []
    for model_name, (eps_model, score) in models.items():
        for name, nfe, sampler in samplers:
            x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1)).to(device())
            start = time.perf_counter()
            samples = sampler(eps_model, score, x, torch.Generator().manual_seed(2))
            seconds = time.perf_counter() - start
            report = metrics.evaluate_2d(samples.float().cpu(), real, floor_draws)["swd"]
            rows.append({"model": model_name, "sampler": name, "nfe": nfe, "seconds": seconds,
                         "swd": report.value, "floor": report.floor, "ratio": report.ratio})
    learned_rows = {r["sampler"]: r for r in rows if r["model"] == "learned"}
    ddpm_row, ddim10 = learned_rows["DDPM-1000"], learned_rows["DDIM-10"]
    return {"rows": rows, "ddim10_speedup": ddpm_row["seconds"] / ddim10["seconds"],
            "ddim10_distance_ratio": ddim10["swd"] / ddpm_row["swd"]}


if __name__ == "__main__":
    out = run()
    for row in out["rows"]:
        print(row)
    print(out["ddim10_speedup"], out["ddim10_distance_ratio"])
