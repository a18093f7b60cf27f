"""A non-editable install runs a lesson from outside the clone: what a Colab or pip user gets.

The project is built into a wheel and installed (no dependencies, no network) into a fresh venv.
That venv sees this environment's packages through a path line in a .pth file, which puts the
directory on sys.path without running the .pth files inside it, so the editable install's finder
stays off and `import minidiff` must find the installed copy. Lesson 00 then runs in fast mode
from a temporary directory, on a kernel started with the new venv's python.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "00_welcome.ipynb"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "minidiff")  # what the build reads
KERNEL = "minidiff-install-test"


def run(*args, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> dict:
    """Build the wheel from a copy of the sources (the clone stays clean) and install it."""
    tmp = tmp_path_factory.mktemp("install")
    for name in SOURCES:
        source, target = ROOT / name, tmp / "src" / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "wheels",
        tmp / "src")  # fmt: skip
    (wheel,) = (tmp / "wheels").glob("minidiff-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "_minidiff_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    run(*pip, "install", "--no-deps", "--no-index", "--target", purelib, wheel)
    return dict(tmp=tmp, wheel=wheel, python=python, purelib=purelib)


def test_wheel_holds_every_library_module(install):
    with zipfile.ZipFile(install["wheel"]) as wheel:
        packed = {n for n in wheel.namelist() if n.startswith("minidiff/")}
    sources = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "minidiff").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert "minidiff/experiments/welcome.py" in packed
    assert sources <= packed, f"not in the wheel: {sorted(sources - packed)}"


def test_installed_minidiff_is_the_copy_not_the_clone(install):
    outside = install["tmp"] / "elsewhere"
    outside.mkdir(exist_ok=True)
    code = "import minidiff.experiments.welcome as w, torch; print(w.__file__)"
    found = Path(run(install["python"], "-c", code, cwd=outside).strip())
    assert found.is_relative_to(install["purelib"]), found
    assert not found.is_relative_to(ROOT), found


def test_lesson_00_runs_outside_the_clone(install, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    tmp = install["tmp"]
    work = tmp / "lesson"
    work.mkdir(exist_ok=True)
    assert not work.resolve().is_relative_to(ROOT)
    shutil.copy2(LESSON, work / LESSON.name)
    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    argv = [str(install["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = dict(argv=argv, display_name="minidiff (installed copy)", language="python")
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, as in Jupyter
    monkeypatch.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp / "ipython"))
    monkeypatch.setenv("MINIDIFF_FAST", "1")
    monkeypatch.setenv("MINIDIFF_CACHE", str(tmp / "cache"))
    nb = nbformat.read(work / LESSON.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import minidiff\nprint(minidiff.__file__)"))
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=300, resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert Path(printed).is_relative_to(install["purelib"]), printed
