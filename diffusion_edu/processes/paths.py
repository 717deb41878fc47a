"""One Gaussian noise path for every process in the book: x_t = alpha_t x_0 + sigma_t eps, eps ~ N(0, I).

A path says how much signal (alpha_t) and how much noise (sigma_t) the noisy point x_t carries at
time t, and its log signal-to-noise ratio lambda_t = log(alpha_t^2 / sigma_t^2) (Kingma et al. 2021,
"Variational diffusion models"), which falls as t grows. The processes differ only in these two
numbers and in what t is:

============================  ===========================  ==========================  =====================
path                          alpha_t                      sigma_t                     t
============================  ===========================  ==========================  =====================
:class:`DiscretePath` (DDPM)  sqrt(alpha_bar_t)            sqrt(1 - alpha_bar_t)       step index 0..T-1
:class:`VPPath` (VP SDE)      exp(-int_0^t beta / 2)       sqrt(1 - exp(-int beta))    float in [0, 1]
:class:`VEPath` (VE SDE)      1                            the kernel's std            float in [0, 1]
:class:`RectifiedFlowPath`    1 - t                        t                           float in [0, 1]
:class:`EDMPath`              1                            t                           the noise level sigma
============================  ===========================  ==========================  =====================

The continuous paths also give the time derivatives d alpha / dt and d sigma / dt, from which the
velocity u = d x_t / dt = alpha'_t x_0 + sigma'_t eps follows; a discrete path has none and says so.
Coefficients are computed in float64 (DDPM's cosine alpha_bar reaches ~1e-9) and cast to the data's
dtype only when they meet the data. :func:`as_path` turns a :class:`~diffusion_edu.processes.schedules.Schedule`,
a :class:`~diffusion_edu.processes.sde.VPSDE` or a :class:`~diffusion_edu.processes.sde.VESDE` into its path.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from diffusion_edu.core.checks import check_float_tensor, check_number, check_same_shape, check_steps
from diffusion_edu.core.tensors import append_dims
from diffusion_edu.processes.schedules import Schedule, check_schedule
from diffusion_edu.processes.sde import VESDE, VPSDE


class NoisePath(ABC):
    """x_t = alpha(t) x_0 + sigma(t) eps. Subclasses give ``alpha``/``sigma`` (float64, shaped like t) and,
    when t is continuous, ``d_alpha``/``d_sigma``; ``t_range`` is the closed interval of valid t."""

    discrete: ClassVar[bool] = False

    @property
    def t_range(self) -> tuple[float, float]:
        """(first, last) valid t: the cleanest and the noisiest level ([0, 1] unless a path says otherwise)."""
        return 0.0, 1.0

    @abstractmethod
    def _alpha(self, t: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _sigma(self, t: torch.Tensor) -> torch.Tensor: ...

    def _d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- the public coefficients: checked t in, float64 out ---------------------------------------
    def alpha(self, t: torch.Tensor | float) -> torch.Tensor:
        """The signal scale alpha_t (float64, t's shape)."""
        return self._alpha(self.check_t(t))

    def sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """The noise scale sigma_t (float64, t's shape)."""
        return self._sigma(self.check_t(t))

    def log_snr(self, t: torch.Tensor | float) -> torch.Tensor:
        """lambda_t = log(alpha_t^2 / sigma_t^2) = 2 (log alpha_t - log sigma_t), decreasing in t
        (+inf where sigma_t = 0, -inf where alpha_t = 0)."""
        t = self.check_t(t)
        return 2 * (self._alpha(t).log() - self._sigma(t).log())

    def d_alpha(self, t: torch.Tensor | float) -> torch.Tensor:
        """d alpha_t / dt (float64); only a continuous path has it."""
        return self._d_alpha(self._check_continuous(t, "d_alpha"))

    def d_sigma(self, t: torch.Tensor | float) -> torch.Tensor:
        """d sigma_t / dt (float64); only a continuous path has it."""
        return self._d_sigma(self._check_continuous(t, "d_sigma"))

    def noise(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = alpha_t x_0 + sigma_t eps for a batch x0 (N, ...) with one t per sample (N,)."""
        x0 = check_float_tensor("x0", x0, min_ndim=1)
        eps = check_same_shape("eps", check_float_tensor("eps", eps), "x0", x0)
        t = self.check_t(t, x0.shape[0])
        return append_dims(self._alpha(t), x0) * x0 + append_dims(self._sigma(t), x0) * eps

    # -- checks ----------------------------------------------------------------------------------
    def check_t(self, t: object, n: int | None = None) -> torch.Tensor:
        """t as a tensor in ``t_range`` (of shape (n,) when n is given); a Python number becomes a 0-d tensor."""
        if isinstance(t, numbers.Real) and not isinstance(t, bool):
            t = torch.tensor(t, dtype=torch.float64)
        t = check_float_tensor("t", t, nonempty=False)
        if n is not None and t.shape != (n,):
            raise ValueError(f"t: expected shape ({n},) (one time per sample), got {tuple(t.shape)}")
        low, high = self.t_range
        if t.numel() and not bool(torch.all((t >= low) & (t <= high))):
            raise ValueError(f"t: expected times in [{low:g}, {high:g}] for {self!r}, got "
                             f"[{float(t.min()):.4g}, {float(t.max()):.4g}]")
        return t.double()

    def _check_continuous(self, t: object, what: str) -> torch.Tensor:
        if self.discrete:
            raise TypeError(f"{what}: {type(self).__name__} has integer steps, so no time derivative (and no "
                            "velocity); use its continuous limit VPPath, or RectifiedFlowPath / EDMPath")
        return self.check_t(t)


@dataclass(frozen=True)
class DiscretePath(NoisePath):
    """DDPM's discrete path (Ho et al. 2020, eq. 4): alpha_t = sqrt(alpha_bar_t), sigma_t = sqrt(1 - alpha_bar_t),
    t an integer step index 0..T-1 into ``schedule`` (linear, cosine or respaced)."""

    schedule: Schedule
    discrete: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_schedule(self.schedule)

    @property
    def t_range(self) -> tuple[float, float]:
        return 0, self.schedule.T - 1

    def check_t(self, t: object, n: int | None = None) -> torch.Tensor:
        """Step indices: an integer tensor (of shape (n,) when n is given) in [0, T - 1]; an int becomes 0-d."""
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            t = torch.tensor(t)
        return check_steps("t", t, self.schedule.T, n)

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.schedule.alpha_bar[t.cpu()].sqrt()

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return (1 - self.schedule.alpha_bar[t.cpu()]).sqrt()

    def __repr__(self) -> str:
        return f"DiscretePath({self.schedule.name}, T={self.schedule.T})"


@dataclass(frozen=True)
class VPPath(NoisePath):
    """The VP SDE's perturbation kernel (Song et al. 2021, eq. 29): alpha_t = exp(-B(t) / 2),
    sigma_t = sqrt(1 - exp(-B(t))), B(t) = int_0^t beta(s) ds; so alpha_t^2 + sigma_t^2 = 1, and
    alpha' = -beta alpha / 2, sigma' = beta alpha^2 / (2 sigma)."""

    sde: VPSDE = field(default_factory=VPSDE)

    def __post_init__(self) -> None:
        if not isinstance(self.sde, VPSDE):
            raise TypeError(f"sde: expected a VPSDE, got {type(self.sde).__name__}")

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.marginal_scale(t)

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.marginal_std(t)

    def _d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * self.sde.beta(t) * self._alpha(t)

    def _d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.sde.beta(t) * self._alpha(t).square() / self._sigma(t)


@dataclass(frozen=True)
class VEPath(NoisePath):
    """The VE SDE's perturbation kernel (chapter 12): alpha_t = 1, sigma_t^2 = (s^(2t) - 1) / (2 ln s)
    with s the SDE's ``sigma``; sigma' = s^(2t) / (2 sigma_t), since d sigma_t^2 / dt = g(t)^2 = s^(2t)."""

    sde: VESDE = field(default_factory=VESDE)

    def __post_init__(self) -> None:
        if not isinstance(self.sde, VESDE):
            raise TypeError(f"sde: expected a VESDE, got {type(self.sde).__name__}")

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.marginal_scale(t)

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.marginal_std(t)

    def _d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def _d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return self.sde.diffusion(t).square() / (2 * self._sigma(t))


@dataclass(frozen=True)
class RectifiedFlowPath(NoisePath):
    """Rectified flow's straight line (Liu et al. 2023; flow matching, Lipman et al. 2023):
    alpha_t = 1 - t, sigma_t = t, t in [0, 1]; the velocity u = eps - x_0 is constant along it."""

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1 - t

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return t.clone()

    def _d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, -1.0)

    def _d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


@dataclass(frozen=True)
class EDMPath(NoisePath):
    """EDM's path (Karras et al. 2022): alpha = 1 and t is the noise level itself, sigma_t = t, in
    [0, sigma_max]; ``sigma_min`` is where its samplers stop (their grids run sigma_max -> sigma_min)."""

    sigma_min: float = 0.002
    sigma_max: float = 80.0

    def __post_init__(self) -> None:
        check_number("sigma_min", self.sigma_min, low=0.0, low_open=True)
        check_number("sigma_max", self.sigma_max, low=self.sigma_min, low_open=True)

    @property
    def t_range(self) -> tuple[float, float]:
        return 0.0, self.sigma_max

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)

    def _sigma(self, t: torch.Tensor) -> torch.Tensor:
        return t.clone()

    def _d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(t)

    def _d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)


Process = NoisePath | Schedule | VPSDE | VESDE


def as_path(process: object) -> NoisePath:
    """The noise path of ``process``: a NoisePath as it is, a Schedule as :class:`DiscretePath`, a VPSDE as
    :class:`VPPath`, a VESDE as :class:`VEPath`."""
    if isinstance(process, NoisePath):
        return process
    if isinstance(process, Schedule):
        return DiscretePath(process)
    if isinstance(process, VPSDE):
        return VPPath(process)
    if isinstance(process, VESDE):
        return VEPath(process)
    raise TypeError(f"path: expected a NoisePath (DiscretePath, VPPath, VEPath, RectifiedFlowPath, EDMPath), a "
                    f"Schedule, a VPSDE or a VESDE, got {type(process).__name__}")


PATHS = (DiscretePath, VPPath, VEPath, RectifiedFlowPath, EDMPath)
