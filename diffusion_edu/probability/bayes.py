"""Bayes' theorem as torch functions; chapter 1 checks each against its SymPy derivation
(:mod:`diffusion_edu.derivations.bayes`)."""

from __future__ import annotations

import torch

from diffusion_edu.core.checks import check_float_tensor, check_no_overflow, check_positive, check_real, check_tensor

Number = float | torch.Tensor


def _check_probability(name: str, value: Number) -> None:
    if isinstance(value, torch.Tensor):
        tensor = check_float_tensor(name, value, finite=False, nonempty=False)
    else:
        tensor = torch.tensor(check_real(name, value))
    if not bool(torch.all((tensor >= 0) & (tensor <= 1))):  # NaN fails too
        raise ValueError(f"{name}: expected probabilities in [0, 1], got min {tensor.min().item():.4g}, "
                         f"max {tensor.max().item():.4g}")


def diagnostic_posterior(prevalence: Number, sensitivity: Number, specificity: Number) -> Number:
    """P(disease | positive test) = s_e p / (s_e p + (1 - s_p)(1 - p)) (Bayes' theorem with the
    evidence expanded by total probability). Broadcasts over tensors."""
    for name, value in (("prevalence", prevalence), ("sensitivity", sensitivity), ("specificity", specificity)):
        _check_probability(name, value)
    true_positive = sensitivity * prevalence
    false_positive = (1 - specificity) * (1 - prevalence)
    evidence = true_positive + false_positive
    if bool(torch.any(torch.as_tensor(evidence) == 0)):
        raise ValueError("prevalence: P(positive test) is 0 for these values (no true and no false positives), "
                         "so the posterior is undefined")
    return true_positive / evidence


def gaussian_posterior(
    prior_mean: Number, prior_var: Number, observation: Number, noise_var: Number, scale: Number = 1.0
) -> tuple[Number, Number]:
    """Prior x ~ N(prior_mean, prior_var), likelihood y | x ~ N(scale x, noise_var): the posterior
    N(mean, var) with 1/var = 1/prior_var + scale^2/noise_var (precisions add) and
    mean = var (prior_mean/prior_var + scale y/noise_var) (precision-weighted).

    With scale = sqrt(alpha_t), noise_var = beta_t and the prior q(x_{t-1} | x_0) this is DDPM's
    q(x_{t-1} | x_t, x_0) (Ho et al., 2020, eq. 7).
    """
    check_positive("prior_var", prior_var)
    check_positive("noise_var", noise_var)
    prior_mean, observation, scale = (check_real(name, v) for name, v in (
        ("prior_mean", prior_mean), ("observation", observation), ("scale", scale)))
    precision = 1 / prior_var + scale**2 / noise_var
    var = 1 / precision
    mean = var * (prior_mean / prior_var + scale * observation / noise_var)
    return check_no_overflow("prior_mean, prior_var, observation, noise_var, scale", (mean, var))


def sequential_gaussian_mean(
    observations: torch.Tensor, prior_mean: float, prior_var: float, noise_var: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stream observations y_1, y_2, ... of an unknown mean x (y_i = x + N(0, noise_var)) through
    Bayes' rule one at a time: each posterior is the prior of the next step.

    ``observations`` (R, N): R independent streams of N observations. Returns the posterior
    means (R, N + 1) and variances (N + 1,) after 0, 1, ..., N observations.
    """
    observations = check_float_tensor("observations", observations, ndim=2, nonempty=False)
    check_positive("prior_var", prior_var)
    check_positive("noise_var", noise_var)
    check_real("prior_mean", prior_mean)
    streams, length = observations.shape
    means = [torch.full((streams,), float(prior_mean), dtype=observations.dtype)]
    variances = [torch.tensor(float(prior_var), dtype=observations.dtype)]
    for i in range(length):
        mean, var = gaussian_posterior(means[-1], variances[-1], observations[:, i], noise_var)
        means.append(mean)
        variances.append(var)
    return torch.stack(means, dim=1), torch.stack(variances)


def closed_form_posterior_var(n: torch.Tensor, prior_var: float, noise_var: float) -> torch.Tensor:
    """v_n = s^2 v0 / (s^2 + n v0): the posterior variance after n observations, in one shot."""
    n = check_real("n", check_tensor("n", n), nonnegative=True)
    check_positive("prior_var", prior_var)
    check_positive("noise_var", noise_var)
    return noise_var * prior_var / (noise_var + n * prior_var)
