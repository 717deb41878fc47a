"""Chapter 16's package code: the derivations against the package's formulas, the exact mixture velocity against
the continuity equation (finite differences, float64) and against the score, conditional and marginal flow matching
with the same gradient, the flow samplers (contract, network evaluations, order of accuracy where the ODE is solved
in closed form), straightness, reflow's pairs, the recipes' cache and every input error."""

from __future__ import annotations

import inspect

import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import flow as derive
from diffusion_edu.processes import flow
from diffusion_edu.processes.flow_samplers import CALLS_PER_STEP, FLOW_SAMPLERS, check_flow_grid, flow_euler, flow_grid
from diffusion_edu.processes.paths import RectifiedFlowPath, VPPath
from diffusion_edu.processes.sampling import SamplerStep

MIXTURE = data.eight_gaussians()
TIMES = (0.1, 0.5, 0.9)


def gaussian_velocity(scale: float):
    """Data N(0, scale^2 I) on the straight path: x_t = s_t z with s_t^2 = (1 - t)^2 scale^2 + t^2, so the
    velocity is (d s_t / dt) / s_t x and the flow carries x_1 to x_0 = scale x_1 exactly."""
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.to(x.dtype)[:, None]
        return (t - (1 - t) * scale**2) / ((1 - t) ** 2 * scale**2 + t**2) * x
    return velocity


def counted(model):
    def wrapped(x, t):
        wrapped.calls += 1
        return model(x, t)
    wrapped.calls = 0
    return wrapped


# -- derivations against the code ---------------------------------------------------------------------------
def test_derivations_build_and_keep_their_results() -> None:
    """Every step proved (building raises ProofError otherwise); the kept conditional velocity, on the straight
    path A = 1 - t, S = t at x = (1 - t) x_0 + t eps, is rectified flow's eps - x_0."""
    for build in (derive.continuity_equation, derive.same_gradient, derive.probability_flow_is_a_flow):
        assert build().n_proved >= 4
    eps = sp.Symbol("epsilon")
    kept = derive.continuity_equation()["velocity"].subs({sp.Function("A")(derive.t): 1 - derive.t,
                                                         sp.Function("S")(derive.t): derive.t}).doit()
    assert sp.simplify(kept.subs(derive.x, (1 - derive.t) * derive.x_0 + derive.t * eps) - (eps - derive.x_0)) == 0


@pytest.mark.parametrize("path", [RectifiedFlowPath(), VPPath()])
def test_marginal_velocity_from_the_score_is_the_oracle(path) -> None:
    """The derivation's u_t(x) = (alpha'/alpha) x + (alpha' sigma^2 / alpha - sigma sigma') s_t(x), with the mixture's
    closed-form score, equals the oracle's posterior-mean velocity."""
    formula = sp.lambdify((derive.x, derive.score, derive.alpha, derive.sigma, derive.d_alpha, derive.d_sigma),
                          derive.probability_flow_is_a_flow()["marginal_velocity"], "math")
    x = 2 * torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    velocity = flow.mixture_velocity(MIXTURE, path)
    for t in TIMES:
        a, s, da, ds = (float(f(t)) for f in (path.alpha, path.sigma, path.d_alpha, path.d_sigma))
        score = MIXTURE.score(x.float(), a, s).double()  # float32 inside the mixture
        expected = torch.tensor([[formula(xi, si, a, s, da, ds) for xi, si in zip(row, srow, strict=True)]
                                 for row, srow in zip(x.tolist(), score.tolist(), strict=True)], dtype=torch.float64)
        torch.testing.assert_close(velocity(x, torch.full((64,), t)), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("t", TIMES)
def test_oracle_velocity_satisfies_the_continuity_equation(t: float) -> None:
    """d p_t / dt + div(p_t u_t) = 0 by central differences (h = 1e-5, float64) at 200 points."""
    x = 1.5 * torch.randn(200, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    velocity, h = flow.mixture_velocity(MIXTURE), 1e-5
    density = lambda y, s: flow.mixture_log_density(MIXTURE, y, s).exp()  # noqa: E731
    d_time = (density(x, t + h) - density(x, t - h)) / (2 * h)
    divergence = torch.zeros(200, dtype=torch.float64)
    for d in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[d] = h
        flux = lambda y: density(y, t) * velocity(y, torch.full((200,), t))[:, d]  # noqa: E731, B023
        divergence += (flux(x + e) - flux(x - e)) / (2 * h)
    assert float((d_time + divergence).abs().max()) < 1e-6 * float(d_time.abs().max())


def test_conditional_and_marginal_losses_have_the_same_gradient() -> None:
    """Lipman et al. Theorem 2 on the ring: for a small network, the gradient of the conditional loss (target
    eps - x_0) and of the marginal one (target the oracle's u_t(x_t)) agree up to Monte Carlo noise on the same
    (t, x_t), while the losses differ by the conditional target's variance."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
    generator = torch.Generator().manual_seed(2)
    x0 = MIXTURE.sample(200_000, generator)[0].double()
    eps = torch.randn(x0.shape, generator=generator, dtype=torch.float64)
    t = torch.rand(x0.shape[0], generator=generator, dtype=torch.float64)
    x_t = (1 - t)[:, None] * x0 + t[:, None] * eps
    marginal_target = flow.mixture_velocity(MIXTURE)(x_t, t)
    gradients, losses = [], []
    for target in (eps - x0, marginal_target):
        net.zero_grad()
        loss = ((net(torch.cat([x_t, t[:, None]], 1)) - target) ** 2).sum(1).mean()
        loss.backward()
        gradients.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
        losses.append(float(loss.detach()))
    assert float((gradients[0] - gradients[1]).norm()) < 0.03 * float(gradients[1].norm())
    assert losses[0] > losses[1] + 1.0  # the variance of the conditional target: large, constant in theta


def test_loss_targets_the_conditional_velocity() -> None:
    """With given noise, the rectified-flow target is eps - x_0 whatever t is: a zero model's loss is exact."""
    generator = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(32, 2, generator=generator), torch.randn(32, 2, generator=generator)
    loss = flow.flow_matching_loss(lambda x, t: torch.zeros_like(x), x0, generator, noise=eps)
    assert float(loss) == pytest.approx(float(((eps - x0) ** 2).sum(1).mean()), rel=1e-6)
    oracle_loss = flow.flow_matching_loss(flow.mixture_velocity(MIXTURE), MIXTURE.sample(4000, generator)[0], generator)
    zero_loss = flow.flow_matching_loss(lambda x, t: torch.zeros_like(x), MIXTURE.sample(4000, generator)[0], generator)
    assert float(oracle_loss) < 0.7 * float(zero_loss)  # measured 0.61


# -- samplers --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FLOW_SAMPLERS))
def test_sampler_contract_and_evaluations(name: str) -> None:
    sampler = FLOW_SAMPLERS[name]
    parameters = list(inspect.signature(sampler).parameters.values())
    assert [p.name for p in parameters[:3]] == ["model", "x", "grid"]
    assert all(p.kind == p.KEYWORD_ONLY for p in parameters[3:])
    model, steps = counted(gaussian_velocity(0.5)), []
    grid = flow_grid(5)
    x1 = torch.randn(16, 2, generator=torch.Generator().manual_seed(4))
    out = sampler(model, x1, grid, callback=steps.append)
    assert model.calls == 5 * CALLS_PER_STEP[name]
    assert all(isinstance(s, SamplerStep) for s in steps) and [s.index for s in steps] == list(range(5))
    assert [s.t for s in steps] == pytest.approx(grid[:-1]) and torch.equal(steps[-1].x, out)
    # the x0 estimate is the straight-line one, x - t v(x, t)
    torch.testing.assert_close(steps[0].x0, x1 - gaussian_velocity(0.5)(x1, torch.ones(16)))
    assert torch.equal(out, sampler(model, x1, grid))


def test_order_of_accuracy_on_gaussian_data() -> None:
    """The flow of N(0, 0.5^2) data carries x_1 to 0.5 x_1; halving the step divides the error by about 2, 4
    and 16 for Euler, Heun and RK4."""
    x1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for name, order in (("euler", 1), ("heun", 2), ("rk4", 4)):
        errors = [float((FLOW_SAMPLERS[name](gaussian_velocity(0.5), x1, flow_grid(n)) - 0.5 * x1).abs().max())
                  for n in (32, 64)]
        assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.25), name


def test_one_euler_step_is_exact_on_a_straight_flow() -> None:
    """Point-mass data at 0: every trajectory is the straight line x_t = t x_1 with velocity x / t."""
    x1 = torch.randn(32, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    straight = lambda x, t: x / t.to(x.dtype)[:, None]  # noqa: E731
    assert float(flow_euler(straight, x1, flow_grid(1)).abs().max()) < 1e-14
    assert flow.straightness(straight, x1, n_steps=10) < 1e-20
    assert flow.straightness(gaussian_velocity(3.0), x1, n_steps=10) > 1e-3
    ring = flow.straightness(flow.mixture_velocity(MIXTURE), x1.float(), n_steps=20)
    assert 0.05 < ring < 5


def test_flow_grid_and_shift() -> None:
    assert flow_grid(4) == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])
    shifted = flow_grid(4, shift=3.0)
    assert shifted[0] == 1.0 and shifted[-1] == 0.0 and shifted[2] == pytest.approx(0.75)  # 3 * 0.5 / (1 + 2 * 0.5)
    assert check_flow_grid(torch.tensor(shifted)) == pytest.approx(shifted)


def test_reflow_pairs_are_the_flows_ends() -> None:
    x1 = torch.randn(16, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x0, noise = flow.reflow_pairs(gaussian_velocity(0.5), x1, n_steps=20)
    assert torch.equal(noise, x1)
    torch.testing.assert_close(x0, 0.5 * x1, rtol=1e-6, atol=1e-8)


def test_recipe_trains_and_caches(tmp_path, monkeypatch) -> None:
    from diffusion_edu.recipes.flow import flow_2d

    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))
    model, info = flow_2d("moons", cpu_steps=20, progress=False)
    assert info["trained_now"] and info["steps"] == 20
    again, info_again = flow_2d("moons", cpu_steps=20, progress=False)
    assert not info_again["trained_now"]
    x, t = torch.randn(3, 2), torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(model(x, t), again(x, t))


# -- input errors ----------------------------------------------------------------------------------------------
ZEROS = torch.zeros(4, 2)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: flow_euler(gaussian_velocity(1.0), ZEROS, [0.5, 0.9, 0.1]), ValueError, "^grid: expected strictly"),
    (lambda: flow_euler(gaussian_velocity(1.0), ZEROS, [1.5, 0.5]), ValueError, r"^grid: expected times in \[0, 1\]"),
    (lambda: flow_euler(gaussian_velocity(1.0), ZEROS, [1.0]), ValueError, "^grid: expected at least two"),
    (lambda: flow_euler(lambda x, t: x[:, :1], torch.zeros(4, 2), [1.0, 0.0]), ValueError, "^model"),
    (lambda: flow_euler("velocity", torch.zeros(4, 2), [1.0, 0.0]), TypeError, "^model"),
    (lambda: flow_euler(gaussian_velocity(1.0), [[0.0, 0.0]], [1.0, 0.0]), TypeError, "^x"),
    (lambda: flow_euler(lambda x, t: x / 0, torch.ones(4, 2), [1.0, 0.0]), ValueError, "^model: expected finite"),
    (lambda: flow_grid(0), ValueError, "^n_steps"),
    (lambda: flow_grid(4, shift=0.0), ValueError, "^shift"),
    (lambda: flow.flow_matching_loss(gaussian_velocity(1.0), torch.zeros(4, 2), noise=torch.zeros(4, 3)),
     ValueError, "^noise"),
    (lambda: flow.mixture_velocity("ring"), TypeError, "^mixture"),
    (lambda: flow.mixture_velocity(MIXTURE)(torch.zeros(4, 2), torch.full((4,), 1.5)), ValueError, "^t: expected"),
    (lambda: flow.reflow_pairs(gaussian_velocity(1.0), torch.zeros(4, 2), method="rk45"), ValueError, "^method"),
    (lambda: flow.straightness(gaussian_velocity(1.0), torch.zeros(4, 2), n_steps=1.5), TypeError, "^n_steps"),
])
def test_input_errors_name_the_argument(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
