"""The digit U-Net of diffusion_edu.nets.unet, stage by stage, with the tensor shape at each stage.

The shapes are not typed in: a dummy forward pass through a real ``UNet`` records what each stage
receives and returns, so the diagram cannot disagree with the code."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from diffusion_edu.nets.unet import UNet

# stage -> (column, row): the encoder goes down on the left, the decoder up on the right
LAYOUT: dict[str, tuple[float, float]] = {
    "input": (0.0, 3.0), "down_1": (1.0, 3.0), "down_2": (2.0, 2.0), "mid_1": (3.0, 1.0), "mid_2": (4.0, 1.0),
    "up_2": (5.0, 2.0), "up_1": (6.0, 3.0), "output": (7.0, 3.0)}
WHAT = {"input": "3x3 conv", "down_1": "ResBlock", "down_2": "avg-pool 2\n+ ResBlock",
        "mid_1": "avg-pool 2\n+ ResBlock", "mid_2": "ResBlock", "up_2": "upsample 2, concat\n+ ResBlock",
        "up_1": "upsample 2, concat\n+ ResBlock",
        "output": "GroupNorm, SiLU,\n3x3 conv"}
SKIPS = (("down_1", "up_1"), ("down_2", "up_2"))


def stage_shapes(channels: int = 16, in_channels: int = 1, size: int = 8) -> dict[str, tuple[tuple[int, ...], ...]]:
    """For each stage of ``UNet(in_channels, channels)``: (input shape, output shape) of one image,
    recorded by hooks during a forward pass."""
    net = UNet(in_channels=in_channels, channels=channels)
    shapes: dict[str, tuple[tuple[int, ...], ...]] = {}

    def record(name: str):  # noqa: ANN202
        def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            shapes[name] = (tuple(inputs[0].shape[1:]), tuple(output.shape[1:]))
        return hook

    hooks = [getattr(net, name).register_forward_hook(record(name)) for name in LAYOUT]
    with torch.no_grad():
        net(torch.zeros(1, in_channels, size, size), torch.zeros(1, dtype=torch.long))
    for hook in hooks:
        hook.remove()
    return shapes


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def draw(channels: int = 16, in_channels: int = 1) -> Figure:
    """The U: boxes for the stages with their output shapes (C x H x W, one image), skip connections
    as dashed arrows with the concatenated input shape, and the time embedding feeding every ResBlock."""
    shapes = stage_shapes(channels, in_channels)
    fig, ax = plt.subplots(figsize=(11, 4.4))
    ax.set_xlim(-0.6, 7.6)
    ax.set_ylim(-0.05, 4.1)
    ax.axis("off")
    w, h = 0.82, 0.62
    for name, (col, row) in LAYOUT.items():
        resolution = shapes[name][1][-1]
        colour = {8: "#e8f3eb", 4: "#eef2f7", 2: "#f6f0e4"}.get(resolution, "#ffffff")
        ax.add_patch(FancyBboxPatch((col - w / 2, row - h / 2), w, h, boxstyle="round,pad=0.02", facecolor=colour,
                                    edgecolor="#345"))
        ax.text(col, row + 0.12, name, ha="center", va="center", fontsize=9, family="monospace", weight="bold")
        ax.text(col, row - 0.13, _shape(shapes[name][1]), ha="center", va="center", fontsize=9)
        ax.text(col, row - h / 2 - 0.05, WHAT[name], ha="center", va="top", fontsize=7, color="#555")
    names = list(LAYOUT)
    for a, b in zip(names[:-1], names[1:], strict=True):
        (xa, ya), (xb, yb) = LAYOUT[a], LAYOUT[b]
        ax.add_patch(FancyArrowPatch((xa + w / 2, ya), (xb - w / 2, yb), arrowstyle="-|>", mutation_scale=12,
                                     color="#345", lw=1.2))
    for a, b in SKIPS:
        (xa, ya), (xb, yb) = LAYOUT[a], LAYOUT[b]
        ax.add_patch(FancyArrowPatch((xa, ya + h / 2), (xb, yb + h / 2), arrowstyle="-|>", mutation_scale=12,
                                     connectionstyle="arc3,rad=-0.25", color="#c0392b", lw=1.2, ls="--"))
        ax.text((xa + xb) / 2, ya + h / 2 + 0.33 + 0.1 * (xb - xa), f"skip: concatenated → {_shape(shapes[b][0])}",
                ha="center", fontsize=8, color="#c0392b")
    ax.text(0.0, 3.95, f"input {_shape((in_channels, 8, 8))}", ha="center", fontsize=9)
    ax.text(7.0, 3.95, f"predicted noise {_shape(shapes['output'][1])}", ha="center", fontsize=9)
    ax.text(3.5, 0.05, f"time $t$ → sinusoidal embedding → MLP ({4 * channels} features) → a per-channel shift "
            "inside every ResBlock", ha="center", fontsize=9, color="#1f6f9f")
    return fig
