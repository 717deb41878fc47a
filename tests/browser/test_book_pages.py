"""Every page of the built book in a real browser: math typeset, derivations that fit the text
column, no errors, images and animations present, exercise solutions hidden until opened, launch
buttons on notebook pages, internal links resolve, and the forward-noising widget's static slider
changes the picture. Run over a built book, it also rewrites the README's images in
docs/screenshots/."""

from __future__ import annotations

import io
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
import yaml

from tests.browser.conftest import HTML, README_IMAGES, ROOT, SCREENSHOTS

SCREENSHOT_PAGES = {"book/02_gaussian", "book/07_forward", "book/08_reverse", "book/intro"}
# the README's images: page -> (file in docs/screenshots, JavaScript returning the element to capture)
README_SHOTS = {
    "book/07_forward": (
        ("derivation.png", "return [...document.querySelectorAll('.cell_output')].find(o =>"
                           " o.querySelector('mjx-container[display=\"true\"]') && /closed form/.test(o.innerText))"),
        ("noising_widget.png", "return document.querySelector('.de-noising-widget')"),
    ),
    "book/intro": (("book_map.png", "return document.querySelector('img.plot-directive')"),),
}
README_WIDTH = 1000  # pixels; the images are shown at most this wide on the repository page


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part.get("chapters", [])]
    return pages


def is_notebook(page: str) -> bool:
    return (ROOT / f"{page}.ipynb").exists()


def wait_for_mathjax(driver, timeout: float = 30.0) -> None:
    if not driver.execute_script("return !!document.querySelector('script[src*=mathjax]')"):
        return  # a page without math does not load MathJax
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = driver.execute_script(
            "if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) return 'loading';"
            "if (!window.__mjxDone) { MathJax.startup.promise.then(() => { window.__mjxDone = true; }); }"
            "if (!window.__mjxDone) return 'typesetting';"
            # the book's fit_math.js sets wide derivations smaller once typesetting is done
            "const fits = !!document.querySelector('script[src*=fit_math]');"
            "return !fits || document.documentElement.dataset.mathFitted ? 'done' : 'fitting';")
        if state == "done":
            return
        time.sleep(0.2)
    raise AssertionError("MathJax did not finish typesetting")


def hide_cell_tags(page: str) -> int:
    """How many cells of the page's notebook are tagged hide-cell (the copy the book was built from)."""
    built = HTML / "_sources" / f"{page}.ipynb"
    cells = json.loads((built if built.exists() else ROOT / f"{page}.ipynb").read_text(encoding="utf-8"))["cells"]
    return sum("hide-cell" in cell.get("metadata", {}).get("tags", []) for cell in cells)


# checkVisibility also sees what a closed <details> hides (its content is skipped, not display: none)
_VISIBLE = ("const visible = el => !!el && el.getClientRects().length > 0 && (el.checkVisibility ?"
            " el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true}) :"
            " getComputedStyle(el).visibility !== 'hidden');")


def overflowing_derivations(driver) -> list[str]:
    """Display math in notebook outputs (the derivations' aligned blocks) and its output area that
    are wider than the text column: each as 'what: scrollWidth > clientWidth: TeX'."""
    return driver.execute_script(
        "const found = [], seen = new Set();"
        "const tex = m => { try { return MathJax.startup.document.getMathItemsWithin(m)[0].math.slice(0, 90); }"
        "                   catch (e) { return m.textContent.slice(0, 60); } };"
        "for (const m of document.querySelectorAll('.cell_output mjx-container[display=\"true\"]')) {"
        "  if (!m.getClientRects().length) continue;"  # inside a closed toggle: nothing to measure
        "  for (const [what, el] of [['math', m], ['output', m.closest('.cell_output')]]) {"
        "    if (seen.has(el)) continue; seen.add(el);"
        "    if (el.scrollWidth > el.clientWidth + 1)"
        "      found.push(`${what}: ${el.scrollWidth} > ${el.clientWidth}: ${tex(m)}`);"
        "  }"
        "}"
        "return found;")


def hidden_cells_state(driver) -> list[dict]:
    """For each hide-cell cell: whether its toggle is open and its input/output are visible."""
    return driver.execute_script(
        _VISIBLE +
        "return [...document.querySelectorAll('.cell.tag_hide-cell')].map(cell => {"
        "  const details = cell.querySelector('details') || cell.closest('details');"
        "  const input = cell.querySelector('.cell_input'), output = cell.querySelector('.cell_output');"
        "  return {open: !!details && details.open, has_toggle: !!details && !!details.querySelector('summary'),"
        "          input: visible(input), output: visible(output), has_output: !!output};"
        "});")


def toggle_hidden_cells(driver) -> None:
    driver.execute_script(
        "for (const cell of document.querySelectorAll('.cell.tag_hide-cell')) {"
        "  const details = cell.querySelector('details') || cell.closest('details');"
        "  details.querySelector('summary').click();"
        "}")


def dropdowns_state(driver) -> list[dict]:
    """Solution dropdowns ({admonition} with :class: dropdown, and {dropdown}): is the body visible?"""
    return driver.execute_script(
        _VISIBLE +
        "const body = el => [...el.children].filter(c => !c.matches('.admonition-title, summary'));"
        "return [...document.querySelectorAll('.admonition.dropdown, details.sd-dropdown')].map(el => ({"
        "  title: (el.querySelector('.admonition-title, summary') || el).innerText.trim().slice(0, 40),"
        "  shown: body(el).some(visible)}));")


def toggle_dropdowns(driver) -> None:
    driver.execute_script(
        "for (const el of document.querySelectorAll('.admonition.dropdown, details.sd-dropdown')) {"
        "  (el.querySelector('button.toggle-button') || el.querySelector('summary') ||"
        "   el.querySelector('.admonition-title')).click();"
        "}")


def save_readme_image(driver, element, name: str) -> None:
    """Capture ``element``, shrink it to README_WIDTH pixels and write it, palette-optimised, to docs/screenshots."""
    from PIL import Image

    if element.tag_name == "img":  # a picture: its own file, at full resolution
        image = Image.open(HTML / unquote(urlparse(element.get_attribute("src")).path).lstrip("/")).convert("RGB")
    else:
        # drawn at 1.5 device pixels per CSS pixel, so that the text column fills README_WIDTH sharply
        size = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": size[0], "height": size[1], "deviceScaleFactor": 1.5, "mobile": False})
        try:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
            time.sleep(0.5)
            image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("RGB")
        finally:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    if image.width > README_WIDTH:
        image = image.resize((README_WIDTH, round(image.height * README_WIDTH / image.width)), Image.LANCZOS)
    README_IMAGES.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(README_IMAGES / name, optimize=True)


def slide_to_end(driver, slider: str, image: str) -> bool:
    """Move the first ``slider`` to its maximum as a user would (input and change events) and
    report whether the first ``image``'s src changed."""
    before = driver.execute_script(f"return document.querySelector('{image}').src")
    driver.execute_script(
        f"const s = document.querySelector('{slider}');"
        "s.value = s.max; s.dispatchEvent(new Event('input', {bubbles: true}));"
        "s.dispatchEvent(new Event('change', {bubbles: true}));")
    return before != driver.execute_script(f"return document.querySelector('{image}').src")


def choose_each_source(driver) -> dict[str, str]:
    """Choose every option of the first noising widget's source menu in turn, as a user would (a change event),
    and return each option's frame src; the menu is left on its first option."""
    return driver.execute_script(
        "const menu = document.querySelector('.de-noising-source');"
        "const frame = document.querySelector('.de-noising-frame');"
        "const pictures = {};"
        "for (const option of [...menu.options, menu.options[0]]) {"
        "  menu.value = option.value; menu.dispatchEvent(new Event('change', {bubbles: true}));"
        "  pictures[option.value] = frame.src;"
        "}"
        "return pictures;")


@pytest.mark.parametrize("page", toc_pages())
def test_page(page, browser, book_url):
    assert (HTML / f"{page}.html").exists(), f"{page}.html was not built"
    browser.get(f"{book_url}/{page}.html")
    wait_for_mathjax(browser)
    text = browser.execute_script("return document.querySelector('main, article, body').innerText")

    # pictures of the page as a reader first finds it (before the checks below move sliders and toggles)
    if page in SCREENSHOT_PAGES:
        browser.save_screenshot(str(SCREENSHOTS / f"{Path(page).name}.png"))
    for name, find in README_SHOTS.get(page, ()):
        element = browser.execute_script(find)
        assert element is not None, f"{page}: nothing to capture for the README's {name}"
        save_readme_image(browser, element, name)
    browser.execute_script("window.scrollTo(0, 0)")

    # math typeset: MathJax output present wherever the source has math, no raw TeX left over
    n_math = browser.execute_script("return document.querySelectorAll('.math, .MathJax, mjx-container').length")
    n_typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    if n_math:
        assert n_typeset > 0, "math on the page but no MathJax output"
    # prose and outputs, without the code a reader reads as code (notebook inputs, included package source, inline
    # code), which may hold TeX on purpose (matplotlib's labels)
    prose = browser.execute_script(
        "const main = document.querySelector('main, article, body').cloneNode(true);"
        "main.querySelectorAll('.cell_input, .highlight-python, .highlight-default, code').forEach(e => e.remove());"
        "document.body.appendChild(main); const t = main.innerText; main.remove(); return t;")
    assert "$$" not in prose, "raw $$ left in the page text"
    assert not re.search(r"\\(frac|mathcal|begin\{)", prose), "raw TeX commands left in the page text"

    # no error outputs
    assert browser.execute_script("return document.querySelectorAll('.output.error, .output.traceback').length") == 0
    assert "Traceback (most recent call last)" not in text

    # every image loaded
    broken = browser.execute_script(
        "return [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))")
    assert broken == [], f"images that did not load: {broken}"

    if is_notebook(page):
        links = browser.execute_script("return [...document.querySelectorAll('a')].map(a => a.href)")
        assert any("colab.research.google.com" in link for link in links), "no Colab launch button"

    # kernel-free animations (matplotlib to_jshtml) have their slider and buttons
    n_animations, without_slider = browser.execute_script(
        "const anims = [...document.querySelectorAll('.animation')];"
        "return [anims.length, anims.filter(a => !a.querySelector('input[type=range]')).length]")
    assert without_slider == 0, f"{without_slider} of {n_animations} animations have no slider"
    if n_animations:  # and the slider moves the frame
        changed = slide_to_end(browser, ".animation input[type=range]", ".animation img")
        assert changed, "moving an animation's slider did not change its frame"

    # the forward-noising widget's static slider and source menu really change the picture
    if browser.execute_script("return document.querySelectorAll('.de-noising-slider').length"):
        changed = slide_to_end(browser, ".de-noising-slider", ".de-noising-frame")
        assert changed, "moving the noising slider did not change the image"
        pictures = choose_each_source(browser)
        assert any(name.startswith("MNIST") for name in pictures), f"no MNIST digit among the sources {list(pictures)}"
        assert len(set(pictures.values())) == len(pictures), f"sources sharing one picture: {list(pictures)}"

    # exercise solutions: hidden (input and output) until their toggle is opened, visible after
    if is_notebook(page):
        before = hidden_cells_state(browser)
        tagged = hide_cell_tags(page)
        assert len(before) == tagged, f"{tagged} cells tagged hide-cell, {len(before)} rendered as such"
        assert all(cell["has_toggle"] for cell in before), f"hide-cell cells without a toggle: {before}"
        shown = [i for i, cell in enumerate(before) if cell["open"] or cell["input"] or cell["output"]]
        assert shown == [], f"hide-cell cells visible before opening: {[before[i] for i in shown]}"
        toggle_hidden_cells(browser)
        after = hidden_cells_state(browser)
        hidden = [i for i, cell in enumerate(after)
                  if not (cell["input"] and (cell["output"] or not cell["has_output"]))]
        assert hidden == [], f"hide-cell cells still hidden after opening: {[after[i] for i in hidden]}"
    closed = dropdowns_state(browser)
    assert [d["title"] for d in closed if d["shown"]] == [], "dropdowns open before a click"
    if closed:
        toggle_dropdowns(browser)
        opened = dropdowns_state(browser)
        assert [d["title"] for d in opened if not d["shown"]] == [], "dropdowns still closed after a click"

    # derivations (hidden ones included, now open) fit the text column at a 1280-pixel-wide window
    assert browser.execute_script("return window.innerWidth") >= 1270
    time.sleep(0.5)  # opened toggles are fitted on their 'toggle' event, a task after the click
    overflowing = overflowing_derivations(browser)
    assert overflowing == [], f"derivation outputs wider than the text column: {overflowing}"

    # everything closed again, as a reader finds it
    if is_notebook(page):
        toggle_hidden_cells(browser)
    if closed:
        toggle_dropdowns(browser)



class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])


def test_internal_links_resolve(book_url):
    """Every relative link of every built page points to a file that exists (and an anchor on it)."""
    parsed: dict[Path, _Links] = {}

    def parse(path: Path) -> _Links:
        if path not in parsed:
            parser = _Links()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = parser
        return parsed[path]

    broken = []
    for page in toc_pages():
        source = HTML / f"{page}.html"
        for href in parse(source).hrefs:
            if re.match(r"^[a-z]+:", href) or href.startswith("//"):
                continue
            target, anchor = urldefrag(unquote(href))
            path = (source.parent / target).resolve() if target else source
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page}: {href}")
            elif anchor and path.suffix == ".html" and anchor not in parse(path).ids:
                broken.append(f"{page}: {href} (no anchor)")
    assert broken == [], broken
