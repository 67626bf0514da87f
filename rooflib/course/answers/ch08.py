"""Answer keys for chapter 8, "Reality check".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/08_reality_check.ipynb.
"""
from __future__ import annotations

import numpy as np

from ... import reality as rz
from ...hardware import hardware
from ...kv import kv_bytes_per_token
from ...models import model
from ..variants import first
from . import register, written

# ---- 08.1: efficiency of an MLPerf result against the compute ceiling ----------------------------
MLPERF = [{"key": m.key, "model": m.model, "chip": m.chip, "chips": m.chips, "dtype": m.dtype,
           "published": m.value}
          for m in rz.MEASUREMENTS if m.key.startswith("mlperf")]
MLPERF = first(next(v for v in MLPERF if v["key"] == "mlperf-nvidia-h200-sxm-141gbx8_trt-offline"), MLPERF)


def _ceiling_eff(v):
    return v["published"] / float(rz.compute_ceiling(v["model"], v["chip"], v["chips"], dtype=v["dtype"]))


def _ceiling_hints(v):
    out = []
    if v["dtype"] == "fp4":
        out.append((2.0, "This submission runs in fp4: use the chip's dense fp4 rate, hw.flops['fp4'] "
                         "(twice the fp8 rate)."))
    else:
        out.append((2.0, "This submission runs in fp8: use the chip's dense fp8 rate, hw.flops['fp8'], "
                         "twice the bf16 rate."))
    out.append((100.0, "Give the efficiency as a fraction (0.27), not a percentage (27)."))
    return out


register(
    "08.1", _ceiling_eff, rel=0.02, unit="", variants=MLPERF, hints=_ceiling_hints,
    question="Published MLPerf throughput divided by the compute ceiling C F / (2 N_active) of the "
             "system (dense FLOP/s at the submission's precision), as a fraction.")

# ---- 08.2: a DeepSeek-style decode bound --------------------------------------------------------
DS = {"context": [4989, 2000, 8000, 16000], "kv_dtype": ["bf16", "fp8"]}
UNIT, NODE = rz.DEEPSEEK_DECODE_GPUS, rz.DEEPSEEK_NODE_GPUS


def _ds_bound(v):
    return rz.decode_bound("DeepSeek-V3", "H800 SXM", v["context"], chips=UNIT, dtype="fp8",
                           kv_dtype=v["kv_dtype"])


register(
    "08.2a", lambda v: float(_ds_bound(v).batch), rel=0.01, unit="sequences", variants=DS,
    hints=lambda v: [(UNIT * 80e9 / (UNIT * 80e9 - model("DeepSeek-V3").total_params),
                      "The weights (fp8, 1 byte per parameter, one copy over the 144 GPUs) take HBM too: "
                      "subtract them before filling it with caches."),
                     (0.5 if v["kv_dtype"] == "bf16" else 2.0,
                      f"The cache here is {v['kv_dtype']}: {'2 bytes' if v['kv_dtype'] == 'bf16' else '1 byte'} "
                      "per number, 576 numbers per token per layer, 61 layers."),
                     (1 / 18, "The whole unit of 18 nodes (144 GPUs) holds the caches, not one node.")],
    question="Largest batch (sequences of `context` tokens) whose fp8 weights and `kv_dtype` MLA "
             "caches fit in the HBM of DeepSeek's 144-GPU H800 decode unit.")


def _ds_per_node(v):
    return float(_ds_bound(v).tokens_per_second) * NODE / UNIT


register(
    "08.2b", _ds_per_node, rel=0.02, unit="tokens/s",
    variants=DS,
    hints=[(18.0, "That is the whole 18-node unit; the question asks per 8-GPU node."),
           (1 / 8, "That is per GPU; a node has 8.")],
    question="Upper bound on output tokens/s per 8-GPU node at that largest batch: batch / step "
             "time, step = max(compute, weights + caches read), scaled from the unit to one node.")

# ---- 08.3: the weights-free limit ----------------------------------------------------------------
LIMIT = {"model": ["DeepSeek-V3", "Llama 3.1 70B", "Kimi K2", "Qwen3-235B-A22B", "Llama 3.1 405B"],
         "chip": ["H800 SXM", "H100 SXM", "H200 SXM", "B200", "MI300X"],
         "context": [4989, 2048, 8192, 32768]}


def _limit(v):
    return hardware(v["chip"]).hbm_bandwidth / (v["context"] * kv_bytes_per_token(v["model"], v["context"]))


register(
    "08.3", _limit, rel=0.02, unit="tokens/s",
    variants=LIMIT,
    hints=[(1 / 2, "Is the cache bf16 (2 bytes per number)? kv_bytes_per_token already counts bytes.")],
    question="Per GPU, the decode throughput limit when the weights take no room: HBM full of bf16 "
             "caches of `context` tokens, all read every step: W / (S x kv bytes per token).")

# ---- 08.4: Little's law on DeepSeek's figures ------------------------------------------------------
# DeepSeek's users saw 20-22 tokens/s (the book's 21); the other speeds are what-ifs, far enough
# apart that no student's answer is the one the book prints.
SPEEDS = {"speed": [21.0, 15.0, 17.0, 25.0, 28.0, 32.0]}
DS_NODE_TPS = rz.measurement("deepseek-decode").value


def _in_flight(v):
    return DS_NODE_TPS / v["speed"]


register(
    "08.4a", _in_flight, rel=0.02, unit="sequences", variants=SPEEDS,
    hints=lambda v: [(v["speed"] ** 2, "Little's law: sequences in flight = throughput x time per "
                                       "token = throughput / speed, not throughput x speed.")],
    question="Sequences in flight per node: published tokens/s per node divided by each user's "
             "tokens/s (Little's law).")


def _roof_step(v):
    b = rz.decode_bound("DeepSeek-V3", "H800 SXM", rz.DEEPSEEK_CONTEXT, chips=UNIT, dtype="fp8",
                        kv_dtype="bf16", batch=_in_flight(v) * UNIT / NODE)
    return float(b.time)


register(
    "08.4b", _roof_step, rel=0.03, unit="s", variants=SPEEDS,
    hints=[(1 / 18, "The step serves the whole unit's batch: 18 nodes' sequences, spread over 144 GPUs.")],
    question="Roofline time of one decode step of the whole 18-node unit at that concurrency "
             "(4,989 tokens of bf16 MLA cache per sequence, fp8 weights, 144 H800).")

# ---- 08.5: prefill efficiency ---------------------------------------------------------------------
PRE = rz.measurement("deepseek-prefill")
# The first choices are DeepSeek's published day (73.7k input tokens/s per node, 342 of 608 billion
# input tokens found in the on-disk cache); the others are what-ifs around it, so that no student
# works with the figures chapter 8 prints.
PREFILL = {"input_tps": [PRE.value, 50_000.0, 60_000.0, 90_000.0, 110_000.0],
           "cache_hit_fraction": [PRE.cache_hit_fraction, 0.25, 0.35, 0.45, 0.65, 0.75]}


def _pre_eff(v):
    # the node's prefill bound counts cache hits as free: ceiling / (1 - h); measured / bound
    return v["input_tps"] / float(rz.prefill_bound(PRE.model, PRE.chip, PRE.chips, dtype=PRE.dtype,
                                                   cache_hit_fraction=v["cache_hit_fraction"]))


def _pre_hints(v):
    h = v["cache_hit_fraction"]
    return [(1 / (1 - h), "Tokens whose cache came from disk were counted in the input tokens/s but "
                          "needed no arithmetic: count only the misses."),
            (h / (1 - h), "That counts the cache HITS; the tokens that needed arithmetic are the "
                          "misses, a share 1 - h."),
            (2.0, "DeepSeek's matrix products run in fp8: use the fp8 rate, twice the bf16 one."),
            (100.0, "Give the efficiency as a fraction, not a percentage.")]


register(
    "08.5", _pre_eff, rel=0.02, unit="", variants=PREFILL, hints=_pre_hints,
    question="Prefill: input tokens that needed computing per second per node (`input_tps` of which "
             "a share `cache_hit_fraction` hit the on-disk cache), divided by the node's fp8 compute "
             "ceiling 8 F / (2 N_active), as a fraction.")

# ---- 08.6: fit a roofline to timings ----------------------------------------------------------------
SEEDS = {"seed": list(range(12))}
FIT_BATCHES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], dtype=float)
FIT_D = 4096


def synthetic_timings(seed: int) -> np.ndarray:
    """Median times (s) of X W, d = 4096 float32, for FIT_BATCHES on an imaginary machine.

    Its flat part (weight read) lasts 2-8 ms and its knee sits at n = 6-40; each time carries a
    few percent of noise, as real measurements do.
    """
    rng = np.random.default_rng(5000 + int(seed))
    flat = rng.uniform(2e-3, 8e-3)
    knee = rng.uniform(6, 40)
    t = np.maximum(flat, flat / knee * FIT_BATCHES)
    return t * np.exp(rng.normal(0, 0.03, FIT_BATCHES.size))


def _fit_intensity(v):
    return rz.fit_roofline(FIT_BATCHES, synthetic_timings(v["seed"])).intensity(FIT_D, 4.0)


register(
    "08.6", _fit_intensity, rel=0.15, unit="FLOP/byte", variants=SEEDS,
    hints=[(2.0, "float32 numbers take 4 bytes: at the knee n*, 2 d^2 n* FLOPs per 4 d^2 bytes = n* / 2."),
           (4.0, "The intensity is FLOPs per BYTE: 2 d^2 n* FLOPs over 4 d^2 bytes of W is n* / 2, "
                 "not 2 n*."),
           (0.5, "Count 2 FLOPs per multiply-add: 2 d^2 n* FLOPs at the knee.")],
    question="Fit t = max(a, b n) to the timings and give the machine's critical intensity in "
             "FLOP/byte: the knee n* = a / b of a d x d float32 product is at 2 d^2 n* / (4 d^2) = n* / 2.")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("08.7", 'Speculative decoding at two tokens per step: which parts of the decode bound '
        'change, and which ceiling can nothing beat?')
written("08.8", 'Why must every assumption of an upper bound be optimistic, and what would it '
        'mean if a published figure beat it?')
