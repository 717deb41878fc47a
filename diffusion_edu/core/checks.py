"""Input checks shared by the public functions.

Every message names the argument, what was expected and what came, so a reader who passes
the wrong thing learns what to pass instead. Conventions the package follows everywhere:

- scalars: ``bool`` is never a number; NaN and inf are rejected by every range check (the checks
  are written ``not (x > 0)``, which NaN fails, never ``x <= 0``, which NaN passes);
- data tensors (points, images, noise): integer tensors are **promoted** to the default float dtype
  (``torch.get_default_dtype()``), bool and complex tensors are rejected, NaN and inf are rejected;
- step indices ``t`` that index a schedule: an integer tensor with every entry in [0, T - 1];
- the output of a user's model is checked to have the shape the caller needs before it is used.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch

INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    return value


def check_callable(name: str, value: object, signature: str = "") -> object:
    if not callable(value):
        raise TypeError(f"{name}: expected a callable {signature}".rstrip() + f", got {type(value).__name__}")
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


def check_float_tensor(name: str, value: object, ndim: int | None = None, finite: bool = True,
                       nonempty: bool = True, min_ndim: int = 0) -> torch.Tensor:
    """A real tensor of values: integer tensors are promoted to the default float dtype; bool and complex
    tensors are rejected; with ``finite`` NaN and inf are rejected; with ``nonempty`` so is a tensor with
    no entries. Returns the (possibly promoted) tensor."""
    value = check_tensor(name, value)
    if value.dtype == torch.bool or value.is_complex():
        raise TypeError(f"{name}: expected a real-valued tensor, got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D tensor, got shape {tuple(value.shape)}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name}: expected a tensor with at least {min_ndim} dimension(s) (a batch), got shape "
                         f"{tuple(value.shape)}")
    if nonempty and value.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    if finite and value.device.type != "meta" and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or inf of {value.numel()} entries")
    return value


def check_same_shape(name: str, value: torch.Tensor, other_name: str, other: torch.Tensor) -> torch.Tensor:
    check_tensor(name, value)
    if value.shape != other.shape:
        raise ValueError(f"{name}: expected shape {tuple(other.shape)} (as {other_name}), got {tuple(value.shape)}")
    return value


def check_output(name: str, out: object, like: torch.Tensor, call: str = "model(x, t)") -> torch.Tensor:
    """The result of a user's callable: a tensor of the same shape as ``like`` (never broadcast)."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name}: expected {call} to return a tensor, got {type(out).__name__}")
    if out.shape != like.shape:
        raise ValueError(f"{name}: expected {call} to return shape {tuple(like.shape)} (as x), got "
                         f"{tuple(out.shape)}")
    return out


def check_finite_result(name: str, result: torch.Tensor, what: str) -> torch.Tensor:
    """After a sampler's loop: one check that the user's callable never produced NaN or inf."""
    if result.device.type != "meta" and not bool(torch.isfinite(result).all()):
        raise ValueError(f"{name}: expected finite outputs, but {what} produced NaN or inf")
    return result


def _number(name: str, value: object) -> float:
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype != torch.bool and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name}: expected a finite number, got {result}")
    return result


def check_number(name: str, value: object, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in [low, high] (open ends with ``low_open`` / ``high_open``); returns it as float."""
    result = _number(name, value)
    below = low is not None and not (result > low if low_open else result >= low)
    above = high is not None and not (result < high if high_open else result <= high)
    if below or above:
        if high is None:
            expected = f"a number {'>' if low_open else '>='} {low:g}"
        elif low is None:
            expected = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            expected = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name}: expected {expected}, got {_show(value)}")
    return result


def check_positive(name: str, value: float | int | torch.Tensor) -> None:
    """A finite number > 0, or a tensor whose entries are all finite and > 0."""
    if isinstance(value, torch.Tensor) and value.ndim > 0:
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name}: expected a real-valued tensor, got dtype {value.dtype}")
        if value.numel() == 0:
            raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(value.shape)}")
        if not bool(torch.all(torch.isfinite(value) & (value > 0))):
            raise ValueError(f"{name}: expected all entries > 0 and finite, got min {value.min().item():.4g}, "
                             f"max {value.max().item():.4g}")
        return
    if isinstance(value, torch.Tensor):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name}: expected a value > 0, got {value}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite value > 0, got {value}")


def check_nonnegative(name: str, value: object) -> float:
    return check_number(name, value, low=0.0)


def check_probability(name: str, value: object) -> float:
    """A probability in [0, 1]."""
    return check_number(name, value, low=0.0, high=1.0)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_optional_int(name: str, value: object, minimum: int = 1) -> int | None:
    return None if value is None else check_int(name, value, minimum)


def check_steps(name: str, t: object, T: int, n: int | None = None) -> torch.Tensor:  # noqa: N803 (the paper's T)
    """Step indices that index a schedule of T steps: an integer tensor (of shape (n,) if given), every
    entry in [0, T - 1]. Returns it as int64."""
    t = check_tensor(name, t)
    if t.dtype not in INTEGER_DTYPES or (n is not None and t.shape != (n,)):
        shape = "" if n is None else f" of shape ({n},) (one step per sample)"
        raise ValueError(f"{name}: expected an integer tensor of step indices{shape}, got {t.dtype} "
                         f"{tuple(t.shape)}")
    if t.numel() and (bool(torch.any(t < 0)) or bool(torch.any(t >= T))):
        raise ValueError(f"{name}: expected step indices in [0, {T - 1}], got [{int(t.min())}, {int(t.max())}]")
    return t.long()


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    try:
        known = value in choices
    except TypeError:  # an unhashable value
        known = False
    if not known:
        raise ValueError(f"{name}: expected one of {sorted(choices)}, got {value!r}")
    return str(value)


def check_probability_vector(name: str, value: torch.Tensor) -> torch.Tensor:
    check_ndim(name, value, 1)
    value = check_float_tensor(name, value)
    if bool(torch.any(value < 0)) or not abs(float(value.sum()) - 1.0) <= 1e-5:
        raise ValueError(
            f"{name}: expected non-negative weights summing to 1, got sum {float(value.sum()):.6g}"
        )
    return value


def check_real(name: str, value: object, nonnegative: bool = False) -> float | torch.Tensor:
    """A finite number (returned as float) or a finite real tensor (integer ones promoted); with
    ``nonnegative`` every value must be >= 0."""
    if isinstance(value, torch.Tensor) and value.ndim > 0:
        value = check_float_tensor(name, value, nonempty=False)
        if nonnegative and bool(torch.any(value < 0)):
            raise ValueError(f"{name}: expected values >= 0, got min {value.min().item():.4g}")
        return value
    return check_number(name, value, low=0.0 if nonnegative else None)


def check_sizes(minimum: int = 1, **sizes: object) -> None:
    """Constructor sizes (widths, depths, dimensions): each an int >= ``minimum``."""
    for name, value in sizes.items():
        check_int(name, value, minimum)


def check_even(name: str, value: object) -> int:
    """An even size >= 2 (sin/cos feature pairs: an odd size would silently drop a feature)."""
    value = check_int(name, value, minimum=2)
    if value % 2:
        raise ValueError(f"{name}: expected an even number (sin and cos features come in pairs), got {value}")
    return value


def check_no_overflow(names: str, result: object) -> object:
    """The result of a closed form on finite inputs: NaN or inf here means the inputs overflowed it."""
    values = result if isinstance(result, tuple) else (result,)
    for value in values:
        bad = (not bool(torch.isfinite(value).all())) if isinstance(value, torch.Tensor) else (
            isinstance(value, float) and not math.isfinite(value))
        if bad:
            raise ValueError(f"{names}: expected values whose result is finite, got values that overflow it "
                             "(NaN or inf)")
    return result
