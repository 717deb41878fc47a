"""Flow matching and rectified flow (chapter 16): the loss, the exact marginal velocity of a Gaussian
mixture (the oracle) and its density, path straightness and reflow's pairs; the ODE solvers are in
:mod:`diffusion_edu.processes.flow_samplers`.

A Gaussian probability path carries the data x_0 to noise along x_t = alpha_t x_0 + sigma_t eps
(:mod:`diffusion_edu.processes.paths`). Its conditional velocity, given x_0 and eps, is the time
derivative d_alpha_t x_0 + d_sigma_t eps; the marginal velocity u_t(x) = E[d_alpha_t x_0 + d_sigma_t eps |
x_t = x] moves the marginals p_t (the continuity equation) and is what regression on the conditional
velocity learns (Lipman et al. 2023, Theorem 2). Rectified flow (Liu et al. 2023) is the straight path
alpha_t = 1 - t, sigma_t = t, whose conditional velocity is eps - x_0. Time runs from the data at t = 0
to the noise at t = 1, as in Stable Diffusion 3 and diffusers' ``FlowMatchEulerDiscreteScheduler``, so a
sampler integrates from t = 1 down to t = 0.
"""

from __future__ import annotations

import torch

from diffusion_edu.core.checks import (
    check_callable,
    check_choice,
    check_float_tensor,
    check_int,
    check_output,
    check_same_shape,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.data import GaussianMixture, check_mixture
from diffusion_edu.processes.flow_samplers import FLOW_SAMPLERS, VelocityFn, flow_euler, flow_grid
from diffusion_edu.processes.paths import RectifiedFlowPath, as_path


def _rectified_flow(path: object) -> object:
    return RectifiedFlowPath() if path is None else as_path(path)


def flow_matching_loss(model: VelocityFn, x0: torch.Tensor, generator: torch.Generator | None = None, *,
                       noise: torch.Tensor | None = None, path: object = None) -> torch.Tensor:
    """The conditional flow-matching loss E_{t, x_0, eps} || v_theta(x_t, t) - (d_alpha_t x_0 + d_sigma_t eps) ||^2
    with t ~ U(0, 1) (Lipman et al. 2023 eq. 9; Liu et al. 2023 eq. 1 for the straight path, whose target is
    eps - x_0). ``noise`` pairs each x_0 with a given eps (reflow trains on the pairs (x_0, eps) a flow
    produced); otherwise eps ~ N(0, I) is drawn independently. ``path`` defaults to rectified flow."""
    check_callable("model", model, "model(x_t, t)")
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    path = _rectified_flow(path)
    t = torch.rand(x0.shape[0], generator=generator, dtype=x0.dtype).to(x0.device)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    else:
        noise = check_same_shape("noise", check_float_tensor("noise", noise), "x0", x0)
    x_t = path.noise(x0, t, noise)
    d_alpha, d_sigma = (append_dims(rate.to(x0.dtype), x0) for rate in (path.d_alpha(t), path.d_sigma(t)))
    target = d_alpha * x0 + d_sigma * noise
    prediction = check_output("model", model(x_t, t), x_t, "model(x_t, t)")
    return ((prediction - target) ** 2).flatten(1).sum(1).mean()


def _log_joint(mixture: GaussianMixture, x: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """log w_k + log N(x; a m_k, a^2 c_k^2 + s^2) (N, K) in float64 (the mixture's own methods work in float32,
    too coarse for the finite-difference checks of the continuity equation); a, s shaped (N, 1, 1)."""
    variances = a**2 * mixture.variances.double()[None] + s**2  # (N, K, D)
    offset = x[:, None, :] - a * mixture.means.double()[None]
    log_normal = -0.5 * (offset**2 / variances + torch.log(2 * torch.pi * variances)).sum(-1)
    return mixture.weights.double().log()[None] + log_normal


def mixture_velocity(mixture: GaussianMixture, path: object = None) -> VelocityFn:
    """The exact marginal velocity u_t(x) of a Gaussian mixture data distribution carried along ``path``
    (default rectified flow), in closed form: given component k (mean m, per-coordinate variance c^2),
    x_0 and x_t are jointly Gaussian, so with a = alpha_t, s = sigma_t and v = a^2 c^2 + s^2,
    E[x_0 | x_t, k] = m + a c^2 (x_t - a m) / v and E[eps | x_t, k] = s (x_t - a m) / v; the velocity
    is d_alpha E[x_0 | .] + d_sigma E[eps | .], averaged over p(k | x_t) (Bayes' rule). Computed in float64,
    returned in x's dtype; finite at both ends, t = 0 (the data) and t = 1 (the noise)."""
    mixture = check_mixture(mixture)
    path = _rectified_flow(path)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = check_float_tensor("x", x, ndim=2)
        t = path.check_t(torch.as_tensor(t, dtype=torch.float64).cpu().expand(x.shape[0]))
        a, s = path.alpha(t)[:, None, None], path.sigma(t)[:, None, None]  # (N, 1, 1)
        da, ds = path.d_alpha(t)[:, None, None], path.d_sigma(t)[:, None, None]
        means, c2 = mixture.means.double()[None], mixture.variances.double()[None]  # (1, K, D)
        x64 = x.detach().double().cpu()
        resp = torch.softmax(_log_joint(mixture, x64, a, s), dim=1)  # p(k | x_t = x), (N, K)
        per_component = da * means + (da * a * c2 + ds * s) / (a**2 * c2 + s**2) * (x64[:, None, :] - a * means)
        return (resp[:, :, None] * per_component).sum(1).to(x.device, x.dtype)

    return velocity


def mixture_log_density(mixture: GaussianMixture, x: torch.Tensor, t: float, path: object = None) -> torch.Tensor:
    """log p_t(x) (N,) of the mixture carried to time t along ``path``: each component N(m, c^2) becomes
    N(alpha_t m, alpha_t^2 c^2 + sigma_t^2). Float64; the density the oracle velocity moves."""
    mixture, path = check_mixture(mixture), _rectified_flow(path)
    x = check_float_tensor("x", x, ndim=2).detach().double().cpu()
    a, s = (value.reshape(1, 1, 1) for value in (path.alpha(t), path.sigma(t)))
    return torch.logsumexp(_log_joint(mixture, x, a, s), dim=1)


@torch.no_grad()
def straightness(model: VelocityFn, noise: torch.Tensor, n_steps: int = 50) -> float:
    """Liu et al. 2023's straightness S = int_0^1 E || (x_1 - x_0) - v(x_t, t) ||^2 dt (their eq. 4) of the Euler
    trajectories from ``noise`` (x_1) to their ends (x_0), divided by E || x_1 - x_0 ||^2 so that 0 is a straight
    line and the number compares data sets; a Riemann sum over the ``n_steps`` uniform steps, with each step's
    velocity read off the Euler update itself (the displacement over the step divided by its length)."""
    check_int("n_steps", n_steps)
    x1 = check_float_tensor("noise", noise, min_ndim=1)
    grid = flow_grid(n_steps)
    states = [x1]
    x0 = flow_euler(model, x1, grid, callback=lambda step: states.append(step.x))
    chord = x1 - x0  # the constant velocity of the straight line through both ends (time runs 0 -> 1)
    deviations = [(((after - before) / (t_next - t) - chord) ** 2).flatten(1).sum(1).mean()
                  for before, after, t, t_next in zip(states[:-1], states[1:], grid[:-1], grid[1:], strict=True)]
    return float(torch.stack(deviations).mean() / (chord**2).flatten(1).sum(1).mean())


@torch.no_grad()
def reflow_pairs(model: VelocityFn, noise: torch.Tensor, n_steps: int = 50, method: str = "rk4"
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Reflow's coupling (Liu et al. 2023, Algorithm 1): each noise draw x_1 and the data point x_0 the
    flow carries it to (``method``, ``n_steps`` steps), returned as (x_0, x_1). Training a new flow on these
    pairs (``flow_matching_loss(..., noise=x_1)``) straightens the paths: pairs joined by an ODE's
    trajectories cannot cross, so the straight lines between them cross less, and the new velocity averages
    over fewer directions."""
    check_int("n_steps", n_steps)
    check_choice("method", method, tuple(FLOW_SAMPLERS))
    x1 = check_float_tensor("noise", noise, min_ndim=1)
    return FLOW_SAMPLERS[method](model, x1, flow_grid(n_steps)), x1
