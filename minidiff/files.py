"""Files that a crash cannot leave half-written, and the hash that ties a record to its file.

atomic_write writes to a temp file beside the target, fsyncs it and os.replace's it onto the
target, so readers (and a restarted program) see the old file or the whole new one. A process
killed mid-write leaves its temp file (`<target>.<pid>.tmp`); the next write to that target
removes the temp files of processes that are gone (on POSIX, where that can be asked safely).
"""

import hashlib
import os

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
