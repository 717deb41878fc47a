"""Input checks shared by the public functions.

Every message names the argument, what was expected and what came, so a reader who passes
the wrong thing learns what to pass instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def check_ndim(name: str, value: torch.Tensor, ndim: int) -> torch.Tensor:
    check_tensor(name, value)
    if value.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D tensor, got shape {tuple(value.shape)}")
    return value


def check_last_dim(name: str, value: torch.Tensor, size: int) -> torch.Tensor:
    check_tensor(name, value)
    if value.ndim < 1 or value.shape[-1] != size:
        raise ValueError(f"{name}: expected last dimension {size}, got shape {tuple(value.shape)}")
    return value


def check_positive(name: str, value: float | int | torch.Tensor) -> None:
    if isinstance(value, torch.Tensor):
        if not bool(torch.all(value > 0)):
            raise ValueError(f"{name}: expected all entries > 0, got min {value.min().item():.4g}")
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name}: expected a value > 0, got {value}")


def check_int(name: str, value: object, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")
    return str(value)


def check_probability_vector(name: str, value: torch.Tensor) -> torch.Tensor:
    check_ndim(name, value, 1)
    if bool(torch.any(value < 0)) or abs(float(value.sum()) - 1.0) > 1e-5:
        raise ValueError(
            f"{name}: expected non-negative weights summing to 1, got sum {float(value.sum()):.6g}"
        )
    return value
