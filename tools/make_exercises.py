#!/usr/bin/env python
"""Generate the student notebooks exercises/NN_*.ipynb from the single source solutions/NN_*.ipynb.

    python tools/make_exercises.py            # (re)write exercises/
    python tools/make_exercises.py --check    # exit 1, listing files, if exercises/ is out of date

Uses nbgrader's markers, without nbgrader:
* code between `### BEGIN SOLUTION` and `### END SOLUTION` becomes `# YOUR CODE HERE` and
  `raise NotImplementedError()`, at the indentation of the BEGIN line;
* code between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` is removed, and a cell left
  empty is dropped;
* a markdown cell tagged `solution` (or a marked region in markdown) becomes "YOUR ANSWER HERE";
* the book-only tags `hide-input`, `remove-cell`, `solution` are dropped; outputs, execution
  counts and cell metadata other than tags are cleared; notebook metadata is reduced to the
  kernel, so regenerating gives the same bytes.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BOOK_TAGS = {"hide-input", "remove-cell", "solution"}
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class MarkerError(ValueError):
    """Unbalanced or nested markers in a solutions notebook."""


def replace_regions(source: str, markers: tuple[str, str], stub) -> str:
    """Replace each region between `markers` (both lines included) by stub(indent) lines."""
    begin, end = markers
    out, indent = [], None
    for line in source.splitlines():
        text = line.strip()
        if text.startswith(begin):
            if indent is not None:
                raise MarkerError(f"{begin!r} inside another {begin!r}")
            indent = line[: len(line) - len(line.lstrip())]
            out += stub(indent)
        elif text.startswith(end):
            if indent is None:
                raise MarkerError(f"{end!r} without {begin!r}")
            indent = None
        elif indent is None:
            out.append(line)
    if indent is not None:
        raise MarkerError(f"{begin!r} without {end!r}")
    return "\n".join(out)


def strip_cell(cell):
    """The student version of one cell, or None to drop it."""
    cell = copy.deepcopy(cell)
    tags = [t for t in cell.metadata.get("tags", []) if t not in BOOK_TAGS]
    if cell.cell_type == "code":
        src = replace_regions(cell.source, HIDDEN, lambda indent: [])
        src = replace_regions(src, SOLUTION, lambda indent: [f"{indent}# YOUR CODE HERE",
                                                           f"{indent}raise NotImplementedError()"])
        if not src.strip():
            return None
        cell.source = src.strip("\n")
        cell.outputs, cell.execution_count = [], None
    elif cell.cell_type == "markdown":
        if "solution" in cell.metadata.get("tags", []):
            cell.source = "YOUR ANSWER HERE"
        else:
            cell.source = replace_regions(cell.source, SOLUTION, lambda indent: ["YOUR ANSWER HERE"])
    cell.metadata = {"tags": tags} if tags else {}
    return cell


def make_exercise(solution: Path) -> str:
    """The text of the exercise notebook generated from the notebook at `solution`."""
    nb = nbformat.read(solution, as_version=4)
    cells = []
    for i, cell in enumerate(nb.cells):
        try:
            new = strip_cell(cell)
        except MarkerError as e:
            raise MarkerError(f"{solution.name}, cell {i} ({cell.get('id', '?')}): {e}") from None
        if new is not None:
            cells.append(new)
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(METADATA))
    out.nbformat, out.nbformat_minor = 4, 5
    nbformat.validate(out)
    return nbformat.writes(out) + "\n"


def plan(solutions: Path, exercises: Path) -> tuple[dict[Path, str], list[Path]]:
    """({exercise path: wanted text}, [exercise notebooks with no solutions source])."""
    wanted = {exercises / s.name: make_exercise(s) for s in sorted(solutions.glob("[0-9][0-9]_*.ipynb"))}
    extra = [p for p in sorted(exercises.glob("*.ipynb")) if p not in wanted]
    return wanted, extra


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if exercises/ is stale")
    ap.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    ap.add_argument("--exercises", type=Path, default=ROOT / "exercises")
    args = ap.parse_args(argv)
    try:
        wanted, extra = plan(args.solutions, args.exercises)
    except MarkerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    stale = [p for p, text in wanted.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(args.exercises.parent)}")
        for p in extra:
            print(f"no solutions source: {p.relative_to(args.exercises.parent)}")
        if stale or extra:
            print("run: python tools/make_exercises.py", file=sys.stderr)
            return 1
        return 0
    args.exercises.mkdir(parents=True, exist_ok=True)
    for p in stale:
        p.write_text(wanted[p], encoding="utf-8")
        print(f"wrote {p.relative_to(args.exercises.parent)}")
    for p in extra:
        print(f"warning: {p.relative_to(args.exercises.parent)} has no solutions source", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
