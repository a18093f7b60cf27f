"""The training loop, an EMA of the weights, and checkpoints that resume exactly.

fit() is DDPM's loop (Ho et al. 2020, Alg. 1) with AdamW and an EMA of the weights. Notable choices:
* One CPU torch.Generator drives all randomness (minibatches, and loss_fn's noise) and is saved
  in checkpoints, so a stopped and resumed run equals an uninterrupted one bit for bit.
* Weights go to safetensors with JSON metadata, optimizer and RNG state to `<path>.state.pt`;
  each file is written to a temp file and then os.replace'd, so a crash never corrupts a checkpoint.
"""

import copy
import json
import os
import time
from dataclasses import dataclass, field

import safetensors.torch
import torch
from torch import nn
from tqdm.auto import tqdm

from .checks import check_int

FORMAT = "minidiff-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, is not a minidiff checkpoint, or does not fit the model."""


class EMA:
    """EMA of the weights, shadow = decay shadow + (1 - decay) param, in `ema.model`: a frozen
    deep copy in eval mode. Buffers (e.g. norm statistics) are copied as they are."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay < 1:
            raise ValueError(f"decay: expected a float in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
        for name, shadow in self.model.named_parameters():
            shadow.mul_(self.decay).add_(params[name].detach(), alpha=1 - self.decay)
        for name, shadow in self.model.named_buffers():
            shadow.copy_(buffers[name])


@dataclass
class History:
    """What fit() returns: the loss at each step run, and the EMA model's validation loss."""

    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    val_steps: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    ema: EMA | None = None
    seconds: float = 0.0


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


def _train_step(model, loss_fn, data, batch_size, optimizer, ema, generator, step) -> float:
    """One AdamW step on a random minibatch (indices drawn on the CPU), then the EMA update."""
    model.train()
    idx = torch.randint(len(data[0]), (batch_size,), generator=generator)
    device = next(model.parameters()).device
    loss = loss_fn(model, *[d[idx].to(device) for d in data], generator=generator)
    if not torch.isfinite(loss).all():
        raise FloatingPointError(f"fit: the loss is {loss.item()} at step {step}; try a lower lr")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    ema.update(model)
    return loss.item()


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


def fit(
    model,
    loss_fn,
    data,
    *,
    steps,
    batch_size=256,
    lr=1e-3,
    ema_decay=0.999,
    val_data=None,
    checkpoint=None,
    generator=None,
    progress=None,
    log_every=100,
) -> History:
    """Train `model` by AdamW on random minibatches of `data` (a tensor or tuple of tensors), with
    loss_fn(model, *batch, generator=generator) -> scalar. Every `log_every` steps and at the end:
    the EMA model's loss on `val_data`, and a save to `checkpoint` (a path), resumed if present."""
    generator = _check_fit_args(steps, batch_size, lr, log_every, generator)
    data = _as_tuple(data, "data")
    val_data = None if val_data is None else _as_tuple(val_data, "val_data")
    optimizer, ema = torch.optim.AdamW(model.parameters(), lr=lr), EMA(model, ema_decay)
    state = dict(ema=ema, optimizer=optimizer, generator=generator)  # what a checkpoint restores
    history, start, t0 = History(ema=ema), 0, time.perf_counter()
    if checkpoint is not None and os.path.exists(checkpoint):
        start = load_checkpoint(checkpoint, model, **state)
    bar = tqdm(range(start + 1, steps + 1), initial=start, total=steps, disable=not progress)
    for step in bar:
        loss = _train_step(model, loss_fn, data, batch_size, optimizer, ema, generator, step)
        history.steps.append(step)
        history.loss.append(loss)
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        if val_data is not None and (step % log_every == 0 or step == steps):
            history.val_steps.append(step)
            history.val_loss.append(evaluate(ema.model, loss_fn, val_data, batch_size))
        if checkpoint is not None and (step % log_every == 0 or step == steps):
            save_checkpoint(checkpoint, model, step=step, **state)
    history.seconds = time.perf_counter() - t0
    return history


def _atomic_write(path: str, write) -> None:
    """write(tmp) to a temp file beside `path`, then os.replace it onto `path` (atomic)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_checkpoint(path, model, *, ema=None, optimizer=None, step=0, generator=None) -> None:
    """Weights (EMA ones as `ema.*`) and metadata (format, class, step, JSON of model.config) to
    the safetensors file `path`; step, optimizer and generator state to `<path>.state.pt`."""
    path, step = os.fspath(path), int(step)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        ema_state = ema.model.state_dict().items()
        tensors |= {f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema_state}
    meta = {"format": FORMAT, "class": type(model).__name__, "step": str(step)}
    if getattr(model, "config", None) is not None:
        meta["config"] = json.dumps(model.config)
    _atomic_write(path, lambda tmp: safetensors.torch.save_file(tensors, tmp, metadata=meta))
    optimizer_state = None if optimizer is None else optimizer.state_dict()
    generator_state = None if generator is None else generator.get_state()
    # written second: if a crash comes in between, load_checkpoint sees that the steps differ
    state = {"step": step, "optimizer": optimizer_state, "generator": generator_state}
    _atomic_write(path + ".state.pt", lambda tmp: torch.save(state, tmp))


def _diff(a: dict, b: dict) -> str:
    """'key: stored a[key], expected b[key]' for the first keys where a, b differ (None: absent)."""
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return "; ".join(f"{k}: stored {a.get(k)!r}, expected {b.get(k)!r}" for k in keys[:8])


def _read(read, path: str, *args):
    """read(path, *args), turning any failure into a CheckpointError that names the file."""
    try:
        return read(path, *args)
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a minidiff checkpoint ({err})") from err


def _read_weights(path: str):
    with safetensors.safe_open(path, framework="pt") as f:
        meta, tensors = f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}
    if meta.get("format") != FORMAT:
        raise ValueError(f"metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    return meta["class"], json.loads(meta.get("config", "null")), int(meta["step"]), tensors


def _read_state(path: str, step: int, names: list) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("step") != step:
        raise ValueError(f"its step differs from the weights' {step}: was a save interrupted?")
    if missing := [name for name in names if state.get(name) is None]:
        raise ValueError(f"it was saved without {' and '.join(missing)} state")
    return state


def _check_fits(path: str, module: nn.Module, tensors: dict, what: str) -> None:
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in tensors.items()}
    if stored != expected:
        raise CheckpointError(f"{path} does not fit the {what} (shapes): {_diff(stored, expected)}")


def load_checkpoint(path, model, *, ema=None, optimizer=None, generator=None) -> int:
    """Load a save_checkpoint file into `model` (and ema, optimizer, generator); returns its step.

    Raises FileNotFoundError, or CheckpointError (nothing loaded) if the checkpoint is corrupt or
    comes from another class, config or set of tensors."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no checkpoint file at {path}")
    stored_class, config, step, weights = _read(_read_weights, path)
    expected = json.loads(json.dumps(getattr(model, "config", None) or {}))  # as JSON stores it
    if (stored_class, config or {}) != (type(model).__name__, expected):
        raise CheckpointError(
            f"{path} was saved from a {stored_class}, this model is a {type(model).__name__}; "
            f"config differences: {_diff(config or {}, expected) or 'none'}"
        )
    ema_weights = {k[4:]: weights.pop(k) for k in list(weights) if k.startswith("ema.")}
    _check_fits(path, model, weights, "model")
    if ema is not None:
        _check_fits(path, ema.model, ema_weights, "EMA model")
    names = [n for n, o in [("optimizer", optimizer), ("generator", generator)] if o is not None]
    state = _read(_read_state, path + ".state.pt", step, names) if names else {}
    model.load_state_dict(weights)
    if ema is not None:
        ema.model.load_state_dict(ema_weights)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if generator is not None:
        generator.set_state(state["generator"])
    return step
