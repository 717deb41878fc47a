"""The live noising widget: ipywidgets controls redrawn by the kernel (Jupyter, Colab)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from diffusion_edu.core.checks import check_choice, check_int
from diffusion_edu.present.noising_widget.state import SOURCES, figure
from diffusion_edu.processes.schedules import SCHEDULES


def live(T: int = 1000, t: int = 250, source_name: str = "MNIST 3", schedule_name: str = "linear"):
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
