"""Shared plotting conventions: a colour-blind-safe palette, axis helpers, and drawings of
library results (`draw_schedule`): the presentation layer, which computing modules never import.

Colours are the Okabe-Ito palette (distinguishable with the common forms of colour blindness);
line styles differ too, so the figures also read in greyscale.
"""
from __future__ import annotations

from .errors import choice

#: Okabe & Ito (2008), "Color Universal Design": https://jfly.uni-koeln.de/color/
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}

#: One colour and dash per roofline term, used by every chapter.
STYLE = {
    "compute": dict(color=OKABE_ITO["blue"], linestyle="-", label="compute"),
    "weights": dict(color=OKABE_ITO["orange"], linestyle="--", label="weight reads"),
    "kv": dict(color=OKABE_ITO["green"], linestyle="-.", label="KV-cache reads"),
    "memory": dict(color=OKABE_ITO["vermillion"], linestyle=":", label="weights + KV"),
    "time": dict(color=OKABE_ITO["black"], linestyle="-", linewidth=2.5, alpha=0.6, label="step time = max"),
}


def seconds_axis_ms(ax, which: str = "y") -> None:
    """Label an axis in milliseconds while the data stay in seconds."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v * 1e3:g}")
    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(fmt)


def log_axes(ax, x: bool = True, y: bool = True) -> None:
    """Log scales with labels only at powers of ten: readable, and fast to redraw."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    for flag, axis, setter in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if flag:
            setter("log")
            axis.set_major_locator(LogLocator(base=10, numticks=8))
            axis.set_minor_locator(NullLocator())  # minor ticks double the redraw time
            axis.set_major_formatter(FuncFormatter(_power_of_ten))


def style_axes(ax, *, log: str = "", xlim=None, ylim=None, xlabel: str | None = None,
               ylabel: str | None = None, grid: str | None = "both", legend=None) -> None:
    """Set up one explorer axes in a single call: scales, fixed limits, labels, grid, legend.

    `log` names the logarithmic axes ("xy", "x", "y" or "" for none), drawn by `log_axes`.
    `xlim` / `ylim` are (low, high) pairs (high < low flips the axis). `grid` draws the major
    grid on "both" axes, on "x" or "y" only, or not at all (None), at alpha 0.3. `legend` is
    None (no legend), a location ("upper left", fontsize 8) or a dict of `ax.legend` keywords
    (fontsize 8 unless given); call this after the labelled artists exist, since the legend
    lists only those. Options left at None leave the axes as they are.
    """
    choice("log", log, ("", "x", "y", "xy"))
    choice("grid", grid, ("both", "x", "y", None))
    if log:
        log_axes(ax, x="x" in log, y="y" in log)
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if grid is not None:
        ax.grid(True, axis=grid, alpha=0.3)
    if legend is not None:
        options = {"loc": legend} if isinstance(legend, str) else dict(legend)
        ax.legend(**{"fontsize": 8, **options})


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos=None) -> str:
    """1000 -> '10³', 0.01 -> '10⁻²', 1 -> '1', 10 -> '10' (plain text: no slow math rendering)."""
    import math

    if value <= 0:
        return ""
    exponent = round(math.log10(value))
    if exponent in (0, 1, 2, 3):
        return f"{10 ** exponent:g}"
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def decade_limits(lo: float, hi: float) -> tuple[float, float]:
    """Widen (lo, hi) to whole powers of ten, so small data changes keep the axis (and its ticks) still."""
    import math

    lo = max(float(lo), 1e-300)
    hi = max(float(hi), lo * 10)
    return 10.0 ** math.floor(math.log10(lo)), 10.0 ** math.ceil(math.log10(hi))


def draw_schedule(ax, schedule, labels: bool = True, normalise: bool = False):
    """Draw a pipeline `schedule` (`schedules.Schedule`) on matplotlib axes `ax`: one row per
    stage, forwards sky blue, backwards orange, each box labelled with its micro-batch.

    Idle slots stay blank: the bubble is the white area. With `normalise`, time is shown as a
    fraction of the makespan. Returns the two PolyCollections (forward, backward).
    """
    import numpy as np
    from matplotlib.collections import PolyCollection

    scale = 1.0 / schedule.makespan if normalise else 1.0
    verts = {"F": [], "B": []}
    for op in schedule.ops:
        x0, x1 = op["start"] * scale, (op["start"] + op["duration"]) * scale
        y0, y1 = op["stage"] + 0.1, op["stage"] + 0.9
        verts[str(op["phase"])].append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    colours = {"F": OKABE_ITO["sky"], "B": OKABE_ITO["orange"]}
    names = {"F": "forward", "B": "backward"}
    out = []
    for ph in ("F", "B"):
        pc = PolyCollection(verts[ph], facecolors=colours[ph], edgecolors="white", linewidths=0.8,
                            label=names[ph])
        ax.add_collection(pc)
        out.append(pc)
    if labels:
        for op in schedule.ops:
            x = (op["start"] + op["duration"] / 2) * scale
            ax.text(x, op["stage"] + 0.5, str(op["microbatch"] + 1), ha="center", va="center",
                    fontsize=7, color="black")
    ax.set_xlim(0, schedule.makespan * scale)
    ax.set_ylim(schedule.stages, 0)
    ax.set_yticks(np.arange(schedule.stages) + 0.5)
    ax.set_yticklabels([f"stage {s + 1}" for s in range(schedule.stages)])
    return out
