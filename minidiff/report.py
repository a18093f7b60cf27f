"""Result tables for lessons and benchmarks: a markdown table and one JSON line of figures.

Every benchmark script prints `markdown_table(rows)` and, last, `json_line(name, figures)`;
lessons print the same table from the same function.
"""

import argparse
import json
import re

import numpy as np
import torch


def _cell(v, digits: int) -> str:
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown_table(rows: list[dict], digits: int = 4) -> str:
    """rows: list of dicts with the same keys (the columns, in order of the first row)."""
    if not rows:
        raise ValueError("rows: expected at least one row")
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c, ""), digits) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def json_line(name: str, figures: dict) -> str:
    """One line of JSON: {"benchmark": name, ...figures}, floats rounded to 6 significant digits."""

    def rounded(v):
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: rounded(u) for k, u in v.items()}
        if isinstance(v, (list, tuple)):
            return [rounded(u) for u in v]
        return v

    return json.dumps({"benchmark": name, **rounded(figures)})


def benchmark_main(
    name: str, run, tables=("rows",), threads: int | None = None, argv=None, claims=None
) -> dict:
    """The command line of experiments.NAME (and benchmarks/NAME.py): `[--fast]`; prints its
    tables, then its claim lines (claims(out), the same function the lesson calls), then the
    JSON line, last.

    run(fast) returns a dict holding the `tables` (lists of row dicts) and `figures`.
    """
    parser = argparse.ArgumentParser(description=f"minidiff benchmark: {name}")
    parser.add_argument("--fast", action="store_true", help="tiny sizes (what CI runs)")
    args = parser.parse_args(argv)
    if threads is not None:
        torch.set_num_threads(threads)
    out = run(fast=args.fast)
    for key in tables:
        print(markdown_table(out[key]), end="\n\n")
    if claims is not None:
        claims(out)
    print(json_line(name, out["figures"]))
    return out


CLAIM = re.compile(  # what claim() prints; claims.py reads it back from notebooks
    r"^\[claim (?P<mark>[✓✗])\] (?P<text>[^|]+) \| (?P<figures>[^|]*) \| target: (?P<target>[^|]+)$"
)


def claim(text: str, holds: bool, target: str, **figures) -> dict:
    """Print a measured statement as one check line, `[claim ✓] text | k=v, ... | target: ...`
    (✗ when it does not hold), and return it as a dict. A claim that fails is printed, never
    raised: fast mode's tiny models may fail; the full-budget run is the one that counts.
    claims.py collects these lines from the committed notebooks into the ledger."""
    for name, value in dict(text=text, target=target).items():
        if not isinstance(value, str) or not value.strip() or "|" in value or "\n" in value:
            raise ValueError(f"{name}: expected one line of text without '|', got {value!r}")
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"holds: expected a bool (the check's verdict), got {holds!r}")
    shown = ", ".join(f"{k}={_cell(v, 4)}" for k, v in figures.items())
    line = f"[claim {'✓' if holds else '✗'}] {text.strip()} | {shown} | target: {target.strip()}"
    print(line)
    return dict(claim=text.strip(), figures=figures, target=target.strip(), holds=bool(holds))
