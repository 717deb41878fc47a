"""Latent diffusion (Rombach et al. 2022) on the digits: encode with chapter 5's VAE, scale the
latents to unit variance, run DDPM/DDIM in latent space, decode.

The diffusion process is the book's unchanged one, applied to z instead of x: q(z_t | z_0) =
N(sqrt(alpha_bar) z_0, (1 - alpha_bar) I). Scaling matters: with latents of standard deviation
sigma_z, every level's signal-to-noise ratio is multiplied by sigma_z^2 (Stable Diffusion's
0.18215 is this 1 / sigma_z for its autoencoder).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu import ddim, ddpm
from diffusion_edu._checks import check_float_tensor, check_int, check_positive, check_probability
from diffusion_edu.guidance import classifier_free_model
from diffusion_edu.schedules import Schedule, check_schedule, make_schedule


def _check_module(name: str, value: object, *methods: str) -> nn.Module:
    if not isinstance(value, nn.Module) or any(not hasattr(value, m) for m in methods):
        need = f" with {', '.join(methods)}" if methods else ""
        raise TypeError(f"{name}: expected a torch.nn.Module{need}, got {type(value).__name__}")
    return value


@torch.no_grad()
def encode(vae: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Posterior means of q(z | x): (N, 1, 8, 8) -> (N, L). The mean, not a sample: the latent
    diffusion model learns the distribution of codes the decoder knows best."""
    _check_module("vae", vae, "encode", "decode")
    images = check_float_tensor("images", images, min_ndim=1)
    return vae.encode(images)[0]


def latent_scale(latents: torch.Tensor) -> float:
    """1 / (overall standard deviation of the latents): multiply by it to get unit-variance data."""
    latents = check_float_tensor("latents", latents, ndim=2)
    if latents.numel() < 2:
        raise ValueError(f"latents: expected at least 2 values to measure a spread, got shape {tuple(latents.shape)}")
    std = float(latents.std())
    if not std > 0:
        raise ValueError("latents: expected latents that vary (standard deviation > 0), got all equal values")
    return 1.0 / std


@torch.no_grad()
def decode(vae: nn.Module, scaled_latents: torch.Tensor, scale: float) -> torch.Tensor:
    """Undo the scaling and decode: (N, L) -> images (N, 1, 8, 8), clamped to [-1, 1]."""
    _check_module("vae", vae, "encode", "decode")
    scaled_latents = check_float_tensor("scaled_latents", scaled_latents, ndim=2)
    check_positive("scale", scale)
    return vae.decode((scaled_latents / scale).to(next(vae.parameters()).device)).clamp(-1, 1)


@torch.no_grad()
def sample(model: nn.Module, vae: nn.Module, scale: float, labels: torch.Tensor, schedule: Schedule,
           num_steps: int = 25, w: float = 1.0, generator: torch.Generator | None = None,
           null_label: int = 10) -> torch.Tensor:
    """Latent DDIM with classifier-free guidance ``w`` (book convention), then decode: (N,) labels ->
    images (N, 1, 8, 8)."""
    _check_module("model", model, "latent_dim")
    _check_module("vae", vae, "encode", "decode")
    check_positive("scale", scale)
    check_schedule(schedule)
    check_int("num_steps", num_steps)
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or len(labels) < 1:
        got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels: expected a non-empty 1-D integer tensor of digit classes, got {got}")
    latent_dim = model.latent_dim
    # drawn on the CPU (a CPU generator cannot draw on a GPU), so a seed gives the same latents everywhere
    z_T = torch.randn(len(labels), latent_dim, generator=generator).to(next(model.parameters()).device)
    eps_model = classifier_free_model(model, labels, w, null_label)
    z_0 = ddim.ddim_sample(eps_model, z_T, schedule, ddim.timestep_sequence(schedule.T, num_steps))
    return decode(vae, z_0, scale)


def latent_eps_loss(schedule: Schedule, label_dropout: float, null_label: int, generator: torch.Generator):
    """``loss_fn(model, (z_0, labels))``: L_simple in latent space with labels dropped to the null label."""
    check_schedule(schedule)
    check_probability("label_dropout", label_dropout)
    check_int("null_label", null_label, minimum=0)

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        z_0, labels = batch
        drop = torch.rand(len(labels), generator=generator).to(labels.device) < label_dropout
        labels = torch.where(drop, torch.full_like(labels, null_label), labels)
        return ddpm.eps_loss(lambda z, t: model(z, t, labels), z_0, schedule, generator)

    return loss_fn


LATENT_CONFIG: dict[str, Any] = {"latent_dim": 8, "num_tokens": 4, "dim": 64, "depth": 2, "heads": 4}
LATENT_RECIPE: dict[str, Any] = {"steps": 1200, "batch": 128, "lr": 2e-3, "label_dropout": 0.1, "seed": 0,
                                 "schedule": "linear", "T": 1000}


def trained_latent_denoiser(progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """The book's latent diffusion model: a :class:`CrossAttentionDenoiser` on the scaled VAE latents of
    the training digits, conditioned on the digits' names. Cached; info adds the VAE's ``scale`` and the
    VAE's own training ``vae_seconds``."""
    from diffusion_edu.data import load_digits
    from diffusion_edu.nets.cross_attention import CrossAttentionDenoiser
    from diffusion_edu.runtime import budget, device
    from diffusion_edu.train import TrainResult, cached_model, train
    from diffusion_edu.vae import trained_digit_vae

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
        latents_on_device, labels_on_device = latents.to(device()), labels.to(device())

        def batch(_step: int) -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.randint(0, len(latents), (recipe["batch"],), generator=generator).to(device())
            return latents_on_device[idx], labels_on_device[idx]

        return train(model, latent_eps_loss(schedule, recipe["label_dropout"], 10, generator), batch,
                     steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=100, cosine_decay=True,
                     progress=progress, description="latent denoiser (cross-attention)")

    vae_key = f"{scale:.6f}"
    model, info = cached_model("latent-xattn", CrossAttentionDenoiser, dict(LATENT_CONFIG), fit,
                               {**recipe, "vae": vae_key})
    vae_seconds = vae_info.get("seconds", float("nan"))
    return model.to(device()), {**info, "scale": scale, "vae_seconds": vae_seconds, "vae": vae}
