"""Where the course runs: the device the zoo trains on, fast mode and the cache directory.

The library's functions never pick a device (they follow their inputs); the course's layer (the
zoo, benchmarks, lessons) asks this module. MINIDIFF_DEVICE names the device ("cpu", "cuda",
"cuda:1", "mps"); unset, it is cuda if available, then mps, else cpu.
"""

import os
from pathlib import Path

import torch

CHOICES = "'cpu', 'cuda', 'cuda:N' or 'mps'"


def _available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return device.type == "cpu"


def device(name: str | None = None) -> torch.device:
    """torch.device named by `name`, else by MINIDIFF_DEVICE, else the best one available; under
    torchrun, "cuda" means this process's GPU, cuda:$LOCAL_RANK."""
    name = name if name is not None else os.environ.get("MINIDIFF_DEVICE", "").strip()
    if not name:
        name = "cuda" if torch.cuda.is_available() else None
        name = name or ("mps" if torch.backends.mps.is_available() else "cpu")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        name = f"cuda:{os.environ['LOCAL_RANK']}"
    try:
        chosen = torch.device(name)
    except (RuntimeError, TypeError):
        chosen = None
    if chosen is None or chosen.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"MINIDIFF_DEVICE: got {name!r}; expected {CHOICES}")
    if not _available(chosen):
        raise ValueError(
            f"MINIDIFF_DEVICE: {name!r} is not available on this machine; "
            f"unset it to use the best device available, or set it to 'cpu'"
        )
    return chosen


def fast_mode() -> bool:
    """True when MINIDIFF_FAST=1: recipes train tiny versions (CI, quick looks)."""
    return os.environ.get("MINIDIFF_FAST") == "1"


def cache_dir() -> Path:
    """The model zoo's cache: $MINIDIFF_CACHE, default ~/.cache/minidiff."""
    return Path(os.environ.get("MINIDIFF_CACHE") or Path.home() / ".cache" / "minidiff")


def describe() -> str:
    """One line for a lesson's set-up cell: torch, where it computes, where the zoo trains."""
    mode, threads = "fast" if fast_mode() else "full budget", torch.get_num_threads()
    return (
        f"torch {torch.__version__}; this lesson computes on cpu with "
        f"{threads} thread{'s' * (threads != 1)}; zoo models train on {device()}; {mode}"
    )
