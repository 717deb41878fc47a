"""The book's latent diffusion model (chapter 15): chapter 5's VAE encodes the training digits, the latents
are scaled to unit variance (:func:`diffusion_edu.processes.latent.latent_scale`), and a
:class:`~diffusion_edu.nets.cross_attention.CrossAttentionDenoiser` learns their eps with label dropout
(classifier-free guidance). Sampling is :func:`diffusion_edu.processes.latent.sample`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu.core.runtime import budget, device
from diffusion_edu.data import load_digits, random_batches
from diffusion_edu.nets.cross_attention import CrossAttentionDenoiser
from diffusion_edu.processes.guidance import label_dropout_eps_loss
from diffusion_edu.processes.latent import encode, latent_scale
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.recipes.vae import trained_digit_vae
from diffusion_edu.training.loop import TrainResult, cached_model, train

LATENT_CONFIG: dict[str, Any] = {"latent_dim": 8, "num_tokens": 4, "dim": 64, "depth": 2, "heads": 4}
LATENT_RECIPE: dict[str, Any] = {"steps": 1200, "batch": 128, "lr": 2e-3, "label_dropout": 0.1, "seed": 0,
                                 "schedule": "linear", "T": 1000}


def trained_latent_denoiser(progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """The book's latent diffusion model: a :class:`CrossAttentionDenoiser` on the scaled VAE latents of
    the training digits, conditioned on the digits' names. Cached; info adds the VAE's ``scale`` and the
    VAE's own training ``vae_seconds``."""
    vae, vae_info = trained_digit_vae(progress=progress)
    digits = load_digits()
    latents = encode(vae, digits.train_images)  # (N, L)
    scale = latent_scale(latents)
    latents = latents * scale
    labels = digits.train_labels
    recipe = {**LATENT_RECIPE, "steps": budget().steps(LATENT_RECIPE["steps"])}
    schedule = make_schedule(recipe["schedule"], recipe["T"])

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(recipe["seed"])
        generator = torch.Generator().manual_seed(recipe["seed"])
        model.to(device())

        def loss(m: nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return label_dropout_eps_loss(m, *b, schedule, p=recipe["label_dropout"], generator=generator)

        batches = random_batches((latents, labels), recipe["batch"], generator, device())
        return train(model, loss, batches,
                     steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=100, cosine_decay=True,
                     progress=progress, description="latent denoiser (cross-attention)")

    vae_key = f"{scale:.6f}"
    model, info = cached_model("latent-xattn", CrossAttentionDenoiser, dict(LATENT_CONFIG), fit,
                               {**recipe, "vae": vae_key})
    vae_seconds = vae_info.get("seconds", float("nan"))
    return model.to(device()), {**info, "scale": scale, "vae_seconds": vae_seconds, "vae": vae}
