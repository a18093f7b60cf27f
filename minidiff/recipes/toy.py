"""Zoo recipes for the 2-D lessons: lesson 03's seed runs (ring_seeds: eps, x0, v and velocity
prediction, and eps with time_scale 1000, each with SEEDS training seeds); lesson 08's v-predictor
of the ring (a one-step generator needs x0_hat to be well conditioned at t = 1, where x0 from eps
divides by alpha(1) = 0.0064); and an eps ring teacher in the same setting, which no lesson loads
yet (a teacher for the distillation lessons)."""

import functools

import torch
from torch import nn

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


# Lesson 03: the four parameterisations on one process, each trained with SEEDS training seeds
# (seed i: the initial weights and the minibatch/noise order), plus the eps model with DDPM's
# time_scale 1000 (the contrast of the Euler-vs-Heun claim). The settings below are in the
# models' config, so the zoo's fingerprint sees them; bump VERSION when the code of fit_seed or
# ring_data changes (the fingerprint reads only build_seed_runs and train_seed_runs).
SEEDS, EVALS, VERSION = 3, 16, 1  # EVALS: validation losses per run (every steps / EVALS)
SEED_STEPS = {False: 4000, True: 48}  # by fast
TRAINING = dict(batch_size=512, lr=2e-3, ema_decay=0.995)
SEED_RUNS = {"eps": 50.0, "x0": 50.0, "v": 50.0, "velocity": 50.0, "eps_ts1000": 1000.0}


def ring_data():
    """Lesson 03's data: the ring of 8 Gaussians with std 0.2 (true NLL about 1.7 nats, well
    away from 0) and, from one seeded generator, 50k training and 2k validation samples."""
    mixture = toy2d.ring(std=0.2)
    g = torch.Generator().manual_seed(0)
    return mixture, mixture.sample(50_000, generator=g), mixture.sample(2000, generator=g)


def build_seed_model(prediction: str, seed: int = 0, time_scale: float = 50.0):
    """The MLP denoiser of lesson 03 on VP, its initial weights drawn with `seed`."""
    with seeded_init(seed):
        net = MLP(hidden=128, depth=3, time_scale=time_scale)
    return targets.Denoiser(net, VP(), prediction)


def fit_seed(model, seed: int, steps: int, progress=False) -> train.History:
    """DSM with the network's native weighting (its own MSE), minibatches and noise from `seed`;
    the EMA model's validation loss every steps / EVALS steps."""
    _, data, val = ring_data()
    weighting = losses.native_weight(model.prediction)
    return train.fit(
        model,
        functools.partial(losses.dsm, sde=model.sde, weighting=weighting),
        data,
        steps=steps,
        **TRAINING,
        val_data=val,
        log_every=steps // EVALS,
        generator=torch.Generator().manual_seed(100 + seed),
        progress=progress,
    )


class SeedRuns(nn.Module):
    """models[i]: the EMA denoiser trained with seed i; val_loss[i]: its validation loss at
    val_steps (buffers, set by training)."""

    def __init__(self, prediction: str, time_scale: float = 50.0, count: int = SEEDS):
        super().__init__()
        builds = (build_seed_model(prediction, i, time_scale) for i in range(count))
        self.models = nn.ModuleList(builds)
        self.register_buffer("val_steps", torch.zeros(EVALS, dtype=torch.long))
        self.register_buffer("val_loss", torch.zeros(count, EVALS, dtype=torch.float64))
        steps = {"full": SEED_STEPS[False], "fast": SEED_STEPS[True]}  # each a multiple of EVALS
        training = dict(steps=steps, evals=EVALS, **TRAINING)
        self.config = dict(count=count, model=self.models[0].config, training=training)


def build_seed_runs(name: str):
    return SeedRuns(name.split("_")[0], SEED_RUNS[name])


def train_seed_runs(runs, fast, progress):
    """fit_seed for each seed in turn (SEED_STEPS[fast] steps); the EMA models and val curves."""
    for i, model in enumerate(runs.models):
        history = fit_seed(model, i, SEED_STEPS[fast], progress)
        runs.models[i] = history.ema.model
        runs.val_loss[i] = torch.tensor(history.val_loss, dtype=torch.float64)
        runs.val_steps.copy_(torch.tensor(history.val_steps))
    return runs


ring_seeds = {
    name: zoo.Recipe(
        f"ring_{name}_seeds",
        functools.partial(build_seed_runs, name),
        train_seed_runs,
        version=VERSION,
    )
    for name in SEED_RUNS
}
