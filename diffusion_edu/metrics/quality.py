"""Sample-quality metrics, each reported with its floor.

A number like "sliced Wasserstein 0.05" means nothing alone: two independent samples of the
*real* distribution are not at distance 0 either. Every report here therefore carries the
floor (real vs real at the same sample sizes) and the ratio to it.

2-D: sliced Wasserstein distance and MMD. Digits: a small classifier (trained once,
deterministically, cached on disk) gives the mean confidence of samples and a Fréchet
distance in its feature space (FID's recipe with an 8x8 classifier instead of Inception).
The 28x28 MNIST counterparts live in :mod:`diffusion_edu.metrics.mnist`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from diffusion_edu.core.checks import INTEGER_DTYPES, check_float_tensor, check_int, check_ndim, check_positive
from diffusion_edu.core.runtime import CACHE_ENV, cache_dir
from diffusion_edu.data import load_digits
from diffusion_edu.metrics.precision_recall import PR_NEIGHBOURS, precision_recall
from diffusion_edu.nets.classifier import DigitClassifier
from diffusion_edu.recipes.classifier import trained_digit_classifier

__all__ = ["CACHE_ENV", "cache_dir", "sliced_wasserstein", "mmd", "Report", "evaluate_2d", "evaluate_digits",
           "digit_precision_recall"]


# ---------------------------------------------------------------------------------------------
# 2-D
# ---------------------------------------------------------------------------------------------


def _check_points(name: str, x: torch.Tensor) -> torch.Tensor:
    check_ndim(name, x, 2)
    if x.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 points, got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one coordinate per point, got shape {tuple(x.shape)}")
    return check_float_tensor(name, x).detach().float().cpu()


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, n_projections: int = 256, seed: int = 0
) -> float:
    """Sliced 1-Wasserstein distance: the mean over random directions of the 1-D W1 distance
    between the projected samples (quantile functions compared on a common grid)."""
    x, y = _check_points("x", x), _check_points("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: expected dimension {x.shape[1]} (as x), got {y.shape[1]}")
    check_int("n_projections", n_projections)
    check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(x.shape[1], n_projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    levels = (torch.arange(min(len(x), len(y))) + 0.5) / min(len(x), len(y))
    qx = torch.quantile(x @ directions, levels, dim=0)  # (M, P)
    qy = torch.quantile(y @ directions, levels, dim=0)
    return float((qx - qy).abs().mean())


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] = (0.1, 0.3, 1.0)) -> float:
    """Unbiased squared MMD with a sum of RBF kernels exp(-|a - b|^2 / (2 h^2))."""
    x, y = _check_points("x", x).double(), _check_points("y", y).double()
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"y: expected dimension {x.shape[1]} (as x), got {y.shape[1]}")
    if not isinstance(bandwidths, (tuple, list)) or not bandwidths:
        raise ValueError(f"bandwidths: expected a non-empty tuple of kernel widths, got {bandwidths!r}")
    for h in bandwidths:
        check_positive("bandwidths", h)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        sq = torch.cdist(a, b) ** 2
        return sum(torch.exp(-sq / (2 * h**2)) for h in bandwidths)

    n, m = len(x), len(y)
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    term_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    term_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


@dataclass(frozen=True)
class Report:
    """A metric value next to its floor (the same metric between two real samples)."""

    name: str
    value: float
    floor: float

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor > 0 else float("inf")

    def __str__(self) -> str:
        ratio = f", ratio {self.ratio:.2f}" if self.floor > 0 else ""  # MMD^2's unbiased floor can be <= 0
        return f"{self.name} {self.value:.4g} (real-vs-real floor {self.floor:.4g}{ratio})"


def evaluate_2d(
    samples: torch.Tensor, real: torch.Tensor, real_again: torch.Tensor | Sequence[torch.Tensor]
) -> dict[str, Report]:
    """Sliced Wasserstein and MMD of ``samples`` vs ``real``, each with the floor ``real_again`` vs ``real``.

    Pass ``real_again`` of the same size as ``samples`` so the floor is measured at the same n.
    The floor of one real draw varies by ~2x between draws; pass a list of independent draws
    to average it.
    """
    draws = [real_again] if isinstance(real_again, torch.Tensor) else list(real_again)
    if not draws:
        raise ValueError("real_again: expected a tensor or a non-empty list of tensors, got an empty list")
    swd_floor = sum(sliced_wasserstein(d, real) for d in draws) / len(draws)
    mmd_floor = sum(mmd(d, real) for d in draws) / len(draws)
    return {
        "swd": Report("sliced Wasserstein", sliced_wasserstein(samples, real), swd_floor),
        "mmd": Report("MMD^2", mmd(samples, real), mmd_floor),
    }


# ---------------------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def digit_classifier() -> DigitClassifier:
    """The metric classifier (:func:`diffusion_edu.recipes.classifier.trained_digit_classifier`): loaded from
    the model cache, or trained (~10 s) and cached if missing or corrupt; frozen."""
    model, _ = trained_digit_classifier(progress=False)
    return model.eval().requires_grad_(False)


PIXEL_SLACK = 3.0  # unclipped samples overshoot [-1, 1] (they are clamped); beyond this it is another range


def _check_images(name: str, images: torch.Tensor, minimum: int = 1, size: int = 8) -> torch.Tensor:
    """Digit images (N, 1, size, size) in the data's range [-1, 1] (background -1), N >= ``minimum``, finite.
    Pixels within [-3, 3] are clamped to [-1, 1]; images in [0, 1], [0, 16] or [0, 255] are an error
    (map them with 2 x - 1, x / 8 - 1, x / 127.5 - 1), never a silently clamped, meaningless score.
    ``size`` is 8 (scikit-learn's digits) or 28 (MNIST, :mod:`diffusion_edu.metrics.mnist`)."""
    images = check_float_tensor(name, images, nonempty=False)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, size, size):
        raise ValueError(f"{name}: expected shape (N, 1, {size}, {size}), got {tuple(images.shape)}")
    if images.shape[0] < minimum:
        raise ValueError(f"{name}: expected at least {minimum} image(s), got {images.shape[0]}")
    low, high = float(images.min()), float(images.max())
    if low < -PIXEL_SLACK or high > PIXEL_SLACK or low >= 0:
        raise ValueError(f"{name}: expected pixels in [-1, 1] with the background at -1 (the digits' range), got "
                         f"[{low:.4g}, {high:.4g}]; map [0, 1] with 2 x - 1, [0, 16] with x / 8 - 1, "
                         "[0, 255] with x / 127.5 - 1")
    return images.detach().float().cpu().clamp(-1, 1)


def _check_labels(labels: object, n: int) -> torch.Tensor:
    """Class labels for ``n`` images: an integer tensor (n,) with values in [0, 9]."""
    if not isinstance(labels, torch.Tensor) or labels.dtype not in INTEGER_DTYPES or labels.shape != (n,):
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels: expected an integer tensor of shape ({n},) (one per image), got {got}")
    if n and bool(torch.any((labels < 0) | (labels > 9))):
        raise ValueError(f"labels: expected digit classes in [0, 9], got [{int(labels.min())}, {int(labels.max())}]")
    return labels.cpu()


@torch.no_grad()
def digit_features(images: torch.Tensor) -> torch.Tensor:
    """The classifier's 128-D features of digit images (N, 1, 8, 8) in [-1, 1]: (N, 128) float64."""
    images = _check_images("images", images)  # before the classifier (which may need training)
    return digit_classifier().features(images).double()


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}) between Gaussians fitted to two feature sets."""
    a = check_float_tensor("features_a", features_a, ndim=2, nonempty=False).double()
    b = check_float_tensor("features_b", features_b, ndim=2, nonempty=False).double()
    for name, value in (("features_a", a), ("features_b", b)):
        if value.shape[0] < 2:
            raise ValueError(f"{name}: expected at least 2 rows (a covariance needs two samples), got {value.shape[0]}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features_b: expected {a.shape[1]} features per row (as features_a), got {b.shape[1]}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    # Tr (S_a S_b)^{1/2} = sum of sqrt eigenvalues of S_a^{1/2} S_b S_a^{1/2} (symmetric PSD)
    eigval, eigvec = torch.linalg.eigh(cov_a)
    sqrt_a = eigvec @ torch.diag(eigval.clamp(min=0).sqrt()) @ eigvec.T
    middle = torch.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clamp(min=0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * middle)


@torch.no_grad()
def digit_confidence(images: torch.Tensor) -> float:
    """Mean max-softmax probability of the classifier: do samples look like *some* digit?"""
    images = _check_images("images", images)
    logits = digit_classifier()(images)
    return float(torch.softmax(logits, dim=1).max(dim=1).values.mean())


@torch.no_grad()
def digit_accuracy(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of images the classifier assigns to ``labels`` (class-conditional samples)."""
    images = _check_images("images", images)
    labels = _check_labels(labels, len(images))
    logits = digit_classifier()(images)
    return float((logits.argmax(1) == labels).float().mean())


@lru_cache(maxsize=1)
def _train_features() -> torch.Tensor:
    return digit_features(load_digits().train_images)


@lru_cache(maxsize=1)
def digit_floor() -> dict[str, float]:
    """The real data's own scores: held-out real digits vs the training digits."""
    held_out = load_digits().test_images
    return {
        "frechet": frechet_distance(digit_features(held_out), _train_features()),
        "confidence": digit_confidence(held_out),
    }


def evaluate_digits(samples: torch.Tensor) -> dict[str, Report]:
    """Fréchet distance to the training digits and mean confidence, each next to its real-data floor.
    ``samples``: at least 2 images (N, 1, 8, 8) in [-1, 1], checked before anything is trained."""
    samples = _check_images("samples", samples, minimum=2)
    floor = digit_floor()
    return {
        "frechet": Report("digit Fréchet distance", frechet_distance(digit_features(samples), _train_features()),
                          floor["frechet"]),
        "confidence": Report("digit confidence", digit_confidence(samples), floor["confidence"]),
    }


@lru_cache(maxsize=1)
def _precision_recall_floor() -> tuple[float, float]:
    return precision_recall(_train_features(), digit_features(load_digits().test_images))


def digit_precision_recall(samples: torch.Tensor) -> dict[str, Report]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019, k = 3) of ``samples`` (N >= 4, (N, 1, 8, 8))
    against the training digits in the classifier's features, each next to held-out vs train. Unlike the
    confidence, copies of one digit lose recall and uniform noise loses precision."""
    samples = _check_images("samples", samples, minimum=PR_NEIGHBOURS + 1)
    precision, recall = precision_recall(_train_features(), digit_features(samples))
    floor_precision, floor_recall = _precision_recall_floor()
    return {"precision": Report("digit precision", precision, floor_precision),
            "recall": Report("digit recall", recall, floor_recall)}
