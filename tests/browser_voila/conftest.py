"""Fixtures for the browser test of the explorers app: a Voilà server and a headless Chromium.

Run with `make test-explore`, which installs Voilà into .venv first and runs
`pytest tests/browser_voila`. These tests run only when this folder (or a file in it) is named on
the command line: `pytest tests` (and so `make test`, whose environment has no Voilà) leaves them
out. Without Voilà or Chromium they skip with the reason; where the environment variable CI is
set they fail instead, so that a CI job cannot pass by skipping. Chromium is looked up as $CHROMIUM, then chromium,
chromium-browser, google-chrome, google-chrome-stable on the PATH. It is driven through the Chrome
DevTools Protocol over a websocket (the websocket-client package, which Voilà's server installs).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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
    """One browser tab, driven with the Chrome DevTools Protocol."""

    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events of domains never enabled do not come; skip any that do
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        """Evaluate JavaScript in the page (awaiting a promise) and return its JSON value."""
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str):
        """Poll `expression` until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    def key(self, key: str, code: int, text: str | None = None) -> None:
        """Press and release one key, as a keyboard would (trusted events)."""
        common = dict(key=key, code=key, windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)
        self.call("Input.dispatchKeyEvent", type="rawKeyDown", **common)
        if text is not None:
            self.call("Input.dispatchKeyEvent", type="char", text=text, **common)
        self.call("Input.dispatchKeyEvent", type="keyUp", **common)

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="session")
def tools() -> str:
    """Check for Voilà, Chromium and websocket-client, in that order; return Chromium's path."""
    need(importlib.util.find_spec("voila") is not None,
         "Voilà is not installed in this environment: run `make test-explore` (it installs it)")
    chromium = find_chromium()
    need(chromium is not None, "Chromium is not installed (set $CHROMIUM to its path if it has "
                               "another name)")
    need(importlib.util.find_spec("websocket") is not None,
         "the websocket-client package is missing (Voilà's server installs it): run `make test-explore`")
    return chromium


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
def browser(tools, tmp_path_factory):
    """A headless Chromium; yields a function opening a URL in a new `Page`."""
    chromium = tools
    profile = tmp_path_factory.mktemp("chromium")
    # --no-sandbox: Chromium refuses to start as root with its sandbox on (CI containers).
    proc = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pages = []
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Chromium did not start ({chromium}, exit code {proc.poll()})")
            time.sleep(0.1)
        port = int(active.read_text().split()[0])

        def open_page(url: str) -> Page:
            targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            target = next(t for t in targets if t["type"] == "page")
            page = Page(target["webSocketDebuggerUrl"])
            pages.append(page)
            page.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000,
                      deviceScaleFactor=1, mobile=False)
            page.call("Page.navigate", url=url)
            return page

        yield open_page
    finally:
        for page in pages:
            page.close()
        stop(proc)
