"""Cross-attention conditioning, Stable Diffusion's mechanism (Rombach et al. 2022, section 3.3) in
miniature: a latent denoiser whose tokens (queries) attend to the tokens of a text prompt (keys and
values). Here the prompt of label y is the English word for the digit, spelled in characters
("seven" -> s, e, v, e, n), so the network must *read* the prompt to know what to draw; the null
prompt (a single <null> token) is the unconditional model of classifier-free guidance.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from diffusion_edu.core.checks import check_ndim, check_sizes
from diffusion_edu.nets.dit import sincos_1d
from diffusion_edu.nets.embeddings import TimestepEmbedding

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
PAD, NULL = len(ALPHABET), len(ALPHABET) + 1  # token ids after the letters
PROMPT_LENGTH = max(len(word) for word in DIGIT_WORDS)


def tokenize(words: list[str] | tuple[str, ...]) -> torch.Tensor:
    """Character token ids (N, PROMPT_LENGTH), padded with PAD; the empty word is the null prompt.
    ``words`` is a list of words: ``tokenize(["seven"])``, never the bare string (which would be five prompts)."""
    if isinstance(words, str) or not isinstance(words, (list, tuple)):
        hint = f"; pass [{words!r}]" if isinstance(words, str) else ""
        raise TypeError(f"words: expected a list or tuple of words, got {type(words).__name__}{hint}")
    rows = []
    for word in words:
        if not isinstance(word, str):
            raise TypeError(f"words: expected each word to be a str, got {type(word).__name__}")
        if len(word) > PROMPT_LENGTH or any(ch not in ALPHABET for ch in word):
            raise ValueError(f"words: expected lower-case words of at most {PROMPT_LENGTH} letters, got {word!r}")
        ids = [ALPHABET.index(ch) for ch in word] if word else [NULL]
        rows.append(ids + [PAD] * (PROMPT_LENGTH - len(ids)))
    return torch.tensor(rows, dtype=torch.long)


class CrossAttention(nn.Module):
    """softmax(Q K^T / sqrt(d)) V with Q from the tokens x (N, T, D) and K, V from the context (N, M, D);
    ``mask`` (N, M) is True where a context token may be attended to."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        check_sizes(dim=dim, heads=heads)
        if dim % heads:
            raise ValueError(f"heads: expected a divisor of dim = {dim}, got {heads}")
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def attention_weights(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The softmax weights (N, heads, T, M): each row sums to 1 over the unmasked context tokens."""
        q, k = self._split(self.to_q(x)), self._split(self.to_k(context))  # (N, h, T, d), (N, h, M, d)
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (N, h, T, M)
        return scores.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, length, d = x.shape
        return x.reshape(n, length, self.heads, d // self.heads).transpose(1, 2)  # (N, h, L, d/h)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.to_q(x)), self._split(self.to_k(context)), self._split(self.to_v(context))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])  # (N, h, T, d/h)
        n, _, t, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(n, t, -1))  # (N, T, D)


class CrossAttentionBlock(nn.Module):
    """Pre-norm transformer block: self-attention, cross-attention to the prompt, MLP (each residual)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        check_sizes(dim=dim, heads=heads)
        if dim % heads:
            raise ValueError(f"heads: expected a divisor of dim = {dim}, got {heads}")
        self.norm_1, self.norm_2, self.norm_3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.cross_attn = CrossAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.self_attn(h, h, h, need_weights=False)[0]  # (N, T, D)
        x = x + self.cross_attn(self.norm_2(x), context, mask)  # (N, T, D): the prompt enters here only
        return x + self.mlp(self.norm_3(x))


class CrossAttentionDenoiser(nn.Module):
    """eps-prediction on a latent vector (N, L), conditioned on a digit's name by cross-attention only.

    The latent is split into ``num_tokens`` tokens; the timestep embedding is added to every token;
    ``labels`` (N,) in 0..9 select the prompts DIGIT_WORDS[y], label 10 the null prompt."""

    def __init__(self, latent_dim: int = 8, num_tokens: int = 4, dim: int = 64, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        check_sizes(latent_dim=latent_dim, num_tokens=num_tokens, dim=dim, heads=heads)
        check_sizes(0, depth=depth)
        if dim % 2:
            raise ValueError(f"dim: expected an even number (sin and cos positions come in pairs), got {dim}")
        if latent_dim % num_tokens:
            raise ValueError(f"num_tokens: expected a divisor of latent_dim = {latent_dim}, got {num_tokens}")
        self.latent_dim, self.num_tokens, self.dim, self.depth, self.heads = latent_dim, num_tokens, dim, depth, heads
        self.num_classes = len(DIGIT_WORDS)
        self.register_buffer("prompts", tokenize(list(DIGIT_WORDS) + [""]), persistent=False)  # (11, M)
        self.char_embedding = nn.Embedding(NULL + 1, dim)
        self.register_buffer("char_positions", sincos_1d(torch.arange(PROMPT_LENGTH), dim).float(), persistent=False)
        self.input = nn.Linear(latent_dim // num_tokens, dim)
        self.token_positions = nn.Parameter(torch.randn(num_tokens, dim) * 0.02)
        self.time_embedding = TimestepEmbedding(dim)
        self.blocks = nn.ModuleList(CrossAttentionBlock(dim, heads) for _ in range(depth))
        self.output = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, latent_dim // num_tokens))

    def encode_prompt(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (N, M, D), mask (N, M)) of the prompts of ``labels``."""
        ids = self.prompts[labels]  # (N, M)
        return self.char_embedding(ids) + self.char_positions, ids != PAD

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_ndim("x", x, 2)
        n = x.shape[0]
        if labels is None:
            labels = torch.full((n,), self.num_classes, dtype=torch.long, device=x.device)
        context, mask = self.encode_prompt(labels)
        tokens = self.input(x.reshape(n, self.num_tokens, -1)) + self.token_positions  # (N, T, D)
        tokens = tokens + self.time_embedding(t)[:, None, :]
        for block in self.blocks:
            tokens = block(tokens, context, mask)
        return self.output(tokens).reshape(n, self.latent_dim)  # (N, L)
