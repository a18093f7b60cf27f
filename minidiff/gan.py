"""GAN pieces for one-step generators: a discriminator made from a denoiser network, its losses
and the R1 penalty.

Discriminator: UFOGen (Xu et al. 2023, Sec. 4) initialises D from the pretrained diffusion UNet.
Here D(x_t, t, *cond) is a copy of the denoiser's network with its output layer swapped for a
one-channel logit layer, averaged over positions (for a UNet, a patch discriminator that sees
the time and the text like the denoiser did; for an MLP, one logit). Pass a freshly built
network instead of the pretrained one to get a randomly initialised D of the same shape.
Losses, on logits (Goodfellow et al. 2014's non-saturating form; Lim & Ye 2017's hinge):
    non_saturating:  L_D = softplus(-D(real)) + softplus(D(fake)),   L_G = softplus(-D(fake))
    hinge:           L_D = relu(1 - D(real)) + relu(1 + D(fake)),    L_G = -D(fake)
(softplus(-l) = -log sigmoid(l): the binary cross-entropy of UFOGen's reference code.)
R1 (Mescheder et al. 2018, Eq. 9): E ||grad_x D(x_real)||^2, to be weighted by gamma / 2.
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .checks import check_callable, check_choice, check_instance, check_tensor

LOSSES = ("non_saturating", "hinge")


def _logit_layer(final: nn.Module) -> nn.Module:
    """A fresh layer like `final` (nn.Linear, or nn.Sequential ending in nn.Conv2d), one output."""
    if isinstance(final, nn.Linear):
        return nn.Linear(final.in_features, 1)
    if isinstance(final, nn.Sequential) and isinstance(final[-1], nn.Conv2d):
        conv = final[-1]
        head = nn.Conv2d(conv.in_channels, 1, conv.kernel_size, padding=conv.padding)
        return nn.Sequential(*final[:-1], head)
    raise TypeError(
        f"net: expected a final_layer that is a Linear or ends in a Conv2d, got {final}"
    )


class Discriminator(nn.Module):
    """D(x, t, *cond) -> logits (B,): a deep copy of `net` (an MLP, a UNet, or a TextConditional
    holding one as .unet) whose final_layer outputs one channel, averaged over positions.
    The copy keeps net's requires_grad flags (a frozen text encoder stays frozen)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        check_instance("net", net, nn.Module, "the denoiser's network, an MLP or a UNet")
        body = copy.deepcopy(net)
        host = getattr(body, "unet", body)
        if not hasattr(host, "final_layer"):
            raise TypeError(
                f"net: expected a network with a final_layer (MLP, UNet, TextConditional), "
                f"got {type(net).__name__}"
            )
        host.final_layer = _logit_layer(host.final_layer)
        self.body = body
        self.config = dict(discriminator=getattr(net, "config", {}))

    def forward(self, x, t, *cond):
        return self.body(x, t, *cond).flatten(1).mean(1)


def check_loss(loss: str) -> str:
    return check_choice("loss", loss, LOSSES)


def discriminator_loss(real_logits, fake_logits, loss: str = "non_saturating"):
    """L_D, averaged over the batch: real pushed up, fake pushed down."""
    check_tensor("real_logits", real_logits, finite=False)
    check_tensor("fake_logits", fake_logits, finite=False)
    if check_loss(loss) == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits, loss: str = "non_saturating"):
    """L_G, averaged over the batch: the generator pushes D(fake) up."""
    check_tensor("fake_logits", fake_logits, finite=False)
    if check_loss(loss) == "hinge":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def r1_penalty(discriminator, x_real, *args):
    """E_b ||grad_x D(x_real_b, *args)||^2, differentiable (create_graph) for the D step.
    Attention runs on SDPA's math kernel here: the fused CPU kernel has no double backward."""
    check_callable("discriminator", discriminator, "a discriminator D(x, ...) -> logits (B,)")
    check_tensor("x_real", x_real, finite=False)
    x_real = x_real.detach().requires_grad_(True)
    with sdpa_kernel(SDPBackend.MATH):
        logits = discriminator(x_real, *args)
    (grad,) = torch.autograd.grad(logits.sum(), x_real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def bottleneck(net: nn.Module) -> tuple[nn.Module, int]:
    """(the layer whose output is net's bottleneck, its channels): a UNet's last middle layer or
    an MLP's last hidden layer, found through wrappers' .net and .unet (targets.Denoiser,
    ClassConditional, TextConditional)."""
    host = net
    while host is not None:
        if hasattr(host, "middle") and "stages" in getattr(host, "config", {}):
            return host.middle[-1], host.config["stages"][-1]["channels"]
        if hasattr(host, "blocks") and isinstance(getattr(host, "final_layer", None), nn.Linear):
            return host.blocks[-1], host.blocks[-1].out_features
        host = getattr(host, "unet", None) or getattr(host, "net", None)
    raise TypeError(f"net: expected a UNet or an MLP (or a wrapper holding one as .net or "
                    f".unet), got {type(net).__name__}")  # fmt: skip


class BottleneckHead(nn.Module):
    """DMD2's GAN classifier on a network's bottleneck: logits(net, x, t, *cond) runs net and
    reads the bottleneck features a forward hook captures, average-pooled over positions, through
    Linear-SiLU-Linear to one logit per sample. DMD2's head is convolutional (4x4 convs of
    stride 2 and 4) on a 1/8-resolution map; ours pools first, our bottlenecks being 2x2 to 8x8.
    Gradients reach x (the generator's step) and net's weights (the critic's step)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        layer, channels = bottleneck(net)
        self.head = nn.Sequential(nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, 1))
        self._capture, self._features = False, []
        layer.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if self._capture:  # only during logits(): the other forwards keep no features
            self._features.append(output)

    def logits(self, net, x, t, *cond) -> torch.Tensor:
        self._capture, self._features = True, []
        try:
            net(x, t, *cond)
        finally:
            self._capture = False
        features = self._features.pop()
        features = features.flatten(2).mean(2) if features.ndim > 2 else features
        return self.head(features).squeeze(1)
