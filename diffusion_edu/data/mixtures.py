"""The Gaussian mixture, the book's oracle: its density, its score, and the score of the mixture after
scaling and adding Gaussian noise are all closed forms (chapter 3 derives them), so a sampler driven by
:meth:`GaussianMixture.score` is the best any learned model can do."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from diffusion_edu.core.checks import (
    check_float_tensor,
    check_int,
    check_last_dim,
    check_positive,
    check_probability_vector,
)
from diffusion_edu.core.tensors import LOG_2PI

Scalar = float | torch.Tensor


def _per_sample(value: Scalar, name: str, n: int) -> torch.Tensor:
    """A float or an (N,) tensor as an (N, 1, 1) float tensor, for broadcasting over (N, K, D)."""
    if isinstance(value, torch.Tensor):
        value = check_float_tensor(name, value, nonempty=False)
        if value.ndim == 0:
            value = value.expand(n)
        if value.shape != (n,):
            raise ValueError(f"{name}: expected a float or a tensor of shape ({n},), got {tuple(value.shape)}")
        if bool(torch.any(value < 0)):
            raise ValueError(f"{name}: expected values >= 0, got min {value.min().item():.4g}")
        return value.to(torch.float32).view(n, 1, 1)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a float or a tensor, got {type(value).__name__}")
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{name}: expected a value >= 0 (finite), got {value}")
    return torch.full((n, 1, 1), float(value), dtype=torch.float64).to(torch.float32)  # too large: inf, caught


@dataclass(frozen=True)
class GaussianMixture:
    """p(x) = sum_k w_k N(x; mu_k, diag(s_k^2)).

    ``weights`` (K,), ``means`` (K, D), ``stds`` (K,) for isotropic or (K, D) for diagonal
    components.
    """

    weights: torch.Tensor
    means: torch.Tensor
    stds: torch.Tensor

    def __post_init__(self) -> None:
        # integer tensors are promoted to the default float dtype; NaN and inf are rejected
        object.__setattr__(self, "weights", check_probability_vector("weights", self.weights))
        object.__setattr__(self, "means", check_float_tensor("means", self.means, ndim=2))
        object.__setattr__(self, "stds", check_float_tensor("stds", self.stds))
        k, d = self.means.shape
        if self.weights.shape[0] != k:
            raise ValueError(f"weights: expected {k} entries (one per row of means), got {self.weights.shape[0]}")
        if self.stds.shape not in ((k,), (k, d)):
            raise ValueError(f"stds: expected shape ({k},) or ({k}, {d}), got {tuple(self.stds.shape)}")
        check_positive("stds", self.stds)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def variances(self) -> torch.Tensor:
        """(K, D) per-coordinate variances."""
        stds = self.stds if self.stds.ndim == 2 else self.stds[:, None].expand(self.n_components, self.dim)
        return stds**2

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling: a component k ~ w, then x ~ N(mu_k, s_k^2). Returns (x (n, D), k (n,))."""
        check_int("n", n)
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator)
        x = self.means[labels] + self.variances[labels].sqrt() * noise
        return x, labels

    def _component_log_probs(self, x: torch.Tensor, scale: Scalar, noise_std: Scalar) -> tuple[
        torch.Tensor, torch.Tensor, torch.Tensor
    ]:
        """log w_k + log N(x; scale mu_k, scale^2 s_k^2 + noise_std^2): (N, K), plus means and vars."""
        x = check_float_tensor("x", x, ndim=2, nonempty=False)
        check_last_dim("x", x, self.dim)
        n = x.shape[0]
        # the mixture's parameters live on the CPU; the result is computed on x's device (an accelerator's x works)
        scale_ = _per_sample(scale, "scale", n).to(x.device)  # (N, 1, 1)
        noise_ = _per_sample(noise_std, "noise_std", n).to(x.device)
        means = scale_ * self.means.to(x.device)[None]  # (N, K, D)
        variances = scale_**2 * self.variances.to(x.device)[None] + noise_**2  # (N, K, D)
        if not bool(torch.isfinite(variances).all()) or not bool(torch.isfinite(scale_).all()):
            raise ValueError("scale, noise_std: expected values whose squares are finite in float32, got an overflow")
        diff = x[:, None, :] - means  # (N, K, D)
        log_normal = -0.5 * (diff**2 / variances + torch.log(variances) + LOG_2PI).sum(-1)  # (N, K)
        return torch.log(self.weights).to(x.device)[None] + log_normal, diff, variances

    def log_prob(self, x: torch.Tensor, scale: Scalar = 1.0, noise_std: Scalar = 0.0) -> torch.Tensor:
        """log density (N,) of ``scale * X + noise_std * Z`` with X ~ this mixture, Z ~ N(0, I)."""
        log_components, _, _ = self._component_log_probs(x, scale, noise_std)
        return torch.logsumexp(log_components, dim=1)

    def responsibilities(self, x: torch.Tensor, scale: Scalar = 1.0, noise_std: Scalar = 0.0) -> torch.Tensor:
        """p(k | x) (N, K): Bayes' rule over the components."""
        log_components, _, _ = self._component_log_probs(x, scale, noise_std)
        return torch.softmax(log_components, dim=1)

    def score(self, x: torch.Tensor, scale: Scalar = 1.0, noise_std: Scalar = 0.0) -> torch.Tensor:
        """grad_x log p(x) (N, D) of ``scale * X + noise_std * Z``, in closed form.

        Each component stays Gaussian under scaling and added noise, so the score is the
        responsibility-weighted sum of the component scores -(x - m_k) / v_k. ``scale`` and
        ``noise_std`` may be (N,) tensors, one per sample (a batch at different diffusion times).
        """
        log_components, diff, variances = self._component_log_probs(x, scale, noise_std)
        resp = torch.softmax(log_components, dim=1)  # (N, K)
        return -(resp[:, :, None] * diff / variances).sum(1)

    def mean(self) -> torch.Tensor:
        return (self.weights[:, None] * self.means).sum(0)


def eight_gaussians(radius: float = 2.0, std: float = 0.15) -> GaussianMixture:
    """Eight equal-weight isotropic Gaussians evenly spaced on a circle (the "8-Gaussians ring")."""
    check_positive("radius", radius)
    check_positive("std", std)
    radius, std = float(radius), float(std)
    angles = torch.arange(8) * (2 * math.pi / 8)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(torch.full((8,), 1 / 8), means, torch.full((8,), std))


def check_mixture(mixture: object) -> GaussianMixture:
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture: expected a GaussianMixture, got {type(mixture).__name__}")
    return mixture
