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

from diffusion_edu.core.checks import check_choice, check_int

BUDGET_ENV = "DIFFUSION_EDU_BUDGET"
THREADS_ENV = "DIFFUSION_EDU_THREADS"
CACHE_ENV = "DIFFUSION_EDU_CACHE"
DEVICE_ENV = "DIFFUSION_EDU_DEVICE"


def device() -> torch.device:
    """``$DIFFUSION_EDU_DEVICE`` if set (``cpu`` forces the CPU on a GPU machine; ``mps``, ``cuda:1``),
    else ``cuda`` when a GPU is visible, else ``cpu``."""
    name = os.environ.get(DEVICE_ENV, "").strip()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"${DEVICE_ENV}: expected a torch device such as 'cpu' or 'cuda:0', got {name!r}") from error
    _check_available(chosen)
    return chosen


def _check_available(chosen: torch.device) -> None:
    """A device asked for by name must exist here: a missing GPU is an error, never a silent fallback."""
    if chosen.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (chosen.index is not None and chosen.index >= count):
            raise ValueError(f"${DEVICE_ENV}: expected an available device, got {str(chosen)!r} but this machine "
                             f"has {count} CUDA device(s); unset ${DEVICE_ENV} or set it to 'cpu'")
    elif chosen.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"${DEVICE_ENV}: expected an available device, got 'mps' but MPS is not available "
                             f"here; unset ${DEVICE_ENV} or set it to 'cpu'")


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

    Default: ``$DIFFUSION_EDU_THREADS`` if set, else ``$OMP_NUM_THREADS`` (the usual way to cap a
    process's threads) if set, else all cores (at most 8). On the 2-core CI machine two threads are
    ~1.6x faster than one; two processes training at once with two threads each are ~20x slower,
    so parallel runs should set ``DIFFUSION_EDU_THREADS=1`` or ``OMP_NUM_THREADS=1``.
    """
    if n is None:
        name = next((env for env in (THREADS_ENV, "OMP_NUM_THREADS") if os.environ.get(env, "").strip()), None)
        raw = os.environ.get(name, "").strip() if name else ""
        if not raw:
            n = min(os.cpu_count() or 1, 8)
        elif not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"${name}: expected a whole number of threads >= 1, got {raw!r}")
        else:
            n = int(raw)
    check_int("n", n, minimum=1)
    torch.set_num_threads(n)
    return n


def cache_dir() -> Path:
    """Where trained models are cached between chapters: ``$DIFFUSION_EDU_CACHE`` or
    ~/.cache/diffusion_edu."""
    raw = os.environ.get(CACHE_ENV, "").strip()
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "diffusion_edu"
    if path.exists() and not path.is_dir():
        raise ValueError(f"${CACHE_ENV}: expected a directory for the model cache, got {str(path)!r}, which is a file")
    return path


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
        from_env = os.environ.get(BUDGET_ENV, "").strip()
        if from_env:
            check_choice(f"${BUDGET_ENV}", from_env, list(BUDGETS))
            return BUDGETS[from_env]
        return BUDGETS["gpu" if device().type == "cuda" else "cpu"]
    check_choice("name", name, list(BUDGETS))
    return BUDGETS[name]


def describe() -> str:
    """One line for the top of every chapter: device, budget, threads, torch version."""
    b = budget()
    return (
        f"device={device()} budget={b.name} (x{b.scale:g}) threads={torch.get_num_threads()} "
        f"torch={torch.__version__}"
    )
