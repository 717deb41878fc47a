"""Two real processes cache the same model at the same moment: neither crashes and the file loads."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from diffusion_edu.core import runtime
from diffusion_edu.training.loop import load_checkpoint

WRITER = textwrap.dedent("""
    import sys, time
    import torch
    from torch import nn
    from diffusion_edu.training.loop import cached_model, train

    class Tiny(nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.width = width
            self.net = nn.Linear(2, width)

        def forward(self, x):
            return self.net(x)

    start_at = float(sys.argv[1])
    while time.time() < start_at:  # both writers leave the barrier together
        time.sleep(0.005)

    def fit(model):
        return train(model, lambda m, b: m(b).square().mean(), lambda s: torch.randn(8, 2), 20, progress=False)

    for _ in range(5):  # several rounds, each racing for the same key
        model, info = cached_model("race", Tiny, {"width": 4}, fit, {"seed": 0})
    print("ok", info["trained_now"])
""")


def test_two_processes_writing_the_same_key(tmp_path):
    import time

    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", runtime.THREADS_ENV: "1", runtime.CACHE_ENV: str(tmp_path / "cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop(runtime.DEVICE_ENV, None)
    start_at = f"{time.time() + 4.0}"  # room for both interpreters to import torch
    writers = [subprocess.Popen([sys.executable, str(script), start_at], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert out.startswith("ok")
    files = list((tmp_path / "cache" / "models").iterdir())
    assert [f.suffix for f in files] == [".pt"]  # one valid file, no temporary left behind

    class Tiny(torch.nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.width = width
            self.net = torch.nn.Linear(2, width)

    model, payload = load_checkpoint(files[0], Tiny)
    assert model.width == 4 and payload["config"] == {"width": 4}
