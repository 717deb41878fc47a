"""Goal 5: our 8x8 U-Net against diffusers' UNet2DModel + DDPMScheduler at a similar parameter
count, trained on the same digits for the same seconds in the same run, sampled with DDIM-50
(each with its own library's sampler): step throughput and digit Fréchet distance, as ratios."""

from __future__ import annotations

import time
from typing import Any

import torch

from benchmarks.common import n_params, train_digits_for
from diffusion_edu.core.runtime import device
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import ddim
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import linear_schedule


def _ours(seconds: float, n_samples: int) -> dict[str, Any]:
    schedule = linear_schedule(1000)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = UNet(channels=32)

    def loss(m: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        from diffusion_edu.processes import ddpm

        return ddpm.eps_loss(m, x0, schedule, generator)

    result = train_digits_for(model, loss, seconds)
    ema = result.ema_model.eval()
    start = time.perf_counter()
    x = torch.randn(n_samples, 1, 8, 8, generator=torch.Generator().manual_seed(1)).to(device())
    samples = ddim.ddim_sample(ema, x, sub_grid(1000, 50), schedule=schedule, eta=0.0)
    sample_seconds = time.perf_counter() - start
    return {"model": "diffusion_edu UNet", "params": n_params(model), "steps": result.steps,
            "steps_per_s": result.steps / result.seconds, "sample_s": sample_seconds,
            "fd": metrics.evaluate_digits(samples.clamp(-1, 1).cpu())["frechet"].value}


def _diffusers(seconds: float, n_samples: int) -> dict[str, Any]:
    from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                        block_out_channels=(24, 40, 40), norm_num_groups=8,  # 0.45M, as ours
                        down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D"),
                        up_block_types=("UpBlock2D", "UpBlock2D", "UpBlock2D"))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.net(x, t).sample

    wrapped = Wrapped()

    def loss(m: torch.nn.Module, x0: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        t = torch.randint(0, 1000, (x0.shape[0],), generator=generator).to(x0.device)
        return (m(scheduler.add_noise(x0, noise, t), t) - noise).square().mean()

    result = train_digits_for(wrapped, loss, seconds)
    ema = result.ema_model.eval()
    sampler = DDIMScheduler.from_config(scheduler.config)
    sampler.set_timesteps(50)
    start = time.perf_counter()
    x = torch.randn(n_samples, 1, 8, 8, generator=torch.Generator().manual_seed(1)).to(device())
    with torch.no_grad():
        for t in sampler.timesteps:
            x = sampler.step(ema(x, t.expand(x.shape[0]).to(device())), t, x, eta=0.0).prev_sample
    sample_seconds = time.perf_counter() - start
    return {"model": "diffusers UNet2DModel", "params": n_params(model), "steps": result.steps,
            "steps_per_s": result.steps / result.seconds, "sample_s": sample_seconds,
            "fd": metrics.evaluate_digits(x.clamp(-1, 1).cpu())["frechet"].value}


def run(seconds: float = 60.0, n_samples: int = 500) -> dict[str, Any]:
    ours, peer = _ours(seconds, n_samples), _diffusers(seconds, n_samples)
    floor = metrics.digit_floor()["frechet"]
    for row in (ours, peer):
        row["fd_floor"] = floor
        row["train_s"] = seconds
    return {"rows": [ours, peer], "throughput_ratio": ours["steps_per_s"] / peer["steps_per_s"],
            "fd_ratio": peer["fd"] / ours["fd"]}


if __name__ == "__main__":
    print(run())
