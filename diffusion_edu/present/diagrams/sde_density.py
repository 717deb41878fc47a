"""Song et al.'s picture of a score-based SDE, in 1-D: the marginal density p_t(x) of a two-component
Gaussian mixture under the VP SDE, as a heat map over (t, x), computed exactly (each component stays
Gaussian), with reverse-SDE and probability-flow-ODE paths from the package's samplers driven by the
exact score drawn on top."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from diffusion_edu import data
from diffusion_edu.processes import sde
from diffusion_edu.processes.grids import time_grid
from diffusion_edu.processes.sampling import SamplerStep
from diffusion_edu.processes.sde_samplers import euler_maruyama, probability_flow

T_MIN = 1e-3


def mixture_1d() -> data.GaussianMixture:
    """The 1-D data: 0.3 N(-1.5, 0.2^2) + 0.7 N(1, 0.3^2)."""
    return data.GaussianMixture(torch.tensor([0.3, 0.7]), torch.tensor([[-1.5], [1.0]]), torch.tensor([0.2, 0.3]))


def marginal_density(mixture: data.GaussianMixture, process: sde.VPSDE | sde.VESDE, times: torch.Tensor,
                     xs: torch.Tensor) -> torch.Tensor:
    """p_t(x) on the grid (len(times), len(xs)): the mixture scaled by marginal_scale(t) and blurred by
    N(0, marginal_std(t)^2), in closed form."""
    rows = []
    for t in times:
        t_vec = t.reshape(1)
        scale, std = float(process.marginal_scale(t_vec)), float(process.marginal_std(t_vec))
        rows.append(mixture.log_prob(xs[:, None], scale, std).exp())
    return torch.stack(rows)


def paths(sampler: Callable[..., torch.Tensor], score: sde.ScoreFn, process: sde.VPSDE, starts: torch.Tensor,
          n_steps: int, seed: int) -> tuple[list[float], torch.Tensor]:
    """Times and states (n_steps + 1, len(starts)) of one sampler run from ``starts`` at t = 1."""
    grid = time_grid(n_steps, T_MIN)
    states = [starts[:, 0].clone()]

    def record(step: SamplerStep) -> None:
        states.append(step.x[:, 0].clone())

    sampler(score, starts, grid, sde=process, generator=torch.Generator().manual_seed(seed), callback=record)
    return grid, torch.stack(states)


def draw(n_paths: int = 6, n_steps: int = 200, seed: int = 0) -> Figure:
    """The density heat map with ``n_paths`` probability-flow-ODE paths (black, RK4, ``n_steps // 4``
    steps) and half as many reverse-SDE paths (white, Euler–Maruyama, ``n_steps`` steps) from prior
    points spread over [-1.8, 1.8] at t = 1."""
    mixture, process = mixture_1d(), sde.VPSDE()
    times = torch.linspace(T_MIN, 1.0, 200)
    xs = torch.linspace(-3.0, 3.0, 300)
    density = marginal_density(mixture, process, times, xs)
    score = sde.exact_score(mixture, process)
    starts = torch.linspace(-1.8, 1.8, n_paths)[:, None]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    mesh = ax.pcolormesh(times.numpy(), xs.numpy(), density.sqrt().T.numpy(), cmap="viridis", shading="auto")
    runs = ((euler_maruyama, starts[1::2], n_steps, "white", 0.7, "reverse SDE (Euler–Maruyama)"),
            (probability_flow, starts, n_steps // 4, "black", 1.3, "probability-flow ODE (RK4)"))
    for sampler, points, steps, colour, width, label in runs:
        path_times, states = paths(sampler, score, process, points, steps, seed)
        for i in range(states.shape[1]):
            ax.plot(path_times, states[:, i].numpy(), color=colour, lw=width, label=label if i == 0 else None)
    ax.set_xlim(0, 1)
    ax.set_ylim(float(xs[0]), float(xs[-1]))
    ax.set_xlabel("t  (data at t = 0, noise at t = 1; samplers run right to left)")
    ax.set_ylabel("x")
    ax.set_title(r"$p_t(x)$ of a 1-D mixture under the VP SDE, with paths driven by the exact score")
    fig.colorbar(mesh, ax=ax, label=r"$\sqrt{p_t(x)}$")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    return fig
