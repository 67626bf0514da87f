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
  kernel, so regenerating gives the same bytes;
* the statements are written in plain Markdown (`plain_markdown`): an `{exercise}` block becomes
  a bold title and its text, a `{doc}` link a Markdown link to the notebook, so they read the same
  in plain JupyterLab, Jupyter Notebook, VS Code or nbgrader's release as in the book. (The
  student edition of the book keeps the MyST form, `make_exercise(..., myst=True)`.)

It prints each notebook it writes, or that exercises/ is up to date when nothing changed.

    python tools/make_exercises.py --nbgrader COURSE    # nbgrader's source/ notebooks, see below

writes COURSE/source/NN_topic/NN_topic.ipynb for every solutions notebook: the solutions with the
cell metadata nbgrader's Create Assignment tool would write (`nbgrader_metadata`), so that
`nbgrader generate_assignment` and `autograde` run without marking a cell by hand:
* code with `### BEGIN SOLUTION`: Autograded answer;
* code with `### BEGIN HIDDEN TESTS`: Autograder tests, one point per `check(` it asserts (0 for
  the cells that only recompute the numbers of a written solution), each region starting with an
  assertion that STUDENT_ID is set: a notebook run with the book's numbers earns no points;
* a cell after the STUDENT_ID cell whose hidden test fails when STUDENT_ID is None (1 point);
* markdown tagged `solution` (the written answers): Manually graded answer, WRITTEN_POINTS;
* the STUDENT_ID cell: left unmarked (the student edits it); every other cell: Read-only.
Grade ids are the exercise's label and the cell's role (`ex04-llama3-tests`).
"""
from __future__ import annotations

import argparse
import copy
import re
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


#: Points of a manually graded written answer in the nbgrader source (change them in formgrader).
WRITTEN_POINTS = 2
NBGRADER_SCHEMA = 3
#: The first line of every hidden-test region in the nbgrader source.
ID_GUARD = ('assert STUDENT_ID is not None and str(STUDENT_ID).strip(), '
            '"STUDENT_ID is not set: these are the book\'s numbers, not yours"')
ID_TEST = ("# Graded: STUDENT_ID is set to the id your teacher gave you.\n"
           "### BEGIN HIDDEN TESTS\n" + ID_GUARD + "\n### END HIDDEN TESTS")

_EXERCISE = re.compile(r"^(?P<fence>```+)\{exercise\}[ \t]*(?P<title>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                       re.M | re.S)
_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`<]*?)\s*(?:<(?P<target>[^`>]*)>)?`")
_DIRECTIVE = re.compile(r"^\s*(?:```+|:::+)\{[\w:-]+\}", re.M)


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


def plain_markdown(source: str) -> str:
    """MyST of the exercise statements as plain Markdown that any Jupyter front end renders.

    ```{exercise} Title / :label: x / text ``` -> **Exercise: Title** and the text;
    {doc}`/notebooks/04_pipelining` -> [notebooks/04_pipelining.ipynb](../notebooks/04_pipelining.ipynb);
    any other role -> its text. A directive this does not know is an error (MarkerError), so a
    new one gets a plain form here instead of reaching students as raw text.
    """
    def exercise(m):
        lines = m.group("body").splitlines()
        while lines and (re.match(r"^:[\w-]+:", lines[0]) or not lines[0].strip()):
            lines.pop(0)
        title = m.group("title").strip()
        head = f"**Exercise: {title}**" if title else "**Exercise**"
        return head + "\n\n" + "\n".join(lines).rstrip()

    def role(m):
        text, target = m.group("text").strip(), m.group("target")
        if m.group("role") == "doc":
            path = (target or text).strip().lstrip("/")
            return f"[{text if target else path + '.ipynb'}](../{path}.ipynb)"
        return text or (target or "").strip()

    out = _ROLE.sub(role, _EXERCISE.sub(exercise, source))
    left = _DIRECTIVE.search(out)
    if left:
        raise MarkerError(f"no plain Markdown form for the directive {left.group(0).strip()!r}")
    return out


def strip_cell(cell, myst: bool = False):
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
        if not myst:
            cell.source = plain_markdown(cell.source)
    cell.metadata = {"tags": tags} if tags else {}
    return cell


def make_exercise(solution: Path, myst: bool = False) -> str:
    """The text of the exercise notebook generated from the notebook at `solution`; statements in
    plain Markdown, or kept in MyST with `myst` (for the student edition of the book)."""
    nb = nbformat.read(solution, as_version=4)
    cells = []
    for i, cell in enumerate(nb.cells):
        try:
            new = strip_cell(cell, myst=myst)
        except MarkerError as e:
            raise MarkerError(f"{solution.name}, cell {i} ({cell.get('id', '?')}): {e}") from None
        if new is not None:
            cells.append(new)
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(METADATA))
    out.nbformat, out.nbformat_minor = 4, 5
    nbformat.validate(out)
    return nbformat.writes(out) + "\n"


# ---------------------------------------------------------------- nbgrader

def _label(source: str) -> str | None:
    m = re.search(r"^:label:\s*(\S+)", source, re.M)
    return m.group(1) if m else None


def _is_student_id_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.strip().startswith("STUDENT_ID =")


def nbgrader_metadata(cell, label: str, taken: set) -> dict | None:
    """The `nbgrader` cell metadata of one solutions cell (None: leave it unmarked)."""
    def grade_id(role):
        gid, n = f"{label}-{role}", 2
        while gid in taken:
            gid, n = f"{label}-{role}-{n}", n + 1
        taken.add(gid)
        return gid

    meta = {"grade": False, "locked": True, "solution": False, "task": False,
            "schema_version": NBGRADER_SCHEMA}
    if _is_student_id_cell(cell):
        return None
    if cell.cell_type == "code" and any(l.strip().startswith(HIDDEN[0]) for l in cell.source.splitlines()):
        points = len(re.findall(r"\bcheck\(", cell.source))
        meta.update(grade=True, points=points, grade_id=grade_id("tests"))
        if any(l.strip().startswith(SOLUTION[0]) for l in cell.source.splitlines()):
            raise MarkerError("a cell holds both a solution and hidden tests: split it")
    elif cell.cell_type == "code" and any(l.strip().startswith(SOLUTION[0]) for l in cell.source.splitlines()):
        meta.update(solution=True, locked=False, grade_id=grade_id("answer"))
    elif cell.cell_type == "markdown" and ("solution" in cell.metadata.get("tags", [])
                                           or SOLUTION[0] in cell.source):
        meta.update(solution=True, grade=True, locked=False, points=WRITTEN_POINTS,
                    grade_id=grade_id("written"))
    else:
        meta.update(grade_id=grade_id(f"cell-{cell.get('id', len(taken))}"))
    return meta


def nbgrader_source(solution: Path) -> str:
    """The text of the nbgrader source notebook made from the solutions notebook at `solution`."""
    nb = nbformat.read(solution, as_version=4)
    cells, taken, label = [], set(), "intro"
    for i, cell in enumerate(nb.cells):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            label = _label(cell.source) or label
            if "solution" not in cell.metadata.get("tags", []):
                try:
                    cell.source = plain_markdown(cell.source)
                except MarkerError as e:
                    raise MarkerError(f"{solution.name}, cell {i} ({cell.get('id', '?')}): {e}") from None
        else:
            cell.outputs, cell.execution_count = [], None
            cell.source = _guard_hidden(cell.source)
        try:
            meta = nbgrader_metadata(cell, label, taken)
        except MarkerError as e:
            raise MarkerError(f"{solution.name}, cell {i} ({cell.get('id', '?')}): {e}") from None
        tags = [t for t in cell.metadata.get("tags", []) if t not in BOOK_TAGS]
        cell.metadata = ({"tags": tags} if tags else {}) | ({"nbgrader": meta} if meta else {})
        cells.append(cell)
        if _is_student_id_cell(cell):
            test = nbformat.v4.new_code_cell(ID_TEST, id="student-id-test")
            test.metadata = {"nbgrader": {"grade": True, "grade_id": "student-id", "locked": True,
                                          "points": 1, "schema_version": NBGRADER_SCHEMA,
                                          "solution": False, "task": False}}
            cells.append(test)
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(METADATA))
    out.nbformat, out.nbformat_minor = 4, 5
    nbformat.validate(out)
    return nbformat.writes(out) + "\n"


def _guard_hidden(source: str) -> str:
    """Every hidden-test region starts by asserting that STUDENT_ID is set."""
    out = []
    for line in source.splitlines():
        out.append(line)
        if line.strip().startswith(HIDDEN[0]):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}{ID_GUARD}")
    return "\n".join(out)


def write_nbgrader(solutions: Path, course: Path) -> list[Path]:
    """Write course/source/NN_topic/NN_topic.ipynb for every solutions notebook; return the paths."""
    written = []
    for s in sorted(solutions.glob("[0-9][0-9]_*.ipynb")):
        path = course / "source" / s.stem / s.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nbgrader_source(s), encoding="utf-8")
        written.append(path)
    return written


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
    ap.add_argument("--nbgrader", type=Path, metavar="COURSE",
                    help="write nbgrader's source notebooks into COURSE/source/ (and nothing else)")
    args = ap.parse_args(argv)
    if args.nbgrader is not None:
        try:
            paths = write_nbgrader(args.solutions, args.nbgrader)
        except MarkerError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        for p in paths:
            print(f"wrote {p}")
        return 0
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
    if not stale:
        print(f"{args.exercises.name}/ is up to date: {len(wanted)} notebooks match {args.solutions.name}/, "
              "nothing written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
