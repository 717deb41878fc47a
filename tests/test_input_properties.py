"""Property-based tests (Hypothesis): public functions fed NaN, inf, empty, wrong-shape, bool and integer
inputs either raise a ValueError/TypeError whose message starts with the argument's name, or return a
finite result, and integer tensors give the same result as their float copies."""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffusion_edu import data
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.probability import bayes, gaussian, kl
from diffusion_edu.processes import ddim, ddpm, guidance, langevin, schedules, sde, sde_samplers
from diffusion_edu.processes.grids import sub_grid, time_grid
from diffusion_edu.recipes import vae
from diffusion_edu.training import gan

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SCHEDULE = schedules.linear_schedule(20)

# a scalar that a careless check lets through: NaN, infinities, negatives, zero, bools, strings
bad_scalars = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0, True, "1", None]),
                        st.floats(allow_nan=True, allow_infinity=True))


@st.composite
def tensors(draw, shape=(6, 2)):
    """A tensor of the right shape, or a hostile variant: NaN or inf entries, empty, wrong shape, bool,
    integer, 0-d."""
    kind = draw(st.sampled_from(["good", "nan", "inf", "empty", "wrong_shape", "bool", "int", "scalar"]))
    values = torch.tensor(draw(st.lists(st.floats(-3, 3), min_size=math.prod(shape), max_size=math.prod(shape))),
                          dtype=torch.float32).view(shape)
    if kind == "nan":
        values.view(-1)[draw(st.integers(0, values.numel() - 1))] = math.nan
    elif kind == "inf":
        values.view(-1)[draw(st.integers(0, values.numel() - 1))] = -math.inf
    elif kind == "empty":
        values = torch.zeros(0, *shape[1:])
    elif kind == "wrong_shape":
        values = torch.zeros(shape[0], shape[-1] + 1) if len(shape) > 1 else torch.zeros(shape[0] + 1, 2)
    elif kind == "bool":
        values = values > 0
    elif kind == "int":
        values = values.round().long()
    elif kind == "scalar":
        values = torch.tensor(1.0)
    return values


def _finite(result) -> bool:
    if isinstance(result, torch.Tensor):
        return bool(torch.isfinite(result).all())
    if isinstance(result, (tuple, list)):
        return all(_finite(r) for r in result)
    if isinstance(result, float):
        return math.isfinite(result)
    return True


def clear_error_or_finite(call, *names):
    """Run ``call``: a ValueError/TypeError must start with one of ``names``; a result must be finite."""
    try:
        result = call()
    except (ValueError, TypeError) as error:
        assert str(error).startswith(names), f"unclear error: {error!r} (expected one of {names})"
        return None
    assert _finite(result), f"silent non-finite result: {result!r}"
    return result


def same_as_float(call, value):
    """An integer tensor must give the result of its float copy."""
    if isinstance(value, torch.Tensor) and value.dtype == torch.int64:
        promoted = value.to(torch.get_default_dtype())
        try:
            expected = call(promoted)
        except (ValueError, TypeError):
            return
        torch.testing.assert_close(call(value), expected)


@SETTINGS
@given(x0=tensors(), noise=tensors(), t=st.sampled_from([torch.tensor([0, 1, 2, 3, 4, 19]), torch.arange(6) - 1,
                                                         torch.full((6,), 20), torch.zeros(6), torch.zeros(5).long()]))
def test_forward_process_and_conversions(x0, noise, t):
    clear_error_or_finite(lambda: ddpm.q_sample(x0, t, noise, SCHEDULE), "x0", "t", "noise")
    clear_error_or_finite(lambda: ddpm.x0_from_eps(x0, t, noise, SCHEDULE), "x_t", "t", "eps")
    clear_error_or_finite(lambda: ddpm.posterior(noise, x0, t, SCHEDULE), "x_t", "t", "x0")
    if t.shape == (6,) and t.dtype == torch.int64 and bool((t >= 0).all() & (t < 20).all()):
        same_as_float(lambda v: ddpm.q_sample(v, t, torch.zeros(6, 2), SCHEDULE), x0)


@SETTINGS
@given(x=tensors(), out_shape=st.sampled_from([(6, 2), (6, 1), (6,), (1, 2)]))
def test_samplers_never_broadcast_a_model_output(x, out_shape):
    model = lambda x_t, t: torch.zeros(out_shape)  # noqa: E731
    steps = sub_grid(20, 4)
    clear_error_or_finite(lambda: ddpm.eps_loss(model, x, SCHEDULE), "x0", "model")
    clear_error_or_finite(lambda: ddim.ddim_sample(model, x, steps, schedule=SCHEDULE), "x", "model")
    clear_error_or_finite(lambda: langevin.langevin(lambda y: torch.zeros(out_shape), x, [0.01] * 2), "x", "score")
    clear_error_or_finite(lambda: sde_samplers.euler_maruyama(lambda y, s: torch.zeros(out_shape), x, time_grid(2),
                                                              sde=sde.VPSDE()), "x", "score")


@SETTINGS
@given(eta=bad_scalars, beta=bad_scalars, s=bad_scalars, w=bad_scalars)
def test_scalar_arguments(eta, beta, s, w):
    x = torch.zeros(3, 2)
    clear_error_or_finite(lambda: ddim.ddim_sample(lambda y, t: y, x, sub_grid(20, 4), schedule=SCHEDULE, eta=eta),
                          "eta")
    clear_error_or_finite(lambda: schedules.linear_schedule(10, beta_start=beta).betas, "beta_start", "beta_end")
    clear_error_or_finite(lambda: schedules.cosine_schedule(10, s=s).betas, "s")
    clear_error_or_finite(lambda: guidance.classifier_free_eps(x, x + 1, w), "w")
    clear_error_or_finite(lambda: vae.vae_loss(0.1, beta=beta), "beta")
    clear_error_or_finite(lambda: data.eight_gaussians().score(x, noise_std=s), "noise_std", "scale, noise_std")
    clear_error_or_finite(lambda: langevin.annealed_langevin(lambda y, sg: -y, x, [1.0, s], step_size=0.01,
                                                             steps_per_level=1), "grid", "score, grid")
    clear_error_or_finite(lambda: ddim.ddim_sigma(0.5, 0.9, eta), "eta")
    clear_error_or_finite(lambda: gaussian.normal_log_pdf(x, 0.0, s), "std", "x, mean, std")
    clear_error_or_finite(lambda: kl.kl_normal(w, 1.0, 0.0, s), "mean_p", "std_q")
    clear_error_or_finite(lambda: bayes.gaussian_posterior(w, 1.0, 0.0, s), "prior_mean", "noise_var")


@SETTINGS
@given(p=tensors((4,)), q=tensors((4,)))
def test_distribution_functions(p, q):
    clear_error_or_finite(lambda: kl.kl_categorical(p, q), "p", "q")
    clear_error_or_finite(lambda: gan.jensen_shannon(p, q), "p", "q")
    clear_error_or_finite(lambda: gan.optimal_discriminator(p, q), "p_data", "p_model")
    clear_error_or_finite(lambda: gan.discriminator_loss(p, q), "real_logits", "fake_logits")
    clear_error_or_finite(lambda: bayes.diagnostic_posterior(p, 0.9, 0.9), "prevalence")
    same_as_float(lambda v: gaussian.normal_log_pdf(v, 0.0, 0.5), p)


@SETTINGS
@given(x=tensors(), y=tensors())
def test_metrics_and_fits(x, y):
    clear_error_or_finite(lambda: metrics.sliced_wasserstein(x, y, n_projections=8), "x", "y")
    clear_error_or_finite(lambda: metrics.mmd(x, y), "x", "y")
    clear_error_or_finite(lambda: gaussian.fit_mle(x), "x")
    clear_error_or_finite(lambda: vae.kl_to_standard_normal(x, y), "mean", "log_var")
    clear_error_or_finite(lambda: langevin.mode_weights(x, y), "x", "means")
    clear_error_or_finite(lambda: data.eight_gaussians().log_prob(x), "x")
    clear_error_or_finite(lambda: ddim.slerp(x, y, 0.5), "z0", "z1")
    clear_error_or_finite(lambda: sde.perturb(x, torch.full((6,), 0.5), y, sde.VESDE()), "x0", "t", "noise")
    same_as_float(lambda v: metrics.mmd(v, torch.zeros(4, 2)), x)


@pytest.mark.parametrize("bad", [torch.tensor([math.nan, 0.5]), torch.tensor([-0.1, 0.5]), torch.tensor([0.5]),
                                 torch.tensor([0, 1])])
def test_continuous_times(bad):
    clear_error_or_finite(lambda: sde.perturb(torch.zeros(2, 2), bad, torch.zeros(2, 2), sde.VPSDE()), "t")
    score = sde.exact_score(data.eight_gaussians(), sde.VPSDE())
    clear_error_or_finite(lambda: score(torch.zeros(2, 2), bad), "t")
