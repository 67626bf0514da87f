"""Answer keys for chapter 1, "Batching: latency and cost vs batch size".

Each expected value is computed with rooflib for the student's variant (see rooflib.variants).
The exercises themselves live in solutions/01_batching.ipynb.
"""
from __future__ import annotations

from .. import roofline as rf
from ..models import model
from ..variants import (BATCHES, CHIP_COUNTS, CHIPS, CONTEXTS, DTYPES, MODELS, PRICES, first,
                        setups)
from . import register

# ---- 01.1, 01.2: the chip alone ---------------------------------------------------------------
register(
    "01.1", lambda v: rf.critical_intensity(v["chip"]), unit="FLOP/byte",
    variants={"chip": CHIPS},
    hints=[(2.0, "Vendor pages headline the 2:4-SPARSE FLOP/s, twice the dense rate that ordinary "
                 "matrix products reach. Use the dense bf16 rate, hw.flops['bf16'].")],
    question="Critical intensity of the chip in bf16: dense FLOP/s divided by HBM bytes/s.")

register(
    "01.2", lambda v: rf.memory_turnover(v["chip"]), unit="s",
    variants={"chip": CHIPS},
    question="Memory turnover of the chip: the time to read its whole HBM once "
             "(capacity / bandwidth), in seconds.")

# ---- 01.3, 01.4: the two lines of the roofline -----------------------------------------------
SERVING = setups(model=MODELS, chip=CHIPS, chips=CHIP_COUNTS, dtype=DTYPES)


def _bytes_hint(v):
    if v["dtype"] == "fp8":
        return [(2.0, "These weights are stored in fp8: 1 byte per parameter, not 2.")]
    return [(0.5, "bf16 weights take 2 bytes per parameter.")]


register(
    "01.3", lambda v: rf.decode_step(v["model"], v["chip"], 1, 0, v["chips"], v["dtype"]).weights,
    rel=0.04, unit="s", variants=SERVING, hints=_bytes_hint,
    question="Latency floor: the time for the chips to read every weight of the model once from "
             "HBM (weights stored in the variant's dtype), in seconds.")


def _flops_hint(v):
    if v["dtype"] == "fp8":
        return [(2.0, "fp8 arithmetic runs at twice the bf16 rate on this chip: use hw.flops['fp8'].")]
    return []


register(
    "01.4", lambda v: rf.decode_step(v["model"], v["chip"], v["batch"], 0, v["chips"],
                                     v["dtype"]).compute,
    rel=0.04, unit="s", hints=_flops_hint,
    variants=setups(model=MODELS, chip=CHIPS, chips=CHIP_COUNTS, dtype=DTYPES, batch=BATCHES),
    question="Compute time of one decode step at the variant's batch: the arithmetic alone, "
             "at the chips' dense FLOP/s in the variant's dtype, in seconds.")


# ---- 01.5: optimal batch -----------------------------------------------------------------------
def _sparsity_hint(v):
    if v["model"] != "DeepSeek-V3":
        return []
    s = model("DeepSeek-V3").sparsity
    return [(8 / s, "The '1/8 sparsity' quoted for DeepSeek-V3 in the talk undercounts it: about "
                    "37B of 671B parameters are active per token, nearer 1/18. Use total/active.")]


register(
    "01.5", lambda v: rf.optimal_batch(v["model"], v["chip"]), rel=0.04, unit="sequences",
    variants={"model": first("DeepSeek-V3", MODELS), "chip": CHIPS}, hints=_sparsity_hint,
    question="Optimal batch (bf16): the batch at which the compute time of a step equals its "
             "weight-read time, ignoring the KV cache.")

# ---- 01.6: cost per token at batch 1 and at the optimal batch --------------------------------
COSTS = setups(fit_optimal_batch=True, model=MODELS, chip=CHIPS, chips=first(8, CHIP_COUNTS),
               context=CONTEXTS, price=PRICES)


def _cost(v, batch):
    return rf.cost_per_token(v["model"], v["chip"], batch, v["context"], v["price"], v["chips"])


def _b_star(v):
    return rf.optimal_batch(v["model"], v["chip"])


register(
    "01.6a", lambda v: _cost(v, 1) * 1e6, unit="dollars per million tokens", variants=COSTS,
    hints=[(3600.0, "The price is per chip-HOUR and a step lasts seconds: divide by 3600."),
           (1 / 3600, "The price is per chip-HOUR and a step lasts seconds: divide by 3600, once."),
           (1e-6, "That is dollars per token; the question asks per MILLION tokens."),
           (1e6, "Per million tokens means multiplying the cost of ONE token by 10^6, once.")],
    question="Cost of output tokens at batch 1, in dollars per million tokens: step time x chips "
             "x price per chip-second / tokens per step, KV reads included.")


def _ratio(v):
    return _cost(v, 1) / _cost(v, _b_star(v))


def _ratio_hint(v):
    return [(_b_star(v) / _ratio(v),
             "That is the optimal batch itself: the ratio you would get if reading the KV cache "
             "were free. At this context the KV reads of a full batch lengthen its step.")]


register(
    "01.6b", _ratio, unit="", variants=COSTS, hints=_ratio_hint,
    question="How many times more a token costs at batch 1 than at the optimal batch "
             "(same chips, same context, KV reads included): cost(1) / cost(B*).")

# ---- 01.8: what a fast mode buys ---------------------------------------------------------------
TIERS = {"model": MODELS, "chip": CHIPS, "price_multiple": [6, 4, 5, 8], "speedup": [2.5, 2, 3]}


def _fast_hint(v):
    return [(v["speedup"], "Dividing the standard batch by the price multiple assumes both tiers "
                           "take equally long per step; the fast tier's steps are shorter.")]


register(
    "01.8a", lambda v: v["speedup"] * rf.optimal_batch(v["model"], v["chip"]), rel=0.04,
    unit="sequences", variants=TIERS,
    question="Batch of the standard tier, given that the fast tier is `speedup` times faster and "
             "the chips stay the same (ignore the KV cache).")

register(
    "01.8b", lambda v: rf.optimal_batch(v["model"], v["chip"]) / v["price_multiple"], rel=0.04,
    unit="sequences", variants=TIERS, hints=_fast_hint,
    question="Batch of the fast tier, given that a fast token costs `price_multiple` times a "
             "standard one and the provider's margin is the same in both tiers (ignore the KV cache).")

# ---- 01.9: continuous batching as a train schedule --------------------------------------------
register(
    "01.9", lambda v: 2 * rf.decode_step(v["model"], v["chip"], v["batch"], v["context"],
                                         v["chips"]).time,
    unit="s",
    variants=setups(model=MODELS, chip=CHIPS, chips=first(8, CHIP_COUNTS), context=CONTEXTS,
                    batch=first(256, BATCHES)),
    hints=[(0.5, "A request that arrives just after a step has started cannot board it: it waits "
                 "(almost) a whole step for the next one to leave, then rides that whole step "
                 "before its token comes out.")],
    question="Worst-case wait from a request's arrival to its first generated token when the "
             "server runs one decode step after another (ignore prefill), in seconds.")
