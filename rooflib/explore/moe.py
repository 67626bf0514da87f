"""Chapter 3 explorers: an MoE decode step with its all-to-all, optimal batch vs sparsity, and
whether a model fits a scale-up domain.

The step explorer offers chapter 1's two controls: the step model (the lecture's ideal, where the
all-to-all overlaps the rest and can hide, or the per-phase step, where attention, the matmuls and
the all-to-all follow one another) and the rates (peak, or achievable: `rooflib.achievable`).
"""
from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
from PIL import Image
from matplotlib.patches import Rectangle

from .. import moe
from .. import roofline as rf
from ..hardware import CHIPS, hardware
from ..kv import kv_bytes_per_token
from ..models import MODELS, model
from ..plotting import OKABE_ITO, STYLE, style_axes
from ..units import bytes_per_element, fmt_bytes, fmt_time
from .base import Explorer, rates_for

MOE_MODELS = [name for name, m in MODELS.items() if m.is_moe]
BATCHES = np.unique(np.round(np.logspace(0, 5, 160)))  # 1 ... 100,000 tokens per step
TIME_RANGE = (1e-5, 1e0)       # seconds per step
RATE_RANGE = (1e0, 1e5)        # tokens per second per chip
#: The all-to-all's line, next to the shared roofline styles.
COMM_STYLE = dict(color=OKABE_ITO["sky"], linestyle=(0, (1, 1)), linewidth=2, label="all-to-all")
#: Attention's own arithmetic: counted (and drawn) only in the per-phase step.
ATTENTION_STYLE = dict(color=OKABE_ITO["purple"], linestyle=(0, (5, 1, 1, 1)), label="attention arithmetic")
OVERLAPS = {"ideal": "full", "per phase": "none"}   # button label -> moe_decode_step(overlap=...)
RATES = ("peak", "achievable")

_STYLE = {"description_width": "120px"}
_LAYOUT = widgets.Layout(width="300px")


def _dropdown(options, value, description):
    return widgets.Dropdown(options=options, value=value, description=description, style=_STYLE, layout=_LAYOUT)


def _int_slider(value, lo, hi, step, description):
    return widgets.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                             style=_STYLE, layout=_LAYOUT, continuous_update=True)


# ---- 1. step time vs batch, with and without the all-to-all ---------------------------------------

class MoEStepExplorer(Explorer):
    #: The HTML book's grid (live.py): the chips and domain sizes of the chapter; dispatch in fp8 as DeepSeek.
    live_grid = {"chip": ["H800 SXM", "H100 SXM", "H200 SXM", "B200"], "chips": [8, 16, 32, 72, 144],
                 "context": [0, 4096, 32768], "dispatch_dtype": ["fp8"]}

    def setup(self):
        self.ax_t, self.ax_r = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.95, wspace=0.28)
        self.lines = {k: self.ax_t.plot([1], [1], **STYLE[k])[0] for k in ("compute", "weights", "kv", "memory")}
        self.lines["attention"] = self.ax_t.plot([1], [1], **ATTENTION_STYLE)[0]
        self.lines["comm"] = self.ax_t.plot([1], [1], **COMM_STYLE)[0]
        self.lines["time"] = self.ax_t.plot([1], [1], **{**STYLE["time"], "label": "step time"})[0]
        self.rate = self.ax_r.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="with all-to-all")[0]
        self.rate_free = self.ax_r.plot([1], [1], color=OKABE_ITO["vermillion"], ls="--", lw=1.5,
                                        label="if the all-to-all were free")[0]
        self.exposed = [ax.axvspan(1, 2, color=OKABE_ITO["sky"], alpha=0.18, lw=0,
                                   label="all-to-all exposed") for ax in (self.ax_t, self.ax_r)]
        axis = dict(log="xy", xlim=(BATCHES[0], BATCHES[-1]), xlabel="batch B (tokens per decode step)",
                    legend="upper left")
        style_axes(self.ax_t, **axis, ylim=TIME_RANGE, ylabel="time per decode step (s)")
        style_axes(self.ax_r, **axis, ylim=RATE_RANGE, ylabel="throughput (tokens/s per chip)")
        self.animated = [*self.exposed, *self.lines.values(), self.rate_free, self.rate]

    def draw(self, chip, model_name, chips, context, dtype, dispatch_dtype, overlap="none", rates="peak"):
        m = model(model_name)
        h, note = rates_for(hardware(chip).name, rates)
        context = min(context, m.context_length)
        step = moe.moe_decode_step(m, h, BATCHES, context, chips=chips, dtype=dtype,
                                   dispatch_dtype=dispatch_dtype, combine_dtype="bf16", overlap=overlap)
        for k, line in self.lines.items():
            y = np.asarray(getattr(step, k), dtype=float)
            line.set_data(BATCHES, np.where(y > 0, y, np.nan))   # a part not counted is not drawn
        per_chip = BATCHES / chips
        self.rate.set_data(BATCHES, per_chip / step.time)
        self.rate_free.set_data(BATCHES, per_chip / step.time_without_comm)
        b_exp = moe.comm_exposed_batch(m, h, context, chips, dtype=dtype, dispatch_dtype=dispatch_dtype,
                                       combine_dtype="bf16") if overlap == "full" else BATCHES[-1] * 10
        for span in self.exposed:
            span.set_x(b_exp if np.isfinite(b_exp) else BATCHES[-1] * 10)
            span.set_width(BATCHES[-1] * 10)
        domain = h.chips if h.chips > 1 else h.scaleup_size
        where = (f"all {chips} chips in one scale-up domain of {domain}" if chips <= domain else
                 f"<b>{chips} chips span {int(np.ceil(chips / domain))} scale-up domains of {domain}</b>: "
                 f"traffic between them goes over 50 GB/s NICs")
        ratio = step.comm[0] / step.compute[0]
        model_text = "ideal step (everything overlaps)" if overlap == "full" else \
            "per-phase step (attention, matmuls, all-to-all in turn)"
        head = (f"<b>{m.name}</b> on {chips} x {h.name} ({where}), {dtype} weights, {context:,} tokens of "
                f"context; {model_text}, {rates} rates.{note} All-to-all / compute = <b>{ratio:.2f}</b> at every batch.<br>")
        if overlap == "none":
            tail = (f"Per phase the all-to-all always adds: {step.comm[-1] / step.time[-1]:.0%} of the step "
                    f"at B = 100,000.")
        elif np.isfinite(b_exp):
            tail = (f"The all-to-all is the longest part of the step from B ≈ <b>{b_exp:,.0f}</b>: "
                    f"there it costs {1 - step.time_without_comm[-1] / step.time[-1]:.0%} of the throughput at B = 100,000.")
        else:
            tail = "The all-to-all stays hidden under compute or memory at every batch."
        b_one = moe.moe_decode_step(m, h, 1, context, chips=chips, dtype=dtype, overlap=overlap)
        return head + tail + f" Batch-1 latency floor: <b>{fmt_time(b_one.time)}</b>."


def moe_step_explorer(chip="H800 SXM", model_name="DeepSeek-V3", chips=16, context=4096, dtype="fp8",
                      dispatch_dtype="fp8", overlap="none", rates="peak"):
    """Step time and throughput vs batch for an MoE with expert parallelism over `chips` chips,
    in the ideal or the per-phase step model, at peak or achievable rates."""
    buttons = {"description_width": "120px", "button_width": "86px"}
    controls = {
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "model_name": _dropdown(MOE_MODELS, model(model_name).name, "model"),
        "chips": _int_slider(chips, 1, 144, 1, "chips (EP)"),
        "context": _int_slider(context, 0, 131072, 1024, "context (tokens)"),
        "dtype": _dropdown(["bf16", "fp8"], dtype, "weights / math"),
        "dispatch_dtype": _dropdown(["bf16", "fp8"], dispatch_dtype, "dispatch format"),
        "overlap": widgets.ToggleButtons(options=list(OVERLAPS.items()), value=overlap, description="step model",
                                         tooltips=["the lecture's single roofline: the all-to-all overlaps the rest",
                                                   "attention, then the matmuls, then the all-to-all"],
                                         style=buttons, layout=_LAYOUT),
        "rates": widgets.ToggleButtons(options=list(RATES), value=rates, description="rates",
                                       tooltips=["data-sheet peak FLOP/s and bandwidth",
                                                 "best measured matmul, 90% of HBM, 82% of links"],
                                       style=buttons, layout=_LAYOUT),
    }
    return MoEStepExplorer(controls)


# ---- 2. optimal batch vs sparsity -------------------------------------------------------------------

SPARSITY = np.logspace(0, 2, 120)  # total / active from 1 (dense) to 100


class SparsityExplorer(Explorer):
    def setup(self):
        ax = self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.95)
        self.line = ax.plot([1], [1], color=OKABE_ITO["blue"], lw=2, label="B* = I* × (b_w / 2) × sparsity")[0]
        self.dots = ax.plot([1], [1], "o", color=OKABE_ITO["vermillion"], label="catalog MoE models")[0]
        self.talk = ax.plot([1], [1], "s", mfc="none", mec=OKABE_ITO["black"], ms=8,
                            label="DeepSeek-V3 taken as '1/8 sparse'")[0]
        self.names = [ax.text(1, 1, name, fontsize=8, ha="left", va="top") for name in MOE_MODELS]
        style_axes(ax, log="xy", xlim=(1, 100), ylim=(1e2, 1e5), xlabel="sparsity  N_total / N_active",
                   ylabel="optimal batch B* (sequences)", legend="upper left")
        self.animated = [self.line, self.dots, self.talk, *self.names]

    def draw(self, chip, dtype):
        h = hardware(chip)
        intensity = rf.critical_intensity(h, dtype)
        scale = intensity * bytes_per_element(dtype) / 2
        self.line.set_data(SPARSITY, scale * SPARSITY)
        sp = np.array([model(n).sparsity for n in MOE_MODELS])
        self.dots.set_data(sp, scale * sp)
        self.talk.set_data([8], [scale * 8])
        for text, s in zip(self.names, sp):
            text.set_position((s * 1.05, scale * s * 0.93))
        ds = rf.optimal_batch("DeepSeek-V3", h, dtype)
        k2 = rf.optimal_batch("Kimi K2", h, dtype)
        return (f"{h.name}, {dtype}: critical intensity <b>{intensity:,.0f}</b> FLOP/byte. "
                f"Optimal batch: DeepSeek-V3 <b>{ds:,.0f}</b> (at '1/8' it would be {scale * 8:,.0f}); "
                f"Kimi K2 <b>{k2:,.0f}</b>.")


def sparsity_explorer(chip="H100 SXM", dtype="bf16"):
    """Optimal batch against sparsity for one chip, with the catalog's MoE models marked."""
    controls = {"chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
                "dtype": _dropdown(["bf16", "fp8"], dtype, "weights / math")}
    return SparsityExplorer(controls, figsize=(8, 3.8))


# ---- 3. does this model fit this domain? --------------------------------------------------------------

SCALES_TB = (0.5, 1, 2, 5, 10, 20, 50, 100)


class FitExplorer(Explorer):
    live_grid = {"model_name": ["Kimi K2", "DeepSeek-V3", "Llama 3.1 405B", "Llama 3.1 70B", "gpt-oss-120b"],
                 "chip": ["H200 SXM", "H100 SXM", "B200", "GB200"], "chips": [1, 8, 16, 72],
                 "batch": [0, 64, 256, 1024], "context": [8192, 32768, 128_000]}

    def setup(self):
        ax = self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.2, right=0.97, bottom=0.2, top=0.93)
        ax.set_yticks([0, 1], ["needs", "has"])
        self.w_bar = Rectangle((0, -0.3), 1, 0.6, color=OKABE_ITO["orange"], label="weights")
        self.kv_bar = Rectangle((0, -0.3), 1, 0.6, color=OKABE_ITO["green"], label="KV cache")
        self.hbm_bar = Rectangle((0, 0.7), 1, 0.6, color=OKABE_ITO["blue"], alpha=0.7, label="HBM of the chips")
        for r in (self.w_bar, self.kv_bar, self.hbm_bar):
            ax.add_patch(r)
        self.cap = ax.axvline(1, color=OKABE_ITO["black"], ls="--", lw=1)
        style_axes(ax, xlim=(0, 1), ylim=(-0.6, 1.6), xlabel="HBM (TB, decimal)", grid="x", legend="upper right")
        self.animated = [self.w_bar, self.kv_bar, self.hbm_bar, self.cap]
        self._backgrounds = {}

    def render(self) -> bytes:
        """As Explorer.render, but keeps one cached background per x range (the range snaps to a
        few scales), so moving back to a range seen before is a blit, not a full redraw."""
        layout = self._current_layout()
        if layout not in self._backgrounds:
            self.canvas.draw()
            self._backgrounds[layout] = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._backgrounds[layout])
        for artist in self.animated:
            artist.axes.draw_artist(artist)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())[..., :3]).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def draw(self, model_name, chip, chips, dtype, batch, context):
        m, h = model(model_name), hardware(chip)
        context = min(context, m.context_length)
        w = rf.weight_bytes(m, dtype) / 1e12
        kv = batch * context * kv_bytes_per_token(m, max(context, 1)) / 1e12
        has = chips * h.hbm_capacity / 1e12
        self.w_bar.set_width(w)
        self.kv_bar.set_x(w)
        self.kv_bar.set_width(kv)
        self.hbm_bar.set_width(has)
        self.cap.set_xdata([has, has])
        top = max(w + kv, has)
        self.ax.set_xlim(0, next((s for s in SCALES_TB if s >= top * 1.05), top * 1.1))
        need = moe.chips_needed(m, h, batch, context, dtype=dtype)
        domain = h.chips if h.chips > 1 else h.scaleup_size
        fits = w + kv <= has
        verdict = "<b>fits</b>" if fits else "<b>does not fit</b>"
        text = (f"<b>{m.name}</b> ({dtype} weights, {fmt_bytes(w * 1e12)}) plus {batch:,} caches of "
                f"{context:,} tokens ({fmt_bytes(kv * 1e12)}) {verdict} in {chips} x {h.name} "
                f"({fmt_bytes(has * 1e12)}). Chips needed: <b>{need:,}</b>; one scale-up domain has {domain:,}.")
        if need > domain:
            text += " <b>More than one scale-up domain:</b> the all-to-all would cross the slow network, or layers must be pipelined."
        elif chips > domain:
            text += f" Only {domain:,} of these chips share a scale-up domain."
        return text


def fit_explorer(model_name="Kimi K2", chip="H200 SXM", chips=8, dtype="fp8", batch=64, context=32768):
    """Weights + KV cache against the HBM of `chips` chips: does the model fit one scale-up domain?"""
    controls = {
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "chips": _int_slider(chips, 1, 72, 1, "chips"),
        "dtype": _dropdown(["bf16", "fp8"], dtype, "weight format"),
        "batch": _int_slider(batch, 0, 4096, 16, "batch (sequences)"),
        "context": _int_slider(context, 0, 131072, 1024, "context (tokens)"),
    }
    return FitExplorer(controls, figsize=(8, 2.8))


#: For `make bench`: one entry per explorer; BENCH (the one the runner reads) is the step explorer.
BENCHES = {
    "moe_step": {
        "factory": moe_step_explorer,
        "updates": [dict(chips=c) for c in (8, 16, 32, 72)] + [dict(context=c) for c in (0, 8192, 65536)]
        + [dict(chip=c) for c in ("H100 SXM", "GB200", "B200")] + [dict(model_name="Kimi K2")]
        + [dict(overlap=o, rates=r) for o in ("full", "none") for r in RATES],
    },
    "moe_sparsity": {
        "factory": sparsity_explorer,
        "updates": [dict(chip=c) for c in ("H200 SXM", "B200", "TPU v6e", "MI300X")] + [dict(dtype="fp8")],
    },
    "moe_fit": {
        "factory": fit_explorer,
        "updates": [dict(chips=c) for c in (4, 8, 16)] + [dict(batch=b) for b in (256, 1024)]
        + [dict(chip="GB200", chips=72), dict(model_name="DeepSeek-V3")],
    },
}
BENCH = BENCHES["moe_step"]
