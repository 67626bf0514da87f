"""Chapter 9 explorers: the latency-throughput frontier, and offered load -> TTFT, TPOT and $/M tokens."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import queueing as qu
from .. import service as sv
from ..models import model as rl_model
from ..plotting import OKABE_ITO, style_axes
from .base import Explorer

STYLE = {"description_width": "130px"}
LAYOUT = widgets.Layout(width="300px")
CHIP_COUNTS = (1, 2, 4, 8, 16)
COLOURS = [OKABE_ITO[k] for k in ("orange", "sky", "green", "blue", "vermillion")]
SPEED_RANGE = (1e0, 1e4)        # tokens/s per user
COST_RANGE = (1e-2, 1e2)        # $ per million tokens
#: Mixtures of experts are served expert-parallel (service.mixed_step / frontier through moe.with_experts).
FRONTIER_MODELS = ["Llama 3.1 70B", "Llama 3.1 8B", "Llama 3.1 405B", "Qwen3-235B-A22B", "DeepSeek-V3"]
FRONTIER_CHIPS = ["H100 SXM", "H200 SXM", "B200", "MI300X"]
LOAD_MODELS = ["Llama 3.1 70B", "Llama 3.1 8B", "Qwen3-235B-A22B"]


class FrontierExplorer(Explorer):
    #: The HTML book's live grid (rooflib.explore.live): 5 models x 4 chips x 2 formats x 3 contexts
    #: x 3 guess counts x 3 acceptances = 1,080 draws; the price only rescales the cost axis.
    live_grid = {"model": FRONTIER_MODELS, "chip": FRONTIER_CHIPS, "dtype": ["bf16", "fp8"],
                 "context": [2048, 8192, 32768], "draft_tokens": [0, 1, 3], "acceptance": [0.5, 0.7, 0.9],
                 "price": [2.0]}

    def setup(self):
        self.ax = self.fig.subplots()
        self.fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.95)
        self.lines = [self.ax.plot([], [], "o", ms=3, color=col, label=f"{c} chip{'s' if c > 1 else ''}")[0]
                      for c, col in zip(CHIP_COUNTS, COLOURS)]
        self.front = self.ax.plot([], [], color=OKABE_ITO["black"], lw=2, label="frontier")[0]
        style_axes(self.ax, log="xy", xlim=SPEED_RANGE, ylim=COST_RANGE, xlabel="speed per user (tokens/s)",
                   ylabel="cost ($ per million output tokens)", legend="upper right")
        self.animated = [*self.lines, self.front]

    def draw(self, model="Llama 3.1 70B", chip="H100 SXM", dtype="fp8", context=2048, draft_tokens=0,
             acceptance=0.7, price=2.0):
        f = sv.frontier(model, chip, context, chips=CHIP_COUNTS, dollars_per_chip_hour=price, dtype=dtype,
                        kv_dtype=dtype, draft_tokens=draft_tokens, acceptance=acceptance)
        for c, line in zip(CHIP_COUNTS, self.lines):
            pick = f.chips == c
            line.set_data(f.speed[pick], 1e6 * f.cost[pick])
        on = f.on_frontier
        order = np.argsort(f.speed[on])
        self.front.set_data(f.speed[on][order], 1e6 * f.cost[on][order])
        cheap = int(np.argmin(f.cost))
        fast = int(np.argmax(f.speed))
        moe = (" Mixture of experts: expert parallelism, only the experts a batch touches are read, "
               "all-to-all at link bandwidth (no latency).") if rl_model(model).is_moe else ""
        return (f"<b>{model}</b> on {chip} ({dtype}), {context:,} tokens: cheapest <b>${1e6 * f.cost[cheap]:.3f}/M</b> "
                f"at {f.speed[cheap]:.0f} tokens/s per user ({int(f.chips[cheap])} chips, batch {int(f.batch[cheap])}); "
                f"fastest <b>{f.speed[fast]:.0f} tokens/s</b> at ${1e6 * f.cost[fast]:.2f}/M "
                f"({int(f.chips[fast])} chips, batch {int(f.batch[fast])}). Per-phase step, peak rates.{moe}")


def frontier_explorer(model="Llama 3.1 70B", chip="H100 SXM", dtype="fp8", context=2048, draft_tokens=0,
                      acceptance=0.7, price=2.0):
    """Model, chip, precision, context, speculative guesses -> every (chips, batch) and the frontier."""
    controls = {
        "model": widgets.Dropdown(options=FRONTIER_MODELS, value=model, description="model", style=STYLE,
                                  layout=LAYOUT),
        "chip": widgets.Dropdown(options=FRONTIER_CHIPS, value=chip, description="chip", style=STYLE, layout=LAYOUT),
        "dtype": widgets.Dropdown(options=["bf16", "fp8"], value=dtype, description="weights and cache",
                                  style=STYLE, layout=LAYOUT),
        "context": widgets.IntSlider(value=context, min=256, max=32768, step=256, description="context (tokens)",
                                     style=STYLE, layout=LAYOUT),
        "draft_tokens": widgets.IntSlider(value=draft_tokens, min=0, max=6, description="speculative guesses",
                                          style=STYLE, layout=LAYOUT),
        "acceptance": widgets.FloatSlider(value=acceptance, min=0.0, max=0.95, step=0.05,
                                          description="acceptance", style=STYLE, layout=LAYOUT),
        "price": widgets.FloatSlider(value=price, min=0.5, max=10.0, step=0.5, description="$ per chip-hour",
                                     style=STYLE, layout=LAYOUT),
    }
    return FrontierExplorer(controls, figsize=(8, 4))


class LoadExplorer(Explorer):
    """One simulation of `n` requests per update; the step table is cached per configuration."""

    #: The HTML book's live grid (rooflib.explore.live): 6 loads x 3 models x 2 chip counts x
    #: 3 prompt lengths x 2 output lengths = 216 draws at ~25 ms. On 2 H100 a 70B model with 8k-token
    #: prompts fills the HBM before its 128 slots: the memory cap shows; the 235B MoE needs 8 chips.
    live_grid = {"n": [2_000], "load": [0.3, 0.5, 0.7, 0.8, 0.9, 1.0], "model": LOAD_MODELS, "chip": ["H100 SXM"],
                 "chips": [2, 8], "dtype": ["fp8"], "input_tokens": [1024, 4096, 8192], "output_tokens": [256, 1024],
                 "max_batch": [128], "chunk": [512], "price": [2.0]}

    def setup(self):
        self.ax_t, self.ax_c = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.95, wspace=0.3)
        c = OKABE_ITO
        self.bars = self.ax_t.bar(np.arange(4), np.ones(4), color=[c["sky"], c["blue"], c["orange"], c["vermillion"]])
        self.ax_t.set_xticks(np.arange(4), ["TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99"])
        self.ax_t.set_yscale("log")   # matplotlib's own log axis, minor ticks included
        style_axes(self.ax_t, ylim=(1e-3, 1e2), ylabel="seconds", grid="y")
        self.cost_curve = self.ax_c.plot([], [], color=c["black"], lw=2)[0]
        self.point = self.ax_c.plot([], [], "o", color=c["vermillion"], ms=9)[0]
        self.ax_c.set_yscale("log")
        style_axes(self.ax_c, xlim=(0, 1.2), ylim=(1e-2, 1e2), xlabel="offered load (share of saturation)",
                   ylabel="$ per million output tokens")
        self.animated = [*self.bars, self.cost_curve, self.point]
        self._tables = {}

    def table(self, model, chip, chips, dtype, input_tokens, output_tokens, max_batch, chunk):
        key = (model, chip, chips, dtype, input_tokens, output_tokens, max_batch, chunk)
        if key not in self._tables:
            self._tables[key] = sv.step_time_table(model, chip, input_tokens + output_tokens / 2, chips,
                                                   max_batch=max_batch, max_prefill_tokens=max(chunk, max_batch
                                                   * input_tokens / output_tokens), prompt=input_tokens,
                                                   dtype=dtype, kv_dtype=dtype)
        return self._tables[key]

    def draw(self, load=0.7, model="Llama 3.1 70B", chip="H100 SXM", chips=8, dtype="fp8", input_tokens=1024,
             output_tokens=256, max_batch=128, chunk=512, price=2.0, n=2_000):
        tab = self.table(model, chip, chips, dtype, input_tokens, output_tokens, max_batch, chunk)
        if tab.kv_capacity < 1:
            raise ValueError(f"{model}'s weights in {dtype} leave no room for a KV cache on {chips} x {chip}")
        mu = qu.saturation_rate(tab, max_batch=max_batch, input_tokens=input_tokens, output_tokens=output_tokens)
        sim = qu.simulate(qu.requests(n, load * mu, input_tokens=input_tokens, output_tokens=output_tokens,
                                      lengths="exponential", seed=0), tab, max_batch=max_batch, chunk=chunk,
                          chips=chips, dollars_per_chip_hour=price)
        vals = [sim.percentile("ttft", 50), sim.percentile("ttft", 99), sim.percentile("tpot", 50),
                sim.percentile("tpot", 99)]
        for bar, v in zip(self.bars, vals):
            bar.set_height(v)
        loads = np.linspace(0.02, 1.0, 50)
        full = sv.cost_per_million_tokens(mu * output_tokens, chips, dollars_per_chip_hour=price)
        self.cost_curve.set_data(loads, full / loads)   # below saturation every arrival is served
        self.point.set_data([min(sim.tokens_per_second / (mu * output_tokens), 1.2)], [sim.dollars_per_million_tokens])
        fit = qu.memory_batch(tab, input_tokens=input_tokens, output_tokens=output_tokens)
        memory = (f" The HBM left by the weights holds the caches of {fit} requests of mean length, fewer than "
                  f"the {max_batch} slots: memory sets the batch.") if fit < max_batch else ""
        return (f"Saturation {mu:.1f} requests/s; at {load:.0%} of it: TTFT p50 <b>{vals[0] * 1e3:.0f} ms</b>, "
                f"p99 <b>{vals[1] * 1e3:.0f} ms</b>; TPOT p50 {vals[2] * 1e3:.1f} ms; "
                f"<b>${sim.dollars_per_million_tokens:.3f}</b> per million output tokens "
                f"({n:,} requests, exponential lengths, seed 0).{memory}")


def load_explorer(load=0.7, model="Llama 3.1 70B", chip="H100 SXM", chips=8, dtype="fp8", input_tokens=1024,
                  output_tokens=256, max_batch=128, chunk=512, price=2.0, n=2_000):
    """Offered load and the server's settings -> TTFT/TPOT percentiles and $/M tokens. 2,000 simulated
    requests keep an update near 50 ms; 10,000 (steadier p99) take about 0.2 s."""
    controls = {
        "n": widgets.Dropdown(options=[("2,000 (fast)", 2_000), ("10,000", 10_000)], value=n,
                              description="requests simulated", style=STYLE, layout=LAYOUT),
        "load": widgets.FloatSlider(value=load, min=0.05, max=1.1, step=0.05, description="offered load",
                                    style=STYLE, layout=LAYOUT),
        "model": widgets.Dropdown(options=LOAD_MODELS, value=model, description="model", style=STYLE, layout=LAYOUT),
        "chip": widgets.Dropdown(options=["H100 SXM", "H200 SXM", "B200"], value=chip, description="chip",
                                 style=STYLE, layout=LAYOUT),
        "chips": widgets.Dropdown(options=[2, 4, 8], value=chips, description="chips per replica",
                                  style=STYLE, layout=LAYOUT),
        "dtype": widgets.Dropdown(options=["fp8", "bf16"], value=dtype, description="weights and cache",
                                  style=STYLE, layout=LAYOUT),
        "input_tokens": widgets.IntSlider(value=input_tokens, min=128, max=8192, step=128,
                                          description="mean prompt (tokens)", style=STYLE, layout=LAYOUT),
        "output_tokens": widgets.IntSlider(value=output_tokens, min=32, max=2048, step=32,
                                           description="mean output (tokens)", style=STYLE, layout=LAYOUT),
        "max_batch": widgets.IntSlider(value=max_batch, min=8, max=256, step=8, description="max batch",
                                       style=STYLE, layout=LAYOUT),
        "chunk": widgets.IntSlider(value=chunk, min=256, max=8192, step=256, description="prefill chunk (tokens)",
                                   style=STYLE, layout=LAYOUT),
        "price": widgets.FloatSlider(value=price, min=0.5, max=10.0, step=0.5, description="$ per chip-hour",
                                     style=STYLE, layout=LAYOUT),
    }
    return LoadExplorer(controls, figsize=(10, 4))


#: For `make bench`: how to build each explorer and which control moves to time.
BENCHES = {
    "frontier": {"factory": frontier_explorer,
     "updates": [dict(context=c) for c in (1024, 4096, 16384)] + [dict(draft_tokens=k) for k in (1, 3)]
     + [dict(chip="H200 SXM"), dict(dtype="bf16"), dict(price=4.0)]},
    "load": {"factory": load_explorer,
             "updates": [dict(load=x) for x in (0.3, 0.6, 0.9, 1.05)] + [dict(chunk=2048), dict(max_batch=64)]},
}
BENCH = BENCHES["frontier"]
