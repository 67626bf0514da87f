"""exercises/ is generated from solutions/: it must be up to date, solution-free, and runnable."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "tools" / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_exercises)


def test_exercises_are_up_to_date():
    r = subprocess.run([sys.executable, "tools/make_exercises.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, f"exercises/ is stale; run `make exercises`:\n{r.stdout}{r.stderr}"


def test_there_are_solutions_and_exercises():
    assert SOLUTIONS, "no solutions/NN_*.ipynb"
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_notebooks_hold_no_solutions(path):
    text = path.read_text(encoding="utf-8")
    for marker in MARKERS:
        assert marker not in text, f"{path.name} contains {marker!r}"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        assert "{solution}" not in cell.source and "{solution-start}" not in cell.source
        assert not set(cell.metadata.get("tags", [])) & {"solution", "hide-input", "remove-cell"}
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebooks_have_enough_exercises(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    labels = re.findall(r"^```\{exercise\}.*\n:label: (\S+)", text, flags=re.M)
    assert len(re.findall(r"^```\{exercise\}", text, flags=re.M)) >= 5
    assert len(labels) >= 5 and len(labels) == len(set(labels)), labels
    # gated solutions crash sphinx-exercise with hide_solutions (toolchain notes, section 3)
    assert "{solution-start}" not in text and "{solution-end}" not in text
    for target in re.findall(r"^```\{solution\} (\S+)", text, flags=re.M):
        assert target in labels, f"solution for unknown exercise {target}"
    head = [c.source.strip() for c in nb.cells if c.cell_type == "code"][0]
    assert head.startswith("STUDENT_ID = None")


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_student_notebook_runs_up_to_the_unanswered_cells(path):
    """A fresh student notebook fails only where an answer is missing, never anywhere else."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    stubs = sum(c.source.count("raise NotImplementedError()") for c in nb.cells if c.cell_type == "code")
    assert [e.ename for e in errors] == ["NotImplementedError"] * stubs
    feedback = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" and "check(" in c.source
                       for o in c.outputs)
    assert "No answer yet" in feedback


# ---- the generator itself, on a small synthetic notebook ---------------------------------------

def synthetic(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"},
                                           "widgets": {"x": 1}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: ex-a\nAsk.\n```", id="q"),
        nbformat.v4.new_code_cell(
            "x = ...\ndef f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n"
            "### BEGIN SOLUTION\nx = f()\n### END SOLUTION\nprint(x)",
            id="sol", metadata={"tags": ["hide-input", "nbval-ignore-output"], "scrolled": True},
            execution_count=3, outputs=[nbformat.v4.new_output("stream", text="42\n")]),
        nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nassert x == 42\n### END HIDDEN TESTS",
                                  id="hidden", metadata={"tags": ["remove-cell"]}),
        nbformat.v4.new_code_cell("check(x)\n### BEGIN HIDDEN TESTS\nassert x\n### END HIDDEN TESTS",
                                  id="mixed"),
        nbformat.v4.new_markdown_cell("```{solution} ex-a\n:class: dropdown\nBecause.\n```",
                                      id="ans", metadata={"tags": ["solution"]}),
    ]
    nbformat.write(nb, solutions / "01_t.ipynb")
    return solutions, exercises


def test_generator_stubs_strips_and_clears(tmp_path):
    solutions, exercises = synthetic(tmp_path)
    assert make_exercises.main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    nb = nbformat.read(exercises / "01_t.ipynb", as_version=4)
    assert [c.id for c in nb.cells] == ["q", "sol", "mixed", "ans"]  # the hidden-test cell is gone
    sol = nb.cells[1]
    assert sol.source == ("x = ...\ndef f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
                          "# YOUR CODE HERE\nraise NotImplementedError()\nprint(x)")
    assert sol.outputs == [] and sol.execution_count is None
    assert sol.metadata == {"tags": ["nbval-ignore-output"]}
    assert nb.cells[2].source == "check(x)"
    assert nb.cells[3].source == "YOUR ANSWER HERE" and nb.cells[3].metadata == {}
    assert "widgets" not in nb.metadata


def test_generator_is_byte_stable_and_check_mode_works(tmp_path, capsys):
    solutions, exercises = synthetic(tmp_path)
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert make_exercises.main(args + ["--check"]) == 1  # nothing generated yet
    make_exercises.main(args)
    first = (exercises / "01_t.ipynb").read_bytes()
    make_exercises.main(args)
    assert (exercises / "01_t.ipynb").read_bytes() == first
    assert make_exercises.main(args + ["--check"]) == 0
    (exercises / "99_stray.ipynb").write_text("{}")
    assert make_exercises.main(args + ["--check"]) == 1
    assert "99_stray.ipynb" in capsys.readouterr().out


def test_generator_rejects_unbalanced_markers(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1", id="bad")]
    nbformat.write(nb, solutions / "01_bad.ipynb")
    assert make_exercises.main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 2
    assert "01_bad.ipynb" in capsys.readouterr().err


def test_up_to_date_run_says_so(tmp_path, capsys):
    solutions, exercises = synthetic(tmp_path)
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    make_exercises.main(args)
    capsys.readouterr()
    assert make_exercises.main(args) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_statements_are_plain_markdown(path):
    """Plain JupyterLab (no MyST extension) shows the statements as prose, not as code blocks."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"^\s*(```+|:::+)\{", cell.source, re.M), cell.source[:80]
            assert not re.search(r"\{[\w:-]+\}`", cell.source), cell.source[:80]
            assert not re.search(r"^:label:", cell.source, re.M)


def test_plain_markdown_forms():
    pm = make_exercises.plain_markdown
    src = "## 1. X\n\n```{exercise} The title\n:label: ex-a\n\nText $x$ **b**.\n```\n"
    assert pm(src) == "## 1. X\n\n**Exercise: The title**\n\nText $x$ **b**.\n"
    assert pm("See {doc}`/notebooks/04_pipelining`.") == \
        "See [notebooks/04_pipelining.ipynb](../notebooks/04_pipelining.ipynb)."
    assert pm("See {doc}`the chapter </notebooks/04_pipelining>`.") == \
        "See [the chapter](../notebooks/04_pipelining.ipynb)."
    assert pm("a {term}`roofline <Roofline>` b") == "a roofline b"
    with pytest.raises(make_exercises.MarkerError):
        pm(":::{admonition} Note\nx\n:::")
    # the student edition of the book keeps the MyST form
    assert "{exercise}" in make_exercises.make_exercise(SOLUTIONS[0], myst=True)
    assert "{exercise}" not in make_exercises.make_exercise(SOLUTIONS[0])
