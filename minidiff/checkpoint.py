"""Checkpoints that resume exactly, as one safetensors file written atomically.

One file holds it all: the weights (`model.*`), the EMA's (`ema.*`), the optimizer's tensors
(`optimizer.<param index>.<name>`) and the generator's state (`generator`), with JSON metadata
(format, class, step, model.config, the optimizer's class and parameter groups, the run's
arguments). Notable choices:
* One file, written to a temp file, fsync'd and os.replace'd (files.atomic_write): a crash at
  any point of a save leaves the previous checkpoint or the new one, never a mix.
* load_checkpoint checks everything (class, config, shapes, optimizer class and groups, generator)
  before it changes anything: it loads all of it or raises CheckpointError and loads nothing.
"""

import json
import os

import safetensors
import safetensors.torch
import torch
from torch import nn

from .checks import check_generator, check_instance, check_int
from .ema import EMA
from .files import (  # noqa: F401 (checkpoint.checkpoints_in, .next_checkpoint, .one_run)
    atomic_write,
    checkpoints_in,
    file_path,
    next_checkpoint,
    one_run,
)

FORMAT = "minidiff-checkpoint-2"


class CheckpointError(ValueError):
    """A checkpoint is corrupt, is not a minidiff checkpoint, or does not fit what loads it."""


def _cpu(state: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in state.items()}


def _optimizer_entries(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """optimizer.state_dict() as tensors and JSON: its class, groups and non-tensor state."""
    saved, tensors, scalars = optimizer.state_dict(), {}, {}
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    meta = dict(cls=type(optimizer).__name__, groups=saved["param_groups"], scalars=scalars)
    return tensors, meta


def save_checkpoint(path, model, *, ema=None, optimizer=None, step=0, generator=None, run=None):
    """Everything a resumed run needs, in the one safetensors file `path`: model (and EMA) weights,
    optimizer and generator state, the step, model.config and `run` (a JSON-able dict: the
    arguments of the run, which fit compares when it resumes)."""
    check_instance("model", model, nn.Module)
    step, path = check_int("step", step), file_path("path", path)
    check_generator("generator", generator, "cpu")
    if ema is not None:
        check_instance("ema", ema, EMA, "train.EMA(model)")
    tensors = _cpu(model.state_dict(), "model.")
    meta = {"format": FORMAT, "class": type(model).__name__, "step": str(step)}
    meta |= {"config": json.dumps(getattr(model, "config", None)), "run": json.dumps(run)}
    if ema is not None:
        tensors |= _cpu(ema.model.state_dict(), "ema.")
    if optimizer is not None:
        check_instance("optimizer", optimizer, torch.optim.Optimizer, "torch.optim.AdamW(...)")
        entries, meta["optimizer"] = _optimizer_entries(optimizer)
        tensors |= entries
        meta["optimizer"] = json.dumps(meta["optimizer"], default=float)  # 0-dim tensor lr
    if generator is not None:
        tensors["generator"] = generator.get_state()
    data = safetensors.torch.save(tensors, metadata=meta)
    atomic_write(path, lambda f: f.write(data))


def _checked_meta(meta: dict) -> dict:
    """meta, if it is a minidiff checkpoint's (every field there and readable)."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"metadata format is {meta.get('format')!r}, expected {FORMAT!r}")
    int(meta["step"]), str(meta["class"]), json.loads(meta["config"]), json.loads(meta["run"])
    json.loads(meta.get("optimizer", "null"))
    return meta


def _read(path: str) -> tuple[dict, dict]:
    """(metadata, tensors) of the checkpoint at path; CheckpointError if it is not one."""
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            meta = _checked_meta(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a minidiff checkpoint ({err})") from err
    return meta, tensors


def read_info(path) -> dict:
    """A checkpoint's class, step, config and run arguments (its header only: no tensors read)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no checkpoint file at {path}")
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            meta = _checked_meta(f.metadata() or {})
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a minidiff checkpoint ({err})") from err
    config, run = json.loads(meta["config"]), json.loads(meta["run"])
    return dict(cls=meta["class"], step=int(meta["step"]), config=config, run=run)


def _part(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _diff(a: dict, b: dict) -> str:
    """'key: stored a[key], expected b[key]' for the first keys where a, b differ (None: absent)."""
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return "; ".join(f"{k}: stored {a.get(k)!r}, expected {b.get(k)!r}" for k in keys[:8])


def check_fits(path: str, module: nn.Module, tensors: dict, what: str) -> None:
    """CheckpointError unless the tensors have the names and shapes of module's state_dict."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in tensors.items()}
    if stored != expected:
        raise CheckpointError(f"{path} does not fit the {what} (shapes): {_diff(stored, expected)}")


def check_same_run(path, stored: dict | None, run: dict) -> None:
    """Refuse to resume the checkpoint at path, saved by a run with arguments `stored`, in a run
    with other ones: a CheckpointError naming the first argument that differs."""
    for name, value in (stored or {}).items():
        if run.get(name) != value:
            raise CheckpointError(
                f"{name}: the checkpoint {path} was saved by a run with {name}={value!r}, this "
                f"call has {name}={run.get(name)!r}; pass the same to resume it, or another "
                "checkpoint path (or none) to start afresh"
            )


def _check_model(path: str, meta: dict, model: nn.Module) -> None:
    expected = json.loads(json.dumps(getattr(model, "config", None) or {}))  # as JSON stores it
    config = json.loads(meta["config"]) or {}
    if (meta["class"], config) != (type(model).__name__, expected):
        raise CheckpointError(
            f"{path} was saved from a {meta['class']}, this model is a {type(model).__name__}; "
            f"config differences: {_diff(config, expected) or 'none'}"
        )


def _optimizer_state(path: str, meta: dict, tensors: dict, optimizer) -> dict:
    """The stored optimizer state_dict, checked against `optimizer`: same class, same parameter
    groups, state tensors of its parameters' shapes."""
    if "optimizer" not in meta:
        raise CheckpointError(f"optimizer: {path} was saved without optimizer state")
    stored = json.loads(meta["optimizer"])
    if stored["cls"] != type(optimizer).__name__:
        raise CheckpointError(f"optimizer: {path} holds {stored['cls']} state, this optimizer is "
                              f"a {type(optimizer).__name__}; use a {stored['cls']}")  # fmt: skip
    sizes = [len(g["params"]) for g in stored["groups"]]
    params = [g["params"] for g in optimizer.param_groups]
    if sizes != [len(p) for p in params]:
        raise CheckpointError(f"optimizer: {path} holds parameter groups of sizes {sizes}, this "
                              f"optimizer's are {[len(p) for p in params]}")  # fmt: skip
    params, state = [p for group in params for p in group], {}
    for name, value in _part(tensors, "optimizer.").items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
        if value.ndim and (int(index) >= len(params) or value.shape != params[int(index)].shape):
            raise CheckpointError(f"optimizer: {path} holds state {name} of shape "
                                  f"{tuple(value.shape)}, which fits no parameter")  # fmt: skip
    for name, value in stored["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [
        {k: tuple(v) if isinstance(now.get(k), tuple) else v for k, v in group.items()}
        for group, now in zip(stored["groups"], optimizer.param_groups)
    ]  # JSON made lists
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def _generator_state(path: str, tensors: dict, generator: torch.Generator) -> torch.Tensor:
    state = tensors.get("generator")
    if state is None or state.shape != generator.get_state().shape:
        raise CheckpointError(f"generator: {path} holds no state for a {generator.device} "
                              "torch.Generator")  # fmt: skip
    return state


def load_checkpoint(path, model, *, ema=None, optimizer=None, generator=None) -> int:
    """Load a save_checkpoint file into `model` (and ema, optimizer, generator); returns its step.

    Everything is checked first: it raises FileNotFoundError, or CheckpointError having loaded
    nothing, if the file is corrupt, comes from another class, config or set of tensors, or lacks
    (or does not fit) the optimizer or generator state asked for."""
    check_instance("model", model, nn.Module)
    if optimizer is not None:
        check_instance("optimizer", optimizer, torch.optim.Optimizer, "torch.optim.AdamW(...)")
    check_generator("generator", generator, "cpu")
    if ema is not None:
        check_instance("ema", ema, EMA, "train.EMA(model)")
    path = file_path("path", path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no checkpoint file at {path}")
    meta, tensors = _read(path)
    _check_model(path, meta, model)
    weights, ema_weights = _part(tensors, "model."), _part(tensors, "ema.")
    check_fits(path, model, weights, "model")
    if ema is not None:
        check_fits(path, ema.model, ema_weights, "EMA model")
    opt_state = None if optimizer is None else _optimizer_state(path, meta, tensors, optimizer)
    gen_state = None if generator is None else _generator_state(path, tensors, generator)
    model.load_state_dict(weights)  # from here on nothing can fail
    if ema is not None:
        ema.model.load_state_dict(ema_weights)
    if optimizer is not None:
        optimizer.load_state_dict(opt_state)
    if generator is not None:
        generator.set_state(gen_state)
    return int(meta["step"])
