#!/usr/bin/env python
"""Reader copies of the chapters for JupyterLab, with the numbers in the prose filled in.

    python tools/make_reader_notebooks.py            # (re)write _build/lab/ (`make lab` runs this)
    python tools/make_reader_notebooks.py --check    # resolve every reference, write nothing

The chapters are written in MyST for the book. JupyterLab with jupyterlab-myst renders most of it
(admonitions, math, tables), but not the roles that need the whole book: a number pasted into a
sentence with ``{glue:text}`name:fmt` `` shows as its name, and a ``{cite}`key` `` as its key. This
writes a copy of every notebook of notebooks/ and book/ into _build/lab/ (same folder layout) in
which, in markdown cells only,

* ``{glue:text}`name:fmt` `` becomes the glued value formatted with ``fmt`` exactly as myst-nb
  formats it (`format_glue`); ``{glue}`name` `` / ``{glue:}`name` `` / ``{glue:any}`name` ``
  become its text (or Markdown); ``{glue:md}`name` `` its Markdown. The values are the notebook's
  own committed outputs: a cell that called ``glue("name", value, display=False)`` stores an
  output with ``application/papermill.record/text/plain`` (the value's repr) and the metadata
  ``scrapbook: {name: ...}``. A name that no cell glued is an error (ReaderCopyError): a broken
  reference never reaches a reader;
* ``{cite}`a,b` `` becomes "(Author Year; Author Year)", each linked to the source's URL (its
  ``url``, ``doi`` or arXiv ``eprint`` in book/references.bib; the bibliography page itself would
  open as raw MyST in JupyterLab); ``{cite:t}`a` `` becomes "Author (Year)". An unknown key is an
  error;
* ``{term}`text` `` / ``{term}`text <target>` `` becomes the text;
* ``{doc}`target` `` / ``{ref}`label` `` become Markdown links (to the reader copy where there is
  one, else to the original file), ``{numref}`` plain text; a target that does not exist is an
  error;
* relative Markdown links are rewritten so they still reach their file from _build/lab/.

Code cells, outputs and every directive (admonitions and the like, which jupyterlab-myst renders)
stay as they are, so the copies run exactly as the chapters do. Code spans and code blocks are
left alone. A short note at the top of each copy names its source.

The copies are regenerated on every run. A copy whose cells you changed in JupyterLab (ran and
saved, edited) is not overwritten: it is moved aside to ``NAME.edited.ipynb`` (``NAME.edited-2.ipynb``,
...) first, and the tool says so. _build/lab/.reader-copies.json records a fingerprint of the
cells it wrote (`fingerprint`), which is how an edited copy is recognised; the notebook metadata
that JupyterLab rewrites by itself when a kernel starts does not count.
"""
from __future__ import annotations

import argparse
import ast
import codecs
import copy
import hashlib
import json
import os
import posixpath
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("notebooks", "book")          # folders whose notebooks get a reader copy
OUT = ROOT / "_build" / "lab"
BIB = ROOT / "book" / "references.bib"
MANIFEST = ".reader-copies.json"
GLUE_PREFIX = "application/papermill.record/"

NOTE = ("*Reader copy of `{source}`, made by `make lab`: the numbers in the text are those of "
        "its committed run. Run it and change what you like; to change the chapter itself, edit "
        "`{source}`.*")


class ReaderCopyError(ValueError):
    """A reference in a chapter that cannot be resolved (missing glue name, unknown citation...)."""


# ------------------------------------------------------------------------------ glue


def glue_data(nb) -> dict[str, dict]:
    """Glued name -> its output data (mime types without the papermill prefix), as myst-nb reads it.

    myst-nb (``myst_nb.ext.glue.extract_glue_data``) takes every output of a code cell whose
    metadata has ``scrapbook.name`` and strips ``scrapbook.mime_prefix`` from its mime types. A
    name glued twice is an error here (myst-nb warns, and the book build turns warnings into
    errors).
    """
    data: dict[str, dict] = {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta:
                continue
            name, cut = meta["name"], len(meta.get("mime_prefix", ""))
            if name in data:
                raise ReaderCopyError(f"glue name {name!r} is glued twice (again in cell {index})")
            data[name] = {k[cut:]: v for k, v in output.get("data", {}).items()}
    return data


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def format_glue(text_plain: str, fmt_spec: str) -> str:
    """The text myst-nb's ``{glue:text}`name:fmt_spec` `` shows for a glued value's text/plain.

    A copy of ``myst_nb.core.variables.format_plain_text`` (myst-nb 1.4): the repr is read back
    with ``ast.literal_eval`` (a string repr loses its quotes, a number becomes a number; anything
    else stays the text), then the format's type letter picks the conversion: ``s`` str; ``b c d o
    x X`` int; ``e E f F g G n %`` float. An empty spec gives ``str(value)``. The role's spec
    defaults to ``s`` when the reference has no ``:fmt``. tests/test_reader_notebooks.py checks
    that this agrees with myst-nb's own function on every reference in the chapters.

    >>> format_glue("5411.239", ",.0f"), format_glue("0.8034", ".1%"), format_glue("'H100'", "s")
    ('5,411', '80.3%', 'H100')
    """
    try:
        value = ast.literal_eval(text_plain)
    except (SyntaxError, ValueError):
        value = text_plain
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


# Characters that Markdown (or MyST, or a table) would read as syntax inside pasted text.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>$|~])")


def md_escape(text: str) -> str:
    """Text that Markdown shows literally: every formatting character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


# ------------------------------------------------------------------------------ citations


@dataclass(frozen=True)
class Reference:
    authors: str     # "Austin et al.", "Okabe and Ito", "NVIDIA"
    year: str        # "2025", or the title when the source has no year
    url: str | None


def _latex_to_text(text: str) -> str:
    import latexcodec  # noqa: F401  (registers the "ulatex" codec; installed with pybtex)

    return re.sub(r"[{}]", "", codecs.decode(text, "ulatex")).strip()


def load_bibliography(path: Path = BIB) -> dict[str, Reference]:
    """Citation key -> Reference, read from the book's BibTeX file with pybtex."""
    from pybtex.database import parse_file

    refs = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_to_text(" ".join(p.prelast_names + p.last_names)) for p in people]
        if not names:
            names = [_latex_to_text(entry.fields.get("organization", key))]
        authors = (names[0] if len(names) == 1 else f"{names[0]} and {names[1]}" if len(names) == 2
                   else f"{names[0]} et al.")
        f = {k.lower(): v for k, v in entry.fields.items()}
        year = f.get("year") or _latex_to_text(f.get("title", "n.d."))
        url = (f.get("url") or (f"https://doi.org/{f['doi']}" if "doi" in f else None)
               or (f"https://arxiv.org/abs/{f['eprint']}" if "eprint" in f else None))
        refs[key] = Reference(authors, _latex_to_text(year), url)
    return refs


def _cite(kind: str, keys: str, bib: dict[str, Reference]) -> str:
    refs = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bib:
            raise ReaderCopyError(f"citation key {key!r} is not in {BIB.relative_to(ROOT)}")
        refs.append(bib[key])

    def link(text, ref):
        return f"[{md_escape(text)}]({ref.url})" if ref.url else md_escape(text)

    if kind in ("t", "ts", "ct", "cts"):                     # textual: Austin et al. (2025)
        return "; ".join(f"{md_escape(r.authors)} ({link(r.year, r)})" for r in refs)
    if kind in ("author", "authors", "cauthor", "cauthors"):
        return "; ".join(md_escape(r.authors) for r in refs)
    if kind == "year":
        return "; ".join(link(r.year, r) for r in refs)
    if kind == "empty":
        return ""
    return "(" + "; ".join(link(f"{r.authors} {r.year}", r) for r in refs) + ")"   # p, ps, ...


# ------------------------------------------------------------------------------ documents and links


@dataclass
class Book:
    """What the conversion needs to know about the whole book."""

    copied: set[str]                       # repo-relative paths of notebooks that get a copy
    bib: dict[str, Reference]
    labels: dict[str, tuple[str, str]]     # label -> (repo-relative document, heading text)
    out: Path = OUT                        # where the copies go

    def href(self, target: str, from_doc: str) -> str:
        """Link from the copy of `from_doc` to the repo-relative `target` (its copy if it has one)."""
        there = (self.out if target in self.copied else ROOT) / target
        return Path(os.path.relpath(there, (self.out / from_doc).parent)).as_posix()


def _title(path: Path) -> str:
    """A document's first level-one heading (what Sphinx shows for a {doc} link)."""
    if path.suffix == ".ipynb":
        text = "\n".join(_text(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    return m.group(1) if m else path.stem


def _resolve_doc(target: str, from_doc: str) -> str:
    """Repo-relative path of a {doc} target: absolute from the book root, else from the document."""
    base = target.lstrip("/") if target.startswith("/") else posixpath.join(posixpath.dirname(from_doc), target)
    base = posixpath.normpath(base)
    for suffix in ("", ".ipynb", ".md"):
        if (ROOT / (base + suffix)).is_file():
            return base + suffix
    raise ReaderCopyError(f"{{doc}} target {target!r} is not a notebook or page of the book")


def _heading_anchor(heading: str) -> str:
    """The anchor JupyterLab gives a rendered heading: its text with spaces as hyphens."""
    return heading.strip().replace(" ", "-")


def _collect_labels(docs: list[str]) -> dict[str, tuple[str, str]]:
    """MyST target labels ``(label)=`` -> (document, text of the heading that follows)."""
    labels = {}
    for doc in docs:
        path = ROOT / doc
        text = ("\n".join(_text(c["source"]) for c in json.loads(path.read_text())["cells"]
                          if c["cell_type"] == "markdown") if path.suffix == ".ipynb" else path.read_text())
        for m in re.finditer(r"^\(([^()\s]+)\)=\s*\n+(?:#+\s+(.+))?", text, re.M):
            labels[m.group(1)] = (doc, (m.group(2) or m.group(1)).strip())
    return labels


def _link_target(url: str, from_doc: str, book: Book) -> str:
    """A Markdown link's URL, rewritten so that it works from the copy of `from_doc`."""
    if re.match(r"^[a-zA-Z][\w+.-]*:|^#|^/", url):          # scheme (http:, mailto:), anchor, absolute
        return url
    path, sep, anchor = url.partition("#")
    target = posixpath.normpath(posixpath.join(posixpath.dirname(from_doc), unquote(path)))
    if target.startswith("..") or not (ROOT / target).exists():
        return url                                           # not a file of the repository: leave it
    return book.href(target, from_doc) + sep + anchor


# ------------------------------------------------------------------------------ markdown


_ROLE_OR_CODE = re.compile(r"(?:\{(?P<name>[A-Za-z][\w:+.-]*)\})?(?P<ticks>`+)")
_LINK = re.compile(r"(\]\()(<[^>]*>|[^)\s]+)")
_HTML_SRC = re.compile(r"""(\b(?:src|href)=)(["'])([^"']*)\2""")
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
# Directives whose body is not Markdown: left exactly as written.
_LITERAL_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode", "math", "raw", "literalinclude",
                       "eval-rst", "mermaid", "csv-table"}


def _role(name: str, content: str, doc: str, glue: dict, book: Book) -> str | None:
    """The Markdown for one role, or None to leave it to jupyterlab-myst."""
    text, target = content, None
    m = re.match(r"^(.*?)\s*<([^<>]+)>$", content, re.S)
    if m and name in ("term", "doc", "ref", "numref"):
        text, target = m.group(1).strip(), m.group(2).strip()

    if name in ("glue:text", "glue", "glue:", "glue:any", "glue:md"):
        key, fmt = content, "s"
        if name == "glue:text" and ":" in content:          # as myst-nb: the spec follows the last ':'
            key, fmt = content.rsplit(":", 1)
        elif name == "glue:md" and ":" in content.replace("::", ""):
            key = content.rsplit(":", 1)[0]                  # {glue:md}`name:myst`: the format is ours
        if "::" in key:
            other, key = key.split("::", 1)
            other_doc = _resolve_doc(other, doc)
            data = glue_data(json.loads((ROOT / other_doc).read_text())).get(key)
        else:
            data = glue.get(key)
        if data is None:
            raise ReaderCopyError(f"{{{name}}}`{content}`: no cell glues the name {key!r}")
        if name == "glue:text":
            if "text/plain" not in data:
                raise ReaderCopyError(f"{{{name}}}`{content}`: the glued value has no text/plain")
            try:
                return md_escape(format_glue(_text(data["text/plain"]), fmt))
            except Exception as exc:  # noqa: BLE001 - myst-nb reports any formatting failure
                raise ReaderCopyError(f"{{{name}}}`{content}`: cannot format the value: {exc}") from exc
        if "text/markdown" in data:
            return _text(data["text/markdown"]).strip()
        if name != "glue:md" and set(data) == {"text/plain"}:
            return md_escape(_text(data["text/plain"]))
        raise ReaderCopyError(f"{{{name}}}`{content}`: the glued value ({', '.join(data)}) is not text")

    if name == "cite" or name.startswith("cite:"):
        return _cite(name.partition(":")[2] or "p", content, book.bib)

    if name == "term":
        return text

    if name == "doc":
        path = _resolve_doc(target or text, doc)
        label = text if target else _title(ROOT / path)
        return f"[{label}]({book.href(path, doc)})"

    if name in ("ref", "numref"):
        label = (target or text).strip()
        if label not in book.labels:
            raise ReaderCopyError(f"{{{name}}}`{content}`: no target ({label})= in the book")
        where, heading = book.labels[label]
        shown = text if target else heading
        if name == "numref":
            return re.sub(r"%s|\{number\}|\{name\}", heading, shown) if target else shown
        anchor = _heading_anchor(heading)
        link = f"#{anchor}" if where == doc else f"{book.href(where, doc)}#{anchor}"
        return f"[{shown}]({link})"

    if name == "math":
        return f"${content}$"
    return None


def _inline(text: str, doc: str, glue: dict, book: Book) -> str:
    """Roles replaced and relative links rewritten in Markdown prose; code spans left alone.

    `text` starts at the start of a line. A role is ``{name}`` directly followed by a code span
    (any number of backticks); any other code span is copied as it is.
    """
    out, pos = [], 0

    def link(url: str) -> str:
        return f"<{_link_target(url[1:-1], doc, book)}>" if url.startswith("<") else _link_target(url, doc, book)

    def prose(chunk: str) -> str:
        chunk = _LINK.sub(lambda m: m.group(1) + link(m.group(2)), chunk)
        return _HTML_SRC.sub(lambda m: m.group(1) + m.group(2) + _link_target(m.group(3), doc, book)
                             + m.group(2), chunk)

    while (m := _ROLE_OR_CODE.search(text, pos)) is not None:
        name, ticks, start = m.group("name"), m.group("ticks"), m.start("ticks")
        if name and m.start() > 0 and text[m.start() - 1] == "\\":
            name = None                                  # \{name}`x`: an escaped brace, then code
        if not name and start > 0 and text[start - 1] == "\\":
            out.append(prose(text[pos:start + 1]))       # \` is a literal backtick
            pos = start + 1
            continue
        close = re.compile(r"(?<!`)" + ticks + r"(?!`)").search(text, m.end())
        if close is None:                                # an unmatched run is literal text
            out.append(prose(text[pos:m.end()]))
            pos = m.end()
            continue
        replacement = _role(name, text[m.end():close.start()], doc, glue, book) if name else None
        if replacement is None:
            out.append(prose(text[pos:start]) + text[start:close.end()])
        else:
            line = text[text.rfind("\n", 0, m.start()) + 1:m.start()]
            after = text[close.end():close.end() + 1]
            if not line.strip():                         # pasted at the start of a line
                if re.fullmatch(r"\d+", replacement) and after in (".", ")"):
                    replacement += "\\"                  # "12. more" would start a numbered list
                elif replacement[:1] in ("-", "+", "#"):
                    replacement = "\\" + replacement    # a list item or a heading
            out.append(prose(text[pos:m.start()]) + replacement)
        pos = close.end()
    out.append(prose(text[pos:]))
    return "".join(out)


def convert_markdown(source: str, doc: str, glue: dict, book: Book) -> str:
    """A markdown cell's source with the book-only roles resolved (see the module docstring).

    Code blocks (a fence without a directive, or a directive such as ``{code-block}`` or
    ``{math}`` whose body is not Markdown) are copied as they are; the body of any other directive
    (``{admonition}``, ``{note}``...) is Markdown and is converted; the fence lines stay.
    """
    out, prose, stack = [], [], []   # stack of open fences: (fence, body is literal)

    def flush():
        if prose:
            out.append(_inline("\n".join(prose), doc, glue, book))
            prose.clear()

    for line in source.split("\n"):
        m = _FENCE.match(line)
        fence, info = (m.group("fence"), m.group("info").strip()) if m else ("", "")
        if stack:
            open_fence, literal = stack[-1]
            if fence and fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not info:
                flush()
                out.append(line)
                stack.pop()
                continue
            if literal:
                out.append(line)
                continue
        directive = re.match(r"^\{([^}]*)\}", info)
        if fence and directive and directive.group(1).startswith("glue"):
            raise ReaderCopyError(f"the directive {{{directive.group(1)}}} has no reader-copy form yet: "
                                  "paste the value with a {glue:text} role, or teach this tool the directive")
        if fence and (directive or fence[0] != ":"):     # a code block or a directive opens
            flush()
            out.append(line)
            stack.append((fence, directive is None or directive.group(1) in _LITERAL_DIRECTIVES))
            continue
        prose.append(line)
    flush()
    return "\n".join(out)


# ------------------------------------------------------------------------------ notebooks


def sources() -> list[str]:
    """Repo-relative paths of the notebooks that get a reader copy."""
    return sorted(p.relative_to(ROOT).as_posix() for folder in SOURCES
                  for p in (ROOT / folder).glob("*.ipynb"))


def make_book() -> Book:
    docs = sources()
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "book").glob("*.md"))
    return Book(copied=set(docs), bib=load_bibliography(), labels=_collect_labels(docs + pages))


def reader_copy(doc: str, book: Book):
    """The reader copy of the repo-relative notebook `doc` (an nbformat NotebookNode)."""
    nb = nbformat.read(ROOT / doc, as_version=4)
    glue = glue_data(nb)
    copy_nb = copy.deepcopy(nb)
    for index, cell in enumerate(copy_nb.cells):
        if cell.cell_type != "markdown":
            continue
        try:
            cell.source = convert_markdown(cell.source, doc, glue, book)
        except ReaderCopyError as exc:
            raise ReaderCopyError(f"{doc}, cell {index}: {exc}") from None
    note = nbformat.v4.new_markdown_cell(NOTE.format(source=doc))
    note.id = "reader-copy-note"                 # fixed, so the same chapter gives the same bytes
    note.metadata["tags"] = ["reader-copy"]
    copy_nb.cells.insert(0, note)
    copy_nb.metadata["reader_copy"] = {"source": doc}
    return copy_nb


def _shown(path: Path) -> str:
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def fingerprint(data: bytes) -> str:
    """What a reader's work changes in a notebook file: its cells' sources and outputs.

    JupyterLab rewrites the notebook's metadata (the kernel's display name, the Python version)
    as soon as a kernel starts, and autosaves it; that is not the reader's work, so it does not
    count. A file that cannot be read as a notebook gets a fingerprint of its bytes.
    """
    try:
        nb = nbformat.reads(data.decode(), as_version=4)
        cells = [[c.cell_type, c.source, c.get("outputs", [])] for c in nb.cells]
        data = json.dumps(cells, sort_keys=True).encode()
    except Exception:  # noqa: BLE001 - any unreadable file is simply "changed"
        pass
    return hashlib.sha256(data).hexdigest()


def _aside(path: Path) -> Path:
    stem, n = path.name[: -len(".ipynb")], 1
    while True:
        candidate = path.with_name(f"{stem}.edited{'' if n == 1 else f'-{n}'}.ipynb")
        if not candidate.exists():
            return candidate
        n += 1


def write_all(out: Path = OUT, check: bool = False) -> list[str]:
    """Write every reader copy into `out` (or, with check, only resolve them); return messages."""
    book = make_book()
    book.out = out.resolve()
    copies = {doc: nbformat.writes(reader_copy(doc, book)) + "\n" for doc in book.copied}
    if check:
        return [f"{len(copies)} notebooks: every glue, citation and link resolves"]
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    messages, written = [], {}
    for doc, text in sorted(copies.items()):
        path = out / doc
        data = text.encode()
        if path.exists():
            current = path.read_bytes()
            if current == data:
                written[doc] = fingerprint(data)
                continue
            if manifest.get(doc) != fingerprint(current):    # changed in JupyterLab: keep it
                aside = _aside(path)
                path.rename(aside)
                messages.append(f"kept your changed copy as {aside.relative_to(out).as_posix()}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".ipynb.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written[doc] = fingerprint(data)
        messages.append(f"wrote {_shown(path)}")
    out.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    if not any(m.startswith("wrote") for m in messages):
        messages.append(f"{len(written)} reader copies in {_shown(out)} are up to date")
    return messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: _build/lab)")
    parser.add_argument("--check", action="store_true", help="resolve every reference, write nothing")
    args = parser.parse_args(argv)
    try:
        for line in write_all(args.out, check=args.check):
            print(line)
    except ReaderCopyError as exc:
        print(f"make_reader_notebooks: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
