"""The 2-D oracle of guidance: a Gaussian mixture whose components carry class labels, so p(x | y) and the
noisy classifier p(y | x_t) are exact (chapter 13 guides with them before it trains anything)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.core.checks import INTEGER_DTYPES, check_int, check_ndim, check_steps
from diffusion_edu.data import GaussianMixture, check_mixture
from diffusion_edu.processes.schedules import Schedule, check_schedule

NoisyClassifier = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def class_mixture(mixture: GaussianMixture, component_classes: torch.Tensor, label: int) -> GaussianMixture:
    """p(x | y): the components whose class is ``label``, their weights renormalised."""
    component_classes = _check_classes(mixture, component_classes)
    check_int("label", label, minimum=0)
    keep = component_classes == label
    if not bool(keep.any()):
        raise ValueError(f"label: expected one of {sorted(set(component_classes.tolist()))}, got {label}")
    weights = mixture.weights[keep]
    return GaussianMixture(weights / weights.sum(), mixture.means[keep], mixture.stds[keep])


def class_posterior(mixture: GaussianMixture, component_classes: torch.Tensor, x: torch.Tensor,
                    scale: float | torch.Tensor = 1.0, noise_std: float | torch.Tensor = 0.0) -> torch.Tensor:
    """The exact noisy classifier p(y | x_t) (N, n_classes): responsibilities summed over each class's
    components (x_t = scale x_0 + noise_std z)."""
    component_classes = _check_classes(mixture, component_classes)
    resp = mixture.responsibilities(x, scale, noise_std)  # (N, K)
    n_classes = int(component_classes.max()) + 1
    one_hot = torch.nn.functional.one_hot(component_classes, n_classes).to(resp.dtype)  # (K, C)
    return resp @ one_hot


def _check_classes(mixture: GaussianMixture, component_classes: torch.Tensor) -> torch.Tensor:
    """The class of each mixture component: a 1-D integer tensor of non-negative labels, one per component."""
    check_mixture(mixture)
    check_ndim("component_classes", component_classes, 1)
    if component_classes.dtype not in INTEGER_DTYPES:
        raise ValueError(f"component_classes: expected an integer tensor of labels, got {component_classes.dtype}")
    if len(component_classes) != mixture.n_components:
        raise ValueError(f"component_classes: expected {mixture.n_components} entries (one per component), "
                         f"got {len(component_classes)}")
    if bool(torch.any(component_classes < 0)):
        raise ValueError(f"component_classes: expected labels >= 0, got min {int(component_classes.min())}")
    return component_classes.long()


def exact_classifier(mixture: GaussianMixture, component_classes: torch.Tensor, schedule: Schedule) -> NoisyClassifier:
    """The exact noisy classifier as logits log p(y | x_t, t), for :func:`classifier_guided_model`."""
    component_classes = _check_classes(mixture, component_classes)
    check_schedule(schedule)

    def classifier(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = check_steps("t", t, schedule.T, x.shape[0] if isinstance(x, torch.Tensor) and x.ndim else None)
        # the mixture lives on the CPU: compute there (x.cpu() keeps the gradient) and answer on x's device
        alpha_bar = schedule.alpha_bar[t.cpu()].to(x.dtype)
        probs = class_posterior(mixture, component_classes, x.cpu(), alpha_bar.sqrt(), (1 - alpha_bar).sqrt())
        return probs.clamp_min(1e-30).log().to(x.device)

    return classifier
