"""An emulated accelerator: check the book's GPU code path for device mistakes on a CPU-only machine.

On CUDA, an operation that mixes a GPU tensor with a (non-scalar) CPU tensor raises, a CPU random
generator cannot draw on the GPU, and ``.numpy()`` of a GPU tensor raises. On a CPU-only machine
none of these mistakes shows, because every tensor lives on the CPU. This module makes them show:
inside :func:`emulate_accelerator`, :func:`diffusion_edu.core.runtime.device` answers ``meta`` (through
``$DIFFUSION_EDU_DEVICE``), and every tensor moved or created there becomes an :class:`AcceleratorTensor`
that reports ``device='meta'`` and computes on a CPU tensor it wraps. The dispatch hook then
enforces CUDA's rules:

- an op may not mix accelerator tensors with CPU tensors of one or more dimensions (0-dim CPU
  tensors are allowed, as on CUDA; so are CPU index tensors for ``x[idx]``, which CUDA copies over);
- a CPU ``torch.Generator`` may not draw directly on the accelerator;
- ``.numpy()`` (and so plotting or NumPy on the tensor) raises, as for a CUDA tensor.

Values are computed exactly as on the CPU, so a notebook run under emulation must also pass its
own asserts. Each op pays a Python dispatch (a digit U-Net training step is ~4x slower), which is
fine for a check and useless for timing. Usage: ``python -m benchmarks.run_notebooks --emulate-accelerator``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from diffusion_edu.core.runtime import DEVICE_ENV

EMULATED = torch.device("meta")

# ops whose CPU index tensors CUDA accepts next to a GPU tensor (it copies the indices over)
_INDEX_OPS = {"aten::index.Tensor", "aten::index_put_", "aten::index_put", "aten::_index_put_impl_"}


class AcceleratorTensor(torch.Tensor):
    """A tensor that says it lives on the emulated accelerator and computes on the CPU tensor it wraps."""

    cpu_tensor: torch.Tensor

    @staticmethod
    def __new__(cls, cpu_tensor: torch.Tensor) -> AcceleratorTensor:
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls, cpu_tensor.size(), strides=cpu_tensor.stride(), storage_offset=cpu_tensor.storage_offset(),
            dtype=cpu_tensor.dtype, layout=cpu_tensor.layout, device=EMULATED, requires_grad=cpu_tensor.requires_grad,
        )
        wrapper.cpu_tensor = cpu_tensor
        return wrapper

    def __repr__(self) -> str:  # type: ignore[override]
        return f"AcceleratorTensor({self.cpu_tensor!r})"

    def __format__(self, format_spec: str) -> str:
        # f"{x:.3f}" of a 0-dim CUDA tensor formats its value; torch only does that for plain tensors
        if self.dim() == 0:
            return self.cpu_tensor.item().__format__(format_spec)
        return super().__format__(format_spec)

    @classmethod
    def __torch_dispatch__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        return _dispatch(func, args, kwargs or {})


def _targets_accelerator(device: Any) -> bool:
    return device is not None and torch.device(device).type == EMULATED.type


def _dispatch(func: Any, args: Any, kwargs: dict[str, Any]) -> Any:
    on_accelerator: list[torch.Tensor] = []
    on_cpu: list[torch.Tensor] = []

    def sort(value: Any) -> None:
        if isinstance(value, AcceleratorTensor):
            on_accelerator.append(value)
        elif isinstance(value, torch.Tensor) and value.dim() > 0:
            on_cpu.append(value)

    if func.name() in _INDEX_OPS:  # (self, indices, [values, ...]): CPU indices may index an accelerator tensor
        tree_map(sort, (args[:1], args[2:], kwargs))
        if not isinstance(args[0], AcceleratorTensor) and any(isinstance(i, AcceleratorTensor) for i in args[1]):
            on_accelerator.append(args[0])  # accelerator indices into a CPU tensor: CUDA raises
    else:
        tree_map(sort, (args, kwargs))
    if on_accelerator and on_cpu:
        shapes = [tuple(t.shape) for t in on_cpu]
        raise RuntimeError(f"emulated accelerator: {func.name()} mixes accelerator tensors with CPU tensors of shapes "
                           f"{shapes}; on CUDA this raises 'Expected all tensors to be on the same device'")
    creates_on_accelerator = _targets_accelerator(kwargs.get("device"))
    moves_to_cpu = kwargs.get("device") is not None and not creates_on_accelerator
    if creates_on_accelerator:
        if isinstance(kwargs.get("generator"), torch.Generator) and kwargs["generator"].device.type == "cpu":
            raise RuntimeError(f"emulated accelerator: {func.name()} draws on the accelerator from a CPU generator; "
                               "on CUDA this raises. Draw on the CPU, then .to(device)")
        kwargs = {**kwargs, "device": torch.device("cpu")}
    args, kwargs = tree_map(lambda v: v.cpu_tensor if isinstance(v, AcceleratorTensor) else v, (args, kwargs))
    out = func(*args, **kwargs)
    if moves_to_cpu or not (on_accelerator or creates_on_accelerator):
        return out
    return tree_map(lambda v: AcceleratorTensor(v) if type(v) is torch.Tensor else v, out)


class _AcceleratorMode(TorchDispatchMode):
    """Sees every op, so creation ops on plain CPU tensors (``x.to(device)``, ``torch.zeros(device=...)``) can
    produce accelerator tensors."""

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if kwargs.get("device") is None and not any(issubclass(t, AcceleratorTensor) for t in types):
            return func(*args, **kwargs)  # CPU tensors only, nothing placed: the fast path
        return _dispatch(func, args, kwargs)


@contextlib.contextmanager
def emulate_accelerator() -> Iterator[torch.device]:
    """Within the block, ``runtime.device()`` is the emulated accelerator and CUDA's device rules are enforced."""
    from unittest import mock

    from torch.nn.utils import clip_grad

    # torch keeps a list of devices with multi-tensor (foreach) kernels; CUDA is on it, "meta" is not
    has_foreach = clip_grad._device_has_foreach_support
    previous = os.environ.get(DEVICE_ENV)
    os.environ[DEVICE_ENV] = str(EMULATED)
    try:
        with _AcceleratorMode(), mock.patch.object(
            clip_grad, "_device_has_foreach_support", lambda device: device.type == EMULATED.type or has_foreach(device)
        ):
            yield EMULATED
    finally:
        if previous is None:
            os.environ.pop(DEVICE_ENV, None)
        else:
            os.environ[DEVICE_ENV] = previous
