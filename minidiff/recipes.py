"""The course's zoo recipes: every model a lesson loads with zoo.load, built by `make zoo`.

Each recipe is two plain functions (build, train) bundled in a zoo.Recipe; fast mode trains a
tiny version. python -m minidiff.recipes [--fast] trains whatever is missing from the cache.
"""

import argparse
import functools

import torch

from . import losses, targets, train, zoo
from .data import toy2d
from .nets.mlp import MLP
from .sde import VP


def build_ring_teacher():
    torch.manual_seed(0)
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
ALL = [ring_teacher]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train every zoo model missing from the cache.")
    parser.add_argument("--fast", action="store_true", help="the tiny fast-mode versions")
    print(zoo.build_all(ALL, fast=parser.parse_args().fast or None))
