"""The forward-noising widget: its frames, its static HTML hooks, and (if chromium is installed)
the static slider in a headless browser."""

import re
import shutil

import numpy as np
import pytest

from diffusion_edu.present import noising_widget as widget
from diffusion_edu.processes.schedules import make_schedule

SMALL = {"sources": ("MNIST 3", "digit 3", "8 Gaussians"), "n_frames": 5, "T": 100}


def test_noised_follows_the_closed_form():
    schedule = make_schedule("cosine", 100)
    src = widget.source("digit 3")
    assert np.array_equal(widget.noised(src, schedule, 0)[0].numpy(), src.x0[0].numpy())
    x_t = widget.noised(src, schedule, 100)  # alpha_bar ~ 0: pure noise
    assert abs(float(x_t.mean())) < 0.05 and abs(float(x_t.std()) - 1) < 0.05
    with pytest.raises(ValueError, match=r"t: expected a step in \[0, 100\]"):
        widget.alpha_bar_at(schedule, 101)
    with pytest.raises(ValueError, match="name: expected one of"):
        widget.source("digit 11")


def test_mnist_sources_are_typical_held_out_digits():
    from diffusion_edu.data import load_mnist

    assert widget.SOURCES[0] == "MNIST 3"  # real handwriting is what the widget opens on
    digits = load_mnist()
    for name in widget.MNIST_SOURCES:
        src = widget.source(name)
        label = int(name.split()[1])
        assert src.is_image and src.x0.shape == (1, 1, 28, 28) and src.noise.shape == (widget.N_NOISE_DRAWS, 1, 28, 28)
        held_out = digits.test_images[digits.test_labels == label]
        assert any(np.array_equal(src.x0[0].numpy(), image.numpy()) for image in held_out)  # a held-out digit
        assert np.array_equal(widget.typical_mnist_digit(label).numpy(), src.x0.numpy())  # chosen deterministically
    x_t = widget.noised(widget.source("MNIST 3"), make_schedule("linear", 100), 100)
    assert x_t.shape == (widget.N_NOISE_DRAWS, 1, 28, 28) and abs(float(x_t.std()) - 1) < 0.05
    with pytest.raises(ValueError, match=r"label: expected a digit class in \[0, 9\], got 12"):
        widget.typical_mnist_digit(12)


def test_frames_are_seeded_and_change_with_t():
    schedule = make_schedule("linear", 100)
    src = widget.source("8 Gaussians")
    first, again = widget.render_state(src, schedule, 30), widget.render_state(src, schedule, 30)
    assert first.dtype == np.uint8 and first.ndim == 3 and np.array_equal(first, again)
    assert not np.array_equal(first, widget.render_state(src, schedule, 60))
    assert widget.t_grid(100, 5) == [0, 25, 50, 75, 100]
    mnist = widget.render_state(widget.source("MNIST 3"), schedule, 30)
    assert mnist.shape == first.shape  # every source fills the same frame
    assert not np.array_equal(mnist, widget.render_state(widget.source("digit 3"), schedule, 30))


def test_static_html_has_the_hooks_and_is_small():
    html = widget.static_html(**SMALL)
    for hook in ("de-noising-widget", "de-noising-slider", "de-noising-frame", "de-noising-t",
                 "de-noising-schedule", "de-noising-source", "de-noising-marker"):
        assert f'class="{hook}"' in html, hook
    assert 'type="range"' in html and 'max="4"' in html
    assert len(re.findall(r"iVBORw0KGgo", html)) == 2 * 3 * 5 + 2  # frames + one curve image per schedule
    assert re.search(r'class="de-noising-source"><option value="MNIST 3">', html)  # the first source shown
    full = widget.static_html()
    assert len(full) < 1_100_000, len(full)  # 7 sources: measured 877 kB (palette PNGs; 692 kB for 5 as RGB)
    with pytest.raises(ValueError, match="sources: expected one of"):
        widget.static_html(sources=("cats",))
    with pytest.raises(ValueError, match="start_index: expected an index in"):
        widget.static_html(start_index=99, **SMALL)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None or shutil.which("chromedriver") is None, reason="no headless chromium")
def test_static_slider_changes_the_image_in_a_browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    page = tmp_path / "widget.html"
    page.write_text("<html><body>" + widget.static_html(**SMALL) + "</body></html>", encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    try:
        driver.get(page.as_uri())
        frame = driver.find_element(By.CLASS_NAME, "de-noising-frame")
        slider = driver.find_element(By.CLASS_NAME, "de-noising-slider")
        label = driver.find_element(By.CLASS_NAME, "de-noising-t")
        before, t_before = frame.get_attribute("src"), label.text
        assert before.startswith("data:image/png;base64,") and t_before == "25"
        slider.send_keys(Keys.RIGHT)  # a real key press on the range input
        assert label.text == "50" and frame.get_attribute("src") != before
        after_slider = frame.get_attribute("src")
        Select(driver.find_element(By.CLASS_NAME, "de-noising-schedule")).select_by_value("cosine")
        assert frame.get_attribute("src") != after_slider
        source_menu = Select(driver.find_element(By.CLASS_NAME, "de-noising-source"))
        assert source_menu.first_selected_option.get_attribute("value") == "MNIST 3"
        mnist = frame.get_attribute("src")
        source_menu.select_by_value("digit 3")  # the 8x8 digit: another picture
        assert frame.get_attribute("src") != mnist and label.text == "50"
        source_menu.select_by_value("MNIST 3")  # and back: the same MNIST frame as before
        assert frame.get_attribute("src") == mnist
        marker = driver.find_element(By.CLASS_NAME, "de-noising-marker")
        assert marker.value_of_css_property("left") != "auto"
    finally:
        driver.quit()


def test_live_widget_builds_and_figure_draws():
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt

    box = widget.live(T=100, t=10)
    slider, source_menu = box.children[1], box.children[0].children[0]
    assert slider.max == 100 and slider.value == 10
    assert source_menu.value == "MNIST 3" and "digit 3" in source_menu.options
    slider.value = 60  # the observer redraws without error
    source_menu.value = "digit 7"
    source_menu.value = "MNIST 7"
    fig = widget.figure("MNIST 7", "linear", 60, T=100)
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    plt.close(fig)
    fig = widget.figure("8 Gaussians", "cosine", 60, T=100)
    assert len(fig.axes) == 4  # x_t, histogram, alpha_bar and its SNR twin axis
    plt.close("all")
    with pytest.raises(ValueError, match="schedule_name: expected one of"):
        widget.live(schedule_name="sigmoid")
