"""Checkpoints that carry the model's config, and the model cache (train once, reuse everywhere).

Writes are atomic and safe with concurrent writers: each writer saves to its own temporary file
(``<name>.<pid>.<random>.tmp``) and moves it into place with :func:`os.replace`, so a reader sees
either the old file or a complete new one, and two processes caching the same model both succeed.
A cached file is trusted only after its stored identity (config and recipe) matches the request.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from diffusion_edu.core.checks import check_callable, check_int

if TYPE_CHECKING:
    from diffusion_edu.training.loop import TrainResult

STALE_TMP_SECONDS = 15 * 60  # a temporary file this old belongs to a writer that died (a save takes seconds)


class CorruptCheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, not a torch file, or missing its fields)."""


def _check_model_class(model_class: object) -> type[nn.Module]:
    if not (isinstance(model_class, type) and issubclass(model_class, nn.Module)):
        raise TypeError(f"model_class: expected a subclass of torch.nn.Module, got {model_class!r}")
    return model_class


def atomic_save(payload: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file unique to this writer, then an atomic :func:`os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left when the save or the replace failed
    return path


def clean_stale_tmp(directory: str | Path, max_age_seconds: float = STALE_TMP_SECONDS) -> int:
    """Remove temporary files of dead writers (older than ``max_age_seconds``); return how many."""
    removed, now = 0, time.time()
    for tmp in Path(directory).glob("*.tmp"):
        try:
            if now - tmp.stat().st_mtime > max_age_seconds:
                tmp.unlink()
                removed += 1
        except OSError:  # another process removed or replaced it first
            pass
    return removed


def save_checkpoint(path: str | Path, model: nn.Module, config: dict[str, Any], **extra: Any) -> None:
    """Save weights together with the config that rebuilds the model (``type(model)(**config)``), atomically."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict of constructor arguments, got {type(config).__name__}")
    # CPU tensors: a checkpoint written on a GPU loads on a machine without one
    state_dict = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    payload = {"class": type(model).__name__, "config": dict(config), "state_dict": state_dict, **extra}
    atomic_save(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The payload of a checkpoint file; :class:`CorruptCheckpointError` (naming the file) if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: expected a checkpoint file, got {str(path)!r}, which does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, random bytes, a pickle with forbidden objects, ...
        raise CorruptCheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt file?): "
                                     f"{type(error).__name__}: {str(error)[:200]}") from error
    fields = ("class", "config", "state_dict")
    if not isinstance(payload, dict) or any(key not in payload for key in fields):
        raise CorruptCheckpointError(f"{path}: expected a checkpoint with fields {list(fields)}, got "
                                     f"{sorted(payload) if isinstance(payload, dict) else type(payload).__name__}")
    return payload


def build_from_checkpoint(payload: dict[str, Any], model_class: type[nn.Module], path: str | Path) -> nn.Module:
    """``model_class(**config)`` with the checkpoint's weights loaded (in eval mode)."""
    if payload.get("class") != model_class.__name__:
        raise ValueError(
            f"model_class: expected {payload.get('class')} (the class saved in {path}), got {model_class.__name__}"
        )
    model = model_class(**payload["config"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CorruptCheckpointError(f"{path}: its weights do not fit {model_class.__name__}"
                                     f"(**{payload['config']}): {str(error)[:300]}") from error
    return model.eval()


def load_checkpoint(path: str | Path, model_class: type[nn.Module]) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild ``model_class(**config)`` from a checkpoint and load its weights; return (model, payload)."""
    _check_model_class(model_class)
    payload = read_checkpoint(path)
    return build_from_checkpoint(payload, model_class, path), payload


def _identity(config: dict[str, Any], recipe: dict[str, Any] | None) -> str:
    return json.dumps({"config": config, "recipe": recipe or {}}, sort_keys=True, default=str)


def _stored_identity(payload: dict[str, Any]) -> str | None:
    """The identity a cached file was written for (files from before it was stored: config only)."""
    if "identity" in payload:
        return str(payload["identity"])
    return None


def cached_model(
    name: str,
    model_class: type[nn.Module],
    config: dict[str, Any],
    fit: Callable[[nn.Module], TrainResult],
    recipe: dict[str, Any] | None = None,
    version: int = 2,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train once, reuse everywhere: load ``name`` from the model cache, or build
    ``model_class(**config)``, ``fit`` it, and cache its EMA weights.

    Chapters that reuse an earlier chapter's model call this with the same arguments, so each
    notebook still runs alone (it trains when the cache is empty) and a full book run trains
    each model once. The file name holds the budget and a hash of the config and of ``recipe``
    (the training settings: steps, lr, ...), so a GPU-budget, reconfigured or retrained model
    never loads a stale one. The initial weights are seeded from ``recipe["seed"]`` (default 0) and the
    caller's random state is left untouched, so a chapter draws the same numbers afterwards whether the model
    was trained now or loaded, and a model does not depend on which chapter trained it first (version 2;
    version 1 built the model from the caller's random state). Returns (model in eval mode, info)
    where info holds ``seconds``, ``steps``, ``losses`` of the run that trained it.

    A cached file is used only if its stored config (and recipe) equals the requested one; a corrupt,
    truncated or mismatched file is rebuilt with a warning. The file is replaced atomically only after
    training succeeded, so an error (in ``fit`` or in the class's constructor) never deletes a valid file,
    and concurrent processes caching the same model all succeed.
    """
    from diffusion_edu.core.runtime import budget, cache_dir

    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name: expected a non-empty file-name stem without path separators, got {name!r}")
    _check_model_class(model_class)
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict of constructor arguments, got {type(config).__name__}")
    check_callable("fit", fit, "fit(model) -> TrainResult")
    if recipe is not None and not isinstance(recipe, dict):
        raise TypeError(f"recipe: expected a dict of training settings or None, got {type(recipe).__name__}")
    check_int("version", version)

    identity = _identity(config, recipe)
    key = hashlib.sha1(identity.encode()).hexdigest()[:10]
    path = cache_dir() / "models" / f"{name}-v{version}-{budget().name}-{key}.pt"
    clean_stale_tmp(path.parent)
    if path.exists():
        problem = None
        try:
            payload = read_checkpoint(path)
            stored = _stored_identity(payload)
            stored_config = json.dumps(payload["config"], sort_keys=True, default=str)
            if (stored is not None and stored != identity) or stored_config != json.dumps(
                    config, sort_keys=True, default=str):
                problem = (f"it holds config {payload['config']} (recipe {payload.get('recipe')}), not the requested "
                           f"config {config} (recipe {recipe})")
            else:
                with torch.random.fork_rng(devices=[]):  # building the model draws initial weights: not the caller's
                    model = build_from_checkpoint(payload, model_class, path)
                return model, {**payload.get("info", {}), "trained_now": False}
        except CorruptCheckpointError as error:
            problem = str(error)
        warnings.warn(f"model cache: rebuilding {path.name}: {problem}", RuntimeWarning, stacklevel=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int((recipe or {}).get("seed", 0)))
        result = fit(model_class(**config))
    if not isinstance(getattr(result, "ema_model", None), nn.Module):
        raise TypeError(f"fit: expected fit(model) to return a TrainResult (with an ema_model), got "
                        f"{type(result).__name__}")
    info = {"seconds": result.seconds, "steps": result.steps, "losses": result.losses, "trained_now": True}
    save_checkpoint(path, result.ema_model, config, info=info, identity=identity,
                    recipe=json.loads(json.dumps(recipe or {}, default=str)))
    return result.ema_model.eval(), info
