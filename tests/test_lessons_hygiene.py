"""Static checks of the committed lessons (no kernel): executed once top to bottom on a fresh
kernel, no errors, offline and device-agnostic, and the parts every lesson must have."""

import functools
import io
import json
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))
SOURCES = sorted((ROOT / "minidiff").glob("**/*.py"))
MAX_BYTES = 2 * 1024 * 1024

# Network downloads and hard-wired CUDA: lessons and library must run offline on a CPU.
FORBIDDEN = {
    ".cuda()": r"\.cuda\(",
    "download=True": r"\bdownload\s*=\s*True\b",
    "from_pretrained(": r"\bfrom_pretrained\s*\(",
    "hf_hub_download": r"\bhf_hub_download\b",
    "urlretrieve": r"\burlretrieve\b",
    "requests.get": r"\brequests\.get\b",
}
HELP_MAGIC = re.compile(r"^\s*(\?\?\s*\S+|\S+\?\?|%pinfo2\b.*)\s*$")

lesson = pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.name) for p in LESSONS]
    or [pytest.param(None, id="no-lessons", marks=pytest.mark.skip(reason="no lessons yet"))],
)


@functools.cache
def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def cells(path: Path, kind: str) -> list[dict]:
    return [c for c in load(path)["cells"] if c["cell_type"] == kind]


def code_without_strings_and_comments(text: str) -> str:
    """Blank out comments and string literals (docstrings included), keeping positions."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    chars = list(text)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in (tokenize.COMMENT, tokenize.STRING):
                start = offsets[tok.start[0] - 1] + tok.start[1]
                end = offsets[tok.end[0] - 1] + tok.end[1]
                chars[start:end] = [c if c == "\n" else " " for c in chars[start:end]]
    except (tokenize.TokenError, SyntaxError):
        return text  # e.g. a cell magic: check the raw text
    return "".join(chars)


def forbidden_in(text: str) -> list[str]:
    code = code_without_strings_and_comments(text)
    return [name for name, pattern in FORBIDDEN.items() if re.search(pattern, code)]


@lesson
def test_is_nbformat_4(path):
    nb = load(path)
    assert nb.get("nbformat") == 4, f"nbformat {nb.get('nbformat')}"
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


@lesson
def test_kernelspec_is_python3(path):
    kernelspec = load(path).get("metadata", {}).get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"kernelspec {kernelspec}"


@lesson
def test_no_error_outputs(path):
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(load(path)["cells"])
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"stored error outputs: {errors}"


@lesson
def test_executed_once_top_to_bottom(path):
    """Counts 1..n over the code cells: one run on a fresh kernel, none skipped or re-run."""
    runnable = [
        c
        for c in cells(path, "code")
        if source(c).strip() and "skip-execution" not in c.get("metadata", {}).get("tags", [])
    ]
    counts = [c.get("execution_count") for c in runnable]
    assert counts == list(range(1, len(runnable) + 1)), f"execution counts: {counts}"


@lesson
def test_check_output_cells_have_outputs(path):
    empty = [
        i
        for i, cell in enumerate(cells(path, "code"))
        if source(cell).lstrip().startswith("# NBVAL_CHECK_OUTPUT") and not cell.get("outputs")
    ]
    assert not empty, f"`# NBVAL_CHECK_OUTPUT` code cells {empty} have no stored output"


@lesson
def test_first_code_cell_sets_fast_from_env(path):
    code = cells(path, "code")
    assert code, "no code cells"
    first = source(code[0])
    assert re.search(r"^\s*FAST\s*(:[^=]*)?=[^\n]*MINIDIFF_FAST", first, re.M), (
        "the first code cell must set `FAST = ...` from the MINIDIFF_FAST environment variable"
    )


@lesson
def test_no_downloads_cuda_or_help_magics(path):
    problems = []
    for i, cell in enumerate(cells(path, "code")):
        text = source(cell)
        problems += [f"code cell {i}: {name}" for name in forbidden_in(text)]
        for line in text.splitlines():
            if HELP_MAGIC.match(line.split("#")[0]):
                problems.append(f"code cell {i}: `{line.strip()}` (use show(obj) instead of ??)")
    assert not problems, "; ".join(problems)


def test_library_has_no_downloads_or_cuda():
    if not SOURCES:
        pytest.skip("no minidiff/**/*.py yet")
    problems = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in SOURCES
        for name in forbidden_in(p.read_text(encoding="utf-8"))
    ]
    assert not problems, "; ".join(problems)


@lesson
def test_no_widget_state(path):
    assert "widgets" not in load(path).get("metadata", {}), (
        "metadata.widgets is stored widget state: run scripts/clean_notebook.py"
    )


@lesson
def test_has_exercise_and_references(path):
    markdown = [source(c) for c in cells(path, "markdown")]
    for word in ("Exercise", "References"):
        assert any(word in text for text in markdown), f"no markdown cell mentions {word!r}"


@lesson
def test_shows_code_has_a_widget_and_a_progress_bar(path):
    code = [source(c) for c in cells(path, "code")]
    missing = [
        what
        for what, pattern in {
            "a show(...) call": r"(?<![\w.])show\(",
            "an ipywidgets/interact cell": r"ipywidgets|interact",
            "a progress bar (tqdm or progress=)": r"tqdm|progress",
        }.items()
        if not any(re.search(pattern, text) for text in code)
    ]
    assert not missing, f"no code cell with {', '.join(missing)}"


@lesson
def test_file_is_small(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{size / 1e6:.1f} MB; shrink figures or animations (limit 2 MB)"
