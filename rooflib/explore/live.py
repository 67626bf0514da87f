"""The live version of an explorer, for the HTML book: its grid of control values, drawn by the
explorer itself at book-build time and shipped to the page as data.

One definition per explorer. The ipywidgets controls already describe a grid (a dropdown's
options, a slider's min/max/step, a toggle's buttons); `harvest` walks that grid, calls the
explorer's own `draw(**values)` at every point and keeps what it drew: the data of the figure's
lines, vertical lines, spans and bars (with their labels, colours and dashes), each axes' scales,
limits and labels, and the summary line. No formula is written twice, in Python and in
JavaScript: the page (book/_ext/live_static/rooflib-live.js) only looks the numbers up and plots
them with Vega-Lite. The book's Sphinx extension (book/_ext/live_explorers.py) rebuilds each
explorer from its `origin` (the factory call that made it, recorded by `Explorer.__init__`).

A grid that is too large fails loudly (`LiveGridError`, naming the explorer): an explorer narrows
it with a `live_grid` class attribute, {control name: [values offered in the page]}.
"""
from __future__ import annotations

import importlib
import inspect
import itertools
import json
import math

import numpy as np

#: Draws allowed per explorer: the build calls draw() once per point of the grid.
MAX_DRAWS = 3000
#: Points a slider offers in the page when the explorer does not list them (`live_grid`).
SLIDER_STEPS = 5
#: A point of a line is dropped when the line passes within this many pixels of it (at the
#: matplotlib figure's size): the page's plot is drawn at about that size.
THIN_PX = 0.4
DIGITS = 4  # significant digits kept


class LiveGridError(ValueError):
    """An explorer whose grid cannot be shipped (too many points, a control of an unknown kind)."""


# ---------------------------------------------------------------- where an explorer came from

def caller_origin(explorer) -> dict | None:
    """The public factory call that built `explorer`: {"factory": "module:function", "kwargs"}.

    Walks up from Explorer.__init__ past the subclasses' __init__ to the first frame that is a
    module-level function of rooflib.explore; its arguments (as they are when the explorer is
    built) are the kwargs. None when there is no such frame or an argument is not plain JSON.
    """
    frame = inspect.currentframe()
    try:
        frame = frame.f_back if frame else None
        while frame is not None and frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is explorer:
            frame = frame.f_back
        if frame is None:
            return None
        module, name = frame.f_globals.get("__name__", ""), frame.f_code.co_name
        if not module.startswith("rooflib.explore") or getattr(frame.f_globals.get(name), "__code__", None) is not frame.f_code:
            return None
        args = inspect.getargvalues(frame)
        kwargs = {a: frame.f_locals[a] for a in args.args}
        if args.keywords:
            kwargs.update(frame.f_locals[args.keywords])
        try:
            kwargs = json.loads(json.dumps(kwargs, allow_nan=False))
        except (TypeError, ValueError):
            return None
        return {"factory": f"{module}:{name}", "kwargs": kwargs}
    finally:
        del frame


def rebuild(origin: dict):
    """The explorer that `origin` (from `caller_origin`) describes, built afresh."""
    module, name = origin["factory"].split(":")
    if not module.startswith("rooflib.explore"):
        raise LiveGridError(f"{origin['factory']} is not an explorer factory of rooflib.explore")
    return getattr(importlib.import_module(module), name)(**origin["kwargs"])


# ---------------------------------------------------------------- the grid

def _snap(x: float, lo: float, step: float, integer: bool):
    v = lo + round((x - lo) / step) * step if step else x
    return int(round(v)) if integer else float(f"{v:.10g}")


def control_axes(explorer) -> list[dict]:
    """One entry per control: its name, label, kind (select or slider), the values offered and
    their labels, and the index of the control's current value."""
    import ipywidgets as widgets

    chosen = getattr(explorer, "live_grid", {}) or {}
    axes = []
    for name, w in explorer.controls.items():
        label = (w.description or name).strip()
        if isinstance(w, (widgets.Dropdown, widgets.ToggleButtons, widgets.RadioButtons, widgets.Select,
                          widgets.SelectionSlider)):
            labels, values = list(w._options_labels), list(w._options_values)
            kind = "slider" if isinstance(w, widgets.SelectionSlider) else "select"
        elif isinstance(w, (widgets.IntSlider, widgets.FloatSlider)):
            integer = isinstance(w, widgets.IntSlider)
            values = sorted({_snap(x, w.min, w.step, integer) for x in np.linspace(w.min, w.max, SLIDER_STEPS)}
                            | {w.value})
            labels, kind = [f"{v:,}" if integer else f"{v:g}" for v in values], "slider"
        elif isinstance(w, widgets.FloatLogSlider):
            values = sorted({float(f"{w.base ** e:.4g}") for e in np.linspace(w.min, w.max, SLIDER_STEPS)} | {w.value})
            labels, kind = [f"{v:g}" for v in values], "slider"
        elif isinstance(w, widgets.Checkbox):
            labels, values, kind = ["off", "on"], [False, True], "select"
        else:
            raise LiveGridError(f"{type(explorer).__name__}: control {name!r} is a {type(w).__name__}, "
                                "which the live version does not know")
        if name in chosen:  # the explorer's own choice of the values offered in the page
            wanted = list(chosen[name])
            if kind == "select" or isinstance(w, widgets.SelectionSlider):
                unknown = [v for v in wanted if v not in values]
                if unknown:
                    raise LiveGridError(f"{type(explorer).__name__}.live_grid[{name!r}]: {unknown} are not options")
                keep = [v for v in values if v in wanted or v == w.value]
                labels = [labels[values.index(v)] for v in keep]
            else:
                keep = sorted(set(wanted) | {w.value})
                labels = [f"{v:,}" if isinstance(v, int) else f"{v:g}" for v in keep]
            values = keep
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        axes.append({"name": name, "label": label, "kind": kind, "labels": [str(x) for x in labels],
                     "values": values, "init": values.index(w.value)})
    return axes


# ---------------------------------------------------------------- what a figure shows

def _num(v: float) -> str:
    """A number with DIGITS significant digits, as JSON (NaN and infinities become null)."""
    v = float(v)
    if not math.isfinite(v):
        return "null"
    if v == 0:
        return "0"
    s = f"{v:.{DIGITS}g}"
    return s.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _rdp(px: np.ndarray, tol: float) -> np.ndarray:
    """Ramer-Douglas-Peucker: the indices of the points of a polyline (in pixels) to keep."""
    keep = np.zeros(len(px), bool)
    keep[[0, -1]] = True
    stack = [(0, len(px) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        d = px[b] - px[a]
        rel = px[a + 1:b] - px[a]
        norm = math.hypot(*d)
        dist = np.abs(d[0] * rel[:, 1] - d[1] * rel[:, 0]) / norm if norm else np.hypot(rel[:, 0], rel[:, 1])
        i = int(np.argmax(dist))
        if dist[i] > tol:
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return np.flatnonzero(keep)


def _thin(ax, x, y) -> tuple[np.ndarray, np.ndarray]:
    """The points of a line that show at the figure's resolution; a gap (NaN) is kept as one."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    if x.size != y.size or x.size < 3:
        return x, y
    with np.errstate(all="ignore"):
        ok = np.isfinite(x) & np.isfinite(y)
        if ax.get_xscale() == "log":
            ok &= x > 0
        if ax.get_yscale() == "log":
            ok &= y > 0
    keep = []
    runs = np.split(np.arange(x.size), np.flatnonzero(np.diff(ok.astype(int))) + 1)
    for run in runs:
        if not ok[run[0]]:
            keep.append(run[:1])  # one gap marker
            continue
        px = ax.transData.transform(np.column_stack([x[run], y[run]]))
        keep.append(run[_rdp(px, THIN_PX)])
    idx = np.concatenate(keep)
    return x[idx], np.where(ok[idx], y[idx], np.nan)


def _style(artist) -> dict:
    from matplotlib.colors import to_hex

    label = artist.get_label() or ""
    style = {"label": "" if label.startswith("_") else label, "alpha": artist.get_alpha()}
    if hasattr(artist, "get_text"):
        style.update(color=to_hex(artist.get_color()), size=artist.get_fontsize(), align=artist.get_ha(),
                     baseline=artist.get_va(), angle=artist.get_rotation())
    elif hasattr(artist, "get_linestyle") and hasattr(artist, "get_xdata"):
        style.update(color=to_hex(artist.get_color()), width=artist.get_linewidth(),
                     dash=[round(d, 2) for d in (artist._dash_pattern[1] or [])])
        if _has_marker(artist):
            face = artist.get_markerfacecolor()
            hollow = isinstance(face, str) and face.lower() == "none"
            style.update(marker=MARKERS.get(artist.get_marker(), "circle"), size=artist.get_markersize(),
                         filled=not hollow, line=artist.get_linestyle() not in ("None", "none", "", " "),
                         color=to_hex(artist.get_markeredgecolor() if hollow else face))
    else:  # a patch, or a collection of boxes (one colour: the first)
        face = np.atleast_2d(artist.get_facecolor())
        face = face[0] if len(face) else np.array([0.5, 0.5, 0.5, 1.0])
        style.update(color=to_hex(face), alpha=float(face[3]))
    return style


#: matplotlib's marker codes as Vega-Lite point shapes (others are drawn as circles).
MARKERS = {"o": "circle", ".": "circle", "s": "square", "D": "diamond", "d": "diamond", "^": "triangle-up",
           "v": "triangle-down", "<": "triangle-left", ">": "triangle-right", "x": "cross", "+": "cross"}


def _has_marker(line) -> bool:
    return line.get_marker() not in (None, "", " ", "None", "none")


def _artists(fig) -> list[tuple[int, str, object]]:
    """(axes index, kind, artist) for every line, patch, text and polygon collection placed in data
    coordinates: kind line, vline, hline, span, hspan, rect, text or boxes (each polygon's extent)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Polygon, Rectangle
    from matplotlib.text import Text

    found = []
    for i, ax in enumerate(fig.axes):
        for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections]:
            xdata, ydata = artist.get_transform().contains_branch_seperately(ax.transData)
            shape = {(True, True): "", (True, False): "v", (False, True): "h"}.get((xdata, ydata))
            if shape is None:
                continue
            if isinstance(artist, Line2D):
                found.append((i, {"": "line", "v": "vline", "h": "hline"}[shape], artist))
            elif isinstance(artist, (Rectangle, Polygon)):
                found.append((i, {"": "rect", "v": "span", "h": "hspan"}[shape], artist))
            elif isinstance(artist, Text) and shape == "":
                found.append((i, "text", artist))
            elif type(artist) is PolyCollection and shape == "":
                found.append((i, "boxes", artist))
    return found


def _geometry(kind: str, artist) -> list[list[float]]:
    """The numbers that place one artist: [xs, ys] for a line, [[x0, x1, y0, y1]] otherwise."""
    if kind == "line":
        return [artist.get_xdata(), artist.get_ydata()]
    if kind == "text":
        return [list(artist.get_position())]
    if kind == "boxes":
        ext = [(*path.vertices.min(0), *path.vertices.max(0)) for path in artist.get_paths()]  # x0 y0 x1 y1
        return [[v for x0, y0, x1, y1 in ext for v in (x0, x1, y0, y1)]]
    if kind in ("vline", "hline"):
        xy = np.asarray(artist.get_xydata(), float)
        return [[*xy[:, 0][:1], *xy[:, 1][[0, -1]]]] if kind == "vline" else [[*xy[:, 0][[0, -1]], *xy[:, 1][:1]]]
    ext = artist.get_path().get_extents(artist.get_patch_transform()) if hasattr(artist, "get_patch_transform") \
        else None
    if ext is None:
        xy = np.asarray(artist.get_xy(), float)
        return [[xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()]]
    return [[ext.x0, ext.x1, ext.y0, ext.y1]]


def _named_ticks(scale: str, values, texts) -> list | None:
    """[[value, label], ...] when an axis labels its ticks with words (bars by name), else None."""
    labels = [t.get_text() for t in texts]
    if scale == "linear" and any(lbl and not _numeric(lbl) for lbl in labels):
        return [[float(v), lbl] for v, lbl in zip(values, labels)]
    return None


def _axes_info(ax) -> dict:
    legend = ax.get_legend()
    return {"xscale": ax.get_xscale(), "yscale": ax.get_yscale(), "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(), "title": ax.get_title(),
            "xticks": _named_ticks(ax.get_xscale(), ax.get_xticks(), ax.get_xticklabels()),
            "yticks": _named_ticks(ax.get_yscale(), ax.get_yticks(), ax.get_yticklabels()),
            "legend": legend is not None, "width": ax.get_position().width, "height": ax.get_position().height}


def _numeric(text: str) -> bool:
    try:
        float(text.replace("−", "-").replace(",", ""))
        return True
    except ValueError:
        return text[:2] == "10" or text == ""  # log-axis labels like 10³


# ---------------------------------------------------------------- the harvest

def harvest(explorer, *, name: str = "", max_draws: int = MAX_DRAWS) -> dict:
    """Draw `explorer` at every point of its grid; return the page's data (plain JSON types).

    Numbers are kept to DIGITS significant digits, lines thinned to the points that show, and
    every distinct array and summary stored once (`pool`, `texts`): a point of the grid is a list
    of indices into them.
    """
    what = name or type(explorer).__name__
    axes = control_axes(explorer)
    n = math.prod(len(a["values"]) for a in axes)
    if n > max_draws:
        sizes = " x ".join(f"{a['name']} {len(a['values'])}" for a in axes)
        raise LiveGridError(f"the live grid of {what} has {n:,} points ({sizes}), more than {max_draws:,}: "
                            "narrow it with the explorer's live_grid class attribute")
    fig = explorer.fig
    found = _artists(fig)
    pool: dict[str, int] = {}
    texts: dict[str, int] = {}

    def ref(values) -> int:
        key = "[" + ",".join(_num(v) for v in values) + "]"
        return pool.setdefault(key, len(pool))

    points = []
    initial = explorer.values()
    try:
        for combo in itertools.product(*(a["values"] for a in axes)):
            values = {a["name"]: v for a, v in zip(axes, combo)}
            try:
                message = explorer.draw(**values)
                failed = False
            except (ValueError, LookupError) as err:  # as Explorer.update: say so, keep the old plot
                message, failed = f"<b>Not possible:</b> {err}", True
            row = [texts.setdefault(message, len(texts))]
            for ax in fig.axes:
                row.append(-1 if failed else ref([*ax.get_xlim(), *ax.get_ylim()]))
            for i, kind, artist in found:
                pair = kind in ("line", "text")  # two numbers in the row: xs and ys, or place and words
                if failed:
                    row += [-1, -1] if pair else [-1]
                elif not artist.get_visible():
                    row += [ref([]), ref([])] if kind == "line" else [ref([]), -1] if pair else [ref([])]
                elif kind == "line":
                    x, y = _geometry(kind, artist)
                    if not _has_marker(artist):  # a marker is a point of its own: keep them all
                        x, y = _thin(fig.axes[i], x, y)
                    row += [ref(x), ref(y)]
                elif kind == "text":
                    row += [ref(_geometry(kind, artist)[0]), texts.setdefault(artist.get_text(), len(texts))]
                else:
                    row.append(ref(_geometry(kind, artist)[0]))
            points.append(row)
    finally:
        explorer.draw(**initial)  # leave the explorer as it was
    return {"name": what, "controls": axes, "axes": [_axes_info(ax) for ax in fig.axes],
            "artists": [{"ax": i, "kind": kind, **_style(a)} for i, kind, a in found],
            "figsize": [float(v) for v in fig.get_size_inches() * fig.dpi],
            "pool": list(pool), "texts": list(texts), "points": points}


def to_json(data: dict) -> str:
    """The harvest as compact JSON; the pool's arrays are already JSON text."""
    pool = data["pool"]
    rest = json.dumps({k: v for k, v in data.items() if k != "pool"}, separators=(",", ":"), allow_nan=False)
    return rest[:-1] + ',"pool":[' + ",".join(pool) + "]}"


def point_index(data: dict, values: dict) -> int:
    """The row of data["points"] for these control values (the last control varies fastest)."""
    index = 0
    for a in data["controls"]:
        index = index * len(a["values"]) + a["values"].index(values[a["name"]])
    return index


def shown(data: dict, values: dict) -> dict:
    """What the page shows for these control values: the summary and each artist's numbers."""
    row = data["points"][point_index(data, values)]
    pool = [json.loads(p) for p in data["pool"]]
    k, out = 1 + len(data["axes"]), []
    for artist in data["artists"]:
        if artist["kind"] == "line":
            out.append((pool[row[k]], pool[row[k + 1]]) if row[k] >= 0 else None)
            k += 2
        elif artist["kind"] == "text":
            out.append((pool[row[k]], data["texts"][row[k + 1]]) if row[k + 1] >= 0 else None)
            k += 2
        else:
            out.append(pool[row[k]] if row[k] >= 0 else None)
            k += 1
    return {"summary": data["texts"][row[0]], "artists": out}
