"""Chapter 6: the GAN derivations hold, the losses match them, and Algorithm 1 runs as stated."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import gan as derive
from diffusion_edu.derivations.registry import builders
from diffusion_edu.nets.gan import DigitDiscriminator, DigitGenerator, MLPDiscriminator, MLPGenerator
from diffusion_edu.training import gan
from diffusion_edu.training.loop import NonFiniteLossError


# tests/test_derivations.py checks every registered derivation's form; here: how much each proves
@pytest.mark.parametrize("name", sorted(builders(derive.__name__)))
def test_every_derivation_proves_enough(name):
    assert builders(derive.__name__)[name]().n_proved >= 3


def test_module_registers_its_derivations():
    assert len(builders(derive.__name__)) >= 3


def test_criterion_is_minus_log4_plus_2_jsd(generator):
    for _ in range(50):
        p = torch.rand(5, dtype=torch.float64, generator=generator)
        q = torch.rand(5, dtype=torch.float64, generator=generator)
        p, q = p / p.sum(), q / q.sum()
        torch.testing.assert_close(gan.generator_criterion(p, q), -math.log(4) + 2 * gan.jensen_shannon(p, q))
    d_star = sp.lambdify((derive.a, derive.b), derive.optimal_discriminator()["d_star"], "numpy")
    np.testing.assert_allclose(gan.optimal_discriminator(p, q).numpy(), d_star(p.numpy(), q.numpy()), rtol=1e-12)
    assert float(gan.jensen_shannon(p, p)) == pytest.approx(0.0, abs=1e-15)


def test_losses_match_sympy_gradients():
    logits = torch.linspace(-6, 6, 41, dtype=torch.float64, requires_grad=True)
    saturation = derive.saturation()
    for kind, name in (("saturating", "saturating_grad"), ("non_saturating", "non_saturating_grad")):
        (grad,) = torch.autograd.grad(gan.generator_loss(logits, kind) * len(logits), logits)
        exact = sp.lambdify(derive.logit, saturation[name], "numpy")(logits.detach().numpy())
        np.testing.assert_allclose(grad.numpy(), exact, rtol=1e-10)
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.0])
    expected = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    torch.testing.assert_close(gan.discriminator_loss(real, fake), expected)


def test_train_gan_alternates_k_steps_and_is_deterministic():
    ring = data.eight_gaussians()

    def run():
        torch.manual_seed(0)
        noise = torch.Generator().manual_seed(0)
        draws = []

        def batches(i):
            draws.append(i)
            return ring.sample(32, noise)[0]

        result = gan.train_gan(MLPGenerator(width=16), MLPDiscriminator(width=16), batches, latent_dim=2, steps=5, k=3,
                               noise=noise, progress=False)
        return result, draws

    result, draws = run()
    assert draws == list(range(15))  # k = 3 fresh real minibatches per generator step
    assert result.steps == 5 and len(result.discriminator_losses) == 5
    again, _ = run()
    assert result.losses == again.losses


def test_non_finite_loss_raises():
    def bad_batches(_i):
        return torch.full((8, 2), float("nan"))

    with pytest.raises(ValueError, match="real_batches: expected a non-empty batch|real_batches: expected finite"):
        gan.train_gan(MLPGenerator(width=8), MLPDiscriminator(width=8), bad_batches, latent_dim=2, steps=3,
                      progress=False)

    class NaNGradient(torch.nn.Module):  # finite outputs, NaN gradient: sqrt(|w - w|) at 0
        def __init__(self):
            super().__init__()
            self.inner = MLPDiscriminator(width=8)

        def forward(self, x):
            w = self.inner.net[0].weight
            return self.inner(x) + torch.sqrt((w - w.detach()).abs().sum())

    discriminator = NaNGradient()
    before = [p.detach().clone() for p in discriminator.parameters()]
    with pytest.raises(NonFiniteLossError, match="step 0") as error:
        gan.train_gan(MLPGenerator(width=8), discriminator, lambda i: torch.randn(8, 2), latent_dim=2, steps=3,
                      progress=False)
    assert "gradient of discriminator parameter" in str(error.value)
    for a, b in zip(before, discriminator.parameters(), strict=True):
        assert torch.equal(a, b)


def test_mode_coverage_rule():
    ring = data.eight_gaussians()
    samples = ring.sample(800, torch.Generator().manual_seed(0))[0]
    coverage = gan.mode_coverage(samples, ring.means, 0.15)
    assert coverage.covered == 8 and coverage.high_quality > 0.95
    collapsed = ring.means[:3].repeat_interleave(100, 0)  # all mass on 3 modes
    assert gan.mode_coverage(collapsed, ring.means, 0.15).covered == 3
    assert gan.mode_coverage(torch.zeros(100, 2), ring.means, 0.15).covered == 0


def test_digit_networks_shapes():
    g_net, d_net = DigitGenerator(latent_dim=8, width=4), DigitDiscriminator(width=4)
    images = g_net(torch.randn(3, 8))
    assert images.shape == (3, 1, 8, 8) and bool((images.abs() <= 1).all())
    assert d_net(images).shape == (3,)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="kind"):
        gan.generator_loss(torch.zeros(3), "wasserstein")
    with pytest.raises(ValueError, match="fake_logits"):
        gan.discriminator_loss(torch.zeros(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="q"):
        gan.jensen_shannon(torch.ones(3) / 3, torch.ones(4) / 4)
    with pytest.raises(ValueError, match="p_data"):
        gan.optimal_discriminator(torch.tensor([-0.1]), torch.tensor([0.5]))
    with pytest.raises(TypeError, match="discriminator"):
        gan.train_gan(MLPGenerator(), "D", lambda i: torch.zeros(2, 2), latent_dim=2, steps=1)
    with pytest.raises(ValueError, match="k"):
        gan.train_gan(MLPGenerator(), MLPDiscriminator(), lambda i: torch.zeros(2, 2), latent_dim=2, steps=1, k=0)
    with pytest.raises(ValueError, match="min_fraction"):
        gan.mode_coverage(torch.zeros(4, 2), torch.zeros(2, 2), 0.1, min_fraction=0)
