"""k-NN precision and recall (Kynkäänniemi et al. 2019) on sets whose answer is known."""

import pytest
import torch

from diffusion_edu.metrics.precision_recall import knn_radii, manifold_coverage, precision_recall


def _cloud(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def test_identical_sets_score_one():
    x = _cloud(200, 0)
    assert precision_recall(x, x.clone()) == (1.0, 1.0)


def test_disjoint_far_sets_score_zero():
    assert precision_recall(_cloud(200, 0), _cloud(200, 1, shift=100.0)) == (0.0, 0.0)


def test_collapsed_samples_keep_precision_but_lose_recall():
    real = _cloud(400, 0)
    copies = real[:5].repeat(40, 1) + 1e-3 * _cloud(200, 2)  # five real points, each copied 40 times
    precision, recall = precision_recall(real, copies)
    assert precision == 1.0
    assert recall < 0.1


def test_uniform_noise_has_low_precision_against_a_tight_cloud():
    real = 0.1 * _cloud(400, 0)
    noise = 2 * torch.rand(400, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64) - 1
    assert manifold_coverage(real, noise) < 0.05


def test_real_vs_real_floor_is_high_but_below_one():
    precision, recall = precision_recall(_cloud(500, 0), _cloud(500, 1))
    assert 0.5 < precision < 1.0 and 0.5 < recall < 1.0


def test_radii_are_the_kth_neighbour_distance():
    x = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    assert knn_radii(x, k=1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(x, k=3).tolist() == [6.0, 5.0, 3.0, 6.0]


@pytest.mark.parametrize(("real", "samples", "match"), [
    (torch.zeros(10), torch.zeros(10, 2), "real: expected a 2-D"),
    (torch.randn(3, 2), torch.randn(10, 2), "real: expected at least k"),
    (torch.randn(10, 2), torch.randn(10, 3), "samples: expected 2 features per row"),
])
def test_bad_shapes_raise_clear_errors(real, samples, match):
    with pytest.raises(ValueError, match=match):
        precision_recall(real, samples)


def test_digit_precision_recall_sees_what_confidence_misses():
    from diffusion_edu.data import load_digits
    from diffusion_edu.metrics import digit_precision_recall

    held_out = load_digits().test_images
    real = digit_precision_recall(held_out)
    assert real["precision"].value == real["precision"].floor and real["recall"].value == real["recall"].floor
    noise = 2 * torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) - 1
    assert digit_precision_recall(noise)["precision"].value < 0.5  # measured 0.22 (floor 0.91)
    copies = digit_precision_recall(held_out[:1].repeat(300, 1, 1, 1))
    assert copies["recall"].value < 0.05  # measured 0.0007 (floor 0.92)
    with pytest.raises(ValueError, match="samples: expected at least 4"):
        digit_precision_recall(held_out[:3])
