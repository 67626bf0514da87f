"""Every page of the built book, opened in headless Chromium with the network blocked.

Run after `make book`:  .venv/bin/python -m pytest tests/browser -q
(`pytest tests` leaves this folder out; see conftest.py.)

For each HTML page of _build/html (the search page and the generated index included), served
from 127.0.0.1, it checks that:
  - nothing is logged as a console error and no script throws;
  - every request (script, stylesheet, font, image, search data) loads, from the book itself:
    a request to any other host is a failure, whether or not it would have loaded;
  - math is typeset: every math element holds MathJax output (mjx-container), no formula has a
    TeX error or an undefined macro, and no raw \\( \\[ $$ (or $...$ holding TeX) is left in
    the text, folded solutions included;
  - every <img> has loaded (naturalWidth > 0);
  - every ipywidgets view has rendered, and its controls (sliders, dropdowns...) can be seen:
    not squeezed to nothing, not covered by the plot beside them.
Then that the search page finds "KV cache", and that every solution dropdown of a solutions
page opens when its toggle button is clicked.

Then that every live explorer on a page (the in-page version of the chapter's explorers, see
rooflib/explore/live.py) answers its controls with rooflib's numbers: test_live_explorers.py.

Each page is opened as by a first-time reader (a fresh browser context: no storage, no cache),
so a page's result does not depend on which pages were opened before it. The browser is driven
with Playwright (pytest-playwright's `browser` fixture, launched on Debian's Chromium by
conftest.py); requests to any host but the local server are aborted with `page.route`.

Screenshots of every page, the search results and an opened solution go to _build/browser/,
with report.txt (one line per page). Set BOOK_BROWSER_FULL_PAGE=1 for whole-page screenshots,
and BOOK_HTML to check a book built elsewhere (default: _build/html). tools/check_book_in_browser.py runs the same checks without pytest.

Without a built book its tests are skipped. Without Chromium they are skipped too, unless the
environment variable CI is set: there a missing browser fails the run.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from book_checks import (CHROMIUM_NAMES, PageResult, Tab, check_dropdowns, check_page, check_search,
                         discover_pages, find_chromium, first_page_with_dropdowns, serve_directory)

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
ARTIFACTS = ROOT / "_build" / "browser"
FULL_PAGE = os.environ.get("BOOK_BROWSER_FULL_PAGE") == "1"
SEARCH_QUERY = "KV cache"

BUILT = (BOOK / "index.html").is_file()
CHROMIUM = find_chromium()
NO_CHROMIUM = (f"no Chromium found ($CHROMIUM, then {', '.join(CHROMIUM_NAMES)} on PATH); "
               "install it with `apt-get install chromium` (Debian/Ubuntu)")
if CHROMIUM is None and os.environ.get("CI"):
    # One error at collection, and the run fails.
    pytest.fail(f"{NO_CHROMIUM}. CI is set, so a missing browser is a failure, not a skip.", pytrace=False)

# The skips are taken by the fixture below, not here: a module skipped while it is collected
# leaves pytest with nothing collected, and exit status 5, which `make test` counts as a failure.
PAGES = discover_pages(BOOK) if BUILT else ["(no built book)"]
RESULTS: list[PageResult] = []


@pytest.fixture(scope="module")
def ready():
    if not BUILT:
        pytest.skip("the book is not built (no _build/html/index.html): run `make book` first")
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="module")
def tab(ready, browser):
    """One browser (pytest-playwright's) and one tab for the whole module, the book on 127.0.0.1."""
    shutil.rmtree(ARTIFACTS / "pages", ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    with serve_directory(BOOK) as base_url:
        page = Tab(browser, base_url)
        try:
            yield page
        finally:
            page.close_page()
    _write_report(time.monotonic() - t0, page.version)


def _write_report(seconds: float, version: str) -> None:
    lines = [f"{version}: {len(RESULTS)} checks in {seconds:.1f} s"]
    for r in RESULTS:
        lines.append(f"{'ok  ' if not r.problems else 'FAIL'} {r.page:<46} {r.seconds:5.1f} s")
        lines += [f"       - {p}" for p in r.problems]
        lines += [f"       (warning) {w}" for w in r.warnings]
    (ARTIFACTS / "report.txt").write_text("\n".join(lines) + "\n")


def _verdict(result: PageResult) -> None:
    RESULTS.append(result)
    if result.problems:
        shots = ", ".join(str(p.relative_to(ROOT)) for p in result.screenshots)
        pytest.fail(f"{result.page}: {len(result.problems)} problem(s)\n  - " + "\n  - ".join(result.problems)
                    + (f"\n  screenshot: {shots}" if shots else ""), pytrace=False)


def test_pages_found(ready):
    assert "search.html" in PAGES and any(p.startswith("notebooks/") for p in PAGES), PAGES


@pytest.mark.parametrize("page", PAGES)
def test_page(tab, page):
    _verdict(check_page(tab, tab.base_url, BOOK, page, ARTIFACTS, full_page=FULL_PAGE))


def test_search_finds_kv_cache(tab):
    result = check_search(tab, tab.base_url, BOOK, SEARCH_QUERY, ARTIFACTS)
    _verdict(result)
    assert result.info["results"], f"no search results for {SEARCH_QUERY!r}"


def test_solution_dropdowns_open(tab):
    rel = first_page_with_dropdowns(BOOK, PAGES)
    assert rel, "no solutions page with a solution dropdown in the built book"
    _verdict(check_dropdowns(tab, tab.base_url, rel, ARTIFACTS))
