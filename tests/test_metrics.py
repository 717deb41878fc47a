import pytest
import torch

from diffusion_edu import data, metrics


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


def test_digit_classifier_is_accurate_and_cached(tmp_path, monkeypatch):
    classifier = metrics.digit_classifier()
    digits = data.load_digits()
    accuracy = (classifier(digits.test_images).argmax(1) == digits.test_labels).float().mean()
    assert accuracy > 0.95
    path = metrics.cache_dir() / f"digit_classifier-v{metrics.CLASSIFIER_VERSION}.pt"
    assert path.exists()


def test_corrupt_classifier_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(metrics, "CLASSIFIER_STEPS", 5)  # a quick rebuild is enough to test the path
    path = tmp_path / f"digit_classifier-v{metrics.CLASSIFIER_VERSION}.pt"
    path.write_bytes(b"not a checkpoint")
    metrics.digit_classifier.cache_clear()
    try:
        model = metrics.digit_classifier()
        assert isinstance(model, torch.nn.Module)
        assert path.stat().st_size > 1000
    finally:
        metrics.digit_classifier.cache_clear()
        monkeypatch.delenv(metrics.CACHE_ENV)


def test_classifier_training_is_deterministic(monkeypatch):
    monkeypatch.setattr(metrics, "CLASSIFIER_STEPS", 3)
    a = metrics._train_digit_classifier().state_dict()
    b = metrics._train_digit_classifier().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


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
