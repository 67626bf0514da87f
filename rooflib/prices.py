"""API prices: what a provider's price sheet says about the hardware and batch sizes behind it.

A price sheet is a handful of numbers: $ per input token, $ per output token, a cheaper rate for
cached input, a surcharge above some context length, a discount for batch jobs, a premium for a
fast mode, a storage rate for a context cache. If a provider prices roughly in proportion to its
costs, each number can be inverted into a statement about the machine:

* long-context step at S_step tokens -> the context where a sequence's KV-cache reads start to
  cost more than its arithmetic: S_step kv / W = 2 N_a / F, so kv = 2 N_a / (I* S_step)
  (`implied_kv_bytes_per_token`);
* output / input price ratio -> decode MFU = prefill MFU x input / output
  (`implied_decode_mfu`), and from it a batch size (`batch_for_mfu`);
* fast mode (price x R for speed x s) -> the batches of the two tiers (`fast_mode`,
  `normal_batch_for_fast_mode`);
* cached input vs fresh input -> the cost of holding a cache vs recomputing it (prefill,
  2 N_a S FLOPs), tier by tier (HBM, host DRAM, flash): `break_even_hold_time`;
* context-cache storage price -> bytes per token a dollar holds (`implied_bytes_per_token_held`).

Every sheet in `PRICE_SHEETS` carries its date and source. Prices are SI: dollars per token
($ per million tokens x 1e-6) and dollars per token-second for storage. The memory-tier prices
in `TIERS` are ASSUMPTIONS (cloud list prices, sources given): `tiers(..., dram_scale=, flash_scale=)`
rescales them, to show how the conclusions move when they are off by a factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .context import goldilocks_context, recompute_flops
from .errors import as_array, non_negative, normalise, positive, scalar_or_array, unknown_name
from .hardware import Hardware, hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .roofline import batch_for_step_time, critical_intensity, decode_step, weight_bytes
from .units import GiB, HOUR, MILLION, fmt_bytes, fmt_count, fmt_time

#: $ per million tokens -> $ per token.
PER_MTOK = 1.0 / MILLION

#: Prefill MFU: the fraction of peak FLOP/s a well-run prefill reaches. An ASSUMPTION (prefill of
#: prompts longer than a few hundred tokens is compute-bound, but real kernels, attention and
#: communication keep it well below 1); the chapter shows the results for 0.3 to 0.7.
PREFILL_MFU = 0.5

#: Rental price of one accelerator, $ per chip-hour: DeepSeek's own assumption for an H800
#: (2025-02), https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md
DOLLARS_PER_CHIP_HOUR = 2.0

_LLM_PRICES = "https://github.com/simonw/llm-prices/blob/723ef0bd3a6254436e9fe8d7f05d4d787e99f4c5/data"
_CLAUDE = "https://platform.claude.com/docs/zh-CN/about-claude/pricing (table in English)"
_DEEPSEEK = "https://api-docs.deepseek.com/quick_start/pricing-details-usd"
_DEEPSEEK_DAY6 = ("https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/"
                  "202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md")
_GEMINI_BATCH = "https://ai.google.dev/gemini-api/docs/optimization (Batch 50% off)"
_OPENAI_BATCH = "https://help.openai.com/en/articles/9197833-batch-api-faq (50% off, 24 h window)"


# ================================================================================================
# 1. Price sheets: a dated, sourced catalog
# ================================================================================================
@dataclass(frozen=True)
class PriceSheet:
    """One provider's prices for one model, in SI units ($ per token, $ per token-second).

    input, output: $ per fresh input token and per output token (short-context tier).
    cached_input: $ per input token read from the provider's prompt cache (a "cache hit").
    long_context_threshold: prompt tokens above which the whole request is billed at
        long_input / long_output (and long_cached_input).
    cache_storage: $ per token per second to keep an explicit context cache.
    cache_writes: ((hold seconds, $ per token written), ...) for caches whose write price
        includes a hold time (Anthropic's 5-minute and 1-hour caches).
    batch_discount: fraction off for asynchronous batch jobs (0.5 = half price).
    fast_price_multiple, fast_speedup: a fast mode costing that many times the standard price
        for up to that many times the output speed.
    model: catalog model name when the served architecture is public (open weights), else None.
    date: ISO date (or month/year where that is all the source gives) from which these prices
        are known to apply. source: where each number comes from.
    """

    name: str
    provider: str
    date: str
    source: str
    input: float
    output: float
    cached_input: float | None = None
    long_context_threshold: int | None = None
    long_input: float | None = None
    long_output: float | None = None
    long_cached_input: float | None = None
    cache_storage: float | None = None
    cache_writes: tuple = ()
    batch_discount: float | None = None
    fast_price_multiple: float | None = None
    fast_speedup: float | None = None
    model: str | None = None
    confidence: str = "high"
    note: str = ""
    aliases: tuple = field(default=(), repr=False)

    def __repr__(self) -> str:
        return (f"PriceSheet({self.name!r}, {self.date}: ${self.input / PER_MTOK:g} in / "
                f"${self.output / PER_MTOK:g} out per MTok)")

    @property
    def output_input_ratio(self) -> float:
        """Output price / fresh input price (short-context tier)."""
        return self.output / self.input

    @property
    def cache_discount(self) -> float | None:
        """Fresh input price / cached input price: how many times cheaper a cache hit is."""
        return self.input / self.cached_input if self.cached_input else None

    @property
    def long_input_multiple(self) -> float | None:
        return self.long_input / self.input if self.long_input else None

    @property
    def long_output_multiple(self) -> float | None:
        return self.long_output / self.output if self.long_output else None


PRICE_SHEETS: dict[str, PriceSheet] = {}


def _add(sheet: PriceSheet) -> PriceSheet:
    PRICE_SHEETS[sheet.name] = sheet
    return sheet


def _m(x):
    """$ per million tokens -> $ per token."""
    return None if x is None else x * PER_MTOK


_add(PriceSheet(
    name="Gemini 2.5 Pro", provider="Google", date="2025-03-25",
    source=f"{_LLM_PRICES}/google.json ; https://deploybase.ai/articles/gemini-api-pricing ; "
           "storage: https://discuss.ai.google.dev/t/gemini-2-5-pro-context-cache-pricing-per-request-vs-cumulative-token-counting/92919 ; "
           f"batch: {_GEMINI_BATCH}",
    input=_m(1.25), output=_m(10.0), cached_input=_m(0.125),
    long_context_threshold=200_000, long_input=_m(2.5), long_output=_m(15.0), long_cached_input=_m(0.25),
    cache_storage=4.50 * PER_MTOK / HOUR, batch_discount=0.5, confidence="high",
    note="Prices since the preview of 2025-03-25, unchanged at general availability (June 2025). Above "
         "200k prompt tokens the whole request is billed at the long rates. Output includes thinking "
         "tokens. Cache storage $4.50 per 1M tokens per hour and the cached rates are from secondary "
         "sources (medium confidence).",
    aliases=("gemini25pro", "gemini2.5pro", "gemini")))
_add(PriceSheet(
    name="Gemini 3 Pro Preview", provider="Google", date="2025-11-18",
    source=f"{_LLM_PRICES}/google.json",
    input=_m(2.0), output=_m(12.0), long_context_threshold=200_000, long_input=_m(4.0), long_output=_m(18.0),
    confidence="medium",
    note="Secondary aggregator. The date is the preview's launch; the aggregator does not date the price.",
    aliases=("gemini3pro", "gemini3")))
_add(PriceSheet(
    name="Claude Sonnet 4.5", provider="Anthropic", date="2025-08-12",
    source=f"{_CLAUDE} ; long context: {_LLM_PRICES}/anthropic.json and "
           "https://eonsr.com/en/claude-sonnet-4-1m-context-pricing-switch ; "
           "batch: https://platform.claude.com/docs/zh-CN/models/sonnet-5/overview",
    input=_m(3.0), output=_m(15.0), cached_input=_m(0.30),
    long_context_threshold=200_000, long_input=_m(6.0), long_output=_m(22.5),
    cache_writes=((5 * 60.0, _m(3.75)), (HOUR, _m(6.0))), batch_discount=0.5,
    note="Same prices for Claude Sonnet 4 and 4.5. The long-context tier came with the 1M-token "
         "context beta announced 2025-08-12: above 200k input tokens ALL tokens of the request are "
         "billed at the long rates. Cache writes: $3.75 per MTok for a 5-minute cache, $6 for 1 hour.",
    aliases=("sonnet45", "claudesonnet4", "sonnet4", "sonnet", "claudesonnet")))
_add(PriceSheet(
    name="Claude Opus 4.6", provider="Anthropic", date="2026-02-01",
    source=f"{_CLAUDE} ; fast mode: https://platform.claude.com/docs/en/build-with-claude/fast-mode",
    input=_m(5.0), output=_m(25.0), cached_input=_m(0.50), batch_discount=0.5,
    fast_price_multiple=6.0, fast_speedup=2.5,
    note="Same prices for Opus 4.5. Fast mode: $30 / $150 per MTok, 6x the standard rates, for 'up to "
         "2.5x higher output tokens per second' from the same model; the date is the one in its beta "
         "header (fast-mode-2026-02-01). An earlier version of the page charged 12x for input above "
         "200k tokens in fast mode.",
    aliases=("opus46", "claudeopus46", "opus45", "opus")))
_add(PriceSheet(
    name="Claude Opus 4.1", provider="Anthropic", date="2025-05-22",
    source=_CLAUDE, input=_m(15.0), output=_m(75.0), cached_input=_m(1.50), batch_discount=0.5,
    note="Same prices for Claude Opus 4 (released 2025-05-22) and 4.1.",
    aliases=("opus41", "opus4", "claudeopus4")))
_add(PriceSheet(
    name="GPT-5.4", provider="OpenAI", date="2026",
    source="https://github.com/simonw/llm-prices/blob/0838d1aca5cc5cb2b5f61cc551adb09e517a0da7/data/openai.json ; "
           f"{_LLM_PRICES}/openai.json ; batch: {_OPENAI_BATCH}",
    input=_m(2.5), output=_m(15.0), cached_input=_m(0.25),
    long_context_threshold=272_000, long_input=_m(5.0), long_output=_m(22.5), long_cached_input=_m(0.5),
    batch_discount=0.5, confidence="medium",
    note="Secondary aggregator, which gives no date; the model is from 2026. Same 2x input / 1.5x "
         "output long-context premium as Google's and Anthropic's, at 272k tokens.",
    aliases=("gpt54",)))
_add(PriceSheet(
    name="GPT-5", provider="OpenAI", date="2025-08-07",
    source=f"{_LLM_PRICES}/openai.json ; https://docs.rs/crate/openai-cost/latest/source/src/pricing.rs ; "
           f"batch: {_OPENAI_BATCH}",
    input=_m(1.25), output=_m(10.0), cached_input=_m(0.125), batch_discount=0.5,
    note="Launch prices. GPT-5 mini $0.25 / $2, nano $0.05 / $0.40, Pro $15 / $120 per MTok.",
    aliases=("gpt5",)))
_add(PriceSheet(
    name="o3", provider="OpenAI", date="2025-06",
    source="https://modelpedia.dev/openai/o3-2025-04-16 ; "
           "https://aitoolrate.com/blog/2025-guide-how-much-does-openais-o3-model-cost-per-generation-explained",
    input=_m(2.0), output=_m(8.0), cached_input=_m(0.5), batch_discount=0.5, confidence="medium",
    note="After the 80% price cut of June 2025; the launch price (2025-04-16) was $10 / $40.",
    aliases=("openaio3",)))
_add(PriceSheet(
    name="DeepSeek-V3 (deepseek-chat)", provider="DeepSeek", date="2025-02-08",
    source=_DEEPSEEK, input=_m(0.27), output=_m(1.10), cached_input=_m(0.07), model="DeepSeek-V3",
    note="64K context. A launch promotion ($0.014 / $0.14 / $0.28) ran until 2025-02-08.",
    aliases=("deepseekv3", "deepseekchat", "deepseek")))
_add(PriceSheet(
    name="DeepSeek-R1 (deepseek-reasoner)", provider="DeepSeek", date="2025-02-28",
    source=f"{_DEEPSEEK} ; {_DEEPSEEK_DAY6}",
    input=_m(0.55), output=_m(2.19), cached_input=_m(0.14), model="DeepSeek-V3",
    note="R1 has DeepSeek-V3's architecture. These are the prices DeepSeek used in its own cost and "
         "margin analysis of 2025-02-28 (the date given here).",
    aliases=("deepseekr1", "deepseekreasoner", "r1")))
_add(PriceSheet(
    name="DeepSeek-V3.2", provider="DeepSeek", date="2025-12-09",
    source="https://raw.githubusercontent.com/RooCodeInc/Roo-Code/main/packages/types/src/providers/deepseek.ts "
           "('Updated Dec 9, 2025'; cites platform.deepseek.com)",
    input=_m(0.28), output=_m(0.42), cached_input=_m(0.028), confidence="medium",
    note="128K context, top-k sparse attention (not in the model catalog). Official page not read directly.",
    aliases=("deepseekv32",)))
_add(PriceSheet(
    name="Kimi K2", provider="Moonshot AI", date="2025-07",
    source=f"{_LLM_PRICES}/moonshot-ai.json",
    input=_m(0.60), output=_m(2.50), cached_input=_m(0.15), model="Kimi K2", confidence="medium",
    note="Secondary aggregator, undated; the month is the model's release. Turbo variants $1.15 / $8.",
    aliases=("kimik2", "kimi")))

_INDEX: dict[str, str] = {}
for _s in PRICE_SHEETS.values():
    for _alias in (_s.name, *_s.aliases):
        _INDEX[normalise(_alias)] = _s.name


def price_sheet(name) -> PriceSheet:
    """Look up a price sheet by name, forgiving case, spaces and dashes ('gemini-2.5-pro', 'sonnet')."""
    if isinstance(name, PriceSheet):
        return name
    key = normalise(name)
    if key in _INDEX:
        return PRICE_SHEETS[_INDEX[key]]
    raise unknown_name("price sheet", name, _INDEX)


def long_context_sheets() -> list[PriceSheet]:
    """The sheets that have a long-context surcharge, in catalog order."""
    return [s for s in PRICE_SHEETS.values() if s.long_context_threshold]


def price_multiple(sheet, context, kind: str = "output"):
    """The sheet's price at prompt length `context` as a multiple of its short-context price:
    1 up to the threshold, long/short above it (1 everywhere if the sheet has no such tier)."""
    s = price_sheet(sheet)
    ctx = non_negative("context", context)
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
    step = s.long_output_multiple if kind == "output" else s.long_input_multiple
    if not s.long_context_threshold or step is None:
        return scalar_or_array(np.ones(np.shape(ctx)))
    return scalar_or_array(np.where(ctx > s.long_context_threshold, step, 1.0))


# ================================================================================================
# 2. The long-context step -> KV bytes per token
# ================================================================================================
def implied_kv_bytes_per_token(threshold_tokens, active_params, hw, dtype: str = "bf16"):
    """KV-cache bytes per token implied by a long-context price step, if the step sits where a
    sequence's cache reads start to cost more than its arithmetic.

    Per sequence and per generated token, in the large-batch limit (weight reads shared away):
        compute 2 N_a / F   =   KV reads S_step kv / W   =>   kv = 2 N_a / (I* S_step)
    with I* = F / W the chip's critical intensity in `dtype` (the arithmetic precision).
    Worked example: 100B active, step at 200k tokens, H100 in bf16 (I* = 295.3):
    2e11 / (295.3 x 2e5) = 3,386 B per token. Accepts arrays for both numbers.
    """
    s = positive("threshold_tokens", threshold_tokens)
    n = positive("active_params", active_params)
    return scalar_or_array(2.0 * n / (critical_intensity(hw, dtype) * s))


def crossover_context(active_params, kv_bytes_per_token, hw, dtype: str = "bf16"):
    """The context S_x at which KV reads per sequence equal its arithmetic (inverse of
    `implied_kv_bytes_per_token`): S_x = 2 N_a / (I* kv). For a catalog model use
    `context.goldilocks_context`, which also handles sliding windows."""
    n = positive("active_params", active_params)
    kv = positive("kv_bytes_per_token", kv_bytes_per_token)
    return scalar_or_array(2.0 * n / (critical_intensity(hw, dtype) * kv))


def context_cost_multiple(context, active_params, kv_bytes_per_token, hw, dtype: str = "bf16"):
    """Cost of an output token at context S, as a multiple of its cost at short context, in the
    large-batch limit where a decode step is bound by max(compute, KV reads) per sequence:
        max(2 N_a / F, S kv / W) / (2 N_a / F) = max(1, S / S_x).
    Flat while the KV reads hide under the arithmetic, linear in S after the crossover S_x."""
    s = non_negative("context", context)
    sx = np.asarray(crossover_context(active_params, kv_bytes_per_token, hw, dtype))
    return scalar_or_array(np.maximum(1.0, s / sx))


# ================================================================================================
# 3. Output / input ratio -> decode MFU -> batch
# ================================================================================================
def implied_decode_mfu(output_price, input_price, prefill_mfu=PREFILL_MFU):
    """Decode MFU implied by the output/input price ratio, if price is proportional to chip time.

    A token costs chip-seconds 2 N_a / (F x MFU) in either phase, so
        output / input = MFU_prefill / MFU_decode   =>   MFU_decode = MFU_prefill x input / output.
    Example: output 8x input and prefill at 50% MFU -> decode at 6.25%.
    """
    out = positive("output_price", output_price)
    inp = positive("input_price", input_price)
    mfu = positive("prefill_mfu", prefill_mfu)
    if np.any(mfu > 1):
        raise ValueError(f"prefill_mfu must be <= 1, got {np.max(mfu):g}")
    return scalar_or_array(mfu * inp / out)


def batch_for_mfu(model, hw, mfu, context, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """The smallest batch whose decode step reaches this MFU at this context.

    While memory-bound, MFU = B c / (w + B k) with c, w, k the compute, weight-read and KV-read
    times of one sequence (from `decode_step` at batch 1), so
        B = MFU w / (c - MFU k).
    The best MFU any batch reaches is min(1, c / k) (`context.mfu_ceiling`); asking for more
    raises ValueError. MFU = 1 gives the batch where the step turns compute-bound.
    """
    u = positive("mfu", mfu)
    if np.any(u > 1):
        raise ValueError(f"mfu must be <= 1, got {np.max(u):g}")
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


def fast_mode(model, hw, batch, context, speedup, chips=1, dtype: str = "bf16", kv_dtype: str = "bf16") -> FastMode:
    """What a fast tier `speedup` times faster than a standard tier at `batch` must look like.

    Same chips, same model: the only knob is the batch. t_fast = t(batch) / speedup, and the fast
    batch is the largest whose step fits in t_fast (`roofline.batch_for_step_time`). One step
    costs the same chip-seconds in either tier, so cost per token scales as step time / batch.
    """
    s = positive("speedup", speedup)
    if np.any(s < 1):
        raise ValueError(f"speedup must be >= 1, got {np.min(s):g}")
    t_normal = np.asarray(decode_step(model, hw, batch, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full").time)
    t_fast = t_normal / s
    b_fast = np.asarray(batch_for_step_time(model, hw, t_fast, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full"))
    return FastMode(normal_batch=scalar_or_array(positive("batch", batch)), fast_batch=scalar_or_array(b_fast),
                    speedup=scalar_or_array(s), normal_time=scalar_or_array(t_normal),
                    fast_time=scalar_or_array(t_fast))


def normal_batch_for_fast_mode(model, hw, context, speedup, price_multiple, chips=1, dtype: str = "bf16",
                               kv_dtype: str = "bf16"):
    """The standard tier's batch at which a fast tier `speedup` times faster costs exactly
    `price_multiple` times more per token (same chips, same margin in both tiers).

    The cost multiple falls as the standard batch grows: from infinity where the standard step is
    just `speedup` x the weight-read floor (the fast batch shrinks to nothing) towards 1. Solved by
    bisection on log(batch). While both tiers are memory-bound this has a closed form, independent
    of the chip: B kv(S) = (s - 1) / (1 - 1/R) x weight bytes (the standard batch's caches hold
    1.8x the weights for s = 2.5, R = 6). Returns inf if even a huge standard batch keeps the
    multiple above R; raises ValueError unless speedup > 1 and price_multiple > 1.
    """
    s = float(positive("speedup", speedup))
    r = float(positive("price_multiple", price_multiple))
    if s <= 1 or r <= 1:
        raise ValueError(f"speedup and price_multiple must both be > 1, got {s:g} and {r:g}")
    floor = float(np.asarray(decode_step(model, hw, 1.0, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full").weights))
    lo = float(batch_for_step_time(model, hw, s * floor, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full"))
    if not math.isfinite(lo) or lo <= 0:
        raise ValueError("no standard batch is slow enough for this speedup at this context")
    hi = lo * 1e6

    def multiple(b):
        return float(fast_mode(model, hw, b, context, s, chips, dtype, kv_dtype).cost_multiple)

    if multiple(hi) > r:
        return math.inf
    lo_log, hi_log = math.log(lo), math.log(hi)
    for _ in range(80):
        mid = 0.5 * (lo_log + hi_log)
        if multiple(math.exp(mid)) > r:
            lo_log = mid
        else:
            hi_log = mid
    return math.exp(0.5 * (lo_log + hi_log))


# ================================================================================================
# 5. Cached input and memory tiers
# ================================================================================================
@dataclass(frozen=True)
class MemoryTier:
    """Where a KV cache can wait between requests.

    dollars_per_byte_second: what holding one byte costs per second.
    bandwidth: bytes/s per accelerator from this tier back into HBM (inf for HBM itself: a cache
        already in HBM needs no reload).
    assumption: True where the price is a cloud list price standing in for the provider's cost.
    """

    name: str
    dollars_per_byte_second: float
    bandwidth: float
    source: str
    note: str = ""
    assumption: bool = True

    @property
    def dollars_per_gb_hour(self) -> float:
        """The price in the unit people quote: $ per (decimal) GB per hour."""
        return self.dollars_per_byte_second * 1e9 * HOUR


#: 730 hours in a cloud "month" (the convention of Google Cloud's price pages).
MONTH = 730 * HOUR

_DRAM_PRICE_PER_GIB_HOUR = 0.004237
_FLASH_PRICE_PER_GIB_MONTH = 0.17
_PCIE5_X16_ONE_WAY = 64e9
_3FS_KV_READ_PER_NODE = 40 * GiB
_GPUS_PER_NODE = 8

TIERS: dict[str, MemoryTier] = {
    "host DRAM": MemoryTier(
        name="host DRAM",
        dollars_per_byte_second=_DRAM_PRICE_PER_GIB_HOUR / GiB / HOUR,
        bandwidth=_PCIE5_X16_ONE_WAY,
        source="price: Google Cloud N1/N2 on-demand memory, $0.004237 per GiB-hour, as used by OpenCost's "
               "GCP defaults, https://github.com/opencost/opencost/blob/1ea64d02df68edc052e882dfa843ecd50e7bb5c5/configs/gcp.json ; "
               "bandwidth: PCIe Gen5 x16, 128 GB/s both ways (NVIDIA H100 spec table, "
               "https://www.nvidia.com/en-us/data-center/h100/), 64 GB/s one way",
        note="ASSUMPTION: a rental price for server memory stands in for the provider's cost of DRAM "
             "beside the accelerators. Bandwidth is one GPU's host link; NVLink-C2C hosts (GH200, "
             "GB200) reach several times more."),
    "flash (SSD)": MemoryTier(
        name="flash (SSD)",
        dollars_per_byte_second=_FLASH_PRICE_PER_GIB_MONTH / GiB / MONTH,
        bandwidth=_3FS_KV_READ_PER_NODE / _GPUS_PER_NODE,
        source="price: Google Cloud SSD persistent disk, $34.00 per 200 GB-month = $0.17 per GiB-month "
               "(worked example on https://cloud.google.com/compute/disks-image-pricing, which counts "
               "1 GB = 2^30 B) ; bandwidth: DeepSeek 3FS KVCache clients read up to 40 GiB/s per node, "
               "https://github.com/deepseek-ai/3FS/blob/11901ca76b830cf9b969c9d1b18f783d03144b15/README.md, "
               "shared by the node's 8 GPUs",
        note="ASSUMPTION: networked SSD at a cloud list price; local NVMe is cheaper (about $0.08 per "
             "GiB-month on the same cloud). DeepSeek serves its prompt cache from SSD (3FS), which its "
             "README calls a cost-effective alternative to DRAM caching."),
}


def hbm_tier(hw="H100 SXM", dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR) -> MemoryTier:
    """HBM as a place to hold a cache: the chip's whole hourly price charged to its HBM bytes.

    $ per byte-second = price per chip-second / HBM capacity. A cache parked in HBM takes room a
    batch could use, so this is its opportunity cost (an upper bound: the chip also computes).
    H100 at $2 per hour: 2 / 3600 / 80e9 = 6.9e-15 $ per byte-second ($0.025 per GB-hour).
    """
    h = lookup_hardware(hw)
    p = float(positive("dollars_per_chip_hour", dollars_per_chip_hour))
    return MemoryTier(name="HBM", dollars_per_byte_second=p / HOUR / h.hbm_capacity, bandwidth=math.inf,
                      source=f"derived: ${p:g} per chip-hour / {h.name} HBM capacity ({h.source})",
                      note="the rental price of the whole chip charged to its HBM capacity", assumption=False)


def tiers(hw="H100 SXM", dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, dram_scale=1.0, flash_scale=1.0) -> dict:
    """{name: MemoryTier} for HBM (derived from the chip's price), host DRAM and flash.

    `dram_scale`, `flash_scale` multiply the assumed DRAM and flash prices: for sensitivity.
    """
    out = {"HBM": hbm_tier(hw, dollars_per_chip_hour)}
    for name, arg, scale in (("host DRAM", "dram_scale", dram_scale), ("flash (SSD)", "flash_scale", flash_scale)):
        k = float(positive(arg, scale))
        t = TIERS[name]
        out[name] = t if k == 1.0 else replace(t, dollars_per_byte_second=t.dollars_per_byte_second * k)
    return out


def recompute_cost_per_token(model, hw, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, prefill_mfu=PREFILL_MFU,
                             dtype: str = "bf16"):
    """Dollars to rebuild ONE token's cache by prefill: 2 N_a / (F x MFU) chip-seconds x price.

    (Attention's own FLOPs, which grow with the context, are left out: they make recomputing a
    long prompt dearer still.) DeepSeek-V3 on an H800 in fp8 at 50% MFU and $2 per hour:
    2 x 36.6e9 / (1978.9e12 x 0.5) x 2 / 3600 = 4.1e-8 $ per token ($0.041 per million).
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    p = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    u = positive("prefill_mfu", prefill_mfu)
    if np.any(u > 1):
        raise ValueError(f"prefill_mfu must be <= 1, got {np.max(u):g}")
    seconds = np.asarray(recompute_flops(m, 1.0)) / (h.flops_for(dtype) * u)
    return scalar_or_array(seconds * p / HOUR)


def _kv_per_token(model, kv_dtype, context):
    return np.asarray(kv_bytes_per_token(model, context, kv_dtype))


def hold_cost_per_token(model, tier: MemoryTier, seconds, kv_dtype: str = "bf16", context=None):
    """Dollars to hold ONE token's cache in `tier` for `seconds`: kv bytes x $/byte-second x t."""
    t = non_negative("seconds", seconds)
    return scalar_or_array(_kv_per_token(model, kv_dtype, context) * tier.dollars_per_byte_second * t)


def reload_cost_per_token(model, tier: MemoryTier, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR,
                          kv_dtype: str = "bf16", context=None):
    """Dollars to bring ONE token's cache back into HBM: kv / bandwidth chip-seconds x price.

    Charges the chip for the transfer time, as if it waited (an upper bound: a good server
    overlaps the transfer with other work). Zero for HBM itself.
    """
    p = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    return scalar_or_array(_kv_per_token(model, kv_dtype, context) / tier.bandwidth * p / HOUR)


def break_even_hold_time(model, hw, tier: MemoryTier, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR,
                         prefill_mfu=PREFILL_MFU, dtype: str = "bf16", kv_dtype: str = "bf16", context=None):
    """Seconds for which holding a cache in `tier` costs less than recomputing it when needed:

        t* = (recompute - reload) / (kv bytes x $ per byte-second)         (per token)

    Independent of the prompt length: recompute and hold cost both grow with it. 0 where the
    reload alone costs more than recomputing (the tier is too slow to be worth using).
    HBM on H100 at $2 per hour, prefill at 50% MFU in bf16: t* = (M / kv) x 2 N_a / (F x 0.5):
    the time to prefill as many tokens as would fill the chip's HBM.
    """
    re = np.asarray(recompute_cost_per_token(model, hw, dollars_per_chip_hour, prefill_mfu, dtype))
    back = np.asarray(reload_cost_per_token(model, tier, dollars_per_chip_hour, kv_dtype, context))
    rate = _kv_per_token(model, kv_dtype, context) * tier.dollars_per_byte_second
    return scalar_or_array(np.maximum(re - back, 0.0) / rate)


def cache_cost_curves(model, hw, seconds, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, prefill_mfu=PREFILL_MFU,
                      dtype: str = "bf16", kv_dtype: str = "bf16", dram_scale=1.0, flash_scale=1.0, context=None) -> dict:
    """{option: $ per token} for serving a cache hit after waiting `seconds`: each tier's hold +
    reload cost, and 'recompute' (the same at every hold time). Vectorised over `seconds`.

    The cheapest option at each hold time is the lower envelope: HBM for short waits, then DRAM,
    then flash, and past the flash break-even, recompute (drop the cache).
    """
    t = non_negative("seconds", seconds)
    out = {}
    for name, tier in tiers(hw, dollars_per_chip_hour, dram_scale, flash_scale).items():
        hold = np.asarray(hold_cost_per_token(model, tier, t, kv_dtype, context))
        back = np.asarray(reload_cost_per_token(model, tier, dollars_per_chip_hour, kv_dtype, context))
        out[name] = scalar_or_array(hold + back)
    re = np.asarray(recompute_cost_per_token(model, hw, dollars_per_chip_hour, prefill_mfu, dtype))
    out["recompute"] = scalar_or_array(re * np.ones(np.shape(t)))
    return out


def cheapest_option(model, hw, seconds, **kwargs):
    """Name of the cheapest way to serve a cache hit after `seconds` (see `cache_cost_curves`)."""
    curves = cache_cost_curves(model, hw, seconds, **kwargs)
    names = np.array(list(curves))
    best = names[np.argmin(np.stack([np.asarray(v) for v in curves.values()]), axis=0)]
    return best.item() if best.ndim == 0 else best


def implied_bytes_per_token_held(storage_price, tier: MemoryTier):
    """Bytes per token a context-cache storage price pays for, held in `tier` at cost:
    ($ per token-second) / ($ per byte-second). Gemini 2.5 Pro's $4.50 per MTok-hour in H100 HBM
    at $2 per hour: 1.25e-9 / 6.94e-15 = 180 kB per token."""
    p = positive("storage_price", storage_price)
    return scalar_or_array(p / tier.dollars_per_byte_second)


def storage_price_of_cache_write(write_price, input_price, hold_seconds):
    """$ per token-second implied by a cache WRITE price that includes a hold time:
    (write price - fresh input price) / hold time. Claude Sonnet's 1-hour write, $6 vs $3 per
    MTok: $3 per MTok per hour."""
    w, i = positive("write_price", write_price), positive("input_price", input_price)
    t = positive("hold_seconds", hold_seconds)
    return scalar_or_array(np.maximum(w - i, 0.0) / t)


# ================================================================================================
# 6. DeepSeek's own serving numbers: a price sheet with the cost side published
# ================================================================================================
#: DeepSeek-V3/R1 production, 24 h from 2025-02-27 12:00 UTC+8 (H800, 8 per node, fp8 matmuls).
DEEPSEEK_DAY6 = {
    "source": _DEEPSEEK_DAY6,
    "chip": "H800 SXM", "gpus_per_node": 8, "dollars_per_gpu_hour": 2.0,
    "peak_nodes": 278, "average_nodes": 226.75,
    "input_tokens": 608e9, "cache_hit_tokens": 342e9, "output_tokens": 168e9,
    "prefill_tokens_per_s_per_node": 73_700.0,   # input tokens, cache hits included
    "decode_tokens_per_s_per_node": 14_800.0,
    "average_kv_length": 4989,
    "theoretical_revenue": 562_027.0,            # $ per day if every token were billed at R1 prices
}


# ================================================================================================
# 7. The price-sheet reader
# ================================================================================================
def _usd_mtok(x) -> str:
    v = x / PER_MTOK
    return f"${v:,.3g}" if v < 1 else f"${v:,.2f}"


def read_price_sheet(sheet, hw="H100 SXM", active_params=None, prefill_mfu=PREFILL_MFU,
                     dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, dtype: str = "bf16") -> str:
    """What a price sheet says about the machine behind it, as text (print it).

    `active_params` is the assumed N_a for closed models (ignored when the sheet names a catalog
    model); `hw` and `dtype` the assumed chip and arithmetic precision; `prefill_mfu` the assumed
    prefill efficiency. Every inference is conditional on prices tracking costs: see the caveats.
    """
    s = price_sheet(sheet)
    h = lookup_hardware(hw)
    i_star = critical_intensity(h, dtype)
    m = lookup_model(s.model) if s.model else None
    n_a = m.active_params if m else (None if active_params is None else float(positive("active_params", active_params)))
    lines = [f"{s.name} ({s.provider}), prices from {s.date} [{s.confidence} confidence]",
             f"  assumed machine: {h.name} in {dtype} (I* = {i_star:,.0f} FLOP/byte), "
             f"${dollars_per_chip_hour:g} per chip-hour, prefill at {prefill_mfu:.0%} MFU"]
    if m:
        lines.append(f"  served model: {m.name}, {m.active_params / 1e9:,.1f}B active of "
                     f"{m.total_params / 1e9:,.0f}B, KV cache {fmt_bytes(kv_bytes_per_token(m))} per token (bf16)")
    elif n_a:
        lines.append(f"  assumed active parameters: {fmt_count(n_a)} (not published for this model)")
    ratio = s.output_input_ratio
    lines += [f"* input {_usd_mtok(s.input)} / output {_usd_mtok(s.output)} per million tokens: output "
              f"costs {ratio:.3g}x input",
              f"  -> if price tracks chip time, decode runs at {prefill_mfu:.0%} / {ratio:.3g} = "
              f"{float(implied_decode_mfu(s.output, s.input, prefill_mfu)):.1%} MFU: memory-bound, as the roofline says"]
    if s.cached_input:
        lines += [f"* cached input {_usd_mtok(s.cached_input)} per million: {s.cache_discount:.3g}x cheaper than fresh input",
                  "  -> a hit skips the prefill arithmetic; what remains pays for holding and reloading the cache"]
        if n_a:
            flash = TIERS["flash (SSD)"]
            kv = kv_bytes_per_token(m) if m else None
            if kv:
                re = float(recompute_cost_per_token(m, h, dollars_per_chip_hour, prefill_mfu, dtype))
                back = float(reload_cost_per_token(m, flash, dollars_per_chip_hour))
                lines.append(f"     reloading {m.name}'s cache from flash costs {back / re:.0%} of recomputing it "
                             f"on {h.name}")
    if s.long_context_threshold:
        lines.append(f"* long context: above {s.long_context_threshold:,} tokens, input x{s.long_input_multiple:.3g}, "
                     f"output x{s.long_output_multiple:.3g}")
        if n_a:
            kv = float(implied_kv_bytes_per_token(s.long_context_threshold, n_a, h, dtype))
            lines.append(f"  -> if the step marks the compute->memory crossover: KV = 2 N_a / (I* S) = "
                         f"{fmt_bytes(kv)} per token")
        else:
            per_100b = float(implied_kv_bytes_per_token(s.long_context_threshold, 100e9, h, dtype))
            lines.append(f"  -> if the step marks the compute->memory crossover: KV = 2 N_a / (I* S) = "
                         f"{fmt_bytes(per_100b)} per token per 100B active parameters (N_a unknown)")
    if s.cache_storage:
        t = tiers(h, dollars_per_chip_hour)
        held = ", ".join(f"{fmt_bytes(float(implied_bytes_per_token_held(s.cache_storage, tier)))} in {name}"
                         for name, tier in t.items())
        lines += [f"* cache storage {_usd_mtok(s.cache_storage * HOUR)} per million tokens per hour",
                  f"  -> at cost it would hold {held}, per token"]
    for hold, price in s.cache_writes:
        per_hour = float(storage_price_of_cache_write(price, s.input, hold)) * HOUR
        lines.append(f"* cache write for {fmt_time(hold)}: {_usd_mtok(price)} per million = "
                     f"{_usd_mtok(per_hour)} per million tokens per hour of holding")
    if s.batch_discount:
        lines += [f"* batch API: {s.batch_discount:.0%} off for jobs that may wait up to a day",
                  "  -> not a bigger batch (beyond the optimal batch a token costs no less); the provider buys "
                  "the freedom to run them when chips would otherwise idle"]
    if s.fast_price_multiple:
        lines += [f"* fast mode: {s.fast_price_multiple:g}x the price for up to {s.fast_speedup:g}x the speed",
                  f"  -> same chips, so the fast batch is {s.fast_price_multiple:g} x {s.fast_speedup:g} = "
                  f"{s.fast_price_multiple * s.fast_speedup:g}x smaller than the standard one"]
    lines.append("  caveats: prices carry margins and marketing; tiers are set for simplicity, not at "
                 "the exact crossover; closed models' sizes and chips are guesses.")
    return "\n".join(lines)
