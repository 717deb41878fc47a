"""Exact log-likelihoods of a score model through the probability-flow ODE (Song et al. 2021
appendix D.2): the ODE is an invertible map from data to the prior, so the change of variables
gives log p_{t_min}(x_0) exactly, up to the integration error.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusion_edu.core.checks import check_callable, check_choice, check_finite_result, check_float_tensor
from diffusion_edu.core.tensors import LOG_2PI
from diffusion_edu.processes.grids import time_grid
from diffusion_edu.processes.sde import SDE, ScoreFn, check_sde
from diffusion_edu.processes.sde_samplers import METHODS, ode_step, velocity_and_score


def _divergence(velocity: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Exact divergence sum_i d v_i / d x_i by autograd, one backward pass per dimension (N,)."""
    div = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    flat_v = velocity.flatten(1)
    for i in range(flat_v.shape[1]):
        grad = torch.autograd.grad(flat_v[:, i].sum(), x, retain_graph=True)[0]
        div = div + grad.flatten(1)[:, i]
    return div


def log_likelihood(
    score: ScoreFn, x0: torch.Tensor, sde: SDE, n_steps: int, t_min: float = 1e-3,
    prior_log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None, method: str = "rk4",
    spacing: str = "geometric",
) -> torch.Tensor:
    """log p_{t_min}(x0) (N,) by the instantaneous change of variables (Chen et al. 2018; Song et al.
    2021 appendix D.2): integrate d/dt [x, log p] = [v(x, t), -div v(x, t)] from t_min to 1 on the
    :func:`diffusion_edu.processes.grids.time_grid` of ``n_steps`` and ``spacing``, then
    log p_{t_min}(x0) = log p_1(x(1)) + int_{t_min}^1 div v dt. The divergence is exact (autograd,
    fine for low dimensions). ``prior_log_prob`` defaults to N(0, prior_std^2 I)."""
    check_callable("score", score, "score(x, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=2)
    check_sde(sde)
    check_choice("method", method, METHODS)
    if prior_log_prob is not None:
        check_callable("prior_log_prob", prior_log_prob, "prior_log_prob(x)")
    grid = time_grid(n_steps, t_min, spacing)[::-1]  # t_min -> 1

    def augmented(state: torch.Tensor, t: float) -> torch.Tensor:
        with torch.enable_grad():
            y = state[:, :-1].detach().requires_grad_(True)
            velocity = velocity_and_score(score, y, t, sde)[0]
            div = _divergence(velocity, y)
        return torch.cat([velocity.detach(), div.detach()[:, None]], dim=1)

    state = torch.cat([x0.flatten(1), torch.zeros(x0.shape[0], 1, dtype=x0.dtype, device=x0.device)], dim=1)
    for t, t_next in zip(grid[:-1], grid[1:], strict=True):
        state = ode_step(augmented, state, t, t_next - t, method)
    x1, integral = state[:, :-1], state[:, -1]
    if prior_log_prob is None:
        std = sde.prior_std()
        dim = x1.shape[1]
        prior = -0.5 * (x1 / std).square().sum(1) - dim * math.log(std) - 0.5 * dim * LOG_2PI
    else:
        prior = prior_log_prob(x1)
        if not isinstance(prior, torch.Tensor) or prior.shape != integral.shape:
            raise ValueError(f"prior_log_prob: expected prior_log_prob(x) to return shape {tuple(integral.shape)}, "
                             f"got {tuple(prior.shape) if isinstance(prior, torch.Tensor) else type(prior).__name__}")
    return check_finite_result("score", prior + integral, "the score(x, t) calls")
