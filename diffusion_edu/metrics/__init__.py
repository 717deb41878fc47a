"""Sample-quality metrics, each reported with its real-vs-real floor."""

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

__all__ = ["PIXEL_SLACK", "Report", "digit_accuracy", "digit_classifier",
           "digit_confidence", "digit_features",
           "digit_precision_recall", "digit_floor", "evaluate_2d", "evaluate_digits", "frechet_distance",
           "mmd", "sliced_wasserstein"]
