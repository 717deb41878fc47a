import pytest
import torch
from torch import nn

from diffusion_edu.training.loop import EMA, NonFiniteLossError, load_checkpoint, save_checkpoint, train


class Tiny(nn.Module):
    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)


def regression_batches(generator):
    def batch(_step):
        x = torch.randn(64, 2, generator=generator)
        return x, x[:, :1] - 2 * x[:, 1:]
    return batch


def mse(model, batch):
    x, y = batch
    return (model(x) - y).square().mean()


def test_training_reduces_loss_and_tracks_ema(generator):
    torch.manual_seed(0)
    result = train(Tiny(), mse, regression_batches(generator), steps=300, lr=1e-2, progress=False)
    assert result.steps == 300 and len(result.losses) == 300
    assert sum(result.losses[-20:]) / 20 < 0.2 * sum(result.losses[:20]) / 20
    x, y = regression_batches(generator)(0)
    assert mse(result.ema_model, (x, y)) < 0.5 * mse(Tiny(), (x, y))
    assert not any(p.requires_grad for p in result.ema_model.parameters())


def test_training_is_deterministic(generator):
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(1)
        losses.append(train(Tiny(), mse, regression_batches(g), steps=20, progress=False).losses)
    assert losses[0] == losses[1]


def test_non_finite_loss_names_the_step(generator):
    def exploding(model, batch):
        loss = mse(model, batch)
        return loss * float("nan") if exploding.calls == 3 else loss

    def counting(model, batch):
        exploding.calls += 1
        return exploding(model, batch)

    exploding.calls = -1
    with pytest.raises(NonFiniteLossError, match="at step 3"):
        train(Tiny(), counting, regression_batches(generator), steps=10, progress=False)


def test_bad_arguments(generator):
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        train(lambda x: x, mse, regression_batches(generator), steps=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        train(Tiny(), mse, regression_batches(generator), steps=0)
    with pytest.raises(ValueError, match="lr: expected a value > 0"):
        train(Tiny(), mse, regression_batches(generator), steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="decay"):
        EMA(Tiny(), decay=1.5)


def test_accepts_an_iterator(generator):
    batches = iter([regression_batches(generator)(i) for i in range(5)])
    assert train(Tiny(), mse, batches, steps=5, progress=False).steps == 5


def test_max_seconds_stops_early(generator):
    result = train(Tiny(), mse, regression_batches(generator), steps=10**6, max_seconds=0.2, progress=False)
    assert 0 < result.steps < 10**6


def test_checkpoint_round_trip(tmp_path, generator):
    model = Tiny(hidden=5)
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, model, {"hidden": 5}, steps=12)
    loaded, payload = load_checkpoint(path, Tiny)
    assert payload["steps"] == 12 and loaded.hidden == 5
    x = torch.randn(3, 2, generator=generator)
    assert torch.equal(loaded(x), model(x))
    with pytest.raises(ValueError, match="model_class: expected Tiny"):
        load_checkpoint(path, nn.Linear)


def test_cached_model_trains_once(tmp_path, monkeypatch, generator):
    from diffusion_edu.training.loop import cached_model

    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))
    calls = []

    def fit(model):
        calls.append(1)
        return train(model, mse, regression_batches(generator), steps=5, progress=False)

    first, info = cached_model("tiny", Tiny, {"hidden": 4}, fit)
    again, info_again = cached_model("tiny", Tiny, {"hidden": 4}, fit)
    assert len(calls) == 1 and info["trained_now"] and not info_again["trained_now"]
    x = torch.randn(3, 2, generator=generator)
    assert torch.equal(first(x), again(x))
    cached_model("tiny", Tiny, {"hidden": 6}, fit)  # another config is another file
    assert len(calls) == 2
    for path in (tmp_path / "models").iterdir():
        path.write_bytes(b"corrupt")
    cached_model("tiny", Tiny, {"hidden": 4}, fit)  # a corrupt file is retrained, not an error
    assert len(calls) == 3


def test_cached_model_is_seeded_and_leaves_the_callers_random_state(tmp_path, monkeypatch):
    """The weights come from the recipe's seed, not from whatever ran before, and training inside
    cached_model does not move the caller's generator: trained-now and loaded runs continue identically."""
    from diffusion_edu.training.loop import cached_model

    monkeypatch.setenv("DIFFUSION_EDU_CACHE", str(tmp_path))

    def fit(model):
        return train(model, mse, regression_batches(torch.Generator().manual_seed(0)), steps=3, progress=False)

    torch.manual_seed(123)
    first, _ = cached_model("seeded", Tiny, {"hidden": 4}, fit, {"seed": 7})
    after_training = torch.rand(3)
    torch.manual_seed(123)
    cached_model("seeded", Tiny, {"hidden": 4}, fit, {"seed": 7})  # loaded this time
    assert torch.equal(torch.rand(3), after_training)
    for path in (tmp_path / "models").iterdir():
        path.unlink()
    torch.manual_seed(999)  # another caller state: the same weights
    second, info = cached_model("seeded", Tiny, {"hidden": 4}, fit, {"seed": 7})
    assert info["trained_now"]
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
