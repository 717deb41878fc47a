"""GAN losses and the alternating training algorithm (Goodfellow et al. 2014, Algorithm 1).

Discriminators output logits l, D = sigmoid(l), so log D = logsigmoid(l) and
log(1 - D) = logsigmoid(-l) are computed without underflow.

:func:`train_gan` is Algorithm 1: k discriminator steps, then one generator step. It reuses the
book's training utilities (:class:`diffusion_edu.training.loop.EMA`, :class:`NonFiniteLossError`, the tqdm
progress bar, the :class:`TrainResult` record) rather than copying them; only the alternation is new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from diffusion_edu.core.checks import (
    check_callable,
    check_choice,
    check_float_tensor,
    check_int,
    check_number,
    check_positive,
    check_probability_vector,
    check_same_shape,
)
from diffusion_edu.training.loop import EMA, NonFiniteLossError, TrainResult, check_loss, guard_gradients  # noqa: F401 (re-export)

GENERATOR_LOSSES = ("saturating", "non_saturating")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) on a minibatch: -(mean log D(x) + mean log(1 - D(G(z)))). Minimising it is the
    ascent of note 003's discriminator step."""
    real_logits = check_float_tensor("real_logits", real_logits, ndim=1)
    fake_logits = check_float_tensor("fake_logits", fake_logits, ndim=1)
    return -(F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean())


def generator_loss(fake_logits: torch.Tensor, kind: str = "non_saturating") -> torch.Tensor:
    """``saturating``: mean log(1 - D(G(z))), the minimax objective (note 003's generator step).
    ``non_saturating``: -mean log D(G(z)), the variant Goodfellow et al. recommend: same fixed
    point, but a strong gradient when D confidently rejects the fakes."""
    fake_logits = check_float_tensor("fake_logits", fake_logits, ndim=1)
    check_choice("kind", kind, GENERATOR_LOSSES)
    if kind == "saturating":
        return F.logsigmoid(-fake_logits).mean()
    return -F.logsigmoid(fake_logits).mean()


def optimal_discriminator(p_data: torch.Tensor, p_model: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), elementwise on densities (or probabilities).
    Where both densities are 0 every D is optimal; D* = 1/2 there (no NaN)."""
    p_data = check_float_tensor("p_data", p_data)
    p_model = check_same_shape("p_model", check_float_tensor("p_model", p_model), "p_data", p_data)
    if bool((p_data < 0).any()) or bool((p_model < 0).any()):
        raise ValueError("p_data, p_model: expected non-negative densities, got a negative value")
    total = p_data + p_model
    return torch.where(total > 0, p_data / torch.where(total > 0, total, 1.0), 0.5)


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2, m = (p + q)/2, for probability vectors (nats)."""
    p, q = _check_distributions(p, q)
    m = (p + q) / 2
    kl_pm = torch.where(p > 0, p * torch.log(p / m), torch.zeros_like(p)).sum()
    kl_qm = torch.where(q > 0, q * torch.log(q / m), torch.zeros_like(q)).sum()
    return (kl_pm + kl_qm) / 2


def generator_criterion(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """C(G) = V(D*, G) on a discrete space, computed directly from D*: sum p log D* + q log(1 - D*)."""
    p, q = _check_distributions(p, q)
    d_star = optimal_discriminator(p, q)
    return (torch.where(p > 0, p * torch.log(d_star), torch.zeros_like(p))
            + torch.where(q > 0, q * torch.log1p(-d_star), torch.zeros_like(q))).sum()


def _check_distributions(p: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two probability vectors of the same length."""
    p, q = check_probability_vector("p", p), check_probability_vector("q", q)
    if p.shape != q.shape:
        raise ValueError(f"q: expected shape {tuple(p.shape)} (as p), got {tuple(q.shape)}")
    return p, q


@dataclass
class GANResult(TrainResult):
    """:class:`TrainResult` for the generator (``model``, ``ema_model``, ``losses``) plus the
    discriminator and its losses."""

    discriminator: nn.Module | None = None
    discriminator_losses: list[float] = field(default_factory=list)


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    real_batches: Callable[[int], torch.Tensor],
    latent_dim: int,
    steps: int,
    k: int = 1,
    generator_kind: str = "non_saturating",
    lr_generator: float = 2e-4,
    lr_discriminator: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    ema_decay: float = 0.999,
    noise: torch.Generator | None = None,
    max_seconds: float | None = None,
    progress: bool = True,
    description: str = "GAN",
    callback: Callable[[int, nn.Module], None] | None = None,
) -> GANResult:
    """Algorithm 1 of Goodfellow et al. (2014) with Adam: for each of ``steps`` iterations, ``k``
    discriminator steps on -V(D, G) with fresh real and noise minibatches, then one generator step
    on :func:`generator_loss` (``generator_kind``). Noise is z ~ N(0, I) of size ``latent_dim``
    (the prior p_z; note 003 calls it p_q). ``real_batches(i)`` returns the i-th real minibatch.

    An EMA of the generator's weights is kept (``ema_model``); a NaN/inf loss raises
    :class:`NonFiniteLossError` naming the step. ``callback(step, generator)``, if given, runs after
    every generator step (to record, say, mode coverage during training).
    """
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise TypeError(f"{name}: expected a torch.nn.Module, got {type(module).__name__}")
    check_int("latent_dim", latent_dim)
    check_int("steps", steps)
    check_int("k", k)
    check_choice("generator_kind", generator_kind, GENERATOR_LOSSES)
    check_positive("lr_generator", lr_generator)
    check_positive("lr_discriminator", lr_discriminator)
    check_callable("real_batches", real_batches, "real_batches(i) -> tensor")
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
    for beta in betas:
        check_number("betas", beta, low=0.0, high=1.0, high_open=True)
    if max_seconds is not None:
        check_positive("max_seconds", max_seconds)

    opt_g = torch.optim.Adam(generator.parameters(), lr=lr_generator, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_discriminator, betas=betas)
    ema = EMA(generator, ema_decay)
    result = GANResult(model=generator, ema_model=ema.model, discriminator=discriminator)
    device = next(generator.parameters()).device
    real_draws = 0

    def sample_noise(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=noise).to(device)

    def check_real(real: object, step: int) -> torch.Tensor:
        if not isinstance(real, torch.Tensor) or real.ndim < 1 or len(real) == 0:
            shape = tuple(real.shape) if isinstance(real, torch.Tensor) else type(real).__name__
            raise ValueError(f"real_batches: expected a non-empty batch tensor at step {step}, got {shape}")
        return check_float_tensor("real_batches", real).to(device)

    def backward_checked(loss: torch.Tensor, module: nn.Module, who: str, step: int) -> None:
        """Gradients of ``module`` from ``loss``, checked finite before its optimiser steps (NaN never lands)."""
        check_loss(loss, step, f"{who} loss")
        loss.backward()
        guard_gradients(module, loss, step, steps, result, who=who)

    generator.train()
    discriminator.train()
    start = time.perf_counter()
    bar = tqdm(range(steps), desc=description, disable=not progress, mininterval=0.5)
    for step in bar:
        for _ in range(k):  # k discriminator steps, each on fresh minibatches
            real = check_real(real_batches(real_draws), step)
            real_draws += 1
            with torch.no_grad():
                fake = generator(sample_noise(len(real)))
            loss_d = discriminator_loss(discriminator(real), discriminator(fake))
            opt_d.zero_grad(set_to_none=True)
            backward_checked(loss_d, discriminator, "discriminator", step)
            opt_d.step()
        # one generator step on a fresh noise minibatch; D's gradients are not used here
        fake = generator(sample_noise(len(real)))
        loss_g = generator_loss(discriminator(fake), generator_kind)
        opt_g.zero_grad(set_to_none=True)
        backward_checked(loss_g, generator, "generator", step)
        opt_g.step()
        ema.update(generator)
        if callback is not None:
            callback(step, generator)
        result.losses.append(loss_g.item())
        result.discriminator_losses.append(loss_d.item())
        if step % 50 == 0:
            bar.set_postfix(loss_d=f"{loss_d.item():.3f}", loss_g=f"{loss_g.item():.3f}")
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    bar.close()
    generator.eval()
    discriminator.eval()
    result.seconds = time.perf_counter() - start
    result.steps = len(result.losses)
    return result


@torch.no_grad()
def sample(generator: nn.Module, n: int, latent_dim: int, noise: torch.Generator | None = None) -> torch.Tensor:
    """n samples G(z), z ~ N(0, I)."""
    if not isinstance(generator, nn.Module):
        raise TypeError(f"generator: expected a torch.nn.Module, got {type(generator).__name__}")
    check_int("n", n)
    check_int("latent_dim", latent_dim)
    generator.eval()
    return generator(torch.randn(n, latent_dim, generator=noise).to(next(generator.parameters()).device))


@dataclass(frozen=True)
class ModeCoverage:
    """Per-mode counts of samples assigned to the nearest mode within ``radius``."""

    counts: list[int]
    expected: list[float]
    min_fraction: float
    high_quality: float  # fraction of samples within radius of some mode

    @property
    def covered(self) -> int:
        """Modes that received at least ``min_fraction`` of the count they would get from p_data."""
        return sum(count >= self.min_fraction * e for count, e in zip(self.counts, self.expected, strict=True))


def mode_coverage(
    samples: torch.Tensor, means: torch.Tensor, std: float, weights: torch.Tensor | None = None,
    n_std: float = 3.0, min_fraction: float = 0.25,
) -> ModeCoverage:
    """The "covered" rule: a sample counts for its nearest mode if it lies within ``n_std`` standard
    deviations of it; a mode is covered when its count is >= ``min_fraction`` of the count the data
    distribution would give it (n * weight). Also reports the fraction of such "high-quality" samples.
    (The rule of Metz et al. 2017 / Srivastava et al. 2017 for the 2-D rings.)"""
    samples = check_float_tensor("samples", samples, ndim=2)
    means = check_float_tensor("means", means, ndim=2)
    if means.shape[1] != samples.shape[1]:
        raise ValueError(f"means: expected shape (K, {samples.shape[1]}) (as samples' dimension), got "
                         f"{tuple(means.shape)}")
    check_positive("std", std)
    check_positive("n_std", n_std)
    min_fraction = check_number("min_fraction", min_fraction, low=0.0, high=1.0, low_open=True)
    k = means.shape[0]
    weights = torch.full((k,), 1 / k) if weights is None else check_probability_vector("weights", weights)
    if weights.shape != (k,):
        raise ValueError(f"weights: expected shape ({k},) (one per mode), got {tuple(weights.shape)}")
    distances = torch.cdist(samples.float(), means.float())  # (N, K)
    nearest_distance, nearest = distances.min(1)
    close = nearest_distance <= n_std * std
    counts = torch.bincount(nearest[close], minlength=k).tolist()
    expected = (len(samples) * weights).tolist()
    return ModeCoverage(counts=counts, expected=expected, min_fraction=min_fraction,
                        high_quality=float(close.float().mean()))
