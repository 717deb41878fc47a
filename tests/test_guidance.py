import math

import numpy as np
import pytest
import sympy as sp
import torch

from diffusion_edu import data
from diffusion_edu.derivations import guidance as derive
from diffusion_edu.nets.noisy_classifier import NoisyDigitClassifier
from diffusion_edu.processes import ddim, ddpm, guidance
from diffusion_edu.processes.grids import sub_grid
from diffusion_edu.processes.schedules import linear_schedule


def test_derivations_prove_as_chains():
    built = derive.all_derivations()
    assert [d.title for d in built] == [b().title for b in (derive.bayes_on_scores, derive.sharpened_classifier,
                                                             derive.classifier_guided_mean, derive.guided_eps,
                                                             derive.classifier_free)]
    assert all(d.n_proved >= 2 for d in built)
    assert sum(d.n_proved for d in built) >= 30


def test_guided_eps_matches_sympy(generator):
    eps, g = torch.randn(2, 100, dtype=torch.float64, generator=generator)
    alpha_bar = torch.rand(100, dtype=torch.float64, generator=generator) * 0.98 + 0.01
    f = sp.lambdify((derive.eps, derive.alpha_bar, derive.g, derive.s), derive.guided_eps()["guided_eps"], "numpy")
    np.testing.assert_allclose(guidance.classifier_guided_eps(eps, alpha_bar, g, 2.0).numpy(),
                               f(eps.numpy(), alpha_bar.numpy(), g.numpy(), 2.0), rtol=1e-12)


def test_classifier_free_eps_matches_sympy(generator):
    eps_u, eps_c = torch.randn(2, 100, dtype=torch.float64, generator=generator)
    f = sp.lambdify((derive.eps_u, derive.eps_c, derive.w), derive.classifier_free()["eps_w"], "numpy")
    for w in (0.0, 1.0, 2.5):
        np.testing.assert_allclose(guidance.classifier_free_eps(eps_u, eps_c, w).numpy(),
                                   f(eps_u.numpy(), eps_c.numpy(), w), rtol=1e-12)
    torch.testing.assert_close(guidance.classifier_free_eps(eps_u, eps_c, 0.0), eps_u)
    torch.testing.assert_close(guidance.classifier_free_eps(eps_u, eps_c, 1.0), eps_c)


def test_classifier_guided_mean_and_eps_agree():
    """The eps-form shift, pushed through DDPM's mean, is the mean shift with Sigma = beta / sqrt(alpha) * ..."""
    eps, g = torch.randn(2, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    alpha_bar, scale = 0.3, 2.0
    guided = guidance.classifier_guided_eps(eps, alpha_bar, g, scale)
    torch.testing.assert_close(guided, eps - scale * math.sqrt(1 - alpha_bar) * g)
    mean = torch.zeros(50, dtype=torch.float64)
    torch.testing.assert_close(guidance.classifier_guided_mean(mean, 0.5, g, scale), scale * 0.5 * g)


def _labelled_ring():
    mixture = data.eight_gaussians()
    return mixture, torch.arange(8) % 2  # class 0: even components, class 1: odd


def test_bayes_on_scores_with_the_exact_mixture(generator):
    mixture, classes = _labelled_ring()
    schedule = linear_schedule(1000)
    x = torch.randn(64, 2, generator=generator) * 2
    t = torch.full((64,), 300)
    ab = schedule.alpha_bar[t].float()
    classifier = guidance.exact_classifier(mixture, classes, schedule)
    grad = guidance.classifier_log_prob_grad(classifier, x, t, torch.ones(64, dtype=torch.long))
    conditional = guidance.class_mixture(mixture, classes, 1)
    lhs = conditional.score(x, ab.sqrt(), (1 - ab).sqrt())
    rhs = mixture.score(x, ab.sqrt(), (1 - ab).sqrt()) + grad
    torch.testing.assert_close(lhs, rhs, rtol=1e-4, atol=1e-4)


def test_guidance_scale_one_with_exact_classifier_is_the_conditional_model(generator):
    mixture, classes = _labelled_ring()
    schedule = linear_schedule(1000)
    labels = torch.zeros(32, dtype=torch.long)
    guided = guidance.classifier_guided_model(ddpm.exact_eps_model(mixture, schedule),
                                              guidance.exact_classifier(mixture, classes, schedule),
                                              labels, schedule, 1.0)
    exact = ddpm.exact_eps_model(guidance.class_mixture(mixture, classes, 0), schedule)
    x = torch.randn(32, 2, generator=generator)
    t = torch.full((32,), 500)
    torch.testing.assert_close(guided(x, t), exact(x, t), rtol=1e-4, atol=1e-4)


def test_classifier_free_model_batches_cond_and_null():
    calls = []

    def model(x, t, y):
        calls.append(y.clone())
        return x * 0 + y[:, None].float()

    labels = torch.tensor([3, 4])
    out = guidance.classifier_free_model(model, labels, 2.0, null_label=10)(torch.zeros(2, 1), torch.zeros(2).long())
    assert calls[-1].tolist() == [3, 4, 10, 10]
    torch.testing.assert_close(out, (10 + 2 * (labels - 10)).float()[:, None])
    guidance.classifier_free_model(model, labels, 1.0, 10)(torch.zeros(2, 1), torch.zeros(2).long())
    assert calls[-1].tolist() == [3, 4]  # w = 1 needs no null pass


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="w"):
        guidance.classifier_free_eps(torch.zeros(2), torch.zeros(2), -1.0)
    with pytest.raises(TypeError, match="scale"):
        guidance.classifier_guided_eps(torch.zeros(2), 0.5, torch.zeros(2), "big")
    with pytest.raises(ValueError, match="eps_cond"):
        guidance.classifier_free_eps(torch.zeros(2), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="labels"):
        guidance.conditioned(lambda x, t, y: x, torch.zeros(3).long())(torch.zeros(2, 1), torch.zeros(2).long())
    with pytest.raises(ValueError, match="label"):
        guidance.class_mixture(data.eight_gaussians(), torch.arange(8) % 2, 5)


def test_noisy_classifier_gradient_is_seeded_and_shaped():
    torch.manual_seed(0)
    clf = NoisyDigitClassifier(channels=8)
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0, 10, 500, 999])
    with torch.no_grad():
        g1 = guidance.classifier_log_prob_grad(clf, x, t, torch.tensor([1, 2, 3, 4]))
        g2 = guidance.classifier_log_prob_grad(clf, x, t, torch.tensor([1, 2, 3, 4]))
    assert g1.shape == x.shape and torch.equal(g1, g2) and g1.abs().sum() > 0


def test_guided_ddim_on_the_ring_lands_in_the_class(generator):
    mixture, classes = _labelled_ring()
    schedule = linear_schedule(1000)
    labels = torch.ones(200, dtype=torch.long)
    eps_model = guidance.classifier_guided_model(ddpm.exact_eps_model(mixture, schedule),
                                                 guidance.exact_classifier(mixture, classes, schedule),
                                                 labels, schedule, 1.0)
    out = ddim.ddim_sample(eps_model, torch.randn(200, 2, generator=generator), sub_grid(1000, 20),
                           schedule=schedule)
    nearest = torch.cdist(out, mixture.means).argmin(1)
    assert (classes[nearest] == 1).float().mean() > 0.97
