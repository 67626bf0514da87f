"""Chapter 2 explorers: the KV cache against context length.

* `kv_latency_explorer`: a decode step's parts and its MFU vs context under both step models (per
  phase, as engines run it, and the lecture's ideal), with both MFU ceilings, the Goldilocks
  context and the ideal's compute-to-memory crossover marked;
* `kv_designs_explorer`: KV bytes per token of one model under seven attention designs, and the
  cache of one sequence vs context;
* `kv_capacity_explorer`: the largest batch that fits vs context, against the batch needed to be
  compute-bound (per phase and ideal), and the throughput the fitting batch gives.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import context as cx
from .. import roofline as rf
from ..hardware import CHIPS, hardware
from ..kv import attention_designs, kv_bytes, kv_bytes_per_token, redesign
from ..models import MODELS, model
from ..plotting import OKABE_ITO, STYLE, style_axes
from ..units import fmt_bytes, fmt_count, fmt_time
from .base import LIVE_CHIPS, LIVE_MODELS, Explorer

CONTEXTS = np.unique(np.round(np.logspace(2, np.log10(131_072), 120)))  # 100 ... 131,072 tokens
CONTEXT_RANGE = (100, 2e5)
TIME_RANGE = (1e-5, 1e2)      # seconds per decode step
BATCH_RANGE = (1, 1e6)        # sequences
TPUT_RANGE = (1e1, 1e7)       # tokens per second
BYTES_RANGE = (1e3, 1e7)      # bytes per token
SEQ_RANGE = (1e5, 1e13)       # bytes per sequence
BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
CONTEXT_CHOICES = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
DTYPES = ["bf16", "fp8"]

_STYLE = {"description_width": "110px"}
_LAYOUT = widgets.Layout(width="290px")


def _dropdown(options, value, description):
    return widgets.Dropdown(options=options, value=value, description=description, style=_STYLE, layout=_LAYOUT)


def _contexts(m):
    """The plotting grid, cut at the model's context length (which is included)."""
    return np.append(CONTEXTS[CONTEXTS < m.context_length], float(m.context_length))


def _vline(ax, **kw):
    return ax.axvline(CONTEXT_RANGE[0], **kw)


def _set_vline(line, x):
    """Move a vertical line; park it off-axis when x is not a finite context inside the plot."""
    x = float(x)
    if not np.isfinite(x) or x <= 0:
        x = CONTEXT_RANGE[1] * 10
    line.set_xdata([x, x])


def _tokens(x: float) -> str:
    return "never (∞)" if not np.isfinite(x) else f"{x:,.0f} tokens"


# ---- 1. latency and MFU vs context, both step models --------------------------------------------

#: Lines of the left panel: the parts of a step, then its time under each model.
_PARTS = {
    "compute": STYLE["compute"],
    "weights": STYLE["weights"],
    "kv": STYLE["kv"],
    "attention": dict(color=OKABE_ITO["sky"], linestyle=(0, (5, 1, 1, 1)), label="attention arithmetic"),
    "comm": dict(color=OKABE_ITO["vermillion"], linestyle=(0, (1, 1)), label="all-reduces"),
}
_TIME_PHASES = dict(color=OKABE_ITO["black"], linestyle="-", linewidth=2.5, alpha=0.6, label="step time, per phase")
_TIME_IDEAL = dict(color=OKABE_ITO["black"], linestyle=":", linewidth=1.5, label="step time, ideal")


class KVLatencyExplorer(Explorer):
    live_grid = {"chip": LIVE_CHIPS, "model_name": LIVE_MODELS[:4], "batch": [1, 16, 64, 256, 512, 1024, 4096],
                 "chips": [1, 8, 72]}

    def setup(self):
        self.ax_t, self.ax_m = self.fig.subplots(1, 2)
        self.lines = {k: self.ax_t.plot([1], [1], **style)[0] for k, style in _PARTS.items()}
        self.t_phases = self.ax_t.plot([1], [1], **_TIME_PHASES)[0]
        self.t_ideal = self.ax_t.plot([1], [1], **_TIME_IDEAL)[0]
        self.mfu = self.ax_m.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="MFU at this batch, per phase")[0]
        self.mfu_ideal = self.ax_m.plot([1], [1], color=OKABE_ITO["black"], ls=":", lw=1.5,
                                        label="MFU at this batch, ideal")[0]
        self.ceiling = self.ax_m.plot([1], [1], color=OKABE_ITO["blue"], ls="--", lw=1.5,
                                      label="ceiling (any batch), per phase")[0]
        self.ceiling_ideal = self.ax_m.plot([1], [1], color=OKABE_ITO["orange"], ls="-.", lw=1.5,
                                            label="ceiling (any batch), ideal")[0]
        self.gold = [_vline(ax, color=OKABE_ITO["purple"], ls="--", lw=1.2, label="Goldilocks S*")
                     for ax in (self.ax_t, self.ax_m)]
        self.cross = _vline(self.ax_t, color=OKABE_ITO["sky"], ls=":", lw=1.5, label="ideal: turns memory-bound")
        self.nofit = [ax.axvspan(1, 2, color="0.5", alpha=0.25, lw=0, label="batch does not fit in HBM")
                      for ax in (self.ax_t, self.ax_m)]
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
        axis = dict(xlim=CONTEXT_RANGE, xlabel="context S (tokens per sequence)")
        style_axes(self.ax_t, log="xy", **axis, ylim=TIME_RANGE, ylabel="time per decode step (s)",
                   legend=dict(loc="upper left", fontsize=6.5, ncol=2))
        style_axes(self.ax_m, log="x", **axis, ylim=(0, 1.05), ylabel="MFU (fraction of peak FLOP/s)",
                   legend=dict(loc="upper right", fontsize=6.5))
        self.animated = [*self.nofit, *self.lines.values(), self.t_phases, self.t_ideal, self.mfu, self.mfu_ideal,
                         self.ceiling, self.ceiling_ideal, *self.gold, self.cross]

    def draw(self, chip, model_name, batch, chips, dtype="bf16", kv_dtype="bf16"):
        m, h = model(model_name), hardware(chip)
        ctx = _contexts(m)
        step = rf.decode_step(m, h, batch, ctx, chips=chips, dtype=dtype, kv_dtype=kv_dtype)
        ideal = rf.decode_step(m, h, batch, ctx, chips=chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
        for k, line in self.lines.items():
            y = np.broadcast_to(getattr(step, k), ctx.shape)
            if np.any(y > 0):
                line.set_data(ctx, y)
            else:                       # no all-reduces on one chip: no line at zero on a log axis
                line.set_data([], [])
        self.t_phases.set_data(ctx, step.time)
        self.t_ideal.set_data(ctx, ideal.time)
        self.mfu.set_data(ctx, step.mfu)
        self.mfu_ideal.set_data(ctx, ideal.mfu)
        self.ceiling.set_data(ctx, cx.mfu_ceiling(m, h, ctx, dtype=dtype, kv_dtype=kv_dtype))
        self.ceiling_ideal.set_data(ctx, cx.mfu_ceiling(m, h, ctx, dtype=dtype, kv_dtype=kv_dtype, overlap="full"))
        s_star = cx.goldilocks_context(m, h, dtype=dtype, kv_dtype=kv_dtype)
        s_cross = cx.memory_bound_context(m, h, batch, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
        s_fit = cx.max_context(m, h, batch, chips, dtype=dtype, kv_dtype=kv_dtype)
        for v in self.gold:
            _set_vline(v, s_star)
        _set_vline(self.cross, s_cross if s_cross > 0 else np.nan)
        for span in self.nofit:
            span.set_x(max(s_fit, CONTEXT_RANGE[0] / 10))
            span.set_width(CONTEXT_RANGE[1] * 10)
        head = (f"<b>{m.name}</b>, batch {batch:,} on {chips} x {h.name} (weights {dtype}, cache {kv_dtype}). "
                f"Goldilocks context S* = <b>{_tokens(s_star)}</b>: there the best MFU of any batch is "
                f"<b>{float(cx.mfu_ceiling(m, h, min(s_star, m.context_length), dtype=dtype, kv_dtype=kv_dtype)):.0%}</b> per "
                f"phase, {float(cx.mfu_ceiling(m, h, min(s_star, m.context_length), dtype=dtype, kv_dtype=kv_dtype, overlap='full')):.0%}"
                f" in the ideal. ")
        if s_cross > 0:
            head += f"In the ideal this batch turns memory-bound at <b>{_tokens(s_cross)}</b>. "
        else:
            head += "This batch is memory-bound at every context (it is below the optimal batch). "
        if s_fit <= 0:
            return head + "<br><b>The weights alone do not fit</b>: add chips or use fp8."
        s_max = min(s_fit, m.context_length)
        last = rf.decode_step(m, h, batch, s_max, chips, dtype=dtype, kv_dtype=kv_dtype)
        best = rf.decode_step(m, h, batch, s_max, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
        return head + (f"<br>The batch fits up to <b>{_tokens(s_max)}</b> of context"
                       f"{' (the model’s limit)' if s_max == m.context_length else ''}; there a step takes "
                       f"<b>{fmt_time(last.time)}</b> per phase ({fmt_time(last.comm)} of it all-reduces) at "
                       f"<b>{last.mfu:.0%}</b> MFU; the ideal {fmt_time(best.time)} at {best.mfu:.0%}.")


def kv_latency_explorer(chip="H100 SXM", model_name="Llama 3.1 70B", batch=512, chips=8):
    """Chip, model, batch, chips, weight and cache precision -> step time parts, step time and MFU
    vs context, per phase and in the lecture's ideal, with both MFU ceilings."""
    controls = {
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "batch": widgets.SelectionSlider(options=BATCHES, value=batch, description="batch",
                                         style=_STYLE, layout=_LAYOUT),
        "chips": widgets.IntSlider(value=chips, min=1, max=72, description="chips", style=_STYLE, layout=_LAYOUT),
        "dtype": _dropdown(DTYPES, "bf16", "weights"),
        "kv_dtype": _dropdown(DTYPES, "bf16", "KV cache"),
    }
    return KVLatencyExplorer(controls)


# ---- 2. bytes per token across attention designs -------------------------------------------------
DESIGN_COLOURS = ["black", "orange", "sky", "green", "blue", "vermillion", "purple"]
DESIGN_DASHES = ["-", "--", "-.", ":", "-", "--", "-."]


class KVDesignsExplorer(Explorer):
    design_names = list(attention_designs("Llama 3.1 70B"))

    def setup(self):
        self.ax_b, self.ax_s = self.fig.subplots(1, 2)
        n = len(self.design_names)
        ys = np.arange(n)[::-1]
        colours = [OKABE_ITO[c] for c in DESIGN_COLOURS]
        self.bars = list(self.ax_b.barh(ys, np.ones(n), left=BYTES_RANGE[0], color=colours, height=0.6))
        self.ax_b.set_yticks(ys, self.design_names, fontsize=8)
        style_axes(self.ax_b, log="x", xlim=BYTES_RANGE, xlabel="KV-cache bytes per token of context (B)", grid="x")
        self.seq = [self.ax_s.plot([1], [1], color=c, ls=d, lw=2 if i == 0 else 1.3, label=name)[0]
                    for i, (c, d, name) in enumerate(zip(colours, DESIGN_DASHES, self.design_names))]
        self.marker = _vline(self.ax_s, color="0.4", ls=":", lw=1)
        style_axes(self.ax_s, log="xy", xlim=CONTEXT_RANGE, ylim=SEQ_RANGE, xlabel="context S (tokens per sequence)",
                   ylabel="cache of one sequence (B)", legend=dict(loc="upper left", fontsize=7, ncol=2))
        self.fig.subplots_adjust(left=0.14, right=0.98, bottom=0.14, top=0.96, wspace=0.3)
        self.animated = [*self.bars, *self.seq, self.marker]
        self._designs = {}

    def designs(self, name):
        if name not in self._designs:
            self._designs[name] = attention_designs(name)
        return self._designs[name]

    def draw(self, model_name, context, kv_dtype="bf16"):
        m = model(model_name)
        s = min(context, m.context_length)
        designs = self.designs(m.name)
        ctx = _contexts(m)
        per_token = {}
        # The numbers go into the HTML line, not onto the plot: text is the slowest thing to redraw.
        for (name, d), bar, line in zip(designs.items(), self.bars, self.seq):
            b = float(kv_bytes_per_token(d, s, dtype=kv_dtype))
            per_token[name] = b
            bar.set_width(max(b - BYTES_RANGE[0], 0.0))
            line.set_data(ctx, kv_bytes(d, ctx, dtype=kv_dtype))
        _set_vline(self.marker, s)
        pub = per_token["as published"]
        listing = "; ".join(f"{name} {fmt_bytes(b)}" for name, b in per_token.items())
        return (f"<b>{m.name}</b> ({m.attention.upper()}), cache in {kv_dtype}, averaged over {s:,} tokens: "
                f"<b>{fmt_bytes(pub)}</b> per token, {fmt_bytes(pub * s)} per sequence.<br>"
                f"Bytes per token: {listing}.")


def kv_designs_explorer(model_name="Llama 3.1 70B", context=32768, kv_dtype="bf16"):
    """Model, context and cache precision -> KV bytes per token under seven attention designs."""
    controls = {
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "context": widgets.SelectionSlider(options=CONTEXT_CHOICES, value=context, description="context (tokens)",
                                           style=_STYLE, layout=_LAYOUT),
        "kv_dtype": _dropdown(DTYPES, kv_dtype, "KV cache"),
    }
    return KVDesignsExplorer(controls)


# ---- 3. capacity: max batch vs context --------------------------------------------------------
class KVCapacityExplorer(Explorer):
    live_grid = {"chip": LIVE_CHIPS, "model_name": LIVE_MODELS, "chips": [1, 2, 8, 72]}

    def setup(self):
        self.ax_b, self.ax_r = self.fig.subplots(1, 2)
        self.fits = self.ax_b.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="largest batch that fits")[0]
        self.full = self.ax_b.plot([1], [1], color="0.45", ls=":", lw=1.5,
                                   label="... if no layer had a window")[0]
        self.needed = self.ax_b.plot([1], [1], color=OKABE_ITO["blue"], ls="--", lw=1.5,
                                     label="batch to be compute-bound, ideal")[0]
        self.needed_phases = self.ax_b.plot([1], [1], color=OKABE_ITO["purple"], ls="-.", lw=1.5,
                                            label="... per phase (optimal batch, up to S*)")[0]
        self.gold = [_vline(ax, color=OKABE_ITO["purple"], ls="--", lw=1.2, label="Goldilocks S*")
                     for ax in (self.ax_b, self.ax_r)]
        self.tput = self.ax_r.plot([1], [1], color=OKABE_ITO["green"], lw=2,
                                   label="at the largest batch that fits, per phase")[0]
        self.tput_ideal = self.ax_r.plot([1], [1], color=OKABE_ITO["green"], ls=":", lw=1.5,
                                         label="... ideal")[0]
        self.tput_opt = self.ax_r.plot([1], [1], color=OKABE_ITO["orange"], ls="--", lw=1.5,
                                       label="at the optimal batch (if it fits), per phase")[0]
        axis = dict(log="xy", xlim=CONTEXT_RANGE, xlabel="context S (tokens per sequence)",
                    legend=dict(loc="lower left", fontsize=6.5))
        style_axes(self.ax_b, **axis, ylim=BATCH_RANGE, ylabel="batch (sequences)")
        style_axes(self.ax_r, **axis, ylim=TPUT_RANGE, ylabel="throughput (generated tokens/s)")
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
        self.animated = [self.fits, self.full, self.needed, self.needed_phases, *self.gold, self.tput,
                         self.tput_ideal, self.tput_opt]

    def draw(self, chip, model_name, chips, dtype="bf16", kv_dtype="bf16"):
        m, h = model(model_name), hardware(chip)
        ctx = _contexts(m)
        b_max = rf.max_batch(m, h, ctx, chips, dtype=dtype, kv_dtype=kv_dtype)
        fits = b_max >= 1
        self.fits.set_data(ctx[fits], b_max[fits])
        if m.n_window_layers:
            full = rf.max_batch(_without_windows(m), h, ctx, chips, dtype=dtype, kv_dtype=kv_dtype)
            ok = full >= 1
            self.full.set_data(ctx[ok], full[ok])
        else:
            self.full.set_data([], [])
        need = cx.compute_bound_batch(m, h, ctx, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
        finite = np.isfinite(need)
        self.needed.set_data(ctx[finite], need[finite])
        need_p = cx.compute_bound_batch(m, h, ctx, dtype=dtype, kv_dtype=kv_dtype)
        finite_p = np.isfinite(need_p)
        self.needed_phases.set_data(ctx[finite_p], need_p[finite_p])
        b_opt = rf.optimal_batch(m, h, dtype)
        s_star = cx.goldilocks_context(m, h, dtype=dtype, kv_dtype=kv_dtype)
        for v in self.gold:
            _set_vline(v, s_star)
        if fits.any():
            step = rf.decode_step(m, h, b_max[fits], ctx[fits], chips, dtype=dtype, kv_dtype=kv_dtype)
            self.tput.set_data(ctx[fits], step.tokens_per_second)
            ideal = rf.decode_step(m, h, b_max[fits], ctx[fits], chips, dtype=dtype, kv_dtype=kv_dtype,
                                   overlap="full")
            self.tput_ideal.set_data(ctx[fits], ideal.tokens_per_second)
        else:
            self.tput.set_data([], [])
            self.tput_ideal.set_data([], [])
        fit_opt = b_max >= b_opt
        if fit_opt.any():
            step = rf.decode_step(m, h, b_opt, ctx[fit_opt], chips, dtype=dtype, kv_dtype=kv_dtype)
            self.tput_opt.set_data(ctx[fit_opt], np.broadcast_to(step.tokens_per_second, ctx[fit_opt].shape))
        else:
            self.tput_opt.set_data([], [])
        head = f"<b>{m.name}</b> on {chips} x {h.name} (weights {dtype}, cache {kv_dtype}). "
        if not fits.any():
            return head + "<b>The weights alone do not fit</b> (or leave no room for one sequence): add chips."

        def longest(n, ok):
            both = fits & ok & (b_max >= np.where(ok, n, np.inf))
            return _tokens(ctx[both].max()) if both.any() else "none"

        text = (f"Goldilocks S* = {_tokens(s_star)}, optimal batch {b_opt:,.0f}. "
                f"Longest context at which a fitting batch is compute-bound: <b>{longest(need_p, finite_p)}</b> "
                f"per phase, {longest(need, finite)} in the ideal. "
                f"At {int(ctx[fits].max()):,} tokens at most <b>{int(b_max[fits][-1]):,}</b> sequences fit, "
                f"for {fmt_count(self.tput.get_ydata()[-1])} tokens/s per phase "
                f"({fmt_count(self.tput_ideal.get_ydata()[-1])} in the ideal).")
        return head + text


def _without_windows(m):
    """The model as if its sliding-window layers attended to everything (for comparison)."""
    return redesign(m, f"{m.name} without windows", n_window_layers=0, window=0)


def kv_capacity_explorer(chip="H100 SXM", model_name="Llama 3.1 70B", chips=8):
    """Chip, model, chips, precisions -> largest batch that fits and throughput vs context."""
    controls = {
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "chips": widgets.IntSlider(value=chips, min=1, max=72, description="chips", style=_STYLE, layout=_LAYOUT),
        "dtype": _dropdown(DTYPES, "bf16", "weights"),
        "kv_dtype": _dropdown(DTYPES, "bf16", "KV cache"),
    }
    return KVCapacityExplorer(controls)


#: For `make bench`: the chapter's main explorer and the slider moves to time.
BENCH = {
    "factory": kv_latency_explorer,
    "updates": [dict(batch=b) for b in (16, 64, 256, 1024)]
    + [dict(chip=c) for c in ("H200 SXM", "B200", "MI300X", "A100 SXM 80GB")]
    + [dict(model_name=n) for n in ("DeepSeek-V3", "Gemma 3 27B", "gpt-oss-120b")]
    + [dict(kv_dtype="fp8"), dict(chips=4)],
}

#: Every explorer of this module with its slider moves (benchmarks/run.py reads only BENCH).
BENCHES = {
    "kv_latency": BENCH,
    "kv_designs": {"factory": kv_designs_explorer,
                   "updates": [dict(context=c) for c in (1024, 8192, 131072)]
                   + [dict(model_name=n) for n in ("DeepSeek-V3", "Gemma 3 27B", "gpt-oss-120b")]
                   + [dict(kv_dtype="fp8")]},
    "kv_capacity": {"factory": kv_capacity_explorer,
                    "updates": [dict(chips=c) for c in (1, 2, 8)]
                    + [dict(chip=c) for c in ("B200", "MI300X")]
                    + [dict(model_name=n) for n in ("Gemma 3 27B", "gpt-oss-120b", "DeepSeek-V3")]
                    + [dict(kv_dtype="fp8")]},
}
