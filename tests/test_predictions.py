"""Prediction conversions: every kind to every kind on every path (float64, 1e-10), the SymPy forms
equal the torch code, DDPM's own conversions and the probability-flow ODE agree, the wrappers turn
one model into another, and bad inputs get clear errors."""

from __future__ import annotations

import itertools

import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffusion_edu import data
from diffusion_edu.derivations import predictions as derive
from diffusion_edu.processes import ddpm, sde
from diffusion_edu.processes.paths import DiscretePath, EDMPath, RectifiedFlowPath, VEPath, VPPath
from diffusion_edu.processes.predictions import (
    KINDS,
    as_denoiser,
    as_eps,
    as_kind,
    as_score,
    as_v,
    as_velocity,
    convert,
    eps_from_score,
    score_from_eps,
)
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule

PATHS = {"linear": DiscretePath(linear_schedule(1000)), "cosine": DiscretePath(cosine_schedule(1000)),
         "vp": VPPath(), "ve": VEPath(sde.VESDE(25.0)), "rectified_flow": RectifiedFlowPath(), "edm": EDMPath()}


def batch(path, n: int, generator: torch.Generator, dims: tuple[int, ...] = (3,)):
    """x_0, eps, t and x_t in float64, t away from the ends where alpha or sigma vanish."""
    x0 = torch.randn(n, *dims, generator=generator, dtype=torch.float64)
    eps = torch.randn(n, *dims, generator=generator, dtype=torch.float64)
    low, high = path.t_range
    if path.discrete:
        t = torch.randint(int(low), int(high) + 1, (n,), generator=generator)
    else:
        t = low + (high - low) * (0.02 + 0.96 * torch.rand(n, generator=generator, dtype=torch.float64))
    return x0, eps, t, path.noise(x0, t, eps)


def truth(path, x0, eps, t):
    """Every kind from the known x_0 and eps, by its definition."""
    shape = (-1,) + (1,) * (x0.ndim - 1)
    alpha, sigma = path.alpha(t).view(shape), path.sigma(t).view(shape)
    kinds = {"eps": eps, "x0": x0, "v": alpha * eps - sigma * x0, "score": -eps / sigma}
    if not path.discrete:
        kinds["velocity"] = path.d_alpha(t).view(shape) * x0 + path.d_sigma(t).view(shape) * eps
    return kinds


@pytest.mark.parametrize("name", sorted(PATHS))
def test_every_kind_converts_to_every_kind(name, generator):
    path = PATHS[name]
    x0, eps, t, x_t = batch(path, 200, generator, dims=(2, 3))
    kinds = truth(path, x0, eps, t)
    for source, target in itertools.product(kinds, kinds):
        out = convert(kinds[source], x_t, t, path, source=source, target=target)
        scale = kinds[target].abs().max().item()
        torch.testing.assert_close(out, kinds[target], rtol=1e-10, atol=1e-10 * scale,
                                   msg=f"{name}: {source} -> {target}")
        back = convert(out, x_t, t, path, source=target, target=source)
        torch.testing.assert_close(back, kinds[source], rtol=1e-10, atol=1e-10 * kinds[source].abs().max().item(),
                                   msg=f"{name}: {source} -> {target} -> {source}")


def test_schedules_and_sdes_are_accepted_as_paths(generator):
    schedule = linear_schedule(1000)
    x0, eps, t, x_t = batch(DiscretePath(schedule), 10, generator)
    torch.testing.assert_close(convert(eps, x_t, t, schedule), convert(eps, x_t, t, DiscretePath(schedule)))
    x0, eps, t, x_t = batch(VPPath(), 10, generator)
    torch.testing.assert_close(convert(eps, x_t, t, sde.VPSDE(), target="velocity"),
                               convert(eps, x_t, t, VPPath(), target="velocity"))


def test_sympy_forms_equal_the_torch_conversions(generator):
    """Each proved form, lambdified, against convert on a VP path and a rectified-flow path."""
    symbols = (derive.x_t, derive.x_0, derive.eps, derive.v, derive.score, derive.u,
               derive.alpha, derive.sigma, derive.d_alpha, derive.d_sigma)
    forms = {("eps", "x0"): derive.x0_and_eps()["x0_from_eps"], ("x0", "eps"): derive.x0_and_eps()["eps_from_x0"],
             ("eps", "v"): derive.v_prediction()["v_from_eps"], ("x0", "v"): derive.v_prediction()["v_from_x0"],
             ("v", "eps"): derive.v_prediction()["eps_from_v"], ("v", "x0"): derive.v_prediction()["x0_from_v"],
             ("eps", "score"): derive.score_from_eps()["score_from_eps"],
             ("score", "eps"): derive.score_from_eps()["eps_from_score"],
             ("score", "x0"): derive.score_from_eps()["x0_from_score"],
             ("eps", "velocity"): derive.velocity()["velocity_from_eps"],
             ("x0", "velocity"): derive.velocity()["velocity_from_x0"],
             ("velocity", "eps"): derive.velocity()["eps_from_velocity"],
             ("velocity", "x0"): derive.velocity()["x0_from_velocity"]}
    symbol = {"x0": derive.x_0, "eps": derive.eps, "v": derive.v, "score": derive.score, "velocity": derive.u}
    coefficients = {derive.x_t, derive.alpha, derive.sigma, derive.d_alpha, derive.d_sigma}
    for path in (VPPath(), RectifiedFlowPath(), VEPath()):
        x0, eps, t, x_t = batch(path, 50, generator, dims=())
        kinds = truth(path, x0, eps, t)
        values = [x_t, x0, eps, kinds["v"], kinds["score"], kinds["velocity"],
                  path.alpha(t), path.sigma(t), path.d_alpha(t), path.d_sigma(t)]
        for (source, target), form in forms.items():
            assert form.free_symbols <= coefficients | {symbol[source]}, (source, target)  # uses only the source
            f = sp.lambdify(symbols, form, "math")
            expected = torch.tensor([f(*row) for row in zip(*(v.tolist() for v in values), strict=True)],
                                    dtype=torch.float64)
            torch.testing.assert_close(convert(kinds[source], x_t, t, path, source=source, target=target), expected,
                                       rtol=1e-12, atol=1e-12, msg=f"{type(path).__name__}: {source} -> {target}")


def test_ddpm_conversions_agree(generator):
    schedule = cosine_schedule(1000)
    x0, eps, t, x_t = batch(DiscretePath(schedule), 100, generator)
    v = ddpm.v_from_eps(x0, t, eps, schedule)
    for prediction, source, target, expected in (
            (eps, "eps", "x0", ddpm.x0_from_eps(x_t, t, eps, schedule)),
            (x0, "x0", "eps", ddpm.eps_from_x0(x_t, t, x0, schedule)),
            (v, "v", "eps", ddpm.eps_from_v(x_t, t, v, schedule))):
        torch.testing.assert_close(convert(prediction, x_t, t, schedule, source=source, target=target), expected,
                                   rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(convert(eps, x_t, t, schedule, target="v"), ddpm.v_from_eps(x0, t, eps, schedule))


@pytest.mark.parametrize("process", [sde.VPSDE(), sde.VESDE(25.0)], ids=["vp", "ve"])
def test_velocity_of_the_sde_paths_is_the_probability_flow_drift(process, generator):
    """u = f(x, t) - g(t)^2 score / 2 (Song et al. 2021 eq. 13), from the exact score of a mixture."""
    score = sde.exact_score(data.eight_gaussians(), process)
    x = torch.randn(100, 2, generator=generator, dtype=torch.float64) * 3
    t = 0.05 + 0.9 * torch.rand(100, generator=generator, dtype=torch.float64)
    g = process.diffusion(t)[:, None]
    drift = process.drift(x, t) - 0.5 * g**2 * score(x, t)
    torch.testing.assert_close(as_velocity(score, process, prediction="score")(x, t), drift, rtol=1e-10, atol=1e-10)


def test_wrappers_turn_one_model_into_another(generator):
    mixture, schedule = data.eight_gaussians(), linear_schedule(1000)
    eps_model = ddpm.exact_eps_model(mixture, schedule)
    x = torch.randn(64, 2, generator=generator)
    t = torch.randint(0, 1000, (64,), generator=generator)
    eps = eps_model(x, t)
    torch.testing.assert_close(as_denoiser(eps_model, schedule)(x, t), convert(eps, x, t, schedule))
    score = as_score(eps_model, schedule)
    torch.testing.assert_close(as_eps(score, schedule, prediction="score")(x, t), eps, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(as_v(eps_model, schedule)(x, t), convert(eps, x, t, schedule, target="v"))
    vp = VPPath()
    s = torch.rand(64, generator=generator) * 0.9 + 0.05
    exact = sde.exact_score(mixture, vp.sde)
    denoiser = as_denoiser(exact, vp, prediction="score")
    torch.testing.assert_close(as_kind(denoiser, vp, source="x0", target="score")(x, s), exact(x, s),
                               rtol=1e-4, atol=1e-4)


def test_score_and_eps_helpers_are_inverse(generator):
    eps = torch.randn(10, 2, generator=generator, dtype=torch.float64)
    sigma = torch.rand(10, 1, generator=generator, dtype=torch.float64) + 0.1
    torch.testing.assert_close(eps_from_score(score_from_eps(eps, sigma), sigma), eps)
    torch.testing.assert_close(score_from_eps(eps, 0.5), -2 * eps)


def test_float32_conversion_keeps_float64_coefficients():
    """At the cosine schedule's last step alpha ~ 5e-5: x_0 from eps stays within float32 precision."""
    path = DiscretePath(cosine_schedule(1000))
    t = torch.tensor([0, 500, 999])
    x_t, eps = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    exact = convert(eps, x_t, t, path)
    torch.testing.assert_close(convert(eps.float(), x_t.float(), t, path).double(), exact, rtol=1e-5, atol=1e-5)
    assert convert(eps.float(), x_t.float(), t, path).dtype == torch.float32


@settings(max_examples=50, deadline=None)
@given(t=st.floats(0.01, 0.99), values=st.lists(st.floats(-10, 10), min_size=4, max_size=4))
def test_rectified_flow_velocity_is_eps_minus_x0(t, values):
    x0, eps = torch.tensor(values[:2], dtype=torch.float64)[None], torch.tensor(values[2:], dtype=torch.float64)[None]
    path, times = RectifiedFlowPath(), torch.tensor([t], dtype=torch.float64)
    x_t = path.noise(x0, times, eps)
    torch.testing.assert_close(convert(eps, x_t, times, path, target="velocity"), eps - x0, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(convert(eps - x0, x_t, times, path, source="velocity", target="x0"), x0,
                               rtol=1e-9, atol=1e-9)


def test_bad_inputs_get_clear_errors():
    path, x = VPPath(), torch.zeros(4, 2)
    t = torch.full((4,), 0.5)
    with pytest.raises(ValueError, match=r"source: expected one of .*got 'noise'"):
        convert(x, x, t, path, source="noise")
    with pytest.raises(ValueError, match="target: expected one of"):
        convert(x, x, t, path, target="x_0")
    with pytest.raises(TypeError, match="target: 'velocity' is d x_t / dt"):
        convert(x, x, torch.zeros(4, dtype=torch.long), linear_schedule(10), target="velocity")
    with pytest.raises(TypeError, match="source: 'velocity'"):
        convert(x, x, torch.zeros(4, dtype=torch.long), linear_schedule(10), source="velocity")
    with pytest.raises(ValueError, match=r"prediction: expected shape \(4, 2\) \(as x_t\), got \(4, 3\)"):
        convert(torch.zeros(4, 3), x, t, path)
    with pytest.raises(ValueError, match=r"t: expected shape \(4,\)"):
        convert(x, x, torch.full((3,), 0.5), path)
    with pytest.raises(TypeError, match="path: expected a NoisePath"):
        convert(x, x, t, "vp")
    with pytest.raises(TypeError, match="model: expected a callable"):
        as_eps("net", path)
    with pytest.raises(TypeError, match="path: 'velocity' needs a continuous path"):
        as_velocity(lambda x, t: x, linear_schedule(10))
    with pytest.raises(ValueError, match=r"model: expected model\(x_t, t\) to return shape \(4, 2\)"):
        as_denoiser(lambda x, t: x[:, :1], path)(x, t)
    assert set(KINDS) == {"eps", "x0", "v", "score", "velocity"}
