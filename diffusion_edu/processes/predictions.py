"""What a network predicts, converted to what a sampler needs, for any noise path.

On a path x_t = alpha_t x_0 + sigma_t eps (:mod:`diffusion_edu.processes.paths`) a network may predict

- ``"eps"``: the noise eps (DDPM, Ho et al. 2020);
- ``"x0"``: the clean point x_0, a *denoiser* D(x_t, t) (EDM, Karras et al. 2022);
- ``"v"``: v = alpha_t eps - sigma_t x_0 (Salimans & Ho 2022, progressive distillation);
- ``"score"``: grad_x log p_t(x_t) = -eps / sigma_t (Song et al. 2021; Vincent 2011);
- ``"velocity"``: u = d x_t / dt = alpha'_t x_0 + sigma'_t eps (flow matching, Lipman et al. 2023;
  rectified flow's u = eps - x_0). Continuous paths only.

Each is one linear combination of x_0 and eps, and x_t is another, so any one prediction and x_t fix
both x_0 and eps, and from them every other prediction: :func:`convert` does exactly this (each formula
is proved in :mod:`diffusion_edu.derivations.predictions`). For a trained network the conversions are
exact between the conditional expectations E[x_0 | x_t] and E[eps | x_t] (Tweedie's formula).
The wrappers :func:`as_eps`, :func:`as_denoiser`, :func:`as_v`, :func:`as_score` and :func:`as_velocity`
turn a model ``model(x_t, t)`` of one kind into another, the way k-diffusion's ``external.py`` wraps an
eps model as a denoiser.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffusion_edu.core.checks import check_callable, check_choice, check_float_tensor, check_output, check_same_shape
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.paths import NoisePath, Process, as_path

KINDS = ("eps", "x0", "v", "score", "velocity")
Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def score_from_eps(eps: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """score = -eps / sigma_t: the noise a network removes, read as the gradient of log p_t (the Gaussian
    kernel's score is -(x_t - alpha_t x_0) / sigma_t^2 = -eps / sigma_t). ``sigma`` broadcasts over eps."""
    return -eps / sigma


def eps_from_score(score: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """eps = -sigma_t score. Being linear, it also converts a *shift* of the score (guidance's s grad log p(y | x_t))
    into the shift of eps."""
    return -sigma * score


def _coefficients(path: NoisePath, t: torch.Tensor, like: torch.Tensor,
                  derivatives: bool) -> dict[str, torch.Tensor]:
    """alpha, sigma, norm = alpha^2 + sigma^2 (and alpha', sigma', rate = alpha sigma' - sigma alpha') as
    float64 per sample, formed there and then cast to ``like``'s dtype, shaped to broadcast over it."""
    alpha, sigma = path.alpha(t), path.sigma(t)
    values = {"alpha": alpha, "sigma": sigma, "norm": alpha.square() + sigma.square()}
    if derivatives:
        d_alpha, d_sigma = path.d_alpha(t), path.d_sigma(t)
        # alpha sigma' - sigma alpha' = -alpha sigma lambda'(t) / 2 > 0: the velocity's determinant
        values |= {"d_alpha": d_alpha, "d_sigma": d_sigma, "rate": alpha * d_sigma - sigma * d_alpha}
    return {name: append_dims(value, like) for name, value in values.items()}


def _x0_and_eps(kind: str, prediction: torch.Tensor, x_t: torch.Tensor,
                c: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve x_t = alpha x_0 + sigma eps together with the prediction for (x_0, eps)."""
    alpha, sigma = c["alpha"], c["sigma"]
    if kind == "eps":
        return (x_t - sigma * prediction) / alpha, prediction
    if kind == "x0":
        return prediction, (x_t - alpha * prediction) / sigma
    if kind == "v":  # any path; on a variance-preserving one norm = alpha^2 + sigma^2 = 1
        norm = c["norm"]
        return (alpha * x_t - sigma * prediction) / norm, (sigma * x_t + alpha * prediction) / norm
    if kind == "score":  # x_0 by Tweedie's formula
        return (x_t + sigma.square() * prediction) / alpha, eps_from_score(prediction, sigma)
    rate = c["rate"]  # kind == "velocity"
    return (c["d_sigma"] * x_t - sigma * prediction) / rate, (alpha * prediction - c["d_alpha"] * x_t) / rate


def _from_x0_and_eps(kind: str, x0: torch.Tensor, eps: torch.Tensor, c: dict[str, torch.Tensor]) -> torch.Tensor:
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        return c["alpha"] * eps - c["sigma"] * x0
    if kind == "score":
        return score_from_eps(eps, c["sigma"])
    return c["d_alpha"] * x0 + c["d_sigma"] * eps  # kind == "velocity"


def convert(prediction: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, path: Process, *,
            source: str = "eps", target: str = "x0") -> torch.Tensor:
    """A ``source`` prediction (one of :data:`KINDS`) at the noisy batch ``x_t`` (N, ...) and times ``t`` (N,)
    as the ``target`` kind, on ``path`` (a NoisePath, Schedule, VPSDE or VESDE). Coefficients are formed in
    float64 and meet the data in its dtype. ``"velocity"`` needs a continuous path.

    Example: ``convert(eps_hat, x_t, t, linear_schedule(), source="eps", target="x0")`` is DDPM's
    x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)."""
    check_choice("source", source, KINDS)
    check_choice("target", target, KINDS)
    path = as_path(path)
    x_t = check_float_tensor("x_t", x_t, min_ndim=1)
    prediction = check_same_shape("prediction", check_float_tensor("prediction", prediction), "x_t", x_t)
    t = path.check_t(t, x_t.shape[0])
    if "velocity" in (source, target) and path.discrete:
        raise TypeError(f"{'source' if source == 'velocity' else 'target'}: 'velocity' is d x_t / dt, which "
                        f"{path!r} (integer steps) does not have; use a continuous path (VPPath is DDPM's limit)")
    if source == target:
        return prediction
    c = _coefficients(path, t, x_t, derivatives="velocity" in (source, target))
    x0, eps = _x0_and_eps(source, prediction, x_t, c)
    return _from_x0_and_eps(target, x0, eps, c)


def as_kind(model: Model, path: Process, *, source: str, target: str) -> Model:
    """``model(x_t, t)`` predicting ``source`` as a model predicting ``target`` on ``path``."""
    check_callable("model", model, "model(x_t, t)")
    check_choice("source", source, KINDS)
    check_choice("target", target, KINDS)
    path = as_path(path)
    if "velocity" in (source, target) and path.discrete:
        raise TypeError(f"path: 'velocity' needs a continuous path, got {path!r}")

    def converted(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        prediction = check_output("model", model(x_t, t), x_t, "model(x_t, t)")
        return convert(prediction, x_t, t, path, source=source, target=target)

    converted.__doc__ = f"{getattr(model, '__name__', 'model')} as a {target} model on {path!r}"
    return converted


def as_eps(model: Model, path: Process, prediction: str = "score") -> Model:
    """A ``prediction`` model as the eps model DDPM's and DDIM's samplers run (a score: eps = -sigma_t score)."""
    return as_kind(model, path, source=prediction, target="eps")


def as_denoiser(model: Model, path: Process, prediction: str = "eps") -> Model:
    """A ``prediction`` model as a denoiser D(x_t, t) = E[x_0 | x_t] (as k-diffusion's ``VDenoiser`` and
    ``CompVisDenoiser`` wrap v and eps models)."""
    return as_kind(model, path, source=prediction, target="x0")


def as_v(model: Model, path: Process, prediction: str = "eps") -> Model:
    """A ``prediction`` model as a v model, v = alpha_t eps - sigma_t x_0."""
    return as_kind(model, path, source=prediction, target="v")


def as_score(model: Model, path: Process, prediction: str = "eps") -> Model:
    """A ``prediction`` model as a score function, grad log p_t = -eps / sigma_t (the SDE samplers' input)."""
    return as_kind(model, path, source=prediction, target="score")


def as_velocity(model: Model, path: Process, prediction: str = "eps") -> Model:
    """A ``prediction`` model as the velocity u = alpha'_t x_0 + sigma'_t eps of the probability-flow ODE."""
    return as_kind(model, path, source=prediction, target="velocity")
