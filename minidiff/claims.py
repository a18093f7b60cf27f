"""The claims ledger: every `report.claim` line printed in the committed lessons, as one table.

`python -m minidiff.claims` (or `make claims`) prints it; `--readme README.md` rewrites the
README's results section between its two markers from it, so no number there is copied by hand
(tests/test_claims.py checks that the committed README equals what this generates).
"""

import argparse
import json
from pathlib import Path

from .files import atomic_write
from .report import CLAIM, markdown_table

START, END = "<!-- claims:start -->", "<!-- claims:end -->"
LESSONS = Path(__file__).resolve().parents[1] / "lessons"


def collect(paths) -> list[dict]:
    """The claim lines in the outputs of the notebooks at paths, in order: lesson, claim,
    figures, target and holds (✓ or ✗)."""
    rows = []
    for path in map(Path, paths):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
        text = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
        for match in map(CLAIM.match, text.splitlines()):
            if match:
                rows.append(dict(lesson=path.stem, claim=match["text"], figures=match["figures"],
                                 target=match["target"], holds=match["mark"]))  # fmt: skip
    return rows


def ledger(paths=None) -> str:
    """The ledger of the lessons (default: every lessons/*.ipynb) as a markdown table."""
    rows = collect(sorted(LESSONS.glob("*.ipynb")) if paths is None else paths)
    if not rows:
        return "No lesson states a measured claim yet."
    held = sum(r["holds"] == "✓" for r in rows)
    return f"{markdown_table(rows)}\n\n{held} of {len(rows)} claims hold at full budget."


def with_ledger(readme: str, table: str) -> str:
    """readme with the text between its START and END markers replaced by table."""
    if readme.count(START) != 1 or readme.count(END) != 1:
        raise ValueError(f"readme: expected one {START} and one {END} marker")
    head, rest = readme.split(START)
    return f"{head}{START}\n{table}\n{END}{rest.split(END)[1]}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="minidiff's claims ledger")
    parser.add_argument("--readme", type=Path, help="rewrite this README's results section")
    args = parser.parse_args(argv)
    table = ledger()
    if args.readme is None:
        print(table)
        return
    text = with_ledger(args.readme.read_text(encoding="utf-8"), table)
    atomic_write(args.readme, lambda f: f.write(text.encode()))
    print(f"claims: {args.readme} updated")


if __name__ == "__main__":
    main()
