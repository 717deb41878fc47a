"""Where and how big: device choice, seeding, threads, and the one compute-budget switch.

Every chapter asks :func:`budget` for its sizes (training steps, batch, sample counts) instead
of writing literals, so the same notebook runs in ~90 s on a 2-core CPU and trains longer on a
GPU. ``DIFFUSION_EDU_BUDGET=cpu|gpu`` overrides the automatic choice.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffusion_edu._checks import check_choice, check_int

BUDGET_ENV = "DIFFUSION_EDU_BUDGET"
THREADS_ENV = "DIFFUSION_EDU_THREADS"
CACHE_ENV = "DIFFUSION_EDU_CACHE"
DEVICE_ENV = "DIFFUSION_EDU_DEVICE"


def device() -> torch.device:
    """``$DIFFUSION_EDU_DEVICE`` if set (``cpu`` forces the CPU on a GPU machine; ``mps``, ``cuda:1``),
    else ``cuda`` when a GPU is visible, else ``cpu``."""
    name = os.environ.get(DEVICE_ENV)
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"${DEVICE_ENV}: expected a torch device such as 'cpu' or 'cuda:0', got {name!r}") from error


def synchronize() -> None:
    """Wait for the GPU's queued work (a no-op without CUDA). CUDA runs kernels asynchronously, so a wall
    clock read right after a sampler measures only the kernel launches: call this before reading it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a CPU generator seeded the same way.

    Passing the returned generator explicitly to samplers keeps results independent of how many
    random numbers other code drew in between.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads and return the count.

    Default: ``$DIFFUSION_EDU_THREADS`` if set, else all cores (at most 8). On the 2-core CI
    machine two threads are ~1.6x faster than one; two processes training at once with two
    threads each are ~20x slower, so parallel runs should set ``DIFFUSION_EDU_THREADS=1``.
    """
    if n is None:
        n = int(os.environ.get(THREADS_ENV) or min(os.cpu_count() or 1, 8))
    check_int("n", n, minimum=1)
    torch.set_num_threads(n)
    return n


def cache_dir() -> Path:
    """Where trained models are cached between chapters: ``$DIFFUSION_EDU_CACHE`` or
    ~/.cache/diffusion_edu."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "diffusion_edu")


@dataclass(frozen=True)
class Budget:
    """How much compute a chapter may spend. ``scale`` multiplies training lengths."""

    name: str
    scale: float
    # how many samples a chapter draws for metrics and figures
    n_samples_2d: int
    n_samples_digits: int
    # width c of the digit U-Nets (the DiT uses D = 2c, which matches their parameter count): on 2 CPU
    # cores a small network trained for more steps beats a wide one at equal seconds
    digit_channels: int

    def steps(self, cpu_steps: int) -> int:
        """Training steps for a run sized at ``cpu_steps`` on the CPU budget."""
        check_int("cpu_steps", cpu_steps, minimum=1)
        return max(1, int(round(cpu_steps * self.scale)))


BUDGETS: dict[str, Budget] = {
    "cpu": Budget(name="cpu", scale=1.0, n_samples_2d=2000, n_samples_digits=500, digit_channels=16),
    "gpu": Budget(name="gpu", scale=8.0, n_samples_2d=10000, n_samples_digits=2000, digit_channels=32),
}


def budget(name: str | None = None) -> Budget:
    """The compute budget: ``name``, else ``$DIFFUSION_EDU_BUDGET``, else gpu if :func:`device` is CUDA else cpu."""
    if name is None:
        name = os.environ.get(BUDGET_ENV) or ("gpu" if device().type == "cuda" else "cpu")
    check_choice("budget name" if name is None else "name", name, list(BUDGETS))
    return BUDGETS[name]


def describe() -> str:
    """One line for the top of every chapter: device, budget, threads, torch version."""
    b = budget()
    return (
        f"device={device()} budget={b.name} (x{b.scale:g}) threads={torch.get_num_threads()} "
        f"torch={torch.__version__}"
    )
