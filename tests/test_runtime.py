import os

import pytest
import torch

from diffusion_edu.core import runtime


def test_seed_everything_makes_draws_repeat():
    g1 = runtime.seed_everything(7)
    a, a_global = torch.randn(5, generator=g1), torch.randn(5)
    g2 = runtime.seed_everything(7)
    b, b_global = torch.randn(5, generator=g2), torch.randn(5)
    assert torch.equal(a, b) and torch.equal(a_global, b_global)


def test_seed_rejects_bad_input():
    with pytest.raises(ValueError, match="seed"):
        runtime.seed_everything(-1)
    with pytest.raises(TypeError, match="seed"):
        runtime.seed_everything(1.5)  # type: ignore[arg-type]


def test_budget_switch(monkeypatch):
    monkeypatch.setenv(runtime.BUDGET_ENV, "gpu")
    assert runtime.budget().name == "gpu"
    assert runtime.budget().steps(100) > runtime.budget("cpu").steps(100)
    monkeypatch.setenv(runtime.BUDGET_ENV, "cpu")
    assert runtime.budget().steps(100) == 100
    monkeypatch.setenv(runtime.BUDGET_ENV, "tpu")
    with pytest.raises(ValueError, match="expected one of"):
        runtime.budget()


def test_default_budget_follows_device(monkeypatch):
    monkeypatch.delenv(runtime.BUDGET_ENV, raising=False)
    assert runtime.budget().name == ("gpu" if torch.cuda.is_available() else "cpu")
    assert runtime.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_device_override(monkeypatch):
    monkeypatch.delenv(runtime.BUDGET_ENV, raising=False)
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    assert runtime.device() == torch.device("cpu") and runtime.budget().name == "cpu"
    monkeypatch.setenv(runtime.DEVICE_ENV, "meta")
    assert runtime.device().type == "meta" and runtime.budget().name == "cpu"  # only CUDA picks the GPU budget
    monkeypatch.setenv(runtime.DEVICE_ENV, "warp-drive")
    with pytest.raises(ValueError, match="DIFFUSION_EDU_DEVICE.*expected.*got 'warp-drive'"):
        runtime.device()


def test_set_threads():
    before = torch.get_num_threads()
    assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
    runtime.set_threads(before)
    with pytest.raises(ValueError, match="n"):
        runtime.set_threads(0)
    assert "device=" in runtime.describe()


def test_set_threads_reads_the_environment(monkeypatch):
    """$DIFFUSION_EDU_THREADS first, then $OMP_NUM_THREADS, then all cores (at most 8); a bad value names it."""
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert runtime.set_threads() == 1
        monkeypatch.setenv(runtime.THREADS_ENV, "2")
        assert runtime.set_threads() == 2
        monkeypatch.setenv(runtime.THREADS_ENV, "two")
        with pytest.raises(ValueError, match=r"\$DIFFUSION_EDU_THREADS: expected a whole number.*'two'"):
            runtime.set_threads()
        monkeypatch.delenv(runtime.THREADS_ENV)
        monkeypatch.setenv("OMP_NUM_THREADS", "0")
        with pytest.raises(ValueError, match=r"\$OMP_NUM_THREADS: expected"):
            runtime.set_threads()
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert runtime.set_threads() == min(os.cpu_count() or 1, 8)
    finally:
        torch.set_num_threads(before)
