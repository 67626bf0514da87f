"""rooflib.prices: price-sheet catalog, the inversions (price step -> KV bytes, price ratio -> MFU,
fast mode -> batches), memory tiers and the price-sheet reader. Hand-computed cases first.

Spec numbers, with their sources:
  H100 SXM: 989.4e12 dense bf16 FLOP/s, 3.35e12 B/s, 80e9 B of HBM
      (jax-ml/scaling-book gpus.md @1a55377; nvidia.com/en-us/data-center/h100)
  H800 SXM: fp8 1978.9e12 FLOP/s, 80e9 B (philisun.com H800 vs H100 analysis, as in specs.yaml)
  Prices: see each sheet's `source` (specs.yaml `prices:`).
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import prices as pr
from rooflib.context import goldilocks_context, goldilocks_context_for
from rooflib.reports import read_price_sheet
from rooflib.explore import prices as ex

H100_F, H100_W, H100_M = 989.4e12, 3.35e12, 80e9
H800_F8 = 1978.9e12
I_H100 = H100_F / H100_W                       # 295.3 FLOP/byte
GIB = 2.0**30


# ---- the catalog ---------------------------------------------------------------------------------
def test_every_sheet_is_dated_and_sourced():
    for s in pr.PRICE_SHEETS.values():
        assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", s.date), s.name
        assert "http" in s.source, s.name
        assert 0 < s.input < s.output < 1e-3, s.name          # $ per token, not per million
        if s.cached_input:
            assert s.cached_input < s.input
        if s.long_context_threshold:
            assert s.long_input > s.input and s.long_output > s.output
        if s.model:
            rl.model(s.model)                                 # a catalog model


def test_sheet_values_match_the_published_prices():
    # specs.yaml prices: (values in $ per million tokens)
    g = pr.price_sheet("gemini-2.5-pro")
    assert (g.input, g.output, g.cached_input) == pytest.approx((1.25e-6, 10e-6, 0.125e-6))
    assert (g.long_input, g.long_output, g.long_context_threshold) == pytest.approx((2.5e-6, 15e-6, 200_000))
    assert g.cache_storage * 3600 * 1e6 == pytest.approx(4.50)
    assert g.output_input_ratio == pytest.approx(8.0) and g.cache_discount == pytest.approx(10.0)
    # the industry's common step: x2 input, x1.5 output (Gemini, Claude Sonnet, GPT-5.4)
    for name, threshold in (("Gemini 2.5 Pro", 200_000), ("Claude Sonnet 4.5", 200_000), ("GPT-5.4", 272_000)):
        s = pr.price_sheet(name)
        assert s.long_context_threshold == threshold
        assert s.long_input_multiple == pytest.approx(2.0) and s.long_output_multiple == pytest.approx(1.5)
    opus = pr.price_sheet("opus 4.6")
    assert opus.fast_price_multiple * opus.input == pytest.approx(30e-6)     # $30 / $150 fast mode
    assert opus.fast_price_multiple * opus.output == pytest.approx(150e-6)
    assert opus.fast_speedup == 2.5


def test_lookup_errors_list_close_matches():
    with pytest.raises(rl.UnknownNameError, match="Gemini 2.5 Pro"):
        pr.price_sheet("gemini 2.5 prro")
    assert pr.price_sheet("Sonnet") is pr.price_sheet("Claude Sonnet 4.5")


def test_price_multiple_steps_at_the_threshold():
    m = pr.price_multiple("Gemini 2.5 Pro", [100_000, 200_000, 200_001, 1e6], kind="input")
    assert list(m) == [1.0, 1.0, 2.0, 2.0]
    assert pr.price_multiple("GPT-5", 1e6) == 1.0                # no long-context tier
    with pytest.raises(ValueError, match="kind"):
        pr.price_multiple("Gemini 2.5 Pro", 1e5, kind="cached")


def test_deepseek_day6_margin_reproduces():
    # DeepSeek's own arithmetic: $87,072 per day of H800s; $562,027 of revenue at R1 prices
    d = pr.DEEPSEEK_DAY6
    assert d["average_nodes"] * 8 * 24 * 2.0 == pytest.approx(87_072)
    r1 = pr.price_sheet("DeepSeek-R1")
    revenue = (d["cache_hit_tokens"] * r1.cached_input + (d["input_tokens"] - d["cache_hit_tokens"]) * r1.input
               + d["output_tokens"] * r1.output)
    assert revenue == pytest.approx(562_027, rel=1e-3)


# ---- 1. the long-context step -> KV bytes per token -----------------------------------------------
def test_implied_kv_by_hand():
    # 100B active, step at 200k, H100 bf16: 2e11 / (295.3 x 2e5) = 3,386 B per token
    kv = pr.implied_kv_bytes_per_token(200_000, 100e9, "H100")
    assert kv == pytest.approx(2 * 100e9 / (I_H100 * 200_000))
    assert kv == pytest.approx(3385.9, rel=1e-4)
    # fp8 arithmetic doubles F and halves the implied bytes
    assert pr.implied_kv_bytes_per_token(200_000, 100e9, "H100", dtype="fp8") == pytest.approx(kv / 2, rel=1e-3)
    # vectorised over both numbers
    grid = pr.implied_kv_bytes_per_token(np.array([[2e5], [2.72e5]]), np.array([1e11, 3e11]), "H100")
    assert grid.shape == (2, 2) and grid[0, 1] == pytest.approx(3 * kv)


def test_crossover_is_the_inverse_and_matches_goldilocks():
    kv = pr.implied_kv_bytes_per_token(272_000, 50e9, "B200")
    assert goldilocks_context_for(50e9, kv, "B200") == pytest.approx(272_000)
    for name in ("Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B"):    # full attention
        m = rl.model(name)
        assert goldilocks_context_for(m.active_params, rl.kv_bytes_per_token(m), "H100") == pytest.approx(
            goldilocks_context(m, "H100"))


def test_cost_multiple_flat_then_linear():
    sx = goldilocks_context_for(100e9, 10_000, "H100")
    m = pr.context_cost_multiple(np.array([0, sx / 2, sx, 2 * sx, 10 * sx]), 100e9, 10_000, "H100")
    assert m == pytest.approx([1, 1, 1, 2, 10])


# ---- 2. output / input -> decode MFU -> batch ------------------------------------------------------
def test_implied_decode_mfu_by_hand():
    assert pr.implied_decode_mfu(10e-6, 1.25e-6, prefill_mfu=0.5) == pytest.approx(0.0625)
    g = pr.price_sheet("Gemini 2.5 Pro")
    assert pr.implied_decode_mfu(g.output, g.input) == pytest.approx(pr.PREFILL_MFU / 8)
    with pytest.raises(ValueError, match="prefill_mfu"):
        pr.implied_decode_mfu(10, 1, prefill_mfu=1.5)


def test_batch_for_mfu_round_trip_and_by_hand():
    m, s, c = "Llama 3.1 70B", 4096, 8
    b = pr.batch_for_mfu(m, "H100", 0.2, s, chips=c)
    assert rl.decode_step(m, "H100", b, s, chips=c, overlap="full").mfu == pytest.approx(0.2)
    # by hand: B = u w / (c1 - u k1), per-sequence times on 8 H100
    mm = rl.model(m)
    c1 = 2 * mm.active_params / (c * H100_F)
    w = mm.total_params * 2 / (c * H100_W)
    k1 = s * 327_680 / (c * H100_W)
    assert b == pytest.approx(0.2 * w / (c1 - 0.2 * k1))
    with pytest.raises(ValueError, match="mfu must be below"):
        pr.batch_for_mfu(m, "H100", 0.9, 32_768, chips=c)            # past the Goldilocks context
    with pytest.raises(ValueError, match="mfu"):
        pr.batch_for_mfu(m, "H100", 0, s)


# ---- 3. fast mode ---------------------------------------------------------------------------------
def test_fast_mode_by_hand():
    m, s, c = "Llama 3.1 70B", 4096, 8
    f = pr.fast_mode(m, "H100", 300, s, 2.5, chips=c)
    assert f.fast_time == pytest.approx(f.normal_time / 2.5)
    assert rl.decode_step(m, "H100", f.fast_batch, s, chips=c, overlap="full").time == pytest.approx(f.fast_time)
    assert f.cost_multiple == pytest.approx(300 / f.fast_batch / 2.5)
    assert f.cost_multiple >= 1
    # too small a standard batch: nothing runs 2.5x faster than the weight-read floor allows
    assert pr.fast_mode(m, "H100", 10, s, 2.5, chips=c).cost_multiple == np.inf


def test_normal_batch_for_fast_mode_closed_form():
    # both tiers memory-bound: B kv(S) = (s - 1) / (1 - 1/R) x weight bytes = 1.8 x weights
    m, s, c = rl.model("Llama 3.1 70B"), 4096, 8
    b = pr.normal_batch_for_fast_mode(m, "H100", s, 2.5, 6.0, chips=c)
    assert b * s * 327_680 == pytest.approx(1.8 * m.total_params * 2, rel=1e-6)
    assert pr.fast_mode(m, "H100", b, s, 2.5, chips=c).cost_multiple == pytest.approx(6.0, rel=1e-6)
    with pytest.raises(ValueError, match="speedup"):
        pr.normal_batch_for_fast_mode(m, "H100", s, 1.0, 6.0)


# ---- 4. memory tiers ------------------------------------------------------------------------------
def test_tier_prices_by_hand():
    t = pr.tiers("H100", dollars_per_chip_hour=2.0)
    assert t["HBM"].dollars_per_byte_second == pytest.approx(2.0 / 3600 / H100_M)
    assert t["host DRAM"].dollars_per_byte_second == pytest.approx(0.004237 / GIB / 3600)  # GCP, per GiB-hour
    assert t["flash (SSD)"].dollars_per_byte_second == pytest.approx(0.17 / GIB / (730 * 3600))  # per GiB-month
    assert t["flash (SSD)"].bandwidth == pytest.approx(40 * GIB / 8)                      # 3FS, 40 GiB/s per node
    assert t["HBM"].dollars_per_gb_hour == pytest.approx(0.025)
    scaled = pr.tiers("H100", dollars_per_chip_hour=2.0, dram_scale=2, flash_scale=0.5)
    assert scaled["host DRAM"].dollars_per_byte_second == pytest.approx(2 * t["host DRAM"].dollars_per_byte_second)
    assert scaled["flash (SSD)"].dollars_per_byte_second == pytest.approx(t["flash (SSD)"].dollars_per_byte_second / 2)
    with pytest.raises(ValueError, match="dram_scale"):
        pr.tiers("H100", dollars_per_chip_hour=2.0, dram_scale=0)


def test_recompute_and_break_even_by_hand():
    m = rl.model("DeepSeek-V3")
    re = pr.recompute_cost_per_token(m, "H800", dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    assert re == pytest.approx(2 * m.active_params / (H800_F8 * 0.5) * 2.0 / 3600)
    hbm = pr.hbm_tier("H800", dollars_per_chip_hour=2.0)
    # HBM: no reload, so t* = (M / kv) x 2 N_a / (F x MFU)
    t = pr.break_even_hold_time(m, "H800", hbm, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    assert t == pytest.approx(H100_M / 70_272 * 2 * m.active_params / (H800_F8 * 0.5))
    assert pr.reload_cost_per_token(m, hbm) == 0.0
    # DRAM: reload first, then holding
    dram = pr.TIERS["host DRAM"]
    back = 70_272 / 64e9 * 2.0 / 3600
    assert pr.reload_cost_per_token(m, dram, dollars_per_chip_hour=2.0) == pytest.approx(back)
    t_dram = pr.break_even_hold_time(m, "H800", dram, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    assert t_dram == pytest.approx((re - back) / (70_272 * dram.dollars_per_byte_second))
    assert pr.hold_cost_per_token(m, dram, t_dram) + back == pytest.approx(re)
    # a tier too slow to be worth using: break-even 0
    crawl = pr.MemoryTier("tape", 1e-20, 1e3, source="test")
    assert pr.break_even_hold_time(m, "H800", crawl, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8") == 0.0


def test_cheapest_option_walks_down_the_tiers():
    t = np.array([1.0, 30.0, 3600.0, 30 * 86400.0])
    best = pr.cheapest_option("DeepSeek-V3", "H800", t, dtype="fp8")
    assert list(best) == ["HBM", "host DRAM", "flash (SSD)", "recompute"]
    curves = pr.cache_cost_curves("DeepSeek-V3", "H800", t, dtype="fp8")
    assert set(curves) == {"HBM", "host DRAM", "flash (SSD)", "recompute"}


def test_storage_prices_by_hand():
    g = pr.price_sheet("Gemini 2.5 Pro")
    # $4.50 per MTok-hour in H100 HBM at $2/h: 4.5e-6 x 80e9 / 2 = 180 kB per token
    assert pr.implied_bytes_per_token_held(g.cache_storage, pr.hbm_tier("H100", dollars_per_chip_hour=2.0)) == pytest.approx(180_000)
    # Claude Sonnet's 1-hour cache write: ($6 - $3) per MTok for one hour
    s = pr.price_sheet("Sonnet")
    (t5, w5), (t60, w60) = s.cache_writes
    assert pr.storage_price_of_cache_write(w60, s.input, t60) * 3600 * 1e6 == pytest.approx(3.0)
    assert pr.storage_price_of_cache_write(w5, s.input, t5) * 3600 * 1e6 == pytest.approx(9.0)


# ---- the reader ---------------------------------------------------------------------------------
def test_reader_says_what_the_sheet_implies():
    text = read_price_sheet("Claude Sonnet 4.5", "H100", active_params=100e9)
    assert "3.39 kB per token" in text and "10.0% MFU" in text and "caveats" in text
    ds = read_price_sheet("DeepSeek-R1", "H800", dtype="fp8")
    assert "DeepSeek-V3" in ds and "70.3 kB" in ds
    assert "15x smaller" in read_price_sheet("Claude Opus 4.6")
    assert "per 100B active" in read_price_sheet("GPT-5.4")


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="threshold_tokens"):
        pr.implied_kv_bytes_per_token(0, 1e11, "H100")
    with pytest.raises(ValueError, match="active_params"):
        pr.implied_kv_bytes_per_token(2e5, -1, "H100")
    with pytest.raises(ValueError, match="seconds"):
        pr.hold_cost_per_token("DeepSeek-V3", pr.TIERS["host DRAM"], -5)
    with pytest.raises(ValueError, match="speedup"):
        pr.fast_mode("Llama 3.1 70B", "H100", 100, 4096, 0.5, chips=8)
    with pytest.raises(rl.UnknownNameError):
        pr.implied_kv_bytes_per_token(2e5, 1e11, "H1000")


# ---- properties ---------------------------------------------------------------------------------
chips_ = st.sampled_from(sorted(rl.CHIPS))
models_ = st.sampled_from(sorted(rl.MODELS))


@settings(max_examples=40, deadline=None)
@given(chips_, st.floats(1e4, 2e6), st.floats(1e4, 2e6), st.floats(1e9, 3e12))
def test_implied_kv_falls_with_threshold(h, s1, s2, n):
    lo, hi = sorted((s1, s2))
    kv = pr.implied_kv_bytes_per_token(np.array([lo, hi]), n, h)
    assert kv[1] <= kv[0] * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(models_, st.floats(0.1, 10), st.floats(0.1, 10))
def test_break_even_falls_as_the_tier_gets_dearer(m, k1, k2):
    lo, hi = sorted((k1, k2))
    cheap = pr.tiers("H100", dollars_per_chip_hour=2.0, dram_scale=lo)["host DRAM"]
    dear = pr.tiers("H100", dollars_per_chip_hour=2.0, dram_scale=hi)["host DRAM"]
    assert pr.break_even_hold_time(m, "H100", dear) <= pr.break_even_hold_time(m, "H100", cheap) * (1 + 1e-12)


@settings(max_examples=40, deadline=None)
@given(models_, st.floats(0.05, 0.95), st.floats(0, 1))
def test_batch_for_mfu_round_trips_below_the_ceiling(m, frac, f):
    mm = rl.model(m)
    s = f * mm.context_length
    one = rl.decode_step(mm, "H100", 1, s, chips=8, overlap="full")
    ceiling = min(1.0, one.compute / one.kv) if one.kv > 0 else 1.0
    u = frac * ceiling
    b = pr.batch_for_mfu(mm, "H100", u, s, chips=8)
    assert rl.decode_step(mm, "H100", b, s, chips=8, overlap="full").mfu == pytest.approx(u, rel=1e-6)


# ---- explorers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bench", [ex.BENCH, ex.BENCH_TIERS])
def test_explorers_update_for_every_bench_move(bench):
    e = bench["factory"]()
    for values in bench["updates"]:
        png = e.update(**values)
        assert png[:4] == b"\x89PNG"
        assert "Not possible" not in e.message.value


# ---- answer keys of the chapter's exercises ------------------------------------------------------
def test_ch06_keys_accept_their_answers_and_reject_others():
    from rooflib.course import answers
    from rooflib.course.checks import check
    from rooflib.course.variants import variant
    keys = answers.keys("06")
    assert len({answers.parse_key(k)[1] for k in keys}) >= 6
    for k in keys:
        for student in (None, "ada", "bob", "carol"):
            value = answers.get(k).expected(variant(student, k))
            assert np.isfinite(value) and value > 0
            assert check(k, value, student=student, quiet=True)
            assert not check(k, value * 1.1, student=student, quiet=True)


def test_ch06_book_defaults():
    from rooflib.course.variants import variant
    assert variant(None, "06.1") == {"sheet": "Claude Sonnet 4.5", "active": 100e9, "chip": "H100 SXM"}
    assert variant(None, "06.3b") == {"sheet": "Gemini 2.5 Pro", "prefill_mfu": 0.5, "model": "Llama 3.1 70B",
                                      "chip": "H100 SXM", "chips": 8, "context": 4096}
    assert variant(None, "06.4a")["batch"] == 300


@pytest.mark.parametrize("key, wrong, words", [
    ("06.1", lambda x, v: x / 2, "2 FLOPs"),
    ("06.1", lambda x, v: x * 200_000, "per SEQUENCE"),
    ("06.3a", lambda x, v: 0.5 * 8.0, "Upside down"),
    ("06.4a", lambda x, v: v["batch"] / v["speedup"], "fixed cost"),
    ("06.4b", lambda x, v: x * v["speedup"], "SHORTER"),
    ("06.5", lambda x, v: x / 3600, "Seconds"),
    ("06.6", lambda x, v: x * 1e6, "MILLION"),
])
def test_ch06_classic_slips_get_their_hint(key, wrong, words, capsys):
    from rooflib.course import answers
    from rooflib.course.checks import check
    from rooflib.course.variants import variant
    v = variant(None, key)
    right = answers.get(key).expected(v)
    assert not check(key, wrong(right, v))
    out = capsys.readouterr().out
    assert words in out and f"{right:.4g}" not in out


# ---- issue 14: the price step under both step models, Opus 4.6's tier, prefill attention ----------
def test_opus_46_long_context_tier_is_implied_by_its_fast_mode_table():
    # Anthropic's fast-mode price table (platform.claude.com/docs/es/build-with-claude/fast-mode):
    # $30 / $150 per MTok up to 200k input tokens, $60 / $225 above: 6x a standard $10 / $37.50 tier.
    opus = pr.price_sheet("Claude Opus 4.6")
    assert opus.long_context_threshold == 200_000
    assert opus.fast_price_multiple * opus.long_input == pytest.approx(60e-6)
    assert opus.fast_price_multiple * opus.long_output == pytest.approx(225e-6)
    assert (opus.long_input_multiple, opus.long_output_multiple) == pytest.approx((2.0, 1.5))
    assert opus in pr.long_context_sheets()


def test_price_step_read_per_phase_is_r_minus_one_times_the_ideal():
    # 100B active, step at 200k, H100 bf16: ideal 2e11 / (295.3 x 2e5) = 3,386 B; per phase, at a
    # 1.5x height, (1.5 - 1) x that = 1,693 B.
    ideal = pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM")
    phase = pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM", overlap="none", price_multiple=1.5)
    assert ideal == pytest.approx(2 * 100e9 / (I_H100 * 200_000))
    assert round(ideal) == 3386 and phase == pytest.approx(0.5 * ideal)
    # the popular card's 1.7 kB drops the 2 of 2 FLOPs per parameter
    assert 100e9 / (I_H100 * 200_000) == pytest.approx(phase)
    # each reading puts the cost at the step where it says it is
    assert pr.context_cost_multiple(200_000, 100e9, ideal, "H100 SXM") == pytest.approx(1.0)
    assert pr.context_cost_multiple(200_000, 100e9, phase, "H100 SXM", overlap="none") == pytest.approx(1.5)
    assert pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM", overlap="none", price_multiple=2.0) == pytest.approx(ideal)
    with pytest.raises(ValueError, match="price_multiple"):
        pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM", overlap="none", price_multiple=1.0)
    with pytest.raises(ValueError, match="overlap"):
        pr.implied_kv_bytes_per_token(200_000, 100e9, "H100 SXM", overlap="half")


@settings(max_examples=30, deadline=None)
@given(s=st.floats(1e3, 1e6), kv=st.floats(1e2, 1e5))
def test_per_phase_cost_is_never_below_the_ideal(s, kv):
    ideal = pr.context_cost_multiple(s, 100e9, kv, "H100 SXM")
    phase = pr.context_cost_multiple(s, 100e9, kv, "H100 SXM", overlap="none")
    assert ideal <= phase <= 2 * ideal * (1 + 1e-12)      # max(1, x) <= 1 + x <= 2 max(1, x)


def test_recompute_includes_prefill_attention_when_given_the_prompt():
    # DeepSeek-V3 on H800, fp8 matmuls at 1978.9e12, attention at the bf16 rate 989.4e12, 50% MFU, $2/h.
    h800_f16 = 989.4e12
    ds = rl.model("DeepSeek-V3")
    a = 61 * 2 * 128 * (128 + 64 + 128)                     # MLA prefill FLOPs per query-key pair, all layers
    short = pr.recompute_cost_per_token(ds, "H800", dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    assert short == pytest.approx(2 * ds.active_params / (H800_F8 * 0.5) * 2 / 3600)
    for p in (1_000, 29_300, 128_000):
        full = pr.recompute_cost_per_token(ds, "H800", p, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
        extra = a * (p + 1) / 2 / (h800_f16 * 0.5) * 2 / 3600
        assert full == pytest.approx(short + extra, rel=1e-9)
    # the HBM break-even (no reload) scales with the recompute cost
    hbm = pr.hbm_tier("H800", dollars_per_chip_hour=2.0)
    t0 = pr.break_even_hold_time(ds, "H800", hbm, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    t = pr.break_even_hold_time(ds, "H800", hbm, 128_000, dollars_per_chip_hour=2.0, prefill_mfu=0.5, dtype="fp8")
    assert t / t0 == pytest.approx(1 + a * 128_001 / 2 / h800_f16 / (2 * ds.active_params / H800_F8))
    with pytest.raises(ValueError, match="context"):
        pr.recompute_cost_per_token(ds, "H800", 10**7)


@settings(max_examples=20, deadline=None)
@given(p=st.floats(1.0, 64_000.0))
def test_break_even_grows_with_the_prompt(p):
    hbm = pr.hbm_tier("H100 SXM")
    t = pr.break_even_hold_time("Llama 3.1 70B", "H100 SXM", hbm, np.array([p, 2 * p]))
    assert t[0] < t[1]
    assert t[0] >= pr.break_even_hold_time("Llama 3.1 70B", "H100 SXM", hbm)


def test_fast_mode_and_decode_batches_per_phase():
    m, hw, ctx = "Llama 3.1 70B", "H100 SXM", 4096
    for ov in ("full", "none"):
        b_n = pr.normal_batch_for_fast_mode(m, hw, ctx, 2.5, 6.0, chips=8, overlap=ov)
        fast = pr.fast_mode(m, hw, b_n, ctx, 2.5, chips=8, overlap=ov)
        assert fast.cost_multiple == pytest.approx(6.0, rel=1e-6)
        assert fast.fast_batch == pytest.approx(b_n / 15, rel=1e-6)
    # per phase the all-reduces add a floor: a larger standard batch for the same ratio
    assert pr.normal_batch_for_fast_mode(m, hw, ctx, 2.5, 6.0, chips=8, overlap="none") > \
        pr.normal_batch_for_fast_mode(m, hw, ctx, 2.5, 6.0, chips=8)
    for u in (0.0625, 0.125):
        b = pr.batch_for_mfu(m, hw, u, ctx, chips=8, overlap="none")
        assert rl.decode_step(m, hw, b, ctx, chips=8).mfu == pytest.approx(u, rel=1e-6)
        assert b > pr.batch_for_mfu(m, hw, u, ctx, chips=8)
    with pytest.raises(ValueError, match="mfu"):
        pr.batch_for_mfu(m, hw, 0.99, 128_000, chips=8, overlap="none")
