"""Checkpoints that resume exactly: weights to safetensors, optimizer and RNG state beside them.

Weights (and the EMA's, as `ema.*`) go to safetensors with JSON metadata (format, class, step,
model.config); step, optimizer and generator state to `<path>.state.pt`. Each file is written to a
temp file and then os.replace'd, so a crash never leaves a half-written file.
"""

import functools
import json
import os

import safetensors.torch
import torch
from torch import nn

FORMAT = "minidiff-checkpoint-1"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, is not a minidiff checkpoint, or does not fit the model."""


def atomic_write(path, write) -> None:
    """write(f) into a binary temp file beside `path`, then os.replace it onto `path`: readers see
    the old file or the whole new one, never half of it; a failed write leaves no temp file."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
    atomic_write(path, lambda f: f.write(safetensors.torch.save(tensors, metadata=meta)))
    optimizer_state = None if optimizer is None else optimizer.state_dict()
    generator_state = None if generator is None else generator.get_state()
    # written second: if a crash comes in between, load_checkpoint sees that the steps differ
    state = {"step": step, "optimizer": optimizer_state, "generator": generator_state}
    atomic_write(path + ".state.pt", functools.partial(torch.save, state))


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
