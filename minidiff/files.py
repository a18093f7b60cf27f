"""Files that a crash cannot leave half-written, and the hash that ties a record to its file.

atomic_write writes to a temp file beside the target, fsyncs it and os.replace's it onto the
target, so readers (and a restarted program) see the old file or the whole new one. A process
killed mid-write leaves its temp file (`<target>.<pid>.tmp`); the next write to that target
removes the temp files of processes that are gone (on POSIX, where that can be asked safely).
checkpoints_in, next_checkpoint and one_run say where a build's checkpoints go (re-exported by
checkpoint, whose fit callers use them).
"""

import contextlib
import contextvars
import hashlib
import os
import tempfile
from pathlib import Path

from .checks import describe


def _alive(pid: int) -> bool:
    if os.name != "posix":  # no safe probe elsewhere (os.kill(pid, 0) ends a process on Windows)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(path) -> list[str]:
    """Remove the temp files of `path` left by writers that were killed; their names."""
    folder, name = os.path.split(os.path.abspath(path))
    removed = []
    for entry in os.scandir(folder):
        stem, _, pid = entry.name.removesuffix(".tmp").rpartition(".")
        if entry.name.endswith(".tmp") and stem == name and pid.isdigit() and not _alive(int(pid)):
            try:
                os.remove(entry.path)
                removed.append(entry.name)
            except FileNotFoundError:  # another writer cleaned it first
                pass
    return removed


def atomic_write(path, write) -> None:
    """write(f) into a binary temp file beside `path`, then os.replace it onto `path`: readers see
    the old file or the whole new one, never part of it; a failed write leaves no temp file."""
    path = os.fspath(path)
    if os.path.isdir(os.path.dirname(os.path.abspath(path))):
        remove_stale_temps(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def sha256(path) -> str:
    """The sha256 hex digest of the file at path, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_path(name: str, path) -> str:
    """path as a str, if it is a path (str or os.PathLike) that is not a folder."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{name}: expected a file path like 'run.safetensors', got {describe(path)}"
        )
    if os.path.isdir(path):
        raise ValueError(f"{name}: expected a file path like 'run.safetensors', got the folder "
                         f"{path}")  # fmt: skip
    return os.fspath(path)


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


@contextlib.contextmanager
def one_run(suffix: str = ".safetensors"):
    """A checkpoint path for fit() calls that continue one run: fit(steps=500, checkpoint=p), then
    fit(steps=1000, checkpoint=p) goes on from step 500 (weights, EMA, optimizer, generator), so a
    run can pause to be measured. Inside checkpoints_in it is the build's next checkpoint (kept: an
    interrupted build resumes); outside, a temporary file, removed afterwards."""
    path = next_checkpoint(suffix)
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory) / f"run{suffix}"
