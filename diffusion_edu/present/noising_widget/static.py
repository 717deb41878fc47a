"""The kernel-free noising widget: frames for a grid of t precomputed as base64 PNGs (rasterised with
NumPy) and embedded in one HTML snippet whose markup and script are package resources
(``templates/noising_widget.html`` and ``.js``), filled in with :class:`string.Template`."""

from __future__ import annotations

import base64
import io
import json
import math
import uuid
from collections.abc import Sequence
from importlib import resources
from string import Template

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import HTML
from matplotlib.figure import Figure

from diffusion_edu.core.checks import check_choice, check_int
from diffusion_edu.present.noising_widget.state import SOURCES, Source, alpha_bar_at, draw_curves, noised, source
from diffusion_edu.processes.schedules import SCHEDULES, Schedule, make_schedule

TEMPLATES = resources.files("diffusion_edu.present") / "templates"


def _template() -> Template:
    """The widget's markup followed by its script, as one template."""
    markup = (TEMPLATES / "noising_widget.html").read_text(encoding="utf-8")
    script = (TEMPLATES / "noising_widget.js").read_text(encoding="utf-8")
    return Template(f"{markup}<script>\n{script}</script>\n")


def _png_base64(pixels: np.ndarray) -> str:
    """An (H, W, 3) uint8 array as a PNG in base64: a lossless palette PNG when it has at most 256 colours
    (every frame: grey levels, the red density, the blue points), a third of the bytes per pixel of RGB, which
    keeps the page small with 28x28 digits (their noisy frames hold ~180 grey levels)."""
    from PIL import Image

    rgb = pixels.astype(np.int32)
    codes, index = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2], return_inverse=True)
    if len(codes) <= 256:
        image = Image.fromarray(index.reshape(pixels.shape[:2]).astype(np.uint8), mode="P")
        palette = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1).astype(np.uint8)
        image.putpalette(palette.flatten().tolist())
    else:
        image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_base64(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


PANEL = 140  # pixels: the x_t panel; an 8x8 digit pixel is 17 x 17 screen pixels (centred), a 28x28 one 5 x 5
HIST_BINS, BIN_PIXELS, HIST_MAX = 45, 4, 1.6  # the histogram spans [-4, 4] in HIST_BINS bars


def render_state(src: Source, schedule: Schedule, t: int) -> np.ndarray:
    """The static frame for one state, rasterised with NumPy (fast enough to precompute hundreds):
    x_t on the left, the histogram of its values on [-4, 4] (grey) under the N(0, 1) density
    (red) on the right. Returns an (H, W, 3) uint8 image."""
    x_t = noised(src, schedule, t)
    hist_width = HIST_BINS * BIN_PIXELS
    canvas = np.full((PANEL + 8, PANEL + hist_width + 16, 3), 255, dtype=np.uint8)
    if src.is_image:  # gray_r on [-2.5, 2.5], as draw_state; whole screen pixels per image pixel, centred
        level = ((2.5 - x_t[0, 0].clamp(-2.5, 2.5)) / 5.0 * 255).round().to(torch.uint8).numpy()
        side = level.shape[0]
        scale = PANEL // side
        at = 4 + (PANEL - side * scale) // 2
        canvas[at:at + side * scale, at:at + side * scale] = np.kron(level, np.ones((scale, scale), dtype=np.uint8))[
            ..., None]
    else:  # points on [-3.5, 3.5]^2
        canvas[4:4 + PANEL, 4:4 + PANEL] = 246
        pixel = ((x_t.clamp(-3.49, 3.49) + 3.5) / 7.0 * (PANEL - 2)).long().numpy()
        for dx in (0, 1):
            for dy in (0, 1):
                canvas[4 + PANEL - 2 - pixel[:, 1] + dy, 4 + pixel[:, 0] + dx] = (31, 119, 180)
    left, base = PANEL + 12, PANEL + 3  # the histogram's origin (row of the baseline)
    counts, edges = np.histogram(x_t.flatten().numpy(), bins=HIST_BINS, range=(-4, 4), density=True)
    heights = np.minimum(counts / HIST_MAX, 1.0) * (PANEL - 4)
    for i, height in enumerate(heights.round().astype(int)):
        canvas[base - height:base, left + i * BIN_PIXELS:left + (i + 1) * BIN_PIXELS - 1] = 170
    xs = np.linspace(-4, 4, hist_width)
    density = np.exp(-xs**2 / 2) / math.sqrt(2 * math.pi) / HIST_MAX * (PANEL - 4)
    for col, height in enumerate(density.round().astype(int)):
        canvas[base - height - 1:base - height + 1, left + col] = (214, 39, 40)
    canvas[base:base + 1, left:left + hist_width] = 0  # the axis, with ticks at -4, -2, 0, 2, 4
    for tick in range(5):
        col = min(left + tick * hist_width // 4, left + hist_width - 1)
        canvas[base:base + 4, col] = 0
    return canvas


def t_grid(T: int = 1000, n_frames: int = 26) -> list[int]:
    """n_frames values of t from 0 to T, evenly spaced."""
    check_int("T", T)
    check_int("n_frames", n_frames, minimum=2)
    return sorted({round(i * T / (n_frames - 1)) for i in range(n_frames)})


def _curves_frame(schedule: Schedule, dpi: int) -> tuple[str, dict[str, float]]:
    """The curves without a marker, and where t = 0 and t = T fall, as fractions of the image width."""
    fig, ax = plt.subplots(figsize=(4.2, 2.1))
    draw_curves(ax, schedule)
    fig.tight_layout()
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    box = ax.get_window_extent()
    geometry = {"left": box.x0 / width, "width": box.width / width,
                "top": 1 - box.y1 / height, "height": box.height / height}
    return _figure_base64(fig, dpi), geometry


def frames(sources: Sequence[str] = SOURCES, schedules: Sequence[str] = ("linear", "cosine"), T: int = 1000,
           n_frames: int = 26, dpi: int = 90) -> dict:
    """Everything the static widget embeds: the t grid, per (schedule, source) one PNG per t, per
    schedule the curve image and its axes geometry, and alpha_bar and SNR at each t."""
    check_int("dpi", dpi)
    if isinstance(sources, str) or isinstance(schedules, str):
        raise TypeError("sources, schedules: expected lists of names, got a bare string (pass [name])")
    if not sources or not schedules:
        raise ValueError("sources, schedules: expected at least one name each, got an empty list")
    for name in sources:
        check_choice("sources", name, SOURCES)
    for name in schedules:
        check_choice("schedules", name, list(SCHEDULES))
    ts = t_grid(T, n_frames)
    out: dict = {"T": T, "t": ts, "frames": {}, "curves": {}, "geometry": {}, "alpha_bar": {}, "snr": {}}
    with plt.rc_context({"figure.max_open_warning": 0}):
        for schedule_name in schedules:
            schedule = make_schedule(schedule_name, T)
            out["curves"][schedule_name], out["geometry"][schedule_name] = _curves_frame(schedule, dpi)
            alpha_bars = [alpha_bar_at(schedule, t) for t in ts]
            out["alpha_bar"][schedule_name] = [float(f"{a:.4g}") for a in alpha_bars]
            out["snr"][schedule_name] = [None if a >= 1 else float(f"{a / (1 - a):.4g}") for a in alpha_bars]
            out["frames"][schedule_name] = {
                name: [_png_base64(render_state(source(name), schedule, t)) for t in ts] for name in sources
            }
    return out


def static_html(sources: Sequence[str] = SOURCES, schedules: Sequence[str] = ("linear", "cosine"), T: int = 1000,
                n_frames: int = 26, dpi: int = 90, start_index: int | None = None) -> str:
    """The self-contained HTML of the kernel-free widget (see the module docstring for its hooks); it opens
    early on the t grid (t = 80 of 1000 with the default 26 frames), where a digit is still legible under its noise."""
    payload = frames(sources, schedules, T, n_frames, dpi)
    n = len(payload["t"])
    start = max(1, n // 12) if start_index is None else check_int("start_index", start_index, minimum=0)
    if not 0 <= start < n:
        raise ValueError(f"start_index: expected an index in [0, {n - 1}], got {start}")
    options = "".join(f'<option value="{name}">{name}</option>' for name in sources)
    schedule_options = "".join(f'<option value="{name}">{name}</option>' for name in schedules)
    return _template().substitute(id=f"de-noising-{uuid.uuid4().hex[:8]}", n=n, last=n - 1, start=start,
                            source_options=options, schedule_options=schedule_options,
                            payload=json.dumps(payload, separators=(",", ":")))


def static(**kwargs) -> HTML:
    """:func:`static_html` as a displayable object for a notebook cell."""
    return HTML(static_html(**kwargs))
