"""A Diffusion Transformer (DiT, Peebles & Xie 2023) for small images, class-conditional with a
null label for classifier-free guidance: (x_t (N, C, H, W), t (N,), labels (N,)) -> eps (N, C, H, W).

Pipeline: patchify -> linear patch embedding + fixed 2-D sin-cos positions -> DiT blocks with
adaLN-Zero conditioning on c = embed(t) + embed(y) -> final adaLN layer -> unpatchify.
Every block's residual branches are gated by a gate computed from c by a zero-initialised linear
layer, so a fresh model is the identity in every block and outputs 0 (DiT section 3.2).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_edu.core.checks import check_int, check_ndim, check_number, check_sizes
from diffusion_edu.nets.embeddings import TimestepEmbedding


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, T, p*p*C) tokens, T = (H/p)(W/p), row-major over patches; each token lists
    its patch's pixels in (row, column, channel) order. A pure reshape: nothing is lost."""
    check_ndim("images", images, 4)
    check_int("patch_size", patch_size)
    n, c, h, w = images.shape
    if h % patch_size or w % patch_size:
        raise ValueError(f"patch_size: expected a divisor of the image size {h}x{w}, got {patch_size}")
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p)  # (N, C, H/p, p, W/p, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (N, H/p, W/p, p, p, C)
    return x.reshape(n, (h // p) * (w // p), p * p * c)  # (N, T, p^2 C)


def unpatchify(tokens: torch.Tensor, patch_size: int, channels: int, height: int, width: int) -> torch.Tensor:
    """The inverse of :func:`patchify`: (N, T, p*p*C) -> (N, C, H, W)."""
    check_ndim("tokens", tokens, 3)
    p = patch_size
    n, t, d = tokens.shape
    if t != (height // p) * (width // p) or d != p * p * channels:
        raise ValueError(f"tokens: expected shape (N, {(height // p) * (width // p)}, {p * p * channels}), "
                         f"got {tuple(tokens.shape)}")
    x = tokens.reshape(n, height // p, width // p, p, p, channels)  # (N, H/p, W/p, p, p, C)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (N, C, H/p, p, W/p, p)
    return x.reshape(n, channels, height, width)


def sincos_1d(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer positions (Vaswani et al. 2017): (P,) -> (P, dim), [sin(w_k pos), cos(w_k pos)],
    w_k = 10000^(-k / (dim/2))."""
    if dim % 2:
        raise ValueError(f"dim: expected an even number, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))  # (dim/2,)
    angles = positions.double()[:, None] * omega[None]  # (P, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_2d(grid_size: int, dim: int) -> torch.Tensor:
    """DiT's fixed 2-D positional embedding: half the channels encode the row, half the column.
    (grid_size^2, dim), in patchify's row-major token order."""
    check_int("grid_size", grid_size)
    if dim % 4:
        raise ValueError(f"dim: expected a multiple of 4, got {dim}")
    rows, cols = torch.meshgrid(torch.arange(grid_size), torch.arange(grid_size), indexing="ij")
    emb = torch.cat([sincos_1d(rows.flatten(), dim // 2), sincos_1d(cols.flatten(), dim // 2)], dim=1)
    return emb.float()  # (T, D)


def _check_mlp_ratio(dim: int, mlp_ratio: float) -> None:
    check_number("mlp_ratio", mlp_ratio, low=0.0, low_open=True)
    if int(dim * mlp_ratio) < 1:
        raise ValueError(f"mlp_ratio: expected a ratio giving at least one hidden unit at dim = {dim}, got {mlp_ratio}")


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x (N, T, D) * (1 + scale) + shift, with (N, D) shift and scale from the conditioning."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class Attention(nn.Module):
    """Multi-head self-attention: softmax(Q K^T / sqrt(d)) V over the tokens."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        check_sizes(dim=dim, heads=heads)
        if dim % heads:
            raise ValueError(f"heads: expected a divisor of dim = {dim}, got {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        qkv = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (3, N, h, T, d/h)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (N, h, T, d/h)
        return self.proj(out.transpose(1, 2).reshape(n, t, d))  # (N, T, D)


class DiTBlock(nn.Module):
    """adaLN-Zero block: (shift, scale, gate) x 2 = SiLU -> Linear(c) (zero-initialised), then
    x = x + gate_1 * Attn(modulate(LN(x), shift_1, scale_1)); x = x + gate_2 * MLP(modulate(LN(x), ...))."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        check_sizes(dim=dim, heads=heads)
        _check_mlp_ratio(dim, mlp_ratio)
        hidden = int(dim * mlp_ratio)
        self.norm_1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm_2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        nn.init.zeros_(self.adaLN_modulation[-1].weight)  # adaLN-Zero: every gate starts at 0,
        nn.init.zeros_(self.adaLN_modulation[-1].bias)  # so the block starts as the identity

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_1, scale_1, gate_1, shift_2, scale_2, gate_2 = self.adaLN_modulation(c).chunk(6, dim=1)  # 6 x (N, D)
        x = x + gate_1[:, None, :] * self.attn(modulate(self.norm_1(x), shift_1, scale_1))  # (N, T, D)
        x = x + gate_2[:, None, :] * self.mlp(modulate(self.norm_2(x), shift_2, scale_2))  # (N, T, D)
        return x


class FinalLayer(nn.Module):
    """adaLN (shift, scale) then a zero-initialised linear map to the p*p*C pixels of each patch."""

    def __init__(self, dim: int, patch_dim: int) -> None:
        super().__init__()
        check_sizes(dim=dim, patch_dim=patch_dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.linear = nn.Linear(dim, patch_dim)
        for layer in (self.adaLN_modulation[-1], self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)  # 2 x (N, D)
        return self.linear(modulate(self.norm(x), shift, scale))  # (N, T, p^2 C)


class DiT(nn.Module):
    """A class-conditional DiT. ``num_classes`` > 0 adds a label embedding with the extra null index
    ``num_classes`` (classifier-free guidance); ``labels=None`` means the null label."""

    def __init__(self, image_size: int = 8, in_channels: int = 1, patch_size: int = 2, dim: int = 64,
                 depth: int = 4, heads: int = 4, mlp_ratio: float = 4.0, num_classes: int = 10) -> None:
        super().__init__()
        check_sizes(image_size=image_size, in_channels=in_channels, patch_size=patch_size, dim=dim, heads=heads)
        check_sizes(0, depth=depth, num_classes=num_classes)
        _check_mlp_ratio(dim, mlp_ratio)
        if dim % 4:
            raise ValueError(f"dim: expected a multiple of 4 (the 2-D sin-cos positions), got {dim}")
        if image_size % patch_size:
            raise ValueError(f"patch_size: expected a divisor of image_size = {image_size}, got {patch_size}")
        self.image_size, self.in_channels, self.patch_size = image_size, in_channels, patch_size
        self.dim, self.depth, self.heads, self.mlp_ratio, self.num_classes = dim, depth, heads, mlp_ratio, num_classes
        patch_dim = patch_size * patch_size * in_channels
        self.grid_size = image_size // patch_size
        self.patch_embed = nn.Linear(patch_dim, dim)  # DiT's conv with kernel = stride = p is this linear map
        self.register_buffer("pos_embed", sincos_2d(self.grid_size, dim)[None], persistent=False)  # (1, T, D)
        self.time_embedding = TimestepEmbedding(dim)
        self.label_embedding = nn.Embedding(num_classes + 1, dim) if num_classes > 0 else None
        self.blocks = nn.ModuleList(DiTBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.final = FinalLayer(dim, patch_dim)
        if self.label_embedding is not None:
            nn.init.normal_(self.label_embedding.weight, std=0.02)

    @property
    def num_tokens(self) -> int:
        return self.grid_size**2

    def conditioning(self, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        c = self.time_embedding(t)  # (N, D)
        if self.label_embedding is not None:
            if labels is None:
                labels = torch.full((t.shape[0],), self.num_classes, dtype=torch.long, device=t.device)
            c = c + self.label_embedding(labels)
        return c

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_ndim("x", x, 4)
        tokens = self.patch_embed(patchify(x, self.patch_size)) + self.pos_embed  # (N, T, D)
        c = self.conditioning(t, labels)  # (N, D)
        for block in self.blocks:
            tokens = block(tokens, c)  # (N, T, D)
        out = self.final(tokens, c)  # (N, T, p^2 C)
        return unpatchify(out, self.patch_size, self.in_channels, self.image_size, self.image_size)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def block_parameter_count(dim: int, mlp_ratio: float = 4.0) -> int:
    """Parameters of one :class:`DiTBlock`: attention 4D^2 + 4D, MLP 2 r D^2 + (r + 1) D, adaLN 6D^2 + 6D."""
    hidden = int(dim * mlp_ratio)
    return (4 * dim * dim + 4 * dim) + (2 * dim * hidden + hidden + dim) + (6 * dim * dim + 6 * dim)


__all__ = ["patchify", "unpatchify", "sincos_1d", "sincos_2d", "modulate", "DiTBlock", "FinalLayer", "DiT",
           "count_parameters", "block_parameter_count"]
