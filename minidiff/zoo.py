"""The model zoo: named recipes that train a model once, then load it from a local cache.

A Recipe says how to build a model and how to train it, and names the recipes it loads (needs).
load(recipe) returns the trained model (on the CPU): from the cache if a checkpoint made by the
same recipe is there, otherwise it trains (on runtime.device()), saves and returns it. "The same"
is a fingerprint: the recipe's name and version, the source of its build and train functions (read
when the recipe is made, so editing a file during a build changes nothing), the model's config, the
budget (fast or full) and the fingerprints of its needs, so an edited recipe is retrained, never
silently reused. Edits to library code a recipe calls are not seen: bump the recipe's version.
The json beside the weights records the fingerprint and the weights' sha256: weights that json
does not record (written by anything else, or by a build killed before its json) are retrained,
never loaded. A build checkpoints every train.fit it runs in `<name>-<mode>.partial-<fp>/`: an
interrupted build resumes there and ends bit-identical to an uninterrupted one. Nothing downloads
(see archive.py).
"""

import contextlib
import contextvars
import functools
import hashlib
import inspect
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from . import __version__, checkpoint, checks, distributed, files, runtime, train
from .files import atomic_write
from .runtime import cache_dir, fast_mode  # noqa: F401  (zoo.cache_dir, zoo.fast_mode)


def _source(f) -> str:
    if isinstance(f, functools.partial):
        return _source(f.func) + repr((f.args, sorted(f.keywords.items())))
    return inspect.getsource(f)


@dataclass(frozen=True)
class Recipe:
    """name: the cache file's stem; build() -> untrained model; train(model, fast, progress) ->
    trained model of the same class and config (e.g. the EMA copy); version: bump it when code the
    recipe calls changes; needs: the recipes its train function loads."""

    name: str
    build: Callable[[], nn.Module]
    train: Callable[[nn.Module, bool, bool], nn.Module]
    version: int = 1
    needs: tuple = ()
    source: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name or "\\" in self.name:
            raise ValueError(f"name: expected a file-name stem like 'ring_teacher', got "
                             f"{checks.describe(self.name)}")  # fmt: skip
        builds, trains = "a function () -> untrained model", "a function (model, fast, progress)"
        checks.check_signature("build", self.build, expected=builds, allow_class=True)
        checks.check_signature("train", self.train, None, False, False, expected=trains)
        checks.check_int("version", self.version, 1)
        needs = self.needs if isinstance(self.needs, (tuple, list)) else [self.needs]
        if not all(isinstance(r, Recipe) for r in needs):
            raise TypeError(f"needs: expected a tuple of zoo.Recipe, got {self.needs!r}")
        object.__setattr__(self, "needs", tuple(self.needs))
        object.__setattr__(self, "source", _source(self.build) + "\n" + _source(self.train))


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Seed the global RNG for a model's initialisation, then restore the caller's RNG state:
    every build gives the same weights, and the library leaves no trace on the global seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@functools.lru_cache(maxsize=None)
def fingerprint(recipe: Recipe, fast: bool) -> str:
    """sha256 of what determines the trained weights (see the module docstring)."""
    parts = dict(
        name=recipe.name,
        version=recipe.version,
        fast=fast,
        source=recipe.source,
        config=getattr(recipe.build(), "config", None),
        needs={r.name: fingerprint(r, fast) for r in recipe.needs},
    )
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _built(recipe: Recipe) -> nn.Module:
    model = recipe.build()
    if not isinstance(model, nn.Module):
        raise TypeError(f"recipe {recipe.name!r}: its build function returned "
                        f"{checks.describe(model)}, expected an untrained nn.Module")  # fmt: skip
    return model


def path_of(recipe: Recipe, fast: bool, root: Path | None = None) -> Path:
    return Path(root or cache_dir()) / f"{recipe.name}-{'fast' if fast else 'full'}.safetensors"


def _partial_dir(path: Path, fp: str) -> Path:
    """Where a build's unfinished checkpoints live; other fingerprints' leftovers are removed."""
    for stale in path.parent.glob(f"{path.stem}.partial-*"):
        if stale.name != f"{path.stem}.partial-{fp[:16]}":
            shutil.rmtree(stale, ignore_errors=True)
    return path.parent / f"{path.stem}.partial-{fp[:16]}"


def _record(path: Path) -> dict | None:
    """The json beside the weights at path (None if there is none or it is unreadable)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _stored_fingerprint(path: Path) -> str | None:
    """The fingerprint in the json beside the weights at path if that json is the record of these
    very weights (it holds their sha256); None otherwise."""
    meta = _record(path)
    try:
        ok = meta is not None and meta.get("sha256") == files.sha256(path)
    except OSError:
        return None
    return meta.get("fingerprint") if ok else None


def _cached(path: Path, model: nn.Module, fp: str) -> bool:
    """Load path into model if its json records these weights and fingerprint; False (with the
    reason) otherwise."""
    if not path.exists():
        return False
    stored = _stored_fingerprint(path)
    if stored is None and "sha256" not in (_record(path) or {"sha256": None}):
        print(f"zoo: {path.name} was made by a minidiff older than its weights' sha256; retraining")
        return False
    if stored is None:
        warnings.warn(f"zoo: {path} is not the file its json records (another sha256, or no "
                      "json); retraining", stacklevel=3)  # fmt: skip
        return False
    if stored != fp:
        print(f"zoo: {path.name} was made by another version of its recipe; retraining")
        return False
    try:
        train.load_checkpoint(path, model)
    except (train.CheckpointError, FileNotFoundError) as err:
        warnings.warn(f"zoo: {path} cannot be loaded ({err}); retraining", stacklevel=3)
        return False
    return True


_building = contextvars.ContextVar("zoo_building", default=None)  # the recipe being trained


def _check_needed(recipe: Recipe) -> None:
    parent = _building.get()
    if parent is not None and recipe not in parent.needs:
        raise RuntimeError(
            f"recipe {parent.name!r} loads {recipe.name!r} but does not name it "
            f"in needs=; add it, so that its fingerprint sees {recipe.name!r}"
        )


def _train(recipe: Recipe, model: nn.Module, fast: bool, progress: bool, partial: Path):
    """recipe.train on runtime.device(), checkpointing its fits in `partial`; the model on CPU."""
    device = runtime.device()
    if progress:
        resumed = " (resuming from its checkpoint)" if any(partial.glob("fit-*")) else ""
        print(f"zoo: training {recipe.name} on {device}{resumed}")
    token = _building.set(recipe)
    try:
        with checkpoint.checkpoints_in(partial):
            model = recipe.train(model.to(device), fast, progress)
    finally:
        _building.reset(token)
    if not isinstance(model, nn.Module):
        raise TypeError(f"recipe {recipe.name!r}: its train function returned "
                        f"{checks.describe(model)}, expected the trained model")  # fmt: skip
    return model.cpu()


def _store(path: Path, model: nn.Module, meta: dict) -> None:
    """The weights, then the json that marks them complete (with the device and versions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    train.save_checkpoint(path, model)
    meta |= dict(device=str(runtime.device()), torch=torch.__version__, minidiff=__version__)
    meta["sha256"] = files.sha256(path)  # ties this record to these weights and no others
    Path(f"{path}.state.pt").unlink(missing_ok=True)  # a file older minidiffs wrote beside them
    atomic_write(path.with_suffix(".json"), lambda f: f.write(json.dumps(meta).encode()))


def load(recipe: Recipe, fast: bool | None = None, progress: bool = True, root=None) -> nn.Module:
    """The trained model of `recipe` (on the CPU, eval mode, frozen), trained now if not cached."""
    checks.check_instance("recipe", recipe, Recipe, "recipes.digits_unet")
    if fast is not None and not isinstance(fast, bool):
        raise TypeError(f"fast: expected True, False or None, got {checks.describe(fast)}")
    _check_needed(recipe)
    fast = fast_mode() if fast is None else fast
    model = _built(recipe)
    path, fp = path_of(recipe, fast, root), fingerprint(recipe, fast)
    if not _cached(path, model, fp):
        start, partial = time.perf_counter(), _partial_dir(path, fp)
        model = _train(recipe, model, fast, progress, partial)
        if distributed.world()[0] == 0:  # under torchrun, rank 0 writes
            seconds = round(time.perf_counter() - start, 1)
            _store(path, model, dict(fingerprint=fp, seconds=seconds, fast=fast))
            shutil.rmtree(partial, ignore_errors=True)
        distributed.barrier()
    return model.eval().requires_grad_(False)


def is_cached(recipe: Recipe, fast: bool, root=None) -> bool:
    """True if the cache holds recipe's model with its current fingerprint (weights not read)."""
    return _stored_fingerprint(path_of(recipe, fast, root)) == fingerprint(recipe, fast)
