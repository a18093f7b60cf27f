"""minidiff.nets.unet: shapes, batch consistency, conditioning, stage options, config round trip."""

import json

import pytest
import torch

from minidiff import train
from minidiff.nets.attention import Attention, Block
from minidiff.nets.layers import ResBlock
from minidiff.nets.unet import Stage, UNet, unet_small, unet_text

CROSS, FULL = Block("cross", num_heads=2, ffn_expansion=2), Block(num_heads=2, ffn_expansion=2)


def tiny(context_dim=6, num_classes=3, **kw):
    stages = kw.pop("stages", (Stage(8), Stage(16, attention=CROSS), Stage(16, attention=FULL)))
    return UNet(1, stages, context_dim=context_dim, num_classes=num_classes, time_dim=16, **kw)


def randomise(net, seed=0):
    """Non-zero weights everywhere, so every branch (and the context) affects the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return net.eval()


def inputs(batch=3, size=8, tokens=5):
    x, t = torch.randn(batch, 1, size, size), torch.rand(batch)
    return x, t, torch.randn(batch, tokens, 6), torch.randint(0, 4, (batch,))


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("conditioned", [False, True])
def test_shapes_and_dtype(size, conditioned):
    net = randomise(tiny())
    x, t, context, y = inputs(2, size)
    out = net(x, t, context, None, y) if conditioned else net(x, t)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert net.double()(x.double(), t.double()).dtype == torch.float64


def test_batched_equals_per_sample_and_is_deterministic():
    net = randomise(tiny())
    x, t, context, y = inputs(4)
    mask = torch.rand(4, 5) > 0.3
    batched = net(x, t, context, mask, y)
    rows = [
        net(x[i : i + 1], t[i : i + 1], context[i : i + 1], mask[i : i + 1], y[i : i + 1])
        for i in range(4)
    ]
    torch.testing.assert_close(batched, torch.cat(rows), rtol=0, atol=1e-5)
    assert torch.equal(batched, net(x, t, context, mask, y))


def test_untrained_net_outputs_zero_and_training_reaches_every_parameter():
    net = tiny(dropout=0.0)
    x, t, context, y = inputs()
    assert torch.equal(net(x, t, context, None, y), torch.zeros_like(x))  # zero-init output conv
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(3):  # zero-init layers unblock the gradient one level deeper per step
        optimizer.zero_grad()
        (net(x, t, context, None, y) - x).square().mean().backward()
        optimizer.step()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert not dead, dead


def test_cross_attention_uses_context_and_ignores_padded_tokens():
    net = randomise(tiny())
    x, t, context, y = inputs(2, tokens=4)
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])
    out = net(x, t, context, mask, y)
    assert not torch.allclose(out, net(x, t, 2 * context, mask, y), atol=1e-3)
    padded = context.clone()
    padded[~mask] = 100.0  # change only the padded tokens
    torch.testing.assert_close(net(x, t, padded, mask, y), out, rtol=0, atol=1e-5)
    # removing the padding altogether gives the same output as masking it
    torch.testing.assert_close(net(x[:1], t[:1], context[:1, :2], None, y[:1]), out[:1])
    # a sample with no real token equals one without cross-attention (what context=None gives)
    none = torch.zeros_like(mask)
    torch.testing.assert_close(net(x, t, context, none, y), net(x, t, None, None, y))


@pytest.mark.parametrize("kernel", ["softmax", "relu"])
def test_attention_matches_reference(kernel):
    attention = Attention(8, context_dim=6, num_heads=2, kernel=kernel)
    x, context = torch.randn(2, 5, 8), torch.randn(2, 3, 6)
    out = attention(x, context)
    q = attention.to_q(x).view(2, 5, 2, 4).transpose(1, 2)  # (B, heads, L, d)
    k = attention.to_k(context).view(2, 3, 2, 4).transpose(1, 2)
    v = attention.to_v(context).view(2, 3, 2, 4).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / 2.0  # sqrt(d) = 2
    w = scores.softmax(-1) if kernel == "softmax" else scores.relu() / 3
    want = attention.to_out((w @ v).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-6)


def count(module, cls):
    return sum(isinstance(m, cls) for m in module.modules())


def test_attention_kinds_and_shared_kv():
    net = tiny()
    cross_stage, full_stage = net.encoder[2].transformer, net.encoder[4].transformer
    blocks = [cross_stage.blocks[0], full_stage.blocks[0]]
    assert [b.self_attention is None for b in blocks] == [True, False]
    assert count(cross_stage, Attention) == 1 and count(full_stage, Attention) == 2
    assert count(net.encoder[0], Attention) == 0  # stage 0 has no transformer
    # stage 1 has transformers in 4 Layers: 1 encoder, 1 middle, 2 decoder
    no_text = tiny(None, stages=(Stage(8), Stage(16, attention=FULL)))
    blocks = [m for m in no_text.modules() if hasattr(m, "self_attention")]
    assert len(blocks) == 4 and count(no_text, Attention) == 4  # no context: self-attention only
    assert all(b.cross_attention is None for b in blocks)
    shared = tiny(stages=(Stage(8), Stage(16, attention=Block(num_heads=2, shared_kv=True))))
    plain = tiny(stages=(Stage(8), Stage(16, attention=Block(num_heads=2))))
    saved = 4 * (16 * 16 + 6 * 16)  # W_V of the self (16 -> 16) and cross (6 -> 16) attention
    assert (
        sum(p.numel() for p in plain.parameters()) - sum(p.numel() for p in shared.parameters())
        == saved
    )


def dense_minus_separable(c_in, c_out):
    return (9 * c_in * c_out + c_out) - (9 * c_in + c_in + c_in * c_out + c_out)


def test_separable_convs_save_the_expected_parameters():
    def params(m):
        return sum(p.numel() for p in m.parameters())

    # ResBlock(12 -> 16): conv 12->16 and conv 16->16
    saved = params(ResBlock(12, 16, 8)) - params(ResBlock(12, 16, 8, separable=True))
    assert saved == dense_minus_separable(12, 16) + dense_minus_separable(16, 16)
    stages = lambda sep: (Stage(8), Stage(16, 2, separable=sep))  # noqa: E731
    dense, sep = tiny(None, 0, stages=stages(False)), tiny(None, 0, stages=stages(True))
    # stage 1: encoder 8->16, 16->16; decoder (16+16)->16, (16+16)->16, (16+8)->16
    pairs = [(8, 16), (16, 16), (32, 16), (32, 16), (24, 16)]
    want = sum(dense_minus_separable(a, b) + dense_minus_separable(b, b) for a, b in pairs)
    assert params(dense) - params(sep) == want


def test_config_round_trip_and_checkpoint(tmp_path):
    net = randomise(tiny())
    config = json.loads(json.dumps(net.config))
    clone = UNet(**config).eval()
    assert clone.config == net.config
    clone.load_state_dict(net.state_dict())
    x, t, context, y = inputs()
    assert torch.equal(clone(x, t, context, None, y), net(x, t, context, None, y))
    train.save_checkpoint(tmp_path / "unet.safetensors", net, step=7)
    loaded = tiny().eval()
    assert train.load_checkpoint(tmp_path / "unet.safetensors", loaded) == 7
    assert torch.equal(loaded(x, t, context, None, y), net(x, t, context, None, y))
    with pytest.raises(train.CheckpointError):
        train.load_checkpoint(tmp_path / "unet.safetensors", tiny(num_classes=4))


def test_presets_fit_their_budgets():
    small, text = unet_small(), unet_text()
    assert 0.5e6 <= sum(p.numel() for p in small.parameters()) <= 2e6
    assert 1e6 <= sum(p.numel() for p in text.parameters()) <= 3e6
    assert small(torch.randn(1, 1, 16, 16), torch.rand(1), y=torch.tensor([3])).shape[-1] == 16


def test_bad_arguments_are_named():
    net = tiny()
    x, t, context, y = inputs()
    cases = [
        (dict(x=torch.randn(3, 1, 10, 10)), "x: H and W"),
        (dict(x=torch.randn(3, 2, 8, 8)), "x: expected"),
        (dict(t=torch.rand(2)), "t: expected"),
        (dict(context=torch.randn(3, 5, 7)), "context: expected"),
        (dict(context=y), "context: expected"),
        (dict(mask=torch.ones(3, 4, dtype=torch.bool)), "mask: expected"),
        (dict(y=torch.tensor([0, 1, 4])), "y: expected"),
        (dict(y=torch.rand(3)), "y: expected"),
    ]
    for change, message in cases:
        args = dict(x=x, t=t, context=context, mask=None, y=y) | change
        with pytest.raises(ValueError, match=message):
            net(**args)
    with pytest.raises(ValueError, match="kind"):
        Block("self")
    with pytest.raises(ValueError, match="needs a context_dim"):
        tiny(None)
    with pytest.raises(ValueError, match="num_heads"):
        UNet(1, (Stage(8), Stage(10, attention=Block(num_heads=4))))
    with pytest.raises(ValueError, match="channels"):
        Stage(0)
    with pytest.raises(TypeError, match="stages"):
        UNet(1, ("big",))
