"""Quantities several chapters, cards and the glossary state: recomputed once with rooflib here and
compared with what each of them says (glued values in the committed notebook outputs, card text,
glossary text). A number that moves in one place and not in another fails here.

Sources of the inputs (each is also cited where the chapters use it):
  H100 SXM: 989.4e12 FLOP/s dense bf16, 3.35e12 B/s, 80e9 B
      (https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md)
  DeepSeek day-6 report: 608e9 input tokens of which 342e9 cache hits, 14,800 output tokens/s per
      8-GPU H800 node, mean KV length 4,989 tokens
      (https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md)
  MLPerf Inference v4.1 Llama 2 70B batches (chapter 1): 896 per TP2 pair of H100s, 806 per H200
      (https://github.com/mlcommons/inference_results_v4.1, commit 198fc46799b3328b36ee4bcbdebfa2db5a8e6183)
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

import rooflib as rl
from rooflib import prices as pr
from rooflib import memory_trade as mt
from rooflib.course.cards import load_all

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def glued(notebook: str) -> dict:
    """{name: float} of the values a chapter notebook glued (its committed outputs)."""
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            book = o.get("metadata", {}).get("scrapbook")
            if book:
                text = o.get("data", {}).get(book.get("mime_prefix", "application/papermill.record/") + "text/plain", "")
                try:
                    out[book["name"]] = float(text)
                except ValueError:
                    pass
    return out


def value(notebook: str, name: str) -> float:
    values = glued(notebook)
    if not values:
        pytest.skip(f"notebooks/{notebook}.ipynb has no executed glue values")
    assert name in values, f"notebooks/{notebook}.ipynb no longer glues {name!r}"
    return values[name]


@lru_cache(maxsize=None)
def markdown(notebook: str, folder: str = "notebooks") -> str:
    nb = json.loads((ROOT / folder / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@lru_cache(maxsize=None)
def cards() -> dict:
    return {card.id: card for card in load_all()}


def card_text(card_id: str) -> str:
    c = cards()[card_id]
    return " ".join((c.front, c.back))


def glossary_entry(term: str) -> str:
    """The definition under a glossary term (up to the next blank line)."""
    m = re.search(rf"^{re.escape(term)}\n((?:[^\n]+\n)+?)\n", GLOSSARY, flags=re.M)
    assert m, f"glossary has no entry {term!r}"
    return m.group(1)


# ---- the optimal batch ---------------------------------------------------------------------------
def test_h100_optimal_batch_is_the_same_everywhere():
    b_star = rl.optimal_batch("Llama 3.1 70B", "H100 SXM")
    # by hand: I* x (2 bytes / 2 FLOPs) x N_total / N_active, I* = 989.4e12 / 3.35e12
    m = rl.model("Llama 3.1 70B")
    assert b_star == pytest.approx(989.4e12 / 3.35e12 * m.total_params / m.active_params)
    for notebook, name in (("01_batching", "bstar_peak_h100"), ("02_kv_cache", "b_opt"),
                           ("06_api_prices", "b_opt"), ("07_compute_vs_memory", "b_star")):
        assert value(notebook, name) == pytest.approx(b_star, rel=1e-9), (notebook, name)
    assert round(b_star, -2) == 300
    assert "about 300 for a\n  dense bf16 model on an H100" in glossary_entry("optimal batch")


def test_deepseek_v3_optimal_batch_is_the_same_everywhere():
    on_h100 = rl.optimal_batch("DeepSeek-V3", "H100 SXM")
    on_h800_fp8 = rl.optimal_batch("DeepSeek-V3", "H800 SXM", "fp8")
    assert value("01_batching", "dsv3_opt") == pytest.approx(on_h100, rel=1e-9)
    assert value("04_pipelining", "b_star_ds") == pytest.approx(on_h800_fp8, rel=1e-9)
    # the two chips and formats differ only in the last digits: both chapters print 5,411
    assert f"{on_h100:,.0f}" == f"{on_h800_fp8:,.0f}" == "5,411"
    # the circulating 2,400 is 8 x 300: the right formula with the wrong sparsity (chapter 1)
    assert "2,400" in markdown("01_batching") and on_h100 / 2400 > 2


def test_practitioners_run_three_to_four_times_past_the_optimal_batch():
    beyond = (value("01_batching", "beyond_h100"), value("01_batching", "beyond_h200"))
    llama2 = rl.model("Llama 2 70B")
    # a TP2 pair has twice the FLOP/s and bandwidth for the same weights: B* is per replica, like the batch
    assert beyond[0] == pytest.approx(896 / rl.optimal_batch(llama2, "H100 SXM", "fp8"), rel=1e-9)
    assert beyond[1] == pytest.approx(806 / rl.optimal_batch(llama2, "H200 SXM", "fp8"), rel=1e-9)
    assert 3 <= round(min(beyond)) and round(max(beyond)) <= 4
    assert "about 3–4×" in markdown("01_batching")
    assert "3–4 times the optimal batch" in card_text("01-beyond-optimal")
    # no other range survives anywhere
    texts = [markdown(n) for n in ("01_batching", "06_api_prices", "07_compute_vs_memory")]
    texts += [card_text(i) for i in cards()] + [GLOSSARY, markdown("01_batching", "solutions")]
    for text in texts:
        assert not re.search(r"\b2\s*[–-]\s*[34]\s*(×|x|times)\s+(past|beyond|the optimal)", text)


# ---- memory turnover -------------------------------------------------------------------------------
def test_memory_turnover_of_an_h100():
    turnover = rl.memory_turnover("H100 SXM")
    assert turnover == pytest.approx(80e9 / 3.35e12)
    assert value("01_batching", "turnover_ms") == pytest.approx(turnover * 1e3, rel=1e-9)
    assert f"{turnover * 1e3:.1f} ms for an H100" in glossary_entry("memory turnover")


# ---- DeepSeek's production day -------------------------------------------------------------------
def test_deepseek_cache_hit_share():
    d = pr.DEEPSEEK_DAY6
    share = d["cache_hit_tokens"] / d["input_tokens"]
    assert share == 342 / 608 == 0.5625              # exact: the report's 56.3% is a rounding
    for notebook in ("06_api_prices", "09_service"):
        assert value(notebook, "ds_hit_pct") == pytest.approx(100 * share)
    assert "the report rounds this to 56.3%" in markdown("06_api_prices")
    # nobody rounds 56.25 down
    texts = [markdown(n) for n in ("03_moe", "05_overtraining", "06_api_prices", "08_reality_check", "09_service")]
    texts += [card_text(i) for i in cards()] + [GLOSSARY]
    assert not any(re.search(r"56\.2\s*%", t) for t in texts)


def test_deepseek_decode_mfu_under_both_definitions():
    d = pr.DEEPSEEK_DAY6
    ds, h800 = rl.model("DeepSeek-V3"), rl.hardware("H800 SXM")
    tps = d["decode_tokens_per_s_per_node"] / d["gpus_per_node"]
    weights = 2 * ds.active_params
    attention = rl.attention_flops(ds, d["average_kv_length"])
    # by hand: 61 layers x 128 heads x (score 2 (512 + 64) + value 2 x 512) FLOPs per cached token
    assert attention == pytest.approx(61 * 128 * (2 * (512 + 64) + 2 * 512) * 4989)
    assert (round(attention / 1e9, 1), round(weights / 1e9, 1)) == (84.8, 73.2)
    mfu_weights = 100 * weights * tps / h800.flops_for("fp8")
    mfu_palm = 100 * (weights + attention) * tps / h800.flops_for("fp8")
    assert (round(mfu_weights, 1), round(mfu_palm, 1)) == (6.8, 14.8)
    assert value("06_api_prices", "ds_mfu_decode") == pytest.approx(mfu_weights, rel=1e-9)
    assert value("06_api_prices", "ds_mfu_decode_palm") == pytest.approx(mfu_palm, rel=1e-9)
    assert value("03_moe", "ds_mfu_weights_pct") == pytest.approx(mfu_weights, rel=1e-9)
    assert value("03_moe", "ds_mfu_palm_pct") == pytest.approx(mfu_palm, rel=1e-9)
    assert value("06_api_prices", "ds_att_gflop") == pytest.approx(attention / 1e9, rel=1e-9)
    assert value("07_compute_vs_memory", "att_gflop") == pytest.approx(attention / 1e9, rel=1e-9)
    assert value("07_compute_vs_memory", "weights_gflop") == pytest.approx(weights / 1e9, rel=1e-9)
    card = card_text("06-mfu-definitions")
    for stated in (f"{mfu_weights:.1f}%", f"{mfu_palm:.1f}%", f"{attention / 1e9:.1f} GFLOP", f"{weights / 1e9:.1f} GFLOP"):
        assert stated in card, stated
    assert f"{attention / 1e9:.1f} GFLOP per token against {weights / 1e9:.1f}" in card_text("07-mla-trade")


# ---- chapter 6: the price step, fast mode, cache hits ------------------------------------------------
def test_price_step_kilobytes_per_token():
    ideal = pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM")
    per_phase = pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM", overlap="none", price_multiple=1.5)
    one_flop = 100e9 / (989.4e12 / 3.35e12 * 200_000)        # the popular card: 1 FLOP per parameter
    assert (round(ideal / 1e3, 1), round(per_phase / 1e3, 1), round(one_flop / 1e3, 1)) == (3.4, 1.7, 1.7)
    assert value("06_api_prices", "kv_hand") == pytest.approx(ideal, rel=1e-9)
    assert value("06_api_prices", "kv_phase") == pytest.approx(per_phase, rel=1e-9)
    assert value("06_api_prices", "kv_card_kb") == pytest.approx(one_flop / 1e3, rel=1e-9)
    back = card_text("06-implied-kv")
    assert f"{ideal / 1e3:.1f} kB" in back and f"{one_flop / 1e3:.1f} kB" in back
    assert cards()["06-implied-kv"].value() == pytest.approx(ideal)
    assert cards()["06-implied-kv-per-phase"].value() == pytest.approx(per_phase)


def test_fast_mode_is_fifteen_times_smaller_if_the_batch_is_the_only_knob():
    sheet = pr.price_sheet("Claude Opus 4.6")
    factor = sheet.fast_price_multiple * sheet.fast_speedup
    assert factor == 15
    b_n, b_f = value("06_api_prices", "b_n"), value("06_api_prices", "b_f")
    assert b_n / b_f == pytest.approx(factor, rel=1e-6)
    assert value("06_api_prices", "b_np") / value("06_api_prices", "b_fp") == pytest.approx(factor, rel=1e-6)
    entry = glossary_entry("fast mode")
    assert "about 15 times\n  smaller" in entry or "about 15 times smaller" in entry
    for text in (entry, card_text("06-fast-mode-concept")):
        assert "only knob" in text and "speculative" in text and "parallelism" in text
    assert "the only lever is a smaller batch" not in GLOSSARY


def test_cache_hit_break_even_depends_on_long_prompts():
    d_glued = value("06_api_prices", "px_ds")
    ds, h800 = rl.model("DeepSeek-V3"), rl.hardware("H800 SXM")
    a = 61 * 2 * 128 * (128 + 64 + 128)                      # MLA prefill FLOPs per query-key pair
    p_x = 2 * (2 * ds.active_params / a) * h800.flops_for("bf16") / h800.flops_for("fp8") - 1
    assert d_glued == pytest.approx(p_x, rel=1e-9)
    assert round(p_x, -3) == 15_000
    assert "past about 15k tokens for DeepSeek-V3" in card_text("06-cache-hits")
    assert "does not depend on the prompt length" not in glossary_entry("cache hit")
    hbm = pr.tiers("H800 SXM")["HBM"]
    ratio = (pr.break_even_hold_time(ds, "H800 SXM", hbm, 128_000, dtype="fp8")
             / pr.break_even_hold_time(ds, "H800 SXM", hbm, dtype="fp8"))
    assert value("06_api_prices", "grow_ds_128k") == pytest.approx(ratio, rel=1e-9)


# ---- chapter 7: reversible layers --------------------------------------------------------------------
def test_reversible_memory_is_two_full_width_streams():
    plan = mt.activation_plan("Llama 3.1 70B", 8192)
    assert plan.reversible == 2 * plan.checkpoint + plan.layer
    text = markdown("07_compute_vs_memory")
    assert "two output halves" not in text and "$2c + A$" in text and "$c + A$" in text
    assert value("07_compute_vs_memory", "rev_gb") == pytest.approx(plan.reversible / 1e9, rel=1e-9)
    assert "\\(2c + A\\)" in card_text("07-reversible-gb")


# ---- continuous batching: the wait is more than one step -------------------------------------------
def test_batching_wait_is_not_only_one_step():
    entry = glossary_entry("continuous batching")
    for needed in ("prefill", "KV memory", "chunks", "chapter 9"):
        assert needed in entry, needed
    assert "Batching therefore costs at most one extra step" not in markdown("01_batching")
