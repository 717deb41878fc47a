"""The sampler contract: every sampler in :mod:`diffusion_edu.processes` is

    ``name(model, x, grid, *, generator=None, callback=None, **options)``

- ``model``: the callable the sampler needs (an eps model ``model(x_t, t)`` with ``t`` a long tensor (N,)
  for DDPM and DDIM; a score function ``score(x, t)`` for the SDE samplers and Langevin);
- ``x``: the starting state (N, ...);
- ``grid``: the sequence of times or noise levels the sampler visits, in the order it visits them
  (decreasing: step indices of a schedule, SDE times in (0, 1], NCSN noise levels; the grid helpers
  of :mod:`diffusion_edu.processes.grids` choose one);
- ``generator``: the random source of the noise the sampler injects, or ``noise_sampler``
  (``noise_sampler(x) -> a tensor shaped like x``, k-diffusion's convention) to feed exact noise;
- ``callback(step)``: called after each update with one :class:`SamplerStep`;
- the process (``schedule=`` or ``sde=``) and every other knob are keyword-only options.

This module holds the payload, the shared grid checks and the noise draw, so the samplers say
each thing once.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from diffusion_edu.core.checks import INTEGER_DTYPES, check_callable, check_float_tensor, check_same_shape

Grid = torch.Tensor | Sequence[int] | Sequence[float]
NoiseSampler = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SamplerStep:
    """What a sampler reports after update ``index`` (0-based): ``t`` is the grid entry the update
    evaluated the model at, ``x`` the state after the update, ``x0`` that update's estimate of the
    clean data (None for a sampler that has none, e.g. Langevin dynamics)."""

    index: int
    t: float | int
    x: torch.Tensor
    x0: torch.Tensor | None


Callback = Callable[[SamplerStep], None]


def _values(grid: object) -> list:
    """A 1-D tensor, list or tuple of numbers as a Python list (bools, strings and n-D tensors rejected)."""
    if isinstance(grid, torch.Tensor):
        if grid.ndim != 1 or grid.dtype == torch.bool or grid.is_complex():
            raise ValueError(f"grid: expected a 1-D real tensor, got {grid.dtype} of shape {tuple(grid.shape)}")
        return grid.tolist()
    if not isinstance(grid, (list, tuple)):
        raise TypeError(f"grid: expected a 1-D tensor, list or tuple, got {type(grid).__name__}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in grid):
        raise TypeError(f"grid: expected numbers, got {[type(v).__name__ for v in grid][:5]}")
    return list(grid)


def _show(values: list) -> str:
    return str(values) if len(values) <= 6 else f"[{values[0]}, {values[1]}, ..., {values[-1]}] ({len(values)})"


def _check_order(values: list, increasing: bool, strict: bool, what: str) -> None:
    pairs = zip(values[:-1], values[1:], strict=True)
    if increasing:
        bad = any(not (b > a if strict else b >= a) for a, b in pairs)
    else:
        bad = any(not (b < a if strict else b <= a) for a, b in pairs)
    if bad:
        order = ("strictly " if strict else "") + ("increasing" if increasing else "decreasing")
        raise ValueError(f"grid: expected {order} {what} (visited in order), got {_show(values)}")


def check_step_grid(grid: object, T: int, increasing: bool = False) -> list[int]:  # noqa: N803 (the paper's T)
    """Step indices of a schedule of T steps: integers in [0, T - 1], strictly decreasing (strictly
    increasing for an encoder such as DDIM inversion), at least one."""
    if isinstance(grid, torch.Tensor) and grid.ndim == 1 and grid.dtype not in INTEGER_DTYPES:
        raise ValueError(f"grid: expected integer step indices, got dtype {grid.dtype}")
    values = _values(grid)
    if not values:
        raise ValueError("grid: expected at least one step index, got an empty grid")
    if any(not isinstance(v, numbers.Integral) for v in values):
        raise ValueError(f"grid: expected integer step indices, got {_show(values)}")
    if min(values) < 0 or max(values) >= T:
        raise ValueError(f"grid: expected step indices in [0, {T - 1}], got [{min(values)}, {max(values)}]")
    _check_order(values, increasing, strict=True, what="step indices")
    return [int(v) for v in values]


def check_time_grid(grid: object) -> list[float]:
    """Continuous times in (0, 1], strictly decreasing, at least two (N updates need N + 1 times)."""
    values = [float(v) for v in _values(grid)]
    if len(values) < 2:
        raise ValueError(f"grid: expected at least two times (a step goes from one to the next), got {values}")
    if not all(0 < v <= 1 for v in values):
        raise ValueError(f"grid: expected times in (0, 1], got [{min(values):.4g}, {max(values):.4g}]")
    _check_order(values, increasing=False, strict=True, what="times")
    return values


def check_level_grid(grid: object, strict: bool = True, what: str = "noise levels") -> list[float]:
    """Positive finite levels, decreasing (non-increasing with ``strict=False``), at least one."""
    values = [float(v) for v in _values(grid)]
    if not values:
        raise ValueError(f"grid: expected at least one of the {what}, got an empty grid")
    if not all(0 < v < float("inf") for v in values):
        raise ValueError(f"grid: expected positive finite {what}, got {_show(values)}")
    _check_order(values, increasing=False, strict=strict, what=what)
    return values


def check_hooks(callback: object, noise_sampler: object = None) -> None:
    """The optional callables of the contract."""
    if callback is not None:
        check_callable("callback", callback, "callback(step: SamplerStep)")
    if noise_sampler is not None:
        check_callable("noise_sampler", noise_sampler, "noise_sampler(x)")


def draw_noise(x: torch.Tensor, generator: torch.Generator | None, noise_sampler: NoiseSampler | None,
               draw_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``: ``noise_sampler(x)`` when given (checked), else drawn on
    the CPU from ``generator`` in ``draw_dtype`` (x's dtype if None) and moved to x's device and dtype,
    so a seeded run gives the same numbers on every device."""
    if noise_sampler is not None:
        noise = check_float_tensor("noise_sampler", noise_sampler(x))
        return check_same_shape("noise_sampler", noise, "x", x).to(x.device, x.dtype)
    dtype = x.dtype if draw_dtype is None else draw_dtype
    return torch.randn(x.shape, generator=generator, dtype=dtype).to(x.device, x.dtype)


def report(callback: Callback | None, index: int, t: float | int, x: torch.Tensor,
           x0: torch.Tensor | None) -> None:
    if callback is not None:
        callback(SamplerStep(index, t, x, x0))
