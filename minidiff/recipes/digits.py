"""Zoo recipes for digits (lesson 04): a classifier (the judge and the feature net of FD) and a
class-conditional UNet trained with classifier-free guidance's label dropout (Ho & Salimans 2022).

The classifier trains on the train split less HELD_OUT_PER_CLASS images of each digit
(classifier_split): real images its features never saw, for FD's real-vs-real reference.
"""

import functools

import torch
from torch import nn

from .. import losses, targets, train, zoo
from ..data import digits
from ..nets import classifier
from ..nets.attention import Block
from ..nets.unet import Stage, unet_small
from ..sde import VP
from ..zoo import seeded_init


def build_digits_classifier():
    with seeded_init():
        return classifier.Classifier(in_channels=1, heads={"digit": 10}, width=16, depth=3)


HELD_OUT_PER_CLASS = 30  # 300 held-out images: as many as the test split


def classifier_split() -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, held_out): indices into digits.load("train"); held_out has HELD_OUT_PER_CLASS of
    each digit (a permutation seeded with a constant), fit the other 1,197 images."""
    _, labels = digits.load("train")
    generator = torch.Generator().manual_seed(1497)
    held_out = torch.zeros(len(labels), dtype=torch.bool)
    for k in range(digits.NUM_CLASSES):
        members = torch.nonzero(labels == k).flatten()
        order = torch.randperm(len(members), generator=generator)
        held_out[members[order[:HELD_OUT_PER_CLASS]]] = True
    return torch.nonzero(~held_out).flatten(), torch.nonzero(held_out).flatten()


def train_digits_classifier(model, fast, progress):
    """Cross-entropy on the train split less its held-out 300 images (classifier_split);
    returns the EMA model."""
    images, labels = digits.load("train")
    fit, _ = classifier_split()
    history = train.fit(
        model,
        classifier.cross_entropy,
        (images[fit], labels[fit]),
        steps=30 if fast else 250,
        batch_size=64,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.98,
        generator=torch.Generator().manual_seed(2),
        progress=progress,
    )
    return history.ema.model


class ClassConditional(nn.Module):
    """net(x, t, y=y) called as net(x, t, y): targets.Denoiser passes conditions by position,
    the UNet takes class labels by keyword."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.config = net, net.config

    def forward(self, x, t, y=None):
        return self.net(x, t, y=y)


def build_digits_unet():
    attention = Block(num_heads=2)  # attention at 4x4 only: 16-32-64 channels fit a CPU budget
    stages = (Stage(16), Stage(32), Stage(64, attention=attention))
    with seeded_init():
        return targets.Denoiser(ClassConditional(unet_small(stages=stages)), VP(), "v")


def null_label(denoiser) -> torch.Tensor:
    """The label a class-conditional UNet reads as "no class": num_classes."""
    return torch.tensor(denoiser.net.config["num_classes"])


def train_digits_unet(model, fast, progress):
    """v-prediction DSM with 10 % label dropout on the digits train split; the EMA model."""
    images, labels = digits.load("train")
    loss_fn = functools.partial(losses.cfg_dsm, sde=model.sde, null=(null_label(model),))
    history = train.fit(
        model,
        loss_fn,
        (images, labels),
        steps=20 if fast else 800,
        batch_size=64,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(3),
        progress=progress,
    )
    return history.ema.model


digits_classifier = zoo.Recipe(
    "digits_classifier", build_digits_classifier, train_digits_classifier
)
digits_unet = zoo.Recipe("digits_unet", build_digits_unet, train_digits_unet)
