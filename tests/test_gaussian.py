"""Chapter 2: the SymPy derivations hold, and the torch functions compute exactly them."""

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import gaussian as derive
from diffusion_edu.derivations.latex import latex
from diffusion_edu.derivations.proof import Derivation, ProofError
from diffusion_edu.derivations.registry import builders
from diffusion_edu.nets.gaussian import FullGaussian
from diffusion_edu.probability import gaussian

# proved steps (chain links and claims) per derivation: each one a form a reader sees change
PROVED = {"normalisation_and_moments": 10, "standard_normal": 6, "affine_and_reparameterisation": 5,
          "sum_of_independent": 3, "one_step_variance": 3, "product_of_densities": 4, "maximum_likelihood": 7}


@pytest.mark.parametrize("name", sorted(PROVED))
def test_every_derivation_is_proved(name):
    derivation = getattr(derive, name)()
    assert derivation.n_proved == PROVED[name]


def test_every_builder_is_counted():
    assert set(builders(derive.__name__)) == {f"{derive.__name__}.{name}" for name in PROVED}


def test_a_false_step_fails():
    chain = Derivation("wrong").chain(derive.sigma_1**2 + derive.sigma_2**2, "the variance of a sum")
    with pytest.raises(ProofError, match="not proved"):
        chain.to(derive.sigma_1**2 * derive.sigma_2**2, "variances multiply")


def test_normal_displays_as_written_and_evaluates_to_the_density():
    shown = derive.Normal(derive.x, derive.mu, sp.sqrt(derive.sigma))
    assert latex(shown) == r"\mathcal{N}\left(x;\, \mu,\, \sigma\right)"
    assert sp.simplify(shown.doit() - derive.pdf(derive.x, derive.mu, sp.sqrt(derive.sigma))) == 0


def test_torch_matches_sympy(generator):
    product = derive.product_of_densities()
    args = (derive.mu_1, derive.var_1, derive.mu_2, derive.var_2)
    m1, m2 = torch.randn(2, 200, dtype=torch.float64, generator=generator)
    v1, v2 = torch.rand(2, 200, dtype=torch.float64, generator=generator) + 0.05
    mean, var, log_scale = gaussian.product_of_densities(m1, v1, m2, v2)
    values = [t.numpy() for t in (m1, v1, m2, v2)]
    for name, ours in [("product_mean", mean), ("product_var", var), ("product_log_scale", log_scale)]:
        np.testing.assert_allclose(ours.numpy(), sp.lambdify(args, product[name], "numpy")(*values), rtol=1e-12)
    pdf = sp.lambdify((derive.x, derive.mu, derive.sigma), derive.pdf(derive.x, derive.mu, derive.sigma), "numpy")
    x = 3 * torch.randn(200, dtype=torch.float64, generator=generator)
    np.testing.assert_allclose(gaussian.normal_log_pdf(x, m1, v1.sqrt()).exp().numpy(),
                               pdf(x.numpy(), m1.numpy(), v1.sqrt().numpy()), rtol=1e-12)


def test_mle_matches_sympy_and_gradient_descent(generator):
    x = torch.randn(400, 2, generator=generator, dtype=torch.float64) @ torch.tensor([[1.0, 0.3], [0.0, 0.5]],
                                                                                      dtype=torch.float64)
    mean, cov = gaussian.fit_mle(x)
    mle = derive.maximum_likelihood()
    first = x[:, 0]
    subs = {sp.Symbol("n", positive=True, integer=True): len(first), sp.Symbol("S_1", real=True): float(first.sum()),
            sp.Symbol("S_2", real=True): float(first.square().sum())}
    assert float(mle["mle_mean"].subs(subs)) == pytest.approx(float(mean[0]), rel=1e-9)
    assert float(mle["mle_var"].subs(subs)) == pytest.approx(float(cov[0, 0]), rel=1e-9)


def test_full_gaussian_log_prob(generator):
    model = FullGaussian(3)
    with torch.no_grad():
        model.mean.copy_(torch.randn(3, generator=generator))
        model.raw_tril.copy_(0.3 * torch.randn(3, 3, generator=generator))
    x = torch.randn(10, 3, generator=generator)
    reference = torch.distributions.MultivariateNormal(model.mean, scale_tril=model.scale_tril).log_prob(x)
    torch.testing.assert_close(model.log_prob(x), reference)


def test_bad_inputs():
    with pytest.raises(ValueError, match="std: expected a value > 0"):
        gaussian.normal_log_pdf(torch.zeros(3), 0.0, -1.0)
    with pytest.raises(ValueError, match="var_2: expected a value > 0"):
        gaussian.product_of_densities(0.0, 1.0, 0.0, 0.0)
    with pytest.raises(TypeError, match="noise: expected a torch.Tensor"):
        gaussian.reparameterize(0.0, 1.0, [0.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x: expected at least 2 rows"):
        gaussian.fit_mle(torch.zeros(1, 2))
