"""The VAE as pure tensor functions (Kingma & Welling 2014), and the book's trained digit VAE.

Chapter 5 derives each formula in :mod:`diffusion_edu.derivations.vae` and checks these
functions against it. The negative ELBO of one image is

    -ELBO(x) = E_{q(z|x)}[-log N(x; f(z), c I)] + KL(q(z|x) || N(0, I)),

estimated with one reparameterised sample z = mean + exp(log_var / 2) * eps.
Chapter 15 (latent diffusion) reuses the trained VAE through :func:`trained_digit_vae`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from diffusion_edu.core.checks import check_float_tensor, check_int, check_number, check_output, check_positive
from diffusion_edu.core.runtime import budget
from diffusion_edu.data import digit_batches
from diffusion_edu.nets.autoencoder import DigitAutoencoder, DigitVAE
from diffusion_edu.training.loop import cached_model, train

LOG_2PI = math.log(2.0 * math.pi)


def _check_same_shape(name: str, value: torch.Tensor, other_name: str, other: torch.Tensor) -> None:
    """Both finite real tensors (integer ones promoted) of the same shape."""
    other = check_float_tensor(other_name, other)
    value = check_float_tensor(name, value)
    if value.shape != other.shape:
        raise ValueError(f"{name}: expected shape {tuple(other.shape)} (as {other_name}), got {tuple(value.shape)}")


def _check_vae(model: object, name: str = "model") -> None:
    if not (isinstance(model, nn.Module) and hasattr(model, "encode") and hasattr(model, "decode")):
        raise TypeError(f"{name}: expected a VAE module with encode and decode (e.g. DigitVAE), got "
                        f"{type(model).__name__}")


def _check_images(images: torch.Tensor) -> torch.Tensor:
    """A batch of 8x8 digit images (N, 1, 8, 8), finite; integer tensors are promoted."""
    images = check_float_tensor("images", images)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 8, 8):
        raise ValueError(f"images: expected shape (N, 1, 8, 8), got {tuple(images.shape)}")
    return images


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per row: sum_j (exp(l_j) + m_j^2 - 1 - l_j) / 2.

    ``mean``, ``log_var``: (N, L) -> (N,). Note 003's formula (2.2) is the *negative* of this.
    """
    _check_same_shape("log_var", log_var, "mean", mean)
    if mean.ndim != 2:
        raise ValueError(f"mean: expected a 2-D tensor (N, L), got shape {tuple(mean.shape)}")
    mean, log_var = check_float_tensor("mean", mean), check_float_tensor("log_var", log_var)
    return 0.5 * (log_var.exp() + mean.square() - 1.0 - log_var).sum(1)


def gaussian_nll(images: torch.Tensor, decoded: torch.Tensor, decoder_var: float) -> torch.Tensor:
    """-log N(x; f(z), c I) per image: |x - f(z)|^2 / (2c) + (D/2) log(2 pi c). (N, ...) -> (N,)."""
    _check_same_shape("decoded", decoded, "images", images)
    check_positive("decoder_var", decoder_var)
    images, decoded = check_float_tensor("images", images, min_ndim=1), check_float_tensor("decoded", decoded)
    n_pixels = images[0].numel()
    squared_error = (images - decoded).flatten(1).square().sum(1)  # (N,)
    return squared_error / (2 * decoder_var) + 0.5 * n_pixels * (LOG_2PI + math.log(decoder_var))


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """z = mean + exp(log_var / 2) * noise, noise ~ N(0, I): a sample of q(z|x) differentiable in (mean, log_var)."""
    _check_same_shape("log_var", log_var, "mean", mean)
    _check_same_shape("noise", noise, "mean", mean)
    mean, log_var, noise = (check_float_tensor(n, v) for n, v in (("mean", mean), ("log_var", log_var),
                                                                  ("noise", noise)))
    return mean + (0.5 * log_var).exp() * noise


def elbo_terms(
    model: DigitVAE, images: torch.Tensor, decoder_var: float, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """One-sample estimates per image (N,): ``reconstruction`` = -log p(x|z), ``kl``, and ``elbo``
    = -(reconstruction + kl), a lower bound on log p(x) in nats."""
    _check_vae(model)
    images = _check_images(images)
    check_positive("decoder_var", decoder_var)
    mean, log_var = model.encode(images)  # (N, L) each
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    latents = reparameterize(mean, log_var, noise)
    reconstruction = gaussian_nll(images, model.decode(latents), decoder_var)
    kl = kl_to_standard_normal(mean, log_var)
    return {"reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl)}


def vae_loss(decoder_var: float, beta: float = 1.0) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """``loss_fn(model, images)`` for :func:`diffusion_edu.training.loop.train`: the mean over the batch of
    reconstruction + beta * KL, per pixel. beta = 1 is minus the ELBO; beta > 1 is the beta-VAE
    (Higgins et al. 2017)."""
    check_positive("decoder_var", decoder_var)
    beta = check_number("beta", beta, low=0.0)

    def loss_fn(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        terms = elbo_terms(model, images, decoder_var)
        return (terms["reconstruction"] + beta * terms["kl"]).mean() / images[0].numel()

    return loss_fn


def autoencoder_loss(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Mean squared reconstruction error of a deterministic autoencoder."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    images = check_float_tensor("images", images, min_ndim=1)
    return (check_output("model", model(images), images, "model(images)") - images).square().mean()


@torch.no_grad()
def sample(model: DigitVAE, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n images (n, 1, 8, 8): decoder means f(z) at z ~ N(0, I), the prior."""
    _check_vae(model)
    check_int("n", n)
    latents = torch.randn(n, model.latent_dim, generator=generator)
    return model.decode(latents.to(next(model.parameters()).device))


@torch.no_grad()
def reconstruction_error(model: nn.Module, images: torch.Tensor) -> float:
    """Mean squared error per pixel of model(images) (the VAE decodes its posterior mean)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    images = check_float_tensor("images", images, min_ndim=1)
    return float((check_output("model", model(images), images, "model(images)") - images).square().mean())


# The recipe of the book's digit VAE: chapter 5 trains it, chapter 15 encodes digits with it.
DIGIT_VAE_CONFIG: dict[str, Any] = {"latent_dim": 8, "width": 256}
DIGIT_VAE_RECIPE: dict[str, Any] = {"decoder_var": 0.1, "steps": 1500, "batch_size": 128, "lr": 2e-3, "seed": 0}


def fit_digit_vae(model: DigitVAE, progress: bool = True) -> Any:
    """Train ``model`` on the digits with :data:`DIGIT_VAE_RECIPE` through the book's loop."""
    recipe = DIGIT_VAE_RECIPE
    generator = torch.Generator().manual_seed(recipe["seed"])
    return train(model, vae_loss(recipe["decoder_var"]), digit_batches(recipe["batch_size"], generator),
                 steps=budget().steps(recipe["steps"]), lr=recipe["lr"], cosine_decay=True, warmup_steps=100,
                 ema_decay=0.995, progress=progress, description="digit VAE")


def trained_digit_vae(progress: bool = True) -> tuple[DigitVAE, dict[str, Any]]:
    """The book's digit VAE: loaded from the model cache, or trained (~15 s on CPU) and cached.

    Returns (model in eval mode, info with the run's ``seconds``, ``steps``, ``losses``).
    """
    # the file name hashes config and recipe; cached_model seeds the initial weights from the recipe's seed
    # (whichever chapter trains it first) and leaves the caller's random state untouched
    return cached_model("digit_vae", DigitVAE, dict(DIGIT_VAE_CONFIG), lambda model: fit_digit_vae(model, progress),
                        DIGIT_VAE_RECIPE)


__all__ = [
    "DigitAutoencoder", "DigitVAE", "kl_to_standard_normal", "gaussian_nll", "reparameterize", "elbo_terms",
    "vae_loss", "autoencoder_loss", "sample", "reconstruction_error", "trained_digit_vae",
]
