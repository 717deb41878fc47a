"""Goal 2: a learned 2-D DDPM against the exact-score oracle through the same sampler.

The ratio learned/oracle sliced Wasserstein distance (to the same real sample) as a function of
training seconds; the oracle is the limit no model can beat."""

from __future__ import annotations

from typing import Any

import torch

from diffusion_edu import data
from diffusion_edu.core.runtime import device
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.processes import ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import linear_schedule
from diffusion_edu.training.loop import train


def run(seconds_grid: tuple[float, ...] = (2.5, 5.0, 10.0, 20.0), n: int = 2000) -> dict[str, Any]:
    mixture = data.eight_gaussians()
    schedule = linear_schedule(1000)
    generator = torch.Generator().manual_seed(0)
    real = mixture.sample(n, generator)[0]
    floor_draws = [mixture.sample(n, generator)[0] for _ in range(5)]

    def distance(eps_model: Any) -> float:
        x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1)).to(device())
        samples = ddpm.ddpm_sample(eps_model, x, sub_grid(1000), schedule=schedule,
                                   generator=torch.Generator().manual_seed(2))
        return metrics.evaluate_2d(samples.cpu(), real, floor_draws)["swd"]

    oracle = distance(ddpm.exact_eps_model(mixture, schedule))
    rows = []
    for seconds in seconds_grid:
        torch.manual_seed(0)
        train_generator = torch.Generator().manual_seed(0)
        model = TimeMLP(dim=2, width=128, depth=3).to(device())

        def batch(_step: int, g: torch.Generator = train_generator) -> torch.Tensor:
            return mixture.sample(512, g)[0].to(device())

        def loss(m: torch.nn.Module, x0: torch.Tensor, g: torch.Generator = train_generator) -> torch.Tensor:
            return ddpm.eps_loss(m, x0, schedule, g)

        # a cosine learning rate needs the run's length: estimate the step rate with a short dry run
        rate = train(TimeMLP(dim=2, width=128, depth=3).to(device()), loss, batch, steps=40, progress=False,
                     foreach=True)
        steps = max(100, int(seconds * rate.steps / rate.seconds))
        result = train(model, loss, batch, steps=steps, lr=3e-3, ema_decay=0.995, warmup_steps=50,
                       cosine_decay=True, max_seconds=seconds, progress=False, foreach=True)
        learned = distance(result.ema_model.eval())
        rows.append({"train_s": seconds, "steps": result.steps, "swd": learned.value, "oracle_swd": oracle.value,
                     "floor": oracle.floor, "ratio_to_oracle": learned.value / oracle.value})
    return {"rows": rows, "oracle_swd": oracle.value, "floor": oracle.floor}


if __name__ == "__main__":
    for row in run()["rows"]:
        print(row)
