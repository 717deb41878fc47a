"""Progressive distillation on the digits: chapter 17's EDM-preconditioned U-Net, its output clipped to [-1, 1],
distilled round after round from its 64-step Euler sampler on a Karras grid down to one step
(:func:`diffusion_edu.recipes.few_step_digits.distilled_digits`, chapter 18).

Rows: the teacher with Euler on a 50-level Karras grid, with Heun at 35 evaluations (EDM's 18 steps), and with Euler
in 4 steps on the students' grid (what distillation improves on); the students at 1, 2, 4 and 8 steps. Every NFE is
counted by a wrapper. Quality is the Fréchet distance in the package's digit-classifier features over its
real-vs-real floor, median of 3 interleaved repeats (repeat r of every configuration before repeat r + 1 of any),
each with its own starting noise, 500 samples each. The goal: the 4-step student within 1.5x of its teacher's
50-step Euler."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import Counted
from diffusion_edu import metrics
from diffusion_edu.core.runtime import device
from diffusion_edu.processes import edm
from diffusion_edu.processes.edm_samplers import edm_euler, edm_heun
from diffusion_edu.recipes.few_step_digits import distilled_digits
from diffusion_edu.recipes.few_steps import TEACHER_STEPS, distillation_grid

STUDENT_STEPS = (1, 2, 4, 8)


def run(n: int = 500, repeats: int = 3) -> dict[str, Any]:
    teacher, _ = distilled_digits(TEACHER_STEPS, progress=False)
    students, costs = {}, []
    for steps in (32, 16, 8, 4, 2, 1):  # every round of the chain, each trained once and then loaded
        model, info = distilled_digits(steps, progress=False)
        costs.append({"model": f"distilled {2 * steps} -> {steps}", "train_s": info["seconds"],
                      "total_s": info["total_seconds"]})
        if steps in STUDENT_STEPS:
            students[steps] = model.eval()
    floor = metrics.digit_floor()["frechet"]
    sigma_max = edm.SIGMA_MAX

    def euler(grid: torch.Tensor) -> Callable[[Counted, torch.Tensor], torch.Tensor]:
        return lambda model, z: edm_euler(model, sigma_max * z, grid)

    configs: dict[str, tuple[Callable[..., torch.Tensor], Callable[[Counted, torch.Tensor], torch.Tensor]]] = {
        "teacher, Euler 50": (edm.clipped(teacher.eval()), euler(edm.karras_sigmas(50))),
        "teacher, Heun 35 (18 steps)": (edm.clipped(teacher),
                                         lambda model, z: edm_heun(model, sigma_max * z, edm.karras_sigmas(18))),
        "teacher, Euler 4 (students' grid)": (edm.clipped(teacher), euler(distillation_grid(4))),
    }
    for steps in STUDENT_STEPS:
        configs[f"distilled, {steps} step{'s' if steps > 1 else ''}"] = (edm.clipped(students[steps]),
                                                                        euler(distillation_grid(steps)))
    runs: dict[str, list[tuple[float, int]]] = {}
    for repeat in range(repeats):
        z = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(200 + repeat)).to(device())
        for name, (model, sample) in configs.items():
            counted = Counted(model)
            with torch.no_grad():
                images = sample(counted, z).clamp(-1, 1)
            fd = metrics.evaluate_digits(images.float().cpu())["frechet"].value
            runs.setdefault(name, []).append((fd / floor, counted.calls))
    rows = [{"model": name, "nfe": statistics.median(r[1] for r in results),
             "fd_ratio": statistics.median(r[0] for r in results)} for name, results in runs.items()]
    by_name = {row["model"]: row["fd_ratio"] for row in rows}
    teacher_50 = by_name["teacher, Euler 50"]
    return {"rows": rows, "costs": costs, "floor": floor, "teacher_50": teacher_50,
            "distilled_4_vs_teacher_50": by_name["distilled, 4 steps"] / teacher_50}


if __name__ == "__main__":
    out = run()
    for row in out["rows"]:
        print(row)
    for cost in out["costs"]:
        print(cost)
    print("teacher_50", out["teacher_50"], "distilled_4_vs_teacher_50", out["distilled_4_vs_teacher_50"])
