"""A serving estimate: from the roofline bound to a prediction of what an engine delivers.

Requests of I tokens in and O tokens out are served with continuous batching by replicas of
`tensor_parallel` chips each (`chips` / tp replicas). In steady state every engine step decodes one
token for each of the B sequences in flight, and the prefill of new requests rides in the same
steps (chunked prefill): over the O steps a sequence lives, its I prompt tokens are processed
once, so one step pushes B (1 + I/O) positions through the weights. A step is `step.build_step`'s
per-phase step (overlap="none") at ACHIEVABLE rates (`achievable`), with

    positions per sequence  1 + I / O                           (decode token + its share of prefill)
    attention per sequence  A_decode(S) + A_prefill(I) / O      (causal prefill attention included)
    cache per sequence      S kv + I kv / O                     (reads at context S, prefill writes)
    weights read            all of them; for an MoE, only the experts the step's tokens touch
    collectives             2 all-reduces per layer (dense, tensor parallel); an MoE replica runs
                            attention data-parallel and its experts expert-parallel: the all-to-all
    + a fixed cost per step (launches, sampling, scheduling: `STEP_OVERHEAD`)

S is the mean context a generated token attends to: I + (O - 1) / 2 unless `decode_context` says
otherwise (a dataset whose long answers carry most tokens has a longer token-weighted context).
Then

    time per output token  TPOT = step time            tokens/s = replicas x B / TPOT

KV capacity: a batch must fit its caches, at the mean context, in `KV_MEMORY_FRACTION` of the
replica's HBM less the weights. `batch=None` takes the best batch (and tensor-parallel degree)
that fits; `max_time_per_output_token` keeps only the batches whose TPOT stays within it (MLPerf's
Server and Interactive scenarios; a limit on the 99th percentile is met by the mean TPOT times
`tail_ratio`, the p99 / mean ratio of the run).

Random arrivals and a limit on the first token. With requests arriving at random (a Poisson
stream, as MLPerf's Server scenario sends them) an engine with c batch slots, all busy, makes a
new request wait. Each request holds a slot for its O output tokens, T = O x TPOT seconds; with
T exponential (M/M/c, Erlang's delay formula, an assumption) the wait W of an arrival obeys

    P(W > t) = C(c, a) exp(-(c - a) t / T)       a = requests in flight on average (< c)

where C(c, a) is Erlang's C: the chance that all c slots are busy (`erlang_c`). A p99 limit L on
the time to first token leaves t = L - (the prompt's own prefill) for waiting, so the engine
keeps the largest mean batch a with P(W > t) <= 1% and runs steps of a sequences: tokens/s =
replicas x a / TPOT(a). Slots are the largest batch that meets the TPOT limit. More slots per
replica (a larger tensor-parallel group) need less spare room, in proportion: the square-root rule
of many-server queues. The bound ignores this queue (it is a modelling assumption, not a limit).
The upper bound `bound_tokens_per_second` is the same work in
the lecture's ideal (overlap="full", PEAK rates, no overhead, the whole HBM for the cache), best
over batch and tensor-parallel degree: nothing measured may beat it.

Achievable matmul rates come from `achievable.MEASURED_MATMUL_TFLOPS`. A format with no measurement
on a chip takes the fraction of the closest wider format measured on it (fp4 -> fp8 -> bf16); a
chip with no measurement takes that of its silicon twin (`SAME_SILICON`), else the median bf16
fraction of the measured chips. These fallbacks are assumptions, stated once here.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import lgamma

import numpy as np

from .achievable import MEASURED_MATMUL_TFLOPS, achievable
from .attention import decode_attention_flops, prefill_attention_flops
from .errors import fraction, non_negative, positive, scalar_or_array, whole_number
from .formats import BYTES_PER_ELEMENT, format_key, math_format, stored_weight_bytes
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .moe import all_to_all_time, experts_touched
from .step import build_step

#: Fixed cost of one engine step on the host (scheduling, sampling, launching the CUDA graph),
#: seconds. TensorRT-LLM's PyTorch backend with its overlap scheduler exposes "~580 µs/iter of host
#: overhead as GPU idle" (Llama-3.1-8B fp8 on B200, NVIDIA/TensorRT-LLM issue #13957, 2026-05-10).
STEP_OVERHEAD = 0.58e-3
#: vLLM before multi-step scheduling and async output processing (v0.6.0): "about 4ms of GPU
#: bubble" per decode step (vllm-project/vllm issue #6854, 2024-07-26).
LEGACY_STEP_OVERHEAD = 4e-3
OVERHEAD_SOURCES = ("https://github.com/NVIDIA/TensorRT-LLM/issues/13957 ; "
                    "https://github.com/vllm-project/vllm/issues/6854")

#: Share of HBM an engine gives to weights plus KV cache: vLLM's gpu_memory_utilization default
#: (0.9); TensorRT-LLM's kv_cache_free_gpu_mem_fraction is also 0.9 (of what the weights leave).
KV_MEMORY_FRACTION = 0.9

#: Chips with no matmul measurement of their own, and the measured chip with the same silicon.
SAME_SILICON = {"H800 SXM": "H100 SXM", "GB300": "GB200"}

_WIDER = {"fp4": ("fp8", "bf16"), "nvfp4": ("fp8", "bf16"), "mxfp4": ("fp8", "bf16"), "fp8": ("bf16",),
          "int8": ("fp8", "bf16"), "bf16": (), "fp16": ()}


@dataclass(frozen=True)
class ServingEstimate:
    """Predicted and bound serving rates (floats, or arrays over `batch`).

    tokens_per_second: output tokens/s of all the chips (prediction).
    bound_tokens_per_second: the same work at peak rates in the ideal overlap (upper bound).
    per_user_tokens_per_second = 1 / time_per_output_token; time_to_first_token: one prompt's
    prefill on an idle replica plus one step overhead (no queueing). batch: sequences in flight
    per replica; tensor_parallel: chips per replica; replicas = chips / tensor_parallel;
    max_batch: the KV-capacity limit per replica; step_time without the overhead. slots: with a
    limit on the first token, the slots kept per replica, of which `batch` are busy on average.
    """

    tokens_per_second: object
    bound_tokens_per_second: float
    time_per_output_token: object
    time_to_first_token: float
    batch: object
    tensor_parallel: int
    replicas: int
    max_batch: float
    step_time: object
    overhead: float
    slots: object = None
    """Batch slots per replica an engine keeps for random arrivals (None: `batch`, no queue)."""

    @property
    def per_user_tokens_per_second(self):
        """Tokens per second one request sees while it decodes: 1 / TPOT."""
        return scalar_or_array(1.0 / np.asarray(self.time_per_output_token))

    @property
    def bound_ratio(self):
        """Prediction over bound: the share of the ideal the estimate says an engine keeps."""
        return scalar_or_array(np.asarray(self.tokens_per_second) / self.bound_tokens_per_second)


def matmul_fractions(hw) -> dict:
    """{format: fraction of peak} used for `hw`'s matmuls in a prediction (see the module docstring).

    H100 SXM: bf16 0.803, fp8 0.709 (measured). B200 fp4: its fp8 fraction, 0.763.
    """
    h = lookup_hardware(hw)
    base = h.name if h.chips == 1 else h.name.rsplit(" x", 1)[0]
    src = base if base in MEASURED_MATMUL_TFLOPS else SAME_SILICON.get(base)
    measured = {}
    if src is not None:
        ref = lookup_hardware(src)
        measured = {k: v * 1e12 / ref.flops[k] for k, v in MEASURED_MATMUL_TFLOPS[src].items() if k in ref.flops}
    median = float(np.median([v["bf16"] * 1e12 / lookup_hardware(c).flops["bf16"]
                              for c, v in MEASURED_MATMUL_TFLOPS.items() if "bf16" in v]))
    out = {}
    for key in h.flops:
        found = [measured[k] for k in (key, *_WIDER.get(key, ("bf16",))) if k in measured]
        out[key] = found[0] if found else median
    return out


def engine_step_overhead(engine: str, version: str = "") -> float:
    """Published fixed cost per step for an engine: `LEGACY_STEP_OVERHEAD` for vLLM before 0.6,
    `STEP_OVERHEAD` otherwise (TensorRT-LLM's measured figure stands in for mature engines)."""
    if "vllm" in engine.lower():
        parts = [p for p in version.replace("v", "").split(".")[:2] if p.isdigit()]
        if len(parts) == 2 and (int(parts[0]), int(parts[1])) < (0, 6):
            return LEGACY_STEP_OVERHEAD
    return STEP_OVERHEAD


#: A latency limit in MLPerf is a 99th percentile (loadgen/mlperf.conf: *.Server.target_latency_percentile = 99).
LATENCY_PERCENTILE = 0.99


def erlang_c(slots, load):
    """Erlang's C: the chance that an arrival finds all `slots` busy, with `load` = arrival rate x
    mean holding time (requests in flight on average, load < slots), Poisson arrivals.

        B(c, a) = (a^c / c!) / sum_k<=c a^k / k!        C(c, a) = c B / (c - a (1 - B))

    Erlang's loss formula B, computed in logs (no overflow for c up to ~1e6). 1 slot, load 0.5: 0.5;
    10 slots, load 8: 0.409. Vectorised over `load` for one whole number of slots.
    """
    c = int(whole_number("slots", slots))
    a = np.asarray(non_negative("load", load), dtype=float)
    if np.any(a >= c):
        raise ValueError(f"load must be < slots ({c}), got {np.max(a)!r}")
    return scalar_or_array(_erlang_c(c, a))


def _erlang_c(c, a):
    # B = P(N = c) / P(N <= c) for N ~ Poisson(a). With a < c the upper tail P(N > c) is small and
    # lives within 10 sqrt(c) + 20 terms above c (beyond them each term is below e^-50), so the
    # sum runs over that window only, whatever c is.
    a = np.maximum(np.asarray(a, dtype=float), 1e-300)
    k = c + np.arange(int(10 * np.sqrt(c)) + 21, dtype=float)
    log_fact = lgamma(c + 1.0) + np.concatenate(([0.0], np.cumsum(np.log(k[1:]))))
    pmf = np.exp(k * np.log(a)[..., None] - a[..., None] - log_fact)   # P(N = k), k = c, c + 1, ...
    b = pmf[..., 0] / (1.0 - pmf[..., 1:].sum(axis=-1))
    return c * b / (c - a * (1.0 - b))


def _queued_batch(c, budget, output_tokens, tpot):
    """Largest mean batch a < c with P(wait > budget) <= 1 - LATENCY_PERCENTILE (M/M/c, holding
    time output_tokens x tpot(a)); 0 if none. `tpot` maps an array of batches to seconds. Two
    passes over a grid of 64 loads (the second inside the first's last feasible cell): c / 4,225."""
    if budget <= 0 or c < 1:
        return 0.0
    miss = 1.0 - LATENCY_PERCENTILE
    lo, hi = 0.0, float(c)
    for _ in range(2):
        a = lo + (hi - lo) * np.arange(1, 65) / 65.0
        hold = output_tokens * np.asarray(tpot(a))
        late = _erlang_c(int(c), a) * np.exp(-(c - a) * budget / hold)
        ok = np.nonzero(late <= miss)[0]
        if ok.size == 0:
            return lo
        k = int(ok[-1])
        lo, hi = float(a[k]), float(a[k + 1]) if k + 1 < a.size else hi
    return lo


# ---- the kernel: checked inputs only ---------------------------------------------------------

def _step_times(m, h, b, tp, i, o, s, math, w_all, w_experts, b_expert, kv_tok, overlap):
    """Step time (s) of a replica of `tp` entries of `h` with `b` sequences in flight (array)."""
    pos = 1.0 + i / o
    attn = decode_attention_flops(m, s) + prefill_attention_flops(m, i) / o if overlap == "none" else 0.0
    if m.is_moe:
        touched = np.asarray(experts_touched(m, np.maximum(b * pos, 1e-9))) / m.n_experts
        w_read = (w_all - w_experts) + w_experts * touched   # untouched experts are not read
    else:
        w_read = w_all
    step = build_step(m, h, b, s, tp, positions=pos, attention_flops=attn, kv_bytes=kv_tok * (s + i / o),
                      weight_bytes=w_read, math=math, overlap=overlap)
    if m.is_moe and overlap == "none" and tp > 1:
        # attention data-parallel, experts expert-parallel: the all-to-all replaces the all-reduces
        comm = np.asarray(all_to_all_time(m, h, b * pos, int(tp)))
        return np.asarray(step.attention_phase) + np.asarray(step.matmul_phase) + comm
    return np.asarray(step.time)


def _capacity(h, tp, w_all, kv_per_seq, fraction):
    """Sequences whose caches fit in `fraction` of a replica's HBM beside the weights."""
    return np.floor(max(fraction * tp * h.hbm_capacity - w_all, 0.0) / kv_per_seq)


def _parallel_degrees(h, chips):
    """Tensor-parallel degrees an engine would consider: powers of two dividing `chips`, inside one
    scale-up domain."""
    c = int(chips)
    return [d for d in (1, 2, 4, 8, 16, 32, 64) if c % d == 0 and d <= max(h.scaleup_size, 1)]


def serving_estimate(model, hw, *, chips, input_tokens, output_tokens, batch=None, dtype: str = "bf16",
                     kv_dtype: str = "bf16", math_dtype: str | None = None, expert_dtype: str | None = None,
                     decode_context=None, tensor_parallel=None, max_time_per_output_token=None,
                     step_overhead: float = STEP_OVERHEAD, efficiency: float = 1.0,
                     grid: int = 256, max_time_to_first_token=None, tail_ratio: float = 1.0,
                     matmul_fraction=None, hbm_fraction=None, link_fraction=None) -> ServingEstimate:
    """Predicted output tokens/s of `chips` chips serving requests of `input_tokens` in and
    `output_tokens` out with continuous batching (see the module docstring for the step).

    batch: sequences in flight per replica (a number or an array: one estimate each), or None for
    the best batch that fits (offline). tensor_parallel: chips per replica, or None for the best
    degree. max_time_per_output_token: a latency limit in seconds (None: none). decode_context:
    mean context a generated token attends to (default I + (O - 1) / 2). input_tokens may be 0
    (prefill served elsewhere, as in disaggregated serving). efficiency: the share of the kernel-
    measured rates a whole engine step keeps (1: none lost; the step's GPU time is divided by it).
    tail_ratio: p99 / mean TPOT; the TPOT limit is met by the mean TPOT times it (1: the mean).
    max_time_to_first_token: a p99 limit, seconds, on the first token of requests arriving at
    random (None: no queue): the engine keeps spare slots (see the module docstring).
    matmul_fraction, hbm_fraction, link_fraction: achievable shares of peak matmul FLOP/s (every
    format), HBM and link bandwidth (None: the measured matmul rates, `achievable`'s 90% and 82%).
    Llama 2 70B, fp8 weights and cache, 8 x H100, 222 in / 294 out: 36.5k tokens/s predicted (tp 2,
    batch 1,240 per replica), bound 65.6k; MLPerf v4.1 measured 24.5k.
    """
    m, peak = lookup_model(model), lookup_hardware(hw)
    c = int(whole_number("chips", chips))
    i = float(non_negative("input_tokens", input_tokens))
    o = float(positive("output_tokens", output_tokens))
    s = float(non_negative("decode_context", i + (o - 1.0) / 2.0 if decode_context is None else decode_context))
    if s > m.context_length:
        what = "decode_context" if decode_context is not None else "input_tokens + output_tokens / 2"
        raise ValueError(f"{what} must be <= {m.name}'s context length of {m.context_length:,} "
                         f"tokens, got {s:,.0f}")
    overhead = float(non_negative("step_overhead", step_overhead))
    eta = float(fraction("efficiency", efficiency))
    limit = None if max_time_per_output_token is None else float(
        positive("max_time_per_output_token", max_time_per_output_token))
    tail = float(positive("tail_ratio", tail_ratio))
    if tail < 1.0:
        raise ValueError(f"tail_ratio must be >= 1 (a 99th percentile is at least the mean), got {tail_ratio!r}")
    ttft_limit = None if max_time_to_first_token is None else float(
        positive("max_time_to_first_token", max_time_to_first_token))
    math = math_format(dtype, math_dtype)
    peak.flops_for(math)
    kv_key = format_key(kv_dtype, "kv_dtype")
    n_grid = int(whole_number("grid", grid, low=2))
    degrees = _parallel_degrees(peak, c) if tensor_parallel is None else \
        [int(whole_number("tensor_parallel", tensor_parallel))]
    if c % degrees[0]:
        raise ValueError(f"tensor_parallel must divide chips ({c}), got {degrees[0]}")
    fixed = None if batch is None else positive("batch", batch)
    h = achievable(peak, matmul=matmul_fractions(peak) if matmul_fraction is None else matmul_fraction,
                   hbm=hbm_fraction, link=link_fraction)
    w_all = stored_weight_bytes(m, dtype, expert_dtype)
    b_exp = BYTES_PER_ELEMENT[format_key(expert_dtype or dtype, "expert_dtype")]
    w_experts = m.n_moe_layers * m.n_experts * m.expert_params() * b_exp if m.is_moe else 0.0
    kv_tok = float(kv_bytes_per_token(m, None, dtype=kv_key))
    kv_seq = kv_tok * max(s, 1.0)
    best, bound = None, 0.0
    for tp in degrees:
        cap = _capacity(peak, tp, w_all, kv_seq, KV_MEMORY_FRACTION)
        cap_ideal = _capacity(peak, tp, w_all, kv_seq, 1.0)
        if cap_ideal >= 1:
            grid_ideal = np.minimum(np.asarray(fixed, dtype=float), cap_ideal) if fixed is not None else \
                np.unique(np.round(np.geomspace(1.0, cap_ideal, n_grid)))
            t_ideal = _step_times(m, peak, grid_ideal, float(tp), i, o, s, math, w_all, w_experts, b_exp, kv_tok,
                                  "full")
            ok_ideal = np.ones_like(t_ideal, dtype=bool) if limit is None else t_ideal <= limit
            if ok_ideal.any():   # the bound obeys the same batch and latency limit, at ideal speed
                bound = max(bound, float(np.max(np.where(ok_ideal, grid_ideal / t_ideal, 0.0))) * (c // tp))
        if cap < 1:
            continue
        b = np.minimum(np.asarray(fixed, dtype=float), cap) if fixed is not None else \
            np.unique(np.round(np.geomspace(1.0, cap, n_grid)))   # a batch that does not fit is capped
        def tpot(x, tp=tp):
            return _step_times(m, h, x, float(tp), i, o, s, math, w_all, w_experts, b_exp, kv_tok, "none") / eta \
                + overhead
        t = tpot(b)
        rate = (c // tp) * b / t
        if fixed is None:
            ok = np.ones_like(t, dtype=bool) if limit is None else t * tail <= limit
            if not ok.any():
                continue
            if ttft_limit is None:
                k = int(np.argmax(np.where(ok, rate, -1.0)))
                cand = (float(rate[k]), tp, float(b[k]), float(t[k]), cap, None)
            else:   # random arrivals: the largest batch that meets the TPOT limit is the slots
                slots = float(b[np.nonzero(ok)[0][-1]])
                wait = ttft_limit - _prefill_time(m, h, tp, i, math, w_all, kv_tok) / eta - overhead
                a = _queued_batch(slots, wait, o, tpot)
                if a <= 0:
                    continue
                t_a = float(tpot(np.array([a]))[0])
                cand = ((c // tp) * a / t_a, tp, a, t_a, cap, slots)
            if best is None or cand[0] > best[0]:
                best = cand
        elif best is None or float(np.mean(rate)) > float(np.mean(best[0])):
            best = (rate, tp, b, t, cap, None)
    if best is None:
        why = "the weights do not fit" if limit is None and ttft_limit is None else \
            "no batch meets the latency limits"
        raise ValueError(f"no configuration of {c} x {peak.name} serves {m.name}: {why}")
    rate, tp, b, t, cap, slots = best
    ttft = _prefill_time(m, h, tp, i, math, w_all, kv_tok) / eta + overhead
    return ServingEstimate(tokens_per_second=scalar_or_array(rate), bound_tokens_per_second=bound,
                           time_per_output_token=scalar_or_array(t), time_to_first_token=ttft,
                           batch=scalar_or_array(b), tensor_parallel=tp, replicas=c // tp, max_batch=float(cap),
                           step_time=scalar_or_array(np.asarray(t) - overhead), overhead=overhead,
                           slots=slots)


def _prefill_time(m, h, tp, i, math, w_all, kv_tok):
    """One prompt of `i` tokens on an idle replica, per phase at achievable rates (0 if i == 0)."""
    if i <= 0:
        return 0.0
    step = build_step(m, h, 1.0, i, float(tp), positions=i, tokens=i, attention_flops=prefill_attention_flops(m, i),
                      kv_bytes=kv_tok * i, weight_bytes=w_all, math=math, overlap="none")
    return float(step.time)


__all__ = ["ServingEstimate", "serving_estimate", "matmul_fractions", "engine_step_overhead", "erlang_c",
           "STEP_OVERHEAD", "LEGACY_STEP_OVERHEAD", "KV_MEMORY_FRACTION", "LATENCY_PERCENTILE"]
