"""Training recipes shared between chapters: which network, which settings, how long.

Each function trains through :func:`diffusion_edu.training.loop.train` and caches the EMA model with
:func:`diffusion_edu.training.loop.cached_model`, so chapter 8 trains the DDPM models once and chapters
9, 10, 13 ... load them. Sizes come from :func:`diffusion_edu.core.runtime.budget`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_choice, check_int, check_optional_int, check_probability
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import ddpm
from diffusion_edu.processes.guidance import label_dropout_eps_loss
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.training.loop import TrainResult, cached_model, train

# (CPU steps, batch) per 2-D dataset: the least training that keeps each model at its chapter-8 claim
# (measured with the respaced 100-level sampler): the ring needs 2000 x 512 to come within ~1.15x of the exact
# oracle (1500 x 256 gives ~1.8x); moons reach the real-data floor after 1000 x 256; the swiss roll's thin
# spiral needs 1500 x 256 to stay under 2x the floor. A step costs ~10 ms at either batch on 2 cores.
STEPS_2D: dict[str, tuple[int, int]] = {"eight_gaussians": (2000, 512), "moons": (1000, 256), "swiss_roll": (1500, 256)}


def _check_recipe_args(schedule: str, T: int, cpu_steps: int | None, seed: int) -> None:  # noqa: N803
    check_choice("schedule", schedule, ["linear", "cosine"])
    check_int("T", T)
    check_optional_int("cpu_steps", cpu_steps)
    check_int("seed", seed, minimum=0)


def ddpm_2d(dataset: str, schedule: str = "linear", T: int = 1000, cpu_steps: int | None = None,
            seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """An eps-prediction :class:`TimeMLP` trained with L_simple on fresh samples of ``dataset``
    (steps and batch from :data:`STEPS_2D` unless ``cpu_steps`` is given)."""
    check_choice("dataset", dataset, data.DATASETS_2D)
    _check_recipe_args(schedule, T, cpu_steps, seed)
    default_steps, batch_size = STEPS_2D[dataset]
    config = {"dim": 2, "width": 128, "depth": 3}
    recipe = {"dataset": dataset, "schedule": schedule, "T": T, "steps": budget().steps(cpu_steps or default_steps),
              "batch": batch_size, "lr": 2e-3, "seed": seed}
    noise_schedule = make_schedule(schedule, T)

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model.to(device())

        def batch(_step: int) -> torch.Tensor:
            return data.sample_2d(dataset, recipe["batch"], generator).to(device())

        return train(model, lambda m, x0: ddpm.eps_loss(m, x0, noise_schedule, generator), batch,
                     steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=100,
                     cosine_decay=True, progress=progress, description=f"DDPM on {dataset}")

    model, info = cached_model(f"ddpm2d-{dataset}", TimeMLP, config, fit, recipe)
    return model.to(device()), info


def digit_unet(schedule: str = "linear", T: int = 1000, conditional: bool = False, cpu_steps: int = 700,
               channels: int | None = None, label_dropout: float = 0.1, seed: int = 0,
               progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """An eps-prediction :class:`UNet` on the training digits. ``conditional`` trains with labels,
    dropped to :data:`~diffusion_edu.processes.guidance.NULL_LABEL` with probability ``label_dropout``
    (classifier-free guidance).

    ``channels`` defaults to the budget's ``digit_channels``: 16 on the CPU, 32 on a GPU. Why 16 x 700 steps
    on the CPU: on 2 cores a step costs ~60 ms at c = 16 and ~110 ms at c = 32, and at equal seconds the small
    network trained longer wins (60 s, DDIM-50: FD 22.0 at c = 16, 27.5 at c = 32, 54.4 at c = 8; the
    ``unet_width`` benchmark). 700 steps (~40 s) reach FD ~22-25 with chapter 9's sampler, 2.4-2.7x the floor."""
    _check_recipe_args(schedule, T, cpu_steps, seed)
    check_optional_int("channels", channels)
    check_probability("label_dropout", label_dropout)
    channels = channels or budget().digit_channels
    config = {"in_channels": 1, "channels": channels, "num_classes": 10 if conditional else 0}  # + the NULL_LABEL row
    recipe = {"schedule": schedule, "T": T, "steps": budget().steps(cpu_steps), "batch": 128, "lr": 2e-3,
              "label_dropout": label_dropout if conditional else 0.0, "seed": seed}
    noise_schedule = make_schedule(schedule, T)

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model.to(device())

        def loss(m: nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            x0, y = b
            if not conditional:
                return ddpm.eps_loss(m, x0, noise_schedule, generator)
            return label_dropout_eps_loss(m, x0, y, noise_schedule, p=recipe["label_dropout"], generator=generator)

        batches = data.digit_batches(recipe["batch"], generator, labels=True, device=device())
        return train(model, loss, batches, steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995,
                     warmup_steps=50, cosine_decay=True, progress=progress,
                     description="conditional U-Net on digits" if conditional else "U-Net on digits")

    name = "digit-unet-cond" if conditional else "digit-unet"
    model, info = cached_model(name, UNet, config, fit, recipe)
    return model.to(device()), info
