"""report.claim prints a parseable check line; claims.py collects them from notebooks into the
ledger; the README's results section is what the committed lessons generate."""

from pathlib import Path

import nbformat
import numpy as np
import pytest

from minidiff import claims, report

ROOT = Path(__file__).resolve().parents[1]


def test_a_claim_prints_one_line_that_the_ledger_reads_back(capsys):
    row = report.claim("the 8-step model matches the data", np.bool_(False), "FD < 0.5", fd=0.61234)
    line = capsys.readouterr().out.strip()
    assert line == "[claim ✗] the 8-step model matches the data | fd=0.6123 | target: FD < 0.5"
    match = report.CLAIM.match(line)
    assert match["mark"] == "✗" and match["figures"] == "fd=0.6123" and row["holds"] is False


@pytest.mark.parametrize(
    "kwargs, argument",
    [(dict(text="a | b", holds=True, target="t"), "text"),
     (dict(text="a", holds=True, target=""), "target"),
     (dict(text="a", holds="yes", target="t"), "holds")],
)  # fmt: skip
def test_bad_claims_are_named(kwargs, argument):
    with pytest.raises((ValueError, TypeError), match=f"^{argument}:"):
        report.claim(**kwargs)


def notebook(path: Path, *outputs: str) -> Path:
    cells = [nbformat.v4.new_code_cell("...", outputs=[nbformat.v4.new_output("stream", text=t)])
             for t in outputs]  # fmt: skip
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_the_ledger_collects_claims_in_order_and_counts_those_that_hold(tmp_path):
    first = notebook(tmp_path / "00_a.ipynb", "noise\n[claim ✓] one | x=1 | target: x > 0\n")
    second = notebook(tmp_path / "01_b.ipynb", "[claim ✗] two | y=2, z=3 | target: y < 1\n")
    rows = claims.collect([first, second])
    assert [(r["lesson"], r["claim"], r["holds"]) for r in rows] == [
        ("00_a", "one", "✓"), ("01_b", "two", "✗")]  # fmt: skip
    assert claims.ledger([first, second]).endswith("1 of 2 claims hold at full budget.")


def test_the_readme_results_are_generated_from_the_committed_lessons():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == claims.with_ledger(readme, claims.ledger()), "run `make claims`"


def test_with_ledger_needs_exactly_one_pair_of_markers():
    with pytest.raises(ValueError, match="^readme:"):
        claims.with_ledger("no markers", "table")
