"""Interactive figures, each in two forms: a live ipywidgets version (Jupyter, Colab) and a
kernel-free version whose frames are precomputed and driven by a JS slider (the static book,
where plain ipywidgets go blank: jupyter-book#1991)."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from IPython.display import HTML, display
from matplotlib.axes import Axes

from diffusion_edu.core.checks import check_callable, check_int, check_number, check_positive
from diffusion_edu.present.viz import animate
from diffusion_edu.probability.gaussian import normal_log_pdf, reparameterize


def live_plot(
    draw: Callable[..., None], figsize: tuple[float, float] = (6, 3), **sliders: tuple[float, float, float, float]
):
    """Redraw ``draw(ax, **values)`` whenever a slider moves. ``sliders``: name -> (min, max, step, value)."""
    import ipywidgets as widgets

    check_callable("draw", draw, "draw(ax, **values)")
    for name, spec in sliders.items():
        if not isinstance(spec, (tuple, list)) or len(spec) != 4:
            raise ValueError(f"{name}: expected a slider (min, max, step, value), got {spec!r}")
        lo, hi, step, value = (check_number(name, v) for v in spec)
        if not (lo < hi and 0 < step and lo <= value <= hi):
            raise ValueError(f"{name}: expected min < max, step > 0 and min <= value <= max, got {spec!r}")
    controls = {
        name: widgets.FloatSlider(min=lo, max=hi, step=step, value=value, description=name, continuous_update=True)
        for name, (lo, hi, step, value) in sliders.items()
    }
    output = widgets.Output()

    def redraw(_change: object = None) -> None:
        with output:
            output.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=figsize)
            draw(ax, **{name: c.value for name, c in controls.items()})
            plt.show()

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox(list(controls.values())), output])


def draw_gaussian(ax: Axes, mu: float, sigma: float, noise: torch.Tensor) -> None:
    """The density N(mu, sigma^2) and a histogram of mu + sigma * z for *fixed* z: moving the
    sliders moves the same points, which is the reparameterisation x = mu + sigma z."""
    mu = check_number("mu", mu)
    check_positive("sigma", sigma)
    grid = torch.linspace(-6, 6, 400)
    samples = reparameterize(mu, sigma, noise)
    ax.hist(samples.numpy(), bins=60, range=(-6, 6), density=True, color="0.8", label=r"$\mu + \sigma z$")
    ax.plot(grid, normal_log_pdf(grid, mu, sigma).exp(), color="tab:blue", label=r"$\mathcal{N}(\mu, \sigma^2)$")
    ax.plot(samples[:40].numpy(), torch.zeros(40).numpy(), "|", color="tab:orange", ms=12)
    ax.set_xlim(-6, 6)
    ax.set_ylim(0, 1.2)
    ax.set_title(rf"$\mu = {mu:.2f}$, $\sigma = {sigma:.2f}$")
    ax.legend(loc="upper right", fontsize=8)


def gaussian_explorer(seed: int = 0):
    """Live: sliders for mu and sigma."""
    check_int("seed", seed, minimum=0)
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(seed))
    return live_plot(lambda ax, mu, sigma: draw_gaussian(ax, mu, sigma, noise),
                     mu=(-3.0, 3.0, 0.1, 0.0), sigma=(0.3, 3.0, 0.05, 1.0))


def gaussian_explorer_static(seed: int = 0, n_frames: int = 24) -> HTML:
    """Kernel-free: frames that move mu from -2 to 2, then shrink sigma from 2 to 0.4."""
    check_int("seed", seed, minimum=0)
    check_int("n_frames", n_frames, minimum=4)
    noise = torch.randn(4000, generator=torch.Generator().manual_seed(seed))
    half = n_frames // 2
    path = [(-2 + 4 * i / (half - 1), 1.0) for i in range(half)]
    path += [(0.0, 2.0 - 1.6 * i / (n_frames - half - 1)) for i in range(n_frames - half)]
    fig, ax = plt.subplots(figsize=(6, 3))

    def update(i: int) -> None:
        ax.clear()
        draw_gaussian(ax, path[i][0], path[i][1], noise)

    return animate(fig, update, n_frames)


__all__ = ["live_plot", "draw_gaussian", "gaussian_explorer", "gaussian_explorer_static", "display"]
