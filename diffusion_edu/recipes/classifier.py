"""The metric classifier's recipe: the small CNN whose 128-D features define the digit metrics
(:mod:`diffusion_edu.metrics`), trained through the one loop and cached like every other model.

Its training is not a chapter's: the first metric call of a build trains it (~10 s on 2 cores) and every
later call loads it. It always trains on the CPU, where the metrics run, so every budget gets the same network.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from diffusion_edu.data import load_digits, random_batches
from diffusion_edu.nets.classifier import DigitClassifier
from diffusion_edu.training.loop import TrainResult, cached_model, train

CLASSIFIER_RECIPE: dict[str, Any] = {"steps": 800, "batch": 128, "lr": 2e-3, "weight_decay": 1e-4, "max_shift": 1,
                                     "seed": 1234}
"""No EMA (the metric is the last weights) and no gradient clipping; ``max_shift``: random shifts of up to one
pixel make the features care about shape rather than exact pixel positions."""


def _shifted_batches(generator: torch.Generator, batch_size: int, max_shift: int):
    digits = load_digits()
    draw = random_batches((digits.train_images, digits.train_labels), batch_size, generator)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = draw(step)
        shift = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
        return torch.roll(images, shifts=shift, dims=(2, 3)), labels

    return batch


def trained_digit_classifier(progress: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """The metric classifier (:class:`DigitClassifier`, 97%+ held-out accuracy), from the model cache or
    trained now: cross-entropy on shifted training digits, AdamW. Returns (model in eval mode, info)."""
    recipe = dict(CLASSIFIER_RECIPE)

    def fit(model: nn.Module) -> TrainResult:
        generator = torch.Generator().manual_seed(recipe["seed"])

        def loss(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            images, labels = batch
            return torch.nn.functional.cross_entropy(m(images), labels)

        with torch.enable_grad():  # callers such as the metrics' feature extraction run under no_grad
            return train(model, loss, _shifted_batches(generator, recipe["batch"], recipe["max_shift"]),
                         steps=recipe["steps"], lr=recipe["lr"], weight_decay=recipe["weight_decay"], grad_clip=None,
                         ema_decay=0.0, progress=progress, description="metric classifier")

    return cached_model("digit-classifier", DigitClassifier, {}, fit, recipe)
