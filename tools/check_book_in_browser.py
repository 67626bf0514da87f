#!/usr/bin/env python3
"""Open every page of the built book in headless Chromium, with the network blocked, and check it.

Chromium is driven with Playwright (tests/browser/book_checks.py), the network blocked with page.route.

The same checks as `pytest tests/browser` (see tests/browser/book_checks.py), as a command that
prints one line per page and the problems it found:

    .venv/bin/python tools/check_book_in_browser.py                 # every page, screenshots
    .venv/bin/python tools/check_book_in_browser.py notebooks/02    # pages whose path contains this
    .venv/bin/python tools/check_book_in_browser.py --full-page     # whole-page screenshots

Screenshots go to _build/browser/ (replaced on each run). Exit status: 0 if every check passed,
1 if any failed, 2 if the book is not built or no Chromium was found.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

import book_checks as bc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", help="check only pages whose path contains one of these")
    parser.add_argument("--book", type=Path, default=ROOT / "_build" / "html", help="the built HTML (default: _build/html)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "browser", help="screenshots (default: _build/browser)")
    parser.add_argument("--full-page", action="store_true", help="screenshot whole pages, not just the first screen")
    parser.add_argument("--no-screenshots", action="store_true")
    parser.add_argument("--warnings", action="store_true", help="also print console warnings")
    args = parser.parse_args()

    if not (args.book / "index.html").is_file():
        print(f"no built book at {args.book}: run `make book` first", file=sys.stderr)
        return 2
    chromium = bc.find_chromium()
    if not chromium:
        print("no Chromium found (tried $CHROMIUM, then " + ", ".join(bc.CHROMIUM_NAMES) + " on PATH); "
              "on Debian or Ubuntu: apt-get install chromium", file=sys.stderr)
        return 2

    shots = None
    if not args.no_screenshots:
        shutil.rmtree(args.out, ignore_errors=True)
        shots = args.out
        shots.mkdir(parents=True)
    pages = bc.discover_pages(args.book)
    if args.pages:
        pages = [p for p in pages if any(s in p for s in args.pages)]
    t0 = time.monotonic()
    results = []
    from playwright.sync_api import sync_playwright

    with bc.serve_directory(args.book) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**bc.launch_args(chromium))
        tab = bc.Tab(browser, base_url)
        print(f"{tab.version}, book at {base_url}")
        for rel in pages:
            results.append(bc.check_page(tab, base_url, args.book, rel, shots, full_page=args.full_page))
            report(results[-1], args.warnings)
        if not args.pages:
            results.append(bc.check_search(tab, base_url, args.book, "KV cache", shots))
            report(results[-1], args.warnings)
            rel = bc.first_page_with_dropdowns(args.book, pages)
            if rel:
                results.append(bc.check_dropdowns(tab, base_url, rel, shots))
                report(results[-1], args.warnings)
        tab.close_page()
        browser.close()
    bad = [r for r in results if r.problems]
    print(f"\n{len(results)} checks in {time.monotonic() - t0:.1f} s: "
          f"{len(results) - len(bad)} passed, {len(bad)} with problems"
          + (f"; screenshots in {shots}" if shots else ""))
    return 1 if bad else 0


def report(result: bc.PageResult, warnings: bool) -> None:
    info = result.info
    extras = []
    if "math" in info:
        extras.append(f"math {info['mjx']}/{info['math']}")
        extras.append(f"img {info['images']}")
        if info.get("widgets"):
            extras.append(f"widgets {info['widgets']}")
    if "results" in info:
        extras.append(f"{len(info['results'])} results")
    if "opened" in info:
        extras.append(f"{len(info['opened'])}/{info['dropdowns']} dropdowns opened")
    status = "ok  " if not result.problems else "FAIL"
    print(f"{status} {result.page:<40} {result.seconds:5.1f} s  {', '.join(extras)}")
    for p in result.problems:
        print(f"       - {p}")
    if warnings:
        for w in result.warnings:
            print(f"       (warning) {w}")


if __name__ == "__main__":
    sys.exit(main())
