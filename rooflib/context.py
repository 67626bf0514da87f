"""Context length: what the KV cache saves, prefill vs decode, the Goldilocks context, capacity.

Notation (as in `roofline`): N_a active and N_t total parameters, b_w bytes per weight, F dense
FLOP/s and W HBM bytes/s of one chip, I* = F / W its critical intensity, S the context (tokens of
history per sequence), B the batch, kv(S) the cache bytes of ONE sequence of S tokens
(`kv.kv_bytes`; sliding windows respected), A(S) attention's own FLOPs for one decode token.

* The cache exists because recomputing the keys and values of S past tokens costs about 2 N_a S
  FLOPs every step, while reading them costs kv(S) bytes. Time ratio: 2 N_a / (I* kv/S) = S*.
* Prefill of a P-token prompt reuses each weight P times: intensity ~ 2 N_a P / (N_t b_w);
  decode reuses it once per sequence of the batch: ~ 2 N_a B / (N_t b_w + B kv(S)).
* Goldilocks context S*: per sequence, the matmuls' arithmetic 2 N_a / F equals the cache reads
  kv(S) / W, i.e. kv(S*) = 2 N_a / I*; for full attention S* = 2 N_a / (I* kv_per_token).
  Past S*, no batch makes a decode step compute-bound, under either step model. The best MFU
  (`mfu_ceiling`) is where the models differ: min(1, S*/S) in the lecture's ideal, where the
  cache reads overlap the matmuls (overlap="full"); 1 / (1 + S/S*) per phase (overlap="none",
  the default, as in `decode_step`), where the attention kernel and the matmuls run one after
  the other: 50% at S* itself.
* Capacity: weights + B kv(S) <= C M bounds the batch at a context and the context at a batch.

Every function treats the chips of a scale-up domain as one (their F, W and M add up), so chips
cancel from every ratio below except the capacity ones, which take `chips`; the tensor-parallel
all-reduces that several chips add (`decode_step(..., chips=C).comm`) are left out of the ratios.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import choice, context_tokens, non_negative, positive, scalar_or_array, whole_number
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes, kv_bytes_per_token, kv_elements_per_layer, kv_layers
from .models import Model, model as lookup_model
from .achievable import peak_fractions
from .attention import (attention_flops, attention_flops_per_position, decode_attention_flops,  # noqa: F401
                        prefill_attention_flops, window_layers as _window_layers)
from .formats import format_key, math_format, stored_weight_bytes
from .roofline import DecodeStep, critical_intensity, decode_step, weight_bytes
from .step import OVERLAPS, build_step
from .units import bytes_per_element


# ---- the piecewise-linear inverse shared by every "which context gives ..." question ------------
def _solve(target, slope_below, slope_above, window):
    """Smallest S >= 0 with g(S) = target, where g(S) = slope_above * S + (slope_below - slope_above)
    * min(S, window): slope `slope_below` up to `window` tokens, `slope_above` after it.

    Vectorised over `target`. inf where g never reaches the target (g stops growing). A target
    <= 0 gives 0.
    """
    t = np.asarray(target, dtype=float)
    out = np.full(t.shape, np.inf)
    if window > 0 and slope_below > 0:
        s1 = t / slope_below
        inside = s1 <= window
        out = np.where(inside, s1, out)
        g_w = slope_below * window
    else:
        inside = np.zeros(t.shape, dtype=bool)
        g_w = slope_below * window
    if slope_above > 0:
        s2 = window + (t - g_w) / slope_above
        out = np.where(inside, out, s2)
    out = np.where(t <= 0, 0.0, out)
    return scalar_or_array(out)


def _kv_slopes(m: Model, kv_dtype: str) -> tuple[float, float, float]:
    """Cache bytes added per token of context (below, above the window) and the window."""
    per_layer = kv_elements_per_layer(m) * bytes_per_element(kv_dtype)
    full, local = kv_layers(m)
    return (full + local) * per_layer, full * per_layer, float(m.window)


def context_for_kv_bytes(model, kv_bytes_per_sequence, *, dtype: str = "bf16"):
    """Inverse of `kv.kv_bytes`: the context S at which ONE sequence's cache holds this many bytes.

    Full attention: S = bytes / kv_per_token. With sliding windows the cache grows fast up to the
    window, then only through its global layers; a model whose every layer is windowed never
    exceeds its window's worth of cache, so larger targets give inf.
    Example: Llama 3.1 70B in bf16 stores 327,680 B per token, so 1 GB holds 3,052 tokens.
    """
    m = lookup_model(model)
    target = non_negative("kv_bytes_per_sequence", kv_bytes_per_sequence)
    below, above, window = _kv_slopes(m, dtype)
    return _solve(target, below, above, window)


# ---- why the cache exists -----------------------------------------------------------------------
def recompute_flops(model, context):
    """FLOPs a decode step would spend, per sequence, rebuilding the keys and values of `context`
    past tokens if nothing were cached: about 2 N_a S.

    A layer's keys and values are computed from that layer's input, which depends on every layer
    below, so without a cache each past token must go through (almost) the whole network again.
    (Strictly the last layer's MLP and the output head could be skipped: a few percent.)
    Llama 3.1 70B at 4,096 tokens: 2 x 69.5e9 x 4096 = 5.7e14 FLOPs per generated token.
    """
    m = lookup_model(model)
    s = context_tokens(m, context)
    return scalar_or_array(2.0 * m.active_params * s)


def goldilocks_context_for(active_params, kv_bytes_per_token, hw, *, dtype: str = "bf16"):
    """The Goldilocks context S* of a model known only by two numbers: where a sequence's KV reads
    take as long as its arithmetic, S* = 2 N_a / (I* kv) (inverted by `prices.implied_kv_bytes_per_token`).

    For a catalog model use `goldilocks_context`, which also handles sliding windows. A model with
    50B active parameters and 3.4 kB of KV per token on B200: 272,000 tokens."""
    n = positive("active_params", active_params)
    kv = positive("kv_bytes_per_token", kv_bytes_per_token)
    return scalar_or_array(2.0 * n / (critical_intensity(hw, dtype) * kv))   # S*'s one home


def recompute_to_read_ratio(model, hw, context=None, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """How many times longer recomputing a cached token takes than reading it from HBM:
    (2 N_a / F) / (kv_per_token / W) = 2 N_a / (I* kv_per_token).

    This is also the Goldilocks context of a full-attention model (`goldilocks_context_for` of its
    two numbers): recomputing one token costs as much time as reading S* tokens. `context` selects
    the average bytes per token for sliding-window models. Llama 3.1 70B on H100: 1,436.
    """
    m = lookup_model(model)
    kv = kv_bytes_per_token(m, context, dtype=kv_dtype)
    return goldilocks_context_for(m.active_params, kv, hw, dtype=dtype)


# ---- arithmetic intensity: prefill vs decode -------------------------------------------------
def decode_intensity(model, batch, context, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """FLOPs per HBM byte of one decode step: 2 B N_a / (N_t b_w + B kv(S)).

    Each weight read serves the B sequences of the batch once each, and every sequence reads its
    own cache. At S = 0 and a dense bf16 model this is simply B; compare with I* = F / W.
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    s = context_tokens(m, context)
    flops = 2.0 * b * m.active_params
    return scalar_or_array(flops / (weight_bytes(m, dtype) + b * np.asarray(kv_bytes(m, s, dtype=kv_dtype))))


def prefill_intensity(model, prompt, batch=1, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """FLOPs per HBM byte of a prefill step: 2 B P N_a / (N_t b_w + B kv(P)).

    Prefill pushes all P prompt tokens through each weight at once, so a weight read serves
    B x P tokens; the bytes moved are the weights plus the cache written for the prompt.
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    p = positive("prompt", context_tokens(m, prompt, "prompt"))
    flops = 2.0 * b * p * m.active_params
    return scalar_or_array(flops / (weight_bytes(m, dtype) + b * np.asarray(kv_bytes(m, p, dtype=kv_dtype))))


@dataclass(frozen=True)
class PrefillStep(DecodeStep):
    """One prefill step: `batch` prompts of `context` tokens each, processed together.

    Same parts as a decode step (`.compute`, `.weights`, `.attention`, `.kv`, `.comm`, `.time`,
    `.bound`, `.mfu`); here `.kv` is the time to WRITE the prompts' cache, a step processes
    batch x context prompt tokens (`.tokens_per_second` counts them), and `.intensity` is its
    FLOPs per HBM byte.
    """

    intensity: object = None


def prefill_step(model, hw, prompt, batch=1, chips=1, *, dtype: str = "bf16", math_dtype: str | None = None,
                 expert_dtype: str | None = None, kv_dtype: str = "bf16", overlap: str = "none") -> PrefillStep:
    """Process `batch` prompts of `prompt` tokens in one step on `chips` chips.

        t_compute   = 2 B P N_a / (C F)          (every prompt token through every active weight)
        t_weights   = W_bytes / (C W)            (each weight read once for all B x P tokens)
        t_kv        = B kv(P) / (C W)            (the prompts' cache written to HBM)
        t_attention = B A_prefill(P) / (C F)     (causal attention: P (P + 1) / 2 pairs per layer)

    combined as in `decode_step` (`overlap`): the lecture's max(t_compute, t_weights + t_kv), or
    (default) the per-phase max(t_attention, t_kv) + max(t_compute, t_weights) plus the all-reduces
    of B x P activations. Llama 3.1 70B, one 4,096-token prompt on 8 H100: compute 72 ms against
    5.3 ms of weights, so compute-bound either way; per phase 2.8 ms of attention and 43 ms of
    all-reduces join it: 118 ms instead of 72 ms.

    Attention's FLOPs per prompt token, a (P + 1) / 2 with `a` = attention_flops_per_position(m,
    "prefill"), equal the weights' 2 N_a at P = 4 N_a / a - 1: about 1.1e5 tokens for Llama 3.1
    70B (GQA, a = 80 x 4 x 64 x 128), but only about 2.9e4 for DeepSeek-V3, whose MLA prefill
    attends with full 192 + 128-wide heads (a = 61 x 2 x 128 x (128 + 64 + 128)).
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    math = math_format(dtype, math_dtype)
    h.flops_for(math)
    choice("overlap", overlap, OVERLAPS)
    b = positive("batch", batch)
    p = positive("prompt", context_tokens(m, prompt, "prompt"))
    c = whole_number("chips", chips)
    w_bytes = stored_weight_bytes(m, dtype, expert_dtype)
    kv_written = np.asarray(kv_bytes(m, p, dtype=format_key(kv_dtype, "kv_dtype")))
    attn = prefill_attention_flops(m, p) if overlap == "none" else 0.0
    intensity = 2.0 * np.asarray(b) * p * m.active_params / (w_bytes + np.asarray(b) * kv_written)
    return build_step(m, h, b, p, c, positions=p, tokens=p, attention_flops=attn, kv_bytes=kv_written,
                      weight_bytes=w_bytes, math=math, overlap=overlap, cls=PrefillStep,
                      intensity=scalar_or_array(intensity))


# ---- attention's own FLOPs (`attention`) against the cache ------------------------------------
def attention_intensity(model, context=None, *, kv_dtype: str = "bf16"):
    """FLOPs per cache byte of decode attention alone: attention_flops / kv bytes read.

    GQA in bf16: 4 n_h d_h / (2 n_kv d_h x 2) = n_h / n_kv (8 for Llama 3.1 70B): far below any
    chip's I*, so long-context decode is memory-bound. MLA: 2 n_h (2 r + r_rope) / ((r + r_rope) x 2)
    = 242 for DeepSeek-V3, close to an H100's 295. `context` None = the long-context limit.
    """
    m = lookup_model(model)
    if context is None:
        full, local, _ = _window_layers(m)
        cache_full, _ = kv_layers(m)
        per_pos = attention_flops_per_position(m) / m.n_layers
        per_layer_bytes = kv_elements_per_layer(m) * bytes_per_element(kv_dtype)
        return float(per_pos * full / (cache_full * per_layer_bytes)) if full else float(
            per_pos * local / (kv_layers(m)[1] * per_layer_bytes))
    s = positive("context", context_tokens(m, context))
    return scalar_or_array(np.asarray(attention_flops(m, s)) / np.asarray(kv_bytes(m, s, dtype=kv_dtype)))


# ---- the Goldilocks context and the MFU ceiling, under both step models ------------------------
def _rates(m: Model, h, dtype: str):
    """(arithmetic format, F for the matmuls, F for attention, W): attention runs at the bf16 rate,
    as in `step.build_step`."""
    math = math_format(dtype)
    return math, h.flops_for(math), h.flops_for("bf16"), h.hbm_bandwidth


def _per_sequence(m: Model, h, s, dtype: str, kv_dtype: str):
    """Seconds ONE sequence adds to a decode step on one chip, and its format:
    (c: the matmuls' arithmetic 2 N_a / F, a: attention's arithmetic A(S) / F_bf16, k: cache reads
    kv(S) / W, math). On C chips every term is divided by C, so their ratios do not change."""
    math, f, f16, w = _rates(m, h, dtype)
    c = 2.0 * m.active_params / f
    a = np.asarray(decode_attention_flops(m, s)) / f16
    k = np.asarray(kv_bytes(m, s, dtype=kv_dtype)) / w
    return c, a, k, math


def goldilocks_context(model, hw, *, dtype: str = "bf16", kv_dtype: str = "bf16", attention: bool = False,
                       overlap: str = "none") -> float:
    """Context S* at which, per sequence, reading the cache takes as long as the matmuls' arithmetic:

        2 N_a / F = kv(S*) / W   =>   kv(S*) = 2 N_a / I*;   full attention: S* = 2 N_a / (I* kv_per_token)

    The same S* under both step models; what it means differs (see `mfu_ceiling`). In the
    lecture's ideal (overlap="full"), a large batch reads the cache WHILE it multiplies: below S*
    the step can be compute-bound at 100% MFU, at S* the ceiling is still 100%, past it
    MFU <= S*/S. Per phase (overlap="none", what engines do), the attention kernel reads the cache
    and THEN the matmuls run: at large batch `.bound` flips from 'compute' to 'memory' at S*, but the
    ceiling there is 1/2 and 1/(1 + S/S*) in general.
    Sliding windows are respected (kv(S) is the cache of one S-token sequence); inf when the cache
    stops growing (every layer windowed) before it reaches the target. For full attention and
    attention=False this is `goldilocks_context_for(N_a, kv_per_token, hw, dtype=dtype)`, solved here by
    the piecewise inverse `_solve` that the windows need.

    `attention=True` counts attention's own FLOPs A(S) (`attention_flops`, at the bf16 rate), and
    then the two models part ways:
      overlap="full": they join the matmuls on the one roofline, 2 N_a / F + A(S) / F = kv(S) / W:
        S* moves OUT (inf if attention alone outpaces the reads, attention intensity >= I*);
      overlap="none": they sit in attention's own phase, max(A(S) / F, kv(S) / W) = 2 N_a / F: S*
        stays put while attention is memory-bound (intensity < I*) and moves IN when it is not
        (DeepSeek-V3's MLA, 242 FLOP/byte, on an H200 whose I* is 206).
    Llama 3.1 70B on H100 in bf16: 2 x 69.5e9 / (295.3 x 327,680) = 1,436 tokens.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    choice("overlap", overlap, OVERLAPS)
    choice("attention", attention, (False, True))  # "False", a string, is not False
    _, f, f16, w = _rates(m, h, dtype)
    i_star = f / w
    target = 2.0 * m.active_params               # FLOPs per sequence, in units of the matmul rate
    kv_below, kv_above, window = _kv_slopes(m, kv_dtype)
    slope_below, slope_above = i_star * kv_below, i_star * kv_above
    if not attention:
        return float(_solve(target, slope_below, slope_above, window))
    full, local, _ = _window_layers(m)
    per_layer = attention_flops_per_position(m) / m.n_layers * f / f16     # attention FLOPs at the bf16 rate
    att_below, att_above = per_layer * (full + local), per_layer * full
    if overlap == "full":
        return float(_solve(target, slope_below - att_below, slope_above - att_above, window))
    # per phase: the attention phase takes max(A / F, kv / W); it reaches 2 N_a / F at the sooner of the two
    return float(min(_solve(target, slope_below, slope_above, window),
                     _solve(target, att_below, att_above, window)))


def mfu_ceiling(model, hw, context, *, dtype: str = "bf16", kv_dtype: str = "bf16", overlap: str = "none",
                attention: bool | None = None):
    """The best MFU any batch can reach at this context (collectives left out: one chip).

    As the batch B grows, the weight reads are shared ever more thinly, and a step costs B times
    what one sequence adds: c = 2 N_a / F of matmuls, k = kv(S) / W of cache reads, a = A(S) / F
    of attention arithmetic. MFU counts only the matmuls (`DecodeStep.mfu`), so the ceiling is c
    over the per-sequence time:

        overlap="full" (the lecture's ideal): c / max(c, k) = min(1, S*/S)   (full attention)
        overlap="none" (per phase, default):  c / (c + max(a, k)) = 1 / (1 + S/S*) while a < k

    Ideal: 100% up to S*, and doubling the context past S* halves it. Per phase the phases ADD:
    50% at S*, 1/3 at 2 S*; a doubling halves it only far past S*, and no context gives 100%.
    `attention` (default: counted per phase, not in the ideal, as `decode_step` does) includes
    A(S); in the ideal the per-sequence time is then max(c + a, k). On a derated chip
    (`achievable`) the ceiling is a fraction of PEAK, like `DecodeStep.mfu`. On several chips the
    all-reduces add per-sequence time too and lower the per-phase MFU further.
    Llama 3.1 70B on H100, S = 8,192: ideal 1,436 / 8,192 = 17.5%; per phase 1 / (1 + 5.70) = 14.9%.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    choice("overlap", overlap, OVERLAPS)
    s = context_tokens(m, context)
    choice("attention", attention, (None, False, True))
    count = (overlap == "none") if attention is None else bool(attention)
    c, a, k, math = _per_sequence(m, h, s, dtype, kv_dtype)
    a = a if count else 0.0
    per_sequence = np.maximum(c + a, k) if overlap == "full" else c + np.maximum(a, k)
    eta_f, _ = peak_fractions(h, math)
    return scalar_or_array(eta_f * c / per_sequence)


def memory_bound_context(model, hw, batch, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                         overlap: str = "none"):
    """Context past which a decode step of `batch` sequences is memory-bound (`.bound == 'memory'`).

    0 where it is memory-bound at every context; inf where the cache never makes it so.
    Collectives are left out (one chip; on several, `decode_step(...).bound` may say 'communication').

    overlap="full" (the lecture's ideal): compute against weights + cache on one roofline,
        2 B N_a / F = N_t b_w / W + B kv(S) / W   =>   kv(S) = 2 N_a / I* - N_t b_w / B:
        0 below the optimal batch B*; above it the crossover creeps up towards S* as B grows.
    overlap="none" (per phase, default): the matmul phase is compute-bound from B* on, whatever the
        context (it never touches the cache); the attention phase reads the cache. With attention
        memory-bound (intensity below the chip's, every GQA model): 0 below B*, exactly S* from B*
        on: the crossover jumps to S* instead of creeping towards it. Where attention's arithmetic
        outpaces its reads (MLA on a chip with I* < 242), the cache never makes the step
        memory-bound: inf.
    Llama 3.1 70B on H100, batch 512: 595 tokens in the ideal, S* = 1,436 per phase.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    choice("overlap", overlap, OVERLAPS)
    b = positive("batch", batch)
    _, f, f16, w = _rates(m, h, dtype)
    if overlap == "full":
        target = 2.0 * m.active_params * w / f - weight_bytes(m, dtype) / b
        return context_for_kv_bytes(m, np.maximum(target, 0.0), dtype=kv_dtype)
    b_star = weight_bytes(m, dtype) / w / (2.0 * m.active_params / f)
    if attention_intensity(m, None, kv_dtype=kv_dtype) >= f16 / w:
        return scalar_or_array(np.full(np.shape(b), np.inf))
    s_star = goldilocks_context(m, h, dtype=dtype, kv_dtype=kv_dtype)
    return scalar_or_array(np.where(np.asarray(b) >= b_star, s_star, 0.0))


def compute_bound_batch(model, hw, context, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                        overlap: str = "none"):
    """Smallest batch whose decode step is compute-bound (`.bound == 'compute'`) at this context;
    inf where none is. Collectives left out, as in `memory_bound_context`.

    overlap="full" (the lecture's ideal): B (2 N_a / I* - kv(S)) >= N_t b_w, so
        B_c = N_t b_w / (2 N_a / I* - kv(S)): the optimal batch B* at S = 0, growing without bound
        as S approaches S*, inf past it.
    overlap="none" (per phase, default): the matmul phase turns compute-bound at B* whatever the
        context, and the step as a whole is compute-bound when the matmuls outlast the cache
        reads: B_c = B* for S <= S*, inf past it (attention memory-bound). Where attention's own
        arithmetic outpaces its reads: B_c = (N_t b_w / W) / max(2 N_a / F, A(S) / F_bf16).
    Llama 3.1 70B on H100 at 1,400 tokens: 11,859 sequences in the ideal, 300 per phase.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    choice("overlap", overlap, OVERLAPS)
    s = context_tokens(m, context)
    c, a, k, _ = _per_sequence(m, h, s, dtype, kv_dtype)
    w = weight_bytes(m, dtype) / h.hbm_bandwidth            # seconds to read the weights once
    with np.errstate(divide="ignore", over="ignore"):        # a vanishing margin means B_c -> inf: the answer
        if overlap == "full":
            out = np.where(c > k, w / np.where(c > k, c - k, 1.0), np.inf)
        else:
            out = np.where(a >= k, w / np.maximum(c, a), np.where(c >= k, w / c, np.inf))
    return scalar_or_array(out)


# ---- capacity ------------------------------------------------------------------------------------
def max_context(model, hw, batch, chips=1, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Longest context at which `batch` sequences' caches fit beside the weights in HBM.

    B kv(S) <= C M - N_t b_w  =>  S = kv^-1((C M - N_t b_w) / B). 0 if the weights alone do not
    fit. Not capped at the model's trained context length: compare with `model.context_length`.
    The inverse of `roofline.max_batch` (up to its rounding down to whole sequences).
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    h.flops_for(dtype)
    b = positive("batch", batch)
    c = whole_number("chips", chips)
    free = np.maximum(c * h.hbm_capacity - weight_bytes(m, dtype), 0.0)
    return context_for_kv_bytes(m, free / b, dtype=kv_dtype)


def cache_equals_weights_context(model, batch, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Context at which the caches of `batch` sequences take as many bytes as the weights.

    B kv(S) = N_t b_w. Past it, the cache, not the model, is what fills HBM (and what a step
    spends most of its memory time reading). Llama 3.1 70B, B = 64, bf16: 141.1e9 / 64 /
    327,680 = 6,728 tokens.
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    return context_for_kv_bytes(m, weight_bytes(m, dtype) / b, dtype=kv_dtype)


# ---- sparse (top-k) attention ------------------------------------------------------------------
def topk_read_bytes(model, context, top_k, *, index_bytes_per_token=0.0, kv_dtype: str = "bf16"):
    """Cache bytes ONE decode step reads for one sequence under top-k sparse attention.

    An indexer scores all S cached tokens using small index keys (`index_bytes_per_token`, all
    layers), then attention reads the full cache of only the k best: min(S, k) kv_per_token +
    S index_bytes. The cache STORED is not reduced: it still holds every token (plus the index).
    DeepSeek-V3.2-Exp: k = 2048 and, per layer, a 128-byte fp8 index key plus a 4-byte scale
    (inference/model.py, class Indexer).
    """
    m = lookup_model(model)
    s = context_tokens(m, context)
    k = positive("top_k", top_k)
    idx = non_negative("index_bytes_per_token", index_bytes_per_token)
    if m.n_window_layers:
        raise ValueError(f"topk_read_bytes models full-attention layers only; {m.name} has sliding windows")
    per_token = kv_bytes_per_token(m, None, dtype=kv_dtype)
    return scalar_or_array(np.minimum(s, k) * per_token + s * idx)


def topk_decode_step(model, hw, batch, context, top_k, chips=1, *, index_bytes_per_token=0.0,
                     index_flops_per_token=0.0, dtype: str = "bf16", kv_dtype: str = "bf16",
                     overlap: str = "none") -> DecodeStep:
    """`decode_step` with top-k sparse attention: the KV term reads `topk_read_bytes` per sequence.

    Per phase (overlap="none"), attention's arithmetic is that of min(S, k) cached tokens, plus the
    indexer scoring all S of them: `index_flops_per_token` FLOPs per cached token, all layers,
    counted at the bf16 rate like all attention arithmetic (an fp8 indexer may run up to twice as
    fast). DeepSeek-V3.2-Exp: 64 index heads of 128 per layer, 2 x 64 x 128 x 61 = 999,424.
    In the ideal (overlap="full") attention's arithmetic is not counted, as in `decode_step`.
    """
    step = decode_step(model, hw, batch, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
    m, h = lookup_model(model), lookup_hardware(hw)
    reads = np.asarray(topk_read_bytes(m, context, top_k, index_bytes_per_token=index_bytes_per_token, kv_dtype=kv_dtype))
    idx_flops = non_negative("index_flops_per_token", index_flops_per_token)
    ones = np.ones(np.shape(step.compute))
    per_chip = np.asarray(step.batch) / np.asarray(step.chips)
    fields = {"kv": scalar_or_array(per_chip * reads / h.hbm_bandwidth * ones)}
    if overlap == "none":
        s = np.asarray(context, dtype=float)
        flops = np.asarray(decode_attention_flops(m, np.minimum(s, np.asarray(top_k, dtype=float)))) + s * idx_flops
        fields["attention"] = scalar_or_array(per_chip * flops / h.flops_for("bf16") * ones)
    return replace(step, **fields)
