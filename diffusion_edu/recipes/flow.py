"""Flow-matching recipes (chapter 16): a rectified flow on the 2-D sets, its reflow (2-rectified flow),
and a rectified flow on the 8x8 digits. Each trains through :func:`diffusion_edu.training.loop.train`
and is cached by :func:`diffusion_edu.training.loop.cached_model`; sizes come from
:func:`diffusion_edu.core.runtime.budget`.

The 2-D flow uses the same network (:class:`TimeMLP`'s width and depth), steps, batch, learning rate and
EMA as chapter 8's :func:`diffusion_edu.recipes.diffusion.ddpm_2d`, so the two compare at equal training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_choice, check_int, check_optional_int
from diffusion_edu.core.runtime import budget, device
from diffusion_edu.nets.velocity import FlowMLP, FlowUNet
from diffusion_edu.processes import flow
from diffusion_edu.recipes.diffusion import STEPS_2D
from diffusion_edu.training.loop import TrainResult, cached_model, train

MLP_CONFIG = {"dim": 2, "width": 128, "depth": 3}


def _check(dataset: str, cpu_steps: int | None, seed: int) -> None:
    check_choice("dataset", dataset, data.DATASETS_2D)
    check_optional_int("cpu_steps", cpu_steps)
    check_int("seed", seed, minimum=0)


def flow_2d(dataset: str, cpu_steps: int | None = None, seed: int = 0,
            progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """A rectified flow (:class:`FlowMLP`, a velocity model) trained with the conditional flow-matching
    loss on fresh samples of ``dataset``; steps and batch as chapter 8's DDPM (:data:`STEPS_2D`) unless
    ``cpu_steps`` is given."""
    _check(dataset, cpu_steps, seed)
    default_steps, batch_size = STEPS_2D[dataset]
    recipe = {"dataset": dataset, "loss": "rectified flow", "steps": budget().steps(cpu_steps or default_steps),
              "batch": batch_size, "lr": 2e-3, "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model.to(device())

        def batch(_step: int) -> torch.Tensor:
            return data.sample_2d(dataset, recipe["batch"], generator).to(device())

        return train(model, lambda m, x0: flow.flow_matching_loss(m, x0, generator), batch,
                     steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=100,
                     cosine_decay=True, progress=progress, description=f"rectified flow on {dataset}")

    model, info = cached_model(f"flow2d-{dataset}", FlowMLP, MLP_CONFIG, fit, recipe)
    return model.to(device()), info


def reflow_2d(dataset: str, cpu_steps: int | None = None, n_pairs: int = 10_000, pair_steps: int = 10,
              seed: int = 0, progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """2-rectified flow (Liu et al. 2023, Algorithm 1): ``n_pairs`` noise draws x_1 are carried to data
    x_0 by :func:`flow_2d`'s flow (RK4, ``pair_steps`` steps), and a new flow, started from the first
    one's weights (the paper fine-tunes too), is trained with flow matching on these fixed pairs.
    ``cpu_steps`` defaults to half the first flow's steps."""
    _check(dataset, cpu_steps, seed)
    check_int("n_pairs", n_pairs, minimum=2)
    check_int("pair_steps", pair_steps)
    base_model, base_info = flow_2d(dataset, seed=seed, progress=progress)
    default_steps, batch_size = STEPS_2D[dataset]
    recipe = {"dataset": dataset, "base_steps": base_info["steps"], "n_pairs": n_pairs, "pair_steps": pair_steps,
              "steps": budget().steps(cpu_steps or default_steps // 2), "batch": batch_size, "lr": 1e-3,
              "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed + 1)
        model.load_state_dict(base_model.state_dict())
        model.to(device())
        noise = torch.randn(n_pairs, 2, generator=generator).to(device())
        x0, x1 = flow.reflow_pairs(base_model, noise, n_steps=pair_steps)

        def batch(_step: int) -> tuple[torch.Tensor, torch.Tensor]:
            idx = torch.randint(0, n_pairs, (recipe["batch"],), generator=generator).to(device())
            return x0[idx], x1[idx]

        def loss(m: nn.Module, pair: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            return flow.flow_matching_loss(m, pair[0], generator, noise=pair[1])

        return train(model, loss, batch, steps=recipe["steps"], lr=recipe["lr"], ema_decay=0.995, warmup_steps=50,
                     cosine_decay=True, progress=progress, description=f"reflow on {dataset}")

    model, info = cached_model(f"reflow2d-{dataset}", FlowMLP, MLP_CONFIG, fit, recipe)
    return model.to(device()), info


def flow_digit_unet(cpu_steps: int = 700, channels: int | None = None, seed: int = 0,
                    progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """A rectified flow on the training digits: :class:`FlowUNet`, chapter 9's U-Net and recipe (batch,
    learning rate, EMA) with the flow-matching loss in place of L_simple."""
    check_int("cpu_steps", cpu_steps)
    check_optional_int("channels", channels)
    check_int("seed", seed, minimum=0)
    channels = channels or budget().digit_channels
    config = {"in_channels": 1, "channels": channels}
    recipe = {"loss": "rectified flow", "steps": budget().steps(cpu_steps), "batch": 128, "lr": 2e-3, "seed": seed}

    def fit(model: nn.Module) -> TrainResult:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        images = data.load_digits().train_images.to(device())
        model.to(device())

        def batch(_step: int) -> torch.Tensor:
            return images[torch.randint(0, len(images), (recipe["batch"],), generator=generator).to(device())]

        return train(model, lambda m, x0: flow.flow_matching_loss(m, x0, generator), batch, steps=recipe["steps"],
                     lr=recipe["lr"], ema_decay=0.995, warmup_steps=50, cosine_decay=True, progress=progress,
                     description="rectified flow U-Net on digits")

    model, info = cached_model("flow-digit-unet", FlowUNet, config, fit, recipe)
    return model.to(device()), info
