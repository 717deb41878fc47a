"""Progressive distillation (Salimans & Ho 2022, Algorithm 2) on the 8x8 digits: chapter 17's EDM-preconditioned
digit U-Net (:func:`~diffusion_edu.recipes.edm.edm_digit_unet`) is the teacher, its sampler Euler on the
:data:`~diffusion_edu.recipes.few_steps.TEACHER_STEPS`-level Karras grid of the 2-D teacher
(:func:`~diffusion_edu.recipes.few_steps.distillation_grid`), halved round after round; chapter 18 runs it beside
its 2-D twin :func:`~diffusion_edu.recipes.few_steps.distilled_2d`.

The teacher's clean-image guess is clipped to the pixels' range [-1, 1] (:func:`~diffusion_edu.processes.edm.clipped`)
in its two steps, as every sampler of the digits clips it, and each student is trained and sampled with the same clip.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_int, check_number
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.processes import edm
from diffusion_edu.processes.distillation import progressive_distillation_loss
from diffusion_edu.recipes.edm import EDMUNet, edm_digit_unet
from diffusion_edu.recipes.few_steps import TEACHER_STEPS, distillation_grid
from diffusion_edu.training.loop import TrainResult, cached_model, train

STEPS_PER_ROUND = 100  # why: see distilled_digits


def distilled_digits(n_steps: int, steps_per_round: int = STEPS_PER_ROUND, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, progress: bool = True) -> tuple[EDMUNet, dict[str, Any]]:
    """The student that samples digits in ``n_steps`` Euler steps on :func:`distillation_grid` (n_steps), after
    log2(64 / n_steps) rounds of progressive distillation of :func:`edm_digit_unet`, each round trained with
    :func:`~diffusion_edu.processes.distillation.progressive_distillation_loss` on the training digits, the student
    starting from its teacher's weights (Algorithm 2). ``n_steps = 64`` returns the teacher itself.

    Why these settings (measured on 2 cores, 500 samples, one seed; Fréchet distance over its floor, the teacher at 50
    Euler steps 1.78x and at 4 steps 13.3x): the student is trained *clipped*, as it is sampled; unclipped it must
    also learn to land background pixels exactly on -1, and its 4-step version ended at 3.5x (lr 1e-3, 150 steps per
    round), against 2.36x clipped. Clipped, 100 steps x 128 per round (~4 s each) give 2.43x at 4 steps and 2.65x at
    1 step; 150 steps give 2.36x and 2.50x for half as much time again. The learning rate is that of the 2-D rounds.
    Each round is cached; ``info["seconds"]`` is this round's training time, ``info["total_seconds"]`` that of
    every round down to this one (the teacher's own training not included)."""
    distillation_grid(n_steps)
    check_int("steps_per_round", steps_per_round)
    check_int("batch_size", batch_size)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    check_int("seed", seed, minimum=0)
    if n_steps == TEACHER_STEPS:
        return edm_digit_unet(progress=progress)
    teacher, teacher_info = distilled_digits(2 * n_steps, steps_per_round, batch_size, lr, seed, progress)
    teacher.eval()
    config = {"in_channels": 1, "channels": teacher.channels, "sigma_data": teacher.sigma_data}
    recipe = {"teacher": "edm-digit-unet", "teacher_steps_trained": budget().steps(700), "clip": 1.0,
              "loss": "progressive_distillation", "teacher_grid_steps": TEACHER_STEPS, "n_steps": n_steps,
              "steps": budget().steps(steps_per_round), "batch": batch_size, "lr": lr, "seed": seed}
    teacher_grid = distillation_grid(2 * n_steps)
    clipped_teacher = edm.clipped(teacher)

    def fit(model: nn.Module) -> TrainResult:
        model.load_state_dict(teacher.state_dict())  # Algorithm 2: the student starts as its teacher
        model.to(device())
        generator = torch.Generator().manual_seed(seed + n_steps)
        batches = data.digit_batches(batch_size, generator, device=device())

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            return progressive_distillation_loss(edm.clipped(m), clipped_teacher, y, teacher_grid, teacher.sigma_data,
                                                 generator)

        return train(model, loss, batches, steps=recipe["steps"], lr=lr, ema_decay=0.99, warmup_steps=20,
                     cosine_decay=True, progress=progress, description=f"distil digits {2 * n_steps} -> {n_steps}")

    model, info = cached_model(f"distilled-digits-{n_steps}", EDMUNet, config, fit, recipe)
    before = teacher_info.get("total_seconds", 0.0) if 2 * n_steps < TEACHER_STEPS else 0.0
    return model.to(device()), {**info, "total_seconds": before + info["seconds"]}
