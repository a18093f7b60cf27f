"""Result tables for lessons and benchmarks: a markdown table and one JSON line of figures.

Every benchmark script prints `markdown_table(rows)` and, last, `json_line(name, figures)`;
lessons print the same table from the same function.
"""

import json


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
