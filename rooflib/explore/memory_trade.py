"""Chapter 7 explorer: activation memory and extra training FLOPs vs the checkpoint interval."""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import memory_trade as mt
from ..hardware import CHIPS, hardware
from ..models import MODELS, model
from ..plotting import OKABE_ITO, style_axes
from ..units import fmt_bytes
from .base import Explorer

K_MAX = 128            # x axis: checkpoint interval k (layers per segment), 1 ... 128
MEM_RANGE = (1e-1, 1e5)  # GB of activations per micro-batch
SEQS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]


class MemoryTradeExplorer(Explorer):
    live_grid = {"model_name": ["Llama 3.1 8B", "Llama 3.1 70B", "Llama 3.1 405B", "DeepSeek-V3"],
                 "batch": [1, 2, 4, 8, 16], "chip": ["H100 SXM", "H200 SXM", "B200"]}

    def setup(self):
        self.ax_m, self.ax_f = self.fig.subplots(1, 2)
        self.fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.96, wspace=0.25)
        c = OKABE_ITO
        self.mem_line = self.ax_m.plot([1], [1], color=c["blue"], lw=2, label="checkpoint every k layers")[0]
        self.none_line = self.ax_m.axhline(1, color=c["vermillion"], ls="--", label="keep everything")
        self.rev_line = self.ax_m.axhline(1, color=c["green"], ls="-.", label="reversible layers")
        self.hbm_line = self.ax_m.axhline(1, color="0.4", ls=":", label="one chip's HBM")
        self.best_m = self.ax_m.plot([1], [1], "o", color=c["orange"], ms=8, label="best k")[0]
        self.flops_line = self.ax_f.plot([1], [1], color=c["blue"], lw=2, label="checkpoint every k layers")[0]
        self.best_f = self.ax_f.plot([1], [1], "o", color=c["orange"], ms=8, label="best k (memory)")[0]
        self.ax_f.axhline(100 / 3, color=c["green"], ls="-.", label="reversible: one extra forward")
        axis = dict(xlim=(1, K_MAX), xlabel="checkpoint interval k (layers per segment)")
        style_axes(self.ax_m, log="xy", **axis, ylim=MEM_RANGE, ylabel="peak activation memory (GB per micro-batch)",
                   legend="upper right")
        style_axes(self.ax_f, log="x", **axis, ylim=(0, 40), ylabel="extra training FLOPs over 6 N D (%)",
                   legend="lower left")
        self.animated = [self.none_line, self.rev_line, self.hbm_line, self.mem_line, self.best_m,
                         self.flops_line, self.best_f]

    def draw(self, model_name, seq, batch, store_scores, chip):
        m, h = model(model_name), hardware(chip)
        A = float(mt.activation_bytes_per_layer(seq, batch, m.d_model, m.n_heads, store_scores=store_scores))
        cpt = float(mt.layer_input_bytes(seq, batch, m.d_model))
        L = m.n_layers
        ks = np.arange(1, L + 1)
        mem = np.asarray(mt.checkpointed_activation_bytes(L, ks, A, cpt)) / 1e9
        extra = 100 * (np.asarray(mt.training_flops_per_token(1.0, L, ks)) - 6.0) / 6.0
        best = mt.optimal_checkpoint_interval(L, A, cpt)
        self.mem_line.set_data(ks, mem)
        self.flops_line.set_data(ks, extra)
        self.best_m.set_data([best], [mem[best - 1]])
        self.best_f.set_data([best], [extra[best - 1]])
        self.none_line.set_ydata([L * A / 1e9] * 2)
        rev = float(mt.reversible_activation_bytes(A, cpt))
        self.rev_line.set_ydata([rev / 1e9] * 2)
        self.hbm_line.set_ydata([h.hbm_capacity / 1e9] * 2)
        return (f"<b>{m.name}</b>, {L} layers, {seq:,} tokens x {batch}: one layer stores "
                f"<b>{fmt_bytes(A)}</b>, a checkpoint <b>{fmt_bytes(cpt)}</b>. Keep everything: "
                f"<b>{fmt_bytes(L * A)}</b>; best k = <b>{best}</b>: <b>{fmt_bytes(mem[best - 1] * 1e9)}</b> "
                f"for {extra[best - 1]:.0f}% more FLOPs; reversible: <b>{fmt_bytes(rev)}</b>. "
                f"{h.name} holds {fmt_bytes(h.hbm_capacity)}.")


def memory_trade_explorer(model_name="Llama 3.1 70B", seq=8192, batch=1, store_scores=False, chip="H100 SXM"):
    """Model, sequence length, micro-batch and attention kernel -> activation memory and FLOPs vs k."""
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="290px")
    controls = {
        "model_name": widgets.Dropdown(options=list(MODELS), value=model(model_name).name, description="model",
                                       style=style, layout=layout),
        "seq": widgets.SelectionSlider(options=SEQS, value=seq, description="sequence (tokens)", style=style,
                                       layout=layout),
        "batch": widgets.IntSlider(value=batch, min=1, max=16, description="micro-batch", style=style,
                                   layout=layout),
        "store_scores": widgets.Checkbox(value=store_scores, description="store attention scores (no Flash)",
                                         style={"description_width": "initial"}, layout=layout),
        "chip": widgets.Dropdown(options=list(CHIPS), value=hardware(chip).name, description="chip (HBM line)",
                                 style=style, layout=layout),
    }
    return MemoryTradeExplorer(controls)


#: For `make bench`: how to build this explorer and which control moves to time.
BENCH = {
    "factory": memory_trade_explorer,
    "updates": [dict(seq=s) for s in (2048, 4096, 16384, 65536)]
    + [dict(model_name=n) for n in ("Llama 3.1 405B", "DeepSeek-V3", "Llama 3.1 8B")]
    + [dict(store_scores=True), dict(store_scores=False), dict(batch=4), dict(chip="B200")],
}
