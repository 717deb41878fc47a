import pytest
import torch

from diffusion_edu.nets.autoencoder import DigitVAE
from diffusion_edu.nets.cross_attention import PAD, CrossAttention, CrossAttentionDenoiser, tokenize
from diffusion_edu.processes import latent
from diffusion_edu.processes.guidance import label_dropout_eps_loss
from diffusion_edu.processes.schedules import linear_schedule


def test_tokenize_words_and_null():
    ids = tokenize(["one", ""])
    assert ids.shape == (2, 5)
    assert ids[0, :3].tolist() == [14, 13, 4] and ids[0, 3:].tolist() == [PAD, PAD]
    assert (ids[1, 1:] == PAD).all() and ids[1, 0] != PAD
    with pytest.raises(ValueError, match="words"):
        tokenize(["Seven"])


def test_cross_attention_weights_sum_to_one_over_unmasked_tokens():
    torch.manual_seed(0)
    attn = CrossAttention(16, 2)
    x, ctx = torch.randn(3, 4, 16), torch.randn(3, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [True] + [False] * 4])
    weights = attn.attention_weights(x, ctx, mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 4))
    assert weights[1, :, :, 2:].abs().max() == 0
    # one context token: the output does not depend on the query
    out = attn(x, ctx, mask)
    torch.testing.assert_close(out[2], out[2, :1].expand(4, 16))


def test_denoiser_depends_on_the_prompt_and_is_seeded():
    def build():
        torch.manual_seed(0)
        return CrossAttentionDenoiser(dim=32, heads=2)

    a, b = build(), build()
    z, t = torch.randn(4, 8), torch.tensor([1, 2, 3, 4])
    assert torch.equal(a(z, t, torch.tensor([1, 2, 3, 10])), b(z, t, torch.tensor([1, 2, 3, 10])))
    assert not torch.allclose(a(z, t, torch.tensor([1, 1, 1, 1])), a(z, t, torch.tensor([7, 7, 7, 7])))
    with pytest.raises(ValueError, match="x"):
        a(torch.randn(4, 1, 8), t)


def test_scale_encode_decode_and_sampling_shapes():
    torch.manual_seed(0)
    vae = DigitVAE(latent_dim=8, width=32).eval()
    images = torch.rand(20, 1, 8, 8) * 2 - 1
    z = latent.encode(vae, images)
    scale = latent.latent_scale(z)
    assert z.shape == (20, 8) and abs(float((z * scale).std()) - 1) < 1e-5
    torch.testing.assert_close(latent.decode(vae, z * scale, scale), vae.decode(z).clamp(-1, 1))
    model = CrossAttentionDenoiser(dim=32, heads=2)
    out = latent.sample(model, vae, scale, torch.arange(6), linear_schedule(100), num_steps=5, w=2.0,
                        generator=torch.Generator().manual_seed(0))
    assert out.shape == (6, 1, 8, 8) and out.abs().max() <= 1
    with pytest.raises(ValueError, match="scale"):
        latent.decode(vae, z, -1.0)


def test_latent_loss_is_finite_and_seeded():
    model = CrossAttentionDenoiser(dim=32, heads=2)
    z, y = torch.randn(16, 8), torch.arange(16) % 10
    losses = [label_dropout_eps_loss(model, z, y, linear_schedule(100), p=0.5,
                                     generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    assert torch.isfinite(losses[0]) and torch.equal(losses[0], losses[1])
