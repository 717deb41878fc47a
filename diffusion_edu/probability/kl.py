"""KL divergences as torch functions: closed forms and the Monte Carlo estimator.

Chapter 4 derives each closed form in SymPy (:mod:`diffusion_edu.derivations.kl`) and checks
these functions against it. KL(p||q) = E_p[log p(x) - log q(x)] (Kullback and Leibler, 1951).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from diffusion_edu.core.checks import check_callable, check_float_tensor, check_no_overflow, check_positive, check_real

Number = float | torch.Tensor


def kl_categorical(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sum_k p_k log(p_k / q_k) over the last dimension, with 0 log 0 = 0. Infinite where q_k = 0 < p_k."""
    p, q = check_float_tensor("p", p, min_ndim=1), check_float_tensor("q", q, min_ndim=1)
    if p.shape != q.shape:
        raise ValueError(f"q: expected shape {tuple(p.shape)} (as p), got {tuple(q.shape)}")
    for name, value in (("p", p), ("q", q)):
        if bool((value < 0).any()) or not torch.allclose(value.sum(-1), torch.ones((), dtype=value.dtype), atol=1e-5):
            raise ValueError(f"{name}: expected non-negative probabilities summing to 1 over the last dimension")
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros((), dtype=p.dtype))
    return terms.sum(-1)


def kl_normal(mean_p: Number, std_p: Number, mean_q: Number, std_q: Number) -> torch.Tensor:
    """KL(N(mean_p, std_p^2) || N(mean_q, std_q^2)) = log(std_q/std_p) + (std_p^2 + (mean_p - mean_q)^2)
    / (2 std_q^2) - 1/2, elementwise."""
    check_positive("std_p", std_p)
    check_positive("std_q", std_q)
    mean_p, std_p, mean_q, std_q = (check_real(name, v) for name, v in (
        ("mean_p", mean_p), ("std_p", std_p), ("mean_q", mean_q), ("std_q", std_q)))
    mean_p, std_p, mean_q, std_q = (torch.as_tensor(v, dtype=torch.get_default_dtype()) if not isinstance(
        v, torch.Tensor) else v for v in (mean_p, std_p, mean_q, std_q))
    kl = torch.log(std_q / std_p) + (std_p**2 + (mean_p - mean_q) ** 2) / (2 * std_q**2) - 0.5
    return check_no_overflow("mean_p, std_p, mean_q, std_q", kl)


def kl_diag_normal(
    mean_p: torch.Tensor, std_p: torch.Tensor, mean_q: Number = 0.0, std_q: Number = 1.0
) -> torch.Tensor:
    """KL between diagonal Gaussians: the sum over the last dimension of :func:`kl_normal` (the
    coordinates are independent). With the defaults it is the VAE's KL(N(mu, diag s^2) || N(0, I))
    = sum_d (s_d^2 + mu_d^2 - 1 - log s_d^2) / 2 (Kingma and Welling, 2014, appendix B)."""
    mean_p = check_float_tensor("mean_p", mean_p, min_ndim=1)
    std_p = check_float_tensor("std_p", std_p, min_ndim=1)
    return kl_normal(mean_p, std_p, mean_q, std_q).sum(-1)


def kl_monte_carlo(
    log_p: Callable[[torch.Tensor], torch.Tensor],
    log_q: Callable[[torch.Tensor], torch.Tensor],
    samples: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased estimate of KL(p||q) = E_p[log p - log q] from ``samples`` (N, ...) drawn from p.

    Returns (estimate, standard error); the standard error sqrt(Var[log p/q] / N) falls like 1/sqrt(N).
    """
    check_callable("log_p", log_p, "log_p(x)")
    check_callable("log_q", log_q, "log_q(x)")
    samples = check_float_tensor("samples", samples, min_ndim=1, nonempty=False)
    if samples.shape[0] < 2:
        raise ValueError(f"samples: expected at least 2 samples (a standard error needs two), got {samples.shape[0]}")
    log_ratio = log_p(samples) - log_q(samples)  # (N,)
    if log_ratio.shape != (samples.shape[0],):
        raise ValueError(f"log_p: expected log_p(x) and log_q(x) to return shape ({samples.shape[0]},), got "
                         f"{tuple(log_ratio.shape)}")
    if not bool(torch.isfinite(log_ratio).all()):
        raise ValueError("log_q: expected finite log densities at the samples, got NaN or inf (q = 0 where p > 0 "
                         "makes KL(p||q) infinite)")
    return log_ratio.mean(), log_ratio.std() / math.sqrt(samples.shape[0])
