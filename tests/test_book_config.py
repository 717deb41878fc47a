"""The book's configuration and notebooks follow the house rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC["parts"]:
        files += [c["file"] for c in part["chapters"]]
    return files


NOTEBOOKS = [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def test_every_toc_entry_exists():
    for entry in toc_files():
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), entry


def test_every_notebook_in_book_is_in_the_toc():
    listed = {p.resolve() for p in NOTEBOOKS}
    assert {p.resolve() for p in (ROOT / "book").glob("*.ipynb")} <= listed


def test_book_config():
    assert CONFIG["only_build_toc_files"] is True
    assert ".venv/*" in CONFIG["exclude_patterns"] and "_build/*" in CONFIG["exclude_patterns"]
    assert CONFIG["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert CONFIG["execute"]["execute_notebooks"] == "cache" and CONFIG["execute"]["timeout"] > 0
    # MathJax served locally from a folder that is not named _static (files there load on every page)
    assert "_static" not in CONFIG["sphinx"]["config"]["html_static_path"]
    assert not CONFIG["sphinx"]["config"]["mathjax_path"].startswith("http")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_house_rules(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    # committed without outputs
    assert all(not c.get("outputs") and not c.get("execution_count") for c in code), "strip outputs"
    # the first cell installs only the package, from the repository URL in _config.yml
    first = "".join(code[0]["source"])
    url = CONFIG["repository"]["url"]
    assert f"git+{url}" in first, "the Colab cell must install the package from _config.yml's repository url"
    commands = "\n".join(line for line in first.splitlines() if not line.lstrip().startswith("#"))
    assert "requirements" not in commands, "the Colab cell must not install requirements.txt"
    # seeded
    assert any("seed_everything" in "".join(c["source"]) for c in code), "seed the notebook"
    # ends with a measured claim: an assert, or an explicit raise of an error that names the failed claim
    assert any(re.search(r"^\s*(assert |raise \w+Error\()", "".join(c["source"]), re.M) for c in code), \
        "no measured claim"


def _literalincludes() -> list[tuple[str, Path, str | None]]:
    """(page, included file, :pyobject: or None) for every literalinclude in the book's pages."""
    found = []
    for page in sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md")):
        if page.suffix == ".ipynb":
            text = "".join("".join(cell["source"]) + "\n" for cell in json.loads(page.read_text())["cells"])
        else:
            text = page.read_text()
        for match in re.finditer(r"```\{literalinclude\} (\S+)\n((?::\w+:.*\n)*)", text):
            pyobject = re.search(r":pyobject: (\S+)", match.group(2))
            found.append((page.name, (page.parent / match.group(1)).resolve(), pyobject and pyobject.group(1)))
    return found


def test_every_literalinclude_points_at_a_real_file_and_object():
    """A moved module or a renamed function must not leave a chapter showing an empty or stale listing."""
    includes = _literalincludes()
    assert len(includes) > 20
    for page, path, pyobject in includes:
        assert path.is_file(), f"{page}: literalinclude of a missing file {path.relative_to(ROOT)}"
        if pyobject:
            name = pyobject.split(".")[-1]
            assert re.search(rf"^\s*(?:async def|def|class) {re.escape(name)}\b", path.read_text(), re.M), \
                f"{page}: {path.relative_to(ROOT)} has no {pyobject}"
