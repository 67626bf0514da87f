"""API prices: what a provider's price sheet says about the hardware and batch sizes behind it.

A price sheet is a handful of numbers: $ per input token, $ per output token, a cheaper rate for
cached input, a surcharge above some context length, a discount for batch jobs, a premium for a
fast mode, a storage rate for a context cache. If a provider prices roughly in proportion to its
costs, each number can be inverted into a statement about the machine:

* long-context step at S_step tokens -> a KV-cache size per token (`implied_kv_bytes_per_token`).
  In the lecture's ideal step (overlap="full") the cost is flat and then rises; the step marks the
  kink, where a sequence's cache reads start to cost more than its arithmetic:
  S_step kv / W = 2 N_a / F, so kv = 2 N_a / (I* S_step). Per phase (overlap="none"), the cache
  reads add to the arithmetic and the cost rises from the start, 1 + S / S_x: there is no kink,
  and the step is read where the cost reaches the step's height R: kv = (R - 1) 2 N_a / (I* S_step);
* output / input price ratio -> decode MFU = prefill MFU x input / output
  (`implied_decode_mfu`), and from it a batch size (`batch_for_mfu`);
* fast mode (price x R for speed x s) -> the batches of the two tiers if the batch is the only
  knob turned (`fast_mode`, `normal_batch_for_fast_mode`); wider tensor or expert parallelism per
  replica, speculative decoding and faster chips are other knobs, outside this inversion;
* cached input vs fresh input -> the cost of holding a cache vs recomputing it (prefill,
  2 N_a S FLOPs plus attention's, quadratic in S), tier by tier (HBM, host DRAM, flash): `memory_tiers.break_even_hold_time`;
* context-cache storage price -> bytes per token a dollar holds
  (`memory_tiers.implied_bytes_per_token_held`).

The sheets themselves are `price_sheets` (dated, sourced), the memory tiers `memory_tiers`, the
text report `reports.read_price_sheet`. This module re-exports the first two, so chapter 6 and
its cards keep calling `prices.X` for all of them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import choice, fraction, non_negative, positive, scalar_or_array
# The catalog and the memory tiers, importable as prices.X (chapter 6, its explorers and cards).
from .memory_tiers import (TIERS, MemoryTier, break_even_hold_time, cache_cost_curves,  # noqa: F401
                           cheapest_option, hbm_tier, hold_cost_per_token, implied_bytes_per_token_held,
                           recompute_cost_per_token, reload_cost_per_token, storage_price_of_cache_write,
                           tiers)
from .price_sheets import (DEEPSEEK_DAY6, DOLLARS_PER_CHIP_HOUR, PER_MTOK, PREFILL_MFU,  # noqa: F401
                           PRICE_SHEETS, PriceSheet, long_context_sheets, price_multiple, price_sheet)
from .context import goldilocks_context_for
from .roofline import batch_for_step_time, decode_step
from .solve import largest_below
from .step import OVERLAPS

# ================================================================================================
# 2. The long-context step -> KV bytes per token
# ================================================================================================
def implied_kv_bytes_per_token(threshold_tokens, active_params, hw, *, dtype: str = "bf16", overlap: str = "full",
                               price_multiple=1.5):
    """KV-cache bytes per token implied by a long-context price step, if price tracks cost.

    Per sequence and per generated token, in the large-batch limit (weight reads shared away),
    the matmuls take c = 2 N_a / F and the cache reads k = S kv / W (attention's own arithmetic,
    unknown for a closed model, is left out). I* = F / W is the chip's critical intensity in
    `dtype` (the arithmetic precision).

    overlap="full" (the lecture's ideal, default): cost ~ max(c, k), flat up to the crossover
        S_x = 2 N_a / (I* kv) and linear after it. The step is read as the kink, S_step = S_x:
            kv = 2 N_a / (I* S_step)
        100B active, step at 200k tokens, H100 in bf16 (I* = 295.3): 2e11 / (295.3 x 2e5) =
        3,386 B per token. (Dropping the 2 of "2 FLOPs per parameter" gives half, 1.7 kB.)
    overlap="none" (per phase): cost ~ c + k = c (1 + S / S_x), rising from S = 0 with no kink.
        The step is read where the cost reaches the step's height R = `price_multiple` (the
        output multiple; 1.5 on every sheet in the catalog): 1 + S_step / S_x = R, so
            kv = (R - 1) 2 N_a / (I* S_step)
        1,693 B per token for the example above: half the ideal reading for R = 1.5.
    (The crossover S_x itself is the same context under both step models; only its meaning,
    1x or 2x the short-context cost, differs.) Accepts arrays for both numbers.
    """
    s = positive("threshold_tokens", threshold_tokens)
    n = positive("active_params", active_params)
    choice("overlap", overlap, OVERLAPS)
    # S* kv = 2 N_a / I* is symmetric in S* and kv: the inverse is the same equation, roles swapped
    kink = np.asarray(goldilocks_context_for(n, s, hw, dtype=dtype))
    if overlap == "full":
        return scalar_or_array(kink)
    r = positive("price_multiple", price_multiple)
    if np.any(np.asarray(r) <= 1):
        raise ValueError(f"price_multiple must be > 1 (a step up), got {np.min(r):g}")
    return scalar_or_array((np.asarray(r) - 1.0) * kink)


def context_cost_multiple(context, active_params, kv_bytes_per_token, hw, *, dtype: str = "bf16",
                          overlap: str = "full"):
    """Cost of an output token at context S, as a multiple of its cost at short context, in the
    large-batch limit where the weight reads are shared away (attention arithmetic left out):
        overlap="full" (ideal):     max(2 N_a / F, S kv / W) / (2 N_a / F) = max(1, S / S_x)
        overlap="none" (per phase): (2 N_a / F + S kv / W) / (2 N_a / F)   = 1 + S / S_x
    Ideal: flat while the KV reads hide under the arithmetic, linear after the crossover S_x.
    Per phase: the reads never hide; 2x at S_x, and S / S_x only far beyond it."""
    s = non_negative("context", context)
    choice("overlap", overlap, OVERLAPS)
    sx = np.asarray(goldilocks_context_for(active_params, kv_bytes_per_token, hw, dtype=dtype))
    if overlap == "none":
        return scalar_or_array(1.0 + s / sx)
    return scalar_or_array(np.maximum(1.0, s / sx))


# ================================================================================================
# 3. Output / input ratio -> decode MFU -> batch
# ================================================================================================
def implied_decode_mfu(output_price, input_price, *, prefill_mfu=PREFILL_MFU):
    """Decode MFU implied by the output/input price ratio, if price is proportional to chip time.

    A token costs chip-seconds 2 N_a / (F x MFU) in either phase, so
        output / input = MFU_prefill / MFU_decode   =>   MFU_decode = MFU_prefill x input / output.
    Example: output 8x input and prefill at 50% MFU -> decode at 6.25%.
    """
    out = positive("output_price", output_price)
    inp = positive("input_price", input_price)
    mfu = fraction("prefill_mfu", prefill_mfu)
    return scalar_or_array(mfu * inp / out)


def batch_for_mfu(model, hw, mfu, context, chips=1, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                  overlap: str = "full"):
    """The smallest batch whose decode step reaches this MFU at this context.

    overlap="full" (the lecture's ideal, default): while memory-bound, MFU = B c / (w + B k) with
    c, w, k the compute, weight-read and KV-read times of one sequence (from `decode_step` at
    batch 1), so
        B = MFU w / (c - MFU k).
    The best MFU any batch reaches is min(1, c / k) (`context.mfu_ceiling`); asking for more
    raises ValueError. MFU = 1 gives the batch where the step turns compute-bound.
    overlap="none" (per phase, what engines do): the phases add and several chips add their
    all-reduces, so a given MFU needs a larger batch; found by bisection on `decode_step(...).mfu`,
    which rises with the batch. Raises ValueError if no batch up to 1e7 reaches it.
    """
    u = fraction("mfu", mfu)
    choice("overlap", overlap, OVERLAPS)
    if overlap == "none":
        def reached(b):
            return np.asarray(decode_step(model, hw, b, context, chips, dtype=dtype, kv_dtype=kv_dtype).mfu)
        if np.any(reached(np.full(np.shape(u), 1e7)) < u):
            raise ValueError("mfu is out of reach at this context under the per-phase step: no batch up to "
                             "1e7 sequences reaches it")
        return scalar_or_array(np.asarray(largest_below(reached, np.asarray(u, dtype=float), lo=1e-3, hi=1e7)))
    one = decode_step(model, hw, 1.0, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
    c, w, k = np.asarray(one.compute), np.asarray(one.weights), np.asarray(one.kv)
    room = c - u * k
    if np.any(room <= 0):
        ceiling = float(np.min(np.where(k > 0, c / np.where(k > 0, k, 1.0), np.inf)))
        raise ValueError(f"mfu must be below {min(1.0, ceiling):.3g} at this context: no batch reaches "
                         f"more, because the KV reads of each sequence outlast its arithmetic")
    return scalar_or_array(u * w / room)


# ================================================================================================
# 4. Fast mode -> the batches of the two tiers
# ================================================================================================
@dataclass(frozen=True)
class FastMode:
    """A standard tier at `normal_batch` and a fast tier `speedup` times faster on the same chips.

    fast_batch: the largest batch that runs `speedup` times faster (0 if none can: the weights
    alone take longer than that). cost_multiple: cost per token of the fast tier / the standard
    tier = (normal_batch / fast_batch) / speedup (inf where fast_batch is 0).
    """

    normal_batch: object
    fast_batch: object
    speedup: object
    normal_time: object
    fast_time: object

    @property
    def cost_multiple(self):
        nb, fb, s = (np.asarray(x, dtype=float) for x in (self.normal_batch, self.fast_batch, self.speedup))
        with np.errstate(divide="ignore"):
            out = np.where(fb > 0, nb / np.where(fb > 0, fb, 1.0) / s, np.inf)
        return scalar_or_array(out)


def fast_mode(model, hw, batch, context, speedup, chips=1, *, dtype: str = "bf16", kv_dtype: str = "bf16",
              overlap: str = "full") -> FastMode:
    """What a fast tier `speedup` times faster than a standard tier at `batch` must look like, if
    the batch is the only knob turned.

    Same chips, same model, same kernels: t_fast = t(batch) / speedup, and the fast batch is the
    largest whose step fits in t_fast (`roofline.batch_for_step_time`). One step costs the same
    chip-seconds in either tier, so cost per token scales as step time / batch. A provider has
    other knobs this leaves out: more chips per replica (wider tensor or expert parallelism: a
    shorter weight read per step, more all-reduce time), speculative decoding (several tokens per
    step, `speculative`), faster chips. `overlap` picks the step model (`roofline.decode_step`);
    the default is the lecture's ideal.
    """
    s = positive("speedup", speedup)
    if np.any(s < 1):
        raise ValueError(f"speedup must be >= 1, got {np.min(s):g}")
    choice("overlap", overlap, OVERLAPS)
    t_normal = np.asarray(decode_step(model, hw, batch, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap).time)
    t_fast = t_normal / s
    b_fast = np.asarray(batch_for_step_time(model, hw, t_fast, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap))
    return FastMode(normal_batch=scalar_or_array(positive("batch", batch)), fast_batch=scalar_or_array(b_fast),
                    speedup=scalar_or_array(s), normal_time=scalar_or_array(t_normal),
                    fast_time=scalar_or_array(t_fast))


def normal_batch_for_fast_mode(model, hw, context, speedup, price_multiple, chips=1, *, dtype: str = "bf16",
                               kv_dtype: str = "bf16", overlap: str = "full"):
    """The standard tier's batch at which a fast tier `speedup` times faster costs exactly
    `price_multiple` times more per token (same chips, same margin in both tiers).

    The cost multiple falls as the standard batch grows: from infinity where the standard step is
    just `speedup` x the weight-read floor (the fast batch shrinks to nothing) towards 1. Solved by
    bisection on log(batch). While both tiers are memory-bound this has a closed form, independent
    of the chip: B kv(S) = (s - 1) / (1 - 1/R) x weight bytes (the standard batch's caches hold
    1.8x the weights for s = 2.5, R = 6). Returns inf if even a huge standard batch keeps the
    multiple above R; raises ValueError unless speedup > 1 and price_multiple > 1. The closed
    form is the ideal's (overlap="full", default); per phase (overlap="none") the all-reduces of
    several chips add a batch-independent floor, so the standard batch must be larger.
    """
    s = float(positive("speedup", speedup))
    r = float(positive("price_multiple", price_multiple))
    if s <= 1 or r <= 1:
        raise ValueError(f"speedup and price_multiple must both be > 1, got {s:g} and {r:g}")
    choice("overlap", overlap, OVERLAPS)
    opts = dict(dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
    one = decode_step(model, hw, 1.0, context, chips, **opts)
    floor = float(np.asarray(one.weights if overlap == "full" else one.time))   # below it no batch is fast enough
    lo = float(batch_for_step_time(model, hw, s * floor, context, chips, **opts))
    if not math.isfinite(lo) or lo <= 0:
        raise ValueError("no standard batch is slow enough for this speedup at this context")
    hi = lo * 1e6

    def multiple(b):  # cost multiple of the fast tier at standard batch b (an array): falls with b
        return np.asarray(fast_mode(model, hw, b, context, s, chips, **opts).cost_multiple)

    if multiple(hi) > r:
        return math.inf
    # The largest standard batch whose multiple is still >= R: where it crosses R.
    return float(largest_below(lambda b: -multiple(b), -r, lo=lo, hi=hi))
