"""The sampler playground in headless Chromium, opened from a file (no book build needed): every
sampler of its menu gives the package's Python result for the same start points and noise, to 1e-4
(the flow samplers with the mixture's exact velocity, flow.mixture_velocity);
the network's JavaScript forward pass equals torch's; the page makes no network request; and every
control changes the picture and the readout."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import torch

from diffusion_edu import recipes
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.present import playground, playground_reference
from tests.browser.conftest import SCREENSHOTS

TOLERANCE = 1e-4  # the package's float32 samplers against the page's float64 JavaScript
# with the network, the same Python sampler run in float64 agrees with the page to rounding
NETWORK_TOLERANCE_FLOAT64 = 1e-6
N_POINTS = 64
CASES = [  # (sampler, model, extra settings)
    ("ddpm", "exact", {}), ("ddim", "exact", {"eta": 0.0}), ("ddim", "exact", {"eta": 0.5}),
    ("euler_maruyama", "exact", {}), ("predictor_corrector", "exact", {}), ("probability_flow", "exact", {}),
    ("edm_heun", "exact", {}), ("dpm_solver_pp_2m", "exact", {}), ("dpm_solver_pp_2m", "exact", {"steps": 10}),
    ("ddpm", "exact", {"guidance": 2.5, "label": 1}), ("probability_flow", "exact", {"guidance": 2.5, "label": 0}),
    ("edm_heun", "exact", {"guidance": 2.5, "label": 1}),
    ("flow_euler", "exact", {}), ("flow_heun", "exact", {}), ("flow_heun", "exact", {"steps": 3}),
    ("flow_euler", "exact", {"guidance": 2.5, "label": 1}), ("flow_heun", "exact", {"guidance": 2.5, "label": 0}),
    ("flow_heun", "exact", {"guidance": 1.0, "label": 1}),
    ("ddpm", "network", {}), ("ddim", "network", {"eta": 1.0}), ("euler_maruyama", "network", {}),
    ("predictor_corrector", "network", {}), ("probability_flow", "network", {}), ("edm_heun", "network", {}),
    ("dpm_solver_pp_2m", "network", {}),
]


@pytest.fixture(scope="module")
def network() -> TimeMLP:
    """The network the book's page embeds: chapter 8's ring model (loaded from the model cache that
    `make book` fills; trained here, ~20-60 s, when the cache is empty)."""
    model, _ = recipes.ddpm_2d("eight_gaussians", progress=False)
    return model.cpu().eval()


@pytest.fixture(scope="module")
def network64(network) -> TimeMLP:
    """The same network in float64; its sinusoidal features stay float32 (as the page computes them)."""
    double = copy.deepcopy(network).double()
    double.time_embedding.mlp.register_forward_pre_hook(lambda _module, args: (args[0].double(),))
    return double


@pytest.fixture(scope="module")
def page(browser, network, tmp_path_factory) -> object:
    path = Path(tmp_path_factory.mktemp("playground")) / "playground.html"
    path.write_text(playground.page_html(network, n_points=1000), encoding="utf-8")
    browser.set_script_timeout(600)
    browser.get(path.as_uri())
    wait_done(browser, 0)
    return browser


def state(driver) -> tuple[str, int]:
    values = driver.execute_script("const r = document.querySelector('.pg-playground');"
                                   "return [r.dataset.state, Number(r.dataset.runs || 0)];")
    return values[0], values[1]


def wait_done(driver, runs_before: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        current, runs = state(driver)
        if current == "done" and runs > runs_before:
            return
        time.sleep(0.05)
    raise AssertionError(f"the playground did not finish a run within {timeout} s (state {state(driver)})")


CASE_IDS = [f"{s}-{m}-{'-'.join(map(str, e.values()))}".rstrip("-") for s, m, e in CASES]


@pytest.mark.parametrize(("sampler", "model", "extra"), CASES, ids=CASE_IDS)
def test_browser_sampler_equals_python(page, network, network64, sampler: str, model: str, extra: dict) -> None:
    settings = {"sampler": sampler, "steps": 20, "eta": 0.0, "model": model, "label": 0, "guidance": 0.0,
                "mixture": playground.presets()["ring"], **extra}
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(N_POINTS, 2, generator=generator)
    noise = [torch.randn(N_POINTS, 2, generator=generator) for _ in range(2 * settings["steps"])]
    expected = playground_reference.sample(settings, x, noise, network)
    result = page.execute_script("return DiffusionPlayground.runWith(arguments[0], arguments[1], arguments[2]);",
                                 settings, x.flatten().tolist(), [n.flatten().tolist() for n in noise])
    got = torch.tensor(result["x"], dtype=torch.float64).view(N_POINTS, 2)
    difference = float((got - expected.double()).abs().max())
    message = f"{sampler} ({model}, {extra}): max |JS - Python| = {difference:.2e}"
    if model == "network":
        expected64 = playground_reference.sample(settings, x.double(), [n.double() for n in noise], network64)
        difference64 = float((got - expected64).abs().max())
        message += f" (float32 torch), {difference64:.2e} (float64 torch)"
        assert difference64 < NETWORK_TOLERANCE_FLOAT64, message
    print(message)
    assert difference < TOLERANCE, message
    if sampler in playground_reference.FLOW:  # NFE: Euler N, Heun 2N, each twice when guided (w not 0 or 1)
        per_step = (1 if sampler == "flow_euler" else 2) * (2 if settings["guidance"] not in (0, 1) else 1)
        assert result["evaluations"] == per_step * settings["steps"], result["evaluations"]
    assert bool(expected.std() > 0.1)  # a real spread of samples, not a collapsed run


def test_network_forward_pass_equals_torch(page, network) -> None:
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(2)) * 2
    for t in (0, 1, 499, 998.001, 999):
        got = torch.tensor(page.execute_script("return DiffusionPlayground.networkEps(arguments[0], arguments[1]);",
                                               x.flatten().tolist(), t)).view(-1, 2)
        with torch.no_grad():
            expected = network(x, torch.full((256,), t, dtype=torch.float32 if t % 1 else torch.long))
        assert float((got - expected.double()).abs().max()) < 1e-5, t


def test_no_network_request(page) -> None:
    urls = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert [u for u in urls if not u.startswith(("data:", "file:"))] == [], urls
    assert page.execute_script("return document.querySelectorAll('script[src], link[href]').length") == 0


def _picture(driver) -> tuple[str, str]:
    """The canvas and the readout's distance and NFE (its run time left out: that changes on its own)."""
    return driver.execute_script("return [document.querySelector('.pg-canvas').toDataURL(),"
                                 " document.querySelector('.pg-readout').textContent.split(' · ').slice(0, 2)"
                                 ".join(' · ')];")


def _set(driver, selector: str, value: object) -> None:
    driver.execute_script("const e = document.querySelector(arguments[0]);"
                          "if (e.type === 'checkbox') e.checked = arguments[1]; else e.value = arguments[1];"
                          "e.dispatchEvent(new Event('change'));", selector, value)


def _choose(driver, sampler: str, model: str) -> None:
    """Set the sampler and the model together, then run once (a flow sampler turns a model left on the network
    to the oracle, so setting them one at a time depends on the order)."""
    runs = state(driver)[1]
    driver.execute_script("document.querySelector('.pg-model').value = arguments[0];"
                          "document.querySelector('.pg-sampler').value = arguments[1];"
                          "document.querySelector('.pg-sampler').dispatchEvent(new Event('change'));", model, sampler)
    wait_done(driver, runs)


def test_every_control_changes_picture_and_readout(page) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _set(page, ".pg-animate", False)
    moves = [(".pg-steps", "30"), (".pg-sampler", "ddim"), (".pg-eta", "0.8"), (".pg-sampler", "euler_maruyama"),
             (".pg-sampler", "predictor_corrector"), (".pg-sampler", "probability_flow"), (".pg-sampler", "edm_heun"),
             (".pg-sampler", "dpm_solver_pp_2m"), (".pg-sampler", "flow_euler"), (".pg-sampler", "flow_heun"),
             (".pg-guidance", "3"), (".pg-label", "1"), (".pg-sampler", "flow_euler"), (".pg-preset", "moons"),
             (".pg-preset", "pair"), (".pg-weight", "4"),
             (".pg-sampler", "ddpm"), (".pg-model", "network"), (".pg-again", None), (".pg-model", "exact")]
    for selector, value in moves:
        before, runs = _picture(page), state(page)[1]
        if value is None:
            page.execute_script("document.querySelector(arguments[0]).click();", selector)
        else:
            _set(page, selector, value)
        wait_done(page, runs)
        after = _picture(page)
        assert after[0] != before[0], f"{selector} = {value}: the picture did not change"
        assert after[1] != before[1], f"{selector} = {value}: the readout did not change"
        if selector == ".pg-sampler" and value.startswith("flow_"):  # steps 30; guided (w = 3) Euler costs 2 per step
            guided = page.execute_script("return document.querySelector('.pg-guidance').value") != "0"
            nfe = 30 * (2 if value == "flow_heun" else 1) * (2 if guided else 1)
            assert f"NFE: {nfe} per point" in after[1], (value, after[1])
    # drag the first component of the pair across the canvas with the mouse
    canvas = page.find_element("css selector", ".pg-canvas")
    box = page.execute_script("const b = arguments[0].getBoundingClientRect(); return [b.width, b.height];", canvas)
    mean, view = playground.presets()["pair"]["means"][0], float(page.execute_script(
        "return document.querySelector('.pg-playground').dataset.view"))
    offset = [(mean[0] / view) * box[0] / 2, (-mean[1] / view) * box[1] / 2]  # from the canvas centre
    before, runs = _picture(page), state(page)[1]
    ActionChains(page).move_to_element_with_offset(canvas, *offset).click_and_hold() \
        .move_by_offset(60, -40).release().perform()
    wait_done(page, runs)
    after = _picture(page)
    assert after[0] != before[0] and after[1] != before[1], "dragging a component left the picture or readout"
    # with the animation on, the picture moves while the trajectories are drawn, then rests
    _set(page, ".pg-animate", True)
    runs = state(page)[1]
    page.execute_script("document.querySelector('.pg-again').click();")
    deadline = time.time() + 60
    while state(page)[0] != "animating" and time.time() < deadline:
        time.sleep(0.01)
    first = _picture(page)[0]
    time.sleep(0.3)
    assert state(page)[0] == "animating" and _picture(page)[0] != first, "the animation did not move the picture"
    wait_done(page, runs)
    page.save_screenshot(str(SCREENSHOTS / "playground.png"))


def test_flow_samplers_offer_only_the_exact_velocity(page) -> None:
    """The network is an eps model: with a flow sampler the menu does not offer it and a note says why; with the
    network the flow samplers are not offered; and the page's sampler refuses the pair rather than compute
    something else."""
    disabled = ("return [document.querySelector('.pg-model option[value=network]').disabled,"
                " document.querySelector('.pg-sampler option[value=flow_heun]').disabled,"
                " document.querySelector('.pg-note').hidden];")
    _set(page, ".pg-animate", False)
    for sampler, model, expected in [("flow_heun", "exact", [True, False, False]),
                                     ("ddim", "exact", [False, False, True]), ("ddim", "network", [False, True, True]),
                                     ("ddpm", "exact", [False, False, True])]:
        _choose(page, sampler, model)
        assert page.execute_script(disabled) == expected, (sampler, model)
    settings = {"sampler": "flow_euler", "steps": 5, "eta": 0.0, "model": "network", "label": 0, "guidance": 0.0,
                "mixture": playground.presets()["ring"]}
    error = page.execute_script("try { DiffusionPlayground.runWith(arguments[0], [0, 0], []); return null; }"
                                " catch (e) { return e.message; }", settings)
    assert error == "the flow samplers run on the exact velocity only", error


def test_time_per_sampler_run(page) -> None:
    """Reports (never asserts) one run's time in this browser: 1,000 points, 50 steps, each sampler with
    the oracle, and DDIM with the network (which costs ~100x the oracle per evaluation)."""
    _set(page, ".pg-animate", False)
    _set(page, ".pg-steps", "50")
    runs = [("exact", sampler) for sampler in playground_reference.SAMPLERS] + [("network", "ddim")]
    for model, sampler in runs:
        _choose(page, sampler, model)
        assert page.execute_script("return document.querySelector('.pg-model').value") == model
        milliseconds = float(page.execute_script("return document.querySelector('.pg-playground')"
                                                 ".dataset.milliseconds"))
        print(f"{sampler} ({model}), 1000 points x 50 steps: {milliseconds:.0f} ms")


def test_built_page_runs_offline(browser, book_url) -> None:
    """The page of the built book: the playground mounts, samples and reports, and every resource the page
    loaded came from the book itself."""
    from tests.browser.conftest import HTML

    if not (HTML / "book" / "playground.html").exists():
        pytest.skip("this build has no book/playground page")
    browser.get(f"{book_url}/book/playground.html")
    wait_done(browser, 0)
    readout = browser.execute_script("return document.querySelector('.pg-readout').textContent")
    assert "sliced Wasserstein" in readout and "NFE" in readout, readout
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
    assert [u for u in urls if not u.startswith((book_url, "data:"))] == [], urls
