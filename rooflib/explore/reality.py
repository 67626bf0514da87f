"""Chapter 8 explorer: one published result's bound, prediction and measurement, and the
efficiencies that move the prediction (matmul, HBM and link fractions, fixed cost per step)."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import published as pub
from ..estimate import STEP_OVERHEAD
from ..plotting import OKABE_ITO, decade_limits, style_axes
from ..units import fmt_count, fmt_time
from .base import Explorer

BARS = ("bound", "prediction (your efficiencies)", "prediction (measured rates)", "measured")
COLOURS = (OKABE_ITO["black"], OKABE_ITO["orange"], OKABE_ITO["sky"], OKABE_ITO["vermillion"])
N_SWEEP = 60   # batches per replica on the right panel


class RealityExplorer(Explorer):
    #: Every published result; the rates at a few values (matmul 0: the chip's measured rate).
    live_grid = {"matmul": [0.0, 0.5, 0.8], "hbm": [0.6, 0.75, 0.9], "link": [0.5, 0.82], "overhead_ms": [STEP_OVERHEAD * 1e3]}

    def setup(self):
        self.ax_b, self.ax_s = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.2]})
        self.fig.subplots_adjust(left=0.2, right=0.98, bottom=0.15, top=0.93, wspace=0.3)
        y = np.arange(len(BARS))[::-1]
        self.bars = self.ax_b.barh(y, np.ones(len(BARS)), color=COLOURS, edgecolor="black", linewidth=0.4)
        self.ax_b.set_yticks(y, BARS, fontsize=8)
        self.ax_b.set_xscale("log")
        self.ax_b.set_xlabel("output tokens/s (measured chips)")
        self.ax_b.grid(True, axis="x", alpha=0.3)
        self.curve = self.ax_s.plot([1, 2], [1, 2], color=OKABE_ITO["orange"], lw=2,
                                    label="prediction at other batches (your efficiencies)")[0]
        self.point = self.ax_s.plot([1], [1], "o", color=OKABE_ITO["orange"], mec="black", ms=8,
                                    label="the estimate's choice")[0]
        self.meas = self.ax_s.axhline(1, color=OKABE_ITO["vermillion"], lw=2, label="measured")
        self.bound = self.ax_s.axhline(1, color=OKABE_ITO["black"], ls="--", lw=1.5, label="bound (this setup)")
        style_axes(self.ax_s, log="xy", xlabel="sequences in flight per replica",
                   ylabel="output tokens/s (measured chips)", legend=dict(loc="lower right", fontsize=7))
        self.animated = [*self.bars, self.curve, self.point, self.meas, self.bound]
        self._measured_rates = {}   # row key -> prediction at the measured rates (a slider move reuses it)

    def draw(self, key, matmul=0.0, hbm=0.9, link=0.82, overhead_ms=STEP_OVERHEAD * 1e3):
        r = pub.result(key)
        scale = r.measured_chips / r.chips
        if key not in self._measured_rates:
            self._measured_rates[key] = float(r.estimate().tokens_per_second) * scale
        kw = dict(matmul_fraction=None if matmul <= 0 else float(matmul), hbm_fraction=float(hbm),
                  link_fraction=float(link), step_overhead=float(overhead_ms) * 1e-3)
        e = r.estimate(**kw)
        pred, bound = float(e.tokens_per_second) * scale, e.bound_tokens_per_second * scale
        values = (bound, pred, self._measured_rates[key], r.measured)
        for bar, v in zip(self.bars, values):
            bar.set_width(v)
        lo, hi = decade_limits(min(values) / 1.5, max(values) * 1.5)
        self.ax_b.set_xlim(lo, hi)
        top = max(float(e.max_batch), float(e.batch), 2.0)
        b = np.unique(np.round(np.geomspace(1.0, top, N_SWEEP)))
        sweep = r.estimate(**kw, batch=b, tensor_parallel=e.tensor_parallel, max_time_per_output_token=None,
                           max_time_to_first_token=None)
        rate = np.asarray(sweep.tokens_per_second) * scale
        self.curve.set_data(b, rate)
        self.point.set_data([float(e.batch)], [pred])
        self.meas.set_ydata([r.measured] * 2)
        self.bound.set_ydata([bound] * 2)
        self.ax_s.set_xlim(*decade_limits(1.0, top))
        self.ax_s.set_ylim(*decade_limits(min(rate.min(), r.measured) / 1.5, max(bound, rate.max()) * 1.5))
        slots = "" if e.slots is None else f", {e.slots:,.0f} slots kept for random arrivals"
        return (f"<b>{r.key}</b> ({r.scenario}, {r.engine} {r.engine_version}): measured "
                f"<b>{fmt_count(r.measured, 'tokens/s')}</b>; prediction <b>{fmt_count(pred, 'tokens/s')}</b> "
                f"(<b>{pred / r.measured:.2f}x</b> the measurement), bound {fmt_count(bound, 'tokens/s')}. "
                f"{e.replicas} x {e.tensor_parallel} chips, {float(e.batch):,.0f} sequences per replica{slots}, "
                f"{fmt_time(float(e.time_per_output_token))} per token.")


def reality_explorer(key="mlperf41-llama2-70b-h100sxm-8-offline", matmul=0.0, hbm=0.9, link=0.82,
                     overhead_ms=STEP_OVERHEAD * 1e3):
    """Published result, matmul fraction (0: the measured rates), HBM and link fractions, step overhead
    -> bound, prediction and measurement."""
    style = {"description_width": "150px"}
    layout = widgets.Layout(width="300px")
    controls = {
        "key": widgets.Dropdown(options=[(r.key, r.key) for r in pub.results()], value=key,
                                description="published result", style=style, layout=layout),
        "matmul": widgets.FloatSlider(value=matmul, min=0.0, max=1.0, step=0.05,
                                      description="matmul / peak (0: measured)", style=style, layout=layout),
        "hbm": widgets.FloatSlider(value=hbm, min=0.3, max=1.0, step=0.05, description="HBM / peak",
                                   style=style, layout=layout),
        "link": widgets.FloatSlider(value=link, min=0.2, max=1.0, step=0.05, description="links / peak",
                                    style=style, layout=layout),
        "overhead_ms": widgets.FloatSlider(value=overhead_ms, min=0.0, max=10.0, step=0.1,
                                           description="overhead per step (ms)", style=style, layout=layout),
    }
    return RealityExplorer(controls, figsize=(10, 4.0))


#: For `make bench`: how to build this explorer and which control moves to time.
BENCH = {
    "factory": reality_explorer,
    "updates": [dict(key=k) for k in ("mlperf41-llama2-70b-h100sxm-8-server", "nim-llama33-70b-h100x2-5000in-c1",
                                      "mlperf51-deepseek-r1-gb200-72-server", "deepseek-day6-decode-h800")]
    + [dict(matmul=f) for f in (0.4, 0.6, 0.0)] + [dict(hbm=f) for f in (0.6, 0.9)]
    + [dict(link=0.5), dict(overhead_ms=3.0), dict(overhead_ms=0.58)],
}
