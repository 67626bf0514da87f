"""Answer keys for chapter 6, "Reading API prices (and the memory tiers behind them)".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/06_api_prices.ipynb.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ... import prices as pr
from ... import roofline as rf
from ...hardware import hardware
from ...kv import kv_bytes_per_token
from ...models import model
from ..variants import CHIPS, MODELS, STORAGE_PRICES, first
from . import register, written

#: Sheets with a long-context step, the book's default first.
STEP_SHEETS = first("Claude Sonnet 4.5", [s.name for s in pr.long_context_sheets()])
#: Assumed active parameter counts for closed models (none is published).
ACTIVE = [100e9, 30e9, 50e9, 200e9, 400e9, 1e12]
#: Full-attention catalog models (their bytes per token do not depend on the context).
FULL_ATTENTION = [m for m in first("DeepSeek-V3", MODELS) if not model(m).n_window_layers]
#: Sheets whose output/input ratio is in the common 4x-8x band.
RATIO_SHEETS = first("Gemini 2.5 Pro", ["Claude Sonnet 4.5", "GPT-5.4", "o3", "DeepSeek-R1 (deepseek-reasoner)",
                                        "Kimi K2", "Gemini 3 Pro Preview"])
PREFILL_MFUS = [0.5, 0.3, 0.4, 0.6, 0.7]
PRICES = [2.0, 1.5, 2.5, 3.0, 4.0]

TWO_FLOPS = ("A decode token costs 2 FLOPs (a multiply and an add) per active parameter: "
             "kv = 2 N_a / (I* S_step).")


# ---- 06.1: price step -> KV bytes per token ------------------------------------------------------
def _step(v):
    return pr.price_sheet(v["sheet"]).long_context_threshold


register(
    "06.1", lambda v: pr.implied_kv_bytes_per_token(_step(v), v["active"], v["chip"]), unit="B",
    variants={"sheet": STEP_SHEETS, "active": ACTIVE, "chip": CHIPS},
    hints=lambda v: [(_step(v), "That is bytes per SEQUENCE at the step. The KV size asked for is per "
                                "token of context: divide by the step's context length."),
                     (0.5, TWO_FLOPS)],
    question="KV-cache bytes per token implied by the sheet's long-context step, if the step sits where "
             "a sequence's cache reads (per generated token) take as long as its arithmetic, for a model "
             "with `active` active parameters on the chip (bf16 arithmetic).")


# ---- 06.9: the same step read per phase, at the step's height ---------------------------------
def _kv_per_phase(v):
    sheet = pr.price_sheet(v["sheet"])
    return pr.implied_kv_bytes_per_token(sheet.long_context_threshold, v["active"], v["chip"], overlap="none",
                                         price_multiple=sheet.long_output_multiple)


register(
    "06.9", _kv_per_phase, unit="B",
    variants={"sheet": STEP_SHEETS, "active": ACTIVE, "chip": CHIPS},
    hints=lambda v: [(1.0 / (pr.price_sheet(v["sheet"]).long_output_multiple - 1.0),
                      "That is the ideal reading (the step at the kink). Per phase the cost is 1 + S / S_x "
                      "from the start: set it equal to the step's height at the threshold."),
                     (pr.price_sheet(v["sheet"]).long_output_multiple / (pr.price_sheet(v["sheet"]).long_output_multiple - 1.0),
                      "That reads the ideal curve max(1, S / S_x) at the step's height. Per phase the KV "
                      "reads ADD to the arithmetic: cost(S) / cost(0) = 1 + S / S_x."),
                     (0.5, TWO_FLOPS)],
    question="KV-cache bytes per token implied by the sheet's long-context step under the per-phase step, "
             "where a sequence's cache reads add to its arithmetic (cost 1 + S / S_x), if the cost at the "
             "threshold equals the step's output multiple; `active` active parameters, bf16 arithmetic.")


# ---- 06.2: the active parameters that would put a real cache's crossover at the step ------------
def _n_needed(v):
    kv = kv_bytes_per_token(v["model"])
    return kv * rf.critical_intensity(v["chip"]) * _step(v) / 2.0


register(
    "06.2", _n_needed, unit="parameters", rel=0.02,
    variants={"model": FULL_ATTENTION, "sheet": STEP_SHEETS, "chip": CHIPS},
    hints=lambda v: [(2.0, "Solve kv = 2 N_a / (I* S) for N_a: N_a = kv I* S / 2, with one factor 2."),
                     (model(v["model"]).active_params / _n_needed(v),
                      "That is the model's ACTUAL active parameter count. The question asks how many it "
                      "WOULD need for its crossover to sit at the price step.")],
    question="How many active parameters would the model need, keeping its bf16 KV cache, for its "
             "compute->memory crossover on the chip (bf16) to sit exactly at the sheet's price step?")


# ---- 06.3: output/input ratio -> decode MFU -> batch --------------------------------------------
RATIO_MODELS = ["Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B", "Mixtral 8x7B"]
RATIO_CHIPS = ["H100 SXM", "H200 SXM", "B200", "MI300X"]


@functools.lru_cache(maxsize=None)
def _ratio_setups() -> tuple:
    """Whole setups (8 chips) whose implied decode MFU is reachable by a batch that fits in HBM."""
    combos = list(itertools.product(RATIO_SHEETS, PREFILL_MFUS[:3]))
    mfu = np.array([pr.implied_decode_mfu(pr.price_sheet(s).output, pr.price_sheet(s).input, prefill_mfu=u) for s, u in combos])
    out = []
    for m, chip, ctx in itertools.product(RATIO_MODELS, RATIO_CHIPS, [4096, 2048]):
        chips = 8
        one = rf.decode_step(m, chip, 1.0, ctx, chips, overlap="full")
        ok = mfu < min(1.0, one.compute / one.kv)           # below the MFU ceiling at this context
        batch = np.full(mfu.shape, np.inf)
        batch[ok] = pr.batch_for_mfu(m, chip, mfu[ok], ctx, chips=chips)
        cap = rf.max_batch(m, chip, ctx, chips)
        for (sheet, u), b in zip(combos, batch):
            if 1 <= b <= cap:
                out.append({"sheet": sheet, "prefill_mfu": u, "model": m, "chip": chip, "chips": chips,
                            "context": ctx})
    return tuple(sorted(out, key=lambda d: (d["model"] != "Llama 3.1 70B", d["chip"] != "H100 SXM",
                                            d["context"] != 4096, d["sheet"] != "Gemini 2.5 Pro",
                                            d["prefill_mfu"] != 0.5)))


def _decode_mfu(v):
    s = pr.price_sheet(v["sheet"])
    return pr.implied_decode_mfu(s.output, s.input, prefill_mfu=v["prefill_mfu"])


def _batch(v):
    return pr.batch_for_mfu(v["model"], v["chip"], _decode_mfu(v), v["context"], chips=v["chips"])


def _batch_hints(v):
    one = rf.decode_step(v["model"], v["chip"], 1.0, v["context"], v["chips"], overlap="full")
    no_kv = _decode_mfu(v) * one.weights / one.compute
    return [(no_kv / _batch(v), "You left out the KV reads: each sequence of the batch also reads its "
                                "own cache, B S kv / (C W), which adds to the memory time.")]


register(
    "06.3a", _decode_mfu, unit="", rel=0.01, variants=list(_ratio_setups()),
    hints=lambda v: [(pr.price_sheet(v["sheet"]).output_input_ratio ** 2,
                      "Upside down: decode is the EXPENSIVE phase, so its MFU is the LOWER one: "
                      "MFU_decode = MFU_prefill x input price / output price."),
                     (1.0 / v["prefill_mfu"], "Input / output alone is MFU_decode / MFU_prefill: multiply "
                                              "by the prefill MFU.")],
    question="Decode MFU (a fraction) implied by the sheet's output/input price ratio, if price is "
             "proportional to chip time and prefill runs at `prefill_mfu`.")

register(
    "06.3b", _batch, unit="sequences", rel=0.02, variants=list(_ratio_setups()), hints=_batch_hints,
    question="The smallest batch whose decode step (bf16, `chips` chips, `context` tokens of context) "
             "reaches the decode MFU of 06.3a.")


# ---- 06.4: a fast tier on the same chips --------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _fast_setups() -> tuple:
    """Standard batches at 3/4, 1 and 5/4 of min(optimal batch, largest that fits), 8 chips, with a
    fast tier that keeps at least one sequence."""
    out = []
    speedups = np.array([2.5, 2.0, 3.0])
    for m, chip, ctx in itertools.product(first("Llama 3.1 70B", ["Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B",
                                                                 "Llama 3.1 405B"]),
                                          first("H100 SXM", ["H100 SXM", "H200 SXM", "B200", "MI300X"]), [4096, 8192]):
        chips = 8
        cap = rf.max_batch(m, chip, ctx, chips)
        batches = [round(f * min(cap, rf.optimal_batch(m, chip))) for f in (1.0, 0.75, 1.25)]
        batches = [b for b in batches if 8 <= b <= cap]
        if not batches:
            continue
        fast = pr.fast_mode(m, chip, np.array(batches, dtype=float)[:, None], ctx, speedups[None, :], chips)
        for i, b in enumerate(batches):
            for j, sp in enumerate(speedups):
                if fast.fast_batch[i, j] >= 1:
                    out.append({"model": m, "chip": chip, "chips": chips, "context": ctx, "batch": b,
                                "speedup": float(sp)})
    return tuple(out)


def _fast(v):
    return pr.fast_mode(v["model"], v["chip"], v["batch"], v["context"], v["speedup"], v["chips"])


register(
    "06.4a", lambda v: _fast(v).fast_batch, unit="sequences", rel=0.02, variants=list(_fast_setups()),
    hints=lambda v: [(v["batch"] / v["speedup"] / _fast(v).fast_batch,
                      "Dividing the batch by the speedup assumes step time is proportional to the batch. "
                      "It is not while memory-bound: every step reads all the weights, a fixed cost.")],
    question="Largest batch whose decode step is `speedup` times shorter than the standard step at "
             "`batch` (same model, chips and context, bf16).")

register(
    "06.4b", lambda v: _fast(v).cost_multiple, unit="", rel=0.02, variants=list(_fast_setups()),
    hints=lambda v: [(v["speedup"], "Cost per token is step time / batch: the fast tier's steps are also "
                                    "SHORTER, so divide the batch ratio by the speedup.")],
    question="Cost per token of the fast tier as a multiple of the standard tier's: "
             "(step time / batch) fast over (step time / batch) standard.")


# ---- 06.5: break-even hold time in a memory tier ------------------------------------------------
TIER_NAMES = ["host DRAM", "flash (SSD)", "HBM"]


def _tier(v):
    return pr.tiers(v["chip"], dollars_per_chip_hour=v["price"])[v["tier"]]


def _break_even(v):
    return pr.break_even_hold_time(v["model"], v["chip"], _tier(v), dollars_per_chip_hour=v["price"], prefill_mfu=v["prefill_mfu"])


def _be_hints(v):
    t = _tier(v)
    re = pr.recompute_cost_per_token(v["model"], v["chip"], dollars_per_chip_hour=v["price"], prefill_mfu=v["prefill_mfu"])
    back = pr.reload_cost_per_token(v["model"], t, dollars_per_chip_hour=v["price"])
    hints = [(1 / 3600, "Seconds, please: the tier prices are per byte-SECOND here.")]
    if back > 0:
        hints.append((re / (re - back), "Subtract the reload: a cache held outside HBM must be copied back "
                                        "before use, which costs chip time too."))
    return hints


@functools.lru_cache(maxsize=None)
def _hold_setups() -> tuple:
    """Setups in which holding the cache is worth it for at least ten seconds (a tier too slow to
    reload, e.g. flash for a small model, would have the answer 0: no hold beats recomputing)."""
    prices, mfus = np.array(PRICES[:3])[:, None], np.array([0.5, 0.3, 0.7])[None, :]
    out = []
    for m in first("DeepSeek-V3", MODELS):
        for chip in first("H100 SXM", CHIPS):
            t = {}
            for name in TIER_NAMES:   # one vectorised call per tier over price x MFU (HBM's price moves with the chip's)
                if name == "HBM":
                    t[name] = np.array([np.broadcast_to(pr.break_even_hold_time(m, chip, pr.hbm_tier(chip, dollars_per_chip_hour=p), dollars_per_chip_hour=p, prefill_mfu=mfus),
                                                        mfus.shape)[0] for p in PRICES[:3]])
                else:
                    t[name] = np.asarray(pr.break_even_hold_time(m, chip, pr.TIERS[name], dollars_per_chip_hour=prices, prefill_mfu=mfus))
            for name in TIER_NAMES:
                for i, price in enumerate(PRICES[:3]):
                    for j, mfu in enumerate(mfus[0]):
                        if t[name][i, j] >= 10.0:
                            out.append({"model": m, "chip": chip, "tier": name, "price": price,
                                        "prefill_mfu": float(mfu)})
    return tuple(out)


register(
    "06.5", _break_even, unit="s", rel=0.02, variants=list(_hold_setups()),
    hints=_be_hints,
    question="Hold time (seconds) below which keeping a prompt's bf16 KV cache in the tier and reloading "
             "it costs less than recomputing it by prefill (bf16 arithmetic at `prefill_mfu`, chip at "
             "`price` $ per hour).")


# ---- 06.6: a storage price read as bytes per token ---------------------------------------------
STORAGE = STORAGE_PRICES


def _held(v):
    per_token_second = STORAGE[v["storage"]] * pr.PER_MTOK / 3600
    return pr.implied_bytes_per_token_held(per_token_second, pr.hbm_tier(v["chip"], dollars_per_chip_hour=v["price"]))


register(
    "06.6", _held, unit="B", rel=0.02,
    variants={"storage": list(STORAGE), "chip": first("H100 SXM", CHIPS), "price": PRICES},
    hints=[(1e6, "Prices are per MILLION tokens: divide by 10^6 once."),
           (3600.0, "Storage is priced per HOUR; the chip too. Convert both to seconds, or neither.")],
    question="Bytes of cache per token that the storage price (in $ per million tokens per hour) would "
             "pay for if the cache sat in the chip's HBM, charged at the chip's whole rental price.")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("06.7", 'Three reasons the cache size inferred from a price step can be wrong, and which '
        'way each one moves it.')
written("06.8", "Why does the KV cache change the tiers' batches, and why is there a batch API at "
        '50% off but no cheap slow mode?')
