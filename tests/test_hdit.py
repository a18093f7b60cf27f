"""HDiT and DiT: RoPE scores depend only on relative position; TokenMerge/TokenSplit are exact
inverses for inverse linear maps and the skip is a lerp; every block starts as the identity and
the models at 0; a neighbourhood as large as the level is global attention; sizes that do not
split, even kernels and kernels larger than a level are refused with the sizes that work."""

import pytest
import torch

from minidiff.nets import hdit_blocks
from minidiff.nets.dit import DiT
from minidiff.nets.hdit import HDiT, Level, TokenMerge, TokenSplit


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every weight redrawn, the zero-started ones too (else every block is the identity); the
    attention scales kept positive (their square roots scale q and k)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
            if name.endswith("attention.scale"):
                p.abs_().add_(1.0)
    return model


def test_rope_scores_depend_only_on_relative_position():
    rope, side = hdit_blocks.AxialRoPE(head_dim=16, num_heads=2), 4
    positions = hdit_blocks.axial_positions(side, side)
    x = torch.randn(1, 2, 1, 16).expand(1, 2, side * side, 16)  # the same vector everywhere
    rotated = rope(x, positions)
    scores = rotated @ rotated.transpose(-2, -1)  # (1, heads, 16, 16)
    index = lambda y, x: y * side + x  # noqa: E731
    for dy, dx in [(0, 1), (1, 0), (1, 1), (2, -1)]:
        pairs = [(index(y, x), index(y + dy, x + dx)) for y in range(side) for x in range(side)
                 if 0 <= y + dy < side and 0 <= x + dx < side]  # fmt: skip
        values = torch.stack([scores[..., i, j] for i, j in pairs])
        torch.testing.assert_close(values, values[:1].expand_as(values))
    torch.testing.assert_close(rotated[..., 8:], x[..., 8:])  # half the dimensions untouched


def test_token_merge_and_split_are_exact_inverses_for_inverse_maps():
    merge, split = TokenMerge(3, 12, patch=2), TokenSplit(12, 3, patch=2, skip=None)
    with torch.no_grad():
        merge.proj.weight.copy_(torch.eye(12))
        split.proj.weight.copy_(torch.eye(12))
    x = torch.randn(2, 6, 8, 3)
    assert merge(x).shape == (2, 3, 4, 12)
    torch.testing.assert_close(split(merge(x)), x)
    skipped = TokenSplit(12, 3, patch=2)
    skipped.proj.load_state_dict(split.proj.state_dict())
    skip = torch.randn(2, 6, 8, 3)  # lerp(skip, up, 0.5) at the start: their mean
    torch.testing.assert_close(skipped(merge(x), skip), (x + skip) / 2)
    with pytest.raises(ValueError, match="skip: expected a tensor"):
        skipped(merge(x))
    added = TokenSplit(12, 3, patch=2, skip="add")  # the ablation's skip: a sum, no parameter
    added.proj.load_state_dict(split.proj.state_dict())
    torch.testing.assert_close(added(merge(x), skip), x + skip)
    assert [name for name, _ in added.named_parameters()] == ["proj.weight"]
    with pytest.raises(ValueError, match=r"skip: expected one of \('lerp', 'add', None\)"):
        TokenSplit(12, 3, skip="concat")


def test_blocks_start_as_the_identity_and_models_at_zero():
    x, cond = torch.randn(2, 6, 6, 32), torch.randn(2, 64)
    block = hdit_blocks.Block(32, 16, 64, kernel=3)
    torch.testing.assert_close(block(x, cond), x)
    assert not torch.allclose(randomised(block)(x, cond), x)  # the test can fail
    images, c_noise = torch.randn(2, 3, 16, 16), torch.randn(2)
    for model in (HDiT(), DiT()):
        assert model(images, c_noise).abs().max() == 0


def test_a_neighbourhood_as_large_as_the_level_is_global_attention():
    # 20 x 20 pixels, patches of 2: 10 x 10 tokens, then 5 x 5 at the inner level
    local = randomised(HDiT(levels=(Level(32, 1), Level(64, 1, 5)), num_classes=3))
    glob = HDiT(levels=(Level(32, 1), Level(64, 1)), num_classes=3)
    glob.load_state_dict(local.state_dict())
    x, c_noise, label = torch.randn(2, 3, 20, 20), torch.randn(2), torch.tensor([0, 2])
    torch.testing.assert_close(local(x, c_noise, label), glob(x, c_noise, label))
    narrow = HDiT(levels=(Level(32, 1), Level(64, 1, 3)), num_classes=3)
    narrow.load_state_dict(local.state_dict())
    assert not torch.allclose(narrow(x, c_noise, label), glob(x, c_noise, label))


def test_bad_sizes_are_refused_with_the_sizes_that_work():
    model, c_noise = HDiT(levels=(Level(32, 1, 3), Level(32, 1, 3), Level(64, 1))), torch.zeros(1)
    with pytest.raises(ValueError, match=r"x's height: expected a multiple of .* = 8, got 30; "
                                         r"try 24 or 32"):  # fmt: skip
        model(torch.zeros(1, 3, 30, 32), c_noise)
    with pytest.raises(ValueError, match="kernel: expected an odd size"):
        HDiT(levels=(Level(32, 1, 4), Level(64, 1)))(torch.zeros(1, 3, 16, 16), c_noise)
    with pytest.raises(ValueError, match=r"kernel: expected at most .* \(4x4: 4\), got 7"):
        HDiT(levels=(Level(32, 1, 7), Level(64, 1)))(torch.zeros(1, 3, 8, 8), c_noise)
    with pytest.raises(ValueError, match="head_dim: expected a multiple of 8"):
        hdit_blocks.AxialRoPE(12, 2)
    with pytest.raises(ValueError, match="head_dim: expected a divisor of the width 40, got 16"):
        hdit_blocks.Block(40, 16, 64)
