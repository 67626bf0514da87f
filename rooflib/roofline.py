"""The roofline of one decode step: arithmetic, weight reads, cache reads, collectives.

In one decode step every sequence of the batch produces one token. The chips must

* do the weights' arithmetic: 2 FLOPs (a multiply and an add) per active parameter per token,
      t_compute = 2 * B * N_active / (C * F)
* read every weight from HBM once, however many sequences share it,
      t_weights = N_total * b_w / (C * W)
* read each sequence's KV cache, and do attention's own arithmetic over it,
      t_kv = B * S * kv_bytes_per_token / (C * W),   t_attention = B * A(S) / (C * F)
* when C > 1, all-reduce the activations twice per layer (tensor parallelism): t_comm

with B the batch, S the context, C chips, F dense FLOP/s and W HBM bytes/s per chip, b_w bytes
per stored weight. How the parts add up is the step's `overlap` (see `step`):

* "full", the lecture's ideal: reads overlap arithmetic, one roofline, max(t_compute, t_weights +
  t_kv). The two memory terms ADD (both streams go through the same HBM).
* "none", what engines do (the default): attention, then the matmuls, then the all-reduces,
      max(t_attention, t_kv) + max(t_compute, t_weights) + t_comm.

Storage and arithmetic formats are separate (`formats`): `dtype` is how weights are stored (their
bytes), `math_dtype` the tensor-core rate they are multiplied at (default: the storage format's
own), `expert_dtype` the storage of routed experts when it differs (gpt-oss ships MXFP4 experts),
`kv_dtype` the cache's. Everything is vectorised: pass arrays for batch and context.
"""
from __future__ import annotations

import numpy as np

from .errors import (broadcast, choice, context_tokens, count_result, non_negative, positive, scalar_or_array,
                     whole_number)
from .formats import format_key, math_format, stored_weight_bytes
from .hardware import hardware as lookup_hardware
from .attention import decode_attention_flops
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .solve import largest_below
from .step import OVERLAPS, DecodeStep, build_step
from .units import HOUR

__all__ = ["DecodeStep", "critical_intensity", "memory_turnover", "weight_bytes", "decode_step", "optimal_batch",
           "max_batch", "cost_per_token", "batch_for_step_time"]


def critical_intensity(hw, dtype: str = "bf16") -> float:
    """FLOPs the chip can do per byte it reads from HBM: F / W (FLOP/byte).

    A kernel doing fewer FLOPs per byte than this is memory-bound. H100 bf16: 989.4e12 / 3.35e12
    = 295 FLOP/byte; A100 153, V100 (fp16) 139: it roughly doubled with the H100.
    """
    h = lookup_hardware(hw)
    return h.flops_for(dtype) / h.hbm_bandwidth


def memory_turnover(hw) -> float:
    """Seconds to read the chip's whole HBM once: capacity / bandwidth (H100: 80 GB / 3.35 TB/s = 23.9 ms).

    No decode step that reads its memory can be faster than the share of HBM it must read; a chip
    whose memory is full of weights and cache has a latency floor of about this long.
    """
    h = lookup_hardware(hw)
    return h.hbm_capacity / h.hbm_bandwidth


def weight_bytes(model, dtype: str = "bf16", *, expert_dtype: str | None = None) -> float:
    """Bytes of all the weights stored in `dtype` (routed experts in `expert_dtype` if given).

    N_total x bytes per weight. gpt-oss-120b as released (MXFP4 experts, the rest bf16): 65.2 GB,
    not the 233.7 GB of an all-bf16 copy.
    """
    return stored_weight_bytes(lookup_model(model), dtype, expert_dtype)


def _formats(h, dtype, math_dtype, expert_dtype, kv_dtype):
    """Check the four formats once: (math key, kv key). The chip must have the arithmetic rate."""
    math = math_format(dtype, math_dtype)
    h.flops_for(math)
    if expert_dtype is not None:
        format_key(expert_dtype, "expert_dtype")
    return math, format_key(kv_dtype, "kv_dtype")


def decode_step(model, hw, batch, context, chips=1, *, dtype: str = "bf16", math_dtype: str | None = None,
                expert_dtype: str | None = None, kv_dtype: str = "bf16", overlap: str = "none") -> DecodeStep:
    """One decode step of `batch` sequences, each with `context` tokens of history, on `chips` chips.

    Returns a `DecodeStep`: `.compute`, `.weights`, `.attention`, `.kv`, `.comm` in seconds,
    `.time`, `.bound` ('compute', 'memory' or 'communication'), `.mfu`, `.mbu`,
    `.tokens_per_second`. `overlap="full"` is the lecture's single roofline (no attention FLOPs,
    no collectives), "none" the per-phase step. Batch, context and chips broadcast as arrays.
    Llama 3.1 70B on 8 H100 at batch 1: 5.27 ms of weights, 1.64 ms of all-reduces.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    math, kv_key = _formats(h, dtype, math_dtype, expert_dtype, kv_dtype)
    choice("overlap", overlap, OVERLAPS)
    b = positive("batch", batch)
    s = context_tokens(m, context)
    c = whole_number("chips", chips)
    if not (type(b) is float and type(s) is float and type(c) is float):
        broadcast(batch=b, context=s, chips=c)
    return _decode(m, h, b, s, c, math, stored_weight_bytes(m, dtype, expert_dtype), kv_key, overlap)


def _decode(m, h, b, s, c, math, w_bytes, kv_key, overlap) -> DecodeStep:
    # Checked inputs only: the bisections below call this directly.
    kv_seq = np.asarray(s) * kv_bytes_per_token(m, s, dtype=kv_key) if m.n_window_layers else \
        s * kv_bytes_per_token(m, None, dtype=kv_key)
    attn = decode_attention_flops(m, s) if overlap == "none" else 0.0
    return build_step(m, h, b, s, c, positions=1.0, attention_flops=attn, kv_bytes=kv_seq,
                      weight_bytes=w_bytes, math=math, overlap=overlap)


def optimal_batch(model, hw, dtype: str = "bf16", *, math_dtype: str | None = None,
                  expert_dtype: str | None = None) -> float:
    """Batch at which the weights' arithmetic takes as long as reading them (KV ignored).

    2 B N_active / F = W_bytes / W  =>  B* = (F / W) * W_bytes / (2 N_active): critical intensity
    x (bytes per weight / 2) x sparsity. H100, dense bf16 model: about 300. Weight-only int8 with
    bf16 arithmetic halves it (scaling-book's 120 on TPU v5e); achievable rates scale it by
    eta_F / eta_W. The same batch ends the matmul phase's memory-bound regime in the per-phase step.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    math = math_format(dtype, math_dtype)
    b_w = stored_weight_bytes(m, dtype, expert_dtype) / m.total_params   # average bytes per weight
    return h.flops_for(math) / h.hbm_bandwidth * (b_w / 2.0) * m.sparsity


def max_batch(model, hw, context, chips=1, *, dtype: str = "bf16", expert_dtype: str | None = None,
              kv_dtype: str = "bf16", reserved=0.0):
    """Largest batch whose weights plus KV caches fit in the chips' HBM (0 if the weights alone don't).

    floor((C * M - W_bytes - reserved) / (S * kv_bytes_per_token)), with M the nominal HBM capacity
    per chip and `reserved` bytes held for something else (e.g. cached prefixes waiting for a hit).
    Activations and fragmentation are ignored, so real servers fit somewhat fewer.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    s = positive("context", context_tokens(m, context))
    c = whole_number("chips", chips)
    held = non_negative("reserved", reserved)
    broadcast(context=s, chips=c, reserved=held)
    free = np.asarray(c) * h.hbm_capacity - stored_weight_bytes(m, dtype, expert_dtype) - np.asarray(held)
    per_seq = np.asarray(s) * kv_bytes_per_token(m, s, dtype=format_key(kv_dtype, "kv_dtype"))
    return count_result(np.floor(np.maximum(free, 0.0) / per_seq), "the batch that fits (chips x HBM / context)")


def cost_per_token(model, hw, batch, context, dollars_per_chip_hour, chips=1, *, dtype: str = "bf16",
                   math_dtype: str | None = None, expert_dtype: str | None = None, kv_dtype: str = "bf16",
                   overlap: str = "none"):
    """Dollars per generated token: step time x chips x $/chip-second / batch.

    One step yields `batch` tokens and occupies `chips` chips for `time` seconds. A `hw` built by
    `rack()` stands for several chips; the price is still per physical chip.
    """
    price = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    broadcast(batch=batch, context=context, dollars_per_chip_hour=price, chips=chips)
    h = lookup_hardware(hw)
    step = decode_step(model, h, batch, context, chips, dtype=dtype, math_dtype=math_dtype,
                       expert_dtype=expert_dtype, kv_dtype=kv_dtype, overlap=overlap)
    chip_count = np.asarray(step.chips) * h.chips
    return scalar_or_array(np.asarray(step.time) * chip_count * price / HOUR / np.asarray(step.batch))


def batch_for_step_time(model, hw, step_time, context, chips=1, *, dtype: str = "bf16",
                        math_dtype: str | None = None, expert_dtype: str | None = None,
                        kv_dtype: str = "bf16", overlap: str = "none"):
    """The largest batch whose decode step takes at most `step_time` seconds (0 if none does).

    Step time grows with B, so it can be inverted. For the lecture's step, max(c B, w + k B)
    (c: compute per sequence, w: weight reads, k: KV reads per sequence), in closed form:
    B = min(t / c, (t - w) / k), and no batch at all when t < w. For the per-phase step, by
    bisection. Used to ask "how small must the batch be for this speed?" — the question behind
    a fast mode. Returns a (fractional) batch size.
    """
    t = positive("step_time", step_time)
    m, h = lookup_model(model), lookup_hardware(hw)
    math, kv_key = _formats(h, dtype, math_dtype, expert_dtype, kv_dtype)
    choice("overlap", overlap, OVERLAPS)
    s = context_tokens(m, context)
    c = whole_number("chips", chips)
    w_bytes = stored_weight_bytes(m, dtype, expert_dtype)
    if overlap == "none":
        shape = broadcast(step_time=t, context=s, chips=c)
        tt = np.broadcast_to(t, shape)
        return largest_below(lambda b: _decode(m, h, b, s, c, math, w_bytes, kv_key, overlap).time, tt)
    one = _decode(m, h, 1.0, s, c, math, w_bytes, kv_key, overlap)
    cp, w, k = np.asarray(one.compute), np.asarray(one.weights), np.asarray(one.kv)
    with np.errstate(divide="ignore", over="ignore"):  # a tiny KV term means "no memory limit": inf
        by_memory = np.where(k > 0, (t - w) / np.where(k > 0, k, 1.0), np.where(t >= w, np.inf, -1.0))
    b = np.minimum(t / cp, by_memory)
    return scalar_or_array(np.maximum(b, 0.0))
