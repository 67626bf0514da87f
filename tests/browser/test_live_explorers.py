"""The live explorers of the built book answer their controls with rooflib's numbers.

Run after `make book`:  .venv/bin/python -m pytest tests/browser -q   (see test_book_pages.py)

On every page with live explorers (book/_ext/live_explorers.py), opened with the network blocked,
for every explorer: move a select and a slider as a reader would (a chosen option, the End key on
the slider), then check that the summary line and the figure show what rooflib draws for that
setting: the explorer is built again here from the page's own record of its factory call, drawn
with the new values, and every point of every line, bar, box, text and vertical line in the page is compared
with it (to the 4 significant digits the page keeps). Screenshots before and after go to
_build/browser/live/; the redraw time of each move (performance.now() in the page) goes to
_build/browser/live/report.txt. It is reported, not asserted.
"""
from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from book_checks import network_and_console_problems
from test_book_pages import ARTIFACTS, BOOK, PAGES, ready, tab  # noqa: F401 (fixtures)

LIVE_PAGES = [p for p in PAGES if p.endswith(".html") and "rooflib-live-data" in (BOOK / p).read_text(errors="replace")] \
    if (BOOK / "index.html").is_file() else []
SHOTS = ARTIFACTS / "live"
TIMES: list[str] = []
RTOL = 1e-3  # the page keeps 4 significant digits

STATE_JS = r"""
(i) => {
  const ex = window.rooflibLive[i];
  const svg = ex.chart.querySelector("svg");
  return {summary: ex.summary.textContent, shown: ex.shown, updates: ex.updates, ms: ex.lastMs,
          paths: svg ? svg.querySelectorAll("path").length : 0, svg: svg ? svg.outerHTML.length : 0,
          origin: ex.data.origin, controls: ex.data.controls, artists: ex.data.artists, state: ex.state.slice(),
          hidden: ex.cell.querySelector(".cell_output") ? ex.cell.querySelector(".cell_output").hidden : null};
}
"""


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", markup))).strip()


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) or abs(a - b) < 1e-12


def _compare(state: dict, values: dict) -> tuple[list[str], int, int]:
    """Problems, how many numbers were compared, and how many rooflib drew (points of lines, bars,
    boxes, vertical lines, texts), between the page and rooflib's draw."""
    from rooflib.explore import live

    explorer = live.rebuild(state["origin"])
    problems = []
    try:
        summary = explorer.draw(**values)
    except (ValueError, LookupError) as err:  # an impossible setting: the page says so, as the notebook does
        if _text(f"<b>Not possible:</b> {err}") != re.sub(r"\s+", " ", state["summary"]).strip():
            problems.append(f"rooflib says {err}; the page says {state['summary'][:300]!r}")
        return problems, 0, 0
    if _text(summary) != re.sub(r"\s+", " ", state["summary"]).strip():
        problems.append(f"summary differs:\n   page:    {state['summary'][:300]!r}\n   rooflib: {_text(summary)[:300]!r}")
    found = live._artists(explorer.fig)
    compared = 0
    rows: dict[str, list] = {}
    for name, items in (state["shown"] or {}).items():
        for r in items:
            rows.setdefault(f"{name[0]}{r['key']}", []).append(r)
    drawn = 0
    for i, ((ax, kind, artist), meta) in enumerate(zip(found, state["artists"])):
        key = meta["label"] or f"_{i}"
        if artist.get_visible() and kind == "line":  # the points that show (a straight line keeps two)
            x, y = live._geometry(kind, artist) if live._has_marker(artist) else live._thin(explorer.fig.axes[ax], *artist.get_data())
            drawn += int((np.isfinite(np.asarray(x, float)) & np.isfinite(np.asarray(y, float))).sum())
        elif artist.get_visible() and kind in ("rect", "boxes", "vline", "text"):
            drawn += len(live._geometry(kind, artist)[0]) // 4 if kind == "boxes" else 1
        if kind == "line":
            x, y = (np.asarray(v, float) for v in artist.get_data())
            # A line's points, from the line and, where it has markers, the points drawn at them.
            seen = {(r["x"], r["y"]): r for t in "lpq" for r in rows.get(f"{t}{key}", []) if r.get("s") == i}
            page = list(seen.values())
            for r in page:
                if r["y"] is None or r["x"] is None:
                    continue
                at = np.flatnonzero(np.isclose(x, r["x"], rtol=RTOL, atol=0))
                if at.size == 0:
                    problems.append(f"{key}: the page has a point at x={r['x']} that rooflib does not draw")
                elif not any(_close(r["y"], y[j]) for j in at):
                    problems.append(f"{key}: at x={r['x']} the page shows {r['y']}, rooflib {y[at[0]]:.6g}")
                compared += 1
            finite = np.isfinite(y) & np.isfinite(x) & artist.get_visible()
            if artist.get_visible() and finite.any() and not page:
                problems.append(f"{key}: rooflib draws this line, the page does not")
        elif kind == "rect" and artist.get_visible():  # bars: where each one ends
            ends = [r["x2"] for r in rows.get(f"r{key}", []) if r.get("s") == i]
            end = artist.get_x() + artist.get_width()
            if not any(_close(v, end) for v in ends):
                problems.append(f"bar {i + 1}: ends at {ends} in the page, at {end:.6g} in rooflib")
            compared += 1
        elif kind == "boxes" and artist.get_visible():  # every box, where it starts and ends
            boxes = live._geometry(kind, artist)[0]
            page = sorted((r["x"], r["x2"], r["y"], r["y2"]) for r in rows.get(f"r{key}", []) if r.get("s") == i)
            want = sorted(tuple(boxes[b:b + 4]) for b in range(0, len(boxes), 4))
            if len(page) != len(want) or not all(_close(a, b) for p_, w in zip(page, want) for a, b in zip(p_, w)):
                problems.append(f"{key}: {len(page)} boxes in the page, {len(want)} in rooflib, or placed differently")
            compared += len(want)
        elif kind == "text" and artist.get_visible() and artist.get_text():
            page = rows.get(f"t{key}", [])
            x, y = artist.get_position()
            if not any(r["text"] == artist.get_text() and _close(r["x"], x) and _close(r["y"], y) for r in page):
                problems.append(f"text {artist.get_text()!r} at ({x:.4g}, {y:.4g}): page has "
                                f"{[(r['text'], r['x'], r['y']) for r in page]}")
            compared += 1
        elif kind == "vline" and artist.get_visible():
            xs = [r["x"] for r in rows.get(f"v{key}", [])]
            if not any(_close(v, float(artist.get_xdata()[0])) for v in xs):
                problems.append(f"{key}: vertical line at {xs}, rooflib at {artist.get_xdata()[0]:.6g}")
            compared += 1
    return problems, compared, drawn


def _move(page, index: int, control: dict, how: str):
    """Move one control of explorer `index` as a reader would; return the new value index."""
    root = page.locator(".rooflib-live").nth(index)
    inp = root.locator(f'[data-control="{control["name"]}"]')
    inp.scroll_into_view_if_needed()
    if control["kind"] == "select":
        new = (control["init"] + 1) % len(control["values"]) if how == "next" else 0
        if new == control["init"]:
            new = len(control["values"]) - 1
        inp.select_option(value=str(new))
    else:
        inp.focus()
        key = "Home" if control["init"] == len(control["values"]) - 1 else "End"
        inp.press(key)
        new = 0 if key == "Home" else len(control["values"]) - 1
    return new


@pytest.mark.parametrize("rel", LIVE_PAGES or ["(no live explorer in the book)"])
def test_live_explorers_answer_with_rooflibs_numbers(tab, rel):
    if not LIVE_PAGES:
        pytest.fail("no page of the built book has a live explorer (tag explorer cells with "
                    "tools/tag_explorer_cells.py)", pytrace=False)
    visit = tab.goto(tab.base_url + rel)
    page = tab.page
    page.wait_for_function("document.documentElement.dataset.rooflibLive !== undefined", timeout=60000)
    expected = page.locator("script.rooflib-live-data").count()
    count = page.evaluate("window.rooflibLive.length")
    assert count == expected, f"{rel}: {count} of {expected} live explorers started (see the console errors)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = rel[:-len(".html")].replace("/", "--")
    problems: list[str] = []
    for i in range(count):
        before = page.evaluate(STATE_JS, i)
        assert before["hidden"] is True, f"explorer {i + 1}: the static snapshot is still shown"
        assert before["paths"] > 0, f"explorer {i + 1}: no chart drawn"
        root = page.locator(".rooflib-live").nth(i)
        root.scroll_into_view_if_needed()
        root.screenshot(path=str(SHOTS / f"{stem}--{i + 1}-before.png"))
        controls = before["controls"]
        movable = [c for c in controls if len(c["values"]) > 1]  # a control held at one value has no input
        moves = [c for c in movable if c["kind"] == "select"][:1] + [c for c in movable if c["kind"] == "slider"][:1]
        state = before
        for control in moves:
            updates = state["updates"]
            _move(page, i, control, "next")
            page.wait_for_function(f"window.rooflibLive[{i}].updates > {updates}", timeout=10000)
            state = page.evaluate(STATE_JS, i)
            TIMES.append(f"{rel} explorer {i + 1} ({state['origin']['factory'].split(':')[1]}): "
                         f"{control['name']} moved, redrawn in {state['ms']:.1f} ms")
        values = {c["name"]: c["values"][k] for c, k in zip(controls, state["state"])}
        root.screenshot(path=str(SHOTS / f"{stem}--{i + 1}-after.png"))
        assert state["summary"] != before["summary"] or state["shown"] != before["shown"], \
            f"explorer {i + 1}: nothing changed after moving {[c['name'] for c in moves]}"
        found, compared, drawn = _compare(state, values)
        problems += [f"explorer {i + 1} at {values}: {p}" for p in found[:8]]
        if compared < min(20, drawn):  # at least 20, or all there are (a chart of four bars has four)
            problems.append(f"explorer {i + 1}: only {compared} of {drawn} drawn numbers compared with rooflib")
    tab.settle()
    problems += network_and_console_problems(visit, tab.base_url)
    (SHOTS / "report.txt").write_text("\n".join(TIMES) + "\n")
    assert not problems, f"{rel}:\n  - " + "\n  - ".join(problems)
