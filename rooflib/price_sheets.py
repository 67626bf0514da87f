"""Price sheets: a dated, sourced catalog of what providers charge, in SI units.

A price sheet is a handful of numbers: $ per input token, $ per output token, a cheaper rate for
cached input, a surcharge above some context length, a discount for batch jobs, a premium for a
fast mode, a storage rate for a context cache. Every sheet in `PRICE_SHEETS` carries its date and
source. Prices are SI: dollars per token ($ per million tokens x 1e-6) and dollars per
token-second for storage. What the numbers imply about the machine behind them is `prices`; the
memory tiers a cache can wait in are `memory_tiers`; the text report is `reports.read_price_sheet`.

The assumptions shared by those modules (a prefill MFU, a chip's rental price) are stated here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import choice, non_negative, normalise, scalar_or_array, unknown_name
from .units import HOUR, MILLION

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
    source=f"{_CLAUDE} ; fast mode: https://platform.claude.com/docs/en/build-with-claude/fast-mode "
           "(the Spanish and Indonesian copies, /docs/es/ and /docs/id/, hold the price table) ; "
           "long context: https://git.shibatatakashi.jp/marketing-shibata50/claude-code-ultimate-guide/commit/"
           "78f4dc4b429d234f9ceaab43ee1a2bf9a3865811 (2026-02-18, checked against Anthropic's pricing and "
           "context-window pages) and https://agentmastered.com/blog/1m-context-ga",
    input=_m(5.0), output=_m(25.0), cached_input=_m(0.50), batch_discount=0.5,
    long_context_threshold=200_000, long_input=_m(10.0), long_output=_m(37.5),
    fast_price_multiple=6.0, fast_speedup=2.5, confidence="medium",
    note="Same short-context prices for Opus 4.5. Fast mode: $30 / $150 per MTok, 6x the standard rates, "
         "for 'up to 2.5x higher output tokens per second' from the same model; the date is the one in "
         "its beta header (fast-mode-2026-02-01). Above 200k input tokens Anthropic's fast-mode table "
         "charges $60 / $225, which is 6x $10 / $37.50: the standard long-context tier (2x input, 1.5x "
         "output, whole request, with the 1M-context beta header) that a guide checked against "
         "Anthropic's pricing page on 2026-02-18 (medium confidence: secondary copies). A secondary page "
         "reports that from 2026-03-13 the 1M window is generally available at the standard rates, "
         "without the tier; the sheet keeps the prices of February 2026.",
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


def price_multiple(sheet, context, *, kind: str = "output"):
    """The sheet's price at prompt length `context` as a multiple of its short-context price:
    1 up to the threshold, long/short above it (1 everywhere if the sheet has no such tier)."""
    s = price_sheet(sheet)
    ctx = non_negative("context", context)
    choice("kind", kind, ("input", "output"))
    step = s.long_output_multiple if kind == "output" else s.long_input_multiple
    if not s.long_context_threshold or step is None:
        return scalar_or_array(np.ones(np.shape(ctx)))
    return scalar_or_array(np.where(ctx > s.long_context_threshold, step, 1.0))


# ---- DeepSeek's own serving numbers: a price sheet with the cost side published --------------------
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
