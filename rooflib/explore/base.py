"""The Explorer: controls + a matplotlib Figure rendered into an ipywidgets Image."""
from __future__ import annotations

import io

import ipywidgets as widgets
from matplotlib.figure import Figure


class Explorer:
    """Subclass and implement `draw(**values)`, which updates `self.fig` for the control values.

    `controls` maps argument names to ipywidgets; any change re-runs `draw` and re-renders.
    `update(**values)` is the same path without widgets (used by tests and benchmarks).
    """

    dpi = 72

    def __init__(self, controls: dict, figsize=(10, 3.8)):
        self.controls = controls
        # A fixed layout: constrained/tight layout would re-measure every tick label on each redraw.
        self.fig = Figure(figsize=figsize)
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        for w in controls.values():
            w.observe(self._on_change, names="value")
        self.setup()
        self._on_change()

    # -- to implement in subclasses -----------------------------------------------------------
    def setup(self) -> None:
        """Create axes and artists once (redrawing reuses them: that keeps updates fast)."""

    def draw(self, **values) -> str:
        """Update the artists for these control values; return an HTML summary line."""
        raise NotImplementedError

    # -- machinery -------------------------------------------------------------------------------
    def values(self) -> dict:
        return {name: w.value for name, w in self.controls.items()}

    def update(self, **values) -> bytes:
        """Recompute and redraw for `values` (defaults: the controls' values); return the PNG."""
        merged = {**self.values(), **values}
        try:
            self.message.value = self.draw(**merged)
        except (ValueError, LookupError) as err:  # an impossible combination: say so, keep the old plot
            self.message.value = f"<b>Not possible:</b> {err}"
            return self.image.value
        buf = io.BytesIO()
        # Fast PNG compression: the image is shown once and discarded, size matters less than time.
        self.fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
        png = buf.getvalue()
        self.image.value = png
        return png

    def _on_change(self, change=None) -> None:
        self.update()

    @property
    def widget(self):
        left = widgets.VBox(list(self.controls.values()), layout=widgets.Layout(width="300px"))
        return widgets.VBox([widgets.HBox([left, self.image]), self.message])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
