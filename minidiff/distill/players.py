"""The training loop of a two-player distillation: a generator G and a second network D (UFOGen's
discriminator, DMD's fake-score critic), each with its own optimiser, taking turns.

A game is any object with G, D, opt_g, opt_d, `hyper` (its settings, kept in checkpoints) and two
steps, d_step(*batch, generator=...) -> loss and g_step(*batch, generator=...) -> {"loss": total,
and any parts}, each updating its own player only. fit alternates them on random minibatches:
a D step every d_every-th iteration and a G step every g_every-th (UFOGen: D every 2nd; DMD2's
two-time-scale rule: G every 5th), keeps an EMA of G (updated after each G step) and snapshots
of it, and checkpoints both players so that an interrupted run resumes where it stopped.
"""

import copy
import functools
import os
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .. import distributed, train
from ..checkpoint import CheckpointError, check_fits, check_same_run, next_checkpoint
from ..checks import check_float, check_generator, check_int, describe
from ..files import atomic_write


@dataclass
class History:
    """fit's record: D's and G's losses per step, G's loss parts by name, and the EMA
    generator's weights at `snapshots` (iterations)."""

    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    parts: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    ema: train.EMA | None = None


def update(loss, params: list, optimizer, who: str) -> float:
    """One step of one player: backward into `params` only (the other player is untouched),
    gradients clipped at norm 1, the optimiser's step; a non-finite loss raises, naming `who`."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{who} loss is {loss.item()}; try a lower lr")
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=params)  # this player's parameters only
    train.clip_gradients(params, 1.0)
    optimizer.step()
    return loss.item()


def _check_snapshots(snapshots) -> set:
    if not isinstance(snapshots, (tuple, list, set, range)):
        raise TypeError(f"snapshots: expected a collection of steps, e.g. (50, 200), got "
                        f"{describe(snapshots)}")  # fmt: skip
    return {check_int("snapshots", step, 1) for step in snapshots}


def _record(history: History, out: dict) -> None:
    history.g_loss.append(out["loss"])
    for name, value in out.items():
        if name != "loss":
            history.parts.setdefault(name, []).append(value)


def fit(game, data, *, steps, batch_size=64, d_every=1, g_every=1, ema_decay=0.99,
        snapshots=(), generator=None, progress=None, checkpoint=None,
        desc="distillation") -> History:  # fmt: skip
    """Alternate the players for `steps` iterations on random minibatches of data (x0, *cond):
    a D step on iterations 1, 1 + d_every, ..., a G step and the EMA update on iterations
    g_every, 2 g_every, ... (every iteration when g_every = 1). Every 100 iterations both players'
    state goes to `checkpoint` (a path; default: see checkpoint.checkpoints_in), resumed if
    present (the losses before it are not kept)."""
    steps, batch_size = check_int("steps", steps, 1), check_int("batch_size", batch_size, 1)
    d_every, g_every = check_int("d_every", d_every, 1), check_int("g_every", g_every, 1)
    data, snapshots = train._as_tuple(data, "data"), _check_snapshots(snapshots)
    generator = check_generator("generator", generator, "cpu") or torch.Generator().manual_seed(0)
    ema_decay = check_float("ema_decay", ema_decay, 0, 1, open_high=True)
    history = History(ema=train.EMA(game.G, ema_decay))
    given, checkpoint = checkpoint is not None, checkpoint or next_checkpoint(".pt")
    run = train._run_record(game.hyper["lr"], batch_size, ema_decay, data) | game.hyper
    run |= dict(d_every=d_every, g_every=g_every)
    start = _restore(checkpoint, game, history, generator, run, given) if checkpoint else 0
    device = next(game.G.parameters()).device
    for step in tqdm(range(start + 1, steps + 1), desc=desc, disable=not progress):
        idx = torch.randint(len(data[0]), (batch_size,), generator=generator)
        batch = [d[idx].to(device) for d in data]
        if (step - 1) % d_every == 0:
            history.d_loss.append(game.d_step(*batch, generator=generator))
        if step % g_every == 0:
            _record(history, game.g_step(*batch, generator=generator))
            history.ema.update(game.G)
        if step in snapshots:
            history.snapshots[step] = copy.deepcopy(history.ema.model.state_dict())
        if checkpoint and (step % 100 == 0 or step == steps) and distributed.world()[0] == 0:
            _save(checkpoint, game, history, generator, step, run)
    return history


def _save(path, game, history: History, generator, step: int, run: dict) -> None:
    """Everything fit needs to go on from `step`, in one file written atomically."""
    state = dict(step=step, G=game.G.state_dict(), D=game.D.state_dict(),
                 opt_g=game.opt_g.state_dict(), opt_d=game.opt_d.state_dict(),
                 ema=history.ema.model.state_dict(), snapshots=history.snapshots,
                 generator=generator.get_state(), run=run)  # fmt: skip
    atomic_write(path, functools.partial(torch.save, state))


def _read(path, game, history: History, run: dict) -> dict:
    """The _save file at path, checked (same run arguments, players' shapes) before any load."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        check_same_run(path, state["run"], run)
        for key, module in dict(G=game.G, D=game.D, ema=history.ema.model).items():
            check_fits(path, module, state[key], key)
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a {type(game).__name__} checkpoint "
                              f"({err})") from err  # fmt: skip
    return state


def _restore(path, game, history: History, generator, run: dict, given: bool) -> int:
    """Load a _save file into the players, optimisers, EMA and generator; its step (0: none, or
    a build's own checkpoint that can't be used: it starts afresh, with a warning)."""
    if not os.path.exists(path):
        return 0
    try:
        state = _read(path, game, history, run)
    except CheckpointError as err:
        if given:
            raise
        warnings.warn(f"{type(game).__name__}: starting afresh, {path} is unusable ({err})",
                      stacklevel=3)  # fmt: skip
        return 0
    owners = dict(G=game.G, D=game.D, opt_g=game.opt_g, opt_d=game.opt_d)
    for key, owner in (owners | dict(ema=history.ema.model)).items():
        owner.load_state_dict(state[key])
    history.snapshots.update(state["snapshots"])
    generator.set_state(state["generator"])
    return state["step"]
