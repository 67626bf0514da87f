"""The nbgrader source notebooks (`tools/make_exercises.py --nbgrader COURSE`) carry the cell
metadata nbgrader's Create Assignment tool would write: checked here without nbgrader.

The teacher's guide describes the run with nbgrader itself (generate_assignment, autograde on made-up
submissions); this test keeps the metadata that run relied on present and consistent.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from rooflib.course import answers

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "tools" / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_exercises)

KEYS = {"grade", "grade_id", "locked", "schema_version", "solution", "task"}
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def source_nb(path: Path):
    return nbformat.reads(make_exercises.nbgrader_source(path), as_version=4)


def has(cell, marker: str) -> bool:
    return any(line.strip().startswith(marker) for line in cell.source.splitlines())


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_cell_is_marked_as_the_guide_says(path):
    nb = source_nb(path)
    nbformat.validate(nb)
    solutions = nbformat.read(path, as_version=4)
    tagged = {c.id for c in solutions.cells if "solution" in c.metadata.get("tags", [])}
    ids = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if cell.cell_type == "code" and cell.source.strip().startswith("STUDENT_ID ="):
            assert meta is None, "the STUDENT_ID cell must stay editable (unmarked)"
            continue
        assert meta is not None and KEYS <= set(meta), cell.get("id")
        assert meta["schema_version"] == 3 and meta["task"] is False
        assert GRADE_ID.match(meta["grade_id"]), meta["grade_id"]
        ids.append(meta["grade_id"])
        if cell.cell_type == "code" and has(cell, "### BEGIN HIDDEN TESTS"):
            # Autograder tests: locked, one point per answer check, starting with the id guard
            assert meta["grade"] and meta["locked"] and not meta["solution"]
            assert meta["points"] == len(re.findall(r"\bcheck\(", cell.source)) + (cell.id == "student-id-test")
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.strip().startswith("### BEGIN HIDDEN TESTS"):
                    assert lines[i + 1].strip() == make_exercises.ID_GUARD
        elif cell.cell_type == "code" and has(cell, "### BEGIN SOLUTION"):
            assert meta["solution"] and not meta["grade"] and not meta["locked"]      # Autograded answer
        elif cell.cell_type == "markdown" and cell.id in tagged:
            assert meta["solution"] and meta["grade"] and not meta["locked"]          # Manually graded answer
            assert meta["points"] == make_exercises.WRITTEN_POINTS
        else:
            assert meta["locked"] and not meta["solution"] and not meta["grade"]      # Read-only
        assert not set(cell.metadata.get("tags", [])) & make_exercises.BOOK_TAGS
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert len(ids) == len(set(ids)), "grade ids must be unique within a notebook"
    # nothing lost: the same cells as the solutions, plus the student-id test
    assert len(nb.cells) == len(solutions.cells) + 1


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_answer_key_is_autograded(path):
    """Each numeric answer key of the chapter is asserted in some hidden test, and each written
    exercise's model answer is a manually graded cell."""
    nb = source_nb(path)
    chapter = path.stem[:2]
    tested = set()
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            tested |= set(re.findall(r"check\(\"(\d\d\.\d+[a-z]?)\"", cell.source))
    assert set(answers.keys(chapter)) <= tested
    assert any(c.id == "student-id-test" for c in nb.cells)


def test_student_id_test_fails_without_an_id():
    for sid, ok in [(None, False), ("", False), ("   ", False), ("ada", True), (42, True)]:
        try:
            exec(make_exercises.ID_GUARD, {"STUDENT_ID": sid})
            passed = True
        except AssertionError:
            passed = False
        assert passed == ok, sid
    # the test cell sits right after the STUDENT_ID cell, hidden from the student
    nb = source_nb(SOLUTIONS[0])
    i = next(i for i, c in enumerate(nb.cells) if c.source.strip().startswith("STUDENT_ID ="))
    test = nb.cells[i + 1]
    assert test.id == "student-id-test" and test.metadata["nbgrader"]["points"] == 1
    assert "### BEGIN HIDDEN TESTS" in test.source


def test_statements_are_plain_markdown_in_the_nbgrader_source():
    for path in SOLUTIONS:
        for cell in source_nb(path).cells:
            if cell.cell_type == "markdown" and not cell.metadata["nbgrader"]["solution"]:
                assert "{exercise}" not in cell.source and "{doc}`" not in cell.source
                assert not re.search(r"^:label:", cell.source, re.M)


def test_command_line_writes_nbgraders_source_folder(tmp_path, capsys):
    assert make_exercises.main(["--nbgrader", str(tmp_path)]) == 0
    for path in SOLUTIONS:
        out = tmp_path / "source" / path.stem / path.name
        assert out.read_text(encoding="utf-8") == make_exercises.nbgrader_source(path)
    assert not (tmp_path / "exercises").exists()


def _points(stem: str) -> tuple[int, int]:
    """(autograded points, written answers) of a chapter's nbgrader source."""
    nb = source_nb(ROOT / "solutions" / f"{stem}.ipynb")
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    return (sum(c.metadata["nbgrader"].get("points", 0) for c in graded if c.cell_type == "code"),
            sum(1 for c in graded if c.cell_type == "markdown"))


def test_the_guides_point_counts_are_the_notebooks():
    """The teacher's guide quotes the points of its nbgrader runs: they must be what the sources
    give today (a chapter that gains exercises changes them)."""
    guide = (ROOT / "book" / "teachers_guide.md").read_text()
    auto = {4: int(re.search(r"chapter 4, whose autograded tests are worth (\d+) points", guide)[1]),
            8: int(re.search(r"chapter 8 \((\d+) points", guide)[1]),
            9: int(re.search(r"chapter 9 \((\d+) points", guide)[1])}
    written = re.search(r"\((\d+) × 2 points in\s+chapter 4, (\d+) × 2 in chapter 8, (\d+) × 2 in chapter 9\)", guide)
    assert written, "the guide's sentence on written answers changed: update this test"
    for (ch, pts), n in zip(auto.items(), written.groups()):
        stem = next(p.stem for p in SOLUTIONS if p.stem.startswith(f"{ch:02d}_"))
        assert _points(stem) == (pts, int(n)), stem
