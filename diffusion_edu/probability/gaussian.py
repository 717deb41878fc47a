"""Gaussian facts as torch functions; chapter 2 checks each against its SymPy derivation."""

from __future__ import annotations

import torch

from diffusion_edu.core.checks import check_float_tensor, check_no_overflow, check_positive, check_real
from diffusion_edu.core.tensors import LOG_2PI

Number = float | torch.Tensor


def normal_log_pdf(x: torch.Tensor, mean: Number, std: Number) -> torch.Tensor:
    """log N(x; mean, std^2), elementwise. Integer ``x`` is promoted to the default float dtype."""
    x = check_float_tensor("x", x, nonempty=False)
    check_positive("std", std)
    mean = check_real("mean", mean)
    std_t = torch.as_tensor(std, dtype=x.dtype)
    return check_no_overflow("x, mean, std", -0.5 * ((x - mean) / std_t) ** 2 - torch.log(std_t) - 0.5 * LOG_2PI)


def reparameterize(mean: Number, std: Number, noise: torch.Tensor) -> torch.Tensor:
    """x = mean + std * noise with noise ~ N(0, 1): a sample of N(mean, std^2) that is
    differentiable in (mean, std)."""
    noise = check_float_tensor("noise", noise, nonempty=False)
    check_positive("std", std)
    mean = check_real("mean", mean)
    return mean + std * noise


def sum_of_independent(mean_1: Number, var_1: Number, mean_2: Number, var_2: Number) -> tuple[Number, Number]:
    """X + Y for independent X ~ N(mean_1, var_1), Y ~ N(mean_2, var_2): (mean_1 + mean_2, var_1 + var_2)."""
    check_positive("var_1", var_1)
    check_positive("var_2", var_2)
    mean_1, mean_2 = check_real("mean_1", mean_1), check_real("mean_2", mean_2)
    return check_no_overflow("mean_1, var_1, mean_2, var_2", (mean_1 + mean_2, var_1 + var_2))


def product_of_densities(
    mean_1: Number, var_1: Number, mean_2: Number, var_2: Number
) -> tuple[Number, Number, Number]:
    """N(x; m1, v1) N(x; m2, v2) = exp(log_scale) N(x; m, v): returns (m, v, log_scale).

    Precisions add (1/v = 1/v1 + 1/v2) and the mean is precision-weighted; the scale
    N(m1; m2, v1 + v2) is why the product is not itself normalised.
    """
    check_positive("var_1", var_1)
    check_positive("var_2", var_2)
    mean_1, mean_2 = check_real("mean_1", mean_1), check_real("mean_2", mean_2)
    var = var_1 * var_2 / (var_1 + var_2)
    mean = (mean_1 * var_2 + mean_2 * var_1) / (var_1 + var_2)
    total = var_1 + var_2
    log_scale = -0.5 * (mean_1 - mean_2) ** 2 / total - 0.5 * (
        torch.log(torch.as_tensor(total)) + LOG_2PI
    )
    return check_no_overflow("mean_1, var_1, mean_2, var_2", (mean, var, log_scale))


def fit_mle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form maximum likelihood for a full-covariance Gaussian on (N, D) data:
    (sample mean (D,), biased sample covariance (D, D))."""
    x = check_float_tensor("x", x, ndim=2, nonempty=False)
    if x.shape[0] < 2:
        raise ValueError(f"x: expected at least 2 rows, got {x.shape[0]}")
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]
