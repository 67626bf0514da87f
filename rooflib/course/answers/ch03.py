"""Answer keys for chapter 3, "Mixture of experts and expert parallelism".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/03_moe.ipynb.
"""
from __future__ import annotations

from ... import moe
from ...models import model
from ...roofline import weight_bytes
from ..variants import CHIP_COUNTS, DTYPES, first, setups
from . import register, written

#: The catalog's mixtures of experts, DeepSeek-V3 first (the book's default).
MOE_MODELS = ["DeepSeek-V3", "Kimi K2", "Qwen3-235B-A22B", "gpt-oss-120b", "Mixtral 8x7B"]
#: GPUs whose scale-up domain is a switch (NVSwitch or a full Infinity Fabric mesh), H100 first.
SWITCHED = ["H100 SXM", "H800 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X"]
#: Every chip of the catalog: the tensor-parallel exercise only needs F and S.
ALL_CHIPS = ["H100 SXM", "H800 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X", "TPU v5p",
             "TPU v6e", "TPU7x Ironwood"]


# ---- 03.1: experts touched ------------------------------------------------------------------------
def _touched_hints(v):
    m, b = model(v["model"]), v["batch"]
    e, k = m.n_experts, m.experts_per_token
    right = float(moe.experts_touched(m, b))
    return [
        (e * (1 - (1 - 1 / e) ** (b * k)) / right,
         "That is the count when the B x k choices are drawn independently, with repeats. A token "
         "picks k DIFFERENT experts: one token misses a given expert with probability 1 - k/E."),
        (e * (1 - k / e) ** b / right,
         "That is the number of experts NO token chose. The question asks for the ones touched: "
         "E minus that."),
        (min(b * k, e) / right,
         "B x k counts an expert twice when two tokens choose it. Use the probability that an "
         "expert is missed by every token."),
    ]


register(
    "03.1", lambda v: moe.experts_touched(v["model"], v["batch"]), rel=0.01, unit="experts",
    variants={"model": MOE_MODELS, "batch": [16, 4, 8, 32, 64, 128]}, hints=_touched_hints,
    question="Expected number of distinct routed experts one MoE layer uses in a decode step of "
             "`batch` tokens, each choosing its k experts uniformly at random.")


# ---- 03.2: the latency floor of an MoE -------------------------------------------------------------
FLOORS = setups(model=MOE_MODELS, chip=first("H200 SXM", SWITCHED), chips=first(8, CHIP_COUNTS),
                dtype=first("fp8", DTYPES))


def _floor(v):
    return moe.moe_decode_step(v["model"], v["chip"], 1, 0, v["chips"], dtype=v["dtype"]).weights


def _floor_hints(v):
    m = model(v["model"])
    read = float(moe.moe_weight_bytes_read(m, 1, dtype=v["dtype"]))
    lookup = m.vocab * m.d_model * (2.0 if v["dtype"] == "bf16" else 1.0)
    return [
        (weight_bytes(m, v["dtype"]) / read,
         "That reads every expert. At batch 1 the one token uses k routed experts per layer; the "
         "other experts need not be read."),
        ((read - lookup) / read,
         "Close: rooflib also counts the input embedding table (vocab x d_model) as read, as "
         "decode_step does. Add it to the active parameters."),
    ]


register(
    "03.2", _floor, rel=0.01, unit="s", variants=FLOORS, hints=_floor_hints,
    question="Time for one batch-1 decode step to read its weights from HBM: the always-used "
             "weights plus one token's k experts per MoE layer, spread evenly over the chips.")


# ---- 03.3: the all-to-all of expert parallelism ---------------------------------------------------
# Setups whose fp8 weights fit in the chips (the all-to-all itself does not depend on the weights).
ALL_TO_ALL = setups(model=MOE_MODELS, chip=SWITCHED, chips=[8, 4, 2], dtype=["fp8"],
                    batch=[256, 64, 1024, 4096])


def _a2a(v):
    return moe.all_to_all_time(v["model"], v["chip"], v["batch"], v["chips"])


def _a2a_hints(v):
    m, c = model(v["model"]), v["chips"]
    return [
        (0.5, "Half the answer. Either the combine is missing (the k results travel back: as many "
              "bytes as the dispatch), or you used NVLink's bidirectional figure: S is one "
              "direction, hw.scaleup_bandwidth."),
        (1 / (1 - 1 / c), "A copy for an expert on the token's own chip does not cross a link: "
                          "only k (1 - 1/C) copies leave the chip."),
        (m.n_layers / m.n_moe_layers, "Only the MoE layers have an all-to-all: the first "
                                      "n_dense_layers layers have an ordinary MLP."),
        (1 / m.n_moe_layers, "That is one layer. A step passes through every MoE layer."),
        (2.0, "Did you count both directions? Each chip sends and receives at the same time, on "
              "the two directions of its links."),
    ]


register(
    "03.3", _a2a, rel=0.01, unit="s", variants=ALL_TO_ALL, hints=_a2a_hints,
    question="Time per decode step of the dispatch and combine all-to-alls of expert parallelism "
             "over `chips` chips of one scale-up domain, `batch` tokens, bf16 activations.")


# ---- 03.4: does the all-to-all hide? ---------------------------------------------------------------
HIDE = [{"chip": c, "chips": 72 if c == "GB200" else 8, "model": m, "dtype": d}
        for d in ("fp8", "bf16") for c in ("H800 SXM", "H100 SXM", "H200 SXM", "B200", "GB200", "MI300X")
        for m in MOE_MODELS]


def _ratio(v):
    step = moe.moe_decode_step(v["model"], v["chip"], 1, 0, v["chips"], dtype=v["dtype"])
    return step.comm / step.compute


def _ratio_hints(v):
    if v["dtype"] == "fp8":
        return [(0.5, "The arithmetic is in fp8: the chip multiplies at hw.flops['fp8'], twice its "
                      "bf16 rate, so compute takes half as long and the ratio doubles.")]
    return []


register(
    "03.4", _ratio, rel=0.01, unit="", variants=HIDE, hints=_ratio_hints,
    question="Ratio of the all-to-all time (bf16 activations) to the compute time (weights and "
             "arithmetic in the variant's dtype) of a decode step, at any batch.")


# ---- 03.5: the width at which tensor parallelism breaks even -------------------------------------
def _width(v):
    # tp_comm_ratio is proportional to 1 / width, so its value at width 1 is the break-even width
    return moe.tp_comm_ratio("DeepSeek-V3", v["chip"], v["tp"], dtype="bf16", width=1.0)


def _width_hints(v):
    t = v["tp"]
    return [
        (0.5, "Half. Either the ring all-reduce's factor 2 is missing (a reduce-scatter, then an "
              "all-gather), or S was taken bidirectional: use hw.scaleup_bandwidth, one direction."),
        (1 / 3, "A gated MLP has three matrices (gate, up, down) doing the arithmetic, against one "
                "all-reduce of the output."),
        (t / (t - 1), "A ring all-reduce over t chips moves 2 (t - 1)/t of the data per chip, "
                      "not 2."),
    ]


register(
    "03.5", _width, rel=0.01, unit="", variants={"chip": ALL_CHIPS, "tp": [8, 4, 2]},
    hints=_width_hints,
    question="The MLP width f at which the all-reduce of `tp`-way tensor parallelism takes as long "
             "as the MLP's matrix products (bf16), on the variant's chip.")


# ---- 03.6: the batch-1 floor when experts are read by their owners ---------------------------------
OWNERS = [{"model": m, "chip": c, "dtype": d} for c in ("GB200", "GB300", "B200", "H200 SXM")
          for m in ["Kimi K2", "DeepSeek-V3", "Qwen3-235B-A22B", "gpt-oss-120b"] for d in ("fp8", "bf16")]


def _owners_hints(v):
    m = model(v["model"])
    return [(m.experts_per_token, "The k experts of a layer are on k different chips, read at the "
                                  "same time: one expert's bytes per layer, not k.")]


register(
    "03.6", lambda v: moe.expert_read_floor(v["model"], v["chip"], dtype=v["dtype"]), rel=0.01, unit="s",
    variants=OWNERS, hints=_owners_hints,
    question="Lower bound on a batch-1 step's routed-expert reads when each expert is read only by "
             "the chip that holds it: one expert per MoE layer, layer after layer.")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("03.7", "Kimi K2 halves DeepSeek-V3's attention heads and adds half again as many "
        'experts: why does that suit a rack-scale domain, and what would it cost on an '
        '8-GPU server?')
