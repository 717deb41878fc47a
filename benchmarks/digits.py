"""Goal 4: digit quality (Fréchet distance in the metric classifier's features, next to the
held-out floor) against training seconds, for the book's digit generators: U-Net DDPM (sampled
with DDIM-50), DiT, latent diffusion, VAE and GAN. Every model trains in this run, for a fixed
wall-clock budget, through the book's training code."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import n_params, train_digits_for
from diffusion_edu import data, ddim, ddpm, gan, metrics, vae
from diffusion_edu.nets.autoencoder import DigitVAE
from diffusion_edu.nets.gan import DigitDiscriminator, DigitGenerator
from diffusion_edu.nets.unet import UNet
from diffusion_edu.runtime import device
from diffusion_edu.schedules import linear_schedule

N_SAMPLES = 500


def _fd(samples: torch.Tensor) -> float:
    return metrics.evaluate_digits(samples.clamp(-1, 1).float().cpu())["frechet"].value


def _noise(n: int = N_SAMPLES) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(1)).to(device())


def unet(seconds: float) -> dict[str, Any]:
    schedule = linear_schedule(1000)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = UNet(channels=32)
    result = train_digits_for(model, lambda m, x0: ddpm.eps_loss(m, x0, schedule, generator), seconds)
    samples = ddim.ddim_sample(result.ema_model.eval(), _noise(), schedule, ddim.timestep_sequence(1000, 50))
    return {"model": "U-Net DDPM (DDIM-50)", "params": n_params(model), "steps": result.steps, "fd": _fd(samples)}


def vae_model(seconds: float) -> dict[str, Any]:
    torch.manual_seed(0)
    model = DigitVAE(**vae.DIGIT_VAE_CONFIG)
    result = train_digits_for(model, vae.vae_loss(vae.DIGIT_VAE_RECIPE["decoder_var"]), seconds)
    samples = vae.sample(result.ema_model.eval(), N_SAMPLES, torch.Generator().manual_seed(1))
    return {"model": "VAE", "params": n_params(model), "steps": result.steps, "fd": _fd(samples)}


def gan_model(seconds: float) -> dict[str, Any]:
    torch.manual_seed(0)
    generator, discriminator = DigitGenerator(), DigitDiscriminator()
    images = data.load_digits().train_images.to(device())
    noise = torch.Generator().manual_seed(0)
    result = gan.train_gan(generator.to(device()), discriminator.to(device()),
                           lambda _i: images[torch.randint(0, len(images), (128,), generator=noise).to(device())],
                           latent_dim=generator.latent_dim, steps=10**7, noise=noise, max_seconds=seconds,
                           progress=False)
    samples = gan.sample(result.ema_model.eval(), N_SAMPLES, generator.latent_dim, torch.Generator().manual_seed(1))
    return {"model": "DCGAN", "params": n_params(generator), "steps": result.steps, "fd": _fd(samples)}


def _optional(module: str, name: str) -> Callable[[float], dict[str, Any]] | None:
    """Generators from later chapters, when their module provides a benchmark entry point."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def run(seconds_grid: tuple[float, ...] = (30.0, 60.0, 90.0)) -> dict[str, Any]:
    runs: list[tuple[Callable[[float], dict[str, Any]], tuple[float, ...]]] = [
        (unet, seconds_grid), (vae_model, (15.0, 30.0)), (gan_model, (30.0, 60.0))]
    for module, name in (("diffusion_edu.nets.dit", "benchmark_entry"), ("diffusion_edu.latent", "benchmark_entry")):
        entry = _optional(module, name)
        if entry is not None:
            runs.append((entry, seconds_grid))
    floor = metrics.digit_floor()["frechet"]
    rows = []
    for fn, grid in runs:
        for seconds in grid:
            start = time.perf_counter()
            row = fn(seconds)
            row.update(train_s=seconds, total_s=time.perf_counter() - start, floor=floor, ratio=row["fd"] / floor)
            rows.append(row)
            print(row, flush=True)
    diffusion = [r for r in rows if "VAE" != r["model"] and "GAN" not in r["model"] and r["train_s"] <= 90]
    best = min(diffusion, key=lambda r: r["fd"])
    return {"rows": rows, "floor": floor, "best_diffusion_at_90s": best}


if __name__ == "__main__":
    run()
