"""The course's zoo recipes: every model a lesson loads with zoo.load, built by `make zoo`.

Each recipe is two plain functions (build, train) bundled in a zoo.Recipe; fast mode trains a
tiny version. python -m minidiff.recipes [--fast] trains whatever is missing from the cache.
Digits (lesson 04): a classifier (the judge and feature net of FD) and a class-conditional UNet
trained with classifier-free guidance's label dropout (Ho & Salimans 2022).
"""

import argparse
import contextlib
import functools

import torch
from torch import nn

from . import losses, targets, train, zoo
from .data import digits, toy2d
from .nets import classifier
from .nets.attention import Block
from .nets.mlp import MLP
from .nets.unet import Stage, unet_small
from .sde import VP


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Seed the global RNG for a model's initialisation, then restore the caller's RNG state:
    every build gives the same weights, and the library leaves no trace on the global seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_ring_teacher():
    with seeded_init():
        return targets.Denoiser(MLP(hidden=128, depth=3, time_scale=50.0), VP(), "eps")


def train_ring_teacher(model, fast, progress):
    """DSM on 50k ring samples (lesson 03's setting); returns the EMA model."""
    data = toy2d.ring().sample(50_000, generator=torch.Generator().manual_seed(0))
    loss_fn = functools.partial(losses.dsm, sde=model.sde)
    history = train.fit(
        model,
        loss_fn,
        data,
        steps=200 if fast else 4000,
        batch_size=512,
        lr=2e-3,
        ema_decay=0.995,
        generator=torch.Generator().manual_seed(1),
        progress=progress,
    )
    return history.ema.model


ring_teacher = zoo.Recipe("ring_teacher", build_ring_teacher, train_ring_teacher)


def build_digits_classifier():
    with seeded_init():
        return classifier.Classifier(in_channels=1, heads={"digit": 10}, width=16, depth=3)


def train_digits_classifier(model, fast, progress):
    """Cross-entropy on the digits train split (1,497 images); returns the EMA model."""
    images, labels = digits.load("train")
    history = train.fit(
        model,
        classifier.cross_entropy,
        (images, labels),
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


def drop_labels(y: torch.Tensor, null_label: int, p: float = 0.1, generator=None):
    """y with each label replaced by `null_label` with probability p (Ho & Salimans 2022, Alg. 1):
    one network learns both the conditional and the unconditional denoiser."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")
    drop = torch.rand(y.shape, generator=generator) < p  # drawn on the CPU, like train.fit's
    return torch.where(drop.to(y.device), torch.full_like(y, null_label), y)


def cfg_dsm(
    denoiser, x0, y, *, sde, null_label, p_uncond=0.1, weighting=losses.v_weight, generator=None
):
    """losses.dsm with classifier-free guidance's label dropout (p_uncond of labels -> null)."""
    y = drop_labels(y, null_label, p_uncond, generator)
    return losses.dsm(denoiser, x0, y, sde=sde, weighting=weighting, generator=generator)


def build_digits_unet():
    attention = Block(num_heads=2)  # attention at 4x4 only: 16-32-64 channels fit a CPU budget
    stages = (Stage(16), Stage(32), Stage(64, attention=attention))
    with seeded_init():
        return targets.Denoiser(ClassConditional(unet_small(stages=stages)), VP(), "v")


def train_digits_unet(model, fast, progress):
    """v-prediction DSM with 10 % label dropout on the digits train split; the EMA model."""
    images, labels = digits.load("train")
    null_label = model.net.config["num_classes"]
    loss_fn = functools.partial(cfg_dsm, sde=model.sde, null_label=null_label, p_uncond=0.1)
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
ALL = [ring_teacher, digits_classifier, digits_unet]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train every zoo model missing from the cache.")
    parser.add_argument("--fast", action="store_true", help="the tiny fast-mode versions")
    print(zoo.build_all(ALL, fast=parser.parse_args().fast or None))
