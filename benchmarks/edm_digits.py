"""EDM's solvers on the digits, with two networks of the same size (chapter 9's U-Net, 16 channels, 700 steps):

- chapter 9's eps-prediction U-Net (linear schedule), wrapped as a denoiser in EDM's sigma
  (:func:`diffusion_edu.processes.edm.discrete_denoiser`), on the Karras grid between the schedule's own smallest and
  largest sigma (diffusers' choice for a DDPM model, ``use_karras_sigmas``), against DDIM on its own grid and
  Euler-Maruyama on chapter 12's VP SDE (uniform times);
- chapter 17's EDM-preconditioned U-Net (:func:`diffusion_edu.recipes.edm.edm_digit_unet`, same network, batch,
  learning rate and steps) on EDM's Karras grid in [0.002, 80];

at 5, 10, 20 and 50 network evaluations (NFE), each counted by a wrapper around the network.

Every sampler clips its x_0 estimate to the pixels' range [-1, 1] (DDIM through ``clip_x0``, the EDM samplers through
:func:`diffusion_edu.processes.edm.clipped`), as chapter 9 samples its model; Euler-Maruyama has no such estimate,
and only its samples are clipped. Quality is the Fréchet distance in the
package's digit-classifier features over its real-vs-real floor; median of 3 interleaved repeats (repeat r of every
configuration before repeat r + 1 of any), 500 samples each."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.common import Counted
from benchmarks.edm_solvers import score_from_eps
from diffusion_edu import metrics, recipes
from diffusion_edu.core.runtime import device
from diffusion_edu.processes import ddim, edm, sde, sde_samplers
from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.processes.schedules import make_schedule
from diffusion_edu.recipes.edm import edm_digit_unet

NFES = (5, 10, 20, 50)
Sample = Callable[[Counted, torch.Tensor], torch.Tensor]


def _edm_solvers(sigma_min: float, sigma_max: float, nfe: int) -> dict[str, Sample]:
    one = edm.karras_sigmas(nfe, sigma_min, sigma_max)
    two = edm.karras_sigmas((nfe + 1) // 2, sigma_min, sigma_max)  # Heun's last step is Euler: nfe - 1 calls
    return {"EDM Euler": lambda d, z: edm_euler(d, sigma_max * z, one),
            "EDM Heun": lambda d, z: edm_heun(d, sigma_max * z, two),
            "DPM-Solver++(2M)": lambda d, z: dpm_solver_pp_2m(d, sigma_max * z, one)}


def run(n: int = 500, repeats: int = 3) -> dict[str, Any]:
    schedule = make_schedule("linear", 1000)
    unet, _ = recipes.digit_unet(progress=False)
    edm_net, info = edm_digit_unet(progress=False)
    unet.eval(), edm_net.eval()
    sigmas = edm.schedule_sigmas(schedule)
    eps_denoiser = edm.clipped(edm.discrete_denoiser(unet, schedule))
    vp = sde.VPSDE()
    eps_score = score_from_eps(unet, vp, schedule)

    floor = metrics.digit_floor()["frechet"]

    def configs(nfe: int) -> dict[tuple[str, str], tuple[Callable[..., torch.Tensor], Sample]]:
        out: dict[tuple[str, str], tuple[Callable[..., torch.Tensor], Sample]] = {
            ("eps U-Net", "DDIM"): (unet, lambda eps, z: ddim.ddim_sample(eps, z, sub_grid(1000, nfe),
                                                                         schedule=schedule, clip_x0=1.0)),
            ("eps U-Net", "Euler-Maruyama"): (eps_score, lambda score, z: sde_samplers.euler_maruyama(
                score, z, time_grid(nfe), sde=vp, generator=torch.Generator().manual_seed(5)))}
        for name, sample in _edm_solvers(float(sigmas[0]), float(sigmas[-1]), nfe).items():
            out[("eps U-Net", name)] = (eps_denoiser, sample)
        for name, sample in _edm_solvers(edm.SIGMA_MIN, edm.SIGMA_MAX, nfe).items():
            out[("EDM U-Net", name)] = (edm.clipped(edm_net), sample)
        return out

    runs: dict[tuple[str, str, int], list[tuple[float, int]]] = {}
    for repeat in range(repeats):
        z = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(100 + repeat)).to(device())
        for nfe in NFES:
            for (network, sampler), (model, sample) in configs(nfe).items():
                counted = Counted(model)
                with torch.no_grad():
                    images = sample(counted, z).clamp(-1, 1)
                fd = metrics.evaluate_digits(images.float().cpu())["frechet"].value
                runs.setdefault((network, sampler, nfe), []).append((fd / floor, counted.calls))
    rows = [{"network": network, "sampler": sampler, "nfe": statistics.median(r[1] for r in results),
             "fd_ratio": statistics.median(r[0] for r in results)} for (network, sampler, _), results in runs.items()]
    best = {nfe: min((row for row in rows if abs(row["nfe"] - nfe) <= 1), key=lambda row: row["fd_ratio"])
            for nfe in NFES}
    return {"rows": rows, "floor": floor, "edm_train_s": info["seconds"],
            "best_at": {nfe: f"{row['network']}, {row['sampler']}" for nfe, row in best.items()}}


if __name__ == "__main__":
    out = run()
    for row in out["rows"]:
        print(row)
    print(out["best_at"], out["floor"])
