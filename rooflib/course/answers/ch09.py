"""Answer keys for chapter 9, "From one step to a service".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/09_service.ipynb.
"""
from __future__ import annotations

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
