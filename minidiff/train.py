"""The training loop and an EMA of the weights; checkpoints (checkpoint.py) resume it exactly.

fit() is DDPM's loop (Ho et al. 2020, Alg. 1) with AdamW and an EMA of the weights. Notable choices:
* One CPU torch.Generator drives all randomness (minibatches, and loss_fn's noise) and is saved
  in checkpoints, so a stopped and resumed run equals an uninterrupted one bit for bit.
* Host work per step does not grow with the model: AdamW fused (CPU, CUDA) or foreach, clipping
  and the EMA as foreach ops, and no host sync: the losses are read back every log_every steps,
  where the non-finite stop is checked (before any save, so a checkpoint never holds NaNs).
* Under torchrun the ranks split each minibatch and average gradients (distributed.py).
"""

import contextlib
import contextvars
import copy
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401
from .checks import check_int


class EMA:
    """EMA of the weights, shadow = decay shadow + (1 - decay) param, in `ema.model`: a frozen
    deep copy in eval mode. Frozen parameters and buffers (e.g. norm statistics) are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(f"decay: expected a float in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One foreach lerp over the trained parameters, one foreach copy of the rest: two ops
        whatever the model's size; a frozen parameter's shadow stays bit-exact."""
        averaged, copied = ([], []), ([], [])
        for shadow, param in zip(self.model.parameters(), model.parameters()):
            shadows, sources = averaged if param.requires_grad else copied
            shadows.append(shadow)
            sources.append(param)
        copied[0].extend(self.model.buffers())
        copied[1].extend(model.buffers())
        if averaged[0]:
            torch._foreach_lerp_(*averaged, 1.0 - self.decay)
        if copied[0]:
            torch._foreach_copy_(*copied)


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


_checkpoints = contextvars.ContextVar("train_checkpoints", default=None)


@contextlib.contextmanager
def checkpoints_in(directory):
    """fit() calls given no checkpoint save to directory/fit-1, fit-2, ... (in call order) and
    resume from there: the zoo wraps each build in this, so an interrupted build resumes."""
    token = _checkpoints.set([Path(directory), 0])
    try:
        yield
    finally:
        _checkpoints.reset(token)


def next_checkpoint(suffix: str = ".safetensors") -> Path | None:
    """Inside checkpoints_in(directory): the path for the next fit; None outside."""
    scope = _checkpoints.get()
    if scope is None:
        return None
    scope[1] += 1
    scope[0].mkdir(parents=True, exist_ok=True)
    return scope[0] / f"fit-{scope[1]}{suffix}"


def _as_tuple(data, name: str) -> tuple:
    """data (a tensor or a sequence of tensors) as a tuple of tensors with one first dim N > 0."""
    data = (data,) if isinstance(data, torch.Tensor) else data
    if not isinstance(data, (tuple, list)) or not all(isinstance(d, torch.Tensor) for d in data):
        raise TypeError(f"{name}: expected a tensor (N, ...) or a tuple of them, got {type(data)}")
    if len({d.shape[:1] for d in data}) != 1 or data[0].shape[:1] in [(), (0,)]:
        raise ValueError(f"{name}: expected one first dim N > 0, got {[d.shape for d in data]}")
    return tuple(data)


def _check_fit_args(steps, batch_size, lr, log_every, generator) -> torch.Generator:
    check_int("steps", steps)
    check_int("batch_size", batch_size, 1)
    check_int("log_every", log_every, 1)
    if not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr: expected a positive float, got {lr!r}")
    if generator is None:  # seeded from the global RNG, so torch.manual_seed makes runs repeatable
        return torch.Generator().manual_seed(int(torch.randint(2**62, ())))
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(f"generator: expected a CPU torch.Generator, got {generator!r}")
    return generator


def _adamw(model: nn.Module, lr: float) -> torch.optim.AdamW:
    """AdamW in one fused kernel on the CPU and CUDA, in foreach form elsewhere (e.g. MPS)."""
    fused = device_of(model).type in ("cpu", "cuda")
    return torch.optim.AdamW(model.parameters(), lr=lr, fused=fused, foreach=not fused or None)


def clip_gradients(params: list, max_norm: float) -> torch.Tensor:
    """Scale the gradients so that their global L2 norm is at most max_norm (as
    nn.utils.clip_grad_norm_, in a fixed handful of foreach ops and no host sync); the norm."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))
    return norm


def _train_step(model, loss_fn, data, batch_size, optimizer, ema, generator, step):
    """One AdamW step on a random minibatch (indices drawn on the CPU; under torchrun each rank
    takes its share), then the EMA update; returns the loss without a host sync."""
    idx = torch.randint(len(data[0]), (batch_size,), generator=generator)
    idx, noise_generator = distributed.shard(idx, generator, step)
    idx = idx.to(data[0].device, non_blocking=True)
    loss = loss_fn(model, *[d[idx] for d in data], generator=noise_generator)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loss = distributed.average_gradients(model, loss.detach())
    clip_gradients(list(model.parameters()), 1.0)
    optimizer.step()
    ema.update(model)
    return loss


def _log(history: History, losses: list, last_step: int, bar) -> None:
    """Read the pending losses back (one sync); stop at the first non-finite one."""
    values = torch.stack(losses).float().cpu().tolist()
    first = last_step - len(values) + 1
    for step, value in enumerate(values, first):
        if value != value or abs(value) == float("inf"):
            raise FloatingPointError(f"fit: the loss is {value} at step {step}; try a lower lr")
    history.steps += range(first, last_step + 1)
    history.loss += values
    bar.set_postfix(loss=f"{values[-1]:.4g}", refresh=False)


@torch.no_grad()
def evaluate(model, loss_fn, data, batch_size: int = 256, seed: int = 0) -> float:
    """Mean loss over `data`, with noise from a fresh generator seeded `seed`: runs compare."""
    data = _as_tuple(data, "data")
    device, generator = next(model.parameters()).device, torch.Generator().manual_seed(seed)
    total = 0.0
    for i in range(0, len(data[0]), batch_size):
        batch = [d[i : i + batch_size].to(device) for d in data]
        total += loss_fn(model, *batch, generator=generator).item() * len(batch[0])
    return total / len(data[0])


def _resume(checkpoint, model, state: dict, given: bool) -> int:
    """load_checkpoint; a build's own checkpoint that can't be read (killed mid-save) is dropped
    and the fit starts afresh, which, every seed being fixed, ends where it would have."""
    try:
        return load_checkpoint(checkpoint, model, **state)
    except CheckpointError as err:
        if given:
            raise
        warnings.warn(f"fit: starting afresh, {checkpoint} is unusable ({err})", stacklevel=3)
        return 0


def fit(model, loss_fn, data, *, steps, batch_size=256, lr=1e-3, ema_decay=0.999, val_data=None,
        checkpoint=None, generator=None, progress=None, log_every=100, compile=False):  # fmt: skip
    """Train `model` by AdamW on random minibatches of `data` (a tensor or tuple of tensors, moved
    once to the model's device), with loss_fn(model, *batch, generator=generator) -> scalar. Every
    `log_every` steps and at the end: the non-finite check, the EMA model's loss on `val_data`,
    and a save to `checkpoint` (a path; default: see checkpoints_in), resumed if present.
    compile=True runs the forward and backward through torch.compile (off by default: it pays
    only for long runs on a GPU, after a compile of a minute or more)."""
    generator = _check_fit_args(steps, batch_size, lr, log_every, generator)
    rank = distributed.setup(model, batch_size)
    data = tuple(d.to(device_of(model)) for d in _as_tuple(data, "data"))
    val_data = None if val_data is None else _as_tuple(val_data, "val_data")
    given, checkpoint = checkpoint is not None, checkpoint or next_checkpoint()
    optimizer, ema = _adamw(model, lr), EMA(model, ema_decay)
    state = dict(ema=ema, optimizer=optimizer, generator=generator)  # what a checkpoint restores
    history, start, t0 = History(ema=ema), 0, time.perf_counter()
    if checkpoint is not None and os.path.exists(checkpoint):
        start = _resume(checkpoint, model, state, given)
    forward = torch.compile(model) if compile else model  # the same parameters either way
    steps_left = range(start + 1, steps + 1)
    bar = tqdm(steps_left, initial=start, total=steps, disable=not progress or rank != 0)
    losses = []
    for step in bar:
        model.train()
        loss = _train_step(forward, loss_fn, data, batch_size, optimizer, ema, generator, step)
        losses.append(loss)
        if step % log_every and step != steps:
            continue
        _log(history, losses, step, bar)
        losses = []
        if val_data is not None:
            history.val_steps.append(step)
            history.val_loss.append(evaluate(ema.model, loss_fn, val_data, batch_size))
        if checkpoint is not None and rank == 0:
            save_checkpoint(checkpoint, model, step=step, **state)
    history.seconds = time.perf_counter() - t0
    return history
