"""The sampler playground: a 2-D Gaussian mixture sampled in the reader's browser.

One self-contained HTML snippet (:func:`playground_html`) holds everything: the controls, a canvas,
plain JavaScript written for the book (``templates/playground.math.js``: the exact score of the
noised mixture, the schedules, the trained network's forward pass; ``templates/playground.samplers.js``:
nine samplers; ``templates/playground.ui.js``:
the picture, dragging, the animation, the readout) and the chapter-8 network's weights (base64
float32, :func:`network_weights`). No third-party script, no network request: it works offline, in
the rendered book and in a notebook's output cell (:func:`show`) alike.

The JavaScript samplers are the package's (:mod:`diffusion_edu.present.playground_reference` runs the
Python ones on the same settings); ``tests/browser/test_playground.py`` proves them equal.

Hooks for browser tests: ``div.pg-playground`` (``data-state``: ``running``, ``animating``, ``done``;
``data-runs``: a counter; ``data-milliseconds``: the last run's time; ``data-view``: the canvas shows
[-view, view]^2), the controls ``select.pg-preset``,
``select.pg-sampler``, ``select.pg-model``, ``input.pg-steps``, ``input.pg-eta``, ``select.pg-label``,
``input.pg-guidance``, ``input.pg-weight``, ``input.pg-animate``, ``button.pg-again``, ``p.pg-note`` (shown
with a flow sampler: exact velocity only), the
``canvas.pg-canvas`` and ``p.pg-readout``; ``window.DiffusionPlayground.runWith(spec, x, noise)``.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from importlib import resources
from string import Template
from typing import Any

import torch
from IPython.display import HTML
from torch import nn

from diffusion_edu import data
from diffusion_edu.core.checks import check_int

TEMPLATES = resources.files("diffusion_edu.present") / "templates"


def _mixture(means: list[list[float]], stds: list[float], weights: list[float], classes: list[int]) -> dict[str, Any]:
    return {"means": means, "stds": stds, "weights": weights, "classes": classes}


def presets() -> dict[str, dict[str, Any]]:
    """The page's mixtures: the 8-Gaussians ring (:func:`diffusion_edu.data.eight_gaussians`, the
    network's training data), a two-moons-like mixture (Gaussians along the arcs of
    :func:`diffusion_edu.data.two_moons`) and an unbalanced pair. Classes (for guidance): alternate
    ring components, one per moon, one per member of the pair."""
    ring = data.eight_gaussians()
    moons_means = []
    for moon in (0, 1):
        for angle in torch.linspace(0, math.pi, 6).tolist():
            x, y = (math.cos(angle), math.sin(angle)) if moon == 0 else (1 - math.cos(angle), 0.5 - math.sin(angle))
            moons_means.append([round((x - 0.5) * 1.6, 4), round((y - 0.25) * 1.6, 4)])  # as two_moons places them
    return {
        "ring": _mixture([[round(v, 6) for v in row] for row in ring.means.tolist()], [0.15] * 8, [1.0] * 8,
                         [k % 2 for k in range(8)]),
        "moons": _mixture(moons_means, [0.14] * 12, [1.0] * 12, [0] * 6 + [1] * 6),
        "pair": _mixture([[-1.0, -0.6], [1.3, 0.9]], [0.45, 0.3], [0.85, 0.15], [0, 1]),
    }


def _base64(tensor: torch.Tensor) -> str:
    """A float tensor as base64 little-endian float32, row-major (what Float32Array reads)."""
    array = tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4")
    return base64.b64encode(array.tobytes()).decode("ascii")


def network_weights(network: nn.Module) -> dict[str, Any]:
    """The chapter-8 :class:`diffusion_edu.nets.mlp.TimeMLP` as JSON-able weights for the page: every
    tensor of its state dict (shape and base64 float32), plus the sinusoidal embedding's frequencies
    exactly as torch computes them (so the page's time codes match torch's in float32)."""
    required = ("time_embedding", "input", "blocks", "output")
    if not isinstance(network, nn.Module) or not all(hasattr(network, name) for name in required):
        raise TypeError(f"network: expected a TimeMLP (time_embedding, input, blocks, output), got "
                        f"{type(network).__name__}")
    if getattr(network, "num_classes", 0) or getattr(network, "dim", 2) != 2:
        raise ValueError("network: expected an unconditional 2-D TimeMLP (dim = 2, num_classes = 0)")
    half = network.time_embedding.frequency_dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
    tensors = {name: {"shape": list(value.shape), "data": _base64(value)}
               for name, value in network.state_dict().items()}
    tensors["frequencies"] = {"shape": [half], "data": _base64(frequencies)}
    return {"width": network.width, "depth": network.depth, "tensors": tensors}


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _script_json(value: object) -> str:
    """JSON safe inside <script>: no "</" can close the element early."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def playground_html(network: nn.Module | None = None, n_points: int = 1000, steps: int = 50, seed: int = 0,
                    n_tracked: int = 8) -> str:
    """The playground as one HTML snippet. ``network``: the trained chapter-8 network (the "trained
    network" model; without it only the exact score is offered); ``n_points`` sampled per run,
    ``steps`` the slider's start, ``seed`` the first run's noise, ``n_tracked`` trajectories drawn."""
    check_int("n_points", n_points, minimum=2)
    check_int("steps", steps, minimum=2)
    check_int("seed", seed, minimum=0)
    check_int("n_tracked", n_tracked, minimum=0)
    if n_tracked > n_points:
        raise ValueError(f"n_tracked: expected at most n_points = {n_points}, got {n_tracked}")
    if steps > 250:
        raise ValueError(f"steps: expected at most 250 (the slider's range), got {steps}")
    root_id = f"pg-{uuid.uuid4().hex[:12]}"
    config = {"presets": presets(), "network": network_weights(network) if network is not None else None,
              "nPoints": n_points, "nTracked": n_tracked, "seed": seed}
    body = Template(_template("playground.html")).substitute(id=root_id, steps=steps, points=n_points)
    return (f"<style>{_template('playground.css')}</style>\n{body}\n"
            f"<script>{_template('playground.math.js')}</script>\n"
            f"<script>{_template('playground.samplers.js')}</script>\n"
            f"<script>{_template('playground.ui.js')}</script>\n"
            f"<script>DiffusionPlayground.mount(document.getElementById({json.dumps(root_id)}), "
            f"{_script_json(config)});</script>\n")


def page_html(network: nn.Module | None = None, **options: Any) -> str:
    """A whole HTML page around :func:`playground_html` (for opening the playground alone)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sampler playground</title>"
            f"</head><body>\n{playground_html(network, **options)}</body></html>\n")


def show(network: nn.Module | None = None, **options: Any) -> HTML:
    """The playground in a notebook's output cell (Jupyter, Colab, the rendered book)."""
    return HTML(playground_html(network, **options))
