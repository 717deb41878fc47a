"""Every page of the built book in a real browser: math typeset, no errors, images and
animations present, launch buttons on notebook pages, internal links resolve, and the
forward-noising widget's static slider changes the picture."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag

import pytest
import yaml

from tests.browser.conftest import HTML, ROOT, SCREENSHOTS

SCREENSHOT_PAGES = {"book/02_gaussian", "book/07_forward", "book/08_reverse", "book/intro"}


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
            "return window.__mjxDone ? 'done' : 'typesetting';")
        if state == "done":
            return
        time.sleep(0.2)
    raise AssertionError("MathJax did not finish typesetting")


def slide_to_end(driver, slider: str, image: str) -> bool:
    """Move the first ``slider`` to its maximum as a user would (input and change events) and
    report whether the first ``image``'s src changed."""
    before = driver.execute_script(f"return document.querySelector('{image}').src")
    driver.execute_script(
        f"const s = document.querySelector('{slider}');"
        "s.value = s.max; s.dispatchEvent(new Event('input', {bubbles: true}));"
        "s.dispatchEvent(new Event('change', {bubbles: true}));")
    return before != driver.execute_script(f"return document.querySelector('{image}').src")


@pytest.mark.parametrize("page", toc_pages())
def test_page(page, browser, book_url):
    assert (HTML / f"{page}.html").exists(), f"{page}.html was not built"
    browser.get(f"{book_url}/{page}.html")
    wait_for_mathjax(browser)
    text = browser.execute_script("return document.querySelector('main, article, body').innerText")

    # math typeset: MathJax output present wherever the source has math, no raw TeX left over
    n_math = browser.execute_script("return document.querySelectorAll('.math, .MathJax, mjx-container').length")
    n_typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    if n_math:
        assert n_typeset > 0, "math on the page but no MathJax output"
    assert "$$" not in text, "raw $$ left in the page text"
    assert not re.search(r"\\(frac|mathcal|begin\{)", text), "raw TeX commands left in the page text"

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

    # the forward-noising widget's static slider really changes the picture
    if browser.execute_script("return document.querySelectorAll('.de-noising-slider').length"):
        changed = slide_to_end(browser, ".de-noising-slider", ".de-noising-frame")
        assert changed, "moving the noising slider did not change the image"

    if page in SCREENSHOT_PAGES:
        browser.save_screenshot(str(SCREENSHOTS / f"{Path(page).name}.png"))


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
