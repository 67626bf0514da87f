"""Memory tiers: where a KV cache can wait between requests, and what waiting costs.

A cache hit skips the prefill's arithmetic (2 N_a FLOPs per prompt token). Holding the cache
until the next request costs memory rent; bringing it back into HBM costs transfer time. Per
token of cache, for a tier with rent r ($ per byte-second) and reload bandwidth W_t:

    hold(t)   = kv x r x t                                       `hold_cost_per_token`
    reload    = kv / W_t chip-seconds x price                    `reload_cost_per_token`
    recompute = 2 N_a / (F x MFU) chip-seconds x price           `recompute_cost_per_token`
              (+ A_prefill(P) / P / (F_bf16 x MFU) for a P-token prompt: prefill attention)

and holding pays while hold(t) + reload < recompute: up to `break_even_hold_time`. Without the
attention term every cost is per token and the break-even does not depend on the prompt; with it
(pass the prompt as `context`), a longer prompt is dearer to rebuild per token and worth holding
longer: for DeepSeek-V3's MLA prefill on an H800 in fp8 the term matches the weights' at about
1.5e4 tokens (3e4 in FLOPs, at half the fp8 rate), for Llama 3.1 70B's GQA on H100 in bf16 at 1.1e5. HBM's rent
is the chip's whole price over its capacity (`hbm_tier`); host DRAM's and flash's are cloud
list prices, ASSUMPTIONS with sources in `TIERS`: `tiers(..., dram_scale=, flash_scale=)`
rescales them, to show how the conclusions move when they are off by a factor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .attention import prefill_attention_flops
from .context import recompute_flops
from .errors import context_tokens, fraction, non_negative, positive, scalar_or_array
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .price_sheets import DOLLARS_PER_CHIP_HOUR, PREFILL_MFU
from .units import BILLING_MONTH, HOUR, GiB

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
        dollars_per_byte_second=_FLASH_PRICE_PER_GIB_MONTH / GiB / BILLING_MONTH,
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


def hbm_tier(hw="H100 SXM", *, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR) -> MemoryTier:
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


def tiers(hw="H100 SXM", *, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, dram_scale=1.0, flash_scale=1.0) -> dict:
    """{name: MemoryTier} for HBM (derived from the chip's price), host DRAM and flash.

    `dram_scale`, `flash_scale` multiply the assumed DRAM and flash prices: for sensitivity.
    """
    out = {"HBM": hbm_tier(hw, dollars_per_chip_hour=dollars_per_chip_hour)}
    for name, arg, scale in (("host DRAM", "dram_scale", dram_scale), ("flash (SSD)", "flash_scale", flash_scale)):
        k = float(positive(arg, scale))
        t = TIERS[name]
        out[name] = t if k == 1.0 else replace(t, dollars_per_byte_second=t.dollars_per_byte_second * k)
    return out


def recompute_cost_per_token(model, hw, context=None, *, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR,
                             prefill_mfu=PREFILL_MFU, dtype: str = "bf16"):
    """Dollars to rebuild ONE token's cache by prefill, as part of a `context`-token prompt:

        [2 N_a / F  +  A_prefill(P) / P / F_bf16] / MFU  chip-seconds  x  price per chip-second

    The first term is the weights' arithmetic, the same for every token. The second is prefill
    attention (`attention.prefill_attention_flops`, causal: a (P + 1) / 2 FLOPs per token with a the
    FLOPs of one query-key pair over all layers), quadratic in the prompt so linear per token; it
    runs at the bf16 rate, as in `step.build_step`, and at the same MFU. `context=None` leaves it
    out (the short-prompt limit). DeepSeek-V3 on an H800 in fp8 at 50% MFU and $2 per hour:
    2 x 36.6e9 / (1978.9e12 x 0.5) x 2 / 3600 = 4.1e-8 $ per token ($0.041 per million); at a
    29,300-token prompt attention adds as many FLOPs again, at half the rate: about 3x that.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    p = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    u = fraction("prefill_mfu", prefill_mfu)
    seconds = np.asarray(recompute_flops(m, 1.0)) / h.flops_for(dtype)
    if context is not None:
        s = np.asarray(positive("context", context_tokens(m, context)), dtype=float)
        seconds = seconds + np.asarray(prefill_attention_flops(m, s)) / s / h.flops_for("bf16")
    return scalar_or_array(seconds / u * p / HOUR)


def _kv_per_token(model, kv_dtype, context):
    return np.asarray(kv_bytes_per_token(model, context, dtype=kv_dtype))


def hold_cost_per_token(model, tier: MemoryTier, seconds, context=None, *, kv_dtype: str = "bf16"):
    """Dollars to hold ONE token's cache in `tier` for `seconds`: kv bytes x $/byte-second x t."""
    t = non_negative("seconds", seconds)
    return scalar_or_array(_kv_per_token(model, kv_dtype, context) * tier.dollars_per_byte_second * t)


def reload_cost_per_token(model, tier: MemoryTier, context=None, *,
                          dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR, kv_dtype: str = "bf16"):
    """Dollars to bring ONE token's cache back into HBM: kv / bandwidth chip-seconds x price.

    Charges the chip for the transfer time, as if it waited (an upper bound: a good server
    overlaps the transfer with other work). Zero for HBM itself.
    """
    p = positive("dollars_per_chip_hour", dollars_per_chip_hour)
    return scalar_or_array(_kv_per_token(model, kv_dtype, context) / tier.bandwidth * p / HOUR)


def break_even_hold_time(model, hw, tier: MemoryTier, context=None, *, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR,
                         prefill_mfu=PREFILL_MFU, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Seconds for which holding a cache in `tier` costs less than recomputing it when needed:

        t* = (recompute - reload) / (kv bytes x $ per byte-second)         (per token)

    With `context=None` every term is per token and t* does not depend on the prompt length.
    Given the prompt length as `context`, recompute includes prefill attention
    (`recompute_cost_per_token`), which grows with the prompt, so t* grows too: by a few percent
    at a few thousand tokens, and about 3x for DeepSeek-V3 (MLA, fp8 matmuls) at 3e4 tokens.
    (`context` also sets the cache per token of sliding-window models.) 0 where the reload alone
    costs more than recomputing (the tier is too slow to be worth using).
    HBM on H100 at $2 per hour, prefill at 50% MFU in bf16: t* = (M / kv) x 2 N_a / (F x 0.5):
    the time to prefill as many tokens as would fill the chip's HBM.
    """
    re = np.asarray(recompute_cost_per_token(model, hw, context, dollars_per_chip_hour=dollars_per_chip_hour,
                                             prefill_mfu=prefill_mfu, dtype=dtype))
    back = np.asarray(reload_cost_per_token(model, tier, dollars_per_chip_hour=dollars_per_chip_hour, kv_dtype=kv_dtype, context=context))
    rate = _kv_per_token(model, kv_dtype, context) * tier.dollars_per_byte_second
    return scalar_or_array(np.maximum(re - back, 0.0) / rate)


def cache_cost_curves(model, hw, seconds, context=None, *, dollars_per_chip_hour=DOLLARS_PER_CHIP_HOUR,
                      prefill_mfu=PREFILL_MFU, dtype: str = "bf16", kv_dtype: str = "bf16", dram_scale=1.0,
                      flash_scale=1.0) -> dict:
    """{option: $ per token} for serving a cache hit after waiting `seconds`: each tier's hold +
    reload cost, and 'recompute' (the same at every hold time; with prefill attention when
    `context`, the prompt length, is given). Vectorised over `seconds`.

    The cheapest option at each hold time is the lower envelope: HBM for short waits, then DRAM,
    then flash, and past the flash break-even, recompute (drop the cache).
    """
    t = non_negative("seconds", seconds)
    out = {}
    for name, tier in tiers(hw, dollars_per_chip_hour=dollars_per_chip_hour, dram_scale=dram_scale, flash_scale=flash_scale).items():
        hold = np.asarray(hold_cost_per_token(model, tier, t, kv_dtype=kv_dtype, context=context))
        back = np.asarray(reload_cost_per_token(model, tier, dollars_per_chip_hour=dollars_per_chip_hour, kv_dtype=kv_dtype, context=context))
        out[name] = scalar_or_array(hold + back)
    re = np.asarray(recompute_cost_per_token(model, hw, context, dollars_per_chip_hour=dollars_per_chip_hour,
                                             prefill_mfu=prefill_mfu, dtype=dtype))
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
