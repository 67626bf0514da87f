"""The roofline of one decode step: compute time, weight-read time, KV-read time, and their max.

In one decode step every sequence of the batch produces one token. The chips must

* do the arithmetic: 2 FLOPs (a multiply and an add) per active parameter per token,
      t_compute = 2 * B * N_active / (C * F)
* read every weight from HBM once, however many sequences share it,
      t_weights = N_total * b_w / (C * W)
* read each sequence's KV cache,
      t_kv = B * S * kv_bytes_per_token / (C * W)

with B the batch, S the context, C chips, F dense FLOP/s and W HBM bytes/s per chip, b_w bytes
per weight. Reads and arithmetic overlap, so the step takes max(t_compute, t_weights + t_kv):
the two memory terms ADD (both streams go through the same HBM), and the larger of compute and
memory wins. Everything is vectorised: pass arrays for batch and context and get arrays back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import non_negative, positive, scalar_or_array
from .hardware import Hardware, hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import Model, model as lookup_model
from .units import HOUR, bytes_per_element


def critical_intensity(hw, dtype: str = "bf16") -> float:
    """FLOPs the chip can do per byte it reads from HBM: F / W (FLOP/byte).

    A kernel doing fewer FLOPs per byte than this is memory-bound. H100 bf16: 989.4e12 / 3.35e12
    = 295 FLOP/byte.
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


@dataclass(frozen=True)
class DecodeStep:
    """The parts of one decode step, in seconds (floats, or arrays when inputs were arrays)."""

    compute: object
    weights: object
    kv: object
    batch: object
    context: object
    chips: object

    @property
    def memory(self):
        """Weight reads plus KV reads: both go through the same HBM, so they add."""
        return scalar_or_array(np.asarray(self.weights) + np.asarray(self.kv))

    @property
    def time(self):
        """Step time = max(compute, weights + kv)."""
        return scalar_or_array(np.maximum(self.compute, self.memory))

    @property
    def compute_bound(self):
        """True where arithmetic takes at least as long as memory traffic."""
        cb = np.asarray(self.compute) >= np.asarray(self.memory)
        return cb.item() if cb.ndim == 0 else cb

    @property
    def bound(self):
        """'compute' where arithmetic takes at least as long as memory traffic, else 'memory'."""
        labels = np.array(["memory", "compute"])
        b = labels[np.asarray(self.compute_bound, dtype=np.intp)]  # indexing: faster than np.where on strings
        return b.item() if b.ndim == 0 else b

    @property
    def tokens_per_second(self):
        """Throughput of the whole group of chips: batch / step time."""
        return scalar_or_array(np.asarray(self.batch) / np.asarray(self.time))

    @property
    def mfu(self):
        """Model FLOPs utilisation: the fraction of peak FLOP/s this step uses (compute / time)."""
        return scalar_or_array(np.asarray(self.compute) / np.asarray(self.time))


def _check_context(m: Model, context):
    s = non_negative("context", context)
    if np.any(s > m.context_length):
        raise ValueError(f"context must be <= {m.name}'s context length of {m.context_length:,} "
                         f"tokens, got {s.max():,.0f}")
    return s


def _chips(chips):
    c = positive("chips", chips)
    if np.any(c != np.round(c)):
        raise ValueError(f"chips must be a whole number, got {chips!r}")
    return c


def weight_bytes(model, dtype: str = "bf16") -> float:
    """Bytes of all the weights stored in `dtype`: N_total * bytes per weight."""
    return lookup_model(model).total_params * bytes_per_element(dtype)


def decode_step(model, hw, batch, context, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16") -> DecodeStep:
    """One decode step of `batch` sequences, each with `context` tokens of history, on `chips` chips.

    `dtype` is both the weight storage format and the arithmetic precision (its FLOP/s rate must
    exist on the chip); `kv_dtype` is the cache's storage format. Returns a `DecodeStep` whose
    `.compute`, `.weights`, `.kv` are seconds, `.time` = max(compute, weights + kv), `.bound`
    'compute' or 'memory'. Batch, context and chips broadcast as numpy arrays.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    flops = h.flops_for(dtype)
    b = positive("batch", batch)
    s = _check_context(m, context)
    c = _chips(chips)
    compute = 2.0 * b * m.active_params / (c * flops)
    weights = m.total_params * bytes_per_element(dtype) / (c * h.hbm_bandwidth)
    kv = b * s * kv_bytes_per_token(m, s, kv_dtype) / (c * h.hbm_bandwidth)
    shape = np.broadcast_shapes(np.shape(compute), np.shape(kv))
    weights = np.broadcast_to(weights, shape)
    return DecodeStep(compute=scalar_or_array(compute * np.ones(shape)), weights=scalar_or_array(weights),
                      kv=scalar_or_array(kv * np.ones(shape)), batch=scalar_or_array(b),
                      context=scalar_or_array(s), chips=scalar_or_array(c))


def optimal_batch(model, hw, dtype: str = "bf16") -> float:
    """Batch at which compute time equals weight-read time (KV ignored).

    2 B N_active / F = N_total b_w / W  =>  B* = (F / W) * (b_w / 2) * (N_total / N_active):
    critical intensity x (bytes per weight / 2) x sparsity. H100, dense bf16 model: about 300.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    return critical_intensity(h, dtype) * bytes_per_element(dtype) / 2.0 * m.sparsity


def max_batch(model, hw, context, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Largest batch whose weights plus KV caches fit in the chips' HBM (0 if the weights alone don't).

    floor((C * M - N_total * b_w) / (S * kv_bytes_per_token)), with M the HBM capacity per chip.
    Activations and fragmentation are ignored, so real servers fit somewhat fewer.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    h.flops_for(dtype)  # the chip must support the weight format
    s = positive("context", _check_context(m, context))
    c = _chips(chips)
    free = c * h.hbm_capacity - weight_bytes(m, dtype)
    per_seq = s * kv_bytes_per_token(m, s, kv_dtype)
    out = np.floor(np.maximum(free, 0.0) / per_seq).astype(np.int64)
    return out.item() if out.ndim == 0 else out


def cost_per_token(model, hw, batch, context, dollars_per_chip_hour, chips=1, dtype: str = "bf16",
                   kv_dtype: str = "bf16"):
    """Dollars per generated token: step time x chips x $/chip-second / batch.

    One step yields `batch` tokens and occupies `chips` chips for `time` seconds. A `hw` built by
    `rack()` stands for several chips; the price is still per physical chip.
    """
    price = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    h = lookup_hardware(hw)
    step = decode_step(model, h, batch, context, chips, dtype, kv_dtype)
    chip_count = np.asarray(step.chips) * h.chips
    return scalar_or_array(np.asarray(step.time) * chip_count * price / HOUR / np.asarray(step.batch))


def batch_for_step_time(model, hw, step_time, context, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """The largest batch whose decode step takes at most `step_time` seconds (0 if none does).

    The step time max(c B, w + k B) grows with B (c: compute per sequence, w: weight reads,
    k: KV reads per sequence), so it can be inverted: B = min(t / c, (t - w) / k), and no batch
    at all when t < w (the weights alone take longer). Used to ask "how small must the batch be
    for this speed?" — the question behind a fast mode. Returns a (fractional) batch size.
    """
    t = positive("step_time", step_time)
    one = decode_step(model, hw, 1.0, context, chips, dtype, kv_dtype)
    c, w, k = np.asarray(one.compute), np.asarray(one.weights), np.asarray(one.kv)
    with np.errstate(divide="ignore", over="ignore"):  # a tiny KV term means "no memory limit": inf
        by_memory = np.where(k > 0, (t - w) / np.where(k > 0, k, 1.0), np.where(t >= w, np.inf, -1.0))
    b = np.minimum(t / c, by_memory)
    return scalar_or_array(np.maximum(b, 0.0))
