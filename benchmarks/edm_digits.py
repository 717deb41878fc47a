"""EDM's solvers on the digits: chapter 9's eps-prediction U-Net (8x8 digits, linear schedule), wrapped as a
denoiser in EDM's sigma (:func:`diffusion_edu.processes.edm.discrete_denoiser`), against DDIM on its own grid, at
10, 20 and 50 network evaluations (NFE), each counted by a wrapper around the network.

Every sampler clips its x_0 estimate to the pixels' range [-1, 1] (DDIM through ``clip_x0``, the EDM samplers by
clipping the denoiser's output), as chapter 9 samples this model; the EDM samplers use the Karras grid between the
schedule's own smallest and largest sigma, diffusers' choice for a DDPM model (``use_karras_sigmas``). Quality is
the Fréchet distance in the package's digit-classifier features over its real-vs-real floor; median of 3
interleaved repeats (repeat r of every configuration before repeat r + 1 of any), 500 samples each."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import Counted
from diffusion_edu import metrics, recipes
from diffusion_edu.core.runtime import device
from diffusion_edu.processes import ddim, edm
from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import make_schedule

NFES = (10, 20, 50)


def run(n: int = 500, repeats: int = 3) -> dict[str, Any]:
    schedule = make_schedule("linear", 1000)
    unet, _ = recipes.digit_unet(progress=False)
    unet.eval()
    sigmas = edm.schedule_sigmas(schedule)
    sigma_min, sigma_max = float(sigmas[0]), float(sigmas[-1])
    denoiser = edm.discrete_denoiser(unet, schedule)
    clipped = lambda x, sigma: denoiser(x, sigma).clamp(-1, 1)  # noqa: E731
    floor = metrics.digit_floor()["frechet"]

    def samplers(nfe: int) -> dict[str, Callable[[Counted, Counted, torch.Tensor], torch.Tensor]]:
        one = edm.karras_sigmas(nfe, sigma_min, sigma_max)
        two = edm.karras_sigmas((nfe + 1) // 2, sigma_min, sigma_max)  # Heun's last step is Euler: nfe - 1 calls
        return {
            "DDIM": lambda eps, _d, z: ddim.ddim_sample(eps, z, sub_grid(1000, nfe), schedule=schedule, clip_x0=1.0),
            "EDM Euler": lambda _e, d, z: edm_euler(d, sigma_max * z, one),
            "EDM Heun": lambda _e, d, z: edm_heun(d, sigma_max * z, two),
            "DPM-Solver++(2M)": lambda _e, d, z: dpm_solver_pp_2m(d, sigma_max * z, one),
        }

    runs: dict[tuple[str, int], list[tuple[float, int]]] = {}
    for repeat in range(repeats):
        z = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(100 + repeat)).to(device())
        for nfe in NFES:
            for name, sample in samplers(nfe).items():
                eps, den = Counted(unet), Counted(clipped)
                with torch.no_grad():
                    images = sample(eps, den, z).clamp(-1, 1)
                fd = metrics.evaluate_digits(images.float().cpu())["frechet"].value
                runs.setdefault((name, nfe), []).append((fd / floor, eps.calls + den.calls))
    rows = [{"sampler": name, "nfe": statistics.median(r[1] for r in results),
             "fd_ratio": statistics.median(r[0] for r in results)} for (name, _), results in runs.items()]
    best = {nfe: min((row for row in rows if abs(row["nfe"] - nfe) <= 1), key=lambda row: row["fd_ratio"])["sampler"]
            for nfe in NFES}
    return {"rows": rows, "floor": floor, "best_at": best}


if __name__ == "__main__":
    out = run()
    for row in out["rows"]:
        print(row)
    print(out["best_at"], out["floor"])
