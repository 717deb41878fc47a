import pytest
import torch

from diffusion_edu import data
from diffusion_edu.metrics import quality as metrics
from diffusion_edu.recipes import classifier as classifier_recipe


def test_sliced_wasserstein_detects_a_shift(generator):
    x = torch.randn(2000, 2, generator=generator)
    y = torch.randn(2000, 2, generator=generator)
    floor = metrics.sliced_wasserstein(x, y)
    shifted = metrics.sliced_wasserstein(x + torch.tensor([1.0, 0.0]), y)
    assert floor < 0.1 < shifted
    # a shift by d along a unit direction u: E|<u, d>| over random unit u in 2-D is 2|d|/pi
    assert abs(shifted - 2 / torch.pi) < 0.08


def test_mmd_floor_and_signal(generator):
    x = torch.randn(500, 2, generator=generator)
    y = torch.randn(500, 2, generator=generator)
    assert abs(metrics.mmd(x, y)) < 0.01 < metrics.mmd(2 * x, y)


def test_evaluate_2d_reports_floors(generator):
    mixture = data.eight_gaussians()
    real, real_again, model = (mixture.sample(1000, generator)[0] for _ in range(3))
    reports = metrics.evaluate_2d(model, real, real_again)
    assert reports["swd"].ratio < 1.5
    bad = metrics.evaluate_2d(torch.randn(1000, 2, generator=generator), real, real_again)
    assert bad["swd"].ratio > 3
    assert "floor" in str(bad["swd"])


def test_metric_input_errors():
    with pytest.raises(ValueError, match="x: expected a 2-D tensor"):
        metrics.sliced_wasserstein(torch.zeros(5), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="y: expected dimension 2"):
        metrics.sliced_wasserstein(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="x: expected finite values"):
        metrics.mmd(torch.full((5, 2), float("nan")), torch.zeros(5, 2))
    with pytest.raises(ValueError, match=r"samples: expected shape \(N, 1, 8, 8\)"):
        metrics.evaluate_digits(torch.zeros(5, 8, 8))


def test_digit_classifier_is_accurate_and_cached():
    classifier = metrics.digit_classifier()
    digits = data.load_digits()
    accuracy = (classifier(digits.test_images).argmax(1) == digits.test_labels).float().mean()
    assert accuracy > 0.95
    assert list((metrics.cache_dir() / "models").glob("digit-classifier-*.pt"))
    assert not any(p.requires_grad for p in classifier.parameters())


def test_classifier_trains_through_the_loop_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path))
    monkeypatch.setitem(classifier_recipe.CLASSIFIER_RECIPE, "steps", 3)  # a quick training is enough here
    metrics.digit_classifier.cache_clear()
    try:
        with torch.no_grad():  # as metric callers run it: training must still get gradients
            model = metrics.digit_classifier()
        assert [p.name for p in (tmp_path / "models").glob("digit-classifier-*.pt")]
        again, info = classifier_recipe.trained_digit_classifier()  # loaded, not retrained
        pairs = zip(model.state_dict().values(), again.state_dict().values(), strict=True)
        assert all(torch.equal(a, b) for a, b in pairs)
        assert info["steps"] == 3
    finally:
        metrics.digit_classifier.cache_clear()


def test_classifier_training_is_deterministic(tmp_path, monkeypatch):
    monkeypatch.setitem(classifier_recipe.CLASSIFIER_RECIPE, "steps", 3)
    states = []
    for run in ("a", "b"):  # two empty caches: two trainings from the same seed
        monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path / run))
        states.append(classifier_recipe.trained_digit_classifier()[0].state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_digit_metrics_have_floors():
    held_out = data.load_digits().test_images
    floor = metrics.digit_floor()
    real = metrics.evaluate_digits(held_out)
    assert real["frechet"].value == pytest.approx(floor["frechet"])
    noise = metrics.evaluate_digits(torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert noise["frechet"].value > 5 * floor["frechet"]
    assert metrics.digit_accuracy(held_out, data.load_digits().test_labels) > 0.95


def test_frechet_distance_of_gaussians(generator):
    a = torch.randn(20000, 3, generator=generator, dtype=torch.float64)
    b = 2 * torch.randn(20000, 3, generator=generator, dtype=torch.float64) + 1
    # closed form: |1|^2 * 3 + 3 * (1 + 4 - 2 * 2) = 6
    assert metrics.frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
