"""Chapters 14-15: the DiT's bookkeeping (Peebles & Xie 2023) and latent diffusion's (Rombach et al.
2022), proved by SymPy as chains.

- patchify: T = (H/p)(W/p) tokens of dimension p^2 C, T p^2 C = H W C (a reshape); note 000's
  32x32x4 latent with p = 2 gives 256 tokens of dimension 16; the book's 8x8x1 digits 16 of 4;
  halving p multiplies T by 4 and attention's T^2 cost by 16;
- sin-cos positions: the code of position q + k is a rotation of the code of q (relative offsets);
- adaLN-Zero: a block is x + gamma f(x); with the gate's weights and bias 0 it is the identity,
  yet the gate's gradient is not 0, so training moves it;
- the parameter count of one block, 18 D^2 + 15 D for an MLP ratio of 4;
- latent diffusion: compression factors (Stable Diffusion's f = 8 autoencoder: 48x fewer numbers);
  scaling latents of std sigma_z multiplies each level's SNR by sigma_z^2;
- cross-attention: its weights sum to 1 over the prompt whatever the query; with one context token
  its output does not depend on the query, with two it does (a prompt needs several tokens for
  attention to choose among).
"""

from __future__ import annotations

import sympy as sp

from diffusion_edu.derivations import registry
from diffusion_edu.derivations.forms import add, frac, held, mul, power, sqrt
from diffusion_edu.derivations.proof import Derivation
from diffusion_edu.derivations.registry import derivation

H, W, C, p, D, N = sp.symbols("H W C p D N", positive=True, integer=True)
q, k, omega = sp.symbols("q k omega", real=True)


class Shown(sp.Symbol):
    """A symbol whose LaTeX is its name, verbatim (``p^2 C``)."""

    def _latex(self, printer: object, exp: str | None = None) -> str:
        return f"{{{self.name}}}^{{{exp}}}" if exp else self.name


def _tokens(h: sp.Basic, w: sp.Basic, p_: sp.Basic) -> sp.Expr:
    return mul(frac(h, p_), frac(w, p_))


@derivation
def token_count() -> Derivation:
    d = Derivation("patchify: how many tokens, of what size")
    T = sp.Symbol("T", positive=True)
    count = d.chain(_tokens(H, W, p), r"An $H \times W$ image cut into $p \times p$ patches has", name=T)
    count.to(frac(mul(H, W), power(p, 2)), "multiply the fractions")
    kept = d.chain(mul(held(frac(mul(H, W), power(p, 2))), power(p, 2), C),
                   r"Each token holds $p^2 C$ numbers, so the tokens hold $T\,p^2 C$:")
    kept.to(mul(H, W, C), r"the $p^2$ cancels: patchify is a reshape, nothing is lost and nothing added")
    for what, side, channels, then in (("Note 000's latent", 32, 4, "; then a linear map (DiT's PatchEmbed) "
                                         "takes each to $D$ dimensions"), ("The book's digits", 8, 1, "")):
        values = {H: side, W: side, C: channels, p: 2}
        count = d.chain(_tokens(H, W, p), f"{what}, $H = W = {side}$, $C = {channels}$, $p = 2$:", name=T)
        count.to(_tokens(side, side, 2), f"insert $H = W = {side}$, $p = 2$", using=values)
        count.to(mul(side // 2, side // 2), "divide")
        count.to(sp.Integer((side // 2) ** 2), f"multiply: {(side // 2) ** 2} tokens")
        dim = d.chain(mul(power(p, 2), C), "each of them with", name=Shown(r"p^2 C"))
        dim.to(mul(power(2, 2), channels), f"insert $p = 2$, $C = {channels}$", using=values)
        dim.to(sp.Integer(4 * channels), f"numbers{then}")
    halved = frac(_tokens(H, W, frac(p, 2)), _tokens(H, W, p))
    half = d.chain(halved, r"Halving the patch size $p$:", name=sp.Symbol(r"T_{p/2} / T_p"))
    half.to(frac(mul(frac(mul(2, H), p), frac(mul(2, W), p)), _tokens(H, W, p)), r"dividing by $p/2$ doubles")
    half.to(sp.Integer(4), "4 times the tokens")
    attention = d.chain(power(held(halved), 2), r"and attention's matrix has $T^2$ entries:")
    attention.to(power(4, 2), "the ratio of the token counts, above")
    attention.to(sp.Integer(16), "16 times the attention cost: DiT's compute grows as $p$ shrinks")
    d.keep("tokens", (H / p) * (W / p))
    d.keep("patch_dim", p**2 * C)
    return d


@derivation
def sincos_relative() -> Derivation:
    d = Derivation(r"sin-cos positions: a shift by $k$ is a rotation")
    code_q = sp.Matrix([sp.sin(omega * q), sp.cos(omega * q)])
    rotation = sp.Matrix([[sp.cos(omega * k), sp.sin(omega * k)], [-sp.sin(omega * k), sp.cos(omega * k)]])
    shifted = sp.Matrix([sp.sin(omega * (q + k)), sp.cos(omega * (q + k))])
    c = d.chain(shifted, r"The code of position $q + k$ at frequency $\omega$:")
    c.to(sp.MatMul(sp.ImmutableMatrix(rotation), sp.ImmutableMatrix(code_q), evaluate=False),
         r"the angle-addition formulas: a rotation by $\omega k$ of the code of $q$, which depends on the offset "
         r"$k$ only", proof=lambda lhs, rhs: sp.simplify(sp.expand_trig(lhs.doit()) - rhs.doit()) == sp.zeros(2, 1))
    norm = d.chain(add(power(sp.sin(omega * q), 2), power(sp.cos(omega * q), 2)),
                   "Every position's code has the same length at each frequency:")
    norm.to(sp.Integer(1), r"$\sin^2 + \cos^2 = 1$")
    return d


@derivation
def adaln_zero() -> Derivation:
    d = Derivation("adaLN-Zero: every block starts as the identity, and can still learn")
    x, c_, a, b, theta = sp.symbols("x c a b theta", real=True)  # token, conditioning, gate weight and bias
    gamma = sp.Symbol("gamma", real=True)
    f = sp.Function("f")(x, theta)  # the residual branch (attention or MLP on the modulated norm), weights theta
    d.given(gamma, add(mul(a, c_), b), r"the gate: a linear map of the conditioning $c$")
    d.given(sp.Symbol(r"a, b"), sp.Integer(0), "adaLN-Zero initialises the gate's weight and bias to 0")
    out = add(x, mul(gamma, f))
    block = d.chain(out, r"A block's residual branch, gated by $\gamma$:", name=sp.Symbol(r"\mathrm{block}(x)"))
    block.to(add(x, mul(held(add(mul(a, c_), b)), f)), r"the gate is $a c + b$", using={gamma: a * c_ + b})
    block.to(x, r"at initialisation $a = b = 0$: the identity, whatever $f$ is", using={a: 0, b: 0})
    opened = d.chain(sp.Derivative(add(x, mul(held(add(mul(a, c_), b)), f)), a),
                     r"The gate's weight still receives a gradient:")
    opened.to(mul(c_, f), r"differentiate in $a$: not 0 at $a = b = 0$, so training opens the gate")
    frozen = d.chain(sp.Derivative(add(x, mul(held(add(mul(a, c_), b)), f)), theta),
                     r"while the branch's own weights $\theta$ wait one step:")
    frozen.to(mul(held(add(mul(a, c_), b)), sp.Derivative(f, theta)), r"only $f$ depends on $\theta$")
    frozen.to(sp.Integer(0), r"at initialisation $a = b = 0$", using={a: 0, b: 0})
    shift, scale = sp.symbols(r"\mathrm{shift} \mathrm{scale}", real=True)
    norm = sp.Function(r"\mathrm{LN}")(x)
    modulate = d.chain(add(mul(norm, held(1 + scale)), shift), r"The shift and scale of the LayerNorm start at 0 too:",
                       name=sp.Symbol(r"\mathrm{modulate}(x)"))
    modulate.to(norm, "a plain LayerNorm at initialisation", using={shift: 0, scale: 0})
    attention = mul(4, held(add(power(D, 2), D)))
    mlp = add(mul(D, 4 * D), 4 * D, mul(4 * D, D), D)
    adaln = add(mul(D, 6 * D), 6 * D)
    count = d.chain(add(attention, mlp, adaln),
                    r"Parameters of one block: attention's four $D \times D$ maps with biases, an MLP of ratio 4 "
                    r"($D \to 4D \to D$), and the adaLN map from $c$ to six $D$-vectors (shift, scale, gate, twice):")
    count.to(add(mul(18, power(D, 2)), mul(15, D)), r"collect powers of $D$; a third of them ($6D^2$) modulate")
    at_64 = d.chain(add(mul(18, power(D, 2)), mul(15, D)), r"The chapter's width $D = 64$ on a GPU:")
    at_64.to(add(mul(18, power(64, 2)), mul(15, 64)), r"insert $D = 64$", using={D: 64})
    at_64.to(sp.Integer(74688), "parameters per block")
    d.keep("block_params", 18 * D**2 + 15 * D)
    return d


@derivation
def latent_compression() -> Derivation:
    d = Derivation("latent diffusion: how much smaller the space is, and why latents are scaled")
    f_down, c_latent = sp.symbols("f c_z", positive=True, integer=True)
    ratio = d.chain(frac(mul(H, W, C), mul(frac(H, f_down), frac(W, f_down), c_latent)),
                    r"An $H \times W \times C$ image and its latent, downsampled by $f$ to $c_z$ channels:")
    ratio.to(frac(mul(power(f_down, 2), C), c_latent), r"cancel $H W$")
    sd = {C: 3, f_down: 8, c_latent: 4}
    stable = d.chain(frac(mul(power(f_down, 2), C), c_latent), "Stable Diffusion's autoencoder:")
    stable.to(frac(mul(power(8, 2), 3), 4), r"insert $f = 8$, $C = 3$, $c_z = 4$", using=sd)
    stable.to(sp.Integer(48), "48 times fewer numbers for the denoiser")
    book = d.chain(frac(mul(8, 8, 1), 8), "The book's digits, 8 by 8 pixels to an 8-dimensional latent vector:")
    book.to(sp.Integer(8), "8 times fewer")
    alpha_bar, sigma_z = sp.symbols(r"\bar{\alpha}_t sigma_z", positive=True)
    d.given(sp.Symbol(r"\operatorname{SNR}_t"), frac(alpha_bar, 1 - alpha_bar),
            "the signal-to-noise ratio the schedule was designed for: unit-variance data")
    snr = d.chain(frac(mul(alpha_bar, power(sigma_z, 2)), 1 - alpha_bar),
                  r"Latents $z$ of standard deviation $\sigma_z$: the signal $\sqrt{\bar\alpha_t}\,z$ has variance "
                  r"$\bar\alpha_t\sigma_z^2$, the noise $1 - \bar\alpha_t$, so")
    snr.to(mul(power(sigma_z, 2), sp.Symbol(r"\operatorname{SNR}_t")),
           r"every level's SNR is multiplied by $\sigma_z^2$; $\sigma_z = 5.5$ would leave $z_T$ far from pure noise",
           using={sp.Symbol(r"\operatorname{SNR}_t"): alpha_bar / (1 - alpha_bar)})
    scaled = d.chain(frac(mul(alpha_bar, power(frac(sigma_z, sigma_z), 2)), 1 - alpha_bar),
                     r"After dividing the latents by $\sigma_z$ (Stable Diffusion's factor $0.18215 = 1/5.49$):")
    scaled.to(sp.Symbol(r"\operatorname{SNR}_t"), "the pixel schedule's SNR at every level",
              using={sp.Symbol(r"\operatorname{SNR}_t"): alpha_bar / (1 - alpha_bar)})
    return d


@derivation
def cross_attention_weights() -> Derivation:
    d = Derivation("cross-attention: weights sum to 1 over the prompt, and a prompt needs several tokens")
    s1, s2, s3, v1, v2, v3 = sp.symbols("s_1 s_2 s_3 v_1 v_2 v_3", real=True)  # scores, values
    k1, k2 = sp.symbols("k_1 k_2", real=True)
    d_head = sp.Symbol("d", positive=True)
    d.given(sp.Symbol("s_j"), frac(mul(sp.Symbol("q"), sp.Symbol("k_j")), sqrt(d_head)),
            r"the score of key $k_j$ for the query $q$ (one coordinate of a head of width $d$ shown)")
    e = [sp.exp(si) for si in (s1, s2, s3)]
    z = add(*e)
    total = d.chain(add(*(frac(ei, z) for ei in e)), r"The softmax weights of three prompt tokens, for any scores, "
                    "so for any query:")
    total.to(frac(z, z), "a common denominator")
    total.to(sp.Integer(1), "numerator and denominator agree")
    score_1, score_2 = (frac(mul(q, kj), sqrt(d_head)) for kj in (k1, k2))
    one = mul(frac(sp.exp(score_1), sp.exp(score_1)), v1)
    single = d.chain(sp.Derivative(one, q), r"With one context token the output is $a_1 v_1$; how it changes with "
                     r"the query $q$:")
    single.to(sp.Derivative(v1, q), r"the single weight is $e^{s_1} / e^{s_1} = 1$ for every query")
    single.to(sp.Integer(0), r"$v_1$ has no $q$ in it: every image token reads the same vector")
    two = frac(sp.exp(score_1), add(sp.exp(score_1), sp.exp(score_2)))
    pair = d.chain(sp.Derivative(two, q), r"With two tokens, the first token's weight $a_1$ moves with the query:")
    pair.to(mul(frac(k1 - k2, sqrt(d_head)), frac(sp.exp(score_1), add(sp.exp(score_1), sp.exp(score_2))),
                frac(sp.exp(score_2), add(sp.exp(score_1), sp.exp(score_2)))),
            r"the quotient rule: $(k_1 - k_2)\,a_1 a_2 / \sqrt{d}$, not 0 when the keys differ")
    weighted = add(*(mul(frac(ei, z), vi) for ei, vi in zip(e, (v1, v2, v3), strict=True)))
    mean = d.chain(weighted, r"Equally similar keys, $s_1 = s_2 = s_3$, give the mean of the values:",
                   name=sp.Symbol(r"\mathrm{output}"))
    mean.to(frac(add(v1, v2, v3), 3), r"insert $s_2 = s_3 = s_1$: each weight is $1/3$", using={s2: s1, s3: s1})
    return d


def all_derivations() -> list[Derivation]:
    return registry.all_derivations(__name__)
