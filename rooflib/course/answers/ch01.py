"""Answer keys for chapter 1, "Batching: latency and cost vs batch size".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/01_batching.ipynb.

Every key that uses a step TIME says which step model it uses: the lecture's ideal single roofline
(`overlap="full"`: max(compute, weights + KV), no attention arithmetic, no collectives) or the
per-phase step engines run (rooflib's default, `overlap="none"`: attention phase, then matmul
phase, then the tensor-parallel all-reduces). Rates are peak unless the key says `achievable`.
"""
from __future__ import annotations

from ... import roofline as rf
from ...achievable import HBM_FRACTION, achievable
from ...formats import bytes_per_element
from ...hardware import hardware
from ...models import model
from ...speculative import expected_tokens_per_step, speculative_step
from ..variants import (BATCHES, CHIP_COUNTS, CHIPS, CONTEXTS, DTYPES, MODELS, PRICES, first,
                        setups)
from . import register, written

#: Dense models only, where "reading every weight once per step" is true at every batch. At batch
#: 1 a mixture of experts reads only the experts its token is routed to (plus the dense layers and
#: embeddings), so its latency floor and its batch-1 cost are not those of all its weights
#: (chapter 3, `rooflib.moe.moe_decode_step`).
DENSE = [m for m in MODELS if not model(m).is_moe] + ["Llama 3.1 8B", "Llama 2 70B", "Llama 2 13B"]

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
SERVING = setups(model=DENSE, chip=CHIPS, chips=CHIP_COUNTS, dtype=DTYPES)


def _bytes_hint(v):
    if v["dtype"] == "fp8":
        return [(2.0, "These weights are stored in fp8: 1 byte per parameter, not 2.")]
    return [(0.5, "bf16 weights take 2 bytes per parameter.")]


register(
    "01.3", lambda v: rf.decode_step(v["model"], v["chip"], 1, 0, v["chips"], dtype=v["dtype"]).weights,
    rel=0.04, unit="s", variants=SERVING, hints=_bytes_hint,
    question="Latency floor of a dense model: the time for the chips to read every weight once "
             "from HBM (weights stored in the variant's dtype), in seconds.")


def _flops_hint(v):
    if v["dtype"] == "fp8":
        return [(2.0, "fp8 arithmetic runs at twice the bf16 rate on this chip: use hw.flops['fp8'].")]
    return []


register(
    "01.4", lambda v: rf.decode_step(v["model"], v["chip"], v["batch"], 0, v["chips"],
                                     dtype=v["dtype"]).compute,
    rel=0.04, unit="s", hints=_flops_hint,
    variants=setups(model=MODELS, chip=CHIPS, chips=CHIP_COUNTS, dtype=DTYPES, batch=BATCHES),
    question="Compute time of one decode step at the variant's batch: the weights' arithmetic "
             "alone, at the chips' dense FLOP/s in the variant's dtype, in seconds.")


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

# ---- 01.6: cost per token at batch 1 and at the optimal batch (the lecture's ideal) ------------
COSTS = setups(fit_optimal_batch=True, model=DENSE, chip=CHIPS, chips=first(8, CHIP_COUNTS),
               context=CONTEXTS, price=PRICES)


def _cost(v, batch):
    return rf.cost_per_token(v["model"], v["chip"], batch, v["context"], v["price"], v["chips"],
                             overlap="full")


def _b_star(v):
    return rf.optimal_batch(v["model"], v["chip"])


register(
    "01.6a", lambda v: _cost(v, 1) * 1e6, unit="dollars per million tokens", variants=COSTS,
    hints=[(3600.0, "The price is per chip-HOUR and a step lasts seconds: divide by 3600."),
           (1 / 3600, "The price is per chip-HOUR and a step lasts seconds: divide by 3600, once."),
           (1e-6, "That is dollars per token; the question asks per MILLION tokens."),
           (1e6, "Per million tokens means multiplying the cost of ONE token by 10^6, once.")],
    question="Cost of output tokens at batch 1, in dollars per million tokens, in the lecture's "
             "ideal roofline max(compute, weights + KV): step time x chips x price per "
             "chip-second / tokens per step, KV reads included.")


def _ratio(v):
    return _cost(v, 1) / _cost(v, _b_star(v))


def _ratio_hint(v):
    return [(_b_star(v) / _ratio(v),
             "That is the optimal batch itself: the ratio you would get if reading the KV cache "
             "were free. At this context the KV reads of a full batch lengthen its step.")]


register(
    "01.6b", _ratio, unit="", variants=COSTS, hints=_ratio_hint,
    question="How many times more a token costs at batch 1 than at the optimal batch in the "
             "lecture's ideal roofline (same chips, same context, KV reads included): "
             "cost(1) / cost(B*).")

# ---- 01.8: what a fast mode buys (the lecture's ideal: no KV, a sharp corner at B*) -----------
TIERS = {"model": MODELS, "chip": CHIPS, "price_multiple": [6, 4, 5, 8], "speedup": [2.5, 2, 3]}


def _fast_hint(v):
    return [(v["speedup"], "Dividing the standard batch by the price multiple assumes both tiers "
                           "take equally long per step; the fast tier's steps are shorter.")]


register(
    "01.8a", lambda v: v["speedup"] * rf.optimal_batch(v["model"], v["chip"]), rel=0.04,
    unit="sequences", variants=TIERS,
    question="Batch of the standard tier, given that the fast tier is `speedup` times faster and "
             "the chips stay the same (the lecture's ideal roofline, KV ignored).")

register(
    "01.8b", lambda v: rf.optimal_batch(v["model"], v["chip"]) / v["price_multiple"], rel=0.04,
    unit="sequences", variants=TIERS, hints=_fast_hint,
    question="Batch of the fast tier, given that a fast token costs `price_multiple` times a "
             "standard one and the provider's margin is the same in both tiers (the lecture's "
             "ideal roofline, KV ignored).")

# ---- 01.9: continuous batching as a train schedule (per-phase step) ---------------------------
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
             "server runs one decode step after another (ignore prefill), in seconds. The step "
             "time T is the per-phase step the exercise prints (rooflib's default).")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("01.7", 'Why can a provider not sell a much cheaper "slow mode" by running even bigger '
        'batches, and what do the Flex tiers sold at half price actually discount?')

# ---- 01.10: the tensor-parallel all-reduces of one step ----------------------------------------
#: GPUs in one NVLink / Infinity Fabric domain: the ring all-reduce model of the exercise.
GPUS = [c for c in CHIPS if not c.startswith("TPU")]
ALL_REDUCES = setups(model=DENSE, chip=GPUS, chips=[8, 2, 4], batch=first(64, BATCHES))


def _comm(v):
    return rf.decode_step(v["model"], v["chip"], v["batch"], 0, v["chips"]).comm


def _comm_parts(v):
    """(latency part, bandwidth part) of one step's all-reduces, as the exercise writes them."""
    m, h, n = model(v["model"]), hardware(v["chip"]), v["chips"]
    nbytes = v["batch"] * m.d_model * 2.0
    latency = 2 * m.n_layers * (3.6e-6 + 2 * (n - 1) * h.scaleup_latency)
    bandwidth = 2 * m.n_layers * 2 * (n - 1) / n * nbytes / h.scaleup_bandwidth
    return latency, bandwidth


def _comm_hints(v):
    m = model(v["model"])
    latency, bandwidth = _comm_parts(v)
    total = latency + bandwidth
    return [(0.5, "Two all-reduces per layer: one after attention's output projection, one after "
                  "the MLP. Both sit on the critical path of every decode step."),
            (1 / m.n_layers, "That is one layer's all-reduces: a step runs through every layer, "
                             f"{m.n_layers} of them for this model."),
            (1 / (2 * m.n_layers), "That is ONE all-reduce: there are two per layer, and the step "
                                   "runs through every layer."),
            (bandwidth / total, "You kept only the bytes / bandwidth part. A decode step's "
                                "all-reduces carry a few kB to MB each, so the fixed latency of "
                                "each one (base + per-hop) dominates at small batches."),
            (latency / total, "You kept only the latency part: add the bytes each chip sends, "
                              "2 (n-1)/n x message / link bandwidth."),
            ((latency + bandwidth / 2) / total,
             "NVLink's headline bandwidth counts both directions: a ring sends one way at a time, "
             "so use the one-direction rate, hw.scaleup_bandwidth.")]


register(
    "01.10", _comm, rel=0.03, unit="s", variants=ALL_REDUCES, hints=_comm_hints,
    question="Seconds per decode step spent in tensor parallelism's all-reduces: 2 per layer, "
             "each of batch x d_model bf16 numbers, with the ring model base latency + "
             "2 (n-1) x per-hop latency + 2 (n-1)/n x bytes / link bandwidth.")

# ---- 01.11: achievable rates move the crossover --------------------------------------------------
#: Chips with a measured matmul rate (rooflib.achievable.MEASURED_MATMUL_TFLOPS).
MEASURED = ["H100 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X", "A100 SXM 80GB", "MI325X"]


def _eta_f(chip):
    return achievable(chip).flops["bf16"] / hardware(chip).flops["bf16"]


def _achievable_hints(v):
    f, w = _eta_f(v["chip"]), HBM_FRACTION
    return [(w / f, "That is the optimal batch at PEAK rates. Derate both: the matmul's FLOP/s "
                    "by its measured fraction, the HBM bandwidth by 90%."),
            (w, "You derated the FLOP/s but not the bandwidth: copies do not reach peak either "
                "(about 90% of it)."),
            ((w / f) ** 2, "The ratio is upside down: B* is FLOP/s over bytes/s, so a chip that "
                           "loses more FLOP/s than bandwidth has a SMALLER optimal batch.")]


register(
    "01.11", lambda v: rf.optimal_batch(v["model"], achievable(v["chip"])), rel=0.03,
    unit="sequences", variants={"model": MODELS, "chip": MEASURED}, hints=_achievable_hints,
    question="Optimal batch (bf16, KV ignored) at ACHIEVABLE rates: the best measured matmul "
             "FLOP/s and 90% of HBM bandwidth, i.e. rl.optimal_batch(model, rl.achievable(chip)).")

# ---- 01.12: weight-only quantization: storage format vs arithmetic format ----------------------
STORAGE = ["int8", "int4", "mxfp4"]
QUANTIZED = setups(model=DENSE, chip=first("TPU v5e", CHIPS), chips=[16, 8, 4, 2, 1], storage=STORAGE)


def _floor_q(v):
    return rf.decode_step(v["model"], v["chip"], 1, 0, v["chips"], dtype=v["storage"],
                          math_dtype="bf16", overlap="full").weights


def _b_star_q(v):
    return rf.optimal_batch(v["model"], v["chip"], v["storage"], math_dtype="bf16")


def _storage_hints(v):
    b = bytes_per_element(v["storage"])
    hints = [(2.0 / b, "Those are bf16 bytes. The weights are STORED in "
                       f"{v['storage']}: {b:g} bytes per parameter; only the arithmetic is bf16.")]
    if v["storage"] == "mxfp4":
        hints.append((0.5 / b, "MXFP4 stores a shared 8-bit scale with every block of 32 "
                               "numbers: 4 + 8/32 = 4.25 bits per weight, not 4."))
    if v["storage"] == "int4":
        hints.append((1.0 / b, "int4 packs two weights per byte: 0.5 bytes per parameter."))
    return hints


def _math_hints(v):
    b, h = bytes_per_element(v["storage"]), hardware(v["chip"])
    hints = [(2.0 / b, "Precision cancels only when the weights are stored AND multiplied in the "
                       "same format. Here the bytes shrink while the arithmetic stays at the "
                       "bf16 rate, so B* shrinks with the bytes.")]
    native = {"int8": "int8", "int4": None, "mxfp4": "fp4"}[v["storage"]]
    if native in h.flops:
        hints.append((h.flops[native] / h.flops["bf16"],
                      f"The chip's {native} tensor cores are not used: weight-only quantization "
                      "dequantizes to bf16 inside the kernel, so the arithmetic runs at the bf16 rate."))
    return hints


register(
    "01.12a", _floor_q, rel=0.03, unit="s", variants=QUANTIZED, hints=_storage_hints,
    question="Latency floor of a dense model whose weights are stored in the variant's `storage` "
             "format (scales included) and multiplied in bf16: every stored byte read once.")

register(
    "01.12b", _b_star_q, rel=0.03, unit="sequences", variants=QUANTIZED, hints=_math_hints,
    question="Optimal batch (KV ignored) of the same model: weights stored in `storage`, "
             "arithmetic in bf16 at the chip's bf16 rate.")

# ---- 01.13: speculative decoding: tokens per step, and whether it pays at this batch ------------
SPECULATION = setups(model=first("Llama 3.1 70B", ["Llama 3.1 8B", "Llama 3.1 405B", "Gemma 3 27B"]),
                     chip=["H100 SXM", "H200 SXM", "B200", "MI300X"], chips=[8, 4],
                     batch=first(256, [1, 16, 64, 128, 512]), context=[1024, 4096],
                     acceptance=[0.7, 0.6, 0.8, 0.9], draft_tokens=[4, 1, 2, 3])


def _tokens(v):
    return expected_tokens_per_step(v["acceptance"], v["draft_tokens"])


def _token_hints(v):
    a, k, e = v["acceptance"], v["draft_tokens"], _tokens(v)
    return [((e - 1) / e, "Count the target model's own token too: even when the first guess is "
                          "wrong, the verifying step yields the token it computes itself."),
            ((1 + k * a) / e, "A rejected guess ends the step: the i-th guess counts only if all "
                              "guesses before it were accepted, with probability a^i, not a."),
            ((k + 1) / e, "That assumes every guess is accepted. Each is right only with "
                          "probability a, and the first wrong one ends the run."),
            (1 / (1 - a) / e, "That is the limit of infinitely many guesses; with k guesses the "
                              "geometric sum stops at a^k.")]


def _speedup(v):
    plain = rf.decode_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"])
    spec = speculative_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"],
                            draft_tokens=v["draft_tokens"], acceptance=v["acceptance"])
    return plain.time_per_token / spec.time_per_token


def _speedup_hints(v):
    s, e = _speedup(v), _tokens(v)
    ideal_plain = rf.decode_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"], overlap="full")
    ideal_spec = speculative_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"],
                                  draft_tokens=v["draft_tokens"], acceptance=v["acceptance"], overlap="full")
    ideal = ideal_plain.time_per_token / ideal_spec.time_per_token
    return [(e / s, "That is the tokens per step: it would be the speed-up only if the verifying "
                    "step took no longer than a plain one. It processes k + 1 positions per "
                    "sequence: its arithmetic and its all-reduced activations grow k + 1 times."),
            (1 / s ** 2, "Upside down: the speed-up is the plain step's time per token over the "
                         "speculative step's."),
            (ideal / s, "That is the lecture's ideal roofline (overlap='full'); the exercise asks "
                        "for the per-phase step, rooflib's default, with its all-reduces.")]


register(
    "01.13a", _tokens, rel=0.01, unit="tokens per step", variants=SPECULATION, hints=_token_hints,
    question="Expected tokens one verification step yields per sequence with `draft_tokens` "
             "guesses, each accepted with probability `acceptance` (Leviathan et al. 2023, eq. 1).")

register(
    "01.13b", _speedup, rel=0.02, unit="", variants=SPECULATION, hints=_speedup_hints,
    question="Speed-up per token of speculative decoding at the variant's batch: time per token "
             "of a plain decode step over that of a speculative step (per-phase step at peak "
             "rates, rooflib's default; a drafter of negligible cost). Below 1, it costs.")
