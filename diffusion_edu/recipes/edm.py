"""Chapter 17's trained models: EDM-preconditioned denoisers (Karras et al. 2022) on the 2-D sets
(:func:`edm_2d`) and on the 8x8 digits (:func:`edm_digit_unet`), trained through
:func:`diffusion_edu.training.loop.train` and cached by :func:`diffusion_edu.training.loop.cached_model`.

It uses chapter 8's network (:class:`TimeMLP`, same width and depth), batch, learning rate and EMA, and *half*
its steps (:data:`~diffusion_edu.recipes.diffusion.STEPS_2D`): on the ring 1,000 steps (~20 s on one core) already
bring Heun with 18 steps to ~1.2x the real-data floor, and a chapter trains both models within its time budget
when the cache is empty. Only the parameterisation (EDM's preconditioning), the loss (EDM's sigma distribution
and weight) and the training length differ from :func:`~diffusion_edu.recipes.ddpm_2d`. The digit model is chapter
9's U-Net and recipe (:func:`~diffusion_edu.recipes.digit_unet`) with EDM's parameterisation and loss in place of
eps-prediction and L_simple, trained as long.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import (
    check_choice,
    check_int,
    check_number,
    check_optional_int,
    check_positive,
    check_sizes,
)
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes.edm import data_std, edm_loss, precondition
from diffusion_edu.recipes.diffusion import STEPS_2D
from diffusion_edu.training.loop import TrainResult, cached_model, train

NOISE_SCALE = 1000.0  # c_noise = log(sigma) / 4 lies in [-1.6, 1.1]; TimeMLP's embedding was made for steps 0..999


class _Preconditioned(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) (EDM eq. 7) around ``self.network`` F, with ``sigma_data``
    the data's standard deviation; F sees the time ``NOISE_SCALE * c_noise``."""

    network: nn.Module

    def __init__(self, sigma_data: float) -> None:
        super().__init__()
        check_positive("sigma_data", sigma_data)
        self.sigma_data = float(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return precondition(lambda x_in, c_noise: self.network(x_in, NOISE_SCALE * c_noise), x,
                            sigma.to(x.dtype), self.sigma_data)


class EDMDenoiser(_Preconditioned):
    """EDM's preconditioned denoiser around a :class:`TimeMLP`: (N, D), (N,) -> (N, D)."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, sigma_data: float = 0.5) -> None:
        super().__init__(sigma_data)
        self.network = TimeMLP(dim=dim, width=width, depth=depth)


class EDMUNet(_Preconditioned):
    """EDM's preconditioned denoiser around chapter 9's :class:`UNet`: (N, C, 8, 8), (N,) -> (N, C, 8, 8)."""

    def __init__(self, in_channels: int = 1, channels: int = 16, sigma_data: float = 0.5) -> None:
        check_sizes(in_channels=in_channels, channels=channels)
        super().__init__(sigma_data)
        self.channels = channels
        self.network = UNet(in_channels=in_channels, channels=channels)


def shifted_p_mean(sigma_data: float) -> float:
    """EDM's P_mean = -1.2 (for images with sigma_data 0.5) shifted by log(sigma_data / 0.5), so the training levels
    sit where they sit for EDM's images relative to the data's own scale; rounded to 3 decimals (it names the model)."""
    return round(-1.2 + math.log(sigma_data / 0.5), 3)


def dataset_sigma_data(dataset: str, n: int = 20_000) -> float:
    """sigma_data of a 2-D set, measured on ``n`` seeded samples and rounded to 2 decimals (it names the model)."""
    check_choice("dataset", dataset, data.DATASETS_2D)
    return round(data_std(data.sample_2d(dataset, n, torch.Generator().manual_seed(12345))), 2)


def edm_2d(dataset: str, cpu_steps: int | None = None, p_mean: float | None = None, p_std: float = 1.2,
           seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """An :class:`EDMDenoiser` trained with EDM's loss on fresh samples of ``dataset`` (half chapter 8's steps
    unless ``cpu_steps`` is given). ln sigma ~ N(p_mean, p_std^2);
    ``p_mean`` defaults to EDM's -1.2 shifted by log(sigma_data / 0.5), so the training levels sit where they sit for
    EDM's images (sigma_data 0.5), relative to the data's own scale."""
    check_choice("dataset", dataset, data.DATASETS_2D)
    check_optional_int("cpu_steps", cpu_steps)
    check_int("seed", seed, minimum=0)
    sigma_data = dataset_sigma_data(dataset)
    p_mean = shifted_p_mean(sigma_data) if p_mean is None else check_number("p_mean", p_mean)
    p_std = check_number("p_std", p_std, low=0.0, low_open=True)
    default_steps, batch_size = STEPS_2D[dataset]
    config = {"dim": 2, "width": 128, "depth": 3, "sigma_data": sigma_data}
    recipe = {"dataset": dataset, "loss": "edm", "p_mean": p_mean, "p_std": p_std,
              "steps": budget().steps(cpu_steps or default_steps // 2), "batch": batch_size, "lr": 2e-3, "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model.to(device())

        def batch(_step: int) -> torch.Tensor:
            return data.sample_2d(dataset, recipe["batch"], generator).to(device())

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            return edm_loss(m, y, sigma_data, generator, p_mean=p_mean, p_std=p_std)

        return train(model, loss, batch, steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=100,
                     cosine_decay=True, progress=progress, description=f"EDM on {dataset}")

    model, info = cached_model(f"edm2d-{dataset}", EDMDenoiser, config, fit, recipe)
    return model.to(device()), info


def digits_sigma_data() -> float:
    """sigma_data of the training digits (pixels in [-1, 1]), rounded to 2 decimals (it names the model)."""
    return round(data_std(data.load_digits().train_images), 2)


def edm_digit_unet(cpu_steps: int = 700, channels: int | None = None, p_std: float = 1.2, seed: int = 0,
                   progress: bool = True) -> tuple[EDMUNet, dict[str, Any]]:
    """An :class:`EDMUNet` trained with EDM's loss on the training digits: chapter 9's network, batch, learning
    rate, EMA and steps (:func:`~diffusion_edu.recipes.digit_unet`). ln sigma ~ N(p_mean, p_std^2) with p_mean EDM's
    -1.2 shifted by log(sigma_data / 0.5), as for :func:`edm_2d`. ``channels`` defaults to the budget's
    ``digit_channels``. Sample it with its output clipped to the pixels' range
    (:func:`~diffusion_edu.processes.edm.clipped`), as chapter 9 samples its model."""
    check_int("cpu_steps", cpu_steps)
    check_optional_int("channels", channels)
    check_int("seed", seed, minimum=0)
    p_std = check_number("p_std", p_std, low=0.0, low_open=True)
    sigma_data = digits_sigma_data()
    p_mean = shifted_p_mean(sigma_data)
    config = {"in_channels": 1, "channels": channels or budget().digit_channels, "sigma_data": sigma_data}
    recipe = {"data": "digits", "loss": "edm", "p_mean": p_mean, "p_std": p_std, "steps": budget().steps(cpu_steps),
              "batch": 128, "lr": 2e-3, "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model.to(device())
        batches = data.digit_batches(recipe["batch"], generator, device=device())

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            return edm_loss(m, y, sigma_data, generator, p_mean=p_mean, p_std=p_std)

        return train(model, loss, batches, steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=50,
                     cosine_decay=True, progress=progress, description="EDM U-Net on digits")

    model, info = cached_model("edm-digit-unet", EDMUNet, config, fit, recipe)
    return model.to(device()), info
