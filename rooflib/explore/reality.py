"""Chapter 8 explorer: the throughput bound vs batch for one published system, and every efficiency."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import reality as rz
from ..plotting import OKABE_ITO, log_axes
from ..units import fmt_count
from .base import Explorer

BATCHES = np.unique(np.round(np.logspace(0, 5, 140)))   # sequences per step, whole deployment unit
TPS_RANGE = (1e1, 1e7)                                    # tokens/s


class RealityExplorer(Explorer):
    def setup(self):
        self.ax_b, self.ax_e = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.1]})
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.96, wspace=0.55)
        c = OKABE_ITO
        self.bound_line = self.ax_b.plot([1], [1], color=c["black"], lw=2.5, alpha=0.7, label="bound (roofline)")[0]
        self.ceiling = self.ax_b.axhline(1, color=c["blue"], ls="--", label="compute ceiling")
        self.measured = self.ax_b.axhline(1, color=c["vermillion"], lw=2, label="published")
        self.cap = self.ax_b.axvspan(1, 2, color="0.5", alpha=0.25, lw=0, label="does not fit in HBM")
        log_axes(self.ax_b)
        self.ax_b.set_xlim(BATCHES[0], BATCHES[-1])
        self.ax_b.set_ylim(*TPS_RANGE)
        self.ax_b.set_xlabel("batch (sequences per step, whole unit)")
        self.ax_b.set_ylabel("throughput (tokens/s, per published unit)")
        self.ax_b.grid(True, alpha=0.3)
        self.ax_b.legend(loc="upper left", fontsize=8)
        n = len(rz.MEASUREMENTS)
        y = np.arange(n)[::-1]
        self.bars = self.ax_e.barh(y, np.zeros(n), color=c["sky"], edgecolor="none")
        self.ax_e.set_yticks(y, [m.short for m in rz.MEASUREMENTS], fontsize=7)
        self.ax_e.set_xlim(0, 100)
        self.ax_e.set_xlabel("measured / bound (%)")
        self.ax_e.grid(True, axis="x", alpha=0.3)
        self.animated = [self.cap, self.ceiling, self.bound_line, self.measured, *self.bars]
        self._efficiencies = {}   # assumptions -> every measurement's efficiency (a key change reuses them)

    def efficiencies(self, input_tokens, attention, tokens_per_step):
        key = (int(input_tokens), bool(attention), round(float(tokens_per_step), 6))
        if key not in self._efficiencies:
            self._efficiencies[key] = [rz.efficiency(m, attention=attention, input_tokens=input_tokens,
                                                     tokens_per_step=tokens_per_step) for m in rz.MEASUREMENTS]
        return self._efficiencies[key]

    def draw(self, key, input_tokens=0, attention=False, tokens_per_step=1.0):
        meas = rz.measurement(key)
        unit = meas.deployment_chips
        scale = meas.chips / unit
        ceiling = float(rz.compute_ceiling(meas.model, meas.chip, meas.chips, dtype=meas.dtype))
        if meas.phase == "prefill":
            flat = float(rz.bound_for(meas))
            self.bound_line.set_data(BATCHES, np.full(BATCHES.shape, flat))
            self.cap.set_x(BATCHES[-1] * 10)
            self.ceiling.set_ydata([ceiling] * 2)
            top = flat
        else:
            shared = meas.output_tokens > 0
            extra = float(input_tokens) if shared else 0.0
            kw = dict(chips=unit, dtype=meas.dtype, kv_dtype=meas.kv_dtype, attention=attention,
                      tokens_per_step=tokens_per_step, input_tokens=extra,
                      output_tokens=meas.output_tokens if shared else None)
            curve = rz.decode_bound(meas.model, meas.chip, meas.context + extra, batch=BATCHES, **kw)
            self.bound_line.set_data(BATCHES, np.asarray(curve.tokens_per_second) * scale)
            best = rz.decode_bound(meas.model, meas.chip, meas.context + extra, **kw)
            self.cap.set_x(max(float(best.batch), 1.0))
            self.cap.set_width(BATCHES[-1] * 10)
            self.ceiling.set_ydata([ceiling] * 2)
            top = float(best.tokens_per_second) * scale
        self.measured.set_ydata([meas.value] * 2)
        chosen = None
        effs = self.efficiencies(input_tokens, attention, tokens_per_step)
        for bar, m, eff in zip(self.bars, rz.MEASUREMENTS, effs):
            bar.set_width(100 * eff)
            bar.set_color(OKABE_ITO["orange"] if m.key == key else OKABE_ITO["sky"])
            if m.key == key:
                chosen = eff
        return (f"<b>{meas.label}</b>: published <b>{fmt_count(meas.value, 'tokens/s')}</b>; bound "
                f"<b>{fmt_count(top, 'tokens/s')}</b>; efficiency <b>{chosen:.1%}</b>. "
                f"Assumed context {meas.context + (input_tokens if meas.output_tokens else 0):,.0f} tokens; "
                f"{meas.dtype} weights, {meas.kv_dtype} cache.<br><small>{meas.note}</small>")


def reality_explorer(key="deepseek-decode", input_tokens=0, attention=False, tokens_per_step=1.0):
    """Published system, assumed prompt length, attention FLOPs, speculative tokens -> bound and efficiencies."""
    style = {"description_width": "130px"}
    layout = widgets.Layout(width="300px")
    controls = {
        "key": widgets.Dropdown(options=[(m.short, m.key) for m in rz.MEASUREMENTS], value=key,
                                description="published figure", style=style, layout=layout),
        "input_tokens": widgets.IntSlider(value=input_tokens, min=0, max=1024, step=32,
                                          description="MLPerf prompt (tokens)", style=style, layout=layout),
        "attention": widgets.Checkbox(value=attention, description="count attention FLOPs",
                                      style={"description_width": "initial"}, layout=layout),
        "tokens_per_step": widgets.FloatSlider(value=tokens_per_step, min=1.0, max=3.0, step=0.1,
                                               description="tokens / sequence / step", style=style, layout=layout),
    }
    return RealityExplorer(controls, figsize=(10, 4.2))


#: For `make bench`: how to build this explorer and which control moves to time.
BENCH = {
    "factory": reality_explorer,
    "updates": [dict(key=m.key) for m in rz.MEASUREMENTS[:6]]
    + [dict(input_tokens=i) for i in (128, 512, 1024)]
    + [dict(attention=True), dict(attention=False), dict(tokens_per_step=2.0)],
}
