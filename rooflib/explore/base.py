"""The Explorer: controls + a matplotlib Figure rendered into an ipywidgets Image.

Speed comes from blitting. The figure's static parts (axes, ticks, labels, legend) are rendered
once and kept as a bitmap; a slider move redraws only the artists listed in `self.animated` on top
of that bitmap and encodes the PNG. The full figure is re-rendered only when an axis range or a
title changes, which is why subclasses snap ranges to whole decades (`plotting.decade_limits`).
"""
from __future__ import annotations

import functools
import io

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..achievable import achievable
from ..hardware import hardware
from .live import caller_origin

#: The chips and models the HTML book's live versions offer by default: every point of a live grid
#: is drawn at build time (live.py), so each explorer offers a few, and the notebook offers all.
LIVE_CHIPS = ["H100 SXM", "H200 SXM", "B200", "MI300X", "TPU v6e"]
LIVE_MODELS = ["Llama 3.1 8B", "Llama 3.1 70B", "Llama 3.1 405B", "DeepSeek-V3", "Gemma 3 27B", "gpt-oss-120b"]


@functools.lru_cache(maxsize=None)
def rates_for(chip: str, rates: str):
    """(hardware to compute with, note) for a 'peak' or 'achievable' control; peak where nothing was measured."""
    h = hardware(chip)
    if rates == "peak":
        return h, ""
    try:
        return achievable(h), ""
    except ValueError:
        return h, f" No measured matmul rate for the {h.name}: peak rates shown."


class Explorer:
    """Subclass and implement `setup()` and `draw(**values)`.

    setup(): create axes and artists once; put every artist that changes with the controls in
    `self.animated` (they are drawn on top of the cached background).
    draw(**values): update those artists (and, rarely, axis ranges) for the control values;
    return an HTML line summarising the numbers.
    `controls` maps draw()'s argument names to ipywidgets; a change re-runs draw and re-renders.
    `update(**values)` does the same without widgets (tests and `make bench` use it).
    """

    dpi = 72

    #: {control name: [values]}: the values the HTML book's live version offers (see live.py);
    #: a control not listed offers all its options, or a few points of its slider.
    live_grid: dict = {}

    def __init__(self, controls: dict, figsize=(10, 3.8)):
        # The factory call that built this explorer, so the book can build it again (live.py).
        self.origin = caller_origin(self)
        self.controls = controls
        self.fig = Figure(figsize=figsize, dpi=self.dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        self.animated: list = []
        self._background = None
        self._layout_key = None
        self.setup()
        for artist in self.animated:
            artist.set_animated(True)
        for w in controls.values():
            w.observe(self._on_change, names="value")
        self.update()

    # -- to implement in subclasses -----------------------------------------------------------
    def setup(self) -> None:
        """Create axes and artists once; list the changing ones in self.animated."""

    def draw(self, **values) -> str:
        """Update the artists for these control values; return an HTML summary line."""
        raise NotImplementedError

    # -- machinery -------------------------------------------------------------------------------
    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def _current_layout(self):
        return tuple((ax.get_xlim(), ax.get_ylim(), ax.get_title()) for ax in self.fig.axes)

    def render(self) -> bytes:
        """Composite the figure (blitting when the layout is unchanged) and return PNG bytes."""
        layout = self._current_layout()
        if self._background is None or layout != self._layout_key:
            self.canvas.draw()  # static parts only: animated artists are skipped
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._layout_key = layout
        else:
            self.canvas.restore_region(self._background)
        for artist in self.animated:
            artist.axes.draw_artist(artist)
        rgba = np.asarray(self.canvas.buffer_rgba())
        buf = io.BytesIO()
        # Fast compression: each image is shown once, so encode time matters more than size.
        Image.fromarray(rgba[..., :3]).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def update(self, **values) -> bytes:
        """Recompute and redraw for `values` (defaults: the controls' values); return the PNG."""
        merged = {**self.values(), **values}
        try:
            self.message.value = self.draw(**merged)
        except (ValueError, LookupError) as err:  # an impossible combination: say so, keep the old plot
            self.message.value = f"<b>Not possible:</b> {err}"
            return self.image.value
        png = self.render()
        self.image.value = png
        return png

    def _on_change(self, change=None) -> None:
        self.update()

    @property
    def widget(self):
        # The controls keep their width and the plot wraps below them when the page is narrow
        # (the book's text column is narrower than controls + plot side by side).
        left = widgets.VBox(list(self.controls.values()),
                            layout=widgets.Layout(width="310px", min_width="310px"))
        row = widgets.HBox([left, self.image], layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([row, self.message])

    def _ipython_display_(self):
        from IPython.display import display

        # The origin rides in the output's metadata, where the HTML book finds it (live.py).
        display(self.widget, metadata={"rooflib-live": self.origin} if self.origin else None)
