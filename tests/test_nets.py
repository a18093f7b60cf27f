"""Shapes, batch consistency, config round trips and input checks of minidiff.nets."""

import math

import pytest
import torch

from minidiff.nets.layers import SinusoidalEmbedding
from minidiff.nets.mlp import MLP


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sinusoidal_embedding_values():
    emb = SinusoidalEmbedding(8, max_period=100, scale=10.0)
    t = torch.tensor([0.0, 0.25])
    out = emb(t)
    assert out.shape == (2, 8)
    w = torch.tensor([100 ** (-i / 4) for i in range(4)])  # max_period^(-i / (dim/2))
    want = torch.cat([torch.cos(10 * t[:, None] * w), torch.sin(10 * t[:, None] * w)], dim=1)
    torch.testing.assert_close(out, want)
    assert out.dtype == torch.float32 and emb(t.double()).dtype == torch.float64


def test_sinusoidal_embedding_distinguishes_nearby_times():
    out = SinusoidalEmbedding(64)(torch.tensor([0.500, 0.501]))
    assert (out[0] - out[1]).norm() > 0.5  # scale 1000: a step of 1e-3 is one DDPM step


def test_sinusoidal_embedding_rejects_bad_input():
    with pytest.raises(ValueError, match="dim"):
        SinusoidalEmbedding(7)
    with pytest.raises(ValueError, match="t: expected"):
        SinusoidalEmbedding(8)(torch.zeros(3, 1))


@pytest.mark.parametrize("batch", [1, 13])
@pytest.mark.parametrize("classes", [0, 5])
def test_mlp_shapes(batch, classes):
    net = MLP(dim=3, hidden=32, depth=2, embed_dim=16, cond_classes=classes)
    x, t = torch.randn(batch, 3, generator=gen()), torch.rand(batch, generator=gen(1))
    y = torch.randint(0, classes + 1, (batch,), generator=gen(2)) if classes else None
    out = net(x, t, y)
    assert out.shape == (batch, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("classes", [0, 5])
def test_mlp_batched_equals_per_sample(classes):
    net = MLP(hidden=64, depth=3, cond_classes=classes)
    x, t = torch.randn(13, 2, generator=gen(3)), torch.rand(13, generator=gen(4))
    y = torch.randint(0, classes + 1, (13,), generator=gen(5)) if classes else None
    batched = net(x, t, y)
    rows = [net(x[i : i + 1], t[i : i + 1], None if y is None else y[i : i + 1]) for i in range(13)]
    torch.testing.assert_close(batched, torch.cat(rows), rtol=0, atol=1e-6)


def test_mlp_depends_on_time_and_class():
    net = MLP(hidden=32, cond_classes=3)
    x = torch.randn(4, 2, generator=gen(6))
    t, y = torch.full((4,), 0.2), torch.zeros(4, dtype=torch.long)
    assert not torch.allclose(net(x, t, y), net(x, t + 0.3, y))
    assert not torch.allclose(net(x, t, y), net(x, t, y + 1))
    torch.testing.assert_close(net(x, t), net(x, t, torch.full((4,), 3)))  # None = null label


def test_mlp_every_parameter_gets_a_gradient():
    net = MLP(hidden=16, depth=2, cond_classes=2)
    x, t = torch.randn(8, 2, generator=gen(7)), torch.rand(8, generator=gen(8))
    net(x, t, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])).square().sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_mlp_config_round_trip():
    kwargs = dict(dim=3, hidden=24, depth=1, embed_dim=8, cond_classes=4, time_scale=50.0)
    net = MLP(**kwargs)
    assert net.time_embedder[0].scale == 50.0
    assert net.config == kwargs
    clone = MLP(**net.config)
    clone.load_state_dict(net.state_dict())
    x, t, y = torch.randn(5, 3, generator=gen(9)), torch.rand(5, generator=gen(10)), None
    torch.testing.assert_close(clone(x, t, y), net(x, t, y), rtol=0, atol=0)
    assert sum(p.numel() for p in clone.parameters()) == sum(p.numel() for p in net.parameters())


def test_mlp_float64():
    net = MLP(hidden=16).double()
    out = net(torch.randn(3, 2, dtype=torch.float64), torch.rand(3, dtype=torch.float64))
    assert out.dtype == torch.float64


def test_mlp_rejects_bad_input():
    net, x, t = MLP(dim=2, hidden=16), torch.zeros(4, 2), torch.zeros(4)
    with pytest.raises(ValueError, match=r"x: expected a tensor of shape \(B, 2\)"):
        net(torch.zeros(4, 3), t)
    with pytest.raises(ValueError, match=r"t: expected a tensor of shape \(4,\)"):
        net(x, torch.zeros(4, 1))
    with pytest.raises(ValueError, match="t: expected"):
        net(x, 0.5)
    with pytest.raises(ValueError, match="y: this MLP has cond_classes=0"):
        net(x, t, torch.zeros(4, dtype=torch.long))
    cond = MLP(hidden=16, cond_classes=3)
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 3\]"):
        cond(x, t, torch.tensor([0, 1, 2, 4]))
    with pytest.raises(ValueError, match="y: expected integer labels"):
        cond(x, t, torch.zeros(4))
    with pytest.raises(ValueError, match="hidden"):
        MLP(hidden=0)
    with pytest.raises(ValueError, match="time_scale"):
        MLP(time_scale=0)
    with pytest.raises(ValueError, match="cond_classes"):
        MLP(cond_classes=math.pi)
