"""The 28x28 MNIST metrics: the cached classifier's held-out accuracy, the real-vs-real floors, and
samples that must score badly (uniform noise, copies of one digit); bad input named before any training.

Measured (1 thread, shared machine): held-out accuracy 0.980; floors: Fréchet 3.07, precision 0.894,
recall 0.898; uniform noise: Fréchet 499, precision 0; 500 copies of one digit: Fréchet 841, recall 0."""

import pytest
import torch

from diffusion_edu import metrics
from diffusion_edu.data import load_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_classifier_is_accurate_on_held_out_digits(mnist):
    model = metrics.mnist_classifier()
    assert not any(p.requires_grad for p in model.parameters())
    accuracy = metrics.mnist_accuracy(mnist.test_images, mnist.test_labels)
    assert accuracy >= 0.96  # measured 0.980
    features = metrics.mnist_features(mnist.test_images[:7])
    assert features.shape == (7, 128) and features.dtype == torch.float64


def test_real_vs_real_floors(mnist):
    floor = metrics.mnist_floor()
    assert 0 < floor["frechet"] < 6  # measured 3.07
    assert 0.8 < floor["precision"] < 1.0 and 0.8 < floor["recall"] < 1.0  # measured 0.894, 0.898
    assert floor["confidence"] > 0.9  # measured 0.971
    held_out = metrics.evaluate_mnist(mnist.test_images)["frechet"]
    assert held_out.value == pytest.approx(held_out.floor) and held_out.ratio == pytest.approx(1.0)
    other_real = metrics.evaluate_mnist(mnist.train_images[:500])["frechet"]
    assert other_real.ratio < 1.5  # 500 training digits: measured 1.05x the floor


def test_noise_and_copies_score_badly(mnist):
    noise = 2 * torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)) - 1
    assert metrics.evaluate_mnist(noise)["frechet"].ratio > 30  # measured 163x (Fréchet 499)
    assert metrics.mnist_precision_recall(noise)["precision"].value < 0.1  # measured 0.0 (floor 0.894)
    copies = mnist.test_images[:1].repeat(500, 1, 1, 1)
    assert metrics.evaluate_mnist(copies)["frechet"].ratio > 30  # measured 274x (Fréchet 841)
    scores = metrics.mnist_precision_recall(copies)
    assert scores["recall"].value < 0.05  # measured 0.0 (floor 0.898)
    assert scores["precision"].value > 0.9  # the one digit is real: only recall sees the collapse


def test_shifted_digits_score_worse_than_the_floor(mnist):
    shifted = torch.roll(mnist.test_images, 3, dims=3)  # real strokes, three pixels off: measured 17.8x
    assert metrics.evaluate_mnist(shifted)["frechet"].ratio > 5


@pytest.mark.parametrize(("call", "match"), [
    (lambda: metrics.mnist_features(torch.zeros(3, 1, 8, 8) - 1), r"images: expected shape \(N, 1, 28, 28\)"),
    (lambda: metrics.mnist_features(torch.zeros(3, 28, 28)), r"images: expected shape \(N, 1, 28, 28\), got \(3, 28"),
    (lambda: metrics.mnist_confidence(torch.rand(3, 1, 28, 28) * 255), r"images: expected pixels in \[-1, 1\]"),
    (lambda: metrics.evaluate_mnist(-torch.ones(1, 1, 28, 28)), r"samples: expected at least 2 image"),
    (lambda: metrics.mnist_precision_recall(-torch.ones(3, 1, 28, 28)), r"samples: expected at least 4 image"),
    (lambda: metrics.mnist_accuracy(-torch.ones(4, 1, 28, 28), torch.zeros(3, dtype=torch.long)),
     r"labels: expected an integer tensor of shape \(4,\)"),
    (lambda: metrics.mnist_accuracy(-torch.ones(2, 1, 28, 28), torch.tensor([0, 10])),
     r"labels: expected digit classes in \[0, 9\], got \[0, 10\]"),
    (lambda: metrics.mnist_features(torch.full((2, 1, 28, 28), float("nan"))), "images"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
