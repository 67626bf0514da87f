"""Answer keys for chapter 9, "From one step to a service".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/09_service.ipynb.
"""
from __future__ import annotations

import numpy as np

from ... import queueing as qu
from ... import service as sv
from ...measurements import DEEPSEEK_DAY
from . import register, written

FMT = dict(dtype="fp8", kv_dtype="fp8")

# ---- 09.1: the stall of an unchunked prompt ------------------------------------------------------
STALL = {"prompt": [8192, 4096, 16384, 2048], "decode_batch": [64, 32, 128]}


def _stall(v):
    with_prompt = sv.mixed_step("Llama 3.1 70B", "H100 SXM", v["decode_batch"], v["prompt"], 2048, 8, **FMT).time
    alone = sv.mixed_step("Llama 3.1 70B", "H100 SXM", v["decode_batch"], 0, 2048, 8, **FMT).time
    return with_prompt / alone


register(
    "09.1", _stall, rel=0.02, unit="", variants=STALL,
    hints=lambda v: [(1 / _stall(v) ** 2, "Give the ratio (step with the prompt / step without), not its inverse.")],
    question="Llama 3.1 70B, fp8, 8 x H100, `decode_batch` sequences at 2,048 tokens: how many times longer "
             "is the step when a whole `prompt`-token prompt rides in it (rl.mixed_step)?")

# ---- 09.2: disaggregated pools ------------------------------------------------------------------
POOLS = {"input_tokens": [608e9, 400e9, 800e9, 300e9], "output_tokens": [168e9, 120e9, 250e9]}


def _pools(v):
    return float(sv.prefill_nodes_per_decode_node(v["input_tokens"], v["output_tokens"], 73.7e3, 14.8e3))


register(
    "09.2", _pools, rel=0.01, unit="", variants=POOLS,
    hints=lambda v: [(1 / _pools(v) ** 2, "That is decode nodes per prefill node: invert it."),
                     (14.8 / 73.7, "Each pool has its own rate: input tokens / 73.7k and output tokens / 14.8k.")],
    question="With DeepSeek's per-node rates (73.7k input, 14.8k output tokens/s), how many prefill nodes "
             "per decode node keep both pools busy for a day of `input_tokens` in and `output_tokens` out?")

# ---- 09.3: the cost of idle time -----------------------------------------------------------------
IDLE = {"utilisation": [0.3, 0.5, 0.2, 0.7], "tokens_per_second": [14.8e3, 22.3e3, 10e3]}


def _idle(v):
    return float(sv.cost_per_million_tokens(v["tokens_per_second"], 8, dollars_per_chip_hour=DEEPSEEK_DAY[
        "dollars_per_gpu_hour"], utilisation=v["utilisation"]))


register(
    "09.3", _idle, rel=0.01, unit="$",
    variants=IDLE,
    hints=lambda v: [(v["utilisation"] ** 2, "Idle time raises the cost: divide by the utilisation, don't multiply."),
                     (1 / 8, "A node has 8 GPUs, each rented at $2 per hour.")],
    question="Dollars per million output tokens of an 8-GPU node rented at $2 per GPU-hour that generates "
             "`tokens_per_second` while busy and is busy a fraction `utilisation` of the time.")

# ---- 09.4: explain-why (speculation at large batch) ----------------------------------------------
written("09.4", "Why does one MTP guess still pay at the largest batch while four guesses stop paying "
                "above a few hundred sequences?")

# ---- 09.5: capacity planning (the chapter's section 7) -------------------------------------------
PLAN = {"rate": [40.0, 25.0, 60.0, 80.0], "p50_tpot": [0.03, 0.025, 0.04]}


def _plan(v):
    best, _ = qu.capacity_plan("Llama 3.1 70B", "H100 SXM", v["rate"], input_tokens=1024, output_tokens=256,
                               p99_ttft=1.0, p50_tpot=v["p50_tpot"], chips=(2, 4, 8), max_batch=(64, 128))
    return float(best.chips_total)


register(
    "09.5", _plan, rel=0.001, unit="chips", variants=PLAN,
    hints=lambda v: [(0.5, "Round the replicas UP: a fraction of a replica cannot be rented."),
                     (2.0, "Compare every replica shape: a smaller replica can be the cheaper fleet.")],
    question="Fewest-dollar fleet (chips in all) serving `rate` requests/s of 1,024 in / 256 out (exponential) "
             "with p99 TTFT <= 1 s and median TPOT <= `p50_tpot`, Llama 3.1 70B fp8 on H100, 2/4/8 chips "
             "per replica and batch limits 64/128 (qu.capacity_plan).")

# ---- 09.6: what a shared system prompt saves -----------------------------------------------------
PREFIX = {"prompt": [2000, 4000, 8000, 3000], "shared_prefix": [1500, 1000, 1800], "hit_rate": [0.9, 0.5, 0.75, 0.95]}


def _prefix(v):
    return sv.prefix_cached_prefill("Llama 3.1 70B", "H100 SXM", v["prompt"], v["shared_prefix"], 8,
                                    hit_rate=v["hit_rate"], **FMT)


def _prefix_saving(v):
    return float(_prefix(v).saved)


def _prefix_hints(v):
    pc = _prefix(v)
    return [(1 / v["hit_rate"], "That is what one HIT saves; a miss saves nothing, so weigh it by the hit rate."),
            (pc.mean / pc.saved, "That is the mean prefill left per request; the question asks what the cache saves.")]


register(
    "09.6", _prefix_saving, rel=0.02, unit="s", variants=PREFIX, hints=_prefix_hints,
    question="Llama 3.1 70B, fp8, 8 x H100: a `prompt`-token prompt starts with a `shared_prefix`-token system "
             "prompt that a fraction `hit_rate` of requests find cached. How many seconds of prefill does the "
             "cache save per request, on average (rl.prefill_step of the whole prompt and of the suffix)?")

# ---- 09.7: the chunk that keeps TPOT under a target -------------------------------------------------
CHUNK = {"decode_batch": [64, 32, 128], "target": [0.010, 0.012, 0.015, 0.009]}
CHUNKS = np.arange(64, 8193, 64.0)     # chunk sizes offered: multiples of 64 tokens up to the whole prompt


def _chunk_for(decode_batch, target):
    t = np.asarray(sv.mixed_step("Llama 3.1 70B", "H100 SXM", decode_batch, CHUNKS, 2048, 8, prompt=8192, **FMT).time)
    return float(CHUNKS[t <= target].max())


def _chunk(v):
    return _chunk_for(v["decode_batch"], v["target"])


def _prompt_time(v):
    c = _chunk(v)
    return float(np.ceil(8192 / c) * sv.mixed_step("Llama 3.1 70B", "H100 SXM", v["decode_batch"], c, 2048, 8,
                                                   prompt=8192, **FMT).time)


register(
    "09.7a", _chunk, rel=0.01, unit="tokens", variants=CHUNK,
    hints=lambda v: [(_chunk_for(0, v["target"]) / _chunk(v),
                      "The decoding sequences ride in the same step: count their tokens too.")],
    question="Llama 3.1 70B, fp8, 8 x H100, `decode_batch` sequences decoding at 2,048 tokens while an "
             "8,192-token prompt arrives: the largest chunk (a multiple of 64 tokens) whose step stays within "
             "`target` seconds (sv.mixed_step with prompt=8192).")
register(
    "09.7b", _prompt_time, rel=0.02, unit="s", variants=CHUNK,
    hints=lambda v: [(sv.mixed_step("Llama 3.1 70B", "H100 SXM", v["decode_batch"], 0, 2048, 8, **FMT).time
                      * np.ceil(8192 / _chunk(v)) / _prompt_time(v),
                      "Each chunk's step carries the chunk too: use the step time WITH the chunk.")],
    question="With that chunk, how many seconds do the steps that carry the 8,192-token prompt take in all "
             "(its prefill part of TTFT)?")

# ---- 09.8: waiting in an M/D/1 queue, and Little's law ------------------------------------------------
MD1 = {"service_time": [0.15, 0.1, 0.25], "load": [0.8, 0.5, 0.9, 0.7]}


def _md1(v):
    return float(qu.md1_wait(v["load"] / v["service_time"], v["service_time"]))


def _queue_length(v):
    return v["load"] / v["service_time"] * _md1(v)


register(
    "09.8a", _md1, rel=0.01, unit="s", variants=MD1,
    hints=lambda v: [(2.0, "That is the M/M/1 wait: fixed service times halve it."),
                     (1 - v["load"], "The wait grows as 1 / (1 - rho): divide by (1 - rho), don't leave it out."),
                     ((_md1(v) + v["service_time"]) / _md1(v),
                      "That is the time in the system; the question asks for the wait in the queue alone.")],
    question="One request at a time, each served in exactly `service_time` seconds, Poisson arrivals at "
             "offered load `load`: the mean wait in the queue (M/D/1), in seconds.")
register(
    "09.8b", _queue_length, rel=0.01, unit="requests", variants=MD1,
    hints=lambda v: [((_queue_length(v) + v["load"]) / _queue_length(v),
                      "That counts the request in service too; the question asks for those waiting.")],
    question="By Little's law, how many requests are waiting in the queue on average?")

# ---- 09.9: reading the frontier -------------------------------------------------------------------------
FRONTIER = {"speed": [100.0, 50.0, 150.0, 75.0], "price": [2.0, 2.5, 3.0]}


def _front(v):
    return sv.frontier("Llama 3.1 70B", "H100 SXM", 2048, chips=(1, 2, 4, 8), dollars_per_chip_hour=v["price"], **FMT)


def _cheapest_at(v):
    f = _front(v)
    return float(1e6 * f.cost[f.speed >= v["speed"]].min())


def _frontier_hints(v):
    f = _front(v)
    right = _cheapest_at(v)
    return [(1e6 * f.cost.min() / right, "That is the cheapest configuration at any speed: keep only those at least "
                                         "`speed` tokens/s per user fast."),
            (1e6 * f.cost[np.argmax(f.speed)] / right, "That is the fastest configuration; the question asks for the "
                                                       "cheapest one that is fast enough.")]


register(
    "09.9", _cheapest_at, rel=0.02, unit="$", variants=FRONTIER, hints=_frontier_hints,
    question="Llama 3.1 70B, fp8, H100s at `price` dollars per GPU-hour, 2,048 tokens of context, 1, 2, 4 or 8 "
             "chips and any batch that fits: the lowest cost per million output tokens at a speed of at least "
             "`speed` tokens/s per user (sv.frontier).")
