"""The DDPM derivations (chapters 7-9) re-run, and the package's torch code checked against them."""

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import ddpm as derive
from diffusion_edu.processes import ddpm
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import cosine_schedule, linear_schedule


def test_forward_derivations_prove_every_step():
    steps = derive.forward_explicit_steps(4)
    assert steps.n_proved == 4 + 3
    assert derive.forward_closed_form().n_proved == 9
    assert derive.note_errors_forward().n_proved == 12


def test_derivations_are_chains_with_the_showcase_steps():
    """The posterior shows the exponent collected in powers of x_{t-1} and the completed square; the
    ELBO shows the telescoping for T = 3 and proves the split for every T up to max_T."""
    post = derive.posterior()
    assert post.n_proved == 24
    reasons = [step.reason for step in post.steps]
    assert any("collect powers" in r for r in reasons) and any(r.startswith("complete the square") for r in reasons)
    elbo = derive.elbo_decomposition(6)
    assert elbo.n_proved == 6 + 6 + 4 + 3 + 3
    assert any("telescopes" in step.reason for step in elbo.steps)
    assert derive.parameterisations().n_proved == 20
    assert derive.schedules().n_proved == 15
    assert r"\sigma" not in elbo._repr_markdown_() and "s_{t}^{2}" in elbo._repr_markdown_()  # the sampler's std is s_t


def test_true_reverse_variance_can_exceed_beta():
    """Var(x_{t-1} | x_t) = beta_tilde + c^2 Var(x_0 | x_t) exceeds beta_t once Var(x_0 | x_t) > 1 - abar_t:
    checked on a two-point data set, where Var(x_0 | x_t) is exact."""
    d = derive.reverse_variance()
    c = sp.lambdify((derive.alpha, derive.alpha_bar_prev), d["x0_coefficient"], "numpy")
    schedule = linear_schedule(1000)
    t = 999  # the package's index of the paper's t = T: x_t is almost pure noise
    alpha, abar_prev, abar = (float(schedule.alphas[t]), float(schedule.alpha_bar_prev[t]),
                              float(schedule.alpha_bar[t]))
    beta, beta_tilde = 1 - alpha, (1 - abar_prev) / (1 - abar) * (1 - alpha)
    radius, x_t = 2.0, 0.3  # x_0 = +-2 with equal weight
    logits = np.array([1.0, -1.0]) * radius * np.sqrt(abar) * x_t / (1 - abar)
    weights = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    var_x0 = float(weights @ np.array([radius, -radius]) ** 2 - (weights @ np.array([radius, -radius])) ** 2)
    true_var = beta_tilde + c(alpha, abar_prev) ** 2 * var_x0
    assert var_x0 > 1 - abar and true_var > beta > beta_tilde


def test_unrolled_forward_process_matches_q_sample():
    """The SymPy expansion of 4 explicit steps, evaluated, equals the package's step-by-step q_step."""
    unrolled = derive.forward_explicit_steps(4)["x_4"]
    schedule = linear_schedule(4)
    generator = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 1, dtype=torch.float64, generator=generator)
    noises = torch.randn(4, 5, 1, dtype=torch.float64, generator=generator)
    x = x0
    for step in range(4):
        x = ddpm.q_step(x, torch.full((5,), step), noises[step], schedule)
    alphas = sp.symbols("alpha_1:5", positive=True)
    symbols = (derive.x0, *alphas, *sp.symbols("epsilon_1:5", real=True))
    f = sp.lambdify(symbols, unrolled, "numpy")
    expected = f(x0.numpy(), *schedule.alphas.numpy(), *noises.numpy())
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-12)


def test_posterior_matches_package():
    d = derive.posterior()
    mean = sp.lambdify((derive.x0, derive.x_t, derive.alpha, derive.alpha_bar_prev), d["mean"], "numpy")
    var = sp.lambdify((derive.alpha, derive.alpha_bar_prev), d["variance"], "numpy")
    schedule = cosine_schedule(50)
    generator = torch.Generator().manual_seed(1)
    t = torch.randint(1, 50, (32,), generator=generator)
    x0, x_t = torch.randn(2, 32, 1, dtype=torch.float64, generator=generator)
    got_mean, got_var = ddpm.posterior(x0, x_t, t, schedule)
    alpha, alpha_bar_prev = schedule.alphas[t].numpy()[:, None], schedule.alpha_bar_prev[t].numpy()[:, None]
    np.testing.assert_allclose(got_mean.numpy(), mean(x0.numpy(), x_t.numpy(), alpha, alpha_bar_prev), rtol=1e-10)
    np.testing.assert_allclose(got_var.numpy(), var(alpha, alpha_bar_prev), rtol=1e-10)


def test_elbo_weight_and_parameterisations():
    d = derive.elbo_decomposition(4)
    assert len(d.steps) == 6 + 4 + 4 + 3 + 3
    weight = sp.lambdify((derive.alpha, derive.alpha_bar_prev, derive.sigma), d["weight"], "numpy")
    schedule = linear_schedule(1000)
    w = weight(schedule.alphas.numpy(), schedule.alpha_bar_prev.numpy(), schedule.betas.sqrt().numpy())
    assert w[0] > 40 * w[-1]  # L_simple's uniform weight under-weights the first steps relative to the ELBO
    p = derive.parameterisations()
    snr = sp.lambdify(derive.alpha_bar, p["snr"], "numpy")
    np.testing.assert_allclose(snr(schedule.alpha_bar.numpy()), schedule.snr.numpy(), rtol=1e-12)


def test_schedule_derivation_matches_package():
    d = derive.schedules()
    cosine = sp.lambdify((d["tau"], d["s"]), d["cosine_alpha_bar"], "numpy")
    schedule = cosine_schedule(1000)
    tau = np.arange(1, 1001) / 1000
    expected = cosine(tau, 0.008)
    # the package clips beta at 0.999, which only changes the very last step
    np.testing.assert_allclose(schedule.alpha_bar.numpy()[:-1], expected[:-1], rtol=1e-9)
    linear = linear_schedule(1000)
    assert linear.alpha_bar[-1].item() <= np.exp(-linear.betas.sum().item())


def test_ddpm_on_a_sub_grid_keeps_the_marginals():
    full = linear_schedule(1000)
    kept = sub_grid(1000, 50, "linspace")
    assert kept[0].item() == 999 and kept[-1].item() == 0
    short = ddpm.chain_on_grid(full, kept.tolist())
    assert short.T == 50
    torch.testing.assert_close(short.alpha_bar, full.alpha_bar[kept.flip(0)])
    with pytest.raises(ValueError, match="n_steps: expected at most T = 1000"):
        sub_grid(1000, 1001, "linspace")
    calls = []
    ddpm.ddpm_sample(lambda x, t: calls.append(t) or torch.zeros_like(x), torch.zeros(2, 2), kept, schedule=full)
    assert calls[0].tolist() == [999, 999] and calls[-1].tolist() == [0, 0]  # the model sees the original steps


def test_chain_and_unet_diagrams_draw_from_the_code():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from diffusion_edu.present.diagrams import chains, unet

    assert isinstance(chains.draw(), Figure)
    shapes = unet.stage_shapes(channels=16)
    assert shapes["down_2"][1] == (32, 4, 4) and shapes["mid_2"][1] == (32, 2, 2)
    assert shapes["up_1"][0] == (48, 8, 8)  # 32 upsampled channels and 16 from the skip
    assert shapes["output"][1] == (1, 8, 8)
    assert isinstance(unet.draw(channels=8), Figure)
    plt.close("all")
