"""What the README and the book's notation page point to exists: every image the README shows is
committed (so it renders on the repository page), and every package name the notation page gives
is a real attribute of `diffusion_edu`."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import subprocess
from pathlib import Path

import pytest

import diffusion_edu
from diffusion_edu.processes.schedules import Schedule

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
IMAGES = sorted(set(re.findall(r"!\[[^\]]*\]\(([^)\s]+)", README))
                | set(re.findall(r"<img[^>]*\bsrc=[\"']([^\"']+)", README)))
LOCAL_IMAGES = [image for image in IMAGES if not re.match(r"^[a-z]+:", image)]
MAX_IMAGE_BYTES = 400_000


def tracked_files() -> set[str]:
    result = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return set(result.stdout.decode().split("\0"))


def test_readme_shows_images():
    assert LOCAL_IMAGES, "the README references no images"


@pytest.mark.parametrize("image", LOCAL_IMAGES)
def test_readme_image_is_committed(image):
    path = ROOT / image
    assert path.is_file(), f"{image} does not exist"
    assert image in tracked_files(), f"{image} is not tracked by git (ignored or never added)"
    assert path.stat().st_size <= MAX_IMAGE_BYTES, f"{image} is {path.stat().st_size} bytes: keep README images small"


def _notation_names() -> list[str]:
    names = []
    for line in (ROOT / "book" / "notation.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 3:
            names += re.findall(r"`([A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*)`", cells[-1])
    return names


def _classes() -> dict[str, type]:
    found = {}
    for module_info in pkgutil.walk_packages(diffusion_edu.__path__, "diffusion_edu."):
        module = importlib.import_module(module_info.name)
        found.update({name: obj for name, obj in vars(module).items()
                      if inspect.isclass(obj) and obj.__module__ == module.__name__})
    return found


def _modules(short: str) -> list[object]:
    """``diffusion_edu.<short>`` and every ``diffusion_edu.<layer>.<short>``: the notation names modules by their
    short name (``ddpm.q_sample``), which may exist in more than one layer (``derivations.ddpm``)."""
    layers = [info.name for info in pkgutil.iter_modules(diffusion_edu.__path__) if info.ispkg]
    candidates = ["diffusion_edu", *(f"diffusion_edu.{layer}" for layer in layers)]
    return [importlib.import_module(f"{prefix}.{short}") for prefix in candidates
            if importlib.util.find_spec(f"{prefix}.{short}") is not None]


def _attribute(obj: object, parts: list[str]) -> object:
    for part in parts:
        fields = {field.name: field.type for field in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else {}
        obj = fields[part] if part in fields else getattr(obj, part)
    return obj


def resolve(name: str) -> object:
    """`module.attr` of the package, `schedule.attr` of a Schedule, or `Class.attr` of a package class."""
    head, *rest = name.split(".")
    if head == "schedule":
        return _attribute(Schedule, rest)
    for module in _modules(head):
        try:
            return _attribute(module, rest)
        except (KeyError, AttributeError):
            continue
    return _attribute(_classes()[head], rest)


def test_notation_names_exist():
    names = _notation_names()
    assert len(names) >= 10, names
    missing = []
    for name in names:
        try:
            resolve(name)
        except (KeyError, AttributeError, ImportError):
            missing.append(name)
    assert missing == [], f"notation.md names that the package does not have: {missing}"
