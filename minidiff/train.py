"""The training loop; the EMA (ema.py) and checkpoints (checkpoint.py) it uses resume exactly.

fit() is DDPM's loop (Ho et al. 2020, Alg. 1) with AdamW and an EMA of the weights. Notable choices:
* One CPU torch.Generator drives all randomness (minibatches, and loss_fn's noise) and is saved
  in checkpoints, so a stopped and resumed run equals an uninterrupted one bit for bit.
* A checkpoint records the run's lr, batch_size, ema_decay, data (shapes and sha256) and world
  size; resuming with any of them changed is refused, naming the argument. steps may grow (the
  run continues), log_every, val_data, progress and compile may change (the maths is the same).
* Host work per step does not grow with the model: AdamW fused (CPU, CUDA) or foreach, clipping
  and the EMA as foreach ops, and no host sync: the losses are read back every log_every steps,
  where the non-finite stop is checked (before any save, so a checkpoint never holds NaNs).
* Under torchrun the ranks split each minibatch and average gradients (distributed.py).
"""

import functools
import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checks, distributed
from .checkpoint import (  # noqa: F401
    CheckpointError,
    check_same_run,
    load_checkpoint,
    next_checkpoint,
    read_info,
    save_checkpoint,
)
from .ema import EMA  # noqa: F401  (train.EMA)
from .files import file_path

LOSS_FN = "a function loss_fn(model, *batch, generator) -> scalar tensor"


@dataclass
class History:
    """What fit() returns: the loss at each step run, and the EMA model's validation loss."""

    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    ema: EMA | None = None
    seconds: float = 0.0


def device_of(model: nn.Module) -> torch.device:
    """The device of model's first parameter (or buffer); cpu for a model with neither."""
    tensor = next(model.parameters(), None)
    tensor = next(model.buffers(), None) if tensor is None else tensor
    return torch.device("cpu") if tensor is None else tensor.device


def _as_tuple(data, name: str) -> tuple:
    """data (a tensor or a sequence of tensors) as a tuple of finite tensors with one first dim
    N > 0 (checked once, before training: a NaN there is bad data, not a diverging run)."""
    data = (data,) if isinstance(data, torch.Tensor) else data
    if not isinstance(data, (tuple, list)) or not all(isinstance(d, torch.Tensor) for d in data):
        raise TypeError(f"{name}: expected a tensor (N, ...) or a tuple of them, got "
                        f"{checks.describe(data)}")  # fmt: skip
    if len({d.shape[:1] for d in data}) != 1 or data[0].shape[:1] in [(), (0,)]:
        raise ValueError(f"{name}: expected one first dim N > 0, got {[d.shape for d in data]}")
    return tuple(checks.check_tensor(name, d, floating=False) for d in data)


def _check_fit_args(model, loss_fn, steps, batch_size, lr, ema_decay, log_every, checkpoint,
                    generator, sampler=None):  # fmt: skip
    """The arguments of fit, checked; the generator to use (a fresh one seeded from the global
    RNG if None, so that torch.manual_seed makes runs repeatable)."""
    checks.check_instance("model", model, nn.Module, "an MLP(...)")
    checks.check_callable("loss_fn", loss_fn, LOSS_FN)
    steps = checks.check_int("steps", steps, 1)
    batch_size = checks.check_int("batch_size", batch_size, 1)
    checks.check_int("log_every", log_every, 1), checks.check_float("lr", lr, 0, open_low=True)
    checks.check_float("ema_decay", ema_decay, 0, 1, open_high=True)
    if checkpoint is not None:
        file_path("checkpoint", checkpoint)
    if sampler is not None:
        checks.check_callable("sampler", sampler, "a sampler(n, batch_size, generator) -> indices")
    if checks.check_generator("generator", generator, "cpu") is None:
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, ())))
    return steps, batch_size, generator


def _run_record(lr, batch_size, ema_decay, data) -> dict:
    """What a checkpoint records of a run and fit compares on resume (JSON-able)."""
    digest = hashlib.sha256()
    for d in data:  # the bytes of each tensor (bf16 and bool too, viewed as bytes)
        digest.update(d.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    shapes = [f"{tuple(d.shape)} {d.dtype}" for d in data]
    world_size = distributed.world()[1]
    data = dict(shapes=shapes, sha256=digest.hexdigest())
    return dict(lr=float(lr), batch_size=batch_size, ema_decay=float(ema_decay), data=data,
                world_size=world_size)  # fmt: skip


def _check_resumable(path, run: dict, steps: int) -> None:
    """Refuse to resume the checkpoint at path with other arguments than its run's."""
    info = read_info(path)
    check_same_run(path, info["run"], run)
    if info["step"] > steps:
        raise CheckpointError(f"steps: the checkpoint {path} is at step {info['step']}, beyond "
                              f"steps={steps}; pass steps >= {info['step']}")  # fmt: skip


def _adamw(model: nn.Module, lr: float) -> torch.optim.AdamW:
    """AdamW in one fused kernel on the CPU and CUDA, in foreach form elsewhere (e.g. MPS)."""
    fused = device_of(model).type in ("cpu", "cuda")
    return torch.optim.AdamW(model.parameters(), lr=lr, fused=fused, foreach=not fused or None)


def clip_gradients(params: list, max_norm: float) -> torch.Tensor:
    """Scale the gradients so that their global L2 norm is at most max_norm (as
    nn.utils.clip_grad_norm_, in a fixed handful of foreach ops and no host sync); the norm."""
    max_norm = checks.check_float("max_norm", max_norm, 0, open_low=True)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))
    return norm


def _checked_loss(loss, grad: bool = True):
    """loss_fn's result, if it is a scalar tensor (that depends on the parameters, if grad)."""
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"loss_fn: expected {LOSS_FN}, it returned {checks.describe(loss)}")
    if loss.ndim != 0:
        raise ValueError(f"loss_fn: returned {checks.describe(loss)}, expected a scalar (0-dim) "
                         "tensor; average per-sample losses, e.g. return loss.mean()")  # fmt: skip
    if grad and not loss.requires_grad:
        raise ValueError("loss_fn: returned a loss that does not depend on the model's trained "
                         "parameters (no grad); compute it from model(...)")  # fmt: skip
    return loss


def _train_step(model, loss_fn, data, draw, optimizer, ema, generator, step):
    """One AdamW step on the minibatch draw(generator) indexes (drawn on the CPU; under torchrun
    each rank takes its share), then the EMA update; returns the loss without a host sync."""
    idx = draw(generator)
    idx, noise_generator = distributed.shard(idx, generator, step)
    idx = idx.to(data[0].device, non_blocking=True)
    loss = _checked_loss(loss_fn(model, *[d[idx] for d in data], generator=noise_generator))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loss = distributed.average_gradients(model, loss.detach())
    clip_gradients(list(model.parameters()), 1.0)
    optimizer.step()
    ema.update(model)
    return loss


def _log(history: History, losses: list, last_step: int, bar) -> list:
    """Read the pending losses back (one sync); stop at the first non-finite one; [] (the
    pending losses from now on)."""
    values = torch.stack(losses).float().cpu().tolist()
    first = last_step - len(values) + 1
    for step, value in enumerate(values, first):
        if value != value or abs(value) == float("inf"):
            raise FloatingPointError(f"fit: the loss is {value} at step {step}; the data "
                                     "is finite, so the run diverged: try a lower lr")  # fmt: skip
    history.steps += range(first, last_step + 1)
    history.loss += values
    bar.set_postfix(loss=f"{values[-1]:.4g}", refresh=False)
    return []


def uniform_sampler(n: int, batch_size: int, generator) -> torch.Tensor:
    """fit's default minibatch: batch_size indices into n examples, uniform with replacement."""
    return torch.randint(n, (batch_size,), generator=generator)


@torch.no_grad()
def evaluate(model, loss_fn, data, batch_size: int = 256, seed: int = 0) -> float:
    """Mean loss over `data`, with noise from a fresh generator seeded `seed`: runs compare."""
    checks.check_instance("model", model, nn.Module)
    checks.check_callable("loss_fn", loss_fn, LOSS_FN)
    data, batch_size = _as_tuple(data, "data"), checks.check_int("batch_size", batch_size, 1)
    generator = torch.Generator().manual_seed(checks.check_int("seed", seed))
    device = device_of(model)
    total = 0.0
    for i in range(0, len(data[0]), batch_size):
        batch = [d[i : i + batch_size].to(device) for d in data]
        loss = _checked_loss(loss_fn(model, *batch, generator=generator), grad=False)
        total += loss.item() * len(batch[0])
    return total / len(data[0])


def _resume(checkpoint, model, state: dict, run: dict, steps: int, given: bool) -> int:
    """load_checkpoint, if the checkpoint's run had the same arguments. A build's own checkpoint
    (not given) that can't be used is dropped and the fit starts afresh, which, every seed being
    fixed, ends where it would have; a given one raises CheckpointError, naming what differs."""
    try:
        _check_resumable(checkpoint, run, steps)
        return load_checkpoint(checkpoint, model, **state)
    except CheckpointError as err:
        if given:
            raise
        warnings.warn(f"fit: starting afresh, {checkpoint} is unusable ({err})", stacklevel=3)
        return 0


def fit(model, loss_fn, data, *, steps, batch_size=256, lr=1e-3, ema_decay=0.999, val_data=None,
        checkpoint=None, generator=None, progress=None, log_every=100, compile=False,
        sampler=None):  # fmt: skip
    """Train `model` by AdamW on random minibatches of `data` (a tensor or tuple of tensors, moved
    once to the model's device; sampler(n, batch_size, generator) -> indices draws them, default
    uniform_sampler), with loss_fn(model, *batch, generator=generator) -> scalar. Every `log_every`
    steps and at the end: the non-finite check, the EMA model's loss on `val_data`,
    and a save to `checkpoint` (a path; default: see checkpoint.checkpoints_in), resumed if present
    and made with the same lr, batch_size, ema_decay and data (else CheckpointError). compile=True:
    through torch.compile (off by default: it pays only for long GPU runs, after a long compile)."""
    args = _check_fit_args(model, loss_fn, steps, batch_size, lr, ema_decay, log_every, checkpoint,
                           generator, sampler)  # fmt: skip
    (steps, batch_size, generator), rank = args, distributed.setup(model, batch_size)
    data, optimizer, ema = _as_tuple(data, "data"), _adamw(model, lr), EMA(model, ema_decay)
    checks.check_signature("loss_fn", loss_fn, model, *data, generator=None, expected=LOSS_FN)
    val_data = None if val_data is None else _as_tuple(val_data, "val_data")
    given, checkpoint = checkpoint is not None, checkpoint or next_checkpoint()
    run = None if checkpoint is None else _run_record(lr, batch_size, ema_decay, data)
    state = dict(ema=ema, optimizer=optimizer, generator=generator)  # what a checkpoint restores
    history, start, t0, losses = History(ema=ema), 0, time.perf_counter(), []
    if checkpoint is not None and os.path.exists(checkpoint):
        start = _resume(checkpoint, model, state, run, steps, given)
    data, sampler = tuple(d.to(device_of(model)) for d in data), sampler or uniform_sampler
    draw = functools.partial(sampler, len(data[0]), batch_size)
    forward = torch.compile(model) if compile else model  # the same parameters either way
    steps_left = range(start + 1, steps + 1)
    bar = tqdm(steps_left, initial=start, total=steps, disable=not progress or rank != 0)
    for step in bar:
        model.train()
        losses.append(_train_step(forward, loss_fn, data, draw, optimizer, ema, generator, step))
        if step % log_every and step != steps:
            continue
        losses = _log(history, losses, step, bar)
        if val_data is not None:
            history.val_steps.append(step)
            history.val_loss.append(evaluate(ema.model, loss_fn, val_data, batch_size))
        if checkpoint is not None and rank == 0:
            save_checkpoint(checkpoint, model, step=step, run=run, **state)
    history.seconds = time.perf_counter() - t0
    return history
