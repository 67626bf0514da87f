"""Published serving measurements: what each figure counts, on which chips, from which source.

The data behind chapter 8. Each `Measurement` carries everything the bound needs (model, chip,
chips, precision, context, the deployment unit that holds one copy of the weights) and its
source; `reality.bound_for` compares one with the roofline. MLPerf "tokens per second" counts
OUTPUT tokens (its logs report samples/s x tokens per sample = tokens/s).
"""
from __future__ import annotations

from dataclasses import dataclass

_DEEPSEEK = ("https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/"
             "202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md")
_MLPERF = ("https://github.com/mlcommons/inference_results_v4.1/blob/198fc46799b3328b36ee4bcbdebfa2db5a8e6183/"
           "closed/{submitter}/results/{system}/llama2-70b-99/{scenario}/performance/run_1/mlperf_log_summary.txt")
_MLPERF_README = ("https://github.com/mlcommons/inference/blob/master/language/llama2-70b/README.md "
                  "('Accuracy Target ... Tokens per sample: 294.45'; prompts capped at 1,024 tokens by processorca.py)")

#: MLPerf llama2-70b: reference mean OUTPUT length, tokens per sample (source: _MLPERF_README;
#: closed-division runs must stay within 90-110 % of it; NVIDIA's H200 run logged 291.2).
MLPERF_OUTPUT_TOKENS = 294.45
#: The smallest possible mean decode context for a mean output of O tokens: with an empty prompt,
#: output token j attends to j - 1 earlier tokens; averaged over tokens that is E[O(O-1)/2] / E[O]
#: >= (E[O] - 1) / 2 (Jensen). Any real prompt only lengthens the context, so this is optimistic.
MLPERF_MIN_CONTEXT = (MLPERF_OUTPUT_TOKENS - 1.0) / 2.0

#: DeepSeek's day of production (2025-02-27/28): input tokens that hit the on-disk KV cache.
DEEPSEEK_CACHE_HIT_FRACTION = 342e9 / 608e9
#: ... and the average KV-cache length per output token (DeepSeek's own figure).
DEEPSEEK_CONTEXT = 4989.0
#: Decode deployment unit: 18 nodes x 8 H800 (EP144), one copy of the weights across them.
DEEPSEEK_DECODE_GPUS = 144
DEEPSEEK_NODE_GPUS = 8


@dataclass(frozen=True)
class Measurement:
    """One published serving figure, with everything the bound needs.

    value: tokens/s for the `chips` chips the figure covers (a whole MLPerf system, or one
    8-GPU node for DeepSeek). unit_chips: chips sharing ONE copy of the weights in the bound (the
    deployment unit; the bound is computed for the unit and scaled to `chips`). phase: 'decode'
    (output tokens) or 'prefill' (input tokens). context: mean decode context assumed, tokens.
    output_tokens: mean output tokens per request when the same chips also run the prefill
    (MLPerf); 0 when prefill runs elsewhere (DeepSeek's disaggregated serving).
    """

    key: str
    label: str
    model: str
    chip: str
    chips: int
    value: float
    phase: str
    dtype: str
    kv_dtype: str
    context: float
    source: str
    unit_chips: int = 0
    cache_hit_fraction: float = 0.0
    output_tokens: float = 0.0
    short: str = ""
    note: str = ""

    @property
    def deployment_chips(self) -> int:
        return self.unit_chips or self.chips


def _mlperf(submitter, system, scenario, chip, chips, value, dtype, note=""):
    key = f"mlperf-{submitter}-{system}-{scenario}".lower()
    label = f"MLPerf v4.1 {scenario}: {chips} x {chip} ({submitter}, {dtype})"
    cts = " 1kW" if "CTS" in system else ""
    short = f"{chips}x {chip.split()[0]}{cts} {scenario} ({submitter})"
    return Measurement(
        key=key, label=label, short=short, model="Llama 2 70B", chip=chip, chips=chips, value=value,
        phase="decode", dtype=dtype, kv_dtype=dtype, context=MLPERF_MIN_CONTEXT,
        output_tokens=MLPERF_OUTPUT_TOKENS,
        source=_MLPERF.format(submitter=submitter, system=system, scenario=scenario) + " ; " + _MLPERF_README,
        note=note or "Output tokens/s of the whole system. KV cache assumed in the weight format "
                     "(optimistic); prefill compute left out (optimistic).")


#: Published serving throughputs, each with its source (the never-beaten test covers them all).
MEASUREMENTS: list[Measurement] = [
    Measurement(
        key="deepseek-decode", label="DeepSeek V3/R1 production, decode (per 8 x H800 node)",
        short="DeepSeek decode (8x H800)",
        model="DeepSeek-V3", chip="H800 SXM", chips=DEEPSEEK_NODE_GPUS, value=14_800.0, phase="decode",
        dtype="fp8", kv_dtype="bf16", context=DEEPSEEK_CONTEXT, unit_chips=DEEPSEEK_DECODE_GPUS,
        source=_DEEPSEEK,
        note="~14.8k output tokens/s per node during decoding; average KV length 4,989 tokens per output "
             "token; FP8 matrix products, BF16 MLA (cache taken as bf16); decode unit EP144 = 18 nodes."),
    Measurement(
        key="deepseek-prefill", label="DeepSeek V3/R1 production, prefill (per 8 x H800 node)",
        short="DeepSeek prefill (8x H800)",
        model="DeepSeek-V3", chip="H800 SXM", chips=DEEPSEEK_NODE_GPUS, value=73_700.0, phase="prefill",
        dtype="fp8", kv_dtype="bf16", context=0.0, unit_chips=32,
        cache_hit_fraction=DEEPSEEK_CACHE_HIT_FRACTION, source=_DEEPSEEK,
        note="~73.7k input tokens/s per node INCLUDING cache hits (56.3% of input tokens hit the on-disk "
             "cache that day); prefill unit EP32 = 4 nodes."),
    _mlperf("NVIDIA", "DGX-H100_H100-SXM-80GBx8_TRT", "Offline", "H100 SXM", 8, 24524.9, "fp8"),
    _mlperf("NVIDIA", "DGX-H100_H100-SXM-80GBx8_TRT", "Server", "H100 SXM", 8, 21605.79, "fp8"),
    _mlperf("NVIDIA", "H200-SXM-141GBx8_TRT", "Offline", "H200 SXM", 8, 31302.7, "fp8"),
    _mlperf("NVIDIA", "H200-SXM-141GBx8_TRT", "Server", "H200 SXM", 8, 29228.22, "fp8"),
    _mlperf("NVIDIA", "H200-SXM-141GB-CTSx8_TRT", "Offline", "H200 SXM", 8, 34864.2, "fp8",
            note="H200 at 1,000 W (CTS); same dense peak as the 700 W part, so the same bound."),
    _mlperf("NVIDIA", "H200-SXM-141GB-CTSx8_TRT", "Server", "H200 SXM", 8, 32789.74, "fp8",
            note="H200 at 1,000 W (CTS); same dense peak as the 700 W part, so the same bound."),
    _mlperf("NVIDIA", "B200-SXM-180GBx1_TRT", "Offline", "B200", 1, 11264.4, "fp4",
            note="Preview submission; FP4 weights where supported (bound uses the fp4 peak and fp4 KV: optimistic)."),
    _mlperf("NVIDIA", "B200-SXM-180GBx1_TRT", "Server", "B200", 1, 10755.59, "fp4",
            note="Preview submission; FP4 weights where supported (bound uses the fp4 peak and fp4 KV: optimistic)."),
    _mlperf("AMD", "8xMI300X_2xEPYC-9374F", "Offline", "MI300X", 8, 23514.8, "fp8"),
    _mlperf("AMD", "8xMI300X_2xEPYC-9374F", "Server", "MI300X", 8, 21028.23, "fp8"),
    _mlperf("AMD", "1xMI300X_2xEPYC-9374F", "Offline", "MI300X", 1, 3062.72, "fp8"),
    _mlperf("AMD", "1xMI300X_2xEPYC-9374F", "Server", "MI300X", 1, 2520.27, "fp8"),
    _mlperf("Google", "DGX-H100_H100-SXM-80GBx8_TRT", "Offline", "H100 SXM", 8, 24133.7, "fp8"),
    _mlperf("Google", "DGX-H100_H100-SXM-80GBx8_TRT", "Server", "H100 SXM", 8, 21588.35, "fp8"),
]

#: DeepSeek's other serving figures from the same day (same source as above).
DEEPSEEK_DAY = {
    "nodes": 226.75,                  # average H800 nodes (8 GPUs each) in service
    "input_tokens": 608e9,            # per day, of which 342e9 cache hits
    "output_tokens": 168e9,           # per day
    "user_tokens_per_second": (20.0, 22.0),   # average output speed per user
    "dollars_per_gpu_hour": 2.0,      # DeepSeek's own H800 rental assumption
    "daily_cost": 87_072.0,           # = 226.75 x 8 x 24 x $2
}


def measurement(key: str) -> Measurement:
    """Look up a measurement by its key (e.g. 'deepseek-decode'); LookupError lists the keys."""
    for m in MEASUREMENTS:
        if m.key == key:
            return m
    raise LookupError(f"unknown measurement {key!r}; known: {', '.join(x.key for x in MEASUREMENTS)}")


# ---- a real roofline measurement, for exercise 08.6 ---------------------------------------------
#: Batches n (rows of X) of the timings below.
BATCHED_MATMUL_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Median seconds of X @ W (float32, W of d x d, X of n x d) by d, one per batch above: measured
#: with `microbench.time_batched_matmul(d, BATCHED_MATMUL_BATCHES, repeats=7)` inside
#: `microbench.single_thread_blas()` on one core of an AMD EPYC server (numpy 2.4.6, OpenBLAS),
#: 2026-12-02, while other jobs shared the machine. The noise is real: at n = 1 numpy calls a
#: matrix-vector routine, faster per byte than the matrix-matrix routine it uses from n = 2, and
#: a busy neighbour can slow any point.
BATCHED_MATMUL_SECONDS = {
    4096: (0.007558, 0.01604, 0.01631, 0.01717, 0.02353, 0.03606, 0.06389, 0.1076, 0.2069),
    3072: (0.004265, 0.009014, 0.008423, 0.01065, 0.01463, 0.02244, 0.03289, 0.06298, 0.1156),
    5120: (0.009683, 0.02585, 0.02407, 0.02645, 0.03511, 0.05214, 0.0918, 0.1654, 0.3341),
    6144: (0.008011, 0.0199, 0.01854, 0.03918, 0.03068, 0.04374, 0.07668, 0.2516, 0.5795),
}
