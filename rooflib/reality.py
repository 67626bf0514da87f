"""Reality check: rooflib's throughput bound against published measurements, and your own machine.

Part 1. An UPPER BOUND on serving throughput. Every assumption is chosen to be optimistic, so a
real system can approach the bound but never beat it; measured / bound is then a lower estimate of
how well the system uses its chips.

* Decode: one step serves B sequences; it takes at least max(compute, weights + KV reads)
  (`roofline.decode_step`), with
    - compute = 2 N_active FLOPs per token at the chip's peak DENSE FLOP/s for the stated
      precision (attention FLOPs left out unless asked for);
    - weights read once per step for the whole group of chips (one copy, spread over all of
      them: the fewest bytes), KV cache read once per sequence per step;
    - B as large as the HBM allows (`roofline.max_batch`): throughput B / max(a B, w + k B) never
      falls as B grows, so the bound is at the largest batch that fits;
    - context: the smallest mean context the workload allows.
  Speculative decoding (several tokens per sequence per step) would raise the memory side, so
  `tokens_per_step` > 1 is available; the compute ceiling C F / (2 N_active) holds for every
  decoding method.
* Prefill: compute only, C F / (2 N_active) tokens/s; prompt tokens served from a prefix cache
  need no compute, so a cached fraction h raises the bound on counted tokens by 1 / (1 - h).

Part 2. Measure your own machine with numpy: matmul FLOP/s, copy bandwidth, and the time of a
batched matrix product W @ X, flat while reading W dominates and then linear; `fit_roofline`
reads the critical intensity off that curve.

Sources of the data are given per entry. MLPerf "tokens per second" counts OUTPUT tokens (its
logs report samples/s x tokens per sample = tokens/s).
"""
from __future__ import annotations

import contextlib
import ctypes
import statistics
import time
from dataclasses import dataclass

import numpy as np

from .errors import positive, scalar_or_array
from .hardware import hardware as lookup_hardware
from .context import attention_flops
from .models import model as lookup_model
from .roofline import DecodeStep, decode_step, max_batch

# ---------------------------------------------------------------------------------------------
# Published measurements
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# The bound
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeBound(DecodeStep):
    """The decode roofline at the throughput-maximising batch (a `DecodeStep` whose batch is the
    largest that fits, unless given). Times in seconds per step; `tokens_per_step` > 1 models
    speculative decoding (see `decode_bound`)."""

    tokens_per_step: float = 1.0

    @property
    def tokens_per_second(self):
        """Upper bound on output tokens/s of the `chips` chips."""
        return scalar_or_array(np.asarray(self.batch) * self.tokens_per_step / np.asarray(self.time))


def decode_bound(model, hw, context, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16", batch=None,
                 attention: bool = False, input_tokens=0.0, output_tokens=None,
                 tokens_per_step: float = 1.0) -> DecodeBound:
    """Upper bound on decode throughput of `chips` chips holding one copy of the weights.

    batch None: the largest batch whose weights + KV fit in HBM (`max_batch`); throughput
    B t / max(a B, w + k B) rises with B, so that is where the bound is. Options, all off by
    default (each one can only LOWER the bound, i.e. make it tighter):
      attention=True: add decode-attention FLOPs (at the kv_dtype rate, or the dtype rate if the
        chip lacks it);
      input_tokens, output_tokens: charge the prefill of `input_tokens` prompt tokens per
        `output_tokens` generated ones to the same chips: compute x (1 + input/output).
    tokens_per_step > 1 models speculative decoding that accepts every draft (optimistic):
    t tokens per sequence per step, t times the compute, the same memory traffic.
    Vectorised over context and batch. DeepSeek-V3 on 144 H800 (fp8 weights, bf16 cache), 4,989
    tokens: 30,945 sequences fit, a step reads the full HBM in 23.9 ms (memory-bound), so
    1.30M tokens/s for the unit, 72,000 per 8-GPU node.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    t = float(positive("tokens_per_step", tokens_per_step))
    if batch is None:
        b = np.asarray(max_batch(m, h, context, chips=chips, dtype=dtype, kv_dtype=kv_dtype), dtype=float)
        if np.any(b < 1):
            raise ValueError(f"{m.name} does not fit in {chips} x {h.name} at {dtype} with this context: "
                             "no batch of even one sequence fits in HBM")
    else:
        b = positive("batch", batch)
    step = decode_step(m, h, b, context, chips=chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
    compute = np.asarray(step.compute) * t
    if attention:
        rate = h.flops.get(kv_dtype, h.flops_for(dtype))
        compute = compute + t * b * np.asarray(attention_flops(m, context)) / (chips * rate)
    if output_tokens is not None:
        i = np.asarray(input_tokens, dtype=float)
        if np.any(i < 0):
            raise ValueError(f"input_tokens must be >= 0, got {input_tokens!r}")
        compute = compute * (1.0 + i / float(positive("output_tokens", output_tokens)))
    return DecodeBound(batch=scalar_or_array(b), compute=scalar_or_array(compute), weights=step.weights,
                       kv=step.kv, context=step.context, chips=chips, tokens_per_step=t,
                       overlap="full")


def compute_ceiling(model, hw, chips=1, dtype: str = "bf16"):
    """Tokens/s no decoding or prefill method can beat: C F / (2 N_active).

    8 H200 in fp8, Llama 2 70B: 8 x 1,978.9e12 / (2 x 68.7e9) = 115,200 tokens/s.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    return scalar_or_array(positive("chips", chips) * h.flops_for(dtype) / (2.0 * m.active_params))


def prefill_bound(model, hw, chips=1, dtype: str = "bf16", cache_hit_fraction=0.0):
    """Upper bound on prompt tokens/s, counting cache hits as free: C F / (2 N_active) / (1 - h)."""
    h_ = np.asarray(cache_hit_fraction, dtype=float)
    if np.any((h_ < 0) | (h_ >= 1)):
        raise ValueError(f"cache_hit_fraction must be in [0, 1), got {cache_hit_fraction!r}")
    return scalar_or_array(np.asarray(compute_ceiling(model, hw, chips, dtype)) / (1.0 - h_))


def bound_for(meas: Measurement, *, attention: bool = False, input_tokens=0.0,
              tokens_per_step: float = 1.0) -> float:
    """The throughput bound (tokens/s, for meas.chips chips) that `meas` is compared with.

    Computed for the deployment unit (one copy of the weights over unit_chips chips) and scaled
    to the chips the figure covers. The defaults give the most optimistic bound; `attention`,
    `input_tokens` (mean prompt tokens per request, charged to the same chips: only for
    measurements whose prefill shares the chips, i.e. output_tokens > 0) and `tokens_per_step`
    are passed to `decode_bound`.
    """
    unit = meas.deployment_chips
    scale = meas.chips / unit
    if meas.phase == "prefill":
        return float(prefill_bound(meas.model, meas.chip, unit, meas.dtype, meas.cache_hit_fraction)) * scale
    shared = meas.output_tokens > 0
    extra = float(input_tokens) if shared else 0.0
    if extra < 0:
        raise ValueError(f"input_tokens must be >= 0, got {input_tokens!r}")
    # A prompt of I tokens also lengthens every decode step's context by I.
    b = decode_bound(meas.model, meas.chip, meas.context + extra, chips=unit, dtype=meas.dtype,
                     kv_dtype=meas.kv_dtype, attention=attention,
                     input_tokens=input_tokens if shared else 0.0,
                     output_tokens=meas.output_tokens if shared else None,
                     tokens_per_step=tokens_per_step)
    return float(b.tokens_per_second) * scale


def efficiency(meas: Measurement, **kwargs) -> float:
    """measured / bound: the fraction of the optimistic roofline the system reached."""
    return meas.value / bound_for(meas, **kwargs)


def deepseek_fleet_check(attention: bool = False) -> dict:
    """Could DeepSeek's whole day of traffic fit in its fleet, at the bounds? How much of it did it need?

    Node-seconds needed at the bounds = input tokens / prefill bound per node + output tokens /
    decode bound per node; available = average nodes x 86,400 s. The ratio must be below 1.
    """
    pre = bound_for(measurement("deepseek-prefill"))
    dec = bound_for(measurement("deepseek-decode"), attention=attention)
    need = DEEPSEEK_DAY["input_tokens"] / pre + DEEPSEEK_DAY["output_tokens"] / dec
    have = DEEPSEEK_DAY["nodes"] * 86_400.0
    return {"prefill_per_node": pre, "decode_per_node": dec, "needed_node_seconds": need,
            "available_node_seconds": have, "busy_fraction": need / have}


def deepseek_user_speed_bound(user_tokens_per_second: float, attention: bool = False) -> float:
    """Fastest per-user speed the roofline allows at the concurrency DeepSeek's figures imply.

    Little's law: sequences in flight per decode unit B = unit throughput / per-user speed
    (14.8k tokens/s per node x 18 nodes / ~21 tokens/s). One step of that batch takes at least
    the roofline time t(B), so each user gets at most 1 / t(B) tokens/s.
    """
    meas = measurement("deepseek-decode")
    unit_throughput = meas.value * meas.deployment_chips / meas.chips
    batch = unit_throughput / float(positive("user_tokens_per_second", user_tokens_per_second))
    b = decode_bound(meas.model, meas.chip, meas.context, chips=meas.deployment_chips, dtype=meas.dtype,
                     kv_dtype=meas.kv_dtype, batch=batch, attention=attention)
    return 1.0 / float(b.time)


# ---------------------------------------------------------------------------------------------
# Measuring your own machine (numpy)
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def single_thread_blas():
    """Run numpy's BLAS on one thread, where the library allows it (OpenBLAS); otherwise do nothing.

    One thread makes the measurements steadier on a shared machine, and matches numpy's copy,
    which is single-threaded anyway: you measure ONE core's roofline. Yields True if pinned.
    """
    setter = getter = None
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for s, g in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                         ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                         ("openblas_set_num_threads", "openblas_get_num_threads")):
                if hasattr(lib, s) and hasattr(lib, g):
                    setter, getter = getattr(lib, s), getattr(lib, g)
                    break
            if setter:
                break
    except (OSError, AttributeError):
        setter = None
    if setter is None:
        yield False
        return
    before = getter()
    setter(1)
    try:
        yield True
    finally:
        setter(before)


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of fn() over `repeats` runs, after `warmup` unrecorded runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_matmul_flops(n: int = 1024, repeats: int = 5, dtype=np.float32) -> float:
    """Achieved FLOP/s of an n x n by n x n product: 2 n^3 / median time."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    return 2.0 * n**3 / median_time(lambda: np.matmul(a, b, out=out), repeats)


def measure_copy_bandwidth(nbytes: float = 2**27, repeats: int = 5) -> float:
    """Achieved memory bandwidth of a large array copy, counting bytes read + bytes written.

    Arrays of 128 MiB by default, far larger than any CPU cache, so the copy streams from DRAM.
    """
    n = int(nbytes) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    return 2.0 * src.nbytes / median_time(lambda: np.copyto(dst, src), repeats)


def time_batched_matmul(d: int = 4096, batches=(1, 2, 4, 8, 16, 32, 64, 128), repeats: int = 5,
                        dtype=np.float32) -> np.ndarray:
    """Median seconds of X @ W for a d x d weight W and a batch of n rows X (n x d), per n.

    W (64 MiB in float32 at d = 4096) is read once per product whatever n is; the FLOPs,
    2 d^2 n, grow with n. Small n: the time is the weight read (flat). Large n: the arithmetic
    (linear). The two meet at n* = 2 x (bytes per element / 2) x critical intensity.
    """
    rng = np.random.default_rng(1)
    w = rng.standard_normal((d, d)).astype(dtype)
    out = []
    for n in batches:
        x = rng.standard_normal((int(n), d)).astype(dtype)
        y = np.empty((int(n), d), dtype=dtype)
        out.append(median_time(lambda: np.matmul(x, w, out=y), repeats))
    return np.asarray(out)


@dataclass(frozen=True)
class RooflineFit:
    """t(n) ~ max(flat, slope x n): the two pieces of a measured roofline."""

    flat: float      # seconds: the weight-read floor
    slope: float     # seconds per batch row: the arithmetic
    residual: float  # rms of log(measured / fitted)

    @property
    def knee(self) -> float:
        """The batch where the pieces meet: flat / slope."""
        return self.flat / self.slope

    def predict(self, n):
        return np.maximum(self.flat, self.slope * np.asarray(n, dtype=float))

    def intensity(self, d: int, bytes_per_element: float = 4.0) -> float:
        """Critical intensity (FLOP/byte) implied by the knee of a d x d product:
        2 d^2 n* FLOPs over d^2 x bytes_per_element bytes of weights = 2 n* / bytes_per_element."""
        return 2.0 * self.knee / bytes_per_element


def fit_roofline(batches, times, method: str = "envelope") -> RooflineFit:
    """Fit t = max(a, b n) to measured times of a batched product.

    method "envelope" (default): the roofline as the LOWER envelope of the measurements, the way
    the roofline bounds real kernels: a = the fastest time measured (reading the weights once),
    b = the smallest time per batch row (the best arithmetic rate reached). Every measurement
    lies on or above the fitted line.
    method "least_squares": least squares on log t. For each split j, the first j points set a
    (geometric mean of their times) and the rest set b (geometric mean of t / n); the split with
    the smallest error wins (with j = len all points are 'flat' and b comes from the last point).
    Either way a and b are positive and finite.
    """
    n = np.asarray(batches, dtype=float)
    t = np.asarray(times, dtype=float)
    if n.shape != t.shape or n.ndim != 1 or n.size < 2:
        raise ValueError("batches and times must be 1-d, of the same length, at least 2")
    if np.any(n <= 0) or np.any(t <= 0) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(n)):
        raise ValueError("batches and times must be positive and finite")
    order = np.argsort(n)
    n, t = n[order], t[order]
    lt = np.log(t)

    def residual(a, b):
        return float(np.sqrt(np.mean((lt - np.log(np.maximum(a, b * n))) ** 2)))

    if method == "envelope":
        a, b = float(t.min()), float((t / n).min())
        return RooflineFit(a, b, residual(a, b))
    if method != "least_squares":
        raise ValueError(f"method must be 'envelope' or 'least_squares', got {method!r}")
    best = None
    for j in range(1, n.size + 1):
        a = float(np.exp(lt[:j].mean()))
        b = float(np.exp((lt[j:] - np.log(n[j:])).mean())) if j < n.size else float(t[-1] / n[-1])
        err = residual(a, b)
        if best is None or err < best[2]:
            best = (a, b, err)
    return RooflineFit(*best)
