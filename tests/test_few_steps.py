"""Chapter 18: progressive distillation (Salimans & Ho 2022) and consistency models (Song et al. 2023): the
derivations, the distillation target against two teacher DDIM steps in float64 (on EDM's path and on DDPM's through
the package's DDIM step), the boundary condition, the consistency sampler on the sampler contract, bad inputs."""

from __future__ import annotations

import inspect
import math

import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import few_steps as derive
from diffusion_edu.processes import ddim, edm
from diffusion_edu.processes.consistency import (
    consistency_distillation_loss,
    consistency_function,
    consistency_sample,
    consistency_scalings,
    teacher_ode_step,
)
from diffusion_edu.processes.distillation import (
    ddim_step_on_path,
    distillation_target,
    halve_grid,
    progressive_distillation_loss,
    teacher_two_steps,
    v_target,
)
from diffusion_edu.processes.edm_samplers import edm_euler
from diffusion_edu.processes.sampling import SamplerStep
from diffusion_edu.processes.schedules import linear_schedule
from diffusion_edu.recipes.few_steps import ConsistencyModel, distillation_grid

MIXTURE = data.eight_gaussians()
TEACHER = edm.mixture_denoiser(MIXTURE)


def network(x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
    return torch.sin(3 * x) + c_noise[:, None]  # any function: the boundary condition must not depend on it


def start(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("builder", [derive.distillation_target, derive.consistency_boundary])
def test_derivations_build(builder) -> None:
    d = builder()
    assert d.n_proved >= 6


def test_target_matches_sympy() -> None:
    d = derive.distillation_target()
    symbols = (derive.z, derive.z_end, derive.alpha, derive.sigma, derive.alpha_end, derive.sigma_end)
    formula = sp.lambdify(symbols, d["x_target"], "math")
    z, z_end = start(8, 1), start(8, 2)
    torch_values = distillation_target(z, z_end, 0.6, 0.8, 0.9, math.sqrt(1 - 0.81))
    expected = [[formula(a, b, 0.6, 0.8, 0.9, math.sqrt(0.19)) for a, b in zip(ra, rb, strict=True)]
                for ra, rb in zip(z.tolist(), z_end.tolist(), strict=True)]
    torch.testing.assert_close(torch_values, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_scalings_match_sympy_and_the_boundary_holds() -> None:
    d = derive.consistency_boundary()
    sigmas = torch.logspace(math.log10(0.002), 2, 40, dtype=torch.float64)
    c = consistency_scalings(sigmas, 1.4, 0.002)
    for name in ("c_skip", "c_out"):
        f = sp.lambdify((derive.s, derive.s_min, derive.s_d), d[name], "math")
        torch.testing.assert_close(c[name], torch.tensor([f(s, 0.002, 1.4) for s in sigmas.tolist()],
                                                         dtype=torch.float64), rtol=1e-12, atol=1e-15)
    at_min = consistency_scalings(0.002, 1.4, 0.002)
    assert at_min["c_skip"].item() == 1.0 and at_min["c_out"].item() == 0.0
    x = start()
    levels = torch.full((64,), 0.002, dtype=torch.float64)
    assert torch.equal(consistency_function(network, x, levels, 1.4, 0.002), x)
    model = ConsistencyModel(sigma_data=1.4)  # float32, as trained
    assert torch.equal(model(x.float(), levels.float()), x.float())
    assert not torch.allclose(model(x.float(), levels.float() * 10), x.float())  # away from sigma_min: the network


@pytest.mark.parametrize(("sigma", "sigma_mid", "sigma_end"), [(80.0, 10.0, 2.0), (2.0, 0.9, 0.3), (0.5, 0.1, 0.0)])
def test_one_student_step_lands_on_two_teacher_steps_edm(sigma: float, sigma_mid: float, sigma_end: float) -> None:
    """Salimans & Ho 2022, Algorithm 2 on EDM's path: Euler (= DDIM) with the target as the student's output, one
    step, equals the teacher's two Euler steps, also run through the sampler edm_euler."""
    x = sigma * start()
    levels = [torch.full((64,), s, dtype=torch.float64) for s in (sigma, sigma_mid, sigma_end)]
    two = teacher_two_steps(TEACHER, x, *levels)
    torch.testing.assert_close(two, edm_euler(TEACHER, x, [sigma, sigma_mid, sigma_end]), rtol=0, atol=1e-10)
    target = distillation_target(x, two, 1.0, levels[0], 1.0, levels[2])
    one = edm_euler(lambda x_, s_: target, x, [sigma, sigma_end])
    assert (one - two).abs().max().item() < 1e-10
    assert (ddim_step_on_path(x, target, 1.0, sigma, 1.0, sigma_end) - two).abs().max().item() < 1e-10


@pytest.mark.parametrize(("t", "t_mid", "t_end"), [(999, 899, 799), (500, 300, 100), (60, 20, 0)])
def test_target_against_the_package_ddim_on_ddpm(t: int, t_mid: int, t_end: int) -> None:
    """On DDPM's variance-preserving path, through the DDIM step the book checks against diffusers: the student's
    one ddim.ddim_step with eps from the target equals the teacher's two, and the v-target gives the same x."""
    schedule = linear_schedule(1000)
    alpha_bar = schedule.alpha_bar.double()
    eps_model = lambda x_, step: torch.tanh(x_) * (1 + step / 1000)  # a smooth stand-in teacher  # noqa: E731

    def teacher_step(z: torch.Tensor, a: int, b: int) -> torch.Tensor:
        return ddim.ddim_step(z, eps_model(z, a), alpha_bar[a].item(), alpha_bar[b].item() if b > 0 else 1.0, 0.0)[0]

    z = start(32, 3)
    two = teacher_step(teacher_step(z, t, t_mid), t_mid, t_end)
    a, s = alpha_bar[t].sqrt().item(), (1 - alpha_bar[t]).sqrt().item()
    a_end = alpha_bar[t_end].sqrt().item() if t_end > 0 else 1.0
    s_end = (1 - alpha_bar[t_end]).sqrt().item() if t_end > 0 else 0.0
    target = distillation_target(z, two, a, s, a_end, s_end)
    one = ddim.ddim_step(z, (z - a * target) / s, alpha_bar[t].item(), a_end**2, 0.0)[0]
    assert (one - two).abs().max().item() < 1e-10
    v = v_target(z, target, a, s)
    assert (a * z - s * v - target).abs().max().item() < 1e-10  # x = alpha z - sigma v on a VP path


def test_grids() -> None:
    assert torch.equal(halve_grid(distillation_grid(8)), distillation_grid(4))
    assert distillation_grid(1).tolist() == [80.0, 0.0]
    assert len(distillation_grid(64)) == 65 and distillation_grid(64)[-2].item() == pytest.approx(0.002)


def test_losses_are_finite_and_differentiable() -> None:
    student = ConsistencyModel(sigma_data=1.4)
    y = MIXTURE.sample(32, torch.Generator().manual_seed(0))[0].float()
    grid = distillation_grid(4)
    loss = progressive_distillation_loss(student, TEACHER, y, grid, 1.4, torch.Generator().manual_seed(1))
    loss.backward()
    assert math.isfinite(loss.item()) and student.network.parameters().__next__().grad is not None
    levels = edm.karras_sigmas(18, append_zero=False)
    cd = consistency_distillation_loss(student, student, TEACHER, y, levels, torch.Generator().manual_seed(2))
    assert math.isfinite(cd.item()) and cd.requires_grad


def test_teacher_ode_step_is_euler_or_heun() -> None:
    x = 3.0 * start()
    sigma, sigma_next = torch.full((64,), 3.0, dtype=torch.float64), torch.full((64,), 1.0, dtype=torch.float64)
    torch.testing.assert_close(teacher_ode_step(TEACHER, x, sigma, sigma_next, heun=False),
                               edm_euler(TEACHER, x, [3.0, 1.0]), rtol=0, atol=1e-12)


def test_consistency_sampler_contract() -> None:
    parameters = list(inspect.signature(consistency_sample).parameters.values())
    assert [p.name for p in parameters[:3]] == ["model", "x", "grid"]
    assert all(p.kind == p.KEYWORD_ONLY for p in parameters[3:])
    model = lambda x, s: consistency_function(network, x, s, 1.4)  # noqa: E731
    x = 80.0 * start(16)
    steps: list[SamplerStep] = []
    grid = [80.0, 2.0, 0.5, 0.0]
    out = consistency_sample(model, x, grid, generator=torch.Generator().manual_seed(0), callback=steps.append)
    assert [s.index for s in steps] == [0, 1, 2] and [s.t for s in steps] == grid[:-1]
    assert torch.equal(steps[-1].x, out) and all(s.x0 is not None for s in steps)
    again = consistency_sample(model, x, grid, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert not torch.equal(out, consistency_sample(model, x, grid, generator=torch.Generator().manual_seed(1)))
    zeros = consistency_sample(model, x, grid, noise_sampler=torch.zeros_like)
    assert torch.equal(zeros, consistency_sample(model, x, grid, generator=torch.Generator().manual_seed(5),
                                                 noise_sampler=torch.zeros_like))
    one = consistency_sample(model, x, [80.0, 0.0])
    assert torch.equal(one, model(x, torch.full((16,), 80.0, dtype=torch.float64)))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: distillation_target(start(), start(), 1.0, 1.0, 1.0, 2.0), "^sigma_end: expected"),
    (lambda: distillation_target(start(), start(4), 1.0, 2.0, 1.0, 1.0), "^z_end"),
    (lambda: ddim_step_on_path(start(), start(), 1.0, -1.0, 1.0, 0.5), "^sigma: expected"),
    (lambda: halve_grid([3.0, 2.0, 1.0, 0.0]), "^grid: expected an even number"),
    (lambda: halve_grid([3.0, 4.0, 0.0]), "^grid: expected"),
    (lambda: distillation_grid(3), "^n_steps: expected a power of two"),
    (lambda: consistency_scalings(0.001, 1.0, 0.002), "^sigma: expected noise levels >= sigma_min"),
    (lambda: consistency_scalings(1.0, -1.0), "^sigma_data"),
    (lambda: consistency_sample(TEACHER, start(), [80.0, 1.0]), "^grid: expected levels >= sigma_min"),
    (lambda: consistency_sample(TEACHER, start(), [80.0, 0.001, 0.0]), "^grid: expected levels >= sigma_min"),
    (lambda: consistency_sample(TEACHER, start(), [1.0, 2.0, 0.0]), "^grid: expected"),
    (lambda: progressive_distillation_loss(TEACHER, TEACHER, start(), [3.0, 2.0, 1.0, 0.0], 1.0), "^grid: expected"),
    (lambda: consistency_distillation_loss(TEACHER, TEACHER, TEACHER, start(), [3.0, 1.0, 0.0]), "^levels: expected"),
])
def test_bad_inputs_raise_clear_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_types_raise() -> None:
    with pytest.raises(TypeError, match="^model"):
        consistency_sample("not a model", start(), [80.0, 0.0])
    with pytest.raises(TypeError, match="^x"):
        consistency_sample(TEACHER, [[1.0, 2.0]], [80.0, 0.0])
