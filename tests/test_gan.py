"""gan: losses against hand-computed values, R1 against its closed form and gradcheck, and the
discriminator made from a denoiser network."""

import math

import pytest
import torch
from torch import nn

from minidiff import gan, text
from minidiff.nets.attention import Block
from minidiff.nets.mlp import MLP
from minidiff.nets.unet import Stage, UNet

REAL, FAKE = torch.tensor([0.0, 2.0]), torch.tensor([0.0, -1.0])


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_non_saturating_losses_by_hand():
    d = (softplus(0) + softplus(-2)) / 2 + (softplus(0) + softplus(-1)) / 2
    g = (softplus(0) + softplus(1)) / 2
    assert gan.discriminator_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert gan.generator_loss(FAKE).item() == pytest.approx(g, rel=1e-6)


def test_hinge_losses_by_hand():
    # relu(1 - [0, 2]) = [1, 0]; relu(1 + [0, -1]) = [1, 0]; -mean([0, -1]) = 0.5
    assert gan.discriminator_loss(REAL, FAKE, "hinge").item() == pytest.approx(1.0)
    assert gan.generator_loss(FAKE, "hinge").item() == pytest.approx(0.5)


def test_an_unknown_loss_names_the_argument():
    with pytest.raises(ValueError, match="loss: expected one of"):
        gan.discriminator_loss(REAL, FAKE, "wasserstein")


def test_r1_of_a_linear_discriminator_is_its_squared_weight_norm():
    w = torch.tensor([0.5, -2.0, 1.0])
    x = torch.randn(7, 3)
    penalty = gan.r1_penalty(lambda v: v @ w + 3.0, x)
    assert penalty.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-6)


def test_r1_passes_gradcheck():
    x = torch.randn(5, 3, dtype=torch.float64)
    weight = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)

    def penalty(w):
        return gan.r1_penalty(lambda v: torch.tanh(v @ w).sum(1), x)

    assert torch.autograd.gradcheck(penalty, (weight,))


def test_r1_through_attention_reaches_the_discriminators_weights():
    """The fused CPU attention kernel has no double backward; r1_penalty must still work."""
    unet = UNet(in_channels=3, stages=(Stage(8), Stage(16, attention=Block(num_heads=2))))
    d = gan.Discriminator(unet)
    penalty = gan.r1_penalty(d, torch.randn(2, 3, 8, 8), torch.rand(2))
    penalty.backward()
    assert penalty.item() > 0
    assert all(p.grad is not None for p in d.body.encoder.parameters())


def tiny_unet(**kw) -> UNet:
    return UNet(in_channels=3, stages=(Stage(8), Stage(16)), **kw)


@pytest.mark.parametrize("make", [lambda: MLP(hidden=16, depth=1), tiny_unet])
def test_discriminator_copies_the_network_but_its_output_layer(make):
    net = make()
    d = gan.Discriminator(net)
    x = torch.randn(4, 2) if isinstance(net, MLP) else torch.randn(4, 3, 8, 8)
    assert d(x, torch.rand(4)).shape == (4,)
    own = {k: v for k, v in net.state_dict().items() if not k.startswith("final_layer.")}
    copied = d.body.state_dict()
    assert all(torch.equal(copied[k], v) for k, v in own.items())
    assert all(p.data_ptr() not in {q.data_ptr() for q in net.parameters()} for p in d.parameters())


def test_discriminator_of_a_text_network_keeps_its_encoder_frozen():
    encoder = text.TextEncoder(20, width=16, depth=1, heads=2, max_len=6)
    net = text.TextConditional(encoder, tiny_unet(context_dim=16))
    d = gan.Discriminator(net)
    ids, mask = torch.randint(1, 20, (2, 6)), torch.ones(2, 6, dtype=torch.bool)
    logits = d(torch.randn(2, 3, 8, 8), torch.rand(2), ids, mask)
    logits.sum().backward()
    assert logits.shape == (2,)
    assert all(p.grad is None and not p.requires_grad for p in d.body.encoder.parameters())
    assert all(p.grad is not None for p in d.body.unet.parameters())


def test_discriminator_needs_a_final_layer():
    with pytest.raises(TypeError, match="net: expected a network with a final_layer"):
        gan.Discriminator(nn.Linear(2, 2))
