"""Answer keys for chapter 8, "Reality check".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/08_reality_check.ipynb.
"""
from __future__ import annotations

import numpy as np

from ... import published as pub
from ... import reality as rz
from ...collectives import all_reduce_time
from ...hardware import hardware
from ...kv import kv_bytes_per_token
from ...measurements import BATCHED_MATMUL_BATCHES, BATCHED_MATMUL_SECONDS
from ...models import model
from ...roofline import decode_step
from ...units import GiB
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

# ---- 08.6: fit a roofline to real timings ------------------------------------------------------------
# One core of a real server, four weight sizes (rooflib.measurements): noisy, as measurements are.
FIT_BATCHES = np.array(BATCHED_MATMUL_BATCHES, dtype=float)
FITS = {"d": list(BATCHED_MATMUL_SECONDS)}


def _fit_intensity(v):
    times = np.array(BATCHED_MATMUL_SECONDS[v["d"]])
    return rz.fit_roofline(FIT_BATCHES, times).intensity(v["d"], 4.0)


register(
    "08.6", _fit_intensity, rel=0.05, unit="FLOP/byte", variants=FITS,
    hints=[(2.0, "float32 numbers take 4 bytes: at the knee n*, 2 d^2 n* FLOPs per 4 d^2 bytes = n* / 2."),
           (4.0, "The intensity is FLOPs per BYTE: 2 d^2 n* FLOPs over 4 d^2 bytes of W is n* / 2, "
                 "not 2 n*."),
           (0.5, "Count 2 FLOPs per multiply-add: 2 d^2 n* FLOPs at the knee.")],
    question="Fit the lower envelope t = max(a, b n) to the measured timings of your d (a = the "
             "fastest time, b = the smallest time per row) and give the machine's critical intensity "
             "in FLOP/byte: n* = a / b, and 2 d^2 n* / (4 d^2) = n* / 2.")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("08.7", 'Speculative decoding at two tokens per step: which parts of the decode bound '
        'change, and which ceiling can nothing beat?')
written("08.8", 'Why must every assumption of an upper bound be optimistic, and what would it '
        'mean if a published figure beat it?')

# ---- 08.9: batch-1 speed claims against the weight-read bound --------------------------------------
# A benchmark page lists Llama 2 70B at batch 1 (https://alpha-one-index.github.io/ai-infra-index/specs/
# inference-benchmarks.html, "What Is H100 Inference Speed in Tokens Per Second?" and the quantization
# table: FP16 needs "~140 GB (2 GPUs)" on H100s; FP8, INT8 and INT4 "(1 GPU)"). The last entry is a
# measured figure that passes: NVIDIA NIM 1.8.0, Llama 3.3 70B (Llama 3.1 70B's architecture) fp8 on
# 2 x H100, 51.67 tokens/s at concurrency 1 (https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance).
CLAIMS = [
    {"model": "Llama 2 70B", "chip": "H200 SXM", "chips": 1, "dtype": "bf16", "claimed": 155.0},
    {"model": "Llama 2 70B", "chip": "H100 SXM", "chips": 2, "dtype": "bf16", "claimed": 110.0},
    {"model": "Llama 2 70B", "chip": "H100 SXM", "chips": 1, "dtype": "fp8", "claimed": 155.0},
    {"model": "Llama 2 70B", "chip": "H100 SXM", "chips": 1, "dtype": "int8", "claimed": 140.0},
    {"model": "Llama 2 70B", "chip": "H100 SXM", "chips": 1, "dtype": "int4", "claimed": 195.0},
    {"model": "Llama 2 70B", "chip": "H200 SXM", "chips": 1, "dtype": "bf16", "claimed": 120.0},
    {"model": "Llama 2 70B", "chip": "H100 SXM", "chips": 2, "dtype": "bf16", "claimed": 85.0},
    {"model": "Llama 2 70B", "chip": "A100 SXM", "chips": 2, "dtype": "bf16", "claimed": 35.0},
    {"model": "Llama 3.1 70B", "chip": "H100 SXM", "chips": 2, "dtype": "fp8", "claimed": 51.67},
]


def _claim_ratio(v):
    # the batch-1 bound: every weight read once per token at the peak HBM bandwidth of all the chips
    # (full overlap, context 1); int weights are multiplied in bf16, as their kernels do
    step = decode_step(v["model"], v["chip"], 1, 1, v["chips"], dtype=v["dtype"], overlap="full",
                       math_dtype="bf16" if v["dtype"].startswith("int") else None)
    return v["claimed"] / float(step.tokens_per_second)


def _claim_hints(v):
    bytes_per = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}[v["dtype"]]
    out = [(8.0, "Weights are stored in BYTES: "
                   f"{bytes_per:g} byte(s) per parameter in {v['dtype']}, not {8 * bytes_per:g} bits."),
           (100.0, "Give claimed / bound as a plain ratio (2.0), not a percentage.")]
    if v["chips"] > 1:
        out.append((v["chips"], f"The claim is for {v['chips']} GPUs together: their bandwidths add up."))
    else:
        out.append((1 / 8, "The claim is for ONE GPU, not an 8-GPU node."))
    if v["dtype"] != "bf16":
        out.append((2 / bytes_per, f"The weights are {v['dtype']}: {bytes_per:g} byte(s) per parameter, "
                                   "not the 2 bytes of fp16."))
    return out


register(
    "08.9", _claim_ratio, rel=0.02, unit="", variants=CLAIMS, hints=_claim_hints,
    question="Claimed batch-1 tokens/s divided by the upper bound chips x HBM bandwidth / weight bytes "
             "(every weight read once per token, full overlap, context ignored). Above 1: impossible.")

# ---- 08.10: unit slips on DeepSeek's day-6 figures ------------------------------------------------
# What a careless reader of the day-6 note could write as "output tokens/s per node": the prefill
# nodes' 73.7k INPUT tokens/s (cache hits included); 14.8k per node read as per GPU (x 8); per node
# read as per unit of 18 nodes (/ 18); and the correct figure.
SLIPS = [{"claimed": 73_700.0}, {"claimed": 8 * 14_800.0}, {"claimed": 14_800.0 / 18},
         {"claimed": 14_800.0}]


def _slip_ratio(v):
    return v["claimed"] / float(rz.bound_for(rz.measurement("deepseek-decode")))


register(
    "08.10", _slip_ratio, rel=0.02, unit="", variants=SLIPS,
    hints=[(1 / 18, "The bound is per 8-GPU node: scale the 144-GPU unit's tokens/s by 8 / 144."),
           (8.0, "The bound is per NODE (8 GPUs), not per GPU."),
           (100.0, "Give the ratio, not a percentage.")],
    question="The claimed output tokens/s per H800 node divided by the decode bound per node of "
             "DeepSeek's setup (4,989 tokens of bf16 MLA cache, fp8 weights, 144-GPU units).")

# ---- 08.11: one-way link bandwidth in an all-reduce -------------------------------------------------
RINGS = {"chip": ["H100 SXM", "H200 SXM", "B200", "MI300X"], "ranks": [8, 4, 2],
         "gib": [1.0, 0.25, 4.0, 0.0625]}


def _ring_time(v):
    hw = hardware(v["chip"])
    return float(all_reduce_time(v["gib"] * GiB, v["ranks"], hw.scaleup_bandwidth, 0.0, base_latency=0.0))


def _ring_hints(v):
    n = v["ranks"]
    return [(0.5, "The datasheet's NVLink / Infinity Fabric figure counts BOTH directions: one way "
                  "is half of it, and a ring sends one way on each link."),
            (n / (2 * (n - 1)), "A ring all-reduce moves 2 (n - 1) / n of the message through each "
                                "link (reduce-scatter, then all-gather), not the message once."),
            (1e9 / GiB, "The message is in GiB: 2^30 bytes per GiB, not 10^9."),
            (1e3, "Give the time in seconds.")]


register(
    "08.11", _ring_time, rel=0.02, unit="s", variants=RINGS, hints=_ring_hints,
    question="Least time, in seconds, of a ring all-reduce of `gib` GiB over `ranks` chips: "
             "2 (n - 1) / n x bytes / (one-way link bandwidth per chip), latencies ignored.")

# ---- 08.12: MiB, GB and GiB -----------------------------------------------------------------------
# nvidia-smi totals (MiB), from modal-labs/modal-client PR #2797 ("H100: 81559MiB (85.52 GB) - A100
# 80GB: 81920MiB - A100 40GB: 40960MiB - A10: 23028MiB - L40S: 46068MiB - L4: 23034MiB - T4:
# 15360MiB") and NVIDIA/cuda-samples issue #311 (H200: "0MiB / 143771MiB").
SMI = [{"gpu": "H100 80GB", "mib": 81_559}, {"gpu": "A100 80GB", "mib": 81_920},
       {"gpu": "H200", "mib": 143_771}, {"gpu": "L40S", "mib": 46_068}, {"gpu": "A100 40GB", "mib": 40_960},
       {"gpu": "A10", "mib": 23_028}, {"gpu": "L4", "mib": 23_034}, {"gpu": "T4", "mib": 15_360}]


register(
    "08.12", lambda v: v["mib"] * GiB / 1024, rel=0.005, unit="bytes", variants=SMI,
    hints=[(1e6 / 2**20, "A MiB is 2^20 = 1,048,576 bytes, not 10^6."),
           (1e-9, "Convert MiB to bytes, not to decimal GB."),
           (1 / GiB, "Convert MiB to bytes, not to GiB."),
           (1 / 2**20, "Give bytes, not MiB.")],
    question="Bytes of memory that nvidia-smi reports as `mib` MiB in total.")

# ---- 08.13: a prediction against its measurement ----------------------------------------------------
ROWS = ["mlperf41-llama2-70b-h100sxm-8-offline", "mlperf51-llama2-70b-h200sxm-8-offline",
        "mlperf51-llama2-70b-mi325x-8-offline", "mlperf51-mixtral-8x7b-h200sxm-8-offline",
        "mlperf51-llama31-405b-h200sxm-8-offline", "mlperf51-llama2-70b-b200-8-offline",
        "nim-llama33-70b-h100x2-5000in-c25", "deepseek-day6-decode-h800", "sglang-large-ep-decode-h100"]
PREDICT = {"key": ROWS}


def _predicted_ratio(v):
    r = pub.result(v["key"])
    return float(r.estimate().tokens_per_second) * r.measured_chips / r.chips / r.measured


def _predict_hints(v):
    r = pub.result(v["key"])
    out = [(100.0, "Give predicted / measured as a plain ratio.")]
    if r.measured_chips != r.chips:
        out.append((r.chips / r.measured_chips, f"The measurement covers {r.measured_chips} chips (one node); "
                                                f"the prediction is for all {r.chips}: scale it."))
    return out


register(
    "08.13", _predicted_ratio, rel=0.01, unit="", variants=PREDICT, hints=_predict_hints,
    question="rl.serving_estimate's predicted output tokens/s for the row's setup (Result.estimate()), "
             "scaled to the chips the measurement covers, divided by the measurement.")
