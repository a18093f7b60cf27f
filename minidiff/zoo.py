"""The model zoo: named recipes that train a model once, then load it from a local cache.

A Recipe says how to build a model and how to train it. load(recipe) returns the trained model:
from the cache if a checkpoint made by the same recipe is there, otherwise it trains (progress
bar), saves and returns it. "The same" is a fingerprint: the recipe's name and version, the source
of its build and train functions, the model's config and the budget (fast or full), so an edited
recipe is retrained, never silently reused. Edits to library code a recipe calls are not seen:
bump the recipe's version. Cache: $MINIDIFF_CACHE, default ~/.cache/minidiff; nothing downloads.
"""

import contextlib
import functools
import hashlib
import inspect
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from . import train


@dataclass(frozen=True)
class Recipe:
    """name: the cache file's stem; build() -> untrained model; train(model, fast, progress) ->
    trained model of the same class and config (e.g. the EMA copy); version: bump it when code the
    recipe calls changes."""

    name: str
    build: Callable[[], nn.Module]
    train: Callable[[nn.Module, bool, bool], nn.Module]
    version: int = 1


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Seed the global RNG for a model's initialisation, then restore the caller's RNG state:
    every build gives the same weights, and the library leaves no trace on the global seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def cache_dir() -> Path:
    return Path(os.environ.get("MINIDIFF_CACHE") or Path.home() / ".cache" / "minidiff")


def fast_mode() -> bool:
    """True when MINIDIFF_FAST=1: recipes train tiny versions (CI, quick looks)."""
    return os.environ.get("MINIDIFF_FAST") == "1"


def _source(f) -> str:
    if isinstance(f, functools.partial):
        return _source(f.func) + repr((f.args, sorted(f.keywords.items())))
    return inspect.getsource(f)


def fingerprint(recipe: Recipe, model: nn.Module, fast: bool) -> str:
    """sha256 of what determines the trained weights (see the module docstring)."""
    parts = dict(
        name=recipe.name,
        version=recipe.version,
        fast=fast,
        build=_source(recipe.build),
        train=_source(recipe.train),
        config=getattr(model, "config", None),
    )
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def path_of(recipe: Recipe, fast: bool, root: Path | None = None) -> Path:
    return Path(root or cache_dir()) / f"{recipe.name}-{'fast' if fast else 'full'}.safetensors"


def _cached(path: Path, model: nn.Module, fp: str) -> bool:
    """Load path into model if its fingerprint matches; False (with the reason) otherwise."""
    meta_path = path.with_suffix(".json")
    if not path.exists():
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = {}
    if meta.get("fingerprint") != fp:
        print(f"zoo: {path.name} was made by another version of its recipe; retraining")
        return False
    try:
        train.load_checkpoint(path, model)
    except (train.CheckpointError, FileNotFoundError) as err:
        warnings.warn(f"zoo: {path} cannot be loaded ({err}); retraining", stacklevel=3)
        return False
    return True


def load(recipe: Recipe, fast: bool | None = None, progress: bool = True, root=None) -> nn.Module:
    """The trained model of `recipe` (eval mode, frozen), trained now if not cached."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe: expected a zoo.Recipe, got {type(recipe).__name__}")
    fast = fast_mode() if fast is None else fast
    model = recipe.build()
    path, fp = path_of(recipe, fast, root), fingerprint(recipe, model, fast)
    if not _cached(path, model, fp):
        start = time.perf_counter()
        model = recipe.train(model, fast, progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        train.save_checkpoint(path, model)
        meta = dict(fingerprint=fp, seconds=round(time.perf_counter() - start, 1), fast=fast)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, path.with_suffix(".json"))  # written last: marks the weights complete
    return model.eval().requires_grad_(False)


def build_all(recipes, fast: bool | None = None, root=None) -> dict:
    """Train (or find) every recipe; returns {name: seconds this call spent on it}."""
    seconds = {}
    for recipe in tqdm(recipes, desc="zoo"):
        start = time.perf_counter()
        load(recipe, fast=fast, progress=True, root=root)
        seconds[recipe.name] = round(time.perf_counter() - start, 1)
    return seconds
