"""Sample-quality metrics, each reported with its real-vs-real floor."""

from diffusion_edu.metrics.mnist import (
    MNIST_SIZE,
    evaluate_mnist,
    mnist_accuracy,
    mnist_classifier,
    mnist_confidence,
    mnist_features,
    mnist_floor,
    mnist_precision_recall,
)
from diffusion_edu.metrics.quality import (
    PIXEL_SLACK,
    Report,
    digit_accuracy,
    digit_classifier,
    digit_confidence,
    digit_features,
    digit_floor,
    digit_precision_recall,
    evaluate_2d,
    evaluate_digits,
    frechet_distance,
    mmd,
    sliced_wasserstein,
)

__all__ = ["MNIST_SIZE", "PIXEL_SLACK", "Report", "digit_accuracy", "digit_classifier", "digit_confidence",
           "digit_features", "digit_floor", "digit_precision_recall", "evaluate_2d", "evaluate_digits",
           "evaluate_mnist", "frechet_distance", "mmd", "mnist_accuracy", "mnist_classifier", "mnist_confidence",
           "mnist_features", "mnist_floor", "mnist_precision_recall", "sliced_wasserstein"]
