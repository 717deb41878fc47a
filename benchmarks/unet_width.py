"""Which digit U-Net for a fixed number of CPU seconds: narrow and trained longer, or wide and trained
shorter? Trains ``UNet(channels=c)`` for c in (8, 16, 32) with the book's DDPM loss and lr schedule (the
recipe's warm-up and cosine decay over the steps that fit), samples with DDIM-50, and reports the digit
Fréchet distance next to the floor. This is the measurement behind the budget's ``digit_channels``."""

from __future__ import annotations

import time
from typing import Any

import torch

from benchmarks.common import n_params, train_cosine_for
from diffusion_edu import data
from diffusion_edu.core.runtime import device
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import ddim, ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import linear_schedule

N_SAMPLES = 300


def unet_for(channels: int, seconds: float) -> dict[str, Any]:
    schedule = linear_schedule(1000)
    images = data.load_digits().train_images.to(device())
    generator = torch.Generator().manual_seed(0)

    def batch(_step: int) -> torch.Tensor:
        return images[torch.randint(0, len(images), (128,), generator=generator).to(device())]

    def loss(m: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        return ddpm.eps_loss(m, x0, schedule, generator)

    torch.manual_seed(0)
    model = UNet(channels=channels).to(device())
    result = train_cosine_for(model, loss, batch, seconds, lr=2e-3, warmup=50)
    noise = torch.randn(N_SAMPLES, 1, 8, 8, generator=torch.Generator().manual_seed(1)).to(device())
    samples = ddim.ddim_sample(result.ema_model.eval(), noise, sub_grid(1000, 50), schedule=schedule)
    fd = metrics.evaluate_digits(samples.clamp(-1, 1).float().cpu())["frechet"]
    return {"channels": channels, "params": n_params(model), "train_s": seconds, "steps": result.steps,
            "ms_per_step": 1000 * result.seconds / result.steps, "fd": fd.value, "ratio": fd.ratio}


def run(seconds_grid: tuple[float, ...] = (40.0, 60.0), widths: tuple[int, ...] = (8, 16, 32)) -> dict[str, Any]:
    rows = []
    for seconds in seconds_grid:
        for channels in widths:
            start = time.perf_counter()
            row = unet_for(channels, seconds)
            row["total_s"] = time.perf_counter() - start
            rows.append(row)
            print(row, flush=True)
    best = {s: min((r for r in rows if r["train_s"] == s), key=lambda r: r["fd"])["channels"] for s in seconds_grid}
    return {"rows": rows, "best_channels": best}


if __name__ == "__main__":
    run()
