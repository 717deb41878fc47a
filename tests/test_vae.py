"""Chapter 5: the VAE derivations hold, and the torch functions compute exactly them."""

import math

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import vae as derive
from diffusion_edu.derivations.registry import builders
from diffusion_edu.nets.autoencoder import DigitAutoencoder, DigitVAE
from diffusion_edu.recipes import vae


# tests/test_derivations.py checks every registered derivation's form; here: how much each proves
@pytest.mark.parametrize("name", sorted(builders(derive.__name__)))
def test_every_derivation_proves_enough(name):
    assert builders(derive.__name__)[name]().n_proved >= 2


def test_module_registers_its_derivations():
    assert len(builders(derive.__name__)) >= 3


def test_kl_matches_sympy_and_is_not_note_003s(generator):
    kl = derive.kl_to_standard_normal()
    mean = torch.randn(300, 5, dtype=torch.float64, generator=generator)
    log_var = torch.randn(300, 5, dtype=torch.float64, generator=generator)
    ours = vae.kl_to_standard_normal(mean, log_var)
    exact = sp.lambdify((derive.mu, derive.log_var), kl["kl_log_var"], "numpy")(mean.numpy(), log_var.numpy()).sum(1)
    np.testing.assert_allclose(ours.numpy(), exact, rtol=1e-12)
    assert bool((ours >= 0).all())
    note_003 = 0.5 * (log_var + 1 - log_var.exp() - mean.square()).sum(1)
    torch.testing.assert_close(note_003, -ours)
    # against torch.distributions as an independent reference
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    reference = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(ours, reference)


def test_gaussian_nll_matches_sympy_and_torch(generator):
    x, f = torch.randn(2, 50, 3, dtype=torch.float64, generator=generator)
    symbols = sp.symbols("x_1:4", real=True) + sp.symbols("f_1:4", real=True) + (derive.c,)
    loglik = sp.lambdify(symbols, derive.gaussian_decoder_likelihood()["log_likelihood"], "numpy")
    expected = loglik(*x.T.numpy(), *f.T.numpy(), 0.2)
    np.testing.assert_allclose(-vae.gaussian_nll(x, f, 0.2).numpy(), expected, rtol=1e-12)
    reference = -torch.distributions.Normal(f, math.sqrt(0.2)).log_prob(x).sum(1)
    torch.testing.assert_close(vae.gaussian_nll(x, f, 0.2), reference)


def test_reparameterised_gradient_is_unbiased(generator):
    mean = torch.tensor([[0.7]], dtype=torch.float64, requires_grad=True)
    log_var = torch.tensor([[0.5]], dtype=torch.float64, requires_grad=True)
    noise = torch.randn(200_000, 1, dtype=torch.float64, generator=generator)
    z = vae.reparameterize(mean.expand(len(noise), 1), log_var.expand(len(noise), 1), noise)
    z.square().mean().backward()  # E[z^2] = mu^2 + exp(log_var)
    assert mean.grad.item() == pytest.approx(2 * 0.7, abs=0.02)
    assert log_var.grad.item() == pytest.approx(math.exp(0.5), abs=0.03)


def test_elbo_terms_and_loss(generator):
    torch.manual_seed(0)
    model = DigitVAE(latent_dim=3, width=16)
    images = torch.rand(7, 1, 8, 8, generator=generator) * 2 - 1
    terms = vae.elbo_terms(model, images, 0.1, generator=torch.Generator().manual_seed(3))
    assert set(terms) == {"reconstruction", "kl", "elbo"}
    assert all(t.shape == (7,) for t in terms.values())
    torch.testing.assert_close(terms["elbo"], -(terms["reconstruction"] + terms["kl"]))
    again = vae.elbo_terms(model, images, 0.1, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(terms["elbo"], again["elbo"])  # seeded determinism
    loss = vae.vae_loss(0.1)(model, images)
    loss.backward()
    assert loss.ndim == 0 and all(p.grad is not None for p in model.parameters())


def test_networks_shapes():
    ae, model = DigitAutoencoder(latent_dim=2, width=16), DigitVAE(latent_dim=4, width=16)
    images = torch.zeros(5, 1, 8, 8)
    assert ae.encode(images).shape == (5, 2) and ae(images).shape == (5, 1, 8, 8)
    mean, log_var = model.encode(images)
    assert mean.shape == log_var.shape == (5, 4)
    assert model.decode(mean).shape == (5, 1, 8, 8)
    assert vae.sample(model, 6, torch.Generator().manual_seed(0)).shape == (6, 1, 8, 8)


def test_bad_inputs_name_the_argument():
    mean = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="log_var"):
        vae.kl_to_standard_normal(mean, torch.zeros(4, 3))
    with pytest.raises(TypeError, match="mean"):
        vae.kl_to_standard_normal([0.0], torch.zeros(1, 1))
    with pytest.raises(ValueError, match="decoder_var"):
        vae.gaussian_nll(torch.zeros(2, 3), torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="decoded"):
        vae.gaussian_nll(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
    with pytest.raises(ValueError, match="noise"):
        vae.reparameterize(mean, mean, torch.zeros(4, 5))
    with pytest.raises(ValueError, match="beta"):
        vae.vae_loss(0.1, beta=-1.0)
    with pytest.raises(ValueError, match="n"):
        vae.sample(DigitVAE(2, 8), 0)


def test_trained_digit_vae_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))
    monkeypatch.setitem(vae.DIGIT_VAE_RECIPE, "steps", 3)
    state = torch.get_rng_state()
    model, info = vae.trained_digit_vae(progress=False)
    assert info["trained_now"] and info["steps"] == 3
    assert torch.equal(torch.get_rng_state(), state)  # the caller's random state is untouched
    (tmp_path / "models").rename(tmp_path / "elsewhere")
    torch.manual_seed(123)  # a different caller state trains the same model
    retrained, _ = vae.trained_digit_vae(progress=False)
    for p, q in zip(model.state_dict().values(), retrained.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q)
    again, info_again = vae.trained_digit_vae(progress=False)
    assert not info_again["trained_now"]
    for p, q in zip(model.state_dict().values(), again.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q)


def test_beta_of_the_notes_loss_is_one_over_2c(generator):
    """|x - f|^2 + KL = 2c (|x - f|^2 / (2c) + beta KL) with beta = 1 / (2c): checked in float64."""
    beta = sp.lambdify(derive.c, derive.gaussian_decoder_likelihood()["beta_of_note_loss"])
    assert beta(0.1) == pytest.approx(5.0) and beta(0.5) == pytest.approx(1.0)
    x, f = torch.randn(2, 20, 64, dtype=torch.float64, generator=generator)
    kl = torch.rand(20, dtype=torch.float64, generator=generator)
    for c in (0.1, 0.3, 2.0):
        error = (x - f).square().sum(1)
        nll = vae.gaussian_nll(x, f, c) - 32 * math.log(2 * math.pi * c)  # minus the constant: |x - f|^2 / (2c)
        torch.testing.assert_close(error + kl, 2 * c * (nll + beta(c) * kl))
