"""From one step to a service: the mixed step of continuous batching, the knobs around it, and cost.

A server runs one engine step after another. With continuous batching each step decodes one token
for every sequence already generating (d of them, each attending to S cached tokens) and, with
chunked prefill, pushes up to a budget of p prompt tokens of newly arrived requests through the
same weights. One step reads the weights once for all d + p positions:

    compute    2 (d + p) N_active / (C F)
    weights    W_bytes / (C W)
    attention  [d A_decode(S) + p A_prefill(I) / I] / (C F_bf16)    (a prompt of I tokens in chunks)
    kv         [d S kv + p kv] / (C W)                               (cache reads + prompt writes)
    comm       the all-reduces of d + p activations                  (tensor parallelism)

combined by `step.build_step` (`mixed_step`). With p = 0 it is `roofline.decode_step`; with d = 0
and p = I it is `context.prefill_step`: the tests hold it to both.

A mixture of experts (`models.Model.is_moe`) is served with expert parallelism, as chapter 3 does,
through `moe.with_experts` (a dense model's step is returned untouched, bit for bit):

    weights    moe_weight_bytes_read(d + p) / (C W)   the always-used weights + the experts the
                                                      d + p positions touch, E (1 - (1 - k/E)^(d+p))
    comm       all_to_all_time(d + p)                 dispatch + combine of every position, in place
                                                      of tensor parallelism's all-reduces

so with p = 0 it is `moe.moe_decode_step`. DeepSeek-V3 on 144 H800 (fp8, bf16 cache, fp8 dispatch),
4,989 tokens: 24.2k output tokens/s per 8-GPU node at peak rates against the 14.8k DeepSeek
publishes (0.61 of the model); charged as a dense model with 144-way all-reduces it would be 0.8k.

Two service-level targets come out of the step: the time to first token (TTFT: waiting, then the
prompt's prefill) and the time per output token (TPOT: the step time while the sequence decodes).

The rest of the module builds on it, one function each:

    step_time_table             the mixed step over a grid of (d, p), once per simulation
    kv_transfer_time            disaggregated serving: a prompt's cache over the scale-out link
    prefill_nodes_per_decode_node   pool sizes that keep prefill and decode equally busy
    uncached_prompt_tokens      prefix caching: prompt tokens left to compute after cache hits
    prefix_cached_prefill       ... and the prefill time of a miss, a hit and their mean
    speculation_break_even_batch    the batch above which speculative decoding stops paying
    frontier, pareto            speed per user against cost per token, over batch and chips
    cost_per_million_tokens     load -> cost: an idle chip still costs its hourly price

Assumptions, stated once: every sequence of a step attends to the same mean context S (a table
per S, not per sequence); the step's fixed host cost is `estimate.STEP_OVERHEAD` unless given.
For an MoE, `moe`'s assumptions hold: routing uniform and independent between positions (prompt
tokens of one request are not: real prefill touches fewer distinct experts, and real routers have
popular experts), weights and work spread evenly over the chips (the active weights of one layer
sit on at most k chips: `moe.expert_read_floor`), attention data-parallel, the all-to-all
bandwidth-only (no latency term) and not overlapped with compute under overlap="none"
(DeepSeek overlaps two micro-batches: overlap="full" is that ideal); `frontier` and
`speculation_break_even_batch` route every verified position, and `prefill_step`'s
tensor-parallel prefill (d = 0) is not the same as the mixed step's expert-parallel one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attention import decode_attention_flops, prefill_attention_flops
from .collectives import SCALEOUT_BANDWIDTH, hop_time
from .context import prefill_step
from .errors import (broadcast, choice, context_tokens, fraction, non_negative, positive, scalar_or_array,
                     whole_number)
from .estimate import STEP_OVERHEAD
from .formats import format_key, math_format, stored_weight_bytes
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes, kv_bytes_per_token
from .models import model as lookup_model
from .moe import with_experts
from .roofline import decode_step, max_batch
from .roofline import max_batch as fitting_batch   # step_time_table's argument shadows the name
from .solve import largest_below
from .speculative import speculative_step
from .step import OVERLAPS, DecodeStep, build_step
from .units import HOUR

__all__ = ["mixed_step", "step_time_table", "StepTable", "kv_transfer_time", "prefill_nodes_per_decode_node",
           "uncached_prompt_tokens", "PrefixPrefill", "prefix_cached_prefill", "speculation_break_even_batch",
           "Frontier", "frontier", "pareto", "cost_per_million_tokens"]


# ---- the mixed step of continuous batching ---------------------------------------------------

def _mixed(m, h, d, p, s, c, prompt, math, w_bytes, kv_tok, overlap, dtype, moe_kw) -> DecodeStep:
    # Checked inputs only. The step is built for "one sequence" carrying the step's totals, so
    # build_step's per-sequence sums become per-step sums (b = 1).
    prompt = np.maximum(prompt, 1.0)
    attn = (d * decode_attention_flops(m, s) + p * prefill_attention_flops(m, prompt) / prompt) \
        if overlap == "none" else 0.0
    step = build_step(m, h, 1.0, s, c, positions=d + p, attention_flops=attn, kv_bytes=(d * s + p) * kv_tok,
                      weight_bytes=w_bytes, math=math, overlap=overlap, tokens=d)
    return _routed(m, h, step, d + p, dtype, **moe_kw)


def _routed(m, h, step, positions, dtype, **moe_kw):
    """A dense model's step unchanged (the same object); an MoE's with the experts its `positions`
    touch and its all-to-all (`moe.with_experts`). An empty step (0 positions) is priced as 1."""
    if not m.is_moe:
        return step
    routed = np.asarray(positions, dtype=float)
    routed = np.where(routed > 0, routed, 1.0) if routed.ndim else max(float(routed), 1.0)
    return with_experts(m, h, step, routed, dtype=dtype, **moe_kw)


def _checked(model, hw, dtype, math_dtype, kv_dtype, overlap):
    m, h = lookup_model(model), lookup_hardware(hw)
    math = math_format(dtype, math_dtype)
    h.flops_for(math)
    choice("overlap", overlap, OVERLAPS)
    kv_tok = float(kv_bytes_per_token(m, None, dtype=format_key(kv_dtype, "kv_dtype")))
    return m, h, math, stored_weight_bytes(m, dtype), kv_tok


def mixed_step(model, hw, decode_batch, prefill_tokens, context, chips=1, *, prompt=None, dtype: str = "bf16",
               math_dtype: str | None = None, kv_dtype: str = "bf16", overlap: str = "none",
               dispatch_dtype: str = "bf16", combine_dtype: str | None = None) -> DecodeStep:
    """One continuous-batching step: `decode_batch` sequences decode one token each at `context`,
    and `prefill_tokens` prompt tokens (chunks of prompts `prompt` tokens long; default: one whole
    prompt of `prefill_tokens`) go through the same weights (module docstring for the terms).

    `.time` is the step time, the TPOT every decoding sequence sees while the step carries this
    prefill. For a mixture of experts the d + p positions choose the experts read and travel in
    the all-to-all (in `dispatch_dtype`, back in `combine_dtype`; module docstring).
    Llama 3.1 70B on 8 H100 (bf16), 64 sequences at 2,048 tokens: 9.1 ms alone; with a whole
    8,192-token prompt in the same step, 242 ms (per phase, overlap="none").
    """
    m, h, math, w_bytes, kv_tok = _checked(model, hw, dtype, math_dtype, kv_dtype, overlap)
    d = non_negative("decode_batch", decode_batch)
    p = non_negative("prefill_tokens", prefill_tokens)
    s = context_tokens(m, context)
    c = whole_number("chips", chips)
    i = p if prompt is None else positive("prompt", context_tokens(m, prompt, "prompt"))
    broadcast(decode_batch=d, prefill_tokens=p, context=s, chips=c, prompt=i)
    if np.any(np.asarray(d) + np.asarray(p) <= 0):
        raise ValueError("decode_batch + prefill_tokens must be > 0 (an empty step does nothing)")
    return _mixed(m, h, d, p, s, c, i, math, w_bytes, kv_tok, overlap, dtype,
                  dict(dispatch_dtype=dispatch_dtype, combine_dtype=combine_dtype))


@dataclass(frozen=True)
class StepTable:
    """Step times (s) over decode batch d = 0..max_batch (rows) and prefill tokens p = 0, g, 2g, ...
    (columns, g = `granularity`), each including the fixed `overhead`; 0 for the empty step.
    `lookup(d, p)` rounds p up to the grid (a chunk never costs less than its tokens).
    `kv_capacity`: tokens of KV cache the replica's HBM holds beside the weights (inf: no limit)."""

    times: np.ndarray
    granularity: float
    overhead: float
    kv_capacity: float = np.inf

    def lookup(self, d: int, p: float) -> float:
        return float(self.times[d, int(-(-p // self.granularity))])


def step_time_table(model, hw, context, chips=1, *, max_batch, max_prefill_tokens, prompt,
                    granularity: float = 64.0, dtype: str = "bf16", math_dtype: str | None = None,
                    kv_dtype: str = "bf16", overlap: str = "none", step_overhead: float = STEP_OVERHEAD,
                    dispatch_dtype: str = "bf16", combine_dtype: str | None = None) -> StepTable:
    """`mixed_step` times over every decode batch up to `max_batch` and every prefill budget up to
    `max_prefill_tokens` (in steps of `granularity` tokens), in ONE vectorised call, plus the
    fixed `step_overhead` per step (seconds). A simulator looks steps up here instead of
    rebuilding them. Llama 3.1 70B (bf16) on 8 H100, S = 2,048: times[64, 0] = 9.1 ms + 0.58 ms.

    `.kv_capacity` = `roofline.max_batch` at a context of one token: the tokens whose caches fit in
    the chips' HBM beside the weights (8 H100, Llama 3.1 70B in bf16: (640e9 - 141.10e9) B /
    327,680 B = 1,522,507 tokens), which a simulator's admission reserves from (`queueing`). A
    sliding-window layer is counted as storing every token (at one token it does), so for such
    models the capacity is a lower bound.
    """
    m, h, math, w_bytes, kv_tok = _checked(model, hw, dtype, math_dtype, kv_dtype, overlap)
    s = float(context_tokens(m, context))
    c = float(whole_number("chips", chips))
    bmax = int(whole_number("max_batch", max_batch))
    g = float(positive("granularity", granularity))
    pmax = float(non_negative("max_prefill_tokens", max_prefill_tokens))
    i = float(positive("prompt", context_tokens(m, prompt, "prompt")))
    over = float(non_negative("step_overhead", step_overhead))
    d = np.arange(bmax + 1, dtype=float)[:, None]                      # (B + 1, 1) decoding sequences
    p = g * np.arange(int(np.ceil(pmax / g)) + 1, dtype=float)[None, :]  # (1, K) prompt tokens in the step
    moe_kw = dict(dispatch_dtype=dispatch_dtype, combine_dtype=combine_dtype)
    times = np.asarray(_mixed(m, h, d, p, s, c, i, math, w_bytes, kv_tok, overlap, dtype, moe_kw).time) + over
    times[0, 0] = 0.0
    cap = float(fitting_batch(m, h, 1.0, c, dtype=dtype, kv_dtype=kv_dtype))   # tokens of cache that fit
    return StepTable(times=times, granularity=g, overhead=over, kv_capacity=cap)


# ---- disaggregated prefill and decode --------------------------------------------------------

def kv_transfer_time(model, prompt, *, kv_dtype: str = "bf16", bandwidth=SCALEOUT_BANDWIDTH, links=1):
    """Seconds to move one prompt's KV cache from a prefill node to a decode node:
    latency + kv_bytes(prompt) / (links x bandwidth) (`collectives.hop_time`).

    DeepSeek-V3, 5,000-token prompt, bf16 MLA cache (70,272 B per token): 351 MB over one 400 Gb/s
    NIC: 7.0 ms; over a node's 8 NICs, 0.88 ms.
    """
    m = lookup_model(model)
    nbytes = kv_bytes(m, context_tokens(m, non_negative("prompt", prompt), "prompt"), dtype=kv_dtype)
    return hop_time(nbytes, bandwidth=bandwidth, links=links)


def prefill_nodes_per_decode_node(input_tokens, output_tokens, prefill_rate, decode_rate):
    """Prefill nodes per decode node that keep both pools equally busy: (I / r_p) / (O / r_d).

    I, O: input and output tokens per request (or per day); r_p, r_d: input tokens/s one prefill
    node computes and output tokens/s one decode node generates. DeepSeek's day (608e9 in,
    168e9 out; 73.7k and 14.8k tokens/s per node): 0.727 prefill nodes per decode node.
    """
    i = non_negative("input_tokens", input_tokens)
    o = positive("output_tokens", output_tokens)
    rp = positive("prefill_rate", prefill_rate)
    rd = positive("decode_rate", decode_rate)
    return scalar_or_array((np.asarray(i) / rp) / (np.asarray(o) / rd))


# ---- prefix caching --------------------------------------------------------------------------

def uncached_prompt_tokens(prompt, shared_prefix, *, hit_rate):
    """Prompt tokens a request still computes when a fraction `hit_rate` of requests find their
    `shared_prefix` tokens already cached: I - h P_shared (tokens, on average).

    A 2,000-token prompt whose first 1,500 tokens are a shared system prompt, 90 % hits: 650.
    """
    i = positive("prompt", prompt)
    shared = non_negative("shared_prefix", shared_prefix)
    h = fraction("hit_rate", hit_rate, allow_zero=True)
    if np.any(np.asarray(shared) > np.asarray(i)):
        raise ValueError("shared_prefix must be <= prompt")
    return scalar_or_array(np.asarray(i) - np.asarray(h) * np.asarray(shared))


@dataclass(frozen=True)
class PrefixPrefill:
    """Prefill time (s) of one request under prefix caching: `miss` (the whole prompt), `hit` (the
    suffix after the cached prefix) and `mean` = h hit + (1 - h) miss; `saved` = miss - mean."""

    miss: float
    hit: float
    mean: float

    @property
    def saved(self):
        return scalar_or_array(np.asarray(self.miss) - np.asarray(self.mean))


def prefix_cached_prefill(model, hw, prompt, shared_prefix, chips=1, *, hit_rate, dtype: str = "bf16",
                          math_dtype: str | None = None, kv_dtype: str = "bf16") -> PrefixPrefill:
    """`context.prefill_step` of a `prompt`-token prompt on a miss and of its suffix after a cached
    `shared_prefix` on a hit, and their mean at `hit_rate` (the prefill pool's work per request).

    A hit's suffix is prefilled alone: its attention to the cached prefix, P (I - P) query-key
    pairs, is left out, so `hit` is slightly short. Llama 3.1 70B (fp8, fp8 cache) on 8 H100,
    2,000 tokens with 1,500 shared, 90 % hits: 40 ms on a miss, 11 ms on a hit, 14 ms mean.
    """
    left = uncached_prompt_tokens(prompt, shared_prefix, hit_rate=1.0)     # checks prompt >= shared_prefix
    h = np.asarray(fraction("hit_rate", hit_rate, allow_zero=True), dtype=float)
    if np.any(np.asarray(left) <= 0):
        raise ValueError("shared_prefix must be < prompt (a hit leaves at least one token to prefill)")
    kw = dict(dtype=dtype, math_dtype=math_dtype, kv_dtype=kv_dtype)
    miss = np.asarray(prefill_step(model, hw, prompt, 1, chips, **kw).time)
    hit = np.asarray(prefill_step(model, hw, left, 1, chips, **kw).time)
    return PrefixPrefill(miss=scalar_or_array(miss), hit=scalar_or_array(hit),
                         mean=scalar_or_array(h * hit + (1 - h) * miss))


# ---- speculative decoding as a service knob --------------------------------------------------

def speculation_break_even_batch(model, hw, context, chips=1, *, draft_tokens, acceptance, dtype: str = "bf16",
                                 kv_dtype: str = "bf16", overlap: str = "none") -> float:
    """The batch above which speculative decoding (a free drafter: MTP head or n-gram) makes the
    time per token WORSE than plain decoding: the largest B with
    speculative_step(B).time_per_token <= decode_step(B).time_per_token (`solve.largest_below`).

    `inf` if no batch up to 1e6 makes it slower (at long contexts the cache reads, read once for
    all k + 1 positions, dominate the step). Llama 3.1 70B on 8 H100 at 1,024 tokens, 4 guesses at
    a = 0.7: 198 (see `speculative`); fp8 at 2,048 tokens, one guess at 0.85: inf.
    """
    m, h = lookup_model(model), lookup_hardware(hw)

    def ratio(b):
        spec = speculative_step(m, h, b, context, chips, draft_tokens=draft_tokens, acceptance=acceptance,
                                dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
        plain = decode_step(m, h, b, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
        spec = _routed(m, h, spec, np.asarray(spec.positions) * np.asarray(spec.batch), dtype)
        plain = _routed(m, h, plain, plain.batch, dtype)
        return np.asarray(spec.time_per_token) / np.asarray(plain.time_per_token)

    b = float(largest_below(ratio, 1.0, lo=1.0, hi=1e6, iters=50))
    return np.inf if b >= 1e6 else b    # never stops paying: the cache reads it shares dominate


# ---- the latency-throughput frontier -----------------------------------------------------------

@dataclass(frozen=True)
class Frontier:
    """Configurations (flattened arrays): `chips`, `batch`, per-user tokens/s (`speed`), $ per output
    token (`cost`), step time (`step_time`, s). `on_frontier` marks those no other beats on both."""

    chips: np.ndarray
    batch: np.ndarray
    speed: np.ndarray
    cost: np.ndarray
    step_time: np.ndarray

    @property
    def on_frontier(self) -> np.ndarray:
        return pareto(self.speed, self.cost)


def frontier(model, hw, context, *, chips=(1, 2, 4, 8), batches=None, dollars_per_chip_hour, dtype: str = "bf16",
             kv_dtype: str = "bf16", math_dtype: str | None = None, draft_tokens=0, acceptance=0.0,
             overlap: str = "none") -> Frontier:
    """Speed per user against cost per token over batch and chip count: every configuration whose
    weights and caches fit, from one `speculative_step` call (`draft_tokens` = 0: plain decoding);
    for a mixture of experts, made expert-parallel by `moe.with_experts` (= `moe.moe_speculative_step`).

    speed = tokens per step / step time; cost = step time x chips x price / (batch x tokens per
    step) (as `roofline.cost_per_token`, counting accepted tokens). `batches`: default 1..4,096
    on a log grid. Llama 3.1 70B, fp8, 1-8 H100, 2,048 tokens, $2/h: from 233 tokens/s per user at $19
    per million tokens (8 chips, batch 1) to $0.113 at 40 tokens/s (2 chips, batch 244).
    """
    price = float(positive("dollars_per_chip_hour", dollars_per_chip_hour))
    m, h = lookup_model(model), lookup_hardware(hw)
    s = float(context_tokens(m, context))
    cs = np.asarray(whole_number("chips", chips), dtype=float).ravel()
    bs = np.unique(np.round(np.geomspace(1, 4096, 60))) if batches is None else \
        np.asarray(positive("batches", batches), dtype=float).ravel()
    fit = np.asarray(max_batch(m, h, s, cs, dtype=dtype, kv_dtype=kv_dtype), dtype=float)
    c2, b2 = np.meshgrid(cs, bs, indexing="ij")
    ok = b2 <= fit[:, None]
    if not ok.any():
        raise ValueError(f"{m.name} does not fit on {int(cs.max())} x {h.name} at {s:,.0f} tokens")
    c1, b1 = c2[ok], b2[ok]
    step = speculative_step(m, h, b1, s, c1, draft_tokens=draft_tokens, acceptance=acceptance, dtype=dtype,
                            math_dtype=math_dtype, kv_dtype=kv_dtype, overlap=overlap)
    step = _routed(m, h, step, np.asarray(step.positions) * b1, dtype)     # an MoE: experts touched, all-to-all
    t, tok = np.asarray(step.time), np.asarray(step.tokens)
    cost = t * c1 * h.chips * price / HOUR / (b1 * tok)
    return Frontier(chips=c1, batch=b1, speed=tok / t, cost=cost, step_time=t)


def pareto(speed, cost) -> np.ndarray:
    """Boolean mask of the points no other point beats on both axes (faster AND cheaper)."""
    v = np.asarray(speed, dtype=float).ravel()
    k = np.asarray(cost, dtype=float).ravel()
    order = np.lexsort((k, -v))                 # fastest first; ties: cheapest first
    best = np.minimum.accumulate(k[order])
    keep = np.empty(v.size, dtype=bool)
    keep[order] = k[order] <= np.concatenate(([np.inf], best[:-1]))
    return keep


# ---- load -> cost ------------------------------------------------------------------------------

def cost_per_million_tokens(tokens_per_second, chips, *, dollars_per_chip_hour, utilisation=1.0):
    """Dollars per million output tokens when `chips` chips, rented at `dollars_per_chip_hour`,
    generate `tokens_per_second` while busy and are busy a fraction `utilisation` of the time:

        $/M = 1e6 x chips x price / 3600 / (utilisation x tokens/s)

    An idle chip still costs its hourly price, so cost rises as 1 / utilisation. SGLang's 8 x H100
    node at 22.3k tokens/s, $2 per GPU-hour: $0.199 per million (the blog's "$0.20").
    """
    r = positive("tokens_per_second", tokens_per_second)
    c = positive("chips", chips)
    p = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    u = fraction("utilisation", utilisation)
    broadcast(tokens_per_second=r, chips=c, dollars_per_chip_hour=p, utilisation=u)
    return scalar_or_array(1e6 * np.asarray(c) * p / HOUR / (np.asarray(u) * r))
