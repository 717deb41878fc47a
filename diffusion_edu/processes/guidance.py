"""Guidance as pure functions: classifier guidance (Dhariwal & Nichol 2021) and classifier-free
guidance (Ho & Salimans 2022), plus wrappers that turn a conditional model into the plain
``EpsModel`` (``model(x_t, t) -> eps_hat``) the samplers of :mod:`diffusion_edu.processes.ddpm` and
:mod:`diffusion_edu.processes.ddim` expect.

Convention for classifier-free guidance (stated once, used everywhere in the book)::

    eps_w = eps_uncond + w (eps_cond - eps_uncond)

so ``w = 0`` is the unconditional model, ``w = 1`` the conditional model, ``w > 1`` guided.
Ho & Salimans write ``(1 + w') eps_cond - w' eps_uncond``: their ``w'`` is our ``w - 1``.

Guidance never touches the forward process q(x_t | x_0): the classifier is trained on x_t from
the *unchanged* forward process and only the reverse step is shifted (note 001 says otherwise;
chapter 13 corrects it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.core.checks import (
    INTEGER_DTYPES,
    check_callable,
    check_float_tensor,
    check_int,
    check_no_overflow,
    check_number,
    check_output,
    check_same_shape,
    check_steps,
    check_tensor,
)
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.ddpm import EpsModel, eps_loss
from diffusion_edu.processes.labelled_mixture import NoisyClassifier, class_mixture, class_posterior, exact_classifier
from diffusion_edu.processes.predictions import eps_from_score
from diffusion_edu.processes.schedules import Schedule, check_schedule

ConditionalModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

NULL_LABEL = 10
"""The extra class index the conditional digit networks reserve for "no label": their label embedding has
10 + 1 rows, and training replaces a dropped label by it (:func:`label_dropout_eps_loss`), so one network
learns both eps(x_t, t, y) and eps(x_t, t) (Ho & Salimans 2022)."""


def _check_scale(name: str, value: float) -> float:
    return check_number(name, value, low=0.0)


def _check_labels(labels: torch.Tensor, n: int | None = None) -> torch.Tensor:
    check_tensor("labels", labels)
    if labels.dtype not in INTEGER_DTYPES or labels.ndim != 1 or (n is not None and labels.shape != (n,)):
        raise ValueError(f"labels: expected an integer tensor of shape ({'N' if n is None else n},), got "
                         f"{labels.dtype} {tuple(labels.shape)}")
    if labels.numel() and bool(torch.any(labels < 0)):
        raise ValueError(f"labels: expected class indices >= 0, got min {int(labels.min())}")
    return labels.long()


# ---------------------------------------------------------------------------------------------
# the two guidance rules
# ---------------------------------------------------------------------------------------------


def classifier_guided_mean(mean: torch.Tensor, variance: torch.Tensor | float, grad_log_prob: torch.Tensor,
                           scale: float) -> torch.Tensor:
    """Dhariwal & Nichol 2021, Algorithm 1: the reverse step N(mu, Sigma) times p(y | x)^s is, to first
    order, N(mu + s Sigma grad_x log p(y | x_t), Sigma). Only the mean moves; Sigma is unchanged."""
    mean = check_float_tensor("mean", mean)
    check_same_shape("grad_log_prob", check_float_tensor("grad_log_prob", grad_log_prob), "mean", mean)
    if isinstance(variance, torch.Tensor):
        variance = check_float_tensor("variance", variance)
        if bool(torch.any(variance < 0)):
            raise ValueError("variance: expected values >= 0, got a negative one")
    else:
        variance = check_number("variance", variance, low=0.0)
    return check_no_overflow("scale", mean + _check_scale("scale", scale) * variance * grad_log_prob)


def classifier_guided_eps(eps: torch.Tensor, alpha_bar: torch.Tensor | float, grad_log_prob: torch.Tensor,
                          scale: float) -> torch.Tensor:
    """Dhariwal & Nichol 2021, Algorithm 2 (the DDIM form): since eps = -sqrt(1 - alpha_bar) score,
    adding s grad log p(y | x_t) to the score is eps_hat = eps - s sqrt(1 - alpha_bar) grad log p(y | x_t)."""
    eps = check_float_tensor("eps", eps)
    check_same_shape("grad_log_prob", check_float_tensor("grad_log_prob", grad_log_prob), "eps", eps)
    if not isinstance(alpha_bar, torch.Tensor):
        alpha_bar = check_number("alpha_bar", alpha_bar, low=0.0, high=1.0)
    elif not bool(torch.all((alpha_bar >= 0) & (alpha_bar <= 1))):  # NaN fails too
        raise ValueError("alpha_bar: expected values in [0, 1], got values outside (or NaN)")
    alpha_bar = torch.as_tensor(alpha_bar, dtype=eps.dtype, device=eps.device)
    # the score moves by s grad log p(y | x_t); eps = -sigma_t score is linear, so eps moves by -sigma_t times that
    shift = eps_from_score(_check_scale("scale", scale) * grad_log_prob, (1 - alpha_bar).sqrt())
    return check_no_overflow("scale", eps + shift)


def classifier_free_eps(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022) in the book's convention:
    eps_w = eps_uncond + w (eps_cond - eps_uncond); w = 0 unconditional, 1 conditional, > 1 guided."""
    eps_uncond = check_float_tensor("eps_uncond", eps_uncond)
    eps_cond = check_same_shape("eps_cond", check_float_tensor("eps_cond", eps_cond), "eps_uncond", eps_uncond)
    return check_no_overflow("w", eps_uncond + _check_scale("w", w) * (eps_cond - eps_uncond))


def classifier_log_prob_grad(classifier: NoisyClassifier, x: torch.Tensor, t: torch.Tensor,
                             labels: torch.Tensor) -> torch.Tensor:
    """grad_x log p_phi(y | x_t, t) of a noisy classifier returning logits (N, K), by autograd.
    Works inside ``torch.no_grad()`` (the samplers run there)."""
    check_callable("classifier", classifier, "classifier(x, t)")
    x = check_float_tensor("x", x, min_ndim=1)
    labels = _check_labels(labels, x.shape[0])
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        logits = classifier(x_in, t)
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != x.shape[0]:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"classifier: expected classifier(x, t) to return logits ({x.shape[0]}, K), got {shape}")
        if not logits.requires_grad:
            raise ValueError("classifier: expected logits that depend on x (differentiable), got a tensor without grad")
        if labels.numel() and int(labels.max()) >= logits.shape[1]:
            raise ValueError(f"labels: expected class indices < K = {logits.shape[1]}, got {int(labels.max())}")
        log_probs = torch.log_softmax(logits, dim=-1)  # (N, K)
        selected = log_probs.gather(1, labels[:, None].to(log_probs.device)).sum()
        (grad,) = torch.autograd.grad(selected, x_in)
    return grad.detach()


# ---------------------------------------------------------------------------------------------
# wrappers: conditional model -> EpsModel
# ---------------------------------------------------------------------------------------------


def conditioned(model: ConditionalModel, labels: torch.Tensor) -> EpsModel:
    """Fix the labels of ``model(x, t, labels)``: the EpsModel x, t -> model(x, t, labels)."""
    check_callable("model", model, "model(x, t, labels)")
    _check_labels(labels)

    def eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x, t, _check_labels(labels, x.shape[0]).to(x.device))

    return eps_model


def classifier_free_model(model: ConditionalModel, labels: torch.Tensor, w: float,
                          null_label: int = NULL_LABEL) -> EpsModel:
    """The guided EpsModel of a model trained with label dropout: one forward pass on the batch
    doubled as [labels, null], combined by :func:`classifier_free_eps`. ``w = 1`` skips the null half."""
    check_callable("model", model, "model(x, t, labels)")
    w = _check_scale("w", w)
    check_int("null_label", null_label, minimum=0)
    _check_labels(labels)

    def eps_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = _check_labels(labels, x.shape[0]).to(x.device)
        if w == 1.0:
            return model(x, t, y)
        if w == 0.0:
            return model(x, t, torch.full_like(y, null_label))
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
        eps_cond, eps_uncond = both.chunk(2)
        return classifier_free_eps(eps_uncond, eps_cond, w)

    return eps_model


def classifier_guided_model(eps_model: EpsModel, classifier: NoisyClassifier, labels: torch.Tensor,
                            schedule: Schedule, scale: float) -> EpsModel:
    """Classifier guidance as an EpsModel (Dhariwal & Nichol 2021, Algorithm 2): an unconditional
    ``eps_model`` plus ``scale`` times the gradient of a noisy classifier's log p(y | x_t, t)."""
    check_callable("eps_model", eps_model, "eps_model(x, t)")
    check_callable("classifier", classifier, "classifier(x, t)")
    check_schedule(schedule)
    scale = _check_scale("scale", scale)
    _check_labels(labels)

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = check_steps("t", t, schedule.T, x.shape[0])
        eps = check_output("eps_model", eps_model(x, t), x, "eps_model(x, t)")
        if scale == 0.0:
            return eps
        grad = classifier_log_prob_grad(classifier, x, t, labels.to(x.device))
        alpha_bar = append_dims(schedule.alpha_bar.to(x.device)[t], x)
        return classifier_guided_eps(eps, alpha_bar, grad, scale)

    return guided


# ---------------------------------------------------------------------------------------------
# training for classifier-free guidance
# ---------------------------------------------------------------------------------------------


def label_dropout_eps_loss(model: ConditionalModel, x0: torch.Tensor, labels: torch.Tensor, schedule: Schedule, *,
                           p: float, generator: torch.Generator | None = None,
                           null_label: int = NULL_LABEL) -> torch.Tensor:
    """L_simple of ``model(x_t, t, labels)`` with each label replaced by ``null_label`` with probability ``p``
    (Ho & Salimans 2022, Algorithm 1): one network learns the conditional and the unconditional eps."""
    check_callable("model", model, "model(x, t, labels)")
    x0 = check_float_tensor("x0", x0, min_ndim=1)
    labels = _check_labels(labels, x0.shape[0])
    p = check_number("p", p, low=0.0, high=1.0)
    check_int("null_label", null_label, minimum=0)
    # drawn on the CPU from the generator (as the timesteps and noise), then moved: the same draws on every device
    drop = torch.rand(len(labels), generator=generator).to(labels.device) < p
    labels = torch.where(drop, torch.full_like(labels, null_label), labels)
    return eps_loss(lambda x, t: model(x, t, labels), x0, schedule, generator)


__all__ = ["NULL_LABEL", "ConditionalModel", "NoisyClassifier", "classifier_guided_mean", "classifier_guided_eps",
           "classifier_free_eps", "classifier_log_prob_grad", "conditioned", "classifier_free_model",
           "classifier_guided_model", "label_dropout_eps_loss", "class_mixture", "class_posterior", "exact_classifier"]
