"""Per-chapter execution times of the last `make book`, read from its execution cache.

    python -m benchmarks.book_times [--cache _build/.jupyter_cache] [--out FILE]

The book build executes every notebook once (jupyter-cache records the seconds); this turns that
record into the same JSON shape as :mod:`benchmarks.run_notebooks`, so the appendix can show the
times of the build that produced it."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks.run_notebooks import ROOT, toc_notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, default=ROOT / "_build" / ".jupyter_cache")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from jupyter_cache import get_cache

    records = {Path(r.uri).name: r for r in get_cache(str(args.cache)).list_cache_records()}
    rows = []
    for path in toc_notebooks():
        record = records.get(path.name)
        seconds = round(record.data["execution_seconds"], 1) if record else float("nan")
        rows.append({"notebook": path.name, "seconds": seconds, "ok": record is not None})
        print(f"{path.name:32s} {seconds:7.1f} s")
    total = round(sum(r["seconds"] for r in rows if r["ok"]), 1)
    print(f"{'total':32s} {total:7.1f} s")
    result = {"device": f"CPU ({os.cpu_count()} cores)", "budget": os.environ.get("DIFFUSION_EDU_BUDGET", "auto"),
              "total_seconds": total, "date": time.strftime("%Y-%m-%d"), "source": "make book (jupyter-cache)",
              "notebooks": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
