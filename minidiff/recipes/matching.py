"""Zoo recipes for lesson 11 (distribution matching distillation, minidiff.distill.dmd), its 2-D
part.

* grid_v_teacher: an MLP v-predictor of the 25-mode grid (toy2d.grid()), the 2-D teacher (v, not
  eps: a one-step generator reads x0_hat at t = 1, where x0 from eps divides by alpha(1)).
* toy_runs[variant][seed]: one-step students of grid_v_teacher, TOY_G_STEPS generator steps each,
  RUN_SEEDS training seeds (the minibatches and the noise and time draws; every player starts as
  the teacher): "dmd" (DM + 0.25 regression on teacher ODE pairs, 1:1), "dm_only" (DM alone, 1:1),
  "reg_only" (the regression alone) and "dmd2" (DM alone, 5 fake-model steps per generator step).
  Each keeps its learning curve (modes covered and precision of the EMA generator at TOY_POINTS
  snapshots) and the mean of the generator's raw samples at every generator step (the running
  statistic whose drift shows an oscillating generator).
"""

import functools

import torch
from torch import nn

from .. import losses, metrics, targets, train, zoo
from ..data import toy2d
from ..distill import dmd
from ..nets.mlp import MLP
from ..sde import VP
from ..zoo import seeded_init
from . import curves

RUN_SEEDS, TOY_G_STEPS, TOY_POINTS, TOY_LR, TOY_BATCH = 3, 2000, 10, 3e-4, 256
PAIRS, PAIR_NFE, EVAL_N = 10_000, 50, 4000  # regression pairs (DDIM steps); samples per point
TOY_VARIANTS = {
    "dmd": dict(weights=(1.0, 0.25), ratio=1),
    "dm_only": dict(weights=(1.0, 0.0), ratio=1),
    "reg_only": dict(weights=(0.0, 1.0), ratio=1),
    "dmd2": dict(weights=(1.0, 0.0), ratio=5),
}
SEEDS = dict(data=0, teacher=1, pairs=6, eval=5)


def grid_data(n: int = 50_000) -> torch.Tensor:
    return toy2d.grid().sample(n, generator=torch.Generator().manual_seed(SEEDS["data"]))


def build_grid_teacher():
    with seeded_init():
        return targets.Denoiser(MLP(hidden=128, depth=3, time_scale=50.0), VP(), "v")


def train_grid_teacher(model, fast, progress):
    """v-prediction DSM (the v MSE) on 50k grid samples; the EMA model."""
    loss_fn = functools.partial(losses.dsm, sde=model.sde, weighting=losses.v_weight)
    history = train.fit(model, loss_fn, grid_data(), steps=200 if fast else 6000, batch_size=512,
                        lr=2e-3, ema_decay=0.995, progress=progress,
                        generator=torch.Generator().manual_seed(SEEDS["teacher"]))  # fmt: skip
    return history.ema.model


class ToyRun(nn.Module):
    """G: the EMA one-step generator; buffers: its learning curve (iterations, modes covered,
    precision) and `trace`, the mean of the raw generator's samples at every generator step."""

    def __init__(self, G: nn.Module, points: int, g_steps: int, config: dict):
        super().__init__()
        self.G, self.config = G, {**config, "points": points, "g_steps": g_steps}
        self.register_buffer("steps", torch.zeros(points, dtype=torch.long))
        self.register_buffer("modes", torch.zeros(points, dtype=torch.float64))
        self.register_buffer("precision", torch.zeros(points, dtype=torch.float64))
        self.register_buffer("trace", torch.zeros(g_steps, dtype=torch.float64))


def toy_schedule(variant: str, fast: bool) -> tuple[int, list[int]]:
    """(iterations, the snapshot iterations): TOY_G_STEPS generator steps at the variant's
    ratio, TOY_POINTS evenly spaced snapshots (fast: 10 generator steps, 2 snapshots)."""
    g_steps, points = (10, 2) if fast else (TOY_G_STEPS, TOY_POINTS)
    iterations = g_steps * TOY_VARIANTS[variant]["ratio"]
    return iterations, [iterations * i // points for i in range(1, points + 1)]


def build_toy_run(variant: str, seed: int):
    if variant not in TOY_VARIANTS:
        raise ValueError(f"variant: expected one of {tuple(TOY_VARIANTS)}, got {variant!r}")
    return ToyRun(build_grid_teacher(), TOY_POINTS, TOY_G_STEPS, dict(variant=variant, seed=seed))


def score(G, fast: bool) -> tuple[float, float]:
    """(modes covered of 25, precision) of G's one-step samples of EVAL_N fixed noises."""
    z = torch.randn(
        64 if fast else EVAL_N, 2, generator=torch.Generator().manual_seed(SEEDS["eval"])
    )
    coverage, precision = metrics.mode_coverage(dmd.sample(G, z, (1.0,)), toy2d.grid().means, 0.1)
    return round(25 * coverage), precision


def train_toy_run(run, fast, progress, variant, seed):
    """dmd.fit of the teacher's copies on grid samples; the curve from the EMA snapshots."""
    teacher = zoo.load(grid_v_teacher, fast=fast, progress=progress)
    weights, ratio = TOY_VARIANTS[variant]["weights"], TOY_VARIANTS[variant]["ratio"]
    pairs = None
    if weights[1]:
        noise = torch.randn(PAIRS, 2, generator=torch.Generator().manual_seed(SEEDS["pairs"]))
        pairs = dmd.teacher_pairs(teacher, noise, PAIR_NFE)
    game = dmd.DMD(teacher, lr=TOY_LR, weights=weights, pairs=pairs)
    iterations, snapshots = toy_schedule(variant, fast)
    history = dmd.fit(game, grid_data(), steps=iterations, batch_size=TOY_BATCH, ratio=ratio,
                      snapshots=snapshots, generator=torch.Generator().manual_seed(100 + seed),
                      progress=progress)  # fmt: skip
    for i, step in enumerate(snapshots):
        game.G.load_state_dict(history.snapshots[step])
        run.steps[i], (run.modes[i], run.precision[i]) = step, score(game.G, fast)
    run.trace[: len(history.parts["mean"])] = torch.tensor(history.parts["mean"])
    run.G = history.ema.model
    return run


grid_v_teacher = zoo.Recipe("grid_v_teacher", build_grid_teacher, train_grid_teacher)
toy_runs = curves.seed_runs(
    "dmd_toy",
    TOY_VARIANTS,
    RUN_SEEDS,
    build_toy_run,
    train_toy_run,
    key="variant",
    needs=(grid_v_teacher,),
)
