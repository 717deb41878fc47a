"""Chapter 18's trained models: few-step students of chapter 17's EDM-preconditioned 2-D teacher
(:func:`diffusion_edu.recipes.edm.edm_2d`), each trained through :func:`diffusion_edu.training.loop.train` and cached
by :func:`diffusion_edu.training.loop.cached_model`.

- :func:`distilled_2d`: progressive distillation (Salimans & Ho 2022, Algorithm 2): the teacher's
  :data:`TEACHER_STEPS`-step Euler (= DDIM) sampler on a Karras grid, halved round after round down to one step,
  each student initialised from the previous one and trained for 200 steps;
- :func:`consistency_2d`: consistency distillation (Song et al. 2023, Algorithm 2) of the same teacher, the network
  initialised from the teacher's (the scalings differ only by the shift sigma_min).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_choice, check_int, check_number
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.processes.consistency import consistency_distillation_loss, consistency_function, update_target
from diffusion_edu.processes.distillation import progressive_distillation_loss
from diffusion_edu.processes.edm import SIGMA_MAX, SIGMA_MIN, karras_sigmas
from diffusion_edu.recipes.diffusion import STEPS_2D
from diffusion_edu.recipes.edm import NOISE_SCALE, EDMDenoiser, dataset_sigma_data, edm_2d
from diffusion_edu.training.loop import TrainResult, cached_model, train

TEACHER_STEPS = 64  # the teacher's sampler: 64 Euler steps on a Karras grid; 6 halvings reach one step


def distillation_grid(n_steps: int) -> torch.Tensor:
    """The n-step grid of a student: every (TEACHER_STEPS / n)-th level of the teacher's Karras grid
    (sigma in [0.002, 80], rho = 7, then 0), so each round's grid is every other level of the last (float64)."""
    check_int("n_steps", n_steps)
    if TEACHER_STEPS % n_steps or n_steps & (n_steps - 1):
        raise ValueError(f"n_steps: expected a power of two dividing {TEACHER_STEPS}, got {n_steps}")
    return karras_sigmas(TEACHER_STEPS, SIGMA_MIN, SIGMA_MAX)[:: TEACHER_STEPS // n_steps]


def _teacher_recipe(dataset: str) -> dict[str, Any]:
    # what names the teacher: chapter 17's recipe at this budget (edm_2d's defaults)
    return {"teacher": f"edm2d-{dataset}", "teacher_steps_trained": budget().steps(STEPS_2D[dataset][0] // 2)}


def _batches(dataset: str, batch_size: int, generator: torch.Generator):
    def batch(_step: int) -> torch.Tensor:
        return data.sample_2d(dataset, batch_size, generator).to(device())
    return batch


def distilled_2d(dataset: str, n_steps: int, steps_per_round: int = 200, batch_size: int = 512, lr: float = 1e-3,
                 seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """The student that samples ``dataset`` in ``n_steps`` Euler steps on :func:`distillation_grid` (n_steps), after
    log2(TEACHER_STEPS / n_steps) rounds of progressive distillation of :func:`~diffusion_edu.recipes.edm.edm_2d`.
    Each round is cached; ``info["seconds"]`` is this round's training time and ``info["total_seconds"]`` that of
    every round down to this one (the teacher's own training not included)."""
    check_choice("dataset", dataset, data.DATASETS_2D)
    distillation_grid(n_steps)
    check_int("steps_per_round", steps_per_round)
    check_int("batch_size", batch_size)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    check_int("seed", seed, minimum=0)
    if n_steps == TEACHER_STEPS:
        return edm_2d(dataset, progress=progress)
    teacher, teacher_info = distilled_2d(dataset, 2 * n_steps, steps_per_round, batch_size, lr, seed, progress)
    sigma_data = dataset_sigma_data(dataset)
    config = {"dim": 2, "width": 128, "depth": 3, "sigma_data": sigma_data}
    recipe = {**_teacher_recipe(dataset), "loss": "progressive_distillation", "teacher_grid_steps": TEACHER_STEPS,
              "n_steps": n_steps, "steps": budget().steps(steps_per_round), "batch": batch_size, "lr": lr, "seed": seed}
    teacher_grid = distillation_grid(2 * n_steps)

    def fit(model: nn.Module) -> TrainResult:
        model.load_state_dict(teacher.state_dict())  # Algorithm 2: the student starts as its teacher
        model.to(device())
        generator = torch.Generator().manual_seed(seed + n_steps)

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            return progressive_distillation_loss(m, teacher, y, teacher_grid, sigma_data, generator)

        return train(model, loss, _batches(dataset, batch_size, generator), steps=recipe["steps"], lr=lr,
                     ema_decay=0.99, warmup_steps=20, cosine_decay=True, progress=progress,
                     description=f"distil {2 * n_steps} -> {n_steps} steps")

    model, info = cached_model(f"distilled2d-{dataset}-{n_steps}", EDMDenoiser, config, fit, recipe)
    before = teacher_info.get("total_seconds", 0.0) if 2 * n_steps < TEACHER_STEPS else 0.0
    return model.to(device()), {**info, "total_seconds": before + info["seconds"]}


class ConsistencyModel(nn.Module):
    """f(x, sigma) = c_skip x + c_out F(c_in x, c_noise) with the consistency scalings (Song et al. 2023,
    Appendix C) around a :class:`TimeMLP` F that sees the time ``NOISE_SCALE * c_noise``, as
    :class:`~diffusion_edu.recipes.edm.EDMDenoiser` does, so F can start from an EDM teacher's network."""

    def __init__(self, dim: int = 2, width: int = 128, depth: int = 3, sigma_data: float = 0.5,
                 sigma_min: float = SIGMA_MIN) -> None:
        super().__init__()
        self.sigma_data, self.sigma_min = float(sigma_data), float(sigma_min)
        self.network = TimeMLP(dim=dim, width=width, depth=depth)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return consistency_function(lambda x_in, c_noise: self.network(x_in, NOISE_SCALE * c_noise), x,
                                    sigma.to(x.dtype), self.sigma_data, self.sigma_min)


def consistency_2d(dataset: str, cpu_steps: int = 600, n_levels: int = 18, target_decay: float = 0.95,
                   heun: bool = False, batch_size: int = 256, lr: float = 5e-4, seed: int = 0,
                   progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """A :class:`ConsistencyModel` distilled from :func:`~diffusion_edu.recipes.edm.edm_2d` with Song et al.'s
    Algorithm 2: ``n_levels`` Karras levels in [sigma_min, 80] (18, their CIFAR-10 choice), one ODE step of the
    teacher between neighbours (Euler by default, half the teacher's cost of their Heun step; on the ring 600 steps
    of either land within noise of each other), the squared L2 distance, and a target network updated with rate
    mu = ``target_decay`` (0.95, theirs; mu = 0 trained much worse here, 3.4x the floor in one step against 2.1x)."""
    check_choice("dataset", dataset, data.DATASETS_2D)
    check_int("cpu_steps", cpu_steps)
    check_int("n_levels", n_levels, minimum=2)
    target_decay = check_number("target_decay", target_decay, low=0.0, high=1.0)
    if not isinstance(heun, bool):
        raise TypeError(f"heun: expected a bool, got {type(heun).__name__}")
    check_int("batch_size", batch_size)
    lr = check_number("lr", lr, low=0.0, low_open=True)
    check_int("seed", seed, minimum=0)
    teacher, _ = edm_2d(dataset, progress=progress)
    sigma_data = dataset_sigma_data(dataset)
    levels = karras_sigmas(n_levels, SIGMA_MIN, SIGMA_MAX, append_zero=False)
    config = {"dim": 2, "width": 128, "depth": 3, "sigma_data": sigma_data, "sigma_min": SIGMA_MIN}
    recipe = {**_teacher_recipe(dataset), "loss": "consistency_distillation", "n_levels": n_levels,
              "target_decay": target_decay, "heun": heun, "steps": budget().steps(cpu_steps),
              "batch": batch_size, "lr": lr, "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        model.network.load_state_dict(teacher.network.state_dict())  # Song et al. start from the teacher
        model.to(device())
        target = copy.deepcopy(model).requires_grad_(False)
        generator = torch.Generator().manual_seed(seed)

        def loss(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
            # theta^- follows theta after every optimiser step: updating it before each loss is the same sequence
            update_target(target, m, target_decay)
            return consistency_distillation_loss(m, target, teacher, y, levels, generator, heun)

        return train(model, loss, _batches(dataset, batch_size, generator), steps=recipe["steps"], lr=lr,
                     ema_decay=0.99, warmup_steps=50, cosine_decay=True, progress=progress,
                     description="consistency distillation")

    model, info = cached_model(f"consistency2d-{dataset}", ConsistencyModel, config, fit, recipe)
    return model.to(device()), info
