"""The zoo archive: pack a cache into one file, unpack it elsewhere only if all of it verifies."""

import dataclasses
import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from minidiff import archive, zoo
from minidiff.nets.mlp import MLP

CALLS = []


def build():
    torch.manual_seed(0)
    return MLP(hidden=8, depth=1)


def train_alpha(model, fast, progress):
    CALLS.append("alpha")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    return model


def train_beta(model, fast, progress):
    CALLS.append("beta")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(2.0)
    return model


ALPHA, BETA = zoo.Recipe("alpha", build, train_alpha), zoo.Recipe("beta", build, train_beta)
RECIPES = [ALPHA, BETA]


def weights(model):
    return torch.cat([p.flatten() for p in model.parameters()])


def snapshot(root: Path) -> dict:
    """Every file's bytes and every folder under root: what 'the cache is unchanged' compares."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}  # fmt: skip


@pytest.fixture
def teacher(tmp_path):
    """An instructor's cache with both models (fast mode), optimizer state and a partial build."""
    root = tmp_path / "teacher"
    root.mkdir()
    for recipe in RECIPES:
        zoo.load(recipe, fast=True, progress=False, root=root)
    (root / "alpha-fast.safetensors.state.pt").write_bytes(b"optimizer state")
    (root / "beta-fast.partial-0123456789abcdef").mkdir()
    (root / "beta-fast.partial-0123456789abcdef" / "fit-0.safetensors").write_bytes(b"partial")
    CALLS.clear()
    return root


@pytest.fixture
def packed(teacher, tmp_path):
    """(manifest, archive file) of the teacher's cache."""
    file = tmp_path / "zoo.zip"
    return archive.pack(file, RECIPES, fast=True, root=teacher), file


@pytest.fixture
def student(tmp_path):
    """A student's cache holding an unrelated file and stale alpha files, which must survive."""
    root = tmp_path / "student"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    (root / "alpha-fast.safetensors").write_bytes(b"stale weights")
    (root / "alpha-fast.json").write_text('{"fingerprint": "stale"}')
    return root


def test_pack_then_unpack_loads_the_same_weights_without_training(packed, teacher, tmp_path):
    manifest, file = packed
    names = ["alpha-fast.safetensors", "alpha-fast.json", "beta-fast.safetensors", "beta-fast.json"]
    with zipfile.ZipFile(file) as zf:
        assert sorted(zf.namelist()) == sorted(names + ["manifest.json"])
    assert manifest["format"] == archive.FORMAT
    assert [f"{m['recipe']}-{m['mode']}" for m in manifest["models"]] == ["alpha-fast", "beta-fast"]
    beta = manifest["models"][1]
    data = (teacher / "beta-fast.safetensors").read_bytes()
    assert beta["files"]["beta-fast.safetensors"] == dict(
        sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    assert beta["fingerprint"] == zoo.fingerprint(BETA, True)
    root = tmp_path / "empty" / "cache"
    assert archive.unpack(file, RECIPES, root=root) == ["alpha", "beta"]
    assert sorted(p.name for p in root.iterdir()) == sorted(names)
    for recipe in RECIPES:
        loaded = zoo.load(recipe, fast=True, progress=False, root=root)
        trained = zoo.load(recipe, fast=True, progress=False, root=teacher)
        torch.testing.assert_close(weights(loaded), weights(trained), rtol=0, atol=0)
    assert CALLS == []


def test_pack_refuses_missing_or_outdated_models(teacher, tmp_path):
    file = tmp_path / "zoo.zip"
    zoo.load(ALPHA, fast=False, progress=False, root=teacher)
    with pytest.raises(archive.ArchiveError, match=r"1 of 2 models \(full\).*: beta; .*make zoo"):
        archive.pack(file, [ALPHA, BETA], fast=False, root=teacher)
    outdated = dataclasses.replace(BETA, version=2)
    with pytest.raises(archive.ArchiveError, match=r"1 of 2 models \(fast\).*: beta; .*FAST=1"):
        archive.pack(file, [ALPHA, outdated], fast=True, root=teacher)
    assert not file.exists()


def test_pack_that_fails_midway_leaves_the_old_archive(teacher, tmp_path, monkeypatch):
    file = tmp_path / "zoo.zip"
    file.write_bytes(b"last year's archive")
    writestr = zipfile.ZipFile.writestr

    def disk_full_at_beta(zf, name, data, *args, **kwargs):  # alpha is in the archive by then
        if str(name).startswith("beta"):
            raise OSError("disk full")
        return writestr(zf, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", disk_full_at_beta)
    with pytest.raises(OSError, match="disk full"):
        archive.pack(file, RECIPES, fast=True, root=teacher)
    assert file.read_bytes() == b"last year's archive"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher", "zoo.zip"]


def rewrite(file: Path, out: Path, edit) -> Path:
    """Copy the archive with edit(members: {name: bytes}) applied; zipfile writes fresh CRCs."""
    with zipfile.ZipFile(file) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    edit(members)
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out


def edit_manifest(change):
    def edit(members):
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()

    return edit


def flip_byte(members):
    data = bytearray(members["beta-fast.safetensors"])
    data[-5] ^= 0xFF
    members["beta-fast.safetensors"] = bytes(data)


def flip_byte_in_place(file: Path, out: Path) -> Path:
    """Flip a byte of beta's weights inside the zip itself (its CRC no longer matches)."""
    data = bytearray(file.read_bytes())
    with zipfile.ZipFile(file) as zf:
        info = zf.getinfo("beta-fast.safetensors")
    header = data[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    data[start + info.file_size // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


BAD = {  # name: (make the bad archive from the good one, recipes to unpack with, error)
    "fingerprint": (lambda f, o: f, [ALPHA, dataclasses.replace(BETA, version=2)],
                    r"beta \(fast\) was built by another version of its recipe \(fingerprint"),
    "sha256": (lambda f, o: rewrite(f, o, flip_byte), RECIPES,
               r"beta-fast.safetensors is corrupt \(sha256"),
    "crc": (flip_byte_in_place, RECIPES, r"beta-fast.safetensors is corrupt"),
    "truncated": (lambda f, o: o.write_bytes(f.read_bytes()[: f.stat().st_size // 2]) and o,
                  RECIPES, "not a zip archive"),
    "not a zip": (lambda f, o: o.write_bytes(b"<html>not found</html>" * 50) and o, RECIPES,
                  "not a zip archive"),
    "no manifest": (lambda f, o: rewrite(f, o, lambda m: m.pop("manifest.json")), RECIPES,
                    "no manifest.json"),
    "other format": (lambda f, o: rewrite(f, o, edit_manifest(lambda m: m.update(format="x-1"))),
                     RECIPES, "format 'x-1'"),
    "unknown recipe": (lambda f, o: f, [ALPHA], "'beta' is not a recipe of this course"),
    "json disagrees": (lambda f, o: rewrite(f, o, edit_manifest(
        lambda m: m["models"][1].update(seconds=-1))), RECIPES, "disagrees .* on seconds"),
    "unlisted file": (lambda f, o: rewrite(f, o, lambda m: m.update({"../evil": b"x"})), RECIPES,
                      r"does not list: \.\./evil"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_unpack_refuses_a_bad_archive_and_leaves_the_cache_alone(case, packed, student, tmp_path):
    make, recipes, error = BAD[case]
    bad = make(packed[1], tmp_path / "bad.zip")
    before = snapshot(student)
    with pytest.raises(archive.ArchiveError, match=error):
        archive.unpack(bad, recipes, root=student)
    assert snapshot(student) == before


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != "/short.zip":
            return super().do_GET()
        data = (Path(self.directory) / "zoo.zip").read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])  # then the connection closes


@pytest.fixture
def server(packed):
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(packed[1].parent))
    )
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    """fetch's temp folder, to check that it is left empty."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.parametrize("scheme", ["http", "file"])
def test_fetch_downloads_and_unpacks(scheme, server, packed, student, downloads):
    url = f"{server}/zoo.zip" if scheme == "http" else packed[1].as_uri()
    assert archive.fetch(url, RECIPES, root=student, progress=True) == ["alpha", "beta"]
    assert zoo.is_cached(ALPHA, True, student) and zoo.is_cached(BETA, True, student)
    assert (student / "notes.txt").read_text() == "mine" and list(downloads.iterdir()) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FETCH_ERRORS = {
    "404": (lambda server: f"{server}/missing.zip", "HTTP 404"),
    "refused": (lambda server: f"http://127.0.0.1:{closed_port()}/zoo.zip", "cannot reach"),
    "scheme": (lambda server: "ftp://127.0.0.1/zoo.zip", r"expected an http://, https:// or"),
    "malformed": (lambda server: "http://[::1/zoo.zip", r"expected an http://, https:// or"),
    "cut short": (lambda server: f"{server}/short.zip", r"cut short \(\d+ of \d+ bytes"),
}


@pytest.mark.parametrize("case", list(FETCH_ERRORS))
def test_fetch_failures_name_the_url_and_leave_the_cache_alone(case, server, student, downloads):
    url, error = FETCH_ERRORS[case][0](server), FETCH_ERRORS[case][1]
    before = snapshot(student)
    with pytest.raises(archive.ArchiveError, match=error) as info:
        archive.fetch(url, RECIPES, root=student, progress=False)
    assert url in str(info.value)
    assert snapshot(student) == before and list(downloads.iterdir()) == []


def test_command_line_reports_a_bad_archive_in_one_line(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    env = dict(os.environ, MINIDIFF_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-m", "minidiff.recipes", "unpack", str(bad)],
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: archive: not a zip archive")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert not (tmp_path / "cache").exists()
