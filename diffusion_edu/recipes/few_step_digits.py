"""Progressive distillation (Salimans & Ho 2022, Algorithm 2) of chapter 9's digit U-Net, for the benchmarks' appendix
(chapter 18 distils its 2-D teacher in :func:`diffusion_edu.recipes.few_steps.distilled_2d`; the digits do not fit
its time budget).

- :class:`DigitDenoiser`: chapter 9's eps-prediction :class:`~diffusion_edu.nets.unet.UNet` (linear schedule,
  T = 1000) as an EDM denoiser D(x, sigma) through :func:`~diffusion_edu.processes.edm.discrete_denoiser`, its
  output clipped to the pixels' range [-1, 1], as chapter 9 samples it;
- :func:`digit_distillation_grid`: the teacher's :data:`~diffusion_edu.recipes.few_steps.TEACHER_STEPS`-level
  Karras grid between the schedule's own smallest and largest sigma (then 0), and every (64 / n)-th level of it;
- :func:`distilled_digits`: the student that samples digits in n Euler steps on that grid, each round starting from
  its teacher's weights and cached.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_int, check_number
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.nets.unet import UNet
from diffusion_edu.processes import edm
from diffusion_edu.processes.distillation import progressive_distillation_loss
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.recipes.diffusion import digit_unet
from diffusion_edu.recipes.few_steps import TEACHER_STEPS
from diffusion_edu.training.loop import TrainResult, cached_model, train

DIGIT_T = 1000  # chapter 9's linear schedule


class DigitDenoiser(nn.Module):
    """D(x, sigma) = clip(x - sigma eps(x / sqrt(1 + sigma^2), t(sigma)), -1, 1) around its own digit U-Net
    (:func:`~diffusion_edu.processes.edm.discrete_denoiser` on the linear schedule): the distillation loss and the
    EDM samplers need a denoiser in sigma, and a module, so that a student can copy its teacher's weights.
    ``clip`` bounds the clean-image guess to the pixels' range (DDIM's ``clip_x0``)."""

    def __init__(self, channels: int = 16, clip: bool = True) -> None:
        super().__init__()
        check_int("channels", channels)
        if not isinstance(clip, bool):
            raise TypeError(f"clip: expected a bool, got {type(clip).__name__}")
        self.unet = UNet(in_channels=1, channels=channels, num_classes=0)
        self.schedule = make_schedule("linear", DIGIT_T)
        self.clip = clip

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        out = edm.discrete_denoiser(self.unet, self.schedule)(x, sigma)
        return out.clamp(-1.0, 1.0) if self.clip else out


def digit_sigma_range() -> tuple[float, float]:
    """The smallest and largest sigma_t of chapter 9's linear schedule (~0.01 and ~157): the range where the
    discrete U-Net is valid, and diffusers' Karras grid for a DDPM model (``use_karras_sigmas``)."""
    sigmas = edm.schedule_sigmas(make_schedule("linear", DIGIT_T))
    return float(sigmas[0]), float(sigmas[-1])


def digit_distillation_grid(n_steps: int) -> torch.Tensor:
    """The n-step grid of a digit student: every (TEACHER_STEPS / n)-th level of the teacher's Karras grid
    (rho = 7) between :func:`digit_sigma_range`, then 0; each round's grid is every other level of the last."""
    check_int("n_steps", n_steps)
    if TEACHER_STEPS % n_steps or n_steps & (n_steps - 1):
        raise ValueError(f"n_steps: expected a power of two dividing {TEACHER_STEPS}, got {n_steps}")
    return edm.karras_sigmas(TEACHER_STEPS, *digit_sigma_range())[:: TEACHER_STEPS // n_steps]


def digit_teacher(progress: bool = True) -> tuple[DigitDenoiser, dict[str, Any]]:
    """Chapter 9's cached digit U-Net (:func:`~diffusion_edu.recipes.diffusion.digit_unet`) inside a
    :class:`DigitDenoiser`."""
    unet, info = digit_unet(progress=progress)
    teacher = DigitDenoiser(channels=unet.channels)
    teacher.unet.load_state_dict(unet.state_dict())
    return teacher.to(device()).eval(), info


def distilled_digits(n_steps: int, steps_per_round: int = 500, batch_size: int = 128, lr: float = 5e-4,
                     seed: int = 0, progress: bool = True) -> tuple[DigitDenoiser, dict[str, Any]]:
    """The student that samples digits in ``n_steps`` Euler steps on :func:`digit_distillation_grid` (n_steps),
    after log2(64 / n_steps) rounds of progressive distillation of :func:`digit_teacher`, each round trained with
    :func:`~diffusion_edu.processes.distillation.progressive_distillation_loss` on the training digits
    (sigma_data = their standard deviation), the student starting from its teacher's weights (Algorithm 2).

    Why these settings (measured at one thread, 500 samples, one seed; the teacher's Euler-64 is 2.6x the floor and
    its own 4-step Euler 11x): 500 steps x 128 per round (~28 s each, ~115 s for the four rounds to 4 steps) bring
    the 4-step student to 3.85x the floor; 300 steps gave 3.94x (lr 5e-4), 4.03x (2.5e-4), 4.19x (1e-3). The
    student is trained *clipped*: without the clip its eps network must predict
    D = x - sigma eps to 1/sigma at sigma ~157 and the 4-step student ended at 14x. Each round is cached;
    ``info["seconds"]`` is this round's training time, ``info["total_seconds"]`` that of every round down to this
    one (the U-Net's own training not included)."""
    digit_distillation_grid(n_steps)
    check_int("steps_per_round", steps_per_round)
    check_int("batch_size", batch_size)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    check_int("seed", seed, minimum=0)
    if n_steps == TEACHER_STEPS:
        return digit_teacher(progress=progress)
    teacher, teacher_info = distilled_digits(2 * n_steps, steps_per_round, batch_size, lr, seed, progress)
    images = data.load_digits().train_images
    sigma_data = edm.data_std(images)
    config = {"channels": teacher.unet.channels, "clip": True}
    recipe = {"teacher": "digit-unet", "teacher_steps_trained": budget().steps(700), "schedule": "linear",
              "T": DIGIT_T, "loss": "progressive_distillation", "teacher_grid_steps": TEACHER_STEPS,
              "n_steps": n_steps, "steps": budget().steps(steps_per_round), "batch": batch_size, "lr": lr,
              "seed": seed}
    teacher_grid = digit_distillation_grid(2 * n_steps)

    def fit(model: nn.Module) -> TrainResult:
        model.load_state_dict(teacher.state_dict())  # Algorithm 2: the student starts as its teacher
        model.to(device())
        generator = torch.Generator().manual_seed(seed + n_steps)
        batches = data.digit_batches(batch_size, generator, device=device())

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            return progressive_distillation_loss(m, teacher, y, teacher_grid, sigma_data, generator)

        return train(model, loss, batches, steps=recipe["steps"], lr=lr, ema_decay=0.99, warmup_steps=20,
                     cosine_decay=True, progress=progress, description=f"distil digits {2 * n_steps} -> {n_steps}")

    model, info = cached_model(f"distilled-digits-{n_steps}", DigitDenoiser, config, fit, recipe)
    before = teacher_info.get("total_seconds", 0.0) if 2 * n_steps < TEACHER_STEPS else 0.0
    return model.to(device()), {**info, "total_seconds": before + info["seconds"]}
