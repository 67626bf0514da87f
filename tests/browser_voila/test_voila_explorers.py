"""The explorers app (`make explore`): Voilà serves explorers/explorers.ipynb with a live kernel.

The browser test opens the dashboard in headless Chromium, types a new context length into the
batching explorer's slider (its editable readout, with real key events), and checks that the
plot image is redrawn and the summary line follows. Fixtures and skip rules: conftest.py.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import rooflib.explore

DASHBOARD = Path(__file__).resolve().parents[2] / "explorers" / "explorers.ipynb"
EXPLORERS = [name for name in rooflib.explore.__all__ if name != "Explorer"]
LOAD_TIMEOUT = 180  # seconds: the kernel builds every explorer before the page is complete
NEW_CONTEXT = 16384

# JavaScript: the SHA-256 of the PNG the batching explorer's <img> shows (its src is a blob: URL,
# new at every update, so the bytes are compared, not the URL).
IMAGE_HASH = """(async () => {
  const img = document.querySelector('.explorer-batching img');
  if (!img || !img.src) return null;
  const bytes = await (await fetch(img.src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('');
})()"""
CONTEXT_READOUT = """[...document.querySelectorAll('.explorer-batching .widget-slider')]
  .find(s => s.querySelector('.widget-label').textContent.trim() === 'context (tokens)')
  .querySelector('.widget-readout')"""
MESSAGE = "document.querySelector('.explorer-batching .widget-html-content').textContent"


def test_dashboard_shows_every_explorer():
    nb = nbformat.read(DASHBOARD, as_version=4)
    shown = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"cell {i}: commit the dashboard without outputs"
        calls = re.findall(r"show\(ex\.(\w+)\(", cell.source)
        if calls:
            shown += calls
            before = nb.cells[i - 1]
            assert before.cell_type == "markdown" and before.source.lstrip().startswith("#"), (
                f"cell {i} ({calls[0]}) has no heading above it")
    missing = sorted(set(EXPLORERS) - set(shown))
    assert not missing, f"explorers missing from {DASHBOARD.name}: {missing}"
    assert sorted(shown) == sorted(set(shown)), "an explorer is shown twice"


@pytest.fixture(scope="module")
def dashboard(tools, open_page, voila_url):
    """The dashboard in a browser tab, once every explorer has been displayed."""
    page = open_page(voila_url)
    page.wait_for(f"document.querySelectorAll('[class*=\"explorer-\"]').length >= {len(EXPLORERS)}",
                  LOAD_TIMEOUT, f"the {len(EXPLORERS)} explorers to appear")
    page.wait_for(IMAGE_HASH, 30, "the batching explorer's plot")
    return page


def test_no_code_and_no_errors_shown(dashboard):
    # Voilà keeps an empty input area per code cell; the source must not be in it (strip_sources).
    code = dashboard.js("[...document.querySelectorAll('.jp-CodeCell .jp-InputArea, .cm-editor, .CodeMirror')]"
                        ".map(e => e.textContent).join('').trim()")
    assert code == "", f"code is in the page: {code[:300]!r}"
    text = dashboard.js("document.body.innerText")
    assert "import rooflib" not in text and "def show(" not in text, "code is visible"
    assert "Traceback" not in text, "a cell failed: " + text[text.find("Traceback"):][:1500]
    stderr = dashboard.js("document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]').length")
    assert stderr == 0, "the kernel printed to stderr (a warning or an error) in the page"
    assert "Roofline Economics: the explorers" in text
    assert "1. Batching: latency and cost vs batch size" in text


def test_moving_the_context_slider_redraws_the_plot(dashboard):
    before = dashboard.js(IMAGE_HASH)
    message = dashboard.js(MESSAGE)
    assert "4,096 tokens of context" in message, message
    # Type the new value into the slider's readout and press Enter, as a user would.
    dashboard.js(f"""(() => {{
      const readout = {CONTEXT_READOUT};
      readout.focus();
      const range = document.createRange();
      range.selectNodeContents(readout);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      return true;
    }})()""")
    dashboard.insert_text(str(NEW_CONTEXT))
    dashboard.key("Enter")
    after = dashboard.wait_for(
        f"(async () => {{ const h = await {IMAGE_HASH}; return h && h !== '{before}' ? h : null; }})()",
        30, "the plot to change after the slider moved")
    assert after != before
    assert dashboard.js(f"{CONTEXT_READOUT}.textContent.trim()") == str(NEW_CONTEXT)
    new_message = dashboard.wait_for(
        f"(() => {{ const m = {MESSAGE}; return m.includes('{NEW_CONTEXT:,} tokens') ? m : null; }})()",
        10, "the summary line to follow the slider")
    assert new_message != message
