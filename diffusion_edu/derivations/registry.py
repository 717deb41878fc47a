"""One registry of every derivation in the book: the ``@derivation`` decorator adds a builder
(a function with no required argument that returns a :class:`Derivation`); tests/ build them all."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

from diffusion_edu.derivations.proof import Derivation

Builder = TypeVar("Builder", bound=Callable[..., Derivation])

_BUILDERS: dict[str, Callable[[], Derivation]] = {}
_INFRASTRUCTURE = {"proof", "latex", "registry", "forms"}


def derivation(builder: Builder) -> Builder:
    """Register ``builder`` as ``<module>.<name>`` (its default arguments are used to build it)."""
    _BUILDERS[f"{builder.__module__}.{builder.__name__}"] = builder
    return builder


def builders(module: str | None = None) -> dict[str, Callable[[], Derivation]]:
    """Every registered builder (of ``module`` only, if given: a full module name), by name."""
    import diffusion_edu.derivations as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRASTRUCTURE:
            importlib.import_module(f"{package.__name__}.{info.name}")
    return {name: b for name, b in _BUILDERS.items() if module is None or name.rsplit(".", 1)[0] == module}


def all_derivations(module: str | None = None) -> list[Derivation]:
    """Build every registered derivation (of ``module`` only, if given)."""
    return [builder() for builder in builders(module).values()]
