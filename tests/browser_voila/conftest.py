"""Fixtures for the browser test of the explorers app: a Voilà server and a headless Chromium.

Run with `make test-explore`, which installs Voilà into .venv first and runs
`pytest tests/browser_voila`. These tests run only when this folder (or a file in it) is named on
the command line: `pytest tests` (and so `make test`, whose environment has no Voilà) leaves them
out. Without Voilà or Chromium they skip with the reason; where the environment variable CI is
set they fail instead, so that a CI job cannot pass by skipping. Chromium is looked up as $CHROMIUM, then chromium,
chromium-browser, google-chrome, google-chrome-stable on the PATH. It is driven with Playwright
(pytest-playwright's `browser` fixture, launched on that binary with `executable_path`; Playwright's
own browsers are never downloaded), and every request to a host other than the local Voilà server
is aborted with `page.route`.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "explorers" / "explorers.ipynb"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def pytest_ignore_collect(collection_path, config):
    """Leave this folder's tests out unless the command line names this folder or a file in it."""
    here = Path(__file__).resolve().parent
    if collection_path.resolve().parent != here:
        return None
    start = Path(config.invocation_params.dir)
    for arg in config.args:
        named = (start / arg.split("::")[0]).resolve()
        if named == here or here in named.parents:
            return None
    return True


def need(ok: bool, reason: str) -> None:
    """Skip with `reason` unless `ok`; where CI is set, fail instead of skipping."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started here, with its process group (Chromium's helpers, Voilà's kernels)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


class Page:
    """One browser tab (a Playwright page) with the few actions the tests need."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def js(self, expression: str):
        """Evaluate JavaScript in the page (awaiting a promise) and return its JSON value."""
        return self.page.evaluate(expression)

    def wait_for(self, expression: str, timeout: float, what: str):
        """Poll `expression` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            self.page.wait_for_timeout(250)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    def insert_text(self, text: str) -> None:
        """Type text into the focused element, as an input method would."""
        self.page.keyboard.insert_text(text)

    def key(self, key: str) -> None:
        """Press and release one key, as a keyboard would (trusted events)."""
        self.page.keyboard.press(key)

    def close(self) -> None:
        self.page.context.close()


@pytest.fixture(scope="session")
def tools() -> str:
    """Check for Voilà and Chromium, in that order; return Chromium's path."""
    need(importlib.util.find_spec("voila") is not None,
         "Voilà is not installed in this environment: run `make test-explore` (it installs it)")
    chromium = find_chromium()
    need(chromium is not None, "Chromium is not installed (set $CHROMIUM to its path if it has "
                               "another name)")
    return chromium


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches the Chromium found on PATH (or $CHROMIUM), headless."""
    chromium = find_chromium()
    if not chromium:
        return browser_type_launch_args
    # --no-sandbox: Chromium refuses to start as root with its sandbox on (CI containers).
    return {**browser_type_launch_args, "executable_path": chromium, "headless": True,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions"]}


@pytest.fixture(scope="session")
def voila_url(tools, tmp_path_factory):
    """Voilà serving the explorers dashboard on 127.0.0.1 at a free port."""
    tmp = tmp_path_factory.mktemp("voila")
    port = free_port()
    log = tmp / "voila.log"
    env = {**os.environ,
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),   # kernel connection files
           "JUPYTER_CONFIG_DIR": str(tmp / "config")}     # no user configuration
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(DASHBOARD), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--show_tracebacks=True"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc, log, timeout=60)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def open_page(tools, browser):
    """A function opening a URL in a new `Page` (1400 x 1000), requests to other hosts aborted."""
    pages = []

    def open_(url: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
        local = urlsplit(url).netloc
        context.route("**/*", lambda route: route.continue_()
                      if urlsplit(route.request.url).netloc == local or route.request.url.startswith(("data:", "blob:"))
                      else route.abort("blockedbyclient"))
        page = Page(context.new_page())
        pages.append(page)
        page.page.goto(url, wait_until="commit")
        return page

    yield open_
    for page in pages:
        page.close()
