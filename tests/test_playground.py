"""The sampler playground's Python side, without a browser: the presets, the embedded weights, the HTML
snippet's arguments and self-containment, and the reference runs of the package's samplers (the browser
equality itself is tests/browser/test_playground.py)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from diffusion_edu import metrics
from diffusion_edu.nets.mlp import TimeMLP
from diffusion_edu.present import playground
from diffusion_edu.present import playground_reference as reference
from diffusion_edu.processes import flow


@pytest.fixture(scope="module")
def small_network() -> TimeMLP:
    torch.manual_seed(0)
    return TimeMLP(dim=2, width=16, depth=2).eval()


def test_presets_are_mixtures_with_two_classes() -> None:
    for name, mixture in playground.presets().items():
        k = len(mixture["weights"])
        assert len(mixture["means"]) == len(mixture["stds"]) == len(mixture["classes"]) == k, name
        assert set(mixture["classes"]) == {0, 1}, name
        reference.mixture_from(mixture)  # a valid GaussianMixture


def test_network_weights_decode_to_the_state_dict(small_network) -> None:
    weights = playground.network_weights(small_network)
    assert (weights["width"], weights["depth"]) == (16, 2)
    for name, value in small_network.state_dict().items():
        entry = weights["tensors"][name]
        decoded = np.frombuffer(base64.b64decode(entry["data"]), dtype="<f4").reshape(entry["shape"])
        assert np.array_equal(decoded, value.numpy()), name
    json.dumps(weights)  # JSON-able


def test_network_weights_refuse_other_models() -> None:
    with pytest.raises(TypeError, match="network: expected a TimeMLP"):
        playground.network_weights(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="network: expected an unconditional 2-D TimeMLP"):
        playground.network_weights(TimeMLP(dim=2, width=16, depth=1, num_classes=2))


def test_html_arguments_are_checked(small_network) -> None:
    with pytest.raises(ValueError, match="n_tracked"):
        playground.playground_html(small_network, n_points=4, n_tracked=8)
    with pytest.raises(ValueError, match="steps"):
        playground.playground_html(small_network, steps=400)
    with pytest.raises(TypeError, match="n_points"):
        playground.playground_html(small_network, n_points=1.5)


def test_html_is_one_snippet_that_fetches_nothing(small_network) -> None:
    html = playground.playground_html(small_network)
    for forbidden in ("<script src", "<link", "http://", "https://", "fetch(", "XMLHttpRequest", "import("):
        assert forbidden not in html, forbidden
    for sampler in reference.SAMPLERS:  # every sampler the reference runs is in the page's menu
        assert f'<option value="{sampler}">' in html, sampler
    assert "option value=\"network\"" in playground.playground_html(None)  # offered, disabled by the script


def test_settings_are_checked() -> None:
    ring = playground.presets()["ring"]
    with pytest.raises(ValueError, match=r"settings\['sampler'\]: expected one of"):
        reference.check_settings({"sampler": "euler", "steps": 10, "mixture": ring})
    with pytest.raises(ValueError, match=r"settings\['guidance'\]: expected 0 with the"):
        reference.check_settings({"sampler": "ddim", "steps": 10, "model": "network", "guidance": 1.0})
    with pytest.raises(ValueError, match=r"settings\['model'\]: expected 'exact' with flow_heun"):
        reference.check_settings({"sampler": "flow_heun", "steps": 10, "model": "network"})
    with pytest.raises(ValueError, match=r"settings\['model'\]: the flow samplers run on the exact velocity only"):
        reference.velocity_model({"model": "network", "mixture": ring, "label": 0, "guidance": 0.0})
    with pytest.raises(ValueError, match=r"settings\['steps'\]"):
        reference.check_settings({"sampler": "edm_heun", "steps": 1})
    with pytest.raises(TypeError, match="settings: expected a dict"):
        reference.check_settings([("sampler", "ddpm")])
    with pytest.raises(ValueError, match="mixture: expected positive weights"):
        reference.mixture_from({**ring, "weights": [0.0] * 8})


def test_too_little_noise_is_refused() -> None:
    x = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="noise: expected enough draws"):
        reference.sample({"sampler": "ddpm", "steps": 5, "mixture": playground.presets()["pair"]}, x, [x])


@pytest.mark.parametrize("sampler", reference.SAMPLERS)
def test_every_reference_sampler_reaches_the_mixture(sampler: str) -> None:
    """With the oracle and 100 steps each sampler lands within 2.5x the floor (the mean distance from fresh exact
    sets to the same exact set) on the unbalanced pair, 2,000 points; measured 0.6x to 1.8x over three seeds."""
    generator = torch.Generator().manual_seed(0)
    pair = playground.presets()["pair"]
    mixture, _ = reference.mixture_from(pair)
    n = 2000
    x = torch.randn(n, 2, generator=generator)
    noise = [torch.randn(n, 2, generator=generator) for _ in range(200)]
    exact = mixture.sample(n, generator)[0]
    # the floor: fresh exact sets against the same reference set, averaged (the reference's own luck cancels)
    floor = sum(float(metrics.sliced_wasserstein(mixture.sample(n, generator)[0], exact)) for _ in range(4)) / 4
    settings = {"sampler": sampler, "steps": 100, "eta": 0.5, "mixture": pair}
    distance = float(metrics.sliced_wasserstein(reference.sample(settings, x, noise), exact))
    print(f"{sampler}: {distance / floor:.2f}x the floor")
    assert distance < 2.5 * floor, f"{sampler}: {distance:.3f} against the floor {floor:.3f}"


def _score64(mixture, x: torch.Tensor, scale: float, noise_std: float) -> torch.Tensor:
    """The page's mixtureScore in float64: grad log p of scale X + noise_std Z, X ~ the mixture."""
    means = mixture.means.double()  # (K, 2)
    variances = scale**2 * mixture.variances.double()[:, 0] + noise_std**2  # (K,)
    offsets = x[:, None, :] - scale * means  # (N, K, 2)
    log_joint = mixture.weights.double().log() - 0.5 * ((offsets**2).sum(-1) / variances + 2 * variances.log())
    return -(torch.softmax(log_joint, dim=1)[:, :, None] * offsets / variances[:, None]).sum(1)


@pytest.mark.parametrize("t", [0.0, 0.05, 0.5, 0.95, 0.999, 1.0])
def test_velocity_from_the_score_is_the_exact_velocity(t: float) -> None:
    """The page's velocity, u = -(x + t score) / (1 - t) from the score of the mixture noised to (1 - t) x_0 + t eps
    and x - (the mixture's mean) at t = 1, is flow.mixture_velocity: equal to 1e-9 / (1 - t) in float64 (the
    division loses digits as t nears 1; measured 2e-8 at t = 0.999)."""
    mixture, _ = reference.mixture_from(playground.presets()["pair"])
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2
    exact = flow.mixture_velocity(mixture)(x, torch.full((256,), t, dtype=torch.float64))
    if t == 1.0:
        page = x - (mixture.weights.double()[:, None] * mixture.means.double()).sum(0)
    else:
        page = -(x + t * _score64(mixture, x, 1 - t, t)) / (1 - t)
    assert float((page - exact).abs().max()) < 1e-9 / max(1 - t, 1e-3)
