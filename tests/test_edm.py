"""Chapter 17's package code: the preconditioning and loss weight against their SymPy forms, the Karras grid, the
exact mixture denoiser against chapter 8's exact eps model, the samplers on the sampler contract (signature, one
SamplerStep per update, network evaluations, seeded determinism, grid checks), their order of accuracy on Gaussian
data (where the ODE is solved in closed form), and Euler in sigma = DDIM step for step."""

from __future__ import annotations

import inspect
import math

import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import edm as derive
from diffusion_edu.processes import ddim, ddpm, edm
from diffusion_edu.processes.edm_samplers import dpm_solver_pp_2m, edm_euler, edm_heun, edm_stochastic
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.sampling import SamplerStep
from diffusion_edu.processes.schedules import linear_schedule

SAMPLERS = {"edm_euler": edm_euler, "edm_heun": edm_heun, "edm_stochastic": edm_stochastic,
            "dpm_solver_pp_2m": dpm_solver_pp_2m}
SIGMAS = torch.tensor([0.002, 0.03, 0.5, 1.0, 4.0, 80.0], dtype=torch.float64)


def gaussian_denoiser(scale: float):
    """The exact denoiser of data N(0, scale^2 I): E[y | y + sigma n] = scale^2 / (scale^2 + sigma^2) x."""
    def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return (scale**2 / (scale**2 + sigma.to(x.dtype) ** 2))[:, None] * x
    return denoiser


@pytest.mark.parametrize("sigma_data", [0.5, 1.4])
def test_preconditioning_matches_sympy(sigma_data: float) -> None:
    d = derive.preconditioning()
    c = edm.preconditioning(SIGMAS, sigma_data)
    for name in ("c_in", "c_skip", "c_out"):
        expected = sp.lambdify((derive.sigma, derive.sigma_d), d[name], "math")
        for value, ours in zip(SIGMAS.tolist(), c[name].tolist(), strict=True):
            assert ours == pytest.approx(expected(value, sigma_data), rel=1e-13)
    weight = sp.lambdify((derive.sigma, derive.sigma_d), d["loss_weight"], "math")
    ours = edm.loss_weight(SIGMAS, sigma_data)
    assert ours.tolist() == pytest.approx([weight(s, sigma_data) for s in SIGMAS.tolist()], rel=1e-13)
    torch.testing.assert_close(ours * c["c_out"] ** 2, torch.ones_like(SIGMAS), rtol=1e-14, atol=0)
    torch.testing.assert_close(c["c_noise"], SIGMAS.log() / 4, rtol=0, atol=0)


def test_preconditioning_gives_unit_variances() -> None:
    """With data of variance sigma_data^2: the network's input and its ideal target have unit variance."""
    generator = torch.Generator().manual_seed(0)
    sigma_data = 1.4
    y = sigma_data * torch.randn(400_000, generator=generator, dtype=torch.float64)
    n = torch.randn(400_000, generator=generator, dtype=torch.float64)
    for sigma in (0.01, 0.5, 3.0, 50.0):
        c = edm.preconditioning(sigma, sigma_data)
        x = y + sigma * n
        assert float((c["c_in"] * x).var()) == pytest.approx(1.0, abs=0.01)
        assert float(((y - c["c_skip"] * x) / c["c_out"]).var()) == pytest.approx(1.0, abs=0.01)


def test_precondition_boundary_and_shape() -> None:
    x = torch.randn(5, 2, dtype=torch.float64)
    out = edm.precondition(lambda x_in, c_noise: torch.full_like(x_in, 7.0), x,
                           torch.full((5,), 1e-12, dtype=torch.float64), 0.5)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-10)  # c_skip -> 1, c_out -> 0
    with pytest.raises(ValueError, match="^sigma: expected shape"):
        edm.precondition(lambda a, b: a, x, torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="^sigma: expected noise levels > 0"):
        edm.loss_weight(0.0, 0.5)


def test_karras_grid() -> None:
    grid = edm.karras_sigmas(10)
    assert grid.dtype == torch.float64 and len(grid) == 11
    assert float(grid[0]) == pytest.approx(80.0, rel=1e-14) and float(grid[-2]) == pytest.approx(0.002, rel=1e-12)
    assert float(grid[-1]) == 0.0 and bool((grid[1:] < grid[:-1]).all())
    roots = grid[:-1] ** (1 / 7)
    torch.testing.assert_close(roots.diff(), roots.diff()[:1].expand(9), rtol=1e-12, atol=0)  # equal in sigma^(1/7)
    # rho sets how many of the steps go to low noise: 1 level below sigma = 1 when uniform in sigma (rho = 1), 4 at
    # rho = 7, 6 when uniform in log sigma (rho -> infinity, a geometric grid); absolute steps shrink toward sigma_min
    geometric = edm.karras_sigmas(10, rho=1e6, append_zero=False)
    below = [int((edm.karras_sigmas(10, rho=rho, append_zero=False) < 1).sum()) for rho in (1.0, 7.0, 1e6)]
    assert below == [1, 4, 6], below
    assert bool((grid[:-1].diff().abs().diff() < 0).all())
    torch.testing.assert_close(geometric[1:] / geometric[:-1], (geometric[1] / geometric[0]).expand(9), rtol=1e-4,
                               atol=0)
    with pytest.raises(ValueError, match="^sigma_max"):
        edm.karras_sigmas(10, sigma_min=1.0, sigma_max=0.5)


def test_mixture_denoiser_matches_exact_eps_model() -> None:
    """The EDM oracle and chapter 8's oracle are one denoiser: at sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t),
    D(x) = x - sigma_t eps*(x / sqrt(1 + sigma_t^2), t)."""
    mixture, schedule = data.eight_gaussians(), linear_schedule(1000)
    steps = torch.tensor([0, 10, 200, 500, 999])
    sigma = edm.schedule_sigmas(schedule)[steps]
    x = 3 * torch.randn(5, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    ours = edm.mixture_denoiser(mixture)(x, sigma)
    wrapped = edm.discrete_denoiser(ddpm.exact_eps_model(mixture, schedule), schedule, quantize=True)(x, sigma)
    torch.testing.assert_close(ours, wrapped, rtol=1e-4, atol=1e-4)  # exact_eps_model computes in float32
    assert edm.sigma_to_t(sigma, schedule).tolist() == pytest.approx(steps.double().tolist(), abs=1e-9)


def test_euler_in_sigma_is_ddim() -> None:
    """DDIM (eta = 0) on a sub-grid and Euler in sigma on the same levels, from the same start, land on the same
    points (the derivation one_step_three_names), read in EDM's scale x_t / sqrt(alpha_bar_t)."""
    schedule = linear_schedule(1000)
    eps_model = ddpm.exact_eps_model(data.eight_gaussians(), schedule)
    steps = sub_grid(1000, 20, "linspace")
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ours: list[torch.Tensor] = []
    grid = torch.cat([edm.schedule_sigmas(schedule)[steps], torch.zeros(1, dtype=torch.float64)])
    edm_euler(edm.discrete_denoiser(eps_model, schedule, quantize=True), z * math.sqrt(1 + float(grid[0]) ** 2), grid,
              callback=lambda step: ours.append(step.x))
    theirs: list[torch.Tensor] = []
    ddim.ddim_sample(eps_model, z, steps, schedule=schedule, callback=lambda step: theirs.append(step.x))
    levels = schedule.alpha_bar[steps].tolist()[1:] + [1.0]
    for a, b, alpha_bar in zip(ours, theirs, levels, strict=True):
        torch.testing.assert_close(a, b / math.sqrt(alpha_bar), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_signature(name: str) -> None:
    parameters = list(inspect.signature(SAMPLERS[name]).parameters.values())
    assert [p.name for p in parameters[:3]] == ["model", "x", "grid"]
    rest = {p.name: p for p in parameters[3:]}
    assert all(p.kind == p.KEYWORD_ONLY for p in rest.values())
    assert rest["generator"].default is None and rest["callback"].default is None
    assert "Algorithm" in (SAMPLERS[name].__doc__ or "")


@pytest.mark.parametrize(("name", "nfe"), [("edm_euler", 6), ("edm_heun", 11), ("edm_stochastic", 11),
                                           ("dpm_solver_pp_2m", 6)])
def test_callback_and_evaluations(name: str, nfe: int) -> None:
    grid = edm.karras_sigmas(6, sigma_max=10.0)
    calls, steps = [], []

    def model(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        calls.append(float(sigma[0]))
        return gaussian_denoiser(1.0)(x, sigma)

    x = 10 * torch.randn(8, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = SAMPLERS[name](model, x, grid, callback=steps.append)
    assert len(calls) == nfe
    assert [s.index for s in steps] == list(range(6)) and all(isinstance(s, SamplerStep) for s in steps)
    assert [s.t for s in steps] == pytest.approx(grid[:-1].tolist())
    assert torch.equal(steps[-1].x, out) and all(s.x0 is not None for s in steps)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("grid", [[1.0, 2.0, 0.0], [5.0, 0.0, 0.0], [5.0, -1.0], [3.0], [math.inf, 1.0, 0.0]])
def test_bad_grid_names_grid(name: str, grid: list[float]) -> None:
    with pytest.raises(ValueError, match="^grid: expected"):
        SAMPLERS[name](gaussian_denoiser(1.0), torch.randn(4, 2), grid)


def test_churn_is_seeded_noise() -> None:
    grid, x = edm.karras_sigmas(8, sigma_max=10.0), torch.randn(16, 2, generator=torch.Generator().manual_seed(1))

    def run(seed: int, churn: float = 10.0) -> torch.Tensor:
        return edm_stochastic(gaussian_denoiser(1.0), x, grid, s_churn=churn,
                              generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3)) and not torch.equal(run(3), run(4))
    assert torch.equal(run(3, churn=0.0), edm_heun(gaussian_denoiser(1.0), x, grid))  # Algorithm 1 exactly
    zeros = edm_stochastic(gaussian_denoiser(1.0), x, grid, s_churn=10.0, noise_sampler=torch.zeros_like)
    assert not torch.equal(zeros, run(3))


def test_order_of_accuracy_on_gaussian_data() -> None:
    """For data N(0, s^2) the ODE's solution is x(sigma) = x(sigma_0) sqrt(s^2 + sigma^2) / sqrt(s^2 + sigma_0^2).
    Stopping at sigma_min > 0 on a geometric grid: doubling the steps shrinks Euler's error ~2x and Heun's and
    DPM-Solver++(2M)'s ~4x."""
    scale, top, bottom = 1.3, 20.0, 0.05
    x = top * torch.randn(32, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = x * math.sqrt(scale**2 + bottom**2) / math.sqrt(scale**2 + top**2)
    errors = {}
    for name in ("edm_euler", "edm_heun", "dpm_solver_pp_2m"):
        errors[name] = []
        for n in (16, 32, 64):
            grid = torch.logspace(math.log10(top), math.log10(bottom), n + 1, dtype=torch.float64)
            options = {"lower_order_final": False} if name == "dpm_solver_pp_2m" else {}
            out = SAMPLERS[name](gaussian_denoiser(scale), x, grid, **options)
            errors[name].append(float((out - exact).abs().max()))
    ratios = {name: [a / b for a, b in zip(e[:-1], e[1:], strict=True)] for name, e in errors.items()}
    assert all(1.7 < r < 2.3 for r in ratios["edm_euler"]), ratios
    assert all(3.4 < r < 4.6 for r in ratios["edm_heun"]), ratios
    assert all(3.4 < r < 4.6 for r in ratios["dpm_solver_pp_2m"]), ratios


def test_edm_loss_weights_the_network_error_alike() -> None:
    """For a denoiser whose network error is 1 at every level, the weighted loss is 1 whatever the sigmas drawn."""
    y = torch.randn(4096, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    sigma_data = 0.9

    def denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        c = edm.preconditioning(sigma, sigma_data)
        target = (y - c["c_skip"][:, None] * x) / c["c_out"][:, None]
        return c["c_skip"][:, None] * x + c["c_out"][:, None] * (target + 1.0)

    loss = edm.edm_loss(denoiser, y, sigma_data, torch.Generator().manual_seed(6))
    assert float(loss) == pytest.approx(1.0, rel=1e-9)
