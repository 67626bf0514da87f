"""What the browser test checks on each page of the built book, and how.

Each check returns a list of problems, one readable line each; an empty list means the page
passed. Used by ``test_book_pages.py`` and ``tools/check_book_in_browser.py``.

The browser is Debian's Chromium (or $CHROMIUM), driven with Playwright for Python
(``chromium.launch(executable_path=...)``: Playwright's own browser builds are never downloaded).
The network is blocked with ``page.route``: a request to the book's own server (127.0.0.1)
goes through, any other is aborted and reported as a problem, whether or not it would have
loaded. Each page is opened in a fresh browser context, as by a first-time reader: no local or
session storage, no cache, whatever was opened before it.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urljoin, urlsplit

# Names of the browser on PATH, first match wins. Debian's package is "chromium".
# $CHROMIUM, if set, names the binary to use instead.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome", "chrome")

WIDTH, HEIGHT = 1280, 900

CHROMIUM_ARGS = [
    # The sandbox needs a setuid helper or user namespaces, which containers and CI runners
    # (often root) lack. The pages are the book's own files with the network blocked.
    "--no-sandbox",
    "--disable-dev-shm-usage",  # /dev/shm is small in containers
    "--disable-gpu",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--mute-audio",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    # A second guard besides page.route: the browser's own background requests (not the page's)
    # go to a proxy where nothing listens, and no host name but the local server resolves.
    # Chromium bypasses proxies for loopback addresses, so the book on 127.0.0.1 still loads.
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


class BrowserError(RuntimeError):
    """A script evaluated in the page failed."""


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


def launch_args(chromium: str) -> dict:
    """Keyword arguments for Playwright's ``chromium.launch``: this binary, headless, these flags."""
    return {"executable_path": chromium, "headless": True, "args": list(CHROMIUM_ARGS)}


def same_origin(url: str, base_url: str) -> bool:
    """True for URLs on the local book server and for data:/blob:/about: URLs (no network)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https") and parts.netloc == urlsplit(base_url).netloc


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


# ---------------------------------------------------------------------------- one tab


@dataclass
class Visit:
    """What happened while one page was open: collected from Playwright's page events."""

    url: str
    final_url: str = ""
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    requests: dict[int, str] = field(default_factory=dict)  # request number -> url
    failed_requests: list[tuple[str, str]] = field(default_factory=list)  # (url, why)
    log_errors: list[tuple[str, str]] = field(default_factory=list)  # (url or "", text)
    in_flight: set[int] = field(default_factory=set)
    last_network: float = field(default_factory=time.monotonic)
    dialogs: list[str] = field(default_factory=list)


def _where(location: dict) -> str:
    return f" ({location.get('url', '')}:{location.get('lineNumber', 0) + 1})" if location.get("url") else ""


class Tab:
    """One page at a time in a Playwright browser; `goto` opens each in a fresh context."""

    def __init__(self, browser, base_url: str = ""):
        self.browser = browser
        self.base_url = base_url
        self.version = f"Chromium {browser.version}"
        self.context = self.page = None
        self.visit = Visit("about:blank")

    # -- events

    def _on_request(self, request) -> None:
        v = self.visit
        v.requests[id(request)] = request.url
        v.in_flight.add(id(request))
        v.last_network = time.monotonic()

    def _on_done(self, request, failed: bool) -> None:
        v = self.visit
        v.in_flight.discard(id(request))
        v.last_network = time.monotonic()
        if failed:
            v.failed_requests.append((request.url, request.failure or "failed"))

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.visit.failed_requests.append((response.url, f"HTTP {response.status}"))

    def _on_console(self, msg) -> None:
        v, text = self.visit, msg.text
        if msg.type in ("error", "assert"):
            if text.startswith("Failed to load resource"):
                # The browser's own line for a failed request (listed as a failed request too).
                v.log_errors.append((msg.location.get("url", ""), f"network: {text}"))
            else:
                v.console_errors.append(f"console.{msg.type}: {text}{_where(msg.location)}")
        elif msg.type == "warning":
            v.console_warnings.append(f"console.warn: {text}{_where(msg.location)}")

    def _on_page_error(self, error) -> None:
        text = str(error).strip().splitlines()
        self.visit.console_errors.append(f"uncaught exception: {text[0] if text else 'exception'}")

    def _on_dialog(self, dialog) -> None:
        # An alert, confirm or beforeunload prompt would block the page: record it, dismiss it.
        self.visit.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.accept()

    def _route(self, route) -> None:
        """The network block: the book's own server only."""
        if same_origin(route.request.url, self.base_url or route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def _new_page(self) -> None:
        self.close_page()
        self.context = self.browser.new_context(viewport={"width": WIDTH, "height": HEIGHT},
                                                device_scale_factor=1, service_workers="block")
        self.context.route("**/*", self._route)
        page = self.page = self.context.new_page()
        page.on("request", self._on_request)
        page.on("requestfinished", lambda r: self._on_done(r, False))
        page.on("requestfailed", lambda r: self._on_done(r, True))
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("dialog", self._on_dialog)

    def close_page(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = self.page = None

    # -- actions

    def goto(self, url: str, timeout: float = 30, first_visit: bool = True, settle: bool = True) -> Visit:
        """Open url (in a fresh context with first_visit) and wait for its load event (and, with
        settle, for the network to go quiet)."""
        if first_visit or self.page is None:
            self._new_page()
        self.visit = Visit(url)
        try:
            self.page.goto(url, wait_until="load", timeout=timeout * 1000)
        except Exception as exc:  # noqa: BLE001 (Playwright's errors: report, do not stop)
            self.visit.console_errors.append(f"navigation of {url} failed: {str(exc).splitlines()[0]}")
        self.visit.final_url = self.page.url
        if settle:
            self.settle()
        return self.visit

    def wait_for_url(self, url: str, timeout: float = 15) -> bool:
        """After goto: wait until the main frame has navigated to url (a redirect) and loaded it."""
        try:
            self.page.wait_for_url(url, wait_until="load", timeout=timeout * 1000)
        except Exception:  # noqa: BLE001
            return False
        self.visit.final_url = self.page.url
        return True

    def settle(self, quiet: float = 0.25, timeout: float = 15) -> bool:
        """Wait until no request has been in flight for `quiet` seconds."""
        v, deadline = self.visit, time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not v.in_flight and time.monotonic() - v.last_network >= quiet:
                return True
            self.page.wait_for_timeout(50)
        for request_id in sorted(v.in_flight):
            v.failed_requests.append((v.requests.get(request_id, "?"), f"still loading after {timeout} s"))
        return False

    def evaluate(self, expression: str, timeout: float = 30):
        """Evaluate a JavaScript expression (awaiting a promise) and return its JSON value."""
        try:
            return self.page.evaluate(expression)
        except Exception as exc:  # noqa: BLE001 (playwright.sync_api.Error and its kin)
            raise BrowserError(f"JavaScript failed: {str(exc).splitlines()[0]}") from exc

    def click(self, x: float, y: float) -> None:
        """A real left click at viewport coordinates (CSS pixels)."""
        self.page.mouse.click(x, y)

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 16000) -> Path:
        """Save a PNG of the viewport (or of the whole page, up to max_height pixels)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page:
            height = self.page.evaluate("document.documentElement.scrollHeight")
            self.page.screenshot(path=str(path), timeout=60000,
                                 clip={"x": 0, "y": 0, "width": WIDTH, "height": min(max(height, HEIGHT), max_height)},
                                 full_page=True)
        else:
            self.page.screenshot(path=str(path), timeout=60000)
        return path


# Known, accepted noise. Every entry says why it is harmless; keep the list tiny.
# Each is (why, predicate on a (url, why) failed request).
ACCEPTED_FAILED_REQUESTS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("The browser itself asks for /favicon.ico, once per site, when a page declares no icon. "
     "The book has none (_config.yml sets no html.favicon); this is not a request of the page.",
     lambda url, why: urlsplit(url).path == "/favicon.ico" and why == "HTTP 404"),
]

# Folders of the HTML output that hold assets or page templates, not pages.
NOT_PAGES = ("_static", "_sources", "_images", "_downloads")


def discover_pages(book: Path) -> list[str]:
    """Every HTML page of the built book, relative to `book`, in a stable order.

    The search page and the (generated) index are pages a reader can open, so they are
    included; search *index* data (searchindex.js, objects.inv) is not HTML.
    """
    pages = []
    for path in sorted(book.rglob("*.html")):
        rel = path.relative_to(book).as_posix()
        if rel.split("/", 1)[0] not in NOT_PAGES:
            pages.append(rel)
    return pages


def meta_refresh_target(html: str) -> str | None:
    """The URL of a <meta http-equiv="refresh" content="0; url=..."> redirect, if any."""
    m = re.search(r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']\s*\d+\s*;\s*url=([^"'>]+)""", html, re.I)
    return m.group(1).strip() if m else None


def screenshot_path(shots: Path, rel: str, suffix: str = "") -> Path:
    """_build/browser/pages/notebooks/02_kv_cache.png for notebooks/02_kv_cache.html."""
    return shots / "pages" / (rel[: -len(".html")] + suffix + ".png")


# ------------------------------------------------------------------------------ in-page checks

# Evaluated in the page after it has loaded. It waits (bounded) for images, for MathJax's first
# typeset and for the widget embedder, then reports what it found.
PAGE_CHECKS_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const short = (s, n = 90) => { s = (s || "").replace(/\s+/g, " ").trim(); return s.length > n ? s.slice(0, n) + "..." : s; };
  const out = {};

  // Images: load lazy ones too, then every <img> must have decoded pixels.
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === "lazy") img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done, {once: true});
    img.addEventListener("error", done, {once: true});
    setTimeout(done, 10000);
  })));
  out.images = imgs.length;
  out.brokenImages = imgs.filter(img => !(img.complete && img.naturalWidth > 0))
                         .map(img => img.getAttribute("src") || short(img.outerHTML));

  // Math: wait for MathJax 3's first typeset of the page.
  const mj = window.MathJax;
  out.mathjax = !!(mj && mj.version) ? mj.version : null;
  if (out.mathjax && mj.startup && mj.startup.promise) {
    try { await mj.startup.promise; } catch (e) { out.mathjaxError = String(e); }
  }
  const mathEls = Array.from(document.querySelectorAll(".math"));
  out.math = mathEls.length;
  out.mjx = document.querySelectorAll("mjx-container").length;
  out.untypeset = mathEls.filter(el => !el.querySelector("mjx-container")).map(el => short(el.textContent, 70));
  // TeX errors, and undefined macros (MathJax's noundefined shows these as red \name text); the
  // assistive MathML beside each formula holds the math as text.
  out.mathErrors = Array.from(document.querySelectorAll("mjx-merror"))
                        .map(el => "TeX error: " + short(el.getAttribute("data-mjx-error") || el.textContent, 120));
  document.querySelectorAll("mjx-assistive-mml").forEach(mml => {
    mml.querySelectorAll("mtext[mathcolor=red]").forEach(t => {
      if (t.textContent.startsWith("\\")) out.mathErrors.push("undefined TeX macro " + short(t.textContent, 40) +
                                                               " in " + short(mml.textContent, 60));
    });
  });

  // Raw TeX left in the text: \( \) \[ \] or $$, or $...$ holding a TeX command, outside
  // code (pre, code, highlighted cells) and outside typeset math. Hidden text (a folded
  // solution) counts too: it shows once opened.
  const skip = "script,style,pre,code,textarea,noscript,template,kbd,samp,mjx-container,.highlight";
  const delims = /\\\(|\\\)|\\\[|\\\]|\$\$/;
  const texDollar = /\$[^$\n]{0,200}?(\\[A-Za-z]+|[_^]\{)[^$\n]{0,200}?\$/;
  out.rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.nodeValue;
    if (!t || (t.indexOf("\\") < 0 && t.indexOf("$") < 0)) continue;
    const el = n.parentElement;
    if (!el || el.closest(skip)) continue;
    const m = delims.exec(t) || texDollar.exec(t);
    if (!m) continue;
    const at = Math.max(0, m.index - 40);
    const visible = el.checkVisibility ? el.checkVisibility() : true;
    out.rawTex.push((visible ? "" : "[folded] ") + short(t.slice(at, m.index + 60), 110));
  }

  // Widgets: the embedder renders each view into a .widget-subarea just before its script tag.
  const views = Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  const rendered = v => { const s = v.previousElementSibling;
                          return !!(s && s.classList.contains("widget-subarea") && s.childElementCount > 0); };
  for (let i = 0; i < 100 && !views.every(rendered); i++) await sleep(100);
  out.widgets = views.length;
  out.unrenderedWidgets = views.filter(v => !rendered(v)).map(v => {
    try { return JSON.parse(v.textContent).model_id; } catch (e) { return short(v.textContent, 60); } });

  // Widget controls (sliders, dropdowns, buttons...) must be on screen: not squeezed to nothing,
  // not covered by a neighbour. The element at the control's centre must be the control.
  const controls = ".widget-slider, .widget-dropdown, .widget-select, .widget-toggle-buttons, .widget-button, " +
                   ".widget-checkbox, .widget-text, .widget-textarea, .widget-radio, .widget-play";
  out.hiddenControls = [];
  views.filter(rendered).forEach((v, i) => {
    const area = v.previousElementSibling;
    if (!area.checkVisibility()) return;  // inside a folded output: not shown, not checked
    const all = Array.from(area.querySelectorAll(controls)), hidden = [];
    let why = "";
    area.scrollIntoView({block: "center"});  // one scroll per widget: each one forces a layout
    all.forEach(c => {
      let r = c.getBoundingClientRect();
      if (r.top < 80 || r.bottom > innerHeight) { c.scrollIntoView({block: "center"}); r = c.getBoundingClientRect(); }
      const hit = r.width > 1 && r.height > 1 ? document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) : null;
      if (hit && (c === hit || c.contains(hit))) return;
      const label = short(((c.querySelector(".widget-label") || c).textContent || "").replace(/\u200b/g, ""), 30);
      hidden.push(label || c.className.split(" ").filter(k => k.startsWith("widget-") && k !== "widget-inline-hbox").join(" ") || "unlabelled");
      why = why || (`the control is ${Math.round(r.width)}x${Math.round(r.height)} px in a container ` +
                    `${Math.round(c.parentElement.getBoundingClientRect().width)} px wide` +
                    (hit ? `, covered by <${hit.tagName.toLowerCase()} class="${short(String(hit.className), 60)}">` : ""));
    });
    if (hidden.length) out.hiddenControls.push(
      `widget ${i + 1} of ${views.length}: ${hidden.length} of ${all.length} controls not visible (${hidden.join(", ")}): ${why}`);
  });
  window.scrollTo(0, 0);

  out.title = document.title;
  return out;
})()
"""


@dataclass
class PageResult:
    page: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    seconds: float = 0.0
    screenshots: list[Path] = field(default_factory=list)


def _short_url(url: str, base_url: str) -> str:
    return url[len(base_url):] if url.startswith(base_url) else url


def _accepted(url: str, why: str) -> bool:
    return any(pred(url, why) for _, pred in ACCEPTED_FAILED_REQUESTS)


def network_and_console_problems(visit: Visit, base_url: str, accepted: list[str] | None = None) -> list[str]:
    """Console errors, uncaught exceptions, failed requests and requests to other hosts.

    Failures that ACCEPTED_FAILED_REQUESTS lets pass are appended to `accepted`, to be reported.
    """
    problems = list(visit.console_errors)
    problems += [f"JavaScript dialog opened: {d}" for d in visit.dialogs]
    failed_urls = set()
    for url, why in visit.failed_requests:
        failed_urls.add(url)
        if not same_origin(url, base_url):
            continue  # reported below, once per URL
        if not _accepted(url, why):
            problems.append(f"failed request: {_short_url(url, base_url)} ({why})")
        elif accepted is not None:
            accepted.append(f"accepted noise: {_short_url(url, base_url)} ({why})")
    for url in dict.fromkeys(visit.requests.values()):
        if not same_origin(url, base_url):
            problems.append(f"request to a non-local host: {url}")
    for url, text in visit.log_errors:
        if url and url in failed_urls:
            continue  # the same failure, already listed as a failed request (or accepted)
        problems.append(f"console error ({text})" + (f" [{_short_url(url, base_url)}]" if url else ""))
    return problems


def _capped(lines: list[str], most: int = 6) -> list[str]:
    """The first `most` lines, and a count of the rest (a page whose math failed has hundreds)."""
    return lines if len(lines) <= most else lines[:most] + [f"... and {len(lines) - most} more like these"]


def in_page_problems(info: dict) -> list[str]:
    problems = []
    if info.get("mathjaxError"):
        problems.append(f"MathJax failed to start: {info['mathjaxError']}")
    if info["math"] and not info["mjx"]:
        problems.append(f"math not typeset: {info['math']} math elements and no mjx-container "
                        f"(MathJax {'loaded' if info['mathjax'] else 'not loaded'})")
    elif info["untypeset"]:
        problems.append(f"{len(info['untypeset'])} math element(s) not typeset, e.g. {info['untypeset'][:3]}")
    problems += _capped([f"in a formula: {err}" for err in info["mathErrors"]])
    problems += _capped([f"raw TeX in the page text: {text!r}" for text in info["rawTex"]])
    for src in info["brokenImages"]:
        problems.append(f"image did not load: {src}")
    for model in info["unrenderedWidgets"]:
        problems.append(f"widget not rendered: model {model}")
    problems += info["hiddenControls"]
    return problems


def check_page(tab: Tab, base_url: str, book: Path, rel: str, shots: Path | None,
               full_page: bool = False) -> PageResult:
    """Open one page and run every check on it; save its screenshot under shots/pages/."""
    t0 = time.monotonic()
    result = PageResult(rel)
    url = urljoin(base_url, rel)
    # No wait for the network here: the in-page checks wait for what they need (images, math,
    # widgets), and the network is waited for once, after them.
    visit = tab.goto(url, settle=False)
    target = meta_refresh_target((book / rel).read_text(errors="replace")[:4000])
    if target:
        # A redirect page (index.html -> the first page): check that it lands, then check the target.
        expected = urljoin(url, target)
        if not tab.wait_for_url(expected):
            result.problems.append(f"redirect to {target} did not happen (now at {visit.final_url})")
        result.info["redirected_to"] = _short_url(expected, base_url)
    try:
        info = tab.evaluate(PAGE_CHECKS_JS, timeout=60)
    except BrowserError as exc:
        info = None
        result.problems.append(f"the in-page checks failed: {exc}")
    tab.settle()  # fonts that MathJax and the widgets asked for
    if info:
        result.info.update(info)
        result.problems += in_page_problems(info)
    accepted: list[str] = []
    result.problems += network_and_console_problems(visit, base_url, accepted)
    result.warnings = accepted + list(dict.fromkeys(visit.console_warnings))
    if shots is not None:
        result.screenshots.append(tab.screenshot(screenshot_path(shots, rel), full_page=full_page))
        if info and info["widgets"]:
            # A second picture, scrolled to the first explorer: its live version where the page has
            # one (the widget snapshot under it is hidden), else the widget snapshot.
            tab.evaluate('(document.querySelector(".rooflib-live") || document.querySelector(".widget-subarea, '
                         'script[type=\'application/vnd.jupyter.widget-view+json\']"))'
                         '.scrollIntoView({block: "start"}); window.scrollBy(0, -90)')  # below the sticky header
            tab.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            result.screenshots.append(tab.screenshot(screenshot_path(shots, rel, "--widget")))
    result.seconds = time.monotonic() - t0
    return result


# ------------------------------------------------------------------------------ search

SEARCH_RESULTS_JS = r"""
(async () => {
  const status = () => { const s = document.querySelector("#search-results .search-summary");
                         return s ? s.textContent.trim() : ""; };
  for (let i = 0; i < 150; i++) {          // up to 15 s
    const s = status();
    if (/^Search finished|did not match/.test(s)) break;
    await new Promise(r => setTimeout(r, 100));
  }
  const items = Array.from(document.querySelectorAll("#search-results ul.search > li"));
  return {
    summary: status(),
    results: items.map(li => { const a = li.querySelector("a");
                               return {title: a ? a.textContent.trim() : li.textContent.trim().slice(0, 80),
                                       href: a ? a.href : ""}; }),
    contexts: Array.from(document.querySelectorAll("#search-results p.context")).length,
  };
})()
"""


def check_search(tab: Tab, base_url: str, book: Path, query: str, shots: Path | None) -> PageResult:
    """Open search.html?q=<query>, wait for Sphinx's search to finish, list what it found."""
    t0 = time.monotonic()
    result = PageResult(f"search.html?q={query.replace(' ', '+')}")
    visit = tab.goto(urljoin(base_url, "search.html?q=" + query.replace(" ", "+")))
    try:
        found = tab.evaluate(SEARCH_RESULTS_JS, timeout=30)
    except BrowserError as exc:
        found = {"summary": "", "results": [], "contexts": 0}
        result.problems.append(f"the search check failed: {exc}")
    tab.settle()  # the summaries fetch the result pages
    result.info.update(found)
    if not found["summary"].startswith("Search finished"):
        result.problems.append(f"search for {query!r} did not finish with results: {found['summary'] or 'no status'}")
    if not found["results"]:
        result.problems.append(f"search for {query!r} found nothing")
    for hit in found["results"]:
        path = urlsplit(hit["href"]).path.lstrip("/")
        if not hit["href"].startswith(base_url) or not (book / path).is_file():
            result.problems.append(f"search result {hit['title']!r} links to a missing page: {hit['href']}")
    result.problems += network_and_console_problems(visit, base_url, result.warnings)
    if shots is not None:
        result.screenshots.append(tab.screenshot(shots / "search-kv-cache.png"))
    result.seconds = time.monotonic() - t0
    return result


# ------------------------------------------------------------------------------ solution dropdowns

DROPDOWN_STATE_JS = r"""
((index) => {
  const items = Array.from(document.querySelectorAll(".admonition.dropdown"));
  const item = items[index];
  if (!item) return {count: items.length};
  const title = item.querySelector(":scope > .admonition-title");
  const body = Array.from(item.children).filter(c => c !== title);
  const button = title.querySelector(".toggle-button");
  title.scrollIntoView({block: "center"});
  const r = (button || title).getBoundingClientRect();
  const shown = body.length > 0 && body.every(c => c.checkVisibility() && c.getBoundingClientRect().height > 0);
  return {count: items.length, title: title.textContent.trim().slice(0, 80), classes: item.className,
          hasButton: !!button, shown: shown,
          height: body.reduce((h, c) => h + c.getBoundingClientRect().height, 0),
          math: item.querySelectorAll("mjx-container").length,
          x: r.left + r.width / 2, y: r.top + r.height / 2};
})
"""


def check_dropdowns(tab: Tab, base_url: str, rel: str, shots: Path | None) -> PageResult:
    """On a solutions page, click every solution dropdown and check its content becomes visible.

    It clicks the dropdown's toggle button (the chevron at the right of its title) with a real
    mouse event. Not the middle of the title: in sphinx-exercise solutions most of the title is a
    link to the exercise, and a click on that link does not open the solution (togglebutton.js
    0.4.5 finds no button for it and throws "ReferenceError: button is not defined").
    """
    t0 = time.monotonic()
    result = PageResult(rel + " (solution dropdowns)")
    visit = tab.goto(urljoin(base_url, rel))
    state = lambda i: tab.evaluate(f"{DROPDOWN_STATE_JS}({i})")  # noqa: E731
    # togglebutton.js runs on DOMContentLoaded; MathJax typesets the folded content too.
    tab.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")
    count = state(0)["count"]
    result.info["dropdowns"] = count
    if count == 0:
        result.problems.append("no solution dropdown (.admonition.dropdown) on the page")
    opened = []
    for i in range(count):
        before = state(i)
        if not before["hasButton"]:
            result.problems.append(f"dropdown {i + 1} ({before['title']!r}) has no toggle button: togglebutton.js did not run")
        if before["shown"]:
            result.problems.append(f"dropdown {i + 1} ({before['title']!r}) is open before any click")
        tab.click(before["x"], before["y"])
        deadline = time.monotonic() + 5
        after = state(i)
        while not after["shown"] and time.monotonic() < deadline:
            time.sleep(0.05)
            after = state(i)
        if not after["shown"]:
            result.problems.append(f"dropdown {i + 1} ({before['title']!r}) did not open when its toggle button was clicked")
        else:
            opened.append({"title": before["title"], "height": round(after["height"]), "math": after["math"]})
        if i == 0 and shots is not None and after["shown"]:
            result.screenshots.append(tab.screenshot(screenshot_path(shots, rel, "--solution-open")))
    result.info["opened"] = opened
    tab.settle()
    result.problems += network_and_console_problems(visit, base_url, result.warnings)
    result.seconds = time.monotonic() - t0
    return result


def first_page_with_dropdowns(book: Path, pages: list[str]) -> str | None:
    for rel in pages:
        if rel.startswith("solutions/") and 'class="solution dropdown' in (book / rel).read_text(errors="replace"):
            return rel
    return None
