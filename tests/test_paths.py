"""The noise paths: each equals the process it stands for (DDPM's q_sample, the SDEs' perturbation kernel),
its coefficients match their closed forms and the SymPy log-SNR, derivatives match finite differences,
the log-SNR falls, and bad inputs get clear errors."""

from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffusion_edu.derivations import predictions as derive
from diffusion_edu.processes import ddpm, sde
from diffusion_edu.processes.paths import (
    PATHS,
    DiscretePath,
    EDMPath,
    NoisePath,
    RectifiedFlowPath,
    VEPath,
    VPPath,
    as_path,
)
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule

CONTINUOUS = {"vp": VPPath(), "ve": VEPath(sde.VESDE(25.0)), "rectified_flow": RectifiedFlowPath(), "edm": EDMPath()}
DISCRETE = {"linear": DiscretePath(linear_schedule(1000)), "cosine": DiscretePath(cosine_schedule(1000))}
ALL = CONTINUOUS | DISCRETE


def times(path: NoisePath, n: int, generator: torch.Generator, margin: float = 0.02) -> torch.Tensor:
    """n times inside the path's range, away from the ends where alpha or sigma vanish."""
    low, high = path.t_range
    if path.discrete:
        return torch.randint(int(low), int(high) + 1, (n,), generator=generator)
    span = high - low
    return low + span * (margin + (1 - 2 * margin) * torch.rand(n, generator=generator, dtype=torch.float64))


def test_every_path_class_is_exported_and_tested():
    assert {type(p) for p in ALL.values()} == set(PATHS)


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_discrete_path_is_ddpm_q_sample(name, dtype, generator):
    path = DISCRETE[name]
    x0 = torch.randn(64, 3, generator=generator, dtype=dtype)
    eps = torch.randn(64, 3, generator=generator, dtype=dtype)
    t = torch.randint(0, 1000, (64,), generator=generator)
    torch.testing.assert_close(path.noise(x0, t, eps), ddpm.q_sample(x0, t, eps, path.schedule), rtol=0, atol=0)
    torch.testing.assert_close(path.alpha(t) ** 2, path.schedule.alpha_bar[t], rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", ["vp", "ve"])
def test_sde_paths_are_the_perturbation_kernel(name, generator):
    path = CONTINUOUS[name]
    x0 = torch.randn(64, 2, generator=generator)
    eps = torch.randn(64, 2, generator=generator)
    t = torch.rand(64, generator=generator)
    torch.testing.assert_close(path.noise(x0, t, eps), sde.perturb(x0, t, eps, path.sde), rtol=0, atol=0)


def test_closed_forms(generator):
    t = times(RectifiedFlowPath(), 50, generator)
    torch.testing.assert_close(RectifiedFlowPath().alpha(t), 1 - t)
    torch.testing.assert_close(RectifiedFlowPath().sigma(t), t)
    torch.testing.assert_close(EDMPath().sigma(t * 80), t * 80)
    torch.testing.assert_close(EDMPath().alpha(t), torch.ones_like(t))
    torch.testing.assert_close(VEPath().alpha(t), torch.ones_like(t))
    vp = VPPath()  # variance preserving: alpha^2 + sigma^2 = 1
    torch.testing.assert_close(vp.alpha(t) ** 2 + vp.sigma(t) ** 2, torch.ones_like(t), rtol=1e-14, atol=0)


def test_coefficients_are_float64_and_cast_only_at_the_end():
    """The cosine schedule's last alpha_bar is ~2.4e-9 and its first 1 - alpha_bar ~4e-7: float64 keeps both."""
    path = DISCRETE["cosine"]
    t = torch.tensor([0, 999])
    assert path.alpha(t).dtype == path.sigma(t).dtype == path.log_snr(t).dtype == torch.float64
    x0, eps = torch.ones(2, 1), torch.ones(2, 1)
    exact = path.noise(x0.double(), t, eps.double())
    torch.testing.assert_close(path.noise(x0, t, eps).double(), exact, rtol=1e-7, atol=0)


@pytest.mark.parametrize("name", sorted(ALL))
def test_log_snr_is_log_of_alpha_squared_over_sigma_squared(name, generator):
    path = ALL[name]
    t = times(path, 100, generator)
    expected = torch.log(path.alpha(t) ** 2 / path.sigma(t) ** 2)
    torch.testing.assert_close(path.log_snr(t), expected, rtol=1e-12, atol=1e-12)


def test_log_snr_matches_sympy(generator):
    f = {name: sp.lambdify(args, derive.log_snr()[name], "math") for name, args in (
        ("ddpm", derive.alpha_bar), ("vp", derive.B), ("ve", (derive.s_ve, derive.t)),
        ("rectified_flow", derive.t), ("edm", derive.sigma))}
    for name, path in DISCRETE.items():
        t = times(path, 20, generator)
        for ti, lam in zip(path.schedule.alpha_bar[t].tolist(), path.log_snr(t).tolist(), strict=True):
            assert lam == pytest.approx(f["ddpm"](ti), rel=1e-12, abs=1e-12), name
    t = times(VPPath(), 20, generator)
    vp, ve = CONTINUOUS["vp"], CONTINUOUS["ve"]
    for ti, integrated, lam_vp, lam_ve, lam_rf, lam_edm in zip(
            t.tolist(), vp.sde.integrated_beta(t).tolist(), vp.log_snr(t).tolist(), ve.log_snr(t).tolist(),
            RectifiedFlowPath().log_snr(t).tolist(), EDMPath().log_snr(t).tolist(), strict=True):
        assert lam_vp == pytest.approx(f["vp"](integrated), rel=1e-12, abs=1e-12)
        assert lam_ve == pytest.approx(f["ve"](ve.sde.sigma, ti), rel=1e-12, abs=1e-12)
        assert lam_rf == pytest.approx(f["rectified_flow"](ti), rel=1e-12, abs=1e-12)
        assert lam_edm == pytest.approx(f["edm"](ti), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_discrete_log_snr_falls_at_every_step(name):
    path = DISCRETE[name]
    assert bool(torch.all(torch.diff(path.log_snr(torch.arange(1000))) < 0))


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(CONTINUOUS)), u=st.floats(0.001, 0.999), v=st.floats(0.001, 0.999))
def test_continuous_log_snr_falls(name, u, v):
    path = CONTINUOUS[name]
    low, high = path.t_range
    early, late = sorted((low + (high - low) * u, low + (high - low) * v))
    if late - early < 1e-9:
        return
    lam = path.log_snr(torch.tensor([early, late], dtype=torch.float64))
    assert lam[0] > lam[1]


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_derivatives_match_finite_differences(name, generator):
    path = CONTINUOUS[name]
    t = times(path, 30, generator, margin=0.05)
    h = 1e-6 * (path.t_range[1] - path.t_range[0])
    for exact, value in ((path.d_alpha, path.alpha), (path.d_sigma, path.sigma)):
        numeric = (value(t + h) - value(t - h)) / (2 * h)
        torch.testing.assert_close(exact(t), numeric, rtol=1e-6, atol=1e-7)


def test_python_numbers_are_times():
    assert float(RectifiedFlowPath().alpha(0.25)) == 0.75
    assert float(RectifiedFlowPath().d_alpha(0.3)) == -1.0
    assert float(DISCRETE["linear"].alpha(0)) == pytest.approx(math.sqrt(1 - 1e-4))


def test_as_path_maps_each_process_to_its_path():
    schedule, vp, ve = linear_schedule(10), sde.VPSDE(), sde.VESDE(10.0)
    assert as_path(schedule) == DiscretePath(schedule)
    assert as_path(vp) == VPPath(vp) and as_path(ve) == VEPath(ve)
    path = EDMPath()
    assert as_path(path) is path
    with pytest.raises(TypeError, match="path: expected a NoisePath"):
        as_path("linear")


def test_discrete_path_has_no_time_derivative():
    path = DISCRETE["linear"]
    with pytest.raises(TypeError, match="d_alpha: DiscretePath has integer steps"):
        path.d_alpha(torch.tensor([3]))
    with pytest.raises(TypeError, match="d_sigma"):
        path.d_sigma(torch.tensor([3]))


def test_bad_times_get_clear_errors():
    with pytest.raises(ValueError, match=r"t: expected times in \[0, 1\]"):
        RectifiedFlowPath().alpha(torch.tensor([1.5]))
    with pytest.raises(ValueError, match=r"t: expected times in \[0, 80\]"):
        EDMPath().sigma(torch.tensor([-0.1]))
    with pytest.raises(ValueError, match="t: expected finite values"):
        VPPath().alpha(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="t: expected an integer tensor of step indices"):
        DISCRETE["linear"].alpha(torch.tensor([0.5]))
    with pytest.raises(ValueError, match=r"t: expected step indices in \[0, 999\]"):
        DISCRETE["linear"].alpha(torch.tensor([1000]))
    with pytest.raises(ValueError, match=r"t: expected shape \(4,\)"):
        VPPath().noise(torch.zeros(4, 2), torch.zeros(3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"eps: expected shape \(4, 2\)"):
        VPPath().noise(torch.zeros(4, 2), torch.zeros(4), torch.zeros(4, 3))


def test_bad_constructions_get_clear_errors():
    with pytest.raises(TypeError, match="sde: expected a VPSDE, got VESDE"):
        VPPath(sde.VESDE())
    with pytest.raises(TypeError, match="sde: expected a VESDE"):
        VEPath(sde.VPSDE())
    with pytest.raises(TypeError, match="schedule: expected a Schedule"):
        DiscretePath("linear")
    with pytest.raises(ValueError, match="sigma_min"):
        EDMPath(sigma_min=0.0)
    with pytest.raises(ValueError, match="sigma_max"):
        EDMPath(sigma_min=1.0, sigma_max=0.5)
