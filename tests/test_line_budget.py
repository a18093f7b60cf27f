"""Style R1 and R12: small files, short functions, small constructors, so every piece of the
library fits one notebook cell when a lesson calls show(...)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "minidiff").glob("**/*.py"))
MAX_FILE_LINES, MAX_FUNCTION_LINES, MAX_INIT_PARAMS = 250, 40, 8


def trees() -> list[tuple[str, ast.Module]]:
    if not SOURCES:
        pytest.skip("no minidiff/**/*.py yet")
    return [(str(p.relative_to(ROOT)), ast.parse(p.read_text(encoding="utf-8"))) for p in SOURCES]


def functions(tree: ast.Module):
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_files_have_at_most_250_lines():
    if not SOURCES:
        pytest.skip("no minidiff/**/*.py yet")
    lengths = {
        p.relative_to(ROOT): len(p.read_text(encoding="utf-8").splitlines()) for p in SOURCES
    }
    over = [f"{name}: {n} lines" for name, n in lengths.items() if n > MAX_FILE_LINES]
    assert not over, f"files over {MAX_FILE_LINES} lines (R1): " + "; ".join(over)


def test_functions_have_at_most_40_lines():
    over = [
        f"{name}:{fn.lineno} {fn.name}: {fn.end_lineno - fn.lineno + 1} lines"
        for name, tree in trees()
        for fn in functions(tree)
        if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (R1): " + "; ".join(over)


def test_constructors_take_at_most_8_parameters():
    over = []
    for name, tree in trees():
        for fn in functions(tree):
            if fn.name != "__init__":
                continue
            a = fn.args
            params = len(a.posonlyargs + a.args + a.kwonlyargs) - 1  # self
            params += (a.vararg is not None) + (a.kwarg is not None)
            if params > MAX_INIT_PARAMS:
                over.append(f"{name}:{fn.lineno} __init__: {params} parameters")
    assert not over, f"constructors over {MAX_INIT_PARAMS} parameters (R12): " + "; ".join(over)
