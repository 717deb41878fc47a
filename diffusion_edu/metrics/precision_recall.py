"""Precision and recall of samples in a feature space (Kynkäänniemi et al. 2019, "Improved Precision and
Recall Metric for Assessing Generative Models").

Each set's manifold is estimated as the union of balls around its points, each ball's radius the distance
to that point's k-th nearest neighbour within its own set. Precision: the fraction of samples inside the
real manifold (are samples realistic?). Recall: the fraction of real points inside the samples' manifold
(do samples cover the data?). A mean confidence cannot tell copies of one digit from a varied set; recall can.
"""

from __future__ import annotations

import torch

from diffusion_edu.core.checks import check_float_tensor, check_int

__all__ = ["PR_NEIGHBOURS", "knn_radii", "manifold_coverage", "precision_recall"]

PR_NEIGHBOURS = 3
"""The paper's k = 3: small enough that a few outliers do not swell the manifold."""


def _check_features(name: str, features: object, k: int) -> torch.Tensor:
    value = check_float_tensor(name, features, ndim=2, nonempty=False)
    if value.shape[0] < k + 1:
        raise ValueError(f"{name}: expected at least k + 1 = {k + 1} rows (each point needs k neighbours), "
                         f"got {value.shape[0]}")
    return value.detach().double().cpu()


def _radii(features: torch.Tensor, k: int) -> torch.Tensor:
    # the smallest distance of each row is to itself (0), so the k-th neighbour is the (k + 1)-th smallest
    return torch.cdist(features, features).kthvalue(k + 1, dim=1).values


def _coverage(reference: torch.Tensor, queries: torch.Tensor, k: int) -> float:
    inside = torch.cdist(queries, reference) <= _radii(reference, k)[None, :]
    return float(inside.any(dim=1).double().mean())


def _check_pair(names: tuple[str, str], a: object, b: object, k: object) -> tuple[torch.Tensor, torch.Tensor, int]:
    k = check_int("k", k)
    a, b = _check_features(names[0], a, k), _check_features(names[1], b, k)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[1]}: expected {a.shape[1]} features per row (as {names[0]}), got {b.shape[1]}")
    return a, b, k


def knn_radii(features: torch.Tensor, k: int = PR_NEIGHBOURS) -> torch.Tensor:
    """Distance of each row of ``features`` (N, D) to its k-th nearest other row: (N,) float64."""
    k = check_int("k", k)
    return _radii(_check_features("features", features, k), k)


def manifold_coverage(reference: torch.Tensor, queries: torch.Tensor, k: int = PR_NEIGHBOURS) -> float:
    """Fraction of ``queries`` rows inside the union of k-NN balls of ``reference`` rows (both (., D))."""
    reference, queries, k = _check_pair(("reference", "queries"), reference, queries, k)
    return _coverage(reference, queries, k)


def precision_recall(real: torch.Tensor, samples: torch.Tensor, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """(precision, recall) of ``samples`` against ``real``, both feature matrices (N, D) with N > k."""
    real, samples, k = _check_pair(("real", "samples"), real, samples, k)
    return _coverage(real, samples, k), _coverage(samples, real, k)
