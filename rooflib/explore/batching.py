"""Chapter 1 explorer: latency and cost per token vs batch size, ideal or per phase, peak or achievable.

The step model is a control: the lecture's ideal single roofline (overlap='full') or the per-phase
step engines run (attention, then the matmuls, then the tensor-parallel all-reduces). So are the
rates: peak, or achievable (`rooflib.achievable`). The ideal at peak rates stays on the plot as a
faint reference line, so a switch shows how far the curves move.
"""
from __future__ import annotations


import ipywidgets as widgets
import numpy as np

from .. import roofline as rf
from ..hardware import CHIPS, hardware
from ..models import MODELS, model
from ..plotting import OKABE_ITO, STYLE, style_axes
from ..units import HOUR, MILLION, fmt_dollars, fmt_time
from .base import Explorer, rates_for

BATCHES = np.unique(np.round(np.logspace(0, 4.5, 160)))  # 1 ... ~30,000 sequences
TIME_RANGE = (1e-5, 1e2)   # seconds per step
COST_RANGE = (1e-3, 1e4)   # dollars per million tokens
OVERLAPS = {"ideal": "full", "per phase": "none"}   # button label -> decode_step(overlap=...)
RATES = ("peak", "achievable")

#: The parts drawn, each in its own style. Attention's arithmetic and the all-reduces exist only in
#: the per-phase step (in the ideal they are not counted, and not drawn).
PARTS = {
    **{k: STYLE[k] for k in ("compute", "weights", "kv")},
    "attention": dict(color=OKABE_ITO["sky"], linestyle=(0, (1, 1)), label="attention arithmetic"),
    "comm": dict(color=OKABE_ITO["purple"], linestyle=(0, (5, 1, 1, 1)), label="all-reduces"),
    "time": dict(STYLE["time"], label="step time"),
}
REFERENCE = dict(color=OKABE_ITO["black"], linestyle=":", linewidth=1.2, alpha=0.5, label="ideal at peak (reference)")


def _positive(x):
    """Zeros as NaN: a part that is not counted is not drawn (log axes)."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, np.nan)


class BatchingExplorer(Explorer):
    #: What the HTML book's live version offers (every point is drawn at build time: see live.py).
    live_grid = {"chip": ["H100 SXM", "H200 SXM", "B200", "MI300X", "TPU v6e"],
                 "model_name": ["Llama 3.1 8B", "Llama 3.1 70B", "Llama 3.1 405B", "DeepSeek-V3"],
                 "context": [1024, 4096, 16384, 32768], "chips": [1, 8, 72], "price": [1.0, 2.0, 4.0]}

    def setup(self):
        self.ax_t, self.ax_c = self.fig.subplots(1, 2)
        self.ref = {ax: ax.plot([1], [1], **REFERENCE)[0] for ax in (self.ax_t, self.ax_c)}
        self.lines = {k: self.ax_t.plot([1], [1], **style)[0] for k, style in PARTS.items()}
        self.cost_line = self.ax_c.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="cost per token")[0]
        self.opt = [ax.axvline(1, color=OKABE_ITO["purple"], ls="--", lw=1, label="optimal batch") for ax in (self.ax_t, self.ax_c)]
        self.cap = [ax.axvspan(1, 2, color="0.5", alpha=0.25, lw=0, label="does not fit in HBM") for ax in (self.ax_t, self.ax_c)]
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
        # Fixed ranges: every control change then only redraws the lines (see Explorer.render).
        axis = dict(log="xy", xlim=(BATCHES[0], BATCHES[-1]), xlabel="batch size B (sequences per step)")
        style_axes(self.ax_t, **axis, ylim=TIME_RANGE, ylabel="time per decode step (s)",
                   legend=dict(loc="upper left", fontsize=7, ncol=2))
        style_axes(self.ax_c, **axis, ylim=COST_RANGE, ylabel="cost ($ per million output tokens)",
                   legend="upper right")
        # Drawn in this order on top of the cached background: shading first, then the lines.
        self.animated = [*self.cap, *self.ref.values(), *self.lines.values(), self.cost_line, *self.opt]

    def draw(self, chip, model_name, context, chips, price, overlap="none", rates="peak", dtype="bf16"):
        m, peak = model(model_name), hardware(chip)
        h, note = rates_for(peak.name, rates)
        n_chips = chips * peak.chips
        ideal = rf.decode_step(m, peak, BATCHES, context, chips=chips, dtype=dtype, overlap="full")
        step = ideal if (overlap == "full" and h is peak) else \
            rf.decode_step(m, h, BATCHES, context, chips=chips, dtype=dtype, overlap=overlap)
        for k, line in self.lines.items():
            line.set_data(BATCHES, _positive(np.broadcast_to(getattr(step, k), BATCHES.shape)))
        # cost per token = step time x chips x $/chip-second / tokens (as rf.cost_per_token, without a second step)
        cost = step.time * n_chips * price / HOUR / BATCHES * MILLION
        ref_cost = ideal.time * n_chips * price / HOUR / BATCHES * MILLION
        self.cost_line.set_data(BATCHES, cost)
        self.ref[self.ax_t].set_data(BATCHES, ideal.time)
        self.ref[self.ax_c].set_data(BATCHES, ref_cost)
        b_opt = rf.optimal_batch(m, h, dtype)
        b_max = rf.max_batch(m, peak, max(context, 1), chips=chips, dtype=dtype)
        for v in self.opt:
            v.set_xdata([b_opt, b_opt])
        for span in self.cap:
            span.set_x(max(b_max, 1))
            span.set_width(BATCHES[-1] * 10)
        model_text = "ideal single roofline" if overlap == "full" else "per-phase step with all-reduces"
        head = (f"<b>{m.name}</b> on {chips} x {peak.name}, {context:,} tokens of context; "
                f"{model_text}, {'achievable' if h is not peak else 'peak'} rates.{note}<br>"
                f"Step at batch 1: <b>{fmt_time(step.time[0])}</b> (weights alone at peak: "
                f"{fmt_time(ideal.weights[0])}); optimal batch ≈ <b>{b_opt:,.0f}</b>.<br>")
        if b_max == 0:
            need = rf.weight_bytes(m, dtype) / peak.hbm_capacity
            return head + (f"<b>The weights alone do not fit</b>: {need:.1f} chips' worth of HBM "
                           f"are needed before any KV cache. Add chips.")
        best = np.argmin(np.where(BATCHES <= b_max, cost, np.inf))
        return head + (f"Largest batch that fits in HBM: <b>{b_max:,}</b>; cheapest batch that fits: "
                       f"<b>{BATCHES[best]:,.0f}</b> at <b>{fmt_dollars(cost[best])}</b> per million tokens "
                       f"(ideal at peak: {fmt_dollars(ref_cost[best])}).")


def batching_explorer(chip="H100 SXM", model_name="Llama 3.1 70B", context=4096, chips=8, price=2.0,
                      overlap="none", rates="peak"):
    """Controls for chip, model, context, chips, $/chip-hour, step model and rates -> latency and
    cost vs batch."""
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="290px")
    # two buttons of 106 px beside a 60 px description: the row fits the 290 px column unwrapped
    buttons = {"description_width": "60px", "button_width": "106px"}
    controls = {
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip", style=style, layout=layout),
        "model_name": widgets.Dropdown(options=list(MODELS), value=model(model_name).name, description="model", style=style, layout=layout),
        "context": widgets.IntSlider(value=context, min=0, max=32768, step=256, description="context (tokens)", style=style, layout=layout),
        "chips": widgets.IntSlider(value=chips, min=1, max=72, description="chips", style=style, layout=layout),
        "price": widgets.FloatSlider(value=price, min=0.5, max=10, step=0.25, description="$ per chip-hour", style=style, layout=layout),
        "overlap": widgets.ToggleButtons(options=list(OVERLAPS.items()), value=overlap, description="overlap",
                                         tooltips=["the lecture's single roofline: everything overlaps",
                                                   "attention, then the matmuls, then the all-reduces"],
                                         style=buttons, layout=layout),
        "rates": widgets.ToggleButtons(options=list(RATES), value=rates, description="rates",
                                       tooltips=["data-sheet peak FLOP/s and bandwidth",
                                                 "best measured matmul, 90% of HBM, 82% of links"],
                                       style=buttons, layout=layout),
    }
    return BatchingExplorer(controls)


#: For `make bench`: how to build this explorer and which control changes to time.
BENCH = {
    "factory": batching_explorer,
    "updates": [dict(context=c) for c in (1024, 2048, 4096, 8192, 16384)]
    + [dict(chip=c) for c in ("H200 SXM", "B200", "MI300X", "TPU v6e")]
    + [dict(model_name=m) for m in ("DeepSeek-V3", "Llama 3.1 8B", "Mixtral 8x7B")]
    + [dict(overlap=o, rates=r) for o in ("full", "none") for r in RATES],
}
