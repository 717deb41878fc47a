import pytest
import sympy as sp
import torch

from diffusion_edu.derivations import dit as derive
from diffusion_edu.nets.dit import DiT, block_parameter_count, count_parameters, patchify, sincos_2d, unpatchify


def test_derivations_prove_as_chains():
    built = derive.all_derivations()
    assert len(built) == 5 and all(len(d.steps) >= 2 for d in built)
    assert sum(d.n_proved for d in built) >= 35


@pytest.mark.parametrize("shape,p", [((2, 4, 32, 32), 2), ((3, 1, 8, 8), 2), ((1, 3, 8, 8), 4), ((2, 1, 8, 8), 1)])
def test_patchify_shapes_match_sympy_and_invert(shape, p):
    n, c, h, w = shape
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    tokens = patchify(x, p)
    subs = {derive.H: h, derive.W: w, derive.C: c, derive.p: p}
    assert tokens.shape == (n, int(derive.token_count()["tokens"].subs(subs)),
                            int(derive.token_count()["patch_dim"].subs(subs)))
    assert torch.equal(unpatchify(tokens, p, c, h, w), x)


def test_patch_is_a_contiguous_square():
    x = torch.arange(64.0).view(1, 1, 8, 8)
    tokens = patchify(x, 2)
    assert tokens[0, 0].tolist() == [0.0, 1.0, 8.0, 9.0]  # top-left 2x2 patch, row-major
    assert tokens[0, 1].tolist() == [2.0, 3.0, 10.0, 11.0]


def test_fresh_dit_blocks_are_identity_and_output_zero():
    torch.manual_seed(0)
    model = DiT(depth=3)
    x = torch.randn(4, 1, 8, 8)
    t, y = torch.tensor([0, 5, 500, 999]), torch.tensor([0, 3, 9, 10])
    tokens = model.patch_embed(patchify(x, 2)) + model.pos_embed
    c = model.conditioning(t, y)
    for block in model.blocks:
        assert torch.equal(block(tokens, c), tokens)
    assert torch.equal(model(x, t, y), torch.zeros_like(x))


def test_block_parameter_count_matches_sympy_and_torch():
    model = DiT(dim=64, depth=2)
    formula = derive.adaln_zero()["block_params"]
    assert count_parameters(model.blocks[0]) == block_parameter_count(64) == int(formula.subs(derive.D, 64))


def test_dit_learns_one_step_and_is_deterministic():
    def step():
        torch.manual_seed(0)
        model = DiT(dim=32, depth=2, heads=2)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(1))
        t = torch.randint(0, 1000, (8,), generator=torch.Generator().manual_seed(2))
        for _ in range(3):
            loss = (model(x, t, None) - x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model(x, t, None)

    a, b = step(), step()
    assert torch.equal(a, b) and a.abs().sum() > 0  # the gates opened


def test_sincos_positions_unique_and_relative():
    pe = sincos_2d(4, 16)
    assert pe.shape == (16, 16)
    assert torch.cdist(pe, pe).add(torch.eye(16)).min() > 1e-3
    f = sp.lambdify((derive.omega, derive.q, derive.k), sp.sin(derive.omega * (derive.q + derive.k)))
    assert abs(f(0.3, 2.0, 1.0) - torch.sin(torch.tensor(0.9)).item()) < 1e-6


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="patch_size"):
        patchify(torch.zeros(1, 1, 8, 8), 3)
    with pytest.raises(ValueError, match="images"):
        patchify(torch.zeros(8, 8), 2)
    with pytest.raises(ValueError, match="tokens"):
        unpatchify(torch.zeros(1, 16, 5), 2, 1, 8, 8)
    with pytest.raises(ValueError, match="heads"):
        DiT(dim=36, heads=8)
    with pytest.raises(TypeError, match="patch_size"):
        DiT(patch_size=2.0)


def test_dit_block_diagram_draws_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from diffusion_edu.present.diagrams import dit_block

    fig = dit_block.draw()
    assert isinstance(fig, Figure)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert r"\mathrm{gate}_1" in texts and r"\mathrm{gate}_2" in texts and "adaLN-Zero" in texts
    plt.close(fig)
