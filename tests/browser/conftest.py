"""The browser test runs only when asked for by path: `pytest tests/browser`.

It checks the built book (_build/html), so the library run (`pytest tests`, stage 1 of
`make test`, before the book is built) must not pick it up, or it would check the book of an
earlier build. `make test` runs it as its own stage, after `make book`.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


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
