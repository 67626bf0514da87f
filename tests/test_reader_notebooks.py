"""tools/make_reader_notebooks.py: the chapters as `make lab` opens them, with their numbers filled in.

A reader in JupyterLab must see readable prose and numbers: every glue reference of every chapter
resolves, to exactly the text the book shows (myst-nb's formatting); no book-only role is left in
the copies; code and outputs are untouched; a broken reference is an error, never a silent gap.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parent.parent

spec = importlib.util.spec_from_file_location("make_reader_notebooks", ROOT / "tools" / "make_reader_notebooks.py")
mrn = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = mrn
spec.loader.exec_module(mrn)

DOCS = mrn.sources()
CHAPTERS = [d for d in DOCS if re.match(r"notebooks/\d\d_", d)]
GLUE_REF = re.compile(r"\{glue(?::text|:any|:md|:)?\}`([^`]+)`")
LEFT = re.compile(r"\{(glue[\w:]*|cite[\w:]*|term|doc|ref|numref)\}`")


def markdown(nb) -> list[str]:
    return [c.source if isinstance(c.source, str) else "".join(c.source)
            for c in nb.cells if c.cell_type == "markdown"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab")
    mrn.write_all(out)
    return out


@pytest.fixture(scope="module")
def book():
    return mrn.make_book()


def test_every_chapter_has_a_copy(lab):
    assert len(CHAPTERS) >= 8
    for doc in DOCS:
        assert (lab / doc).is_file(), doc
    assert "notebooks/flashcard_drill.ipynb" in DOCS and "book/catalog.ipynb" in DOCS


@pytest.mark.parametrize("doc", DOCS)
def test_every_glue_reference_resolves_as_myst_nb_formats_it(doc):
    """Each {glue:text}`name:fmt` of the chapter: the name is glued, and the text is myst-nb's."""
    nb = json.loads((ROOT / doc).read_text())
    glue = mrn.glue_data(nb)
    refs = [m.group(1) for s in markdown(nbformat.from_dict(nb)) for m in GLUE_REF.finditer(s)]
    for ref in refs:
        key, fmt = ref.rsplit(":", 1) if ":" in ref else (ref, "s")
        assert key in glue, f"{doc}: {{glue:text}}`{ref}` but no cell glues {key!r}"
        text = "".join(glue[key]["text/plain"])
        assert mrn.format_glue(text, fmt) == format_plain_text(text, fmt), (doc, ref)
    if doc in CHAPTERS:
        assert refs, f"{doc} glues no number at all?"


@pytest.mark.parametrize("text_plain, fmt, expected", [
    ("5411.239", ",.0f", "5,411"),
    ("1436.3109763493026", ",.0f", "1,436"),
    ("0.8034", ".1%", "80.3%"),
    ("0.0715", ".1%", "7.1%"),        # Python rounds the binary value 7.1499..., as the book does
    ("123456.789", ".3g", "1.23e+05"),
    ("0.0012345", ".3g", "0.00123"),
    ("71.93223729368103", ".0f", "72"),
    ("12", ".1f", "12.0"),            # an int glued, a float format: converted as myst-nb does
    ("185", "", "185"),               # an empty spec: str(value)
    ("42.5", "s", "42.5"),            # no :fmt in the reference: the role's default spec 's'
    ("'H100 SXM'", "s", "H100 SXM"),  # a string's repr loses its quotes
    ("np.float64(1.5)", "s", "np.float64(1.5)"),  # not a literal: the text itself
])
def test_formatting_matches_myst_nb(text_plain, fmt, expected):
    assert mrn.format_glue(text_plain, fmt) == expected
    assert format_plain_text(text_plain, fmt) == expected


@pytest.mark.parametrize("doc", DOCS)
def test_no_book_only_role_is_left(lab, doc):
    nb = nbformat.read(lab / doc, as_version=4)
    for source in markdown(nb):
        assert "{glue" not in source and "{cite" not in source, (doc, source[:300])
        left = LEFT.search(source)
        assert left is None, (doc, source[max(0, left.start() - 80):left.end() + 80])


@pytest.mark.parametrize("doc", DOCS)
def test_code_and_outputs_are_unchanged(lab, doc):
    src, out = nbformat.read(ROOT / doc, as_version=4), nbformat.read(lab / doc, as_version=4)
    assert out.cells[0].metadata["tags"] == ["reader-copy"] and doc in out.cells[0].source
    assert len(out.cells) == len(src.cells) + 1
    for a, b in zip(src.cells, out.cells[1:]):
        assert a.cell_type == b.cell_type and a.get("id") == b.get("id")
        if a.cell_type == "code":
            assert a == b
    assert out.metadata["kernelspec"] == src.metadata["kernelspec"]


def test_a_chapter_reads_with_its_numbers(lab):
    nb = json.loads((ROOT / "notebooks/02_kv_cache.ipynb").read_text())
    glue = mrn.glue_data(nb)
    text = "\n".join(markdown(nbformat.read(lab / "notebooks/02_kv_cache.ipynb", as_version=4)))
    ratio = format_plain_text("".join(glue["recompute_ratio"]["text/plain"]), ",.0f")
    assert f"so their ratio, {ratio}, is a property" in text
    moe = "\n".join(markdown(nbformat.read(lab / "notebooks/03_moe.ipynb", as_version=4)))
    assert "37 billion of them ([DeepSeek-AI 2024](https://arxiv.org/abs/2412.19437))" in moe


def test_links_reach_their_files(lab):
    """{doc} targets and relative Markdown links point at files that exist, seen from the copy."""
    n = 0
    for doc in DOCS:
        for source in markdown(nbformat.read(lab / doc, as_version=4)):
            for url in re.findall(r"\]\(<?([^)\s>]+\.(?:ipynb|md)(?:#[^)\s>]*)?)>?\)", source):
                if not re.match(r"^[a-z]+:", url):
                    assert ((lab / doc).parent / url.split("#")[0]).resolve().is_file(), (doc, url)
                    n += 1
    assert n >= 5


# ------------------------------------------------------------------------------ the conversion


def convert(source: str, glue: dict | None = None, book=None) -> str:
    book = book or mrn.make_book()
    return mrn.convert_markdown(source, "notebooks/02_kv_cache.ipynb", glue or {}, book)


def record(value) -> dict:
    return {"text/plain": repr(value)}


def test_a_missing_glue_name_is_an_error(book):
    with pytest.raises(mrn.ReaderCopyError, match="nope"):
        convert("The answer is {glue:text}`nope:.0f` tokens.", {"yes": record(1.0)}, book)


def test_a_glue_directive_is_an_error_not_raw_text(book):
    with pytest.raises(mrn.ReaderCopyError, match="glue:figure"):
        convert("```{glue:figure} fig_name\n:name: fig\n```", {"fig_name": record(1)}, book)


def test_an_unknown_citation_key_is_an_error(book):
    with pytest.raises(mrn.ReaderCopyError, match="nokey2099"):
        convert("As shown {cite}`nokey2099`.", book=book)


def test_a_missing_doc_is_an_error(book):
    with pytest.raises(mrn.ReaderCopyError, match="no_such_notebook"):
        convert("See {doc}`/solutions/no_such_notebook`.", book=book)


def test_the_tool_exits_nonzero_on_a_broken_reference(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("{glue:text}`missing_name:.1f` ms")]
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nb, tmp_path / "notebooks" / "99_broken.ipynb")
    monkeypatch.setattr(mrn, "ROOT", tmp_path)
    monkeypatch.setattr(mrn, "make_book", lambda: mrn.Book({"notebooks/99_broken.ipynb"}, {}, {}))
    assert mrn.main(["--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out" / "notebooks" / "99_broken.ipynb").exists()


def test_roles_are_resolved_and_code_is_left_alone(book):
    glue = {"b": record(5411.239), "f": record(0.8034), "s": record("H100 SXM")}
    src = "\n".join([
        "Batch {glue:text}`b:,.0f` at {glue:text}`f:.1%` on the {glue}`s` ({term}`MFU <model FLOPs utilisation>`).",
        "Cited {cite}`austin2025scaling,okabe2008cud`; {cite:t}`okabe2008cud` chose the colours.",
        "In code: ``{glue:text}`b` `` and ``{cite}`x` `` stay.",
        "```python",
        "glue('b', 1)  # {glue:text}`b:.1f` in a code block stays",
        "```",
        ":::{admonition} Takeaways",
        ":class: tip",
        "* {glue:text}`b:,.0f` sequences",
        ":::",
    ])
    out = convert(src, glue, book).split("\n")
    assert out[0] == "Batch 5,411 at 80.3% on the 'H100 SXM' (MFU)."
    assert out[1].startswith("Cited ([Austin et al. 2025](https://jax-ml.github.io/scaling-book/); "
                             "[Okabe and Ito 2008](https://jfly.uni-koeln.de/color/)); Okabe and Ito ([2008](")
    assert out[2] == "In code: ``{glue:text}`b` `` and ``{cite}`x` `` stay."
    assert out[3:6] == src.split("\n")[3:6]
    assert out[6:8] == [":::{admonition} Takeaways", ":class: tip"]
    assert out[8] == "* 5,411 sequences" and out[9] == ":::"


def test_pasted_text_cannot_become_markdown_syntax(book):
    glue = {"n": record(12), "neg": record(-3.0), "s": record("a*b|c_d$")}
    assert convert("{glue:text}`n:.0f`. Next", glue, book) == "12\\. Next"      # not a numbered list
    assert convert("{glue:text}`neg:.0f` to go", glue, book) == "\\-3 to go"     # not a list item
    assert convert("| {glue:text}`s` |", glue, book) == "| a\\*b\\|c\\_d\\$ |"  # a table cell stays one


def test_doc_links_and_relative_links(book):
    out = convert("Exercises: {doc}`/solutions/02_kv_cache`. See the [catalog](../book/catalog.ipynb).",
                  book=book)
    m = re.match(r"Exercises: \[([^\]]+)\]\(([^)]+)\)\. See the \[catalog\]\(([^)]+)\)\.", out)
    assert m, out
    # solutions/ has no reader copy: the link leaves _build/lab/notebooks/ for the repository's file
    assert m.group(2) == "../../../solutions/02_kv_cache.ipynb"
    assert m.group(1) == mrn._title(ROOT / "solutions" / "02_kv_cache.ipynb")
    # the catalog has one: the link stays inside the copies
    assert m.group(3) == "../book/catalog.ipynb"


# ------------------------------------------------------------------------------ regenerating


def test_regenerating_keeps_a_reader_s_changes(tmp_path):
    assert any(m.startswith("wrote") for m in mrn.write_all(tmp_path))
    assert mrn.write_all(tmp_path) == [f"{len(DOCS)} reader copies in {tmp_path.resolve()} are up to date"]
    path = tmp_path / "notebooks" / "02_kv_cache.ipynb"

    # JupyterLab rewrites the kernel's display name when a kernel starts: not the reader's work.
    nb = nbformat.read(path, as_version=4)
    nb.metadata.kernelspec.display_name = "Python 3 (ipykernel)"
    nbformat.write(nb, path)
    messages = mrn.write_all(tmp_path)
    assert not any("kept" in m for m in messages) and not list(path.parent.glob("*.edited*"))

    # A reader ran a cell and saved: that copy is kept beside the fresh one.
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="my own run\n")]
    nbformat.write(nb, path)
    changed = path.read_bytes()
    messages = mrn.write_all(tmp_path)
    assert "kept your changed copy as notebooks/02_kv_cache.edited.ipynb" in messages
    assert (path.parent / "02_kv_cache.edited.ipynb").read_bytes() == changed
    fresh = nbformat.read(path, as_version=4)
    assert next(c for c in fresh.cells if c.cell_type == "code").outputs != code.outputs
    # ... and a second edit goes beside the first, never over it.
    nbformat.write(nb, path)
    assert "kept your changed copy as notebooks/02_kv_cache.edited-2.ipynb" in mrn.write_all(tmp_path)


def test_check_mode_writes_nothing(tmp_path):
    assert mrn.write_all(tmp_path / "x", check=True)[0].endswith("every glue, citation and link resolves")
    assert not (tmp_path / "x").exists()


def test_make_lab_regenerates_the_copies_and_opens_them():
    rule = re.search(r"^lab:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    lines = [line.strip() for line in rule.splitlines() if line.startswith("\t")]
    assert lines[0] == "$(PY) tools/make_reader_notebooks.py"
    assert "jupyter lab" in lines[1] and "$(BUILD)/lab" in lines[1]
