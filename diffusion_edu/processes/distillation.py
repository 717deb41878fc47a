"""Progressive distillation (Salimans & Ho 2022, "Progressive distillation for fast sampling of diffusion models",
Algorithm 2): a *student* initialised from its *teacher* learns to take in one deterministic DDIM step what the
teacher takes in two; the student then teaches the next student, halving the number of steps each round.

- :func:`ddim_step_on_path`: DDIM's deterministic step z' = alpha' x_hat + sigma' (z - alpha x_hat) / sigma on any
  Gaussian path z = alpha x + sigma eps (EDM's path has alpha = 1, where it is Euler in sigma, chapter 17);
- :func:`distillation_target`: the x-target x_tilde = (z'' - (sigma''/sigma) z) / (alpha'' - (sigma''/sigma) alpha) for
  which the student's one step lands on the teacher's two-step point z'' (derived in
  :func:`diffusion_edu.derivations.few_steps.distillation_target`), and :func:`v_target` its v-form;
- :func:`teacher_two_steps` and :func:`progressive_distillation_loss`: Algorithm 2 on EDM's path with denoisers
  D(x, sigma) (:mod:`diffusion_edu.processes.edm`), one student step per pair of teacher steps of a grid;
- :func:`halve_grid`: every other level of a grid, the student's grid.

A distilled student samples with :func:`diffusion_edu.processes.edm_samplers.edm_euler` on its halved grid.
"""

from __future__ import annotations

import torch

from diffusion_edu.core.checks import check_callable, check_float_tensor, check_output, check_positive, check_same_shape
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.edm import Denoiser, loss_weight
from diffusion_edu.processes.edm_samplers import check_sigma_grid

Level = torch.Tensor | float


def _level(name: str, value: object, like: torch.Tensor, positive: bool = False) -> torch.Tensor:
    """A path coefficient as a float or a tensor (N,) with one value per sample, broadcast against ``like``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = torch.tensor(float(value), dtype=like.dtype, device=like.device)
    value = check_float_tensor(name, value, nonempty=False)
    if value.ndim not in (0, 1) or (value.ndim == 1 and value.shape[0] != like.shape[0]):
        raise ValueError(f"{name}: expected a number or a tensor ({like.shape[0]},) (one per sample), got shape "
                         f"{tuple(value.shape)}")
    if bool((value <= 0).any() if positive else (value < 0).any()):
        raise ValueError(f"{name}: expected values {'> 0' if positive else '>= 0'}, got min {float(value.min()):.4g}")
    return append_dims(value.to(like.dtype), like) if value.ndim == 1 else value.to(like.device, like.dtype)


def ddim_step_on_path(z: torch.Tensor, x0: torch.Tensor, alpha: Level, sigma: Level, alpha_next: Level,
                      sigma_next: Level) -> torch.Tensor:
    """DDIM's deterministic step (Song, Meng & Ermon 2021, eq. 12 with eta = 0) from z = alpha x + sigma eps to the
    level (alpha_next, sigma_next), given the clean-data prediction ``x0``: alpha_next x0 + sigma_next eps_hat with
    eps_hat = (z - alpha x0) / sigma. ``sigma_next = 0, alpha_next = 1`` returns x0."""
    z = check_float_tensor("z", z, min_ndim=1)
    x0 = check_same_shape("x0", check_float_tensor("x0", x0), "z", z)
    alpha, alpha_next = _level("alpha", alpha, z, positive=True), _level("alpha_next", alpha_next, z, positive=True)
    sigma, sigma_next = _level("sigma", sigma, z, positive=True), _level("sigma_next", sigma_next, z)
    return alpha_next * x0 + sigma_next * (z - alpha * x0) / sigma


def distillation_target(z: torch.Tensor, z_end: torch.Tensor, alpha: Level, sigma: Level, alpha_end: Level,
                        sigma_end: Level) -> torch.Tensor:
    """Salimans & Ho 2022, Algorithm 2: x_tilde = (z'' - (sigma''/sigma) z) / (alpha'' - (sigma''/sigma) alpha), the
    clean-data prediction whose one DDIM step from z (at alpha, sigma) lands exactly on ``z_end``, the teacher's
    point after two steps (at alpha'', sigma''). Requires a step towards the data: alpha''/sigma'' > alpha/sigma
    (a higher signal-to-noise ratio), else the student's step could not reach z'' whatever it predicts."""
    z = check_float_tensor("z", z, min_ndim=1)
    z_end = check_same_shape("z_end", check_float_tensor("z_end", z_end), "z", z)
    alpha, alpha_end = _level("alpha", alpha, z, positive=True), _level("alpha_end", alpha_end, z, positive=True)
    sigma, sigma_end = _level("sigma", sigma, z, positive=True), _level("sigma_end", sigma_end, z)
    ratio = sigma_end / sigma
    coefficient = alpha_end - ratio * alpha
    if bool((coefficient <= 0).any()):
        raise ValueError("sigma_end: expected a level with a higher signal-to-noise ratio than (alpha, sigma), "
                         "alpha_end / sigma_end > alpha / sigma (a step towards the data), got one that is not")
    return (z_end - ratio * z) / coefficient


def v_target(z: torch.Tensor, x_target: torch.Tensor, alpha: Level, sigma: Level) -> torch.Tensor:
    """The same target for a v-network (Salimans & Ho 2022, section 4: v = alpha eps - sigma x):
    v_tilde = (alpha z - (alpha^2 + sigma^2) x_tilde) / sigma, with eps_tilde = (z - alpha x_tilde) / sigma."""
    z = check_float_tensor("z", z, min_ndim=1)
    x_target = check_same_shape("x_target", check_float_tensor("x_target", x_target), "z", z)
    alpha, sigma = _level("alpha", alpha, z, positive=True), _level("sigma", sigma, z, positive=True)
    return (alpha * z - (alpha.square() + sigma.square()) * x_target) / sigma


def _denoise(model: Denoiser, x: torch.Tensor, sigma: torch.Tensor, name: str) -> torch.Tensor:
    return check_output(name, model(x, sigma), x, f"{name}(x, sigma)")


@torch.no_grad()
def teacher_two_steps(teacher: Denoiser, x: torch.Tensor, sigma: torch.Tensor, sigma_mid: torch.Tensor,
                      sigma_end: torch.Tensor) -> torch.Tensor:
    """The teacher's two DDIM steps on EDM's path (alpha = 1): x -> x' at sigma_mid -> x'' at sigma_end, each
    x_next = D + (sigma_next / sigma) (x - D) with D the teacher's denoised guess (levels: tensors (N,))."""
    check_callable("teacher", teacher, "teacher(x, sigma)")
    x = check_float_tensor("x", x, min_ndim=1)
    x_mid = ddim_step_on_path(x, _denoise(teacher, x, sigma, "teacher"), 1.0, sigma, 1.0, sigma_mid)
    return ddim_step_on_path(x_mid, _denoise(teacher, x_mid, sigma_mid, "teacher"), 1.0, sigma_mid, 1.0, sigma_end)


def halve_grid(grid: object) -> torch.Tensor:
    """Every other level of a decreasing noise-level grid ending at 0 with an even number of steps (2N + 1 levels):
    the N-step grid of the student, which keeps both ends (float64)."""
    levels = check_sigma_grid(grid)
    if (len(levels) - 1) % 2:
        raise ValueError(f"grid: expected an even number of steps (an odd number of levels), got {len(levels) - 1} "
                         "steps")
    return torch.tensor(levels[::2], dtype=torch.float64)


def progressive_distillation_loss(student: Denoiser, teacher: Denoiser, y: torch.Tensor, grid: object,
                                  sigma_data: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Salimans & Ho 2022, Algorithm 2 on EDM's path: for each sample a student step i of the halved grid is drawn
    uniformly, sigma = grid[2i], sigma' = grid[2i + 1], sigma'' = grid[2i + 2] (``grid`` is the *teacher's* grid);
    x = y + sigma n; the teacher takes two DDIM steps to x''; the student's denoiser is regressed on
    :func:`distillation_target` with EDM's weight lambda(sigma) = 1 / c_out^2 (which, like the paper's "truncated SNR"
    weight max(SNR, 1), weighs the x-error by ~1/sigma^2 at low noise and by a constant at high noise). The mean over
    the batch of lambda |D_student(x, sigma) - x_tilde|^2 / dim. Noise and steps are drawn on the CPU."""
    check_callable("student", student, "student(x, sigma)")
    y = check_float_tensor("y", y, min_ndim=1)
    check_positive("sigma_data", sigma_data)
    levels = check_sigma_grid(grid)
    if (len(levels) - 1) % 2:
        raise ValueError(f"grid: expected the teacher's grid with an even number of steps, got {len(levels) - 1}")
    levels_t = torch.tensor(levels, dtype=torch.float64)
    step = torch.randint(0, (len(levels) - 1) // 2, (y.shape[0],), generator=generator)
    sigma, sigma_mid, sigma_end = (levels_t[2 * step + k].to(y.device, y.dtype) for k in range(3))
    noise = torch.randn(y.shape, generator=generator).to(y.device, y.dtype)
    x = y + append_dims(sigma, y) * noise
    target = distillation_target(x, teacher_two_steps(teacher, x, sigma, sigma_mid, sigma_end), 1.0, sigma, 1.0,
                                 sigma_end)
    error = (_denoise(student, x, sigma, "student") - target).square().flatten(1).mean(1)
    return (loss_weight(sigma, sigma_data) * error).mean()
