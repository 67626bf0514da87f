#!/usr/bin/env python
"""Build the student edition of the book: the same pages and chapters, exercises without solutions.

    python tools/make_student_book.py                  # prepare the sources and build the HTML
    python tools/make_student_book.py --prepare-only   # only write the sources (to inspect them)

Steps:
1. Write a student source tree into _build/student-src/:
   * every top-level folder that holds a page of _toc.yml (book/, notebooks/), copied as it is:
     the chapters contain no exercise solutions, and their committed outputs (figures, glue
     values, widget snapshots) are what the book shows;
   * for each exercises page `solutions/NN_topic` of _toc.yml, the notebook
     `exercises/NN_topic.ipynb`, generated from the solutions notebook by the same code as
     `make exercises` (tools/make_exercises.py): solution code replaced by
     `raise NotImplementedError()`, written solutions by "YOUR ANSWER HERE", hidden tests
     removed, no outputs. The solutions/ folder itself is never copied;
   * links to `solutions/NN_topic` in the copied pages rewritten to `exercises/NN_topic`, and
     links to a teachers' page (TEACHER_PAGES) turned into plain text;
   * a _toc.yml with the exercises pages under exercises/ and the teachers-only pages left out;
   * a complete _config.yml derived from the book's (`--config` replaces the whole configuration,
     there is no merge): notebooks are not executed (the chapters' committed outputs are
     checked by the nbval stage of `make test`), exercises/ is not excluded, and sphinx-exercise's
     `hide_solutions` is on as a second guard (it hides non-gated `{solution}` blocks).
2. Build it with `jupyter-book build --config ... -W -n --keep-going` (every warning and broken
   reference fails the build) and move the HTML to _build/student/html. jupyter-book's closing
   banner, which names its own (temporary) output folder, is not passed on: the only path
   printed is the final one.
3. Check the exercise pages for nbgrader markers, which would mean a solution leaked; the full
   check is tests/test_student_book.py.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
SRC = BUILD / "student-src"
OUT = BUILD / "student" / "html"

#: Pages for teachers only: listed in _toc.yml for the full book, left out of the student edition.
#: A link to one from a page of the student edition becomes plain text: the link's own text, or
#: the words given here.
TEACHER_PAGES = {"book/teachers_guide": "the teacher's guide"}
#: Text that must never appear in the student HTML (the nbgrader markers of the solutions).
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

NOTE = """\
:::{note}
This is the **student edition** of the book. The exercise pages show each exercise and the
notebook code to complete, without worked solutions or outputs. Work them in Jupyter: the
notebooks are in `exercises/`, and each answer check tells you whether you are right.
:::
"""


def _load_make_exercises():
    """tools/make_exercises.py as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "tools" / "make_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- table of contents

def _toc_files(node) -> list[str]:
    """Every `file:` entry of a _toc.yml structure, in order."""
    out = []
    if isinstance(node, dict):
        if "file" in node:
            out.append(node["file"])
        for value in node.values():
            out += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            out += _toc_files(item)
    return out


def _is_solutions(path: str) -> bool:
    return path.split("/", 1)[0] == "solutions"


def student_toc(toc: dict) -> dict:
    """The book's toc with solutions/X pages moved to exercises/X and teachers' pages removed."""

    def walk(node):
        if isinstance(node, list):
            items = [walk(item) for item in node]
            return [item for item in items if item is not None]
        if not isinstance(node, dict):
            return node
        if node.get("file") in TEACHER_PAGES:
            return None
        new = {}
        for key, value in node.items():
            if key == "file" and _is_solutions(value):
                value = "exercises/" + value.split("/", 1)[1]
            new[key] = walk(value)
        # A part or section whose every entry was removed is dropped with them.
        for key in ("chapters", "sections", "parts"):
            if key in node and node[key] and not new[key]:
                return None if "file" not in new else {k: v for k, v in new.items() if k != key}
        return new

    out = walk(copy.deepcopy(toc))
    if out.get("root") in TEACHER_PAGES:
        raise SystemExit("error: the book's root page is a teachers' page")
    return out


# ---------------------------------------------------------------- configuration

def student_config(config: dict) -> dict:
    """A complete configuration for the student edition, derived from the book's _config.yml."""
    config = copy.deepcopy(config)
    config["title"] = f"{config.get('title', 'Book')} (student edition)"
    execute = config.setdefault("execute", {})
    # Nothing is executed: the chapters keep their committed (nbval-verified) outputs, and the
    # exercise notebooks have none (their cells stop at `raise NotImplementedError()`).
    execute["execute_notebooks"] = "off"
    excludes = [p for p in config.get("exclude_patterns", []) if p.strip("/") != "exercises"]
    config["exclude_patterns"] = excludes + ["solutions"]
    sphinx_config = config.setdefault("sphinx", {}).setdefault("config", {})
    # A second guard: sphinx-exercise hides every non-gated {solution} block. (Gated
    # solution-start/solution-end blocks crash the build with hide_solutions on; the course
    # uses none, and the exercise notebooks contain no solution blocks at all.)
    sphinx_config["hide_solutions"] = True
    return config


# ---------------------------------------------------------------- pages

def link_rewriter(names: set[str]):
    """A function rewriting links to solutions/NAME (NAME in `names`) into exercises/NAME, and
    links to the teachers' pages into plain text."""
    pattern = re.compile(r"(?P<pre>[(`<]\s*(?:\.\./|/)?)solutions/(?P<name>[\w-]+)")
    unlinks = []
    for page, words in TEACHER_PAGES.items():
        name = re.escape(page.rsplit("/", 1)[-1])
        target = rf"[^\s`<>()]*{name}(?:\.md|\.ipynb)?(?:#[^\s`<>()]*)?"
        unlinks += [
            (re.compile(rf"\[(?P<text>[^\]]*)\]\({target}\)"), None),                 # [text](page.md)
            (re.compile(rf"\{{doc\}}`(?P<text>[^`<]*?)\s*<{target}>`"), None),           # {doc}`text <page>`
            (re.compile(rf"\{{doc\}}`{target}`"), words),                               # {doc}`page`
        ]

    def rewrite(text: str) -> str:
        def sub(m):
            if m.group("name") not in names:
                return m.group(0)
            return f"{m.group('pre')}exercises/{m.group('name')}"
        text = pattern.sub(sub, text)
        for regex, words in unlinks:
            text = regex.sub(lambda m: words if words is not None else m.group("text"), text)
        return text

    return rewrite


def _rewrite_page(path: Path, rewrite) -> None:
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    elif path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                new = rewrite(cell.source)
                if new != cell.source:
                    cell.source, changed = new, True
        if changed:
            nbformat.write(nb, path)


def _add_note(path: Path) -> None:
    """Put the student-edition note under the first heading of the root page."""
    if path.suffix == ".md":
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
        lines[at:at] = ["\n", NOTE]
        path.write_text("".join(lines), encoding="utf-8")
    elif path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(1 if nb.cells else 0, nbformat.v4.new_markdown_cell(NOTE))
        nbformat.write(nb, path)


def _find(docname: str, base: Path) -> Path:
    for suffix in (".md", ".ipynb"):
        if (base / f"{docname}{suffix}").exists():
            return base / f"{docname}{suffix}"
    raise SystemExit(f"error: _toc.yml lists {docname!r}, but there is no {docname}.md or .ipynb")


_IGNORE = shutil.ignore_patterns(".*", "__pycache__", "_build")


def prepare(src: Path = SRC) -> Path:
    """Write the student source tree into `src` (replacing it); return its _config.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + _toc_files(toc)
    solutions = [f for f in files if _is_solutions(f)]

    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)

    # Pages and their neighbours (figures, vendored scripts), folder by folder; never solutions/.
    static = config.get("sphinx", {}).get("config", {}).get("html_static_path", [])
    tops = {f.split("/", 1)[0] for f in files if "/" in f and not _is_solutions(f)}
    tops |= {p.strip("/").split("/", 1)[0] for p in static}
    for top in sorted(tops):
        if top in ("solutions", "exercises"):
            raise SystemExit(f"error: {top}/ is not a folder of pages the student edition copies")
        shutil.copytree(ROOT / top, src / top, ignore=_IGNORE)
    for f in files:
        if "/" not in f:
            shutil.copy2(_find(f, ROOT), src)

    # Exercises: generated from the solutions, exactly as `make exercises` writes them.
    make_exercises = _load_make_exercises()
    (src / "exercises").mkdir()
    for f in solutions:
        name = f.split("/", 1)[1]
        text = make_exercises.make_exercise(ROOT / "solutions" / f"{name}.ipynb", myst=True)
        (src / "exercises" / f"{name}.ipynb").write_text(text, encoding="utf-8")

    rewrite = link_rewriter({f.split("/", 1)[1] for f in solutions})
    for path in sorted(src.rglob("*")):
        if path.suffix in (".md", ".ipynb") and path.is_file():
            _rewrite_page(path, rewrite)
    _add_note(_find(toc["root"], src))

    header = ("# Generated by tools/make_student_book.py from _toc.yml and _config.yml: do not edit.\n"
              "# Rebuild with `make book-student`.\n")
    (src / "_toc.yml").write_text(header + yaml.safe_dump(student_toc(toc), sort_keys=False), encoding="utf-8")
    config_path = src / "_config.yml"
    config_path.write_text(header + yaml.safe_dump(student_config(config), sort_keys=False,
                                                   allow_unicode=True), encoding="utf-8")
    return config_path


# ---------------------------------------------------------------- build

def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    found = str(exe) if exe.exists() else shutil.which("jupyter-book")
    if not found:
        raise SystemExit("error: jupyter-book not found; run `make venv` first")
    return found


def _stale_path_filter():
    """A line filter that drops jupyter-book's closing banner ("Your book's HTML pages are here:
    _build/student-src/_build/html/ ...") and Sphinx's "The HTML pages are in ...": the HTML is
    moved to OUT, and only that path is printed."""
    state = {"skip": False, "held": []}
    ansi = re.compile(r"\x1b\[[0-9;]*m")

    def feed(line: str) -> list[str]:
        text = ansi.sub("", line).strip()
        if text.startswith("The HTML pages are in "):   # Sphinx's own line naming the same folder
            return []
        if state["skip"]:
            if text and set(text) == {"="}:
                state["skip"] = False
            return []
        if text.startswith("Finished generating HTML"):
            state["skip"], state["held"] = True, []   # the banner's opening rule goes with it
            return []
        if not text or set(text) == {"="}:
            state["held"].append(line)
            return []
        out, state["held"] = state["held"] + [line], []
        return out

    return feed


def _run_quietly_about_paths(cmd: list[str]) -> int:
    """Run jupyter-book, passing its output through except the banner naming its own output
    folder, which is stale once build() has moved the HTML."""
    feed = _stale_path_filter()
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            for kept in feed(line):
                sys.stdout.write(kept)
                sys.stdout.flush()
    return proc.returncode


def build(src: Path = SRC, out: Path = OUT) -> int:
    config_path = prepare(src)
    if out.exists():
        shutil.rmtree(out)
    cmd = [_jupyter_book(), "build", str(src), "--config", str(config_path),
           "--toc", str(src / "_toc.yml"), "--path-output", str(src), "-W", "-n", "--keep-going"]
    rc = _run_quietly_about_paths(cmd)
    if rc != 0:
        print("Student book build FAILED: see the first warning above", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src / "_build" / "html"), str(out))
    pages = sorted((out / "exercises").glob("*.html")) + sorted((out / "_sources" / "exercises").glob("*"))
    leaks = [(p, m) for p in pages for m in MARKERS if m in p.read_text(encoding="utf-8", errors="replace")]
    for p, m in leaks:
        print(f"error: {p.relative_to(ROOT)} contains {m!r}", file=sys.stderr)
    if leaks:
        return 1
    print(f"Student book built: {out.relative_to(ROOT)}/index.html")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prepare-only", action="store_true",
                    help=f"only write the student sources into {SRC.relative_to(ROOT)}/")
    args = ap.parse_args(argv)
    if args.prepare_only:
        prepare()
        print(f"Student sources written: {SRC.relative_to(ROOT)}/")
        return 0
    return build()


if __name__ == "__main__":
    sys.exit(main())
