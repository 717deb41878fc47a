"""Datasets: 2-D distributions with exact densities and scores, and the 8x8 digits.

Nothing here downloads: the 2-D data are generated, and the digits ship inside scikit-learn.

The Gaussian mixture is the book's oracle. Its density, its score, and the score of the
mixture after scaling and adding Gaussian noise are all closed forms (chapter 3 derives them),
so a sampler driven by :meth:`GaussianMixture.score` is the best any learned model can do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from diffusion_edu._checks import (
    check_choice,
    check_float_tensor,
    check_int,
    check_last_dim,
    check_number,
    check_positive,
    check_probability_vector,
)

LOG_2PI = math.log(2.0 * math.pi)

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
        scale_ = _per_sample(scale, "scale", n)  # (N, 1, 1)
        noise_ = _per_sample(noise_std, "noise_std", n)
        means = scale_ * self.means[None]  # (N, K, D)
        variances = scale_**2 * self.variances[None] + noise_**2  # (N, K, D)
        if not bool(torch.isfinite(variances).all()) or not bool(torch.isfinite(scale_).all()):
            raise ValueError("scale, noise_std: expected values whose squares are finite in float32, got an overflow")
        diff = x[:, None, :] - means  # (N, K, D)
        log_normal = -0.5 * (diff**2 / variances + torch.log(variances) + LOG_2PI).sum(-1)  # (N, K)
        return torch.log(self.weights)[None] + log_normal, diff, variances

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


def two_moons(n: int, noise: float = 0.06, generator: torch.Generator | None = None) -> torch.Tensor:
    """Two interleaving half circles (as scikit-learn's make_moons), centred and scaled to ~unit spread."""
    check_int("n", n)
    noise = check_number("noise", noise, low=0.0)
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.6
    return points + noise * torch.randn(n, 2, generator=generator)


def swiss_roll(n: int, noise: float = 0.05, generator: torch.Generator | None = None) -> torch.Tensor:
    """The 2-D swiss roll (a spiral), scaled to ~unit spread."""
    check_int("n", n)
    noise = check_number("noise", noise, low=0.0)
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    points = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1) / 7.0
    return points + noise * torch.randn(n, 2, generator=generator)


DATASETS_2D = ("eight_gaussians", "moons", "swiss_roll")


def sample_2d(name: str, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) from one of :data:`DATASETS_2D`."""
    check_choice("name", name, DATASETS_2D)
    if name == "eight_gaussians":
        return eight_gaussians().sample(n, generator)[0]
    if name == "moons":
        return two_moons(n, generator=generator)
    return swiss_roll(n, generator=generator)


def check_mixture(mixture: object) -> GaussianMixture:
    if not isinstance(mixture, GaussianMixture):
        raise TypeError(f"mixture: expected a GaussianMixture, got {type(mixture).__name__}")
    return mixture


@dataclass(frozen=True)
class Digits:
    """scikit-learn's 1,797 8x8 digits, pixels mapped from 0..16 to [-1, 1], shape (N, 1, 8, 8).

    The split is fixed (seeded permutation): 1,497 train, 300 held out. The held-out images
    are the "real" side of every digit metric's floor.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


N_HELD_OUT = 300


@lru_cache(maxsize=1)
def load_digits() -> Digits:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 8.0 - 1.0  # (N, 1, 8, 8)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    test, train = order[:N_HELD_OUT], order[N_HELD_OUT:]
    return Digits(images[train], labels[train], images[test], labels[test])
