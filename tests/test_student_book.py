"""The student edition (`make book-student`, in _build/student/html) has every exercise and no solution.

What counts as solution text, collected from solutions/*.ipynb:
* every line of code between `### BEGIN SOLUTION` and `### END SOLUTION`, and between
  `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`;
* the printed output of the solution cells and of the answer-check cells ("Correct: 295 ...");
* the sentences of every written solution (markdown cells tagged `solution`, the `{solution}`
  dropdowns), cut into runs of plain words that read the same in the HTML.
A piece that also appears in material the student edition shows on purpose (the chapters, the
book pages, the flashcards, the exercise statements) is not a secret and is left out. Everything
else must be absent from the student edition's pages, page sources and search index.

The tests skip when there is no student build (run `make book-student`), or when it is older
than the solutions (run it again). `make test` builds the student edition before this runs.
"""
from __future__ import annotations

import html
import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "_build" / "student" / "html"
FULL = ROOT / "_build" / "html"  # the full book, with solutions (make book)
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
MIN_CODE = 16    # characters: shorter lines (`)`, `else:`) say nothing about a solution
MIN_PROSE = 30   # characters, and at least 5 words, for a run of prose
#: Characters that read the same in the markdown and in the HTML. Everything else (math,
#: markup, quotes and dashes that Sphinx makes typographic) splits the prose into runs.
PROSE_RUN = re.compile(r"[A-Za-z0-9 ,;:()%/+=-]+(?:\.(?!\.)[A-Za-z0-9 ,;:()%/+=-]*)*")
BASE64 = re.compile(r"[A-Za-z0-9+/=]{200,}")
TAG = re.compile(r"<[^>]*>")
#: Sphinx's smart quotes and dashes, read back as the plain characters of the sources.
TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                            "\u2013": "--", "\u2014": "---", "\u2026": "..."})


def norm(text: str) -> str:
    return " ".join(text.split())


def regions(source: str, markers: tuple[str, str]) -> list[str]:
    """The lines strictly between each pair of markers."""
    begin, end = markers
    out, inside = [], False
    for line in source.splitlines():
        text = line.strip()
        if text.startswith(begin):
            inside = True
        elif text.startswith(end):
            inside = False
        elif inside:
            out.append(line)
    return out


def prose_runs(markdown: str) -> list[str]:
    """Sentences, or runs of plain words within them, of a markdown text (math, code and markup
    removed)."""
    text = "\n".join(line for line in markdown.splitlines()
                     if not line.lstrip().startswith(("```", ":::", ":")))
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`\n]*`", " | ", text, flags=re.S)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)   # [text](url): the HTML shows the text
    text = re.sub(r"<(https?://[^>\s]+)>", r"\1", text)         # <url>: the HTML shows the url
    text = norm(text)
    runs = [norm(m.group(0)) for m in PROSE_RUN.finditer(text)]
    sentences = [s.strip(" ,;:(.") for r in runs for s in re.split(r"(?<=\.) ", r)]
    return [s for s in sentences if len(s) >= MIN_PROSE and len(s.split()) >= 5]


def _text(value) -> str:
    """A notebook string field: a str (nbformat) or a list of lines (raw JSON)."""
    return value if isinstance(value, str) else "".join(value)


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(_text(out.get("text", "")))
        elif "data" in out:
            parts += [_text(v) for k, v in out["data"].items() if k.startswith("text/")]
    return "\n".join(parts)


def is_solution_markdown(cell) -> bool:
    return cell.cell_type == "markdown" and (
        "solution" in cell.metadata.get("tags", []) or "{solution" in cell.source)


def exercise_statements(nb) -> list[tuple[str, str]]:
    """(title, body) of every {exercise} directive of a solutions notebook."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in re.finditer(r"```\{exercise\}\s*(?P<title>[^\n]*)\n(?P<body>.*?)```", cell.source, re.S):
            body = "\n".join(l for l in m.group("body").splitlines() if not l.startswith(":"))
            out.append((m.group("title").strip(), body))
    return out


def _student_book_tool():
    spec = importlib.util.spec_from_file_location("make_student_book", ROOT / "tools" / "make_student_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=None)
def public_text() -> str:
    """What the student edition shows on purpose: its pages (from the student table of contents
    of tools/make_student_book.py), and the exercise statements and code of the solutions."""
    parts = []
    builder = _student_book_tool()
    toc = builder.student_toc(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
    pages = [toc["root"]] + [f for f in builder._toc_files(toc) if not f.startswith("exercises/")]
    for page in pages:
        path = builder._find(page, ROOT)
        if path.suffix == ".md":
            parts.append(path.read_text(encoding="utf-8"))
        else:
            nb = nbformat.read(path, as_version=4)
            parts += [c.source + "\n" + output_text(c) for c in nb.cells]
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown" and not is_solution_markdown(cell):
                parts.append(cell.source)
            elif cell.cell_type == "code":
                source = cell.source
                for markers in (SOLUTION, HIDDEN):
                    secret = set(regions(source, markers))
                    source = "\n".join(l for l in source.splitlines() if l not in secret)
                parts.append(source)
    return norm("\n".join(parts))


@lru_cache(maxsize=None)
def secrets() -> dict[str, list[tuple[str, str]]]:
    """{solutions notebook name: [(kind, text), ...]} of the solution text that must not leak."""
    public = public_text()
    out = {}
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        found = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                solution = [("solution code", l) for l in regions(cell.source, SOLUTION)]
                hidden = [("hidden test", l) for l in regions(cell.source, HIDDEN)]
                found += [(kind, norm(l)) for kind, l in solution + hidden if len(norm(l)) >= MIN_CODE]
                if solution or "check(" in cell.source:
                    found += [("output", norm(l)) for l in output_text(cell).splitlines()
                              if len(norm(l)) >= MIN_CODE]
            elif is_solution_markdown(cell):
                found += [("written solution", r) for r in prose_runs(cell.source)]
        out[path.stem] = list(dict.fromkeys((k, t) for k, t in found if t not in public))
    return out


def page_text(path: Path) -> str:
    """The text of an output file as a reader (or a search) would find it."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(raw)
        raw = "\n".join(_text(c.get("source", "")) + "\n" + output_text(c) for c in nb.get("cells", []))
    elif path.suffix == ".html":
        raw = html.unescape(TAG.sub("", raw)).translate(TYPOGRAPHY)
    return norm(BASE64.sub(" ", raw))


def site_text(root: Path) -> dict[Path, str]:
    files = [p for p in root.rglob("*") if p.is_file() and "_static" not in p.relative_to(root).parts
             and p.suffix in (".html", ".ipynb", ".md", ".txt", ".js")]
    return {p: page_text(p) for p in sorted(files)}


def _require_build(root: Path, what: str, make: str) -> None:
    index = root / "index.html"
    if not index.exists():
        pytest.skip(f"no {what} in {root.relative_to(ROOT)}/: run `{make}` first")
    built = index.stat().st_mtime
    newer = [p.name for p in SOLUTIONS if p.stat().st_mtime > built]
    if newer:
        pytest.skip(f"the {what} is older than solutions/{newer[0]}: run `{make}` again")


@pytest.fixture(scope="module")
def student_site() -> dict[Path, str]:
    _require_build(STUDENT, "student build", "make book-student")
    return site_text(STUDENT)


def test_solution_text_was_found():
    """The detector has something to detect: every notebook gives solution code, and written
    solutions wherever the notebook has {solution} blocks."""
    assert SOLUTIONS, "no solutions/NN_*.ipynb"
    for path in SOLUTIONS:
        kinds = {kind for kind, _ in secrets()[path.stem]}
        assert "solution code" in kinds, f"{path.name}: no solution code found"
        assert "hidden test" in kinds, f"{path.name}: no hidden test found"
        nb = nbformat.read(path, as_version=4)
        if any(is_solution_markdown(c) for c in nb.cells):
            assert "written solution" in kinds, f"{path.name}: no written solution found"


def test_no_solution_in_student_edition(student_site):
    leaks = []
    for name, items in secrets().items():
        for kind, text in items:
            for path, content in student_site.items():
                if text in content:
                    leaks.append(f"{path.relative_to(STUDENT)}: {kind} from solutions/{name}.ipynb: {text[:90]!r}")
    assert not leaks, f"{len(leaks)} pieces of solution text in the student edition:\n" + "\n".join(leaks[:40])


def test_no_nbgrader_markers_in_exercise_pages(student_site):
    """(The book pages may mention the markers; the exercise pages and their sources must not.)"""
    pages = {p: t for p, t in student_site.items() if "exercises" in p.relative_to(STUDENT).parts}
    assert len(pages) >= 2 * len(SOLUTIONS), "exercise pages or their sources are missing"
    for path, content in pages.items():
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in content, f"{path.relative_to(STUDENT)} contains {marker!r}"


@pytest.mark.parametrize("solutions", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_exercises_are_in_student_edition(student_site, solutions):
    page = STUDENT / "exercises" / f"{solutions.stem}.html"
    assert page in student_site, f"no exercises page {page.relative_to(STUDENT)} in the student edition"
    text = student_site[page]
    nb = nbformat.read(solutions, as_version=4)
    statements = exercise_statements(nb)
    assert statements, f"{solutions.name} has no {{exercise}} directive"
    for title, body in statements:
        assert norm(title) in text, f"{page.name}: exercise title {title!r} missing"
        for run in prose_runs(body):
            assert run in text, f"{page.name}: statement text of {title!r} missing: {run[:80]!r}"
    # The code to complete is there, with the placeholders students fill in.
    assert "raise NotImplementedError()" in text
    assert "check(" in text


def test_no_solutions_pages_in_student_edition(student_site):
    assert not (STUDENT / "solutions").exists()
    assert not any("solutions/" in str(p.relative_to(STUDENT)) for p in student_site)


def test_detector_finds_solutions_in_full_book():
    """Cross-check of the detector: the full book (make book) shows solution code and written
    solutions, and the same search must find them there. Hidden tests are removed from both
    editions, so they are not expected."""
    _require_build(FULL, "full book", "make book")
    missing = []
    for path in SOLUTIONS:
        page = FULL / "solutions" / f"{path.stem}.html"
        if not page.exists():
            pytest.skip(f"the full book has no {page.relative_to(ROOT)}: run `make book`")
        text = page_text(page)
        missing += [f"{path.stem}: {kind}: {t[:90]!r}" for kind, t in secrets()[path.stem]
                    if kind in ("solution code", "written solution") and t not in text]
    assert not missing, "solution text the detector cannot find in the full book:\n" + "\n".join(missing[:40])


def test_jupyter_books_stale_output_path_is_not_printed():
    """make book-student moves the HTML to _build/student/html: jupyter-book's closing banner,
    which names its temporary folder, is dropped; everything else passes through."""
    feed = _student_book_tool()._stale_path_filter()
    rule = "\x1b[92m" + "=" * 79 + "\x1b[0m\n"       # jupyter-book colours its rules
    lines = ["building [html]: done\n", "The HTML pages are in _build/student-src/_build/html.\n", "\n",
             rule, "\n",
             "Finished generating HTML for book.\n", "Your book's HTML pages are here:\n",
             "    _build/student-src/_build/html/\n", "You can look at your book by opening this file in a browser:\n",
             "    _build/student-src/_build/html/index.html\n", rule, "\n", "later line\n"]
    out = "".join(k for line in lines for k in feed(line))
    assert "student-src" not in out and "Finished generating" not in out
    assert out.startswith("building [html]: done") and out.endswith("later line\n")
