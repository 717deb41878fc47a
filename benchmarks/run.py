"""The benchmark command: measures, prints tables, and writes the results the book's appendix shows.

    make benchmark                      # everything (about an hour on the 2-core CPU)
    python -m benchmarks.run --only limit2d samplers

Writes benchmarks/results/latest.json and latest.md (the appendix page includes the .md)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import markdown_table
from diffusion_edu.core import runtime

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("notebooks", "limit2d", "samplers", "digits", "unet_width", "peer", "edm_solvers", "edm_digits",
            "training_race", "few_steps", "distill_digits", "mnist")
# section -> (module, function) where a module holds more than one section
FUNCTIONS = {"training_race": ("part4", "training_race"), "few_steps": ("part4", "few_steps")}


def machine() -> dict[str, Any]:
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
    return {"device": device, "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "budget": runtime.budget().name,
            "date": time.strftime("%Y-%m-%d")}


def notebooks() -> dict[str, Any]:
    out = RESULTS / "notebooks.json"
    subprocess.run([sys.executable, "-m", "benchmarks.run_notebooks", "--out", str(out)], check=False)
    return json.loads(out.read_text())


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [f"Measured on **{m['device']}** ({m['platform']}, Python {m['python']}, torch {m['torch']}, "
             f"budget `{m['budget']}`); each section says when and with how many threads it was measured."]
    if "notebooks" in results:
        nb = results["notebooks"]
        parts += ["## 1 · Book execution", markdown_table(nb["notebooks"], ["notebook", "seconds", "ok"]),
                  f"Total: **{nb['total_seconds']:.0f} s** (goal: 720 s, no chapter over 90 s)."]
    if "limit2d" in results:
        r = results["limit2d"]
        parts += ["## 2 · 2-D: learned DDPM vs the exact-score oracle (DDPM-1000 sampler, 8 Gaussians)",
                  markdown_table(r["rows"], ["train_s", "steps", "swd", "oracle_swd", "floor", "ratio_to_oracle"]),
                  "Goal: ratio to oracle <= 1.2 after 10 s of training."]
    if "samplers" in results:
        r = results["samplers"]
        parts += ["## 3 · Samplers at equal network evaluations (8 Gaussians)",
                  markdown_table(r["rows"], ["model", "sampler", "nfe", "seconds", "swd", "floor", "ratio"]),
                  f"Learned model: DDIM-10 is **{r['ddim10_speedup']:.0f}x** faster than DDPM-1000 at "
                  f"**{r['ddim10_distance_ratio']:.2f}x** its distance (goal: >= 100x at <= 1.5x)."]
    if "digits" in results:
        r = results["digits"]
        best = r["best_diffusion_at_90s"]
        parts += ["## 4 · Digits: quality vs training seconds",
                  markdown_table(r["rows"], ["model", "params", "train_s", "steps", "fd", "floor", "ratio"]),
                  f"Best diffusion model within 90 s: {best['model']} at {best['train_s']:.0f} s, Fréchet distance "
                  f"{best['fd']:.1f} = **{best['ratio']:.2f}x** the floor (goal: <= 3x)."]
    if "unet_width" in results:
        r = results["unet_width"]
        best = ", ".join(f"c = {c} at {float(s):g} s" for s, c in r["best_channels"].items())  # JSON keys are strings
        parts += ["## 5 · Digit U-Net width at equal training seconds (DDIM-50)",
                  markdown_table(r["rows"], ["channels", "params", "train_s", "steps", "ms_per_step", "fd", "ratio"]),
                  f"Best width: {best}. The CPU budget's `digit_channels` follows this table."]
    if "peer" in results:
        r = results["peer"]
        parts += ["## 6 · Peer: diffusers UNet2DModel + DDPMScheduler, same digits, same seconds",
                  markdown_table(r["rows"], ["model", "params", "train_s", "steps", "steps_per_s", "sample_s", "fd",
                                             "fd_floor"]),
                  f"Step throughput ratio (ours / diffusers): **{r['throughput_ratio']:.2f}x** (goal >= 1.5x); "
                  f"Fréchet distance ratio (diffusers / ours): **{r['fd_ratio']:.2f}x** (> 1 means ours is better)."]
    if "edm_solvers" in results:
        r = results["edm_solvers"]
        parts += ["## 7 · EDM's solvers at equal network evaluations (8 Gaussians, median of 3 interleaved repeats)",
                  markdown_table(r["rows"], ["model", "sampler", "nfe", "swd_ratio", "seconds"]),
                  f"SWD ratio = sliced Wasserstein / its real-vs-real floor ({r['floor']:.3g}). "
                  f"Reference: DDPM-1000 with the eps-network at **{r['ddpm_1000_ratio']:.2f}x** the floor "
                  f"({r['ddpm_1000_seconds']:.2f} s). "
                  f"The goal, measured apart with {r['goal_n']:,} samples (floor {r['goal_floor']:.3g}; at 2,000 a "
                  "fresh real sample's distance varies by about 25% around the floor, more than the goal resolves):",
                  markdown_table(r["goal_rows"], ["model", "swd_ratio"]),
                  f"EDM Heun at 35 evaluations with the EDM network: **{r['edm_heun_35_ratio']:.2f}x** the floor, "
                  f"**{r['heun_35_vs_ddpm_1000']:.2f}x** DDPM-1000's distance (goal: <= 1.1x; "
                  f"{'met' if r['goal_met'] else 'missed'}); with the exact denoiser Heun-35 is "
                  f"{r['oracle_heun_35_vs_ddpm_1000']:.2f}x DDPM-1000's distance."]
    if "edm_digits" in results:
        r = results["edm_digits"]
        best = ", ".join(f"{nfe}: {name}" for nfe, name in r["best_at"].items())
        parts += ["## 8 · EDM's solvers on the digits: an EDM U-Net, and chapter 9's eps U-Net wrapped",
                  markdown_table(r["rows"], ["network", "sampler", "nfe", "fd_ratio"]),
                  f"Fréchet distance over its real-vs-real floor ({r['floor']:.3g}), 500 samples, x_0 clipped to "
                  f"[-1, 1], median of 3 interleaved repeats. The two U-Nets are the same network trained alike "
                  f"(700 steps; the EDM one in {r['edm_train_s']:.0f} s). Best at each NFE: {best}."]
    if "training_race" in results:
        r = results["training_race"]
        at_10 = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in r["at_10s"].items())
        parts += ["## 9 · Which loss trains fastest: DDPM, flow matching, EDM (8 Gaussians, same MLP)",
                  markdown_table(r["rows"], ["loss", "train_s", "ratio_to_oracle"]),
                  "Each model sampled at about 50 evaluations with its own deterministic sampler (DDIM-50, flow "
                  "Heun-25, EDM Heun-25), divided by the exact model through the same sampler; median of 3 "
                  f"interleaved repeats. After 10 s: {at_10} (goal: <= 1.2x); fastest: **{r['fastest_at_10s']}**."]
    if "few_steps" in results:
        r = results["few_steps"]
        s = r["straightness"]
        parts += ["## 10 · Few steps: flow matching, reflow and distillation at equal evaluations (8 Gaussians)",
                  markdown_table(r["rows"], ["model", "nfe", "swd_ratio"]),
                  markdown_table(r["costs"], ["model", "train_s"]),
                  f"SWD ratio over the real-vs-real floor, median of 3 interleaved repeats. After reflow one Euler "
                  f"step is **{r['reflow_1_vs_50']:.2f}x** its own 50-step distance (goal: <= 2x); straightness "
                  f"{s['rectified flow']:.3g} before reflow, {s['after reflow']:.3g} after. The 4-step distilled "
                  f"student is **{r['distilled_4_vs_teacher_50']:.2f}x** its teacher at 50 steps "
                  f"({r['teacher_50']:.2f}x the floor; goal: <= 1.5x)."]
    if "distill_digits" in results:
        r = results["distill_digits"]
        parts += ["## 11 · Progressive distillation of a digit teacher (chapter 17's EDM U-Net)",
                  markdown_table(r["rows"], ["model", "nfe", "fd_ratio"]),
                  markdown_table(r["costs"], ["model", "train_s"]),
                  f"Fréchet distance over its floor ({r['floor']:.3g}), 500 samples, median of 3 interleaved repeats. "
                  f"The 4-step student is **{r['distilled_4_vs_teacher_50']:.2f}x** its teacher's 50 Euler steps "
                  f"({r['teacher_50']:.2f}x the floor; goal: <= 1.5x)."]
    if "mnist" in results:
        r = results["mnist"]
        f = r["floor"]
        parts += ["## 12 · 28x28 MNIST: chapter 19's recipe, quality against training seconds",
                  markdown_table(r["rows"], ["target_s", "train_s", "steps", "w", "fd_ratio", "accuracy", "precision",
                                             "recall", "sample_s"]),
                  f"Class-conditional rectified flow, 10 guided Euler steps, 500 samples per row; floors (held-out "
                  f"digits vs the training digits): Fréchet distance {f['frechet']:.2f}, accuracy {f['accuracy']:.3f}, "
                  f"precision {f['precision']:.3f}, recall {f['recall']:.3f}. Goal: FD <= 5x the floor and class "
                  "accuracy >= 90% after <= 90 s of training."]
    return "\n\n".join(_stamped(parts, results)) + "\n"


def _stamped(parts: list[str], results: dict[str, Any]) -> list[str]:
    """``parts`` with a line under each section heading saying when and with how many threads that section ran
    (the blocks above render the sections in the order of SECTIONS, one heading each)."""
    present = iter(section for section in SECTIONS if section in results)
    out = []
    for part in parts:
        out.append(part)
        if part.startswith("## "):
            m = results[next(present)].get("_machine") or results["machine"]
            out.append(f"*Measured on {m['date']} with {m['threads']} thread{'s' if m['threads'] != 1 else ''}"
                       f"{m.get('note', '')}.*")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--tag", default="latest", help="results file name (latest, gpu, ...)")
    parser.add_argument("--note", default="", help="a remark shown under each section measured by this run")
    args = parser.parse_args()
    runtime.set_threads()
    results_path = RESULTS / f"{args.tag}.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    for section in SECTIONS:  # sections measured by an earlier run keep that run's date and threads
        if isinstance(results.get(section), dict) and "machine" in results:
            results[section].setdefault("_machine", results["machine"])
    results["machine"] = machine()
    for section in args.only:
        print(f"== {section}", flush=True)
        start = time.perf_counter()
        if section == "notebooks":
            results[section] = notebooks()
        else:
            module_name, function = FUNCTIONS.get(section, (section, "run"))
            module = __import__(f"benchmarks.{module_name}", fromlist=[function])
            results[section] = getattr(module, function)()
        results[section]["_machine"] = {**machine(), **({"note": f", {args.note}"} if args.note else {})}
        print(f"== {section} done in {time.perf_counter() - start:.0f} s", flush=True)
        RESULTS.mkdir(exist_ok=True)
        results_path.write_text(json.dumps(results, indent=1, default=str))
        (RESULTS / f"{args.tag}.md").write_text(render(results))
    print(render(results))


if __name__ == "__main__":
    main()
