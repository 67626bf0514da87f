"""Sphinx extension: the chapters' explorers, live in the HTML page, with no kernel and no network.

A notebook cell tagged `live-explorer` displays an explorer (tools/tag_explorer_cells.py adds the
tag). Its output's metadata holds the factory call that built it ("rooflib-live", written by
rooflib.explore.base.Explorer). At build time this extension builds the explorer again, draws it
at every point of its grid (rooflib.explore.live.harvest) and puts the result in the page as
gzip-compressed JSON; book/_ext/live_static/rooflib-live.js turns it into controls and a Vega-Lite
chart, and hides the static snapshot. The numbers are rooflib's: nothing is computed in the page.

The build fails, naming the explorer, when a tagged cell has no explorer output, when a grid is
too large, or when a page's data would exceed PAGE_BUDGET bytes. Harvests are cached in
_build/live-cache/ (keyed by the call and the library's source), so the student edition and the
book share them.
"""
from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import os
from pathlib import Path

import nbformat
from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.util import logging

TAG = "live-explorer"
PAGE_BUDGET = 1_500_000  # bytes of live data per page
HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _library_digest() -> str:
    import rooflib

    h = hashlib.sha256()
    for path in sorted(Path(rooflib.__file__).parent.rglob("*")):
        if path.suffix in (".py", ".csv", ".yaml", ".json") and "__pycache__" not in path.parts:
            h.update(path.as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _cache_dir() -> Path | None:
    import rooflib

    root = Path(rooflib.__file__).resolve().parents[1] / "_build" / "live-cache"
    try:
        root.mkdir(parents=True, exist_ok=True)
        return root
    except OSError:
        return None


def harvest_payload(origin: dict, where: str) -> str:
    """The page's data for one explorer: gzip-compressed JSON, base64 (cached)."""
    from rooflib.explore import live

    key = hashlib.sha256((json.dumps(origin, sort_keys=True) + _library_digest()).encode()).hexdigest()[:24]
    cache = _cache_dir()
    hit = cache / f"{key}.b64" if cache else None
    if hit and hit.exists():
        return hit.read_text()
    try:
        data = live.harvest(live.rebuild(origin), name=f"{origin['factory']} ({where})")
    except live.LiveGridError as err:
        raise ExtensionError(f"live explorer {origin['factory']} in {where}: {err}") from err
    data["origin"] = origin  # the browser test builds the same explorer to check the page's numbers
    payload = base64.b64encode(gzip.compress(live.to_json(data).encode(), 9, mtime=0)).decode()
    if hit:
        tmp = hit.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(payload)
        tmp.replace(hit)
    return payload


def _origin(outputs: list) -> dict | None:
    for out in outputs:
        origin = out.get("metadata", {}).get("rooflib-live")
        if origin:
            return origin
    return None


def inject(app, doctree, docname: str) -> None:
    """Put the live data beside every tagged explorer cell of this page."""
    containers = [c for c in doctree.findall(nodes.container)
                  if c.get("nb_element") == "cell_code" and TAG in c.get("cell_metadata", {}).get("tags", [])]
    if not containers:
        return
    path = Path(app.env.doc2path(docname))
    nb = nbformat.read(path, as_version=4)
    total, names = 0, []
    for c in containers:
        i = c["cell_index"]
        where = f"{docname}, cell {i + 1}"
        origin = _origin(nb.cells[i].get("outputs", []))
        if origin is None:
            raise ExtensionError(f"{where} is tagged {TAG!r} but its output has no explorer origin "
                                 "(metadata 'rooflib-live'): re-execute the notebook with "
                                 "tools/execute_notebooks.py, or remove the tag")
        payload = harvest_payload(origin, where)
        total += len(payload)
        names.append(f"{origin['factory'].split(':')[1]} {len(payload) / 1e6:.2f} MB")
        c += nodes.raw("", f'<script type="application/octet-stream" class="rooflib-live-data" '
                           f'data-encoding="gzip+base64" data-factory="{origin["factory"]}">{payload}</script>',
                       format="html")
    if total > PAGE_BUDGET:
        raise ExtensionError(f"{docname}: the live explorers' data is {total / 1e6:.2f} MB, over the "
                             f"{PAGE_BUDGET / 1e6:.1f} MB budget per page ({', '.join(names)}): narrow their "
                             "live_grid")
    logger.info(f"[live explorers] {docname}: {', '.join(names)}")
    pages = app.env.__dict__.setdefault("rooflib_live_pages", set())
    pages.add(docname)


def scripts(app, pagename, templatename, context, doctree) -> None:
    """Vega, Vega-Lite and the page script, on the pages that have live explorers only.

    Priority 300: before require.js (500), so that Vega's UMD builds define globals rather than
    anonymous AMD modules.
    """
    if pagename in getattr(app.env, "rooflib_live_pages", set()):
        app.add_js_file("vega/vega.min.js", priority=300)
        app.add_js_file("vega/vega-lite.min.js", priority=301)
        app.add_js_file("rooflib-live.js", priority=302)
        app.add_css_file("rooflib-live.css")


def static_path(app) -> None:
    app.config.html_static_path.append(str(HERE / "live_static"))


def setup(app):
    app.connect("builder-inited", static_path)
    app.connect("doctree-resolved", inject)
    app.connect("html-page-context", scripts)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": False}
