#!/usr/bin/env python3
"""Tag every notebook cell that displays an explorer `live-explorer`, so the HTML book makes it live.

    .venv/bin/python tools/tag_explorer_cells.py notebooks/01_batching.ipynb [...]
    .venv/bin/python tools/tag_explorer_cells.py --check notebooks/*.ipynb   # exit 1 if a tag is missing

A cell displays an explorer when its last statement is a call to one of rooflib.explore's
factories (`batching_explorer(...)`, `rx.kv_latency_explorer(...)`). The tag becomes the CSS
class `tag_live-explorer` on the cell in the page; book/_ext/live_explorers.py puts the live
version there and hides the static snapshot. Only the cell's metadata changes: re-execute the
notebook afterwards (tools/execute_notebooks.py), so that its output carries the explorer's
origin, which the book reads.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import nbformat

TAG = "live-explorer"


def _factories() -> set[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rooflib.explore

    return {name for name in rooflib.explore.__all__ if name.endswith("_explorer")}


def displays_explorer(source: str, factories: set[str]) -> bool:
    """True when the cell's last statement is an expression calling an explorer factory."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return False
    func = body[-1].value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in factories


def tag(path: Path, check: bool = False) -> list[int]:
    """Tag the explorer cells of one notebook; return the indices of the cells (to be) tagged."""
    nb = nbformat.read(path, as_version=4)
    factories, changed = _factories(), []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and displays_explorer(cell.source, factories):
            tags = cell.metadata.setdefault("tags", [])
            if TAG not in tags:
                tags.append(TAG)
                changed.append(i)
    if changed and not check:
        nbformat.write(nb, path)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a cell lacks the tag")
    args = parser.parse_args()
    missing = 0
    for path in args.notebooks:
        cells = tag(path, check=args.check)
        if cells:
            missing += len(cells)
            verb = "lack" if args.check else "tagged"
            print(f"{path}: cells {', '.join(str(i + 1) for i in cells)} {verb} {TAG!r}")
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
