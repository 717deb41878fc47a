"""Latent diffusion (Rombach et al. 2022) on the digits: encode with chapter 5's VAE, scale the
latents to unit variance, run DDPM/DDIM in latent space, decode.

The diffusion process is the book's unchanged one, applied to z instead of x: q(z_t | z_0) =
N(sqrt(alpha_bar) z_0, (1 - alpha_bar) I). Scaling matters: with latents of standard deviation
sigma_z, every level's signal-to-noise ratio is multiplied by sigma_z^2 (Stable Diffusion's
0.18215 is this 1 / sigma_z for its autoencoder).

The recipe that trains the latent denoiser is :func:`diffusion_edu.recipes.latent.trained_latent_denoiser`.
"""

from __future__ import annotations

import torch
from torch import nn

from diffusion_edu.core.checks import check_float_tensor, check_int, check_positive
from diffusion_edu.processes import ddim
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.guidance import NULL_LABEL, classifier_free_model
from diffusion_edu.processes.schedules import Schedule, check_schedule


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
           null_label: int = NULL_LABEL) -> torch.Tensor:
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
    z_0 = ddim.ddim_sample(eps_model, z_T, sub_grid(schedule.T, num_steps), schedule=schedule)
    return decode(vae, z_0, scale)
