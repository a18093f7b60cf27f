"""Strip volatile metadata from executed lessons, in place; outputs are kept.

Usage: python scripts/clean_notebook.py lessons/*.ipynb

Removes the notebook's widget state (`metadata.widgets`) and per-cell execution timings
(`metadata.execution`), and normalises `metadata.kernelspec`, so that re-running a lesson
changes only what the lesson computed. Writes JSON the way Jupyter does (indent=1).
"""

import json
import sys

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def clean(nb: dict) -> dict:
    nb.setdefault("metadata", {}).pop("widgets", None)
    nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
    return nb


def main(paths: list[str]) -> None:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
        text = json.dumps(clean(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
