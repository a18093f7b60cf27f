"""A training run that keeps its learning curve (lessons 06 and 07).

Run holds a run's EMA model and, as buffers, the accuracy measured at given training steps; legs()
trains to each of those steps in turn, resuming one checkpoint, and measures the EMA model after
each leg. The pauses do not change the run: each leg resumes the weights, EMA, optimizer and batch
order where the last one stopped.
"""

import functools
import json

import torch
from torch import nn

from .. import zoo
from ..files import atomic_write


class Run(nn.Module):
    """model: one training seed's EMA model; steps, accuracy: its learning curve, the accuracy (%)
    of its EMA model at those training steps (buffers, set by training); config: what the run
    is, for the zoo's fingerprint."""

    def __init__(self, model: nn.Module, points: int, config: dict):
        super().__init__()
        self.model = model
        self.register_buffer("steps", torch.zeros(points, dtype=torch.long))
        self.register_buffer("accuracy", torch.zeros(points, dtype=torch.float64))
        self.config = {**config, "points": points}


def legs(run: Run, fit, steps: list[int], path, measure) -> nn.Module:
    """fit(model, steps=s, checkpoint=path) to each s of `steps` in turn, measure(EMA model) after
    each leg (a step 0 measures the model as it starts); returns the last EMA model. The curve so
    far is kept beside the checkpoint, so a resumed build does not redo (or lose) finished legs."""
    record = path.with_suffix(".curve.json")
    curve = json.loads(record.read_text()) if record.exists() else {}
    ema = run.model
    for step in steps:
        if str(step) in curve and step != steps[-1]:
            continue
        if step > 0:
            ema = fit(run.model, steps=step, checkpoint=path).ema.model
        curve.setdefault(str(step), measure(ema.eval()))
        atomic_write(record, lambda f: f.write(json.dumps(curve).encode()))
    run.steps.copy_(torch.tensor(steps))
    run.accuracy.copy_(torch.tensor([curve[str(s)] for s in steps], dtype=torch.float64))
    return ema


def seed_runs(prefix: str, names, seeds: int, build, train, key="name", needs=()) -> dict:
    """{name: [one zoo.Recipe per training seed]}: f"{prefix}_{name}_seed{seed}", built by
    build(name, seed) and trained by train(model, fast, progress, key=name, seed=seed)."""
    return {
        name: [
            zoo.Recipe(
                f"{prefix}_{name}_seed{seed}",
                functools.partial(build, name, seed),
                functools.partial(train, **{key: name, "seed": seed}),
                needs=tuple(needs),
            )
            for seed in range(seeds)
        ]
        for name in names
    }
