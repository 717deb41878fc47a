"""Chapter 19's recipe: the class-conditional rectified flow on 28x28 MNIST trains and caches (a few steps in a
temporary cache), its sampler gives digits of the right shape and range, the clipped velocity keeps the data
estimate in the pixel range, the label-dropout loss drops labels, and every input error names its argument."""

from __future__ import annotations

import pytest
import torch

from diffusion_edu.nets.velocity import FlowUNet
from diffusion_edu.processes.guidance import NULL_LABEL
from diffusion_edu.recipes.mnist import clipped_velocity, label_dropout_flow_loss, mnist_flow_unet, mnist_sample


def test_recipe_trains_caches_and_samples(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))
    monkeypatch.setenv("DIFFUSION_EDU_BUDGET", "cpu")
    model, info = mnist_flow_unet(cpu_steps=3, channels=8, progress=False)
    assert info["trained_now"] and info["steps"] == 3
    assert isinstance(model, FlowUNet) and model.num_classes == 10
    again, info_again = mnist_flow_unet(cpu_steps=3, channels=8, progress=False)
    assert not info_again["trained_now"]
    labels = torch.arange(10)
    for w in (0.0, 1.0, 2.5):
        first = mnist_sample(model, labels, w=w, n_steps=2, generator=torch.Generator().manual_seed(0))
        second = mnist_sample(again, labels, w=w, n_steps=2, generator=torch.Generator().manual_seed(0))
        assert first.shape == (10, 1, 28, 28) and first.abs().max() <= 1.0
        assert torch.equal(first, second)  # the cached model is the trained one


def test_clipped_velocity_keeps_the_data_estimate_in_range() -> None:
    x = 3 * torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([1.0, 0.8, 0.5, 0.3, 0.1, 0.0])
    wild = clipped_velocity(lambda y, s: -5 * y)
    v = wild(x, t)
    x0 = x[:5] - t[:5, None, None, None] * v[:5]
    assert x0.abs().max() <= 1.0 + 1e-5
    torch.testing.assert_close(v[5], -5 * x[5])  # t = 0: the model's own velocity
    tame = clipped_velocity(lambda y, s: 0.1 * y)  # data estimates (1 - 0.1 t) x inside the range: unchanged
    small = 0.5 * torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(tame(small, t), 0.1 * small)


def test_label_dropout_flow_loss_drops_labels() -> None:
    seen = []

    def model(x, t, labels):
        seen.append(labels.clone())
        return torch.zeros_like(x)

    x0, labels = torch.zeros(2000, 1, 2, 2), torch.full((2000,), 3)
    loss = label_dropout_flow_loss(model, x0, labels, p=0.25, generator=torch.Generator().manual_seed(0))
    dropped = float((seen[0] == NULL_LABEL).float().mean())
    assert 0.2 < dropped < 0.3 and set(seen[0].tolist()) == {3, NULL_LABEL}
    assert 0.9 < float(loss) < 1.1  # target eps - x_0 = eps, prediction 0: the per-pixel mean of eps^2, 1
    label_dropout_flow_loss(model, x0, labels, p=0.0)
    assert (seen[-1] == 3).all()


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: mnist_flow_unet(cpu_steps=0), ValueError, "^cpu_steps"),
    (lambda: mnist_flow_unet(cpu_steps=1.5), TypeError, "^cpu_steps"),
    (lambda: mnist_flow_unet(channels=0), ValueError, "^channels"),
    (lambda: mnist_flow_unet(batch=0), ValueError, "^batch"),
    (lambda: mnist_flow_unet(lr=0.0), ValueError, "^lr"),
    (lambda: mnist_flow_unet(label_dropout=1.5), ValueError, "^label_dropout"),
    (lambda: mnist_flow_unet(seed=-1), ValueError, "^seed"),
    (lambda: mnist_sample(FlowUNet(1, 8, 10), torch.tensor([0.0, 1.0])), ValueError, "^labels"),
    (lambda: mnist_sample(FlowUNet(1, 8, 10), torch.tensor([0, 10])), ValueError, "^labels: expected classes 0-9"),
    (lambda: mnist_sample(FlowUNet(1, 8, 10), torch.tensor([0, 1]), n_steps=0), ValueError, "^n_steps"),
    (lambda: mnist_sample(FlowUNet(1, 8, 10), torch.tensor([0, 1]), w=-1.0), ValueError, "^w"),
    (lambda: clipped_velocity(lambda x, t: x, clip=0.0), ValueError, "^clip"),
    (lambda: label_dropout_flow_loss(lambda x, t, y: x, torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.long),
                                     p=2.0), ValueError, "^p"),
])
def test_input_errors_name_the_argument(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
