"""Chapter 6 explorers: a price step against the cost curve, and memory tiers against hold time."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import prices as pr
from ..context import goldilocks_context_for
from ..hardware import CHIPS, hardware
from ..kv import kv_bytes_per_token
from ..models import MODELS, model
from ..plotting import OKABE_ITO, style_axes
from ..roofline import critical_intensity
from ..units import MILLION, fmt_bytes, fmt_count, fmt_time
from .base import Explorer

CONTEXTS = np.logspace(3, 6, 240)            # 1k ... 1M tokens
MULTIPLE_RANGE = (0.5, 2e3)                  # cost or price, x the short-context value
ACTIVE = np.logspace(10, 12.5, 120)          # 10B ... 3T active parameters
KV_RANGE = (1e2, 1e6)                        # bytes per token
HOLD = np.logspace(0, np.log10(30 * 86400), 240)   # 1 s ... 30 days
COST_RANGE = (1e-6, 1e4)                     # $ per million tokens of cache
TIER_STYLE = {
    "HBM": dict(color=OKABE_ITO["vermillion"], linestyle="-"),
    "host DRAM": dict(color=OKABE_ITO["blue"], linestyle="--"),
    "flash (SSD)": dict(color=OKABE_ITO["green"], linestyle="-."),
    "recompute": dict(color=OKABE_ITO["black"], linestyle=":", linewidth=2),
}
#: Catalog models drawn as reference lines on the KV panel (models with equal caches share a line).
LABELLED = {"gpt-oss-120b": ["gpt-oss-120b"], "DeepSeek-V3, Kimi K2": ["DeepSeek-V3", "Kimi K2"],
            "Qwen3-235B-A22B": ["Qwen3-235B-A22B"], "Llama 3.1 70B": ["Llama 3.1 70B"],
            "Llama 3.1 405B": ["Llama 3.1 405B"]}
_STYLE = {"description_width": "130px"}
_LAYOUT = widgets.Layout(width="300px")


# ------------------------------------------------------------------------------------------------
# 1. The long-context step
# ------------------------------------------------------------------------------------------------
class PriceStepExplorer(Explorer):
    live_grid = {"chip": ["TPU v6e", "H100 SXM", "B200"], "active_params": [3e10, 1e11, 3e11, 1e12],
                 "kv_bytes": [1e3, 1e4, 70_272.0, 1e5, 1e6]}

    def setup(self):
        self.ax_c, self.ax_k = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.95, wspace=0.28)
        a = self.ax_c
        self.cost = a.plot([1], [1], color=OKABE_ITO["black"], lw=2.5, alpha=0.7,
                           label="cost per output token (model)")[0]
        self.p_out = a.plot([1], [1], color=OKABE_ITO["vermillion"], lw=2, drawstyle="steps-post",
                            label="output price (sheet)")[0]
        self.p_in = a.plot([1], [1], color=OKABE_ITO["orange"], lw=1.5, ls="--", drawstyle="steps-post",
                           label="input price (sheet)")[0]
        self.sx = a.axvline(1, color=OKABE_ITO["blue"], ls=":", lw=1.5, label="crossover S_x (model)")
        style_axes(a, log="xy", xlim=(CONTEXTS[0], CONTEXTS[-1]), ylim=MULTIPLE_RANGE, xlabel="context S (tokens)",
                   ylabel="multiple of short-context value (ratio)", legend="upper left")
        k = self.ax_k
        for label, names in LABELLED.items():  # catalog models' cache (bf16, 200k-token average)
            kv = float(kv_bytes_per_token(names[0], 200_000))
            k.axhline(kv, color="0.6", lw=0.8)
            k.text(ACTIVE[0] * 1.1, kv * 1.05, label, fontsize=7, color="0.3", va="bottom")
        self.implied = k.plot([1], [1], color=OKABE_ITO["vermillion"], lw=2,
                              label="KV implied by the step")[0]
        self.point = k.plot([1], [1], "o", color=OKABE_ITO["blue"], ms=7, label="your model")[0]
        style_axes(k, log="xy", xlim=(ACTIVE[0], ACTIVE[-1]), ylim=KV_RANGE, xlabel="active parameters N_a (count)",
                   ylabel="KV cache per token (bytes)", legend="lower right")
        self.animated = [self.cost, self.p_out, self.p_in, self.sx, self.implied, self.point]

    def draw(self, sheet, chip, dtype, active_params, kv_bytes, overlap="full"):
        s, h = pr.price_sheet(sheet), hardware(chip)
        mult = pr.context_cost_multiple(CONTEXTS, active_params, kv_bytes, h, dtype=dtype, overlap=overlap)
        self.cost.set_data(CONTEXTS, mult)
        self.p_out.set_data(CONTEXTS, pr.price_multiple(s, CONTEXTS, kind="output"))
        self.p_in.set_data(CONTEXTS, pr.price_multiple(s, CONTEXTS, kind="input"))
        sx = float(goldilocks_context_for(active_params, kv_bytes, h, dtype=dtype))
        self.sx.set_xdata([sx, sx])
        read = dict(dtype=dtype, overlap=overlap, price_multiple=s.long_output_multiple)
        self.implied.set_data(ACTIVE, pr.implied_kv_bytes_per_token(s.long_context_threshold, ACTIVE, h, **read))
        self.point.set_data([active_params], [kv_bytes])
        need = float(pr.implied_kv_bytes_per_token(s.long_context_threshold, active_params, h, **read))
        at_step = float(pr.context_cost_multiple(s.long_context_threshold * 1.5, active_params, kv_bytes, h, dtype=dtype,
                                                 overlap=overlap))
        where = ("for its crossover to sit at the step (the ideal step's kink)" if overlap == "full" else
                 f"for its cost to reach the step's x{s.long_output_multiple:g} at the threshold (per phase)")
        return (f"<b>{s.name}</b> ({s.date}): above <b>{s.long_context_threshold:,}</b> tokens, output "
                f"x{s.long_output_multiple:g}, input x{s.long_input_multiple:g}. On {h.name} in {dtype} "
                f"(I* = {critical_intensity(h, dtype):,.0f}), a model with {fmt_count(active_params)} active "
                f"parameters would need <b>{fmt_bytes(need)}</b> of KV per token {where}.<br>Yours, {fmt_bytes(kv_bytes)} per token, crosses over at <b>{fmt_count(sx)}</b> tokens; "
                f"at 1.5x the step its output tokens would cost <b>{at_step:,.3g}x</b> the short-context cost.")


def price_step_explorer(sheet="Gemini 2.5 Pro", chip="TPU v6e", dtype="bf16", active_params=100e9,
                        kv_bytes=70_272.0, overlap="full"):
    """Dropdowns for price sheet, chip, dtype and step model; sliders for N_a and KV bytes per
    token -> cost multiple vs context with the sheet's price step, and the KV size the step implies
    (ideal: the step at the kink; per phase: the cost reaches the step's height at the threshold)."""
    sheets = [s.name for s in pr.long_context_sheets()]
    controls = {
        "sheet": widgets.Dropdown(options=sheets, value=pr.price_sheet(sheet).name, description="price sheet",
                                  style=_STYLE, layout=_LAYOUT),
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip",
                                 style=_STYLE, layout=_LAYOUT),
        "dtype": widgets.Dropdown(options=["bf16", "fp8"], value=dtype, description="arithmetic",
                                  style=_STYLE, layout=_LAYOUT),
        "active_params": widgets.FloatLogSlider(value=active_params, base=10, min=10, max=12.5, step=0.05,
                                                description="active params", readout_format=".3g",
                                                style=_STYLE, layout=_LAYOUT),
        "kv_bytes": widgets.FloatLogSlider(value=kv_bytes, base=10, min=2, max=6, step=0.05,
                                           description="KV bytes/token", readout_format=".3g",
                                           style=_STYLE, layout=_LAYOUT),
        "overlap": widgets.Dropdown(options=[("ideal (overlapped)", "full"), ("per phase", "none")], value=overlap,
                                    description="step model", style=_STYLE, layout=_LAYOUT),
    }
    return PriceStepExplorer(controls)


# ------------------------------------------------------------------------------------------------
# 2. Memory tiers: hold, reload or recompute
# ------------------------------------------------------------------------------------------------
class TierExplorer(Explorer):
    live_grid = {"model_name": ["DeepSeek-V3", "Llama 3.1 70B", "Llama 3.1 405B"],
                 "chip": ["H800 SXM", "H100 SXM", "B200"], "dtype": ["fp8"], "price": [1.0, 2.0, 4.0],
                 "prefill_mfu": [0.3, 0.5], "dram_scale": [0.5, 1.0, 2.0], "flash_scale": [0.5, 1.0, 2.0],
                 "prompt": [1_000, 10_000, 100_000]}

    def setup(self):
        a = self.ax = self.fig.subplots(1, 1)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.95)
        self.lines = {name: a.plot([1], [1], label=("hold in " + name) if name != "recompute"
                                   else "recompute (prefill)", **style)[0]
                      for name, style in TIER_STYLE.items()}
        self.marks = {name: a.axvline(1, color=TIER_STYLE[name]["color"], lw=0.8, alpha=0.6)
                      for name in TIER_STYLE if name != "recompute"}
        style_axes(a, log="xy", xlim=(HOLD[0], HOLD[-1]), ylim=COST_RANGE,
                   xlabel="hold time before the cache is used again (s)", ylabel="$ per million tokens of cache",
                   legend="upper left")
        self.animated = [*self.marks.values(), *self.lines.values()]

    def draw(self, model_name, chip, dtype, price, prefill_mfu, dram_scale, flash_scale, prompt=1_000):
        m, h = model(model_name), hardware(chip)
        prompt = min(float(prompt), float(m.context_length))     # the slider reaches past short-context models
        kw = dict(dollars_per_chip_hour=price, prefill_mfu=prefill_mfu, dtype=dtype,
                  dram_scale=dram_scale, flash_scale=flash_scale)
        curves = pr.cache_cost_curves(m, h, HOLD, prompt, **kw)
        for name, line in self.lines.items():
            line.set_data(HOLD, np.asarray(curves[name]) * MILLION)
        parts = []
        for name, tier in pr.tiers(h, dollars_per_chip_hour=price, dram_scale=dram_scale, flash_scale=flash_scale).items():
            t = float(pr.break_even_hold_time(m, h, tier, prompt, dollars_per_chip_hour=price, prefill_mfu=prefill_mfu,
                                              dtype=dtype))
            self.marks[name].set_xdata([max(t, HOLD[0])] * 2)
            parts.append(f"{name} <b>{fmt_time(t) if t > 0 else 'never'}</b>")
        recompute = float(np.asarray(curves["recompute"])[0]) * MILLION
        return (f"<b>{m.name}</b> on {h.name} ({dtype}, prefill at {prefill_mfu:.0%} MFU, ${price:g} per "
                f"chip-hour), a {prompt:,.0f}-token prompt: recomputing costs <b>${recompute:.3g}</b> per million "
                f"tokens, prefill attention included; KV cache "
                f"{fmt_bytes(float(kv_bytes_per_token(m)))} per token.<br>Holding beats recomputing for "
                + ", ".join(parts) + ".")


def tier_explorer(model_name="DeepSeek-V3", chip="H800 SXM", dtype="fp8", price=2.0, prefill_mfu=0.5,
                  dram_scale=1.0, flash_scale=1.0, prompt=1_000):
    """Dropdowns for model, chip, dtype; sliders for $/chip-hour, prefill MFU, the assumed DRAM
    and flash prices (as multiples) and the prompt length (prefill attention grows with it) ->
    cost of a cache hit vs hold time, per tier."""
    def scale(value, label):
        return widgets.FloatLogSlider(value=value, base=10, min=-1, max=1, step=0.05, description=label,
                                      readout_format=".2g", style=_STYLE, layout=_LAYOUT)
    controls = {
        "model_name": widgets.Dropdown(options=list(MODELS), value=model(model_name).name, description="model",
                                       style=_STYLE, layout=_LAYOUT),
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip",
                                 style=_STYLE, layout=_LAYOUT),
        "dtype": widgets.Dropdown(options=["bf16", "fp8"], value=dtype, description="arithmetic",
                                  style=_STYLE, layout=_LAYOUT),
        "price": widgets.FloatSlider(value=price, min=0.5, max=10, step=0.25, description="$ per chip-hour",
                                     style=_STYLE, layout=_LAYOUT),
        "prefill_mfu": widgets.FloatSlider(value=prefill_mfu, min=0.1, max=1.0, step=0.05,
                                           description="prefill MFU", style=_STYLE, layout=_LAYOUT),
        "dram_scale": scale(dram_scale, "DRAM price x"),
        "flash_scale": scale(flash_scale, "flash price x"),
        "prompt": widgets.FloatLogSlider(value=prompt, base=10, min=2, max=np.log10(128_000), step=0.05,
                                         description="prompt (tokens)", readout_format=",.0f", style=_STYLE,
                                         layout=_LAYOUT),
    }
    return TierExplorer(controls)


#: For `make bench`: how to build the step explorer and which control moves to time.
BENCH = {
    "factory": price_step_explorer,
    "updates": [dict(active_params=n) for n in (3e10, 1e11, 3e11, 1e12)]
    + [dict(kv_bytes=k) for k in (1e3, 1e4, 1e5)]
    + [dict(sheet=s) for s in ("Claude Sonnet 4.5", "GPT-5.4")]
    + [dict(chip=c) for c in ("H100 SXM", "B200")]
    + [dict(overlap="none"), dict(overlap="full")],
}

#: The same for the tier explorer (benchmarks/run.py reads BENCH; see the chapter's report).
BENCH_TIERS = {
    "factory": tier_explorer,
    "updates": [dict(price=p) for p in (1.0, 3.0, 6.0)]
    + [dict(prefill_mfu=u) for u in (0.3, 0.7)]
    + [dict(dram_scale=k) for k in (0.3, 3.0)]
    + [dict(model_name=n) for n in ("Llama 3.1 70B", "Kimi K2")]
    + [dict(chip="H100 SXM", dtype="bf16")]
    + [dict(prompt=p) for p in (3e4, 1.28e5)],
}

#: Every explorer of this module, for `make bench`.
BENCHES = {"price_step": BENCH, "tiers": BENCH_TIERS}
