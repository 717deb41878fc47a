"""Chapters 14-15: the DiT's bookkeeping (Peebles & Xie 2023) and latent diffusion's (Rombach et al.
2022), proved by SymPy.

- patchify: T = (H/p)(W/p) tokens of dimension p^2 C, T p^2 C = H W C (a reshape); note 000's
  32x32x4 latent with p = 2 gives 256 tokens of dimension 16; the book's 8x8x1 digits 16 of 4;
  halving p multiplies T by 4 and attention's T^2 cost by 16;
- sin-cos positions: the code of position q + k is a rotation of the code of q (relative offsets);
- adaLN-Zero: with the modulation's weights and bias 0, the gate is 0 and a block is the identity,
  yet the gate's gradient is not 0, so training moves it;
- the parameter count of one block, 18 D^2 + 15 D for an MLP ratio of 4;
- latent diffusion: compression factors (Stable Diffusion's f = 8 autoencoder: 48x fewer numbers);
  scaling latents of std sigma_z multiplies each level's SNR by sigma_z^2;
- cross-attention: its weights sum to 1 over the prompt, so with one context token its output does not
  depend on the query (a prompt needs several tokens for attention to choose among).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations.proof import Derivation

H, W, C, p, D, N = sp.symbols("H W C p D N", positive=True, integer=True)
q, k, omega = sp.symbols("q k omega", real=True)


def token_count() -> Derivation:
    d = Derivation("patchify: how many tokens, of what size")
    tokens = (H / p) * (W / p)
    patch_dim = p**2 * C
    d.equal("T = (H/p)(W/p)", tokens, H * W / p**2)
    d.equal("numbers kept: T p^2 C = H W C", tokens * patch_dim, H * W * C,
            note="patchify is a reshape: nothing is lost, nothing added")
    note_000 = {H: 32, W: 32, C: 4, p: 2}
    d.equal("note 000's latent 32x32x4, p = 2: T", tokens.subs(note_000), 256)
    d.equal("... each token has p^2 C numbers", patch_dim.subs(note_000), 16,
            note="then a linear map (DiT's PatchEmbed) takes each to D dimensions")
    digits = {H: 8, W: 8, C: 1, p: 2}
    d.equal("the book's 8x8x1 digits, p = 2: T", tokens.subs(digits), 16)
    d.equal("... token dimension", patch_dim.subs(digits), 4)
    d.equal("halving p: 4x the tokens", tokens.subs(p, p / 2) / tokens, 4)
    d.equal("... and 16x the attention matrix T^2", (tokens.subs(p, p / 2) / tokens) ** 2, 16,
            note="DiT's compute grows as p shrinks; its paper finds smaller p better at equal parameters")
    d.keep("tokens", tokens)
    d.keep("patch_dim", patch_dim)
    return d


def sincos_relative() -> Derivation:
    d = Derivation("sin-cos positions: a shift by k is a rotation")
    code_q = sp.Matrix([sp.sin(omega * q), sp.cos(omega * q)])
    rotation = sp.Matrix([[sp.cos(omega * k), sp.sin(omega * k)], [-sp.sin(omega * k), sp.cos(omega * k)]])
    shifted = sp.Matrix([sp.sin(omega * (q + k)), sp.cos(omega * (q + k))])
    for i, name in enumerate(("sin", "cos")):
        d.equal(f"{name}(omega (q + k)) = row {i + 1} of R(omega k) [sin, cos](omega q)",
                sp.expand_trig(shifted[i]), sp.expand((rotation * code_q)[i]),
                note="R depends on the offset k only" if i else "")
    d.equal("the code has unit norm per frequency", sp.simplify((code_q.T * code_q)[0]), 1)
    return d


def adaln_zero() -> Derivation:
    d = Derivation("adaLN-Zero: every block starts as the identity, and can still learn")
    x, f, c_, a, b = sp.symbols("x f c a b", real=True)  # token, branch output f(x), conditioning, weight, bias
    gate = a * c_ + b  # the gate is a linear function of the conditioning
    block = x + gate * f
    d.equal("zero-initialised a = b = 0: the block is the identity", block.subs({a: 0, b: 0}), x)
    d.equal("d block / d a at a = b = 0", sp.diff(block, a).subs({a: 0, b: 0}), c_ * f,
            note="not 0: the gate receives gradient, so training opens it")
    d.equal("d block / d f at a = b = 0", sp.diff(block, f).subs({a: 0, b: 0}), 0,
            note="the branch's own weights get no gradient until the gate opens (one step later)")
    shift, scale, h = sp.symbols("shift scale h", real=True)
    d.equal("modulate(h, shift=0, scale=0) = h", (h * (1 + scale) + shift).subs({shift: 0, scale: 0}), h,
            note="the shift and scale start at 0 too: plain LayerNorm")
    params = (4 * D**2 + 4 * D) + (2 * D * 4 * D + 4 * D + D) + (6 * D**2 + 6 * D)
    d.equal("parameters of one block (attention + MLP ratio 4 + adaLN)", params, 18 * D**2 + 15 * D,
            note="a third of them (6 D^2) produce the shift, scale and gate")
    d.equal("D = 64", (18 * D**2 + 15 * D).subs(D, 64), 74688)
    d.keep("block_params", 18 * D**2 + 15 * D)
    return d


def latent_compression() -> Derivation:
    d = Derivation("latent diffusion: how much smaller the space is, and why latents are scaled")
    f_down, c_latent = sp.symbols("f c_z", positive=True, integer=True)
    ratio = (H * W * C) / ((H / f_down) * (W / f_down) * c_latent)
    d.equal("numbers per image / numbers per latent", ratio, f_down**2 * C / c_latent)
    sd = {H: 512, W: 512, C: 3, f_down: 8, c_latent: 4}
    d.equal("Stable Diffusion: 512x512x3 -> 64x64x4 (f = 8)", ratio.subs(sd), 48)
    d.equal("the book: 8x8x1 -> an 8-D vector", sp.Integer(8 * 8 * 1) / 8, 8)
    alpha_bar, sigma_z = sp.symbols("alpha_bar sigma_z", positive=True)
    snr_unit = alpha_bar / (1 - alpha_bar)
    snr_raw = alpha_bar * sigma_z**2 / (1 - alpha_bar)  # signal sqrt(alpha_bar) z with Var z = sigma_z^2
    d.equal("unscaled latents: SNR_t multiplied by sigma_z^2", snr_raw / snr_unit, sigma_z**2,
            note="sigma_z = 5.5 (Stable Diffusion's autoencoder) would leave x_T far from pure noise; "
                 "hence z / sigma_z, SD's factor 0.18215 = 1 / 5.49")
    d.equal("after z / sigma_z the schedule is the pixel one", (snr_raw / snr_unit).subs(sigma_z, 1), 1)
    return d


def cross_attention_weights() -> Derivation:
    d = Derivation("cross-attention: weights sum to 1 over the prompt")
    s1, s2, s3, v1, v2, v3 = sp.symbols("s_1 s_2 s_3 v_1 v_2 v_3", real=True)  # scores q.k_j / sqrt(d), values
    scores = [s1, s2, s3]
    weights = [sp.exp(s) / sum(sp.exp(t) for t in scores) for s in scores]
    d.equal("softmax weights sum to 1", sum(weights), 1)
    d.equal("one context token: the output is its value, whatever the query", sp.exp(s1) / sp.exp(s1) * v1, v1,
            note="attention chooses among tokens only when there are several: the prompt's characters here")
    d.equal("equal scores give the mean of the values", sum(wt * v for wt, v in zip(weights, [v1, v2, v3],
                                                                                      strict=True)).subs({s2: s1,
                                                                                                          s3: s1}),
            (v1 + v2 + v3) / 3)
    return d


def all_derivations() -> list[Derivation]:
    return [token_count(), sincos_relative(), adaln_zero(), latent_compression(), cross_attention_weights()]
