"""Chapter 1 explorer: latency and cost per token vs batch size, with the bound marked."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import roofline as rf
from ..hardware import CHIPS, hardware
from ..models import MODELS, model
from ..plotting import OKABE_ITO, STYLE, log_axes
from ..units import MILLION, fmt_dollars, fmt_time
from .base import Explorer

BATCHES = np.unique(np.round(np.logspace(0, 4.5, 160)))  # 1 ... ~30,000 sequences
TIME_RANGE = (1e-5, 1e2)   # seconds per step
COST_RANGE = (1e-3, 1e4)   # dollars per million tokens


class BatchingExplorer(Explorer):
    def setup(self):
        self.ax_t, self.ax_c = self.fig.subplots(1, 2)
        self.lines = {k: self.ax_t.plot([1], [1], **STYLE[k])[0] for k in ("compute", "weights", "kv", "time")}
        self.cost_line = self.ax_c.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="cost per token")[0]
        self.opt = [ax.axvline(1, color=OKABE_ITO["purple"], ls="--", lw=1, label="optimal batch") for ax in (self.ax_t, self.ax_c)]
        self.cap = [ax.axvspan(1, 2, color="0.5", alpha=0.25, lw=0, label="does not fit in HBM") for ax in (self.ax_t, self.ax_c)]
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
        for ax in (self.ax_t, self.ax_c):
            log_axes(ax)
            ax.set_xlabel("batch size B (sequences per step)")
            ax.grid(True, which="major", alpha=0.3)
        # Fixed ranges: every slider move then only redraws the lines (see Explorer.render).
        for ax in (self.ax_t, self.ax_c):
            ax.set_xlim(BATCHES[0], BATCHES[-1])
        self.ax_t.set_ylim(*TIME_RANGE)
        self.ax_c.set_ylim(*COST_RANGE)
        self.ax_t.set_ylabel("time per decode step (s)")
        self.ax_c.set_ylabel("cost ($ per million output tokens)")
        self.ax_t.legend(loc="upper left", fontsize=8)
        self.ax_c.legend(loc="upper right", fontsize=8)
        # Drawn in this order on top of the cached background: shading first, then the lines.
        self.animated = [*self.cap, *self.lines.values(), self.cost_line, *self.opt]

    def draw(self, chip, model_name, context, chips, price, dtype="bf16"):
        m, h = model(model_name), hardware(chip)
        step = rf.decode_step(m, h, BATCHES, context, chips=chips, dtype=dtype)
        for k, line in self.lines.items():
            line.set_data(BATCHES, np.broadcast_to(getattr(step, k), BATCHES.shape))
        cost = rf.cost_per_token(m, h, BATCHES, context, price, chips=chips, dtype=dtype) * MILLION
        self.cost_line.set_data(BATCHES, cost)
        b_opt = rf.optimal_batch(m, h, dtype)
        b_max = rf.max_batch(m, h, max(context, 1), chips=chips, dtype=dtype)
        for v in self.opt:
            v.set_xdata([b_opt, b_opt])
        for span in self.cap:
            span.set_x(max(b_max, 1))
            span.set_width(BATCHES[-1] * 10)
        head = (f"<b>{m.name}</b> on {chips} x {h.name}, {context:,} tokens of context. "
                f"Latency floor (weights only): <b>{fmt_time(step.weights.flat[0])}</b>; "
                f"optimal batch ≈ <b>{b_opt:,.0f}</b>.<br>")
        if b_max == 0:
            need = rf.weight_bytes(m, dtype) / h.hbm_capacity
            return head + (f"<b>The weights alone do not fit</b>: {need:.1f} chips' worth of HBM "
                           f"are needed before any KV cache. Add chips.")
        best = np.argmin(np.where(BATCHES <= b_max, cost, np.inf))
        return head + (f"Largest batch that fits in HBM: <b>{b_max:,}</b>; cheapest batch that fits: "
                       f"<b>{BATCHES[best]:,.0f}</b> at <b>{fmt_dollars(cost[best])}</b> per million tokens.")


def batching_explorer(chip="H100 SXM", model_name="Llama 3.1 70B", context=4096, chips=8, price=2.0):
    """Sliders for chip, model, context, chips and $/chip-hour -> latency and cost vs batch."""
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="290px")
    controls = {
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip", style=style, layout=layout),
        "model_name": widgets.Dropdown(options=list(MODELS), value=model(model_name).name, description="model", style=style, layout=layout),
        "context": widgets.IntSlider(value=context, min=0, max=32768, step=256, description="context (tokens)", style=style, layout=layout),
        "chips": widgets.IntSlider(value=chips, min=1, max=72, description="chips", style=style, layout=layout),
        "price": widgets.FloatSlider(value=price, min=0.5, max=10, step=0.25, description="$ per chip-hour", style=style, layout=layout),
    }
    return BatchingExplorer(controls)


#: For `make bench`: how to build this explorer and which slider moves to time.
BENCH = {
    "factory": batching_explorer,
    "updates": [dict(context=c) for c in (1024, 2048, 4096, 8192, 16384)]
    + [dict(chip=c) for c in ("H200 SXM", "B200", "MI300X", "TPU v6e")]
    + [dict(model_name=m) for m in ("DeepSeek-V3", "Llama 3.1 8B", "Mixtral 8x7B")],
}
