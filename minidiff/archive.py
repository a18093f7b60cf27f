"""The zoo archive: the trained zoo as one file, built once, verified and unpacked anywhere.

pack() zips each recipe's weights and json (never optimizer state or partial builds) with a
manifest of every file's sha256 and size and every model's fingerprint; unpack() verifies all of it
against this version of the course before it writes anything into the cache; fetch() downloads an
archive, then unpacks it: the only network code in minidiff. Names in an archive are checked, never
used as paths; each file is written to a temp file and os.replace'd (a crash leaves no half file).
"""

import functools
import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from . import __version__, zoo
from .files import atomic_write

FORMAT = "minidiff-zoo-archive-1"
CHUNK = 1 << 20
MODE = {True: "fast", False: "full"}


class ArchiveError(ValueError):
    """An archive is corrupt, foreign, incomplete or was made by another version of the course."""


def _by_name(recipes) -> dict:
    named = {}
    for recipe in recipes:
        if not isinstance(recipe, zoo.Recipe):
            raise TypeError(f"recipes: expected zoo.Recipe items, got {type(recipe).__name__}")
        if recipe.name in named:
            raise ValueError(f"recipes: {recipe.name!r} appears twice; names must be unique")
        named[recipe.name] = recipe
    return named


def _entry(recipe: zoo.Recipe, fast: bool, root, zf: zipfile.ZipFile) -> dict:
    """Add recipe's weights and json to zf; its manifest entry."""
    weights = zoo.path_of(recipe, fast, root)
    files, meta = {}, None
    for path in (weights, weights.with_suffix(".json")):
        data = path.read_bytes()  # read once: what is hashed is what is stored
        files[path.name] = dict(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
        zf.writestr(path.name, data)
        meta = json.loads(data) if path.suffix == ".json" else meta
    return dict(recipe=recipe.name, mode=MODE[fast], fingerprint=meta["fingerprint"],
                device=meta.get("device"), torch=meta.get("torch"), seconds=meta.get("seconds"),
                files=files)  # fmt: skip


def pack(file, recipes, fast: bool = False, root=None) -> dict:
    """Write every recipe's cached model (fast or full budget) into the zip archive `file`;
    returns its manifest. Refuses if a model is missing or was made by another recipe version."""
    if not isinstance(fast, bool):
        raise TypeError(f"fast: expected True or False, got {fast!r}")
    recipes, root = list(_by_name(recipes).values()), Path(root or zoo.cache_dir())
    missing = [r.name for r in recipes if not zoo.is_cached(r, fast, root)]
    if missing:
        hint = "MINIDIFF_FAST=1 make zoo" if fast else "make zoo"
        raise ArchiveError(f"pack: {len(missing)} of {len(recipes)} models ({MODE[fast]}) are not "
                           f"in the cache {root} with their current fingerprint: "
                           f"{', '.join(missing)}; build them first with `{hint}`")  # fmt: skip
    manifest = dict(format=FORMAT, minidiff=__version__, models=[])

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
            manifest["models"] = [_entry(r, fast, root, zf) for r in recipes]
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))

    atomic_write(file, write)
    return manifest


def _member(zf: zipfile.ZipFile, name: str, dst=None) -> tuple[str, int]:
    """(sha256 hex, size) of the archive member `name`, streamed into the binary file dst if any."""
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if dst is not None:
                    dst.write(chunk)
        return digest.hexdigest(), size
    except KeyError:
        raise ArchiveError(f"archive: {name} is listed in the manifest but missing") from None
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as err:
        raise ArchiveError(f"archive: {name} is corrupt ({err}); copy the archive again") from None


def _manifest(zf: zipfile.ZipFile) -> list:
    """The manifest's model entries, after checking that it is this course's zoo archive."""
    try:
        manifest = json.loads(zf.read("manifest.json"))
    except KeyError:
        raise ArchiveError("archive: no manifest.json, not a minidiff zoo archive") from None
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise ArchiveError(f"archive: its manifest.json is corrupt ({err})") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise ArchiveError(f"archive: format {found!r}, expected {FORMAT!r}: "
                           f"not a zoo archive this version of minidiff reads")  # fmt: skip
    models = manifest.get("models")
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise ArchiveError("archive: its manifest has no list of models")
    return models


def _check_entry(entry: dict, named: dict) -> tuple[zoo.Recipe, bool]:
    """The recipe and budget of a manifest entry, which must match this version of the course."""
    name, mode, fp = entry.get("recipe"), entry.get("mode"), entry.get("fingerprint")
    if not isinstance(name, str) or name not in named:
        raise ArchiveError(f"archive: {name!r} is not a recipe of this course; rebuild the "
                           f"archive with this version of the course")  # fmt: skip
    if mode not in ("fast", "full"):
        raise ArchiveError(f"archive: {name} has mode {mode!r}, expected 'fast' or 'full'")
    recipe, fast = named[name], mode == "fast"
    expected = zoo.fingerprint(recipe, fast)
    if fp != expected:
        raise ArchiveError(f"archive: {name} ({mode}) was built by another version of its recipe "
                           f"(fingerprint {str(fp)[:12]}… vs expected {expected[:12]}…); rebuild "
                           f"the archive with this version of the course, or train it with "
                           f"make zoo")  # fmt: skip
    weights = zoo.path_of(recipe, fast, ".")
    files, expected = entry.get("files"), {weights.name, weights.with_suffix(".json").name}
    if not isinstance(files, dict) or set(files) != expected:
        raise ArchiveError(f"archive: {name} ({mode}) should list the files {sorted(expected)}")
    return recipe, fast


def _check_files(zf: zipfile.ZipFile, entry: dict) -> None:
    """Every file of an entry is there with its sha256 and size; its json agrees with the entry."""
    for name, want in entry["files"].items():
        digest, size = _member(zf, name)
        if not isinstance(want, dict) or (digest, size) != (want.get("sha256"), want.get("size")):
            raise ArchiveError(f"archive: {name} is corrupt (sha256 {digest[:12]}…, {size} bytes; "
                               f"the manifest says {want}); copy the archive again")  # fmt: skip
    name = next(n for n in entry["files"] if n.endswith(".json"))
    try:
        meta = json.loads(zf.read(name))
    except ValueError as err:
        raise ArchiveError(f"archive: {name} is not readable JSON ({err})") from None
    keys = ("fingerprint", "device", "torch", "seconds")
    differ = [k for k in keys if not isinstance(meta, dict) or meta.get(k) != entry.get(k)]
    if differ or meta.get("fast") != (entry["mode"] == "fast"):
        raise ArchiveError(f"archive: {name} disagrees with the manifest on "
                           f"{', '.join(differ) or 'fast'}")  # fmt: skip


def _verify(zf: zipfile.ZipFile, recipes) -> list:
    """[(recipe, fast)] for every model of the archive, all of it verified."""
    named, models = _by_name(recipes), _manifest(zf)
    checked = [_check_entry(entry, named) for entry in models]
    for entry in models:
        _check_files(zf, entry)
    extra = set(zf.namelist()) - {"manifest.json"} - {n for m in models for n in m["files"]}
    if extra:
        raise ArchiveError(f"archive: files the manifest does not list: {', '.join(sorted(extra))}")
    return checked


def unpack(file, recipes, root=None) -> list[str]:
    """Verify the archive `file` (a zip from pack) against `recipes`, then write its models into
    the cache; returns their names. Nothing is written unless every check passes: the manifest's
    format, each file's sha256 and size, each model's recipe and its current fingerprint."""
    try:
        zf = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError) as err:
        raise ArchiveError(f"archive: not a zip archive ({err}); it is truncated, corrupt "
                           f"or another kind of file") from None  # fmt: skip
    with zf:
        checked = _verify(zf, recipes)
        root = Path(root or zoo.cache_dir())
        root.mkdir(parents=True, exist_ok=True)
        for recipe, fast in checked:
            weights = zoo.path_of(recipe, fast, root)
            for path in (weights, weights.with_suffix(".json")):  # json last: marks it complete
                atomic_write(path, functools.partial(_member, zf, path.name))  # CRC-checked again
    return [recipe.name for recipe, _ in checked]


def _download(url: str, dst, progress: bool) -> None:
    """Stream `url` into the binary file dst, checking the byte count against Content-Length."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            with tqdm(total=total, desc="zoo archive", unit="B", unit_scale=True,
                      unit_divisor=1024, disable=not progress) as bar:  # fmt: skip
                while chunk := response.read(CHUNK):
                    dst.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        err.close()
        raise ArchiveError(f"fetch: {url} answered HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise ArchiveError(f"fetch: cannot reach {url} ({err.reason})") from None
    except (OSError, http.client.HTTPException, ValueError) as err:
        raise ArchiveError(f"fetch: downloading {url} failed ({err!r})") from None
    if total is not None and dst.tell() != total:
        raise ArchiveError(f"fetch: the download of {url} was cut short ({dst.tell()} of {total} "
                           f"bytes arrived); try again")  # fmt: skip


def fetch(url: str, recipes, root=None, progress: bool = True) -> list[str]:
    """Download the archive at `url` (http, https or file) to a temp file and unpack it (see
    unpack); returns the names unpacked. On any failure the cache is left as it was."""
    if not isinstance(url, str):
        raise TypeError(f"url: expected a str, got {type(url).__name__}")
    try:
        scheme = urllib.parse.urlsplit(url).scheme
    except ValueError:
        scheme = None
    if scheme not in ("http", "https", "file"):
        raise ArchiveError(f"fetch: cannot download {url!r}: expected an http://, https:// or "
                           f"file:// URL")  # fmt: skip
    _by_name(recipes)  # a wrong argument fails before the download, not after
    fd, tmp = tempfile.mkstemp(prefix="minidiff-zoo-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as f:
            _download(url, f, progress)
        return unpack(tmp, recipes, root)
    finally:
        os.remove(tmp)
