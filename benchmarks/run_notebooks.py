"""Execute every chapter notebook, each in a fresh process, and time it.

Usage:
    python -m benchmarks.run_notebooks [--budget cpu|gpu] [--emulate-accelerator] [--out FILE] [notebook ...]

No Jupyter kernel is needed (each notebook runs in an IPython InteractiveShell), so the same
script runs here, on a GPU machine, or on Colab. The first (Colab install) cell is skipped: the
package is already importable. Prints a table and writes JSON with the device and the times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    import re

    files = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def run_one(path: Path, emulate: bool = False) -> None:
    """Run one notebook's code cells in order in this process; raise on the first error.

    ``emulate``: run on the emulated accelerator (:mod:`benchmarks.emulated_accelerator`), which raises on
    the device mistakes CUDA would raise on."""
    import contextlib

    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    os.chdir(path.parent)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    if emulate:
        from benchmarks.emulated_accelerator import emulate_accelerator

        device_rules = emulate_accelerator()
    else:
        device_rules = contextlib.nullcontext()
    with device_rules:
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            if "remove-cell" in cell.get("metadata", {}).get("tags", []) and "pip" in source:
                continue  # the Colab install cell
            result = shell.run_cell(source, silent=False, store_history=False)
            if not result.success:
                error = result.error_in_exec or result.error_before_exec
                raise SystemExit(f"{path.name}: cell {index} failed: {error!r}")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--budget", choices=["cpu", "gpu"], default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--emulate-accelerator", action="store_true",
                        help="check the GPU code path on a CPU: tensors on runtime.device() obey CUDA's device rules")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one.resolve(), emulate=args.emulate_accelerator)
        return

    import torch

    env = dict(os.environ)
    if args.budget:
        env["DIFFUSION_EDU_BUDGET"] = args.budget
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    if args.emulate_accelerator:
        device += ", emulated accelerator"
    rows = []
    total_start = time.perf_counter()
    for path in notebooks:
        start = time.perf_counter()
        command = [sys.executable, "-m", "benchmarks.run_notebooks", "--one", str(path)]
        proc = subprocess.run(command + (["--emulate-accelerator"] if args.emulate_accelerator else []), cwd=ROOT,
                              env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        ok = proc.returncode == 0
        rows.append({"notebook": path.name, "seconds": round(seconds, 1), "ok": ok,
                     "error": "" if ok else (proc.stderr or proc.stdout)[-2000:]})
        print(f"{path.name:32s} {seconds:7.1f} s  {'ok' if ok else 'FAILED'}", flush=True)
        if not ok:
            print(rows[-1]["error"], file=sys.stderr)
    total = time.perf_counter() - total_start
    print(f"{'total':32s} {total:7.1f} s  on {device}, budget {env.get('DIFFUSION_EDU_BUDGET', 'auto')}")
    result = {"device": device, "platform": platform.platform(), "torch": torch.__version__,
              "budget": env.get("DIFFUSION_EDU_BUDGET", "auto"), "total_seconds": round(total, 1),
              "date": time.strftime("%Y-%m-%d"), "notebooks": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    if not all(r["ok"] for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
