"""The forward-noising widget (chapter 7): pick a digit (28x28 MNIST or 8x8) or a 2-D dataset, slide t from 0 to T,
switch the schedule, and watch x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, the
histogram of its values approach N(0, 1), and alpha_bar(t) and SNR(t) with the current t marked.

It comes in two forms that draw the same pictures with the same function (:func:`draw_state`):

- :func:`live` -- ipywidgets (Jupyter, Colab): any t in 0..T, redrawn by the kernel;
- :func:`static` -- no kernel needed (the rendered book, where plain ipywidgets go blank,
  jupyter-book#1991): frames for a grid of t values are precomputed as base64 PNGs and embedded,
  with a few lines of JavaScript that swap them. Everything is in one self-contained HTML
  snippet (about 0.9 MB with the defaults, frames as palette PNGs; :func:`static_html` returns the string).

The parts: :mod:`.state` (sources, x_t, the matplotlib drawings), :mod:`.live` and :mod:`.static`;
the static form's markup and script are the package resources ``present/templates/noising_widget.html``
and ``noising_widget.js``.

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
index is t - 1, see :mod:`diffusion_edu.processes.schedules`).
"""

from __future__ import annotations

from diffusion_edu.present.noising_widget.live import live
from diffusion_edu.present.noising_widget.state import (
    DIGIT_SOURCES,
    MNIST_SOURCES,
    N_NOISE_DRAWS,
    N_POINTS_2D,
    SOURCES,
    Source,
    alpha_bar_at,
    draw_curves,
    draw_state,
    figure,
    noised,
    source,
    typical_mnist_digit,
)
from diffusion_edu.present.noising_widget.static import frames, render_state, static, static_html, t_grid

__all__ = ["DIGIT_SOURCES", "MNIST_SOURCES", "N_NOISE_DRAWS", "N_POINTS_2D", "SOURCES", "Source", "alpha_bar_at",
           "draw_curves", "draw_state", "figure", "frames", "live", "noised", "render_state", "source", "static",
           "static_html", "t_grid", "typical_mnist_digit"]
