"""A small headless-Chromium driver: the Chrome DevTools Protocol over a pipe, standard library only.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands from file
descriptor 3 and writes replies and events to file descriptor 4, each message a JSON text ended
by a NUL byte. That needs no websocket client, no free port and no extra package; Puppeteer and
Playwright talk to Chromium the same way.

The browser cannot reach the network: every request goes to a proxy address where nothing
listens, and no host name resolves. Chromium bypasses proxies for loopback addresses by default,
so the book, served by :func:`serve_directory` on 127.0.0.1, still loads. (Do not add
``--proxy-bypass-list=<-loopback>``: it removes that bypass, sends loopback through the dead
proxy too, and then not even the local book loads.) A page's request to any other host fails,
and the checks in ``book_checks.py`` report every request that is not to the book's own server
(another port on the same machine included), whether or not it failed.

Used by ``test_book_pages.py`` and ``tools/check_book_in_browser.py``.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import http.server
import json
import os
import select
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

# Names of the browser on PATH, first match wins. Debian's package is "chromium".
# $CHROMIUM, if set, names the binary to use instead.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "chrome")

WIDTH, HEIGHT = 1280, 900

CHROMIUM_FLAGS = (
    "--headless=new",
    "--remote-debugging-pipe",
    # The sandbox needs a setuid helper or user namespaces, which containers and CI runners
    # (often root) lack. The pages are the book's own files with the network blocked.
    "--no-sandbox",
    "--disable-dev-shm-usage",  # /dev/shm is small in containers
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    f"--window-size={WIDTH},{HEIGHT}",
    # Network isolation (see the module docstring).
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


class BrowserError(RuntimeError):
    """Chromium failed to start, exited, or answered a command with an error."""


def find_chromium() -> str | None:
    """Path of a Chromium binary ($CHROMIUM, else the first of CHROMIUM_NAMES on PATH), or None."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named) or (named if os.access(named, os.X_OK) else None)
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


# ---------------------------------------------------------------------------- local web server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def end_headers(self):
        # Every page must load all of its own assets; nothing may come from a cache.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------------------- browser


class Browser:
    """One headless Chromium process and its DevTools pipe."""

    def __init__(self, binary: str, log_path: Path | None = None, extra_flags: tuple[str, ...] = ()):
        self._profile = tempfile.mkdtemp(prefix="book-browser-profile-")
        self._log_path = Path(log_path) if log_path else Path(self._profile) / "chromium.log"
        self._next_id = 0
        self._buffer = b""
        self._messages: deque[bytes] = deque()
        self._listeners: dict[str, Callable[[str, dict], None]] = {}
        self.pid: int | None = None

        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child ends are moved to high numbers first, so that the dup2 onto 3 and 4 below
        # cannot overwrite one another; they are close-on-exec, so the browser keeps only 3 and 4.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD_CLOEXEC, 64)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD_CLOEXEC, 64)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        argv = [binary, *CHROMIUM_FLAGS, *extra_flags, f"--user-data-dir={self._profile}", "about:blank"]
        try:
            # The log goes to 1 and 2 first: had it been given number 3 or 4, the pipe would
            # replace it. posix_spawn applies these actions in order.
            self.pid = os.posix_spawn(
                binary,
                argv,
                os.environ,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                    (os.POSIX_SPAWN_DUP2, child_r, 3),
                    (os.POSIX_SPAWN_DUP2, child_w, 4),
                ],
            )
        finally:
            for fd in (child_r, child_w, log_fd):
                os.close(fd)
        try:
            self.version = self.call("Browser.getVersion", timeout=60)["product"]
        except BaseException:
            self.close()
            raise

    # -- protocol

    def _log_tail(self) -> str:
        try:
            lines = self._log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-15:])

    def _read_message(self, deadline: float) -> dict | None:
        while not self._messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium closed its DevTools pipe (it exited). Its log:\n{self._log_tail()}")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\0")
            self._messages.extend(m for m in complete if m)
        return json.loads(self._messages.popleft())

    def _dispatch(self, message: dict) -> None:
        listener = self._listeners.get(message.get("sessionId", ""))
        if listener is not None and "method" in message:
            listener(message["method"], message.get("params", {}))

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        """Send one command without waiting for its answer (which is then dropped); return its id."""
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        data = json.dumps(request).encode() + b"\0"
        while data:
            try:
                data = data[os.write(self._to_browser, data):]
            except BrokenPipeError:
                raise BrowserError(f"Chromium exited. Its log:\n{self._log_tail()}") from None
        return request["id"]

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        """Send one command and return its result, dispatching the events that arrive meanwhile."""
        request_id = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message is None:
                raise BrowserError(f"no answer to {method} within {timeout} s")
            if message.get("id") == request_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')} {message['error'].get('data', '')}")
                return message.get("result", {})
            self._dispatch(message)

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Dispatch events until predicate() is true (True) or timeout seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            now = time.monotonic()
            if now >= deadline:
                return False
            message = self._read_message(min(deadline, now + 0.05))
            if message is not None:
                self._dispatch(message)
        return True

    def listen(self, session: str, listener: Callable[[str, dict], None]) -> None:
        self._listeners[session] = listener

    def new_tab(self) -> "Tab":
        return Tab(self)

    # -- shutdown

    def close(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(Exception):
                self.call("Browser.close", timeout=5)
            if not self._reaped(timeout=5):
                with contextlib.suppress(ProcessLookupError, ChildProcessError):
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
            self.pid = None
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._to_browser = self._from_browser = -1
        shutil.rmtree(self._profile, ignore_errors=True)

    def _reaped(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                    return True
            except ChildProcessError:
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------------------- one tab


@dataclass
class Visit:
    """What happened while one page loaded: collected from DevTools events."""

    url: str
    final_url: str = ""
    loaded: bool = False
    navigations: int = 0
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    requests: dict[str, str] = field(default_factory=dict)  # requestId -> url
    failed_requests: list[tuple[str, str]] = field(default_factory=list)  # (url, why)
    log_errors: list[tuple[str, str]] = field(default_factory=list)  # (url or "", text)
    in_flight: set[str] = field(default_factory=set)
    last_network: float = field(default_factory=time.monotonic)
    dialogs: list[str] = field(default_factory=list)


def _remote_object_text(obj: dict) -> str:
    if "value" in obj:
        value = obj["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "?")


def _where(frames: list[dict]) -> str:
    if not frames:
        return ""
    top = frames[0]
    return f" ({top.get('url', '')}:{top.get('lineNumber', 0) + 1})"


class Tab:
    """A page target, attached with its own session; records a Visit per navigation."""

    def __init__(self, browser: Browser):
        self.browser = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.listen(self.session, self._on_event)
        self.visit = Visit("about:blank")
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Network.setCacheDisabled", {"cacheDisabled": True})
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return self.browser.call(method, params, session=self.session, timeout=timeout)

    # -- events

    def _on_event(self, method: str, p: dict) -> None:
        v = self.visit
        if method == "Network.requestWillBeSent":
            v.requests[p["requestId"]] = p["request"]["url"]
            v.in_flight.add(p["requestId"])
            v.last_network = time.monotonic()
        elif method == "Network.responseReceived":
            status = p["response"].get("status", 0)
            if status >= 400:
                v.failed_requests.append((p["response"]["url"], f"HTTP {status}"))
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            v.in_flight.discard(p["requestId"])
            v.last_network = time.monotonic()
            if method == "Network.loadingFailed":
                why = p.get("errorText", "failed")
                if p.get("blockedReason"):
                    why += f" (blocked: {p['blockedReason']})"
                if p.get("canceled"):
                    why += " (canceled)"
                v.failed_requests.append((v.requests.get(p["requestId"], "?"), why))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(_remote_object_text(a) for a in p.get("args", []))
            text += _where(p.get("stackTrace", {}).get("callFrames", []))
            if p["type"] in ("error", "assert"):
                v.console_errors.append(f"console.{p['type']}: {text}")
            elif p["type"] == "warning":
                v.console_warnings.append(f"console.warn: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text", "exception")
            where = f" ({d.get('url', '')}:{d.get('lineNumber', 0) + 1})" if d.get("url") else ""
            v.console_errors.append(f"uncaught exception: {text.splitlines()[0] if text else ''}{where}")
        elif method == "Log.entryAdded":
            e = p["entry"]
            if e["level"] == "error":
                v.log_errors.append((e.get("url", ""), f"{e.get('source', 'log')}: {e.get('text', '')}"))
            elif e["level"] == "warning":
                v.console_warnings.append(f"{e.get('source', 'log')}: {e.get('text', '')}")
        elif method == "Page.frameNavigated":
            if not p["frame"].get("parentId"):
                v.navigations += 1
                v.loaded = False
                v.final_url = p["frame"]["url"]
        elif method == "Page.loadEventFired":
            v.loaded = True
        elif method == "Page.javascriptDialogOpening":
            # An alert, confirm or beforeunload prompt would block the page: record it, dismiss it.
            v.dialogs.append(f"{p.get('type')}: {p.get('message')}")
            self.browser.send("Page.handleJavaScriptDialog", {"accept": True}, self.session)

    # -- actions

    def goto(self, url: str, timeout: float = 30, first_visit: bool = True, settle: bool = True) -> Visit:
        """Open url, wait for its load event (and, with settle, for the network to go quiet).

        With first_visit, the site's local and session storage are cleared first, so that the
        page behaves as for a reader who opens it first (the theme keeps its colour mode and the
        sidebar's scroll position there), whatever was opened before it. The previous page is
        left for about:blank before that: it writes to the storage as it unloads.
        """
        if first_visit:
            self.visit = blank = Visit("about:blank")
            self.call("Page.navigate", {"url": "about:blank"})
            self.browser.wait_until(lambda: blank.loaded, timeout)
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            self.call("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "local_storage,session_storage"})
        self.visit = Visit(url)
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            self.visit.failed_requests.append((url, f"navigation failed: {result['errorText']}"))
            return self.visit
        if not self.browser.wait_until(lambda: self.visit.loaded, timeout):
            self.visit.console_errors.append(f"no load event within {timeout} s")
        if settle:
            self.settle()
        return self.visit

    def wait_for_url(self, url: str, timeout: float = 15) -> bool:
        """After goto: wait until the main frame has navigated to url (a redirect) and loaded it."""
        v = self.visit
        return self.browser.wait_until(lambda: v.final_url == url and v.loaded, timeout)

    def settle(self, quiet: float = 0.25, timeout: float = 15) -> bool:
        """Wait until no request has been in flight for `quiet` seconds."""
        v = self.visit
        ok = self.browser.wait_until(
            lambda: not v.in_flight and time.monotonic() - v.last_network >= quiet, timeout)
        if not ok:
            for request_id in sorted(v.in_flight):
                v.failed_requests.append((v.requests.get(request_id, "?"), f"still loading after {timeout} s"))
        return ok

    def evaluate(self, expression: str, timeout: float = 30):
        """Evaluate a JavaScript expression (awaiting a promise) and return its JSON value."""
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True,
                                                "returnByValue": True, "timeout": int(timeout * 1000)},
                           timeout=timeout + 5)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise BrowserError(f"JavaScript failed: {d.get('exception', {}).get('description') or d.get('text')}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (CSS pixels)."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 if kind != "mouseMoved" else 0})

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 16000) -> Path:
        """Save a PNG of the viewport (or of the whole page, up to max_height pixels)."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": WIDTH,
                                "height": min(max(size["height"], HEIGHT), max_height), "scale": 1})
        data = self.call("Page.captureScreenshot", params, timeout=60)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def same_origin(url: str, base_url: str) -> bool:
    """True for URLs on the local book server and for data:/blob:/about: URLs (no network)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.netloc == urlsplit(base_url).netloc
