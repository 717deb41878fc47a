"""Quality against training seconds for chapter 19's recipe: the class-conditional rectified flow on 28x28 MNIST
(:func:`diffusion_edu.recipes.mnist.mnist_flow_unet`, its defaults but the number of steps) trained for each time in
``seconds_grid`` of wall clock at this process's threads (steps estimated from a 10-step dry run, so the learning
rate's cosine ends where the time does), each in a temporary model cache so it really trains, then sampled with
:func:`~diffusion_edu.recipes.mnist.mnist_sample` (10 Euler steps) at each guidance weight. Reported per row: steps,
ms per step, Fréchet distance / floor, class accuracy, precision and recall (each next to the held-out digits').

The chapter's CPU budget is two threads; at one thread a step takes ~1.6x longer, so ``seconds_grid`` =
(48, 96, 144, 192) at one thread stands for (30, 60, 90, 120) s at two."""

from __future__ import annotations

import copy
import os
import tempfile
import time
from typing import Any

import torch

from benchmarks.common import markdown_table
from diffusion_edu.core.runtime import CACHE_ENV, device, seed_everything
from diffusion_edu.data import load_mnist
from diffusion_edu.data.batches import random_batches
from diffusion_edu.metrics import mnist as mnist_metrics
from diffusion_edu.nets.velocity import FlowUNet
from diffusion_edu.recipes.mnist import label_dropout_flow_loss, mnist_flow_unet, mnist_sample
from diffusion_edu.training.loop import train

PER_CLASS = 50  # 500 samples per weight, as many as the floor's held-out digits


def steps_per_second(channels: int = 16, batch: int = 32) -> float:
    """The recipe's training speed here: 10 steps after 3 warm-up steps on a fresh copy of its network."""
    digits = load_mnist()
    generator = torch.Generator().manual_seed(0)
    batches = random_batches((digits.train_images, digits.train_labels), batch, generator, device())
    model = FlowUNet(1, channels, 10).to(device())

    def loss(m: torch.nn.Module, b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return label_dropout_flow_loss(m, b[0], b[1], p=0.1, generator=generator)

    train(copy.deepcopy(model), loss, batches, steps=3, progress=False)
    dry = train(model, loss, batches, steps=10, progress=False)
    return dry.steps / dry.seconds


def evaluate(model: torch.nn.Module, w: float, n_steps: int = 10) -> dict[str, float]:
    labels = torch.arange(10).repeat_interleave(PER_CLASS)
    start = time.perf_counter()
    samples = mnist_sample(model, labels, w=w, n_steps=n_steps, generator=torch.Generator().manual_seed(19)).cpu()
    seconds = time.perf_counter() - start
    pr = mnist_metrics.mnist_precision_recall(samples)
    return {"w": w, "fd_ratio": mnist_metrics.evaluate_mnist(samples)["frechet"].ratio,
            "accuracy": mnist_metrics.mnist_accuracy(samples, labels), "precision": pr["precision"].value,
            "recall": pr["recall"].value, "sample_s": seconds}


def run(seconds_grid: tuple[float, ...] = (30.0, 60.0, 90.0, 120.0),
        weights: tuple[float, ...] = (1.0, 2.0)) -> dict[str, Any]:
    seed_everything(0)
    floor = mnist_metrics.mnist_floor()  # trains or loads the metric classifier from the usual cache, once
    speed = steps_per_second()
    rows = []
    saved = os.environ.get(CACHE_ENV)
    try:
        for seconds in seconds_grid:
            with tempfile.TemporaryDirectory() as scratch:
                os.environ[CACHE_ENV] = scratch  # a fresh cache: the recipe trains now
                steps = max(60, int(seconds * speed))
                model, info = mnist_flow_unet(cpu_steps=steps, progress=False)
            for w in weights:
                row = {"target_s": seconds, "train_s": info["seconds"], "steps": info["steps"],
                       "ms_per_step": 1000 * info["seconds"] / info["steps"], **evaluate(model, w)}
                rows.append(row)
                print(row, flush=True)
    finally:
        if saved is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = saved
    columns = ["target_s", "train_s", "steps", "ms_per_step", "w", "fd_ratio", "accuracy", "precision", "recall",
               "sample_s"]
    table = markdown_table(rows, columns)
    print(f"threads {torch.get_num_threads()}, floor: FD {floor['frechet']:.2f}, accuracy {floor['accuracy']:.3f}, "
          f"precision {floor['precision']:.3f}, recall {floor['recall']:.3f}\n{table}")
    return {"rows": rows, "floor": floor, "threads": torch.get_num_threads(), "table": table}


if __name__ == "__main__":
    import sys

    run(tuple(float(s) for s in sys.argv[1:]) or (30.0, 60.0, 90.0, 120.0))
