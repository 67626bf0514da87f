"""Chapter 4 explorers: memory per chip vs stages, a pipeline schedule and its bubble, decode
latency vs stages. Every number comes from `rooflib.pipeline`; axes have fixed ranges so a slider
move only redraws the data (see `Explorer.render`). The latency explorer offers chapter 1's two
controls: the step model (the lecture's ideal, a stage as one big chip, or the per-phase step with
the all-reduces among a stage's chips) and the rates (peak, or achievable: `rooflib.achievable`)."""
from __future__ import annotations


import ipywidgets as widgets
import numpy as np

from .. import pipeline as pl
from ..hardware import CHIPS, hardware
from ..models import MODELS, model
from ..plotting import OKABE_ITO, STYLE, style_axes
from ..roofline import decode_step, optimal_batch, weight_bytes
from ..units import fmt_bytes, fmt_time
from .base import Explorer, rates_for

STAGES = np.arange(1, 65)           # stages shown by the memory explorer (clipped to the layers)
LATENCY_STAGES = np.arange(1, 33)   # stages shown by the latency explorer
GB_RANGE = (1e-4, 1e4)              # GB per chip
BATCH_RANGE = (1, 1e5)              # sequences per micro-batch
TIME_RANGE = (1e-6, 1e1)            # seconds per token
RATE_RANGE = (1e-1, 1e5)            # tokens per second per chip
MICROBATCH_AXIS = np.arange(1, 65)  # micro-batches on the bubble panel

_STYLE = {"description_width": "120px"}
_LAYOUT = widgets.Layout(width="290px")
OVERLAPS = {"ideal": "full", "per phase": "none"}   # button label -> decode_step(overlap=...)
RATES = ("peak", "achievable")


def _dropdown(options, value, description):
    return widgets.Dropdown(options=options, value=value, description=description, style=_STYLE, layout=_LAYOUT)


def _int_slider(value, lo, hi, description, step=1):
    return widgets.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                             style=_STYLE, layout=_LAYOUT)


# ---- 1. memory per chip vs number of stages -------------------------------------------------------
class StageMemoryExplorer(Explorer):
    live_grid = {"chip": ["H100 SXM", "H200 SXM", "B200", "MI300X"],
                 "model_name": ["Llama 3.1 8B", "Llama 3.1 70B", "Llama 3.1 405B", "DeepSeek-V3"],
                 "context": [2048, 8192, 32768, 128_000], "batch": [1, 16, 64, 256], "chips_per_stage": [1, 4, 8]}

    def setup(self):
        self.ax_m, self.ax_b = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.28)
        self.lines = {
            "weights": self.ax_m.plot([1], [1], **{**STYLE["weights"], "label": "weights / P"})[0],
            "kv": self.ax_m.plot([1], [1], **{**STYLE["kv"], "label": "KV cache (P micro-batches)"})[0],
            "act": self.ax_m.plot([1], [1], color=OKABE_ITO["sky"], ls=(0, (1, 1)), label="activations")[0],
            "total": self.ax_m.plot([1], [1], **{**STYLE["time"], "label": "total"})[0],
        }
        self.cap = self.ax_m.axhline(1, color=OKABE_ITO["vermillion"], ls=":", lw=1.5, label="HBM per chip")
        self.cross = self.ax_m.axvline(1, color=OKABE_ITO["purple"], ls="--", lw=1, label="KV = weights")
        self.bmax = self.ax_b.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="largest micro-batch that fits")[0]
        self.ceiling = self.ax_b.axhline(1, color=OKABE_ITO["green"], ls="-.", lw=1.5, label="ceiling (P → ∞)")
        self.bstar = self.ax_b.axhline(1, color=OKABE_ITO["purple"], ls="--", lw=1, label="optimal batch B*")
        self.nofit = [ax.axvspan(0.5, 1, color="0.5", alpha=0.25, lw=0, label="weights do not fit")
                      for ax in (self.ax_m, self.ax_b)]
        axis = dict(log="xy", xlim=(1, 100), xlabel="pipeline stages P (one scale-up domain each)")
        style_axes(self.ax_m, **axis, ylim=GB_RANGE, ylabel="HBM per chip (GB)",
                   legend=dict(loc="upper right", fontsize=7, ncol=2))
        style_axes(self.ax_b, **axis, ylim=BATCH_RANGE, ylabel="sequences per micro-batch", legend="lower right")
        self.animated = [*self.nofit, *self.lines.values(), self.cap, self.cross, self.bmax, self.ceiling, self.bstar]

    def draw(self, chip, model_name, context, batch, chips_per_stage, dtype="bf16"):
        m, h = model(model_name), hardware(chip)
        p = STAGES[STAGES <= m.n_layers]
        mem = pl.stage_memory(m, h, p, batch, context, chips_per_stage, dtype=dtype)
        for key, attr in (("weights", "weights"), ("kv", "kv"), ("act", "activations"), ("total", "total")):
            self.lines[key].set_data(p, np.asarray(getattr(mem, attr)) / 1e9)
        self.cap.set_ydata([mem.capacity / 1e9] * 2)
        cross = pl.kv_crossover_stages(m, batch, context, dtype=dtype)
        self.cross.set_xdata([cross, cross])
        bmax = np.asarray(pl.max_microbatch(m, h, p, context, chips_per_stage, dtype=dtype), dtype=float)
        self.bmax.set_data(p, np.where(bmax > 0, bmax, np.nan))
        ceiling = pl.kv_batch_ceiling(m, h, context, chips_per_stage)
        b_star = optimal_batch(m, h, dtype)
        self.ceiling.set_ydata([ceiling] * 2)
        self.bstar.set_ydata([b_star] * 2)
        p_min = pl.min_stages(m, h, 0, context, chips_per_stage, dtype=dtype)
        for span in self.nofit:
            span.set_x(0.5)
            span.set_width((min(p_min, 1000.0) - 1.0) if p_min > 1 else 0.0)
        stage = pl.stage_hardware(h, chips_per_stage)
        head = (f"<b>{m.name}</b> ({dtype}, {fmt_bytes(weight_bytes(m, dtype))} of weights) on stages of "
                f"{stage.chips} x {h.name} ({fmt_bytes(stage.hbm_capacity)} each); micro-batches of "
                f"{batch} sequences of {context:,} tokens.<br>")
        if not np.isfinite(p_min):
            return head + "<b>No number of stages fits these weights.</b>"
        kv_chip = float(np.asarray(mem.kv).flat[0])
        return head + (f"Fewest stages for the weights: <b>{p_min:.0f}</b>. KV cache per chip: "
                       f"<b>{fmt_bytes(kv_chip)}</b> at every P; it overtakes the weights at "
                       f"P ≈ <b>{cross:.1f}</b>. A micro-batch can never exceed <b>{ceiling:,.0f}</b> "
                       f"sequences (optimal batch B* ≈ {b_star:,.0f}).")


def stage_memory_explorer(chip="H100 SXM", model_name="Llama 3.1 405B", context=8192, batch=16,
                          chips_per_stage=8, dtype="bf16"):
    """HBM per chip (weights / P, KV, activations) and the largest micro-batch vs stages."""
    controls = {
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "context": _int_slider(context, 256, 131072, "context (tokens)", step=256),
        "batch": _int_slider(batch, 1, 1024, "micro-batch (seqs)"),
        "chips_per_stage": _int_slider(chips_per_stage, 1, 72, "chips per stage"),
        "dtype": _dropdown(["bf16", "fp8"], dtype, "weights"),
    }
    return StageMemoryExplorer(controls)


# ---- 2. a pipeline schedule and its bubble --------------------------------------------------------
KINDS = {"GPipe": ("gpipe", 1), "1F1B": ("1f1b", 1), "interleaved, v = 2": ("interleaved", 2),
         "decode (inference)": ("decode", 1)}


class ScheduleExplorer(Explorer):
    def setup(self):
        from matplotlib.collections import PolyCollection

        self.ax_s, self.ax_b = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.89, wspace=0.22)
        self.fwd = PolyCollection([], facecolors=OKABE_ITO["sky"], edgecolors="white", linewidths=0.5, label="forward")
        self.bwd = PolyCollection([], facecolors=OKABE_ITO["orange"], edgecolors="white", linewidths=0.5, label="backward")
        self.ax_s.add_collection(self.fwd)
        self.ax_s.add_collection(self.bwd)
        self.ax_s.set_yticks([])
        style_axes(self.ax_s, xlim=(0, 1), ylim=(1, 0), xlabel="time (fraction of the whole schedule)",
                   ylabel="stages (first at the top)", grid=None,
                   legend=dict(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False))
        self.formula = self.ax_b.plot([1], [0], color=OKABE_ITO["black"], lw=2, label="formula")[0]
        self.point = self.ax_b.plot([1], [0], "o", color=OKABE_ITO["vermillion"], ms=8, label="counted in the schedule")[0]
        style_axes(self.ax_b, log="x", xlim=(1, MICROBATCH_AXIS[-1]), ylim=(0, 1), xlabel="micro-batches M per step",
                   ylabel="bubble (idle fraction)", legend="upper right")
        self.animated = [self.fwd, self.bwd, self.formula, self.point]

    def draw(self, stages, microbatches, kind):
        name, v = KINDS[kind]
        s = pl.pipeline_schedule(stages, microbatches, kind=name, interleave=v)
        ops = s.ops
        x0 = ops["start"] / s.makespan
        x1 = (ops["start"] + ops["duration"]) / s.makespan
        y0 = (ops["stage"] + 0.08) / s.stages
        y1 = (ops["stage"] + 0.92) / s.stages
        boxes = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1),
                          np.stack([x0, y1], 1)], 1)
        forward = ops["phase"] == "F"
        self.fwd.set_verts(list(boxes[forward]))
        self.bwd.set_verts(list(boxes[~forward]))
        if name == "decode":
            util = min(microbatches, stages) / stages
            self.formula.set_data(MICROBATCH_AXIS, 1 - np.minimum(MICROBATCH_AXIS, stages) / stages)
            self.point.set_data([microbatches], [1 - util])
            return (f"Decoding on <b>{stages}</b> stages with <b>{microbatches}</b> micro-batches in flight: "
                    f"in steady state each stage is busy <b>{util:.0%}</b> of the time "
                    f"({'every stage always has a micro-batch' if microbatches >= stages else 'fewer micro-batches than stages leave gaps'}). "
                    f"Counting the start and the end shown here: {s.bubble_fraction:.0%} idle.")
        formula = pl.bubble_fraction(stages, MICROBATCH_AXIS, interleave=v)
        self.formula.set_data(MICROBATCH_AXIS, formula)
        self.point.set_data([microbatches], [s.bubble_fraction])
        peak = s.peak_in_flight()
        return (f"<b>{kind}</b>, P = {stages}, M = {microbatches}: the step takes {s.makespan} slots, "
                f"each stage is idle <b>{s.bubble_fraction:.1%}</b> of them "
                f"(formula: {pl.bubble_fraction(stages, microbatches, interleave=v):.1%}). Activations held at most: "
                f"<b>{peak.max():.0f}</b> micro-batches on stage 1, {peak.min():.0f} on the least loaded stage.")


def schedule_explorer(stages=4, microbatches=8, kind="GPipe"):
    """Sliders for stages and micro-batches, a schedule dropdown -> the schedule and its bubble."""
    controls = {
        "stages": _int_slider(stages, 1, 16, "stages P"),
        "microbatches": _int_slider(microbatches, 1, 32, "micro-batches M"),
        "kind": _dropdown(list(KINDS), kind, "schedule"),
    }
    return ScheduleExplorer(controls)


# ---- 3. decode latency and throughput vs number of stages ----------------------------------------
class DecodeLatencyExplorer(Explorer):
    live_grid = {"chip": ["H100 SXM", "H200 SXM", "B200"],
                 "model_name": ["Llama 3.1 70B", "Llama 3.1 405B", "DeepSeek-V3"],
                 "context": [2048, 8192, 32768], "batch": [1, 16, 64], "chips_per_stage": [8],
                 "stages": [1, 2, 4, 8], "latency_us": [2.0, 5.0, 20.0], "nic_gbps": [400], "rates": ["peak"]}

    def setup(self):
        self.ax_t, self.ax_r = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.28)
        self.lat = self.ax_t.plot([1], [1], **{**STYLE["time"], "label": "time per token, pipelined"})[0]
        self.work = self.ax_t.plot([1], [1], **{**STYLE["memory"], "label": "compute & memory (all stages)"})[0]
        self.hops = self.ax_t.plot([1], [1], color=OKABE_ITO["vermillion"], ls="--", label="network hops")[0]
        self.big = self.ax_t.plot([1], [1], color=OKABE_ITO["green"], ls="-.", label="one TP group of P × C chips")[0]
        self.rate = self.ax_r.plot([1], [1], color=OKABE_ITO["black"], lw=2, label="pipelined, P micro-batches")[0]
        self.rate1 = self.ax_r.plot([1], [1], color=OKABE_ITO["blue"], ls="--", label="pipelined, P + 1 micro-batches")[0]
        self.rate_big = self.ax_r.plot([1], [1], color=OKABE_ITO["green"], ls="-.", label="one TP group of P × C chips")[0]
        self.marks = [ax.axvline(1, color=OKABE_ITO["purple"], lw=1, ls=":") for ax in (self.ax_t, self.ax_r)]
        self.nofit = [ax.axvspan(0.5, 1, color="0.5", alpha=0.25, lw=0, label="does not fit")
                      for ax in (self.ax_t, self.ax_r)]
        axis = dict(log="y", xlim=(0.5, LATENCY_STAGES[-1] + 0.5), xlabel="pipeline stages P")
        style_axes(self.ax_t, **axis, ylim=TIME_RANGE, ylabel="time per token (s)", legend="center right")
        style_axes(self.ax_r, **axis, ylim=RATE_RANGE, ylabel="tokens per second per chip", legend="lower left")
        self.animated = [*self.nofit, self.work, self.hops, self.big, self.lat, self.rate, self.rate1,
                         self.rate_big, *self.marks]

    def draw(self, chip, model_name, context, batch, chips_per_stage, stages, latency_us, nic_gbps,
             overlap="none", rates="peak"):
        m = model(model_name)
        h, note = rates_for(hardware(chip).name, rates)
        p = LATENCY_STAGES[LATENCY_STAGES <= m.n_layers]
        bw = nic_gbps * 1e9 / 8
        lat = latency_us * 1e-6
        d = pl.pipeline_decode(m, h, batch, context, p, chips_per_stage, bandwidth=bw, latency=lat, overlap=overlap)
        d1 = pl.pipeline_decode(m, h, batch, context, p, chips_per_stage, in_flight=p + 1, bandwidth=bw,
                                latency=lat, overlap=overlap)
        stage = pl.stage_hardware(h, chips_per_stage)
        c, units = stage.chips, stage.chips // h.chips  # physical chips, and catalog entries, per stage
        work = np.broadcast_to(d.step.time, p.shape)
        self.lat.set_data(p, d.token_latency)
        self.work.set_data(p, work)
        self.hops.set_data(p, np.where(p > 1, d.hops, np.nan))
        big = decode_step(m, h, p * batch, context, chips=p * units, overlap=overlap)
        self.big.set_data(p, big.time)
        self.rate.set_data(p, d.tokens_per_second / (p * c))
        self.rate1.set_data(p, d1.tokens_per_second / (p * c))
        self.rate_big.set_data(p, big.tokens_per_second / (p * c))
        p_min = pl.min_stages(m, h, batch, context, chips_per_stage)
        for span in self.nofit:
            span.set_width((min(p_min, 1000.0) - 1.0) if p_min > 1 else 0.0)
        for mark in self.marks:
            mark.set_xdata([stages, stages])
        if stages > m.n_layers:
            return f"{m.name} has only {m.n_layers} layers: at most {m.n_layers} stages."
        i = int(stages) - 1
        fit = "" if stages >= p_min else " <b>(does not fit in HBM)</b>"
        model_text = "ideal step (a stage as one big chip)" if overlap == "full" else \
            "per-phase step (with the all-reduces among a stage's chips)"
        return (f"{model_text}, {rates} rates.{note}<br>"
                f"<b>{m.name}</b>, micro-batches of {batch} × {context:,} tokens, stages of {c} × {h.name}, "
                f"P = <b>{stages}</b>{fit}: {fmt_time(d.token_latency[i])} per token, of which "
                f"{fmt_time(d.hops[i])} on the network ({d.hop_overhead[i]:.2%} added; one hop "
                f"{fmt_time(np.asarray(d.hop).flat[0])}). The same {stages * c} chips as one tensor-parallel "
                f"group would take "
                f"{fmt_time(big.time[i])}. Fewest stages that fit: "
                f"{'none' if not np.isfinite(p_min) else f'{p_min:.0f}'}.")


def decode_latency_explorer(chip="H100 SXM", model_name="Llama 3.1 405B", context=8192, batch=16,
                            chips_per_stage=8, stages=2, latency_us=5.0, nic_gbps=400, overlap="none",
                            rates="peak"):
    """Time per token and throughput per chip vs stages, with the network hops shown apart, in the
    ideal or the per-phase step model, at peak or achievable rates."""
    buttons = {"description_width": "120px", "button_width": "80px"}
    controls = {
        "chip": _dropdown(list(CHIPS), hardware(chip).name, "chip"),
        "model_name": _dropdown(list(MODELS), model(model_name).name, "model"),
        "context": _int_slider(context, 0, 131072, "context (tokens)", step=256),
        "batch": _int_slider(batch, 1, 1024, "micro-batch (seqs)"),
        "chips_per_stage": _int_slider(chips_per_stage, 1, 72, "chips per stage"),
        "stages": _int_slider(stages, 1, int(LATENCY_STAGES[-1]), "stages P"),
        "latency_us": widgets.FloatSlider(value=latency_us, min=1, max=50, step=1, description="hop latency (µs)",
                                          style=_STYLE, layout=_LAYOUT),
        "nic_gbps": _int_slider(nic_gbps, 100, 1600, "NIC per GPU (Gb/s)", step=100),
        "overlap": widgets.ToggleButtons(options=list(OVERLAPS.items()), value=overlap, description="step model",
                                         tooltips=["the lecture's single roofline: a stage as one big chip",
                                                   "attention, then the matmuls, then the all-reduces"],
                                         style=buttons, layout=_LAYOUT),
        "rates": widgets.ToggleButtons(options=list(RATES), value=rates, description="rates",
                                       tooltips=["data-sheet peak FLOP/s and bandwidth",
                                                 "best measured matmul, 90% of HBM, 82% of links"],
                                       style=buttons, layout=_LAYOUT),
    }
    return DecodeLatencyExplorer(controls)


#: For `make bench`: one entry per explorer; BENCH (the one the runner reads) is the memory explorer.
BENCHES = {
    "stage_memory": {
        "factory": stage_memory_explorer,
        "updates": [dict(batch=b) for b in (1, 16, 64, 256)] + [dict(context=c) for c in (2048, 32768)]
        + [dict(chip=c) for c in ("H200 SXM", "B200")] + [dict(model_name=n) for n in ("DeepSeek-V3", "Kimi K2")],
    },
    "schedule": {
        "factory": schedule_explorer,
        "updates": [dict(stages=s) for s in (2, 8, 16)] + [dict(microbatches=m) for m in (1, 16, 32)]
        + [dict(kind=k) for k in ("1F1B", "decode (inference)", "GPipe")],
    },
    "decode_latency": {
        "factory": decode_latency_explorer,
        "updates": [dict(stages=s) for s in (1, 4, 16)] + [dict(batch=b) for b in (1, 64, 512)]
        + [dict(latency_us=x) for x in (2.0, 20.0)] + [dict(model_name="DeepSeek-V3")]
        + [dict(overlap=o, rates=r) for o in ("full", "none") for r in RATES],
    },
}
BENCH = BENCHES["stage_memory"]
