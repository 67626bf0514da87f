"""Text reports: what a price sheet says about the machine behind it, as sentences to print.

Presentation, like `plotting`: it formats what `prices` and `memory_tiers` compute and adds no
arithmetic of its own. Computing modules never import it.
"""
from __future__ import annotations

from .errors import positive
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .memory_tiers import (TIERS, implied_bytes_per_token_held, recompute_cost_per_token, reload_cost_per_token,
                           storage_price_of_cache_write, tiers)
from .models import model as lookup_model
from .price_sheets import DOLLARS_PER_CHIP_HOUR, PER_MTOK, PREFILL_MFU, price_sheet
from .prices import implied_decode_mfu, implied_kv_bytes_per_token
from .roofline import critical_intensity
from .units import HOUR, fmt_bytes, fmt_count, fmt_time

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
              f"{float(implied_decode_mfu(s.output, s.input, prefill_mfu=prefill_mfu)):.1%} MFU: memory-bound, as the roofline says"]
    if s.cached_input:
        lines += [f"* cached input {_usd_mtok(s.cached_input)} per million: {s.cache_discount:.3g}x cheaper than fresh input",
                  "  -> a hit skips the prefill arithmetic; what remains pays for holding and reloading the cache"]
        if n_a:
            flash = TIERS["flash (SSD)"]
            kv = kv_bytes_per_token(m) if m else None
            if kv:
                re = float(recompute_cost_per_token(m, h, dollars_per_chip_hour=dollars_per_chip_hour, prefill_mfu=prefill_mfu, dtype=dtype))
                back = float(reload_cost_per_token(m, flash, dollars_per_chip_hour=dollars_per_chip_hour))
                lines.append(f"     reloading {m.name}'s cache from flash costs {back / re:.0%} of recomputing it "
                             f"on {h.name}")
    if s.long_context_threshold:
        lines.append(f"* long context: above {s.long_context_threshold:,} tokens, input x{s.long_input_multiple:.3g}, "
                     f"output x{s.long_output_multiple:.3g}")
        if n_a:
            kv = float(implied_kv_bytes_per_token(s.long_context_threshold, n_a, h, dtype=dtype))
            lines.append(f"  -> if the step marks the compute->memory crossover: KV = 2 N_a / (I* S) = "
                         f"{fmt_bytes(kv)} per token")
        else:
            per_100b = float(implied_kv_bytes_per_token(s.long_context_threshold, 100e9, h, dtype=dtype))
            lines.append(f"  -> if the step marks the compute->memory crossover: KV = 2 N_a / (I* S) = "
                         f"{fmt_bytes(per_100b)} per token per 100B active parameters (N_a unknown)")
    if s.cache_storage:
        t = tiers(h, dollars_per_chip_hour=dollars_per_chip_hour)
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
                  f"  -> if the batch on the same chips is the only knob, the fast batch is {s.fast_price_multiple:g} x {s.fast_speedup:g} = "
                  f"{s.fast_price_multiple * s.fast_speedup:g}x smaller than the standard one"]
    lines.append("  caveats: prices carry margins and marketing; tiers are set for simplicity, not at "
                 "the exact crossover; closed models' sizes and chips are guesses.")
    return "\n".join(lines)
