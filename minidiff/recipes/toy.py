"""Zoo recipes for the 2-D lessons: lesson 03's ring teacher (an MLP eps-predictor on VP) and
lesson 08's v-predictor of the same ring (a one-step generator needs x0_hat to be well conditioned
at t = 1, where x0 from eps divides by alpha(1) = 0.0064)."""

import functools

import torch

from .. import losses, targets, train, zoo
from ..data import toy2d
from ..nets.mlp import MLP
from ..sde import VP
from ..zoo import seeded_init


def build_ring_teacher(prediction: str = "eps"):
    with seeded_init():
        return targets.Denoiser(MLP(hidden=128, depth=3, time_scale=50.0), VP(), prediction)


def train_ring_teacher(model, fast, progress):
    """DSM on 50k ring samples (lesson 03's setting), weighted as the network's own MSE (eps or
    v); returns the EMA model."""
    data = toy2d.ring().sample(50_000, generator=torch.Generator().manual_seed(0))
    weighting = losses.v_weight if model.prediction == "v" else losses.snr_weight
    loss_fn = functools.partial(losses.dsm, sde=model.sde, weighting=weighting)
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
ring_v_teacher = zoo.Recipe(
    "ring_v_teacher", functools.partial(build_ring_teacher, "v"), train_ring_teacher
)
