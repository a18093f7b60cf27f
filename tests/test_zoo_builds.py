"""Zoo builds: fingerprints that see dependencies and survive edits, what a model's json records,
and an interrupted build that resumes to the bit-identical result."""

import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import load_file

from minidiff import runtime, zoo
from minidiff.nets.mlp import MLP


def build():
    torch.manual_seed(0)
    return MLP(hidden=8, depth=1)


def nudge(model, fast, progress):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    return model


BASE = zoo.Recipe("base", build, nudge)


def train_on_base(model, fast, progress):
    base = zoo.load(BASE, fast=fast, progress=False, root=os.environ["ZOO_TEST_ROOT"])
    model.load_state_dict(base.state_dict())
    return nudge(model, fast, progress)


def test_a_fingerprint_includes_its_needs():
    child = zoo.Recipe("child", build, train_on_base, needs=(BASE,))
    edited_base = dataclasses.replace(BASE, version=2)
    child_of_edited = zoo.Recipe("child", build, train_on_base, needs=(edited_base,))
    assert zoo.fingerprint(child, True) != zoo.fingerprint(child_of_edited, True)
    assert zoo.fingerprint(child, True) == zoo.fingerprint(dataclasses.replace(child), True)


def test_loading_an_undeclared_recipe_inside_a_build_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_TEST_ROOT", str(tmp_path))
    careless = zoo.Recipe("careless", build, train_on_base)
    with pytest.raises(RuntimeError, match="'careless' loads 'base' but does not name it"):
        zoo.load(careless, fast=True, root=tmp_path, progress=False)
    child = zoo.Recipe("child", build, train_on_base, needs=(BASE,))
    model = zoo.load(child, fast=True, root=tmp_path, progress=False)
    expected = [p + 2.0 for p in build().parameters()]
    for got, want in zip(model.parameters(), expected):
        torch.testing.assert_close(got, want)


def test_the_json_records_device_torch_and_seconds(tmp_path):
    zoo.load(BASE, fast=True, root=tmp_path, progress=False)
    meta = json.loads(zoo.path_of(BASE, True, tmp_path).with_suffix(".json").read_text())
    assert meta["device"] == str(runtime.device()) and meta["torch"] == torch.__version__
    assert meta["seconds"] >= 0 and meta["fingerprint"] == zoo.fingerprint(BASE, True)


def _import_file(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_editing_a_recipe_file_during_a_build_leaves_its_fingerprint_alone(tmp_path):
    path = tmp_path / "edited_recipe.py"
    source = textwrap.dedent("""
        from minidiff import zoo
        from minidiff.nets.mlp import MLP

        def build():
            return MLP(hidden=8, depth=1)

        def train(model, fast, progress):
            return model

        RECIPE = zoo.Recipe("edited", build, train)
    """)
    path.write_text(source)
    recipe = _import_file(path).RECIPE
    before = zoo.fingerprint.__wrapped__(recipe, True)  # computed afresh, not from the cache
    path.write_text("# a line added above shifts every line number\n" + source.replace(
        "return model", "return model  # edited"))  # fmt: skip
    assert zoo.fingerprint.__wrapped__(recipe, True) == before
    assert zoo.fingerprint(_import_file(path).RECIPE, True) != before  # a new import sees it


BUILD_SCRIPT = """
import sys, torch
from minidiff import train, zoo
from minidiff.nets.mlp import MLP

def build():
    torch.manual_seed(0)
    return MLP(hidden=32, depth=2)

def fit_it(model, fast, progress):
    data = torch.randn(4096, 2, generator=torch.Generator().manual_seed(0))
    def loss(m, x, generator):
        return (m(x, torch.rand(len(x), generator=generator)) - x).square().mean()
    return train.fit(model, loss, data, steps=2000, batch_size=64, log_every=50,
                     generator=torch.Generator().manual_seed(1)).ema.model

zoo.load(zoo.Recipe("resumable", build, fit_it), fast=True, root=sys.argv[1], progress=False)
"""


def _build(script, root, **popen):
    env = dict(os.environ, MINIDIFF_DEVICE="cpu", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(script), str(root)], env=env, **popen)


def test_a_killed_build_resumes_to_the_uninterrupted_result(tmp_path):
    script = tmp_path / "build.py"
    script.write_text(BUILD_SCRIPT)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _build(script, straight).wait(timeout=120) == 0
    process, deadline = _build(script, resumed), time.monotonic() + 120
    while not list(resumed.glob("*.partial-*/fit-1.safetensors")) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # past the first save, mid-way through the next steps
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not list(resumed.glob("*.json")), "the build finished before it could be killed"
    assert _build(script, resumed).wait(timeout=120) == 0
    (final,) = straight.glob("*.safetensors")
    got, want = load_file(resumed / final.name), load_file(final)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert not list(resumed.glob("*.partial-*")), "a finished build removes its checkpoints"
