"""Zoo recipe for the 2-D lessons: lesson 03's ring teacher (an MLP eps-predictor on VP)."""

import functools

import torch

from .. import losses, targets, train, zoo
from ..data import toy2d
from ..nets.mlp import MLP
from ..sde import VP
from ..zoo import seeded_init


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
