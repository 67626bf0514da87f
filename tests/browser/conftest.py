"""The browser test runs only when asked for by path: `pytest tests/browser`.

It checks the built book (_build/html), so the library run (`pytest tests`, stage 1 of
`make test`, before the book is built) must not pick it up, or it would check the book of an
earlier build. `make test` runs it as its own stage, after `make book`.

The browser: pytest-playwright's `browser` fixture, launched on Debian's Chromium ($CHROMIUM or
the first of book_checks.CHROMIUM_NAMES on PATH) with `executable_path`: Playwright's own
browser builds are never downloaded, at install time or at test time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # book_checks, for the tests and for this file

from book_checks import find_chromium, launch_args  # noqa: E402


def _asked_for(config) -> bool:
    """True when a command-line argument names this folder or something inside it."""
    start = Path(config.invocation_params.dir)
    for arg in config.args:
        path = (start / arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "conftest.py":
        return None
    if (collection_path == HERE or HERE in collection_path.parents) and not _asked_for(config):
        return True
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches this Chromium, headless, with book_checks.CHROMIUM_ARGS."""
    chromium = find_chromium()
    return {**browser_type_launch_args, **launch_args(chromium)} if chromium else browser_type_launch_args
