"""Goal 4: digit quality (Fréchet distance in the metric classifier's features, next to the
held-out floor) against training seconds, for the book's digit generators: U-Net DDPM (sampled
with DDIM-50), DiT, latent diffusion, VAE and GAN. Every model trains in this run, for a fixed
wall-clock budget, through the book's training code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import n_params, train_cosine_for, train_digits_for
from diffusion_edu import data
from diffusion_edu.core.runtime import device
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.nets.autoencoder import DigitVAE
from diffusion_edu.nets.gan import DigitDiscriminator, DigitGenerator
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import ddim, ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.guidance import label_dropout_eps_loss
from diffusion_edu.processes.schedules import linear_schedule
from diffusion_edu.recipes import vae
from diffusion_edu.training import gan

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
    samples = ddim.ddim_sample(result.ema_model.eval(), _noise(), sub_grid(1000, 50), schedule=schedule)
    return {"model": "U-Net DDPM (DDIM-50)", "params": n_params(model), "steps": result.steps, "fd": _fd(samples)}


def vae_model(seconds: float) -> dict[str, Any]:
    torch.manual_seed(0)
    model = DigitVAE(**vae.DIGIT_VAE_CONFIG)
    result = train_digits_for(model, vae.vae_loss(vae.DIGIT_VAE_RECIPE["decoder_var"]), seconds)
    samples = vae.sample(result.ema_model.eval(), N_SAMPLES, torch.Generator().manual_seed(1))
    return {"model": "VAE", "params": n_params(model), "steps": result.steps, "fd": _fd(samples)}


def gan_model(seconds: float) -> dict[str, Any]:
    """Chapter 6's DCGAN recipe (width 16, batch 64, lr 2e-3 for both players, EMA 0.995)."""
    torch.manual_seed(0)
    generator, discriminator = DigitGenerator(latent_dim=32, width=16), DigitDiscriminator(width=16)
    noise = torch.Generator().manual_seed(0)
    result = gan.train_gan(generator.to(device()), discriminator.to(device()), data.digit_batches(64, noise),
                           latent_dim=32, steps=10**7, k=1, lr_generator=2e-3, lr_discriminator=2e-3,
                           ema_decay=0.995, noise=noise, max_seconds=seconds, progress=False)
    samples = gan.sample(result.model, N_SAMPLES, 32, torch.Generator().manual_seed(1))
    return {"model": "DCGAN", "params": n_params(generator), "steps": result.steps, "fd": _fd(samples)}


def dit(seconds: float) -> dict[str, Any]:
    """Chapter 14's DiT recipe (lr 1.5e-2, warm-up, cosine, EMA), class-conditional, sampled at CFG w = 1."""
    from diffusion_edu.nets.dit import DiT
    from diffusion_edu.processes.guidance import classifier_free_model
    from diffusion_edu.recipes.guidance import DIT_CONFIG

    schedule = linear_schedule(1000)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = DiT(**DIT_CONFIG).to(device())
    digits = data.load_digits()

    def loss(m: torch.nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return label_dropout_eps_loss(m, *b, schedule, p=0.1, generator=generator)

    batches = data.random_batches((digits.train_images, digits.train_labels), 128, generator, device())
    result = train_cosine_for(model, loss, batches, seconds, lr=1.5e-2, warmup=100)
    labels = torch.arange(N_SAMPLES) % 10
    eps_model = classifier_free_model(result.ema_model.eval(), labels.to(device()), 1.0)
    samples = ddim.ddim_sample(eps_model, _noise(), sub_grid(1000, 50), schedule=schedule)
    return {"model": "DiT (conditional, CFG w=1, DDIM-50)", "params": n_params(model), "steps": result.steps,
            "fd": _fd(samples)}


def latent(seconds: float) -> dict[str, Any]:
    """Chapter 15's latent diffusion: the cached chapter-5 VAE (its own training time is reported in
    the model name) plus a cross-attention denoiser trained for ``seconds`` in its 8-D latent space."""
    from diffusion_edu.nets.cross_attention import CrossAttentionDenoiser
    from diffusion_edu.processes import latent as latent_diffusion
    from diffusion_edu.recipes.latent import LATENT_CONFIG

    vae_model_, vae_info = vae.trained_digit_vae(progress=False)
    digits = data.load_digits()
    latents = latent_diffusion.encode(vae_model_, digits.train_images)
    scale = latent_diffusion.latent_scale(latents)
    schedule = linear_schedule(1000)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = CrossAttentionDenoiser(**LATENT_CONFIG).to(device())
    def loss(m: torch.nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return label_dropout_eps_loss(m, *b, schedule, p=0.1, generator=generator)

    batches = data.random_batches((latents * scale, digits.train_labels), 128, generator, device())
    result = train_cosine_for(model, loss, batches,
                              seconds, lr=2e-3, warmup=100)
    labels = torch.arange(N_SAMPLES) % 10
    samples = latent_diffusion.sample(result.ema_model.eval(), vae_model_, scale, labels, schedule, num_steps=50,
                                      w=1.0, generator=torch.Generator().manual_seed(1))
    return {"model": f"latent diffusion (conditional, w=1; VAE +{vae_info.get('seconds', 0):.0f} s)",
            "params": n_params(model), "steps": result.steps, "fd": _fd(samples)}


def run(seconds_grid: tuple[float, ...] = (30.0, 60.0, 90.0)) -> dict[str, Any]:
    runs: list[tuple[Callable[[float], dict[str, Any]], tuple[float, ...]]] = [
        (unet, seconds_grid), (vae_model, (15.0, 30.0)), (gan_model, (30.0, 60.0))]
    runs += [(dit, seconds_grid), (latent, (15.0, 30.0))]
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
