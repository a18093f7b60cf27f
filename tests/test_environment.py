"""The set-up files agree: pyproject.toml, constraints.txt, environment.yml, README, .ci/run."""

import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def normalise(name: str) -> str:
    """PEP 503 name: `Scikit_Learn` and `scikit-learn` are the same package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"cannot read a package name from {requirement!r}"
    return normalise(match.group(1))


def pins(lines: list[str]) -> dict[str, str | None]:
    """name -> exact version for `name==version`, or None when the entry is not an exact pin."""
    result = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)", line.strip())
        result[requirement_name(line)] = match.group(2) if match else None
    return result


def pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {requirement_name(r) for r in requirements}


def constraints() -> dict[str, str | None]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    return pins([s for line in lines if (s := line.split("#")[0].strip())])


def environment_yml() -> tuple[str | None, list[str], list[str]]:
    """Hand parser (no yaml in the stack): (name, conda dependencies, pip entries)."""
    name, conda, pip = None, [], []
    section, pip_indent = None, None
    for raw in (ROOT / "environment.yml").read_text().splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not line.strip():
            continue
        indent, item = len(line) - len(line.lstrip()), line.strip()
        if indent == 0:
            key, _, value = item.partition(":")
            section, pip_indent = key.strip(), None
            if section == "name":
                name = value.strip().strip("'\"")
            continue
        if section != "dependencies" or not item.startswith("-"):
            continue
        entry = item[1:].strip().strip("'\"")
        if pip_indent is not None and indent > pip_indent:
            pip.append(entry)
        elif re.fullmatch(r"pip\s*:", entry):
            pip_indent = indent
        else:
            pip_indent = None
            conda.append(entry)
    return name, conda, pip


def pip_packages(entries: list[str]) -> list[str]:
    """The package entries of the pip section: no `-e .`, no pip options."""
    return [e for e in entries if not e.startswith("-")]


def test_environment_yml_layout():
    name, conda, pip = environment_yml()
    assert name == "minidiff"
    assert "python=3.11" in conda, f"conda dependencies: {conda}"
    assert "pip" in conda, f"conda dependencies: {conda}"
    assert "-e ." in pip, "environment.yml must install the repo itself with `-e .` under pip:"


def test_environment_yml_lists_exactly_pyproject_packages():
    in_env = [requirement_name(e) for e in pip_packages(environment_yml()[2])]
    duplicates = sorted({n for n in in_env if in_env.count(n) > 1})
    missing = sorted(pyproject_packages() - set(in_env))
    extra = sorted(set(in_env) - pyproject_packages())
    assert not (duplicates or missing or extra), (
        f"environment.yml pip section vs pyproject dependencies+extras: missing {missing}, "
        f"not in pyproject {extra}, listed twice {duplicates}"
    )


def test_environment_yml_pins_equal_constraints():
    pinned = constraints()
    wrong = {}
    for name, version in pins(pip_packages(environment_yml()[2])).items():
        if version is None or version != pinned.get(name):
            wrong[name] = (version, pinned.get(name))
    assert not wrong, f"environment.yml pin != constraints.txt pin (env, constraints): {wrong}"


def test_constraints_pin_every_pyproject_package():
    pinned = constraints()
    unpinned = sorted(n for n in pyproject_packages() if pinned.get(n) is None)
    assert not unpinned, f"constraints.txt has no exact `name==version` pin for {unpinned}"


def test_torch_is_pinned_to_the_cpu_wheel_version():
    assert constraints().get("torch") == "2.13.0"


def test_makefile_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in makefile


def test_readme_quick_start_is_make_lab_and_make_test():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"^#+\s*Quick start\s*\n(.*?)^#", readme + "\n#", re.M | re.S | re.I)
    assert match, "README.md has no 'Quick start' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", match.group(1), re.M | re.S)
    assert block, "the Quick start section has no code block"
    commands = [c for line in block.group(1).splitlines() if (c := line.split("#")[0].strip())]
    assert commands == ["make lab", "make test"], f"Quick start commands: {commands}"


def test_ci_run_calls_make_test():
    script = ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK), ".ci/run must be executable"
    code = re.sub(r"(^|\s)#.*$", "", script.read_text(), flags=re.M)
    assert "set -euo pipefail" in code
    assert re.search(r"^\s*(exec\s+)?make\s+test\s*$", code, re.M), ".ci/run must run `make test`"
