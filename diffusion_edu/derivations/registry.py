"""One registry of every derivation in the book: the ``@derivation`` decorator adds a builder
(a function with no required argument that returns a :class:`Derivation`); tests/ build them all.

A builder is registered under its *topic*, the module a chapter imports
(``diffusion_edu.derivations.ddpm``), also when it is written in a part of a topic split into a
package (``diffusion_edu.derivations.ddpm.forward``): ``builders("diffusion_edu.derivations.ddpm")``
lists the whole topic, and a re-export in the topic's ``__init__`` registers nothing twice."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

from diffusion_edu.derivations.proof import Derivation

Builder = TypeVar("Builder", bound=Callable[..., Derivation])

_BUILDERS: dict[str, Callable[[], Derivation]] = {}
_INFRASTRUCTURE = {"proof", "provers", "prose", "latex", "registry", "forms"}


def topic(module: str) -> str:
    """The topic module of ``module``: ``diffusion_edu.derivations.ddpm.forward`` -> ``...derivations.ddpm``
    (a module outside this package is its own topic)."""
    package = __name__.rsplit(".", 1)[0] + "."
    if not module.startswith(package):
        return module
    return package + module[len(package):].split(".", 1)[0]


def registered_name(builder: Callable[..., Derivation]) -> str:
    """``<topic>.<name>``: the name under which ``builder`` is (or would be) registered."""
    return f"{topic(builder.__module__)}.{builder.__name__}"


def derivation(builder: Builder) -> Builder:
    """Register ``builder`` as ``<topic>.<name>`` (its default arguments are used to build it). Two
    parts of one topic may not define builders of the same name."""
    name = registered_name(builder)
    known = _BUILDERS.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (builder.__module__, builder.__qualname__):
        raise ValueError(f"builder: expected a name not yet registered, got {name} from {builder.__module__} "
                         f"(already registered from {known.__module__})")
    _BUILDERS[name] = builder
    return builder


def builders(module: str | None = None) -> dict[str, Callable[[], Derivation]]:
    """Every registered builder (of the topic ``module`` only, if given: a full module name), by name."""
    import diffusion_edu.derivations as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRASTRUCTURE:
            importlib.import_module(f"{package.__name__}.{info.name}")
    return {name: b for name, b in _BUILDERS.items() if module is None or name.rsplit(".", 1)[0] == module}


def all_derivations(module: str | None = None) -> list[Derivation]:
    """Build every registered derivation (of ``module`` only, if given)."""
    return [builder() for builder in builders(module).values()]
