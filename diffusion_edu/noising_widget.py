"""The forward-noising widget (chapter 7): pick a digit or a 2-D dataset, slide t from 0 to T,
switch the schedule, and watch x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, the
histogram of its values approach N(0, 1), and alpha_bar(t) and SNR(t) with the current t marked.

It comes in two forms that draw the same pictures with the same function (:func:`draw_state`):

- :func:`live` -- ipywidgets (Jupyter, Colab): any t in 0..T, redrawn by the kernel;
- :func:`static` -- no kernel needed (the rendered book, where plain ipywidgets go blank,
  jupyter-book#1991): frames for a grid of t values are precomputed as base64 PNGs and embedded,
  with a few lines of inline JavaScript that swap them. Everything is in one self-contained HTML
  snippet (about 0.5-1 MB with the defaults; :func:`static_html` returns the string).

Hooks of the static form (for browser tests; every class is unique inside one widget):

- ``div.de-noising-widget`` -- the root; its ``data-frames`` attribute is the number of t values;
- ``input[type=range].de-noising-slider`` -- values 0..n-1, the index into the t grid; the widget
  listens to both ``input`` and ``change`` events;
- ``img.de-noising-frame`` -- x_t and its histogram; its ``src`` is a ``data:image/png;base64`` URI
  that changes whenever the slider, the schedule or the source changes;
- ``.de-noising-t`` -- the current t (text), ``.de-noising-stats`` -- alpha_bar and SNR at t;
- ``select.de-noising-schedule`` (``linear``, ``cosine``), ``select.de-noising-source``;
- ``img.de-noising-curves`` with ``div.de-noising-marker`` -- alpha_bar(t) and SNR(t) for the chosen
  schedule; the marker's CSS ``left`` (a percentage) follows t.

t counts the paper's way here: t = 0 is x_0 itself and t = T the last step (the package's schedule
index is t - 1, see :mod:`diffusion_edu.schedules`).
"""

from __future__ import annotations

import base64
import io
import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import HTML
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from diffusion_edu import data
from diffusion_edu._checks import check_choice, check_int
from diffusion_edu.schedules import SCHEDULES, Schedule, check_schedule, make_schedule

DIGIT_SOURCES = ("digit 0", "digit 3", "digit 7")
SOURCES = (*DIGIT_SOURCES, "8 Gaussians", "swiss roll")
N_NOISE_DRAWS = 256  # noisy copies of a digit whose pixels make the histogram
N_POINTS_2D = 1000


@dataclass(frozen=True)
class Source:
    """What gets noised: a digit (1, 1, 8, 8) or 2-D points (N, 2), and fixed noise for it."""

    name: str
    x0: torch.Tensor
    noise: torch.Tensor  # (N_NOISE_DRAWS, 1, 8, 8) for a digit, (N, 2) for points

    @property
    def is_image(self) -> bool:
        return self.x0.ndim == 4


@lru_cache(maxsize=16)
def source(name: str, seed: int = 0) -> Source:
    """The first held-out digit with that label, or samples of a 2-D dataset, with seeded noise.

    The noise is drawn once: sliding t moves the *same* draws, so the frames form a continuous path."""
    check_choice("name", name, SOURCES)
    check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    if name.startswith("digit"):
        digits = data.load_digits()
        label = int(name.split()[1])
        x0 = digits.test_images[digits.test_labels == label][:1]  # (1, 1, 8, 8)
        return Source(name, x0, torch.randn(N_NOISE_DRAWS, 1, 8, 8, generator=generator))
    dataset = {"8 Gaussians": "eight_gaussians", "swiss roll": "swiss_roll"}[name]
    x0 = data.sample_2d(dataset, N_POINTS_2D, generator)  # (N, 2)
    return Source(name, x0, torch.randn(x0.shape, generator=generator))


def alpha_bar_at(schedule: Schedule, t: int) -> float:
    """alpha_bar_t with the paper's t in 0..T (alpha_bar_0 = 1: x_0 itself)."""
    check_schedule(schedule)
    check_int("t", t, minimum=0)
    if t > schedule.T:
        raise ValueError(f"t: expected a step in [0, {schedule.T}], got {t}")
    return 1.0 if t == 0 else float(schedule.alpha_bar[t - 1])


def noised(src: Source, schedule: Schedule, t: int) -> torch.Tensor:
    """x_t for every noise draw of ``src``: (N_NOISE_DRAWS, 1, 8, 8) for a digit, (N, 2) for points."""
    if not isinstance(src, Source):
        raise TypeError(f"src: expected a Source (noising_widget.source(name)), got {type(src).__name__}")
    alpha_bar = alpha_bar_at(schedule, t)
    return math.sqrt(alpha_bar) * src.x0 + math.sqrt(1.0 - alpha_bar) * src.noise


def draw_state(ax_x: Axes, ax_hist: Axes, src: Source, schedule: Schedule, t: int) -> None:
    """x_t (the first noisy copy of the digit, or all noisy points) and the histogram of its values
    against the N(0, 1) density."""
    x_t = noised(src, schedule, t)
    alpha_bar = alpha_bar_at(schedule, t)
    if src.is_image:
        ax_x.imshow(x_t[0, 0].numpy(), cmap="gray_r", vmin=-2.5, vmax=2.5)
        ax_x.set_axis_off()
    else:
        ax_x.scatter(x_t[:, 0].numpy(), x_t[:, 1].numpy(), s=1.5, c="tab:blue", alpha=0.6)
        ax_x.set_xlim(-3.5, 3.5)
        ax_x.set_ylim(-3.5, 3.5)
        ax_x.set_aspect("equal")
        ax_x.set_xticks([])
        ax_x.set_yticks([])
    ax_x.set_title(f"x_t, t = {t}", fontsize=9)
    grid = torch.linspace(-4, 4, 200)
    ax_hist.hist(x_t.flatten().numpy(), bins=48, range=(-4, 4), density=True, color="0.65")
    ax_hist.plot(grid.numpy(), (torch.exp(-grid**2 / 2) / math.sqrt(2 * math.pi)).numpy(), color="tab:red", lw=1.2)
    ax_hist.set_xlim(-4, 4)
    ax_hist.set_ylim(0, 1.6)
    ax_hist.set_yticks([])
    ax_hist.tick_params(labelsize=7)
    ax_hist.set_title(f"values of x_t vs N(0,1); abar = {alpha_bar:.3g}", fontsize=8)


def draw_curves(ax: Axes, schedule: Schedule, t: int | None = None) -> Axes:
    """alpha_bar(t) (left axis) and log10 SNR(t) (right axis) over t = 1..T, with t marked."""
    check_schedule(schedule)
    if t is not None:
        alpha_bar_at(schedule, t)  # t in 0..T
    steps = torch.arange(1, schedule.T + 1)
    ax.plot(steps.numpy(), schedule.alpha_bar.numpy(), color="tab:blue", lw=1.5)
    ax.set_ylabel("alpha_bar(t)", color="tab:blue", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, schedule.T)
    ax.set_xlabel("t", fontsize=8)
    ax.tick_params(labelsize=7)
    right = ax.twinx()
    right.plot(steps.numpy(), torch.log10(schedule.snr).numpy(), color="tab:orange", lw=1.5)
    right.set_ylabel("log10 SNR(t)", color="tab:orange", fontsize=8)
    right.set_ylim(-9, 5)
    right.tick_params(labelsize=7)
    ax.set_title(f"{schedule.name} schedule", fontsize=9)
    if t is not None:
        ax.axvline(t, color="k", lw=1)
    return ax


def figure(source_name: str = "digit 3", schedule_name: str = "linear", t: int = 250, T: int = 1000) -> Figure:
    """The whole picture for one state (used by :func:`live`; also handy in exercises)."""
    schedule = make_schedule(schedule_name, T)
    fig, (ax_x, ax_hist, ax_curves) = plt.subplots(1, 3, figsize=(10, 2.6), width_ratios=[1, 1.4, 1.8])
    draw_state(ax_x, ax_hist, source(source_name), schedule, t)
    draw_curves(ax_curves, schedule, t)
    fig.tight_layout()
    return fig


def live(T: int = 1000, t: int = 250, source_name: str = "digit 3", schedule_name: str = "linear"):
    """The live widget: a source menu, schedule buttons and a t slider (0..T), redrawn by the kernel."""
    import ipywidgets as widgets

    check_choice("source_name", source_name, SOURCES)
    check_choice("schedule_name", schedule_name, list(SCHEDULES))
    check_int("T", T)
    check_int("t", t, minimum=0)
    if t > T:
        raise ValueError(f"t: expected a step in [0, {T}], got {t}")
    source_menu = widgets.Dropdown(options=list(SOURCES), value=source_name, description="data")
    schedule_buttons = widgets.ToggleButtons(options=list(SCHEDULES), value=schedule_name, description="schedule")
    t_slider = widgets.IntSlider(min=0, max=T, step=1, value=t, description="t", continuous_update=True)
    output = widgets.Output()

    def redraw(_change: object = None) -> None:
        with output:
            output.clear_output(wait=True)
            figure(source_menu.value, schedule_buttons.value, t_slider.value, T)
            plt.show()

    for control in (source_menu, schedule_buttons, t_slider):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([source_menu, schedule_buttons]), t_slider, output])


# ---------------------------------------------------------------------------------------------
# the kernel-free version
# ---------------------------------------------------------------------------------------------


def _png_base64(pixels: np.ndarray) -> str:
    """An (H, W, 3) uint8 array as a PNG in base64."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_base64(fig: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


PANEL = 136  # pixels: the x_t panel is PANEL x PANEL (a digit pixel is 17 x 17 screen pixels)
HIST_BINS, BIN_PIXELS, HIST_MAX = 45, 4, 1.6  # the histogram spans [-4, 4] in HIST_BINS bars


def render_state(src: Source, schedule: Schedule, t: int) -> np.ndarray:
    """The static frame for one state, rasterised with NumPy (fast enough to precompute hundreds):
    x_t on the left, the histogram of its values on [-4, 4] (grey) under the N(0, 1) density
    (red) on the right. Returns an (H, W, 3) uint8 image."""
    x_t = noised(src, schedule, t)
    hist_width = HIST_BINS * BIN_PIXELS
    canvas = np.full((PANEL + 8, PANEL + hist_width + 16, 3), 255, dtype=np.uint8)
    if src.is_image:  # gray_r on [-2.5, 2.5], as draw_state
        level = ((2.5 - x_t[0, 0].clamp(-2.5, 2.5)) / 5.0 * 255).round().to(torch.uint8).numpy()
        scale = PANEL // 8
        canvas[4:4 + 8 * scale, 4:4 + 8 * scale] = np.kron(level, np.ones((scale, scale), dtype=np.uint8))[..., None]
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


_TEMPLATE = """
<div class="de-noising-widget" id="{id}" data-frames="{n}" style="font: 13px sans-serif; max-width: 980px;">
  <div style="display: flex; gap: 1em; align-items: center; flex-wrap: wrap; margin-bottom: 4px;">
    <label>data <select class="de-noising-source">{source_options}</select></label>
    <label>schedule <select class="de-noising-schedule">{schedule_options}</select></label>
    <label style="flex: 1 1 260px; display: flex; align-items: center; gap: 0.5em;">t
      <input type="range" class="de-noising-slider" min="0" max="{last}" step="1" value="{start}"
             style="flex: 1;" aria-label="diffusion step t">
      <b class="de-noising-t" style="min-width: 3em;"></b></label>
    <span class="de-noising-stats"></span>
  </div>
  <div style="display: flex; gap: 8px; flex-wrap: wrap; align-items: flex-start;">
    <figure style="margin: 0; width: 46%; min-width: 280px;">
      <img class="de-noising-frame" alt="x_t and the histogram of its values"
           style="width: 100%; image-rendering: pixelated; display: block;">
      <figcaption style="font-size: 11px; color: #555;">left: x_t; right: histogram of the values of x_t
        on [-4, 4] (ticks every 2) and the N(0, 1) density (red)</figcaption>
    </figure>
    <div style="position: relative; width: 42%; min-width: 260px;">
      <img class="de-noising-curves" alt="alpha_bar(t) and SNR(t)" style="width: 100%; display: block;">
      <div class="de-noising-marker" style="position: absolute; width: 2px; background: black;"></div>
    </div>
  </div>
</div>
<script>
(function () {{
  var D = {payload};
  var root = document.getElementById("{id}");
  var q = function (c) {{ return root.querySelector("." + c); }};
  var slider = q("de-noising-slider"), frame = q("de-noising-frame"), label = q("de-noising-t");
  var stats = q("de-noising-stats"), schedule = q("de-noising-schedule"), src = q("de-noising-source");
  var curves = q("de-noising-curves"), marker = q("de-noising-marker");
  function show() {{
    var i = parseInt(slider.value, 10), s = schedule.value, g = D.geometry[s], t = D.t[i];
    frame.src = "data:image/png;base64," + D.frames[s][src.value][i];
    curves.src = "data:image/png;base64," + D.curves[s];
    marker.style.left = (100 * (g.left + g.width * t / D.T)) + "%";
    marker.style.top = (100 * g.top) + "%";
    marker.style.height = (100 * g.height) + "%";
    label.textContent = String(t);
    var snr = D.snr[s][i];
    stats.textContent = "alpha_bar = " + D.alpha_bar[s][i].toPrecision(3) +
      ", SNR = " + (snr === null ? "inf" : snr.toPrecision(3));
  }}
  slider.addEventListener("input", show);
  slider.addEventListener("change", show);
  schedule.addEventListener("change", show);
  src.addEventListener("change", show);
  show();
}})();
</script>
"""


def static_html(sources: Sequence[str] = SOURCES, schedules: Sequence[str] = ("linear", "cosine"), T: int = 1000,
                n_frames: int = 26, dpi: int = 90, start_index: int | None = None) -> str:
    """The self-contained HTML of the kernel-free widget (see the module docstring for its hooks)."""
    payload = frames(sources, schedules, T, n_frames, dpi)
    n = len(payload["t"])
    start = n // 4 if start_index is None else check_int("start_index", start_index, minimum=0)
    if not 0 <= start < n:
        raise ValueError(f"start_index: expected an index in [0, {n - 1}], got {start}")
    options = "".join(f'<option value="{name}">{name}</option>' for name in sources)
    schedule_options = "".join(f'<option value="{name}">{name}</option>' for name in schedules)
    return _TEMPLATE.format(id=f"de-noising-{uuid.uuid4().hex[:8]}", n=n, last=n - 1, start=start,
                            source_options=options, schedule_options=schedule_options,
                            payload=json.dumps(payload, separators=(",", ":")))


def static(**kwargs) -> HTML:
    """:func:`static_html` as a displayable object for a notebook cell."""
    return HTML(static_html(**kwargs))
