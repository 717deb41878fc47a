"""ODE solvers for flow matching and rectified flow (chapter 16) on the sampler contract of
:mod:`diffusion_edu.processes.sampling`:

    ``name(model, x, grid, *, generator=None, callback=None, **options)``

- ``model``: a velocity field ``v(x, t)`` (t a tensor (N,) of x's dtype): a network trained with
  :func:`diffusion_edu.processes.flow.flow_matching_loss`, or the exact mixture velocity
  :func:`diffusion_edu.processes.flow.mixture_velocity`;
- ``x``: the start x_1 ~ N(0, I) at t = grid[0] = 1;
- ``grid``: times strictly decreasing in [0, 1] (:func:`flow_grid`); N steps need N + 1 times;
- each update reports a :class:`~diffusion_edu.processes.sampling.SamplerStep` with ``t`` the time it started
  from and ``x0`` the straight-line estimate of the data, x - t v(x, t) (exact for a straight path).

Time runs from the data at t = 0 to the noise at t = 1, as in Stable Diffusion 3 and diffusers'
``FlowMatchEulerDiscreteScheduler`` (whose ``sigmas`` are these times), so a sampler integrates dx/dt = v(x, t)
backwards, with negative steps h = t_(i+1) - t_i. Network evaluations for N steps: Euler N, Heun 2N, RK4 4N.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_finite_result,
    check_float_tensor,
    check_int,
    check_number,
    check_output,
)
from diffusion_edu.processes.sampling import Callback, Grid, _show, _values, check_hooks, report
from diffusion_edu.processes.sde_samplers import ode_step

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CALLS_PER_STEP = {"euler": 1, "heun": 2, "rk4": 4}


def flow_grid(n_steps: int, shift: float = 1.0) -> list[float]:
    """n_steps + 1 times from 1 (noise) down to 0 (data), uniform for ``shift = 1`` (rectified flow's Euler
    grid); otherwise each uniform time s becomes shift s / (1 + (shift - 1) s), Stable Diffusion 3's
    shift (Esser et al. 2024, eq. 23), which spends more of the steps at high noise when shift > 1. With
    ``sigmas`` set to this grid's first n_steps times, diffusers' ``FlowMatchEulerDiscreteScheduler(shift=...)``
    visits the same times."""
    check_int("n_steps", n_steps)
    shift = check_number("shift", shift, low=0.0, low_open=True)
    uniform = [1.0 - i / n_steps for i in range(n_steps + 1)]
    return [shift * s / (1 + (shift - 1) * s) for s in uniform]


def check_flow_grid(grid: object) -> list[float]:
    """Times in [0, 1], strictly decreasing, at least two (N updates need N + 1 times)."""
    values = [float(v) for v in _values(grid)]
    if len(values) < 2:
        raise ValueError(f"grid: expected at least two times (a step goes from one to the next), got {values}")
    if not all(0 <= v <= 1 for v in values):
        raise ValueError(f"grid: expected times in [0, 1], got {_show(values)}")
    if any(b >= a for a, b in zip(values[:-1], values[1:], strict=True)):
        raise ValueError(f"grid: expected strictly decreasing times (visited in order), got {_show(values)}")
    return values


def _integrate(model: VelocityFn, x: torch.Tensor, grid: Grid, callback: Callback | None, method: str
               ) -> torch.Tensor:
    """One fixed step of ``method`` (:func:`diffusion_edu.processes.sde_samplers.ode_step`, chapter 12's
    probability-flow solvers) per pair of grid times."""
    check_callable("model", model, "model(x, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    times = check_flow_grid(grid)
    check_hooks(callback)

    def velocity(y: torch.Tensor, s: float) -> torch.Tensor:
        return check_output("model", model(y, torch.full((y.shape[0],), s, dtype=y.dtype, device=y.device)), y)

    first: list[torch.Tensor] = []  # each step's velocity at its start (x_i, t_i), for the callback's x0 estimate

    def remembered(y: torch.Tensor, s: float) -> torch.Tensor:
        v = velocity(y, s)
        if not first:
            first.append(v)
        return v

    for i, (t, t_next) in enumerate(zip(times[:-1], times[1:], strict=True)):
        first.clear()
        x_start = x
        x = ode_step(remembered, x, t, t_next - t, method)
        report(callback, i, t, x, x_start - t * first[0])
    return check_finite_result("model", x, "the model(x, t) calls")


@torch.no_grad()
def flow_euler(model: VelocityFn, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
               callback: Callback | None = None) -> torch.Tensor:
    """Euler's method on dx/dt = v(x, t): x_(i+1) = x_i + (t_(i+1) - t_i) v(x_i, t_i), one model call per step.
    Rectified flow's sampler (Liu et al. 2023) and the update of diffusers' ``FlowMatchEulerDiscreteScheduler``.
    On a straight path (constant velocity along each trajectory) one step is exact. Deterministic
    (``generator`` is unused, kept for the common signature)."""
    return _integrate(model, x, grid, callback, "euler")


@torch.no_grad()
def flow_heun(model: VelocityFn, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
              callback: Callback | None = None) -> torch.Tensor:
    """Heun's second-order method (the explicit trapezoid rule): an Euler trial step to t_(i+1), then the step
    with the average of the velocities at both ends; two model calls per step, also the last (a velocity model
    is finite at t = 0, unlike EDM's slope (x - D) / sigma). Deterministic."""
    return _integrate(model, x, grid, callback, "heun")


@torch.no_grad()
def flow_rk4(model: VelocityFn, x: torch.Tensor, grid: Grid, *, generator: torch.Generator | None = None,
             callback: Callback | None = None) -> torch.Tensor:
    """The classic fourth-order Runge-Kutta method, four model calls per step (at t_i, twice at the midpoint,
    at t_(i+1)); the reference solver for reflow's pairs. Deterministic."""
    return _integrate(model, x, grid, callback, "rk4")


FLOW_SAMPLERS = {"euler": flow_euler, "heun": flow_heun, "rk4": flow_rk4}
