"""Context length (rooflib.context) and attention designs (rooflib.kv.redesign): hand-computed cases.

Spec numbers, with their sources:
  H100 SXM: 989.4e12 dense bf16 FLOP/s, 3.35e12 B/s HBM, 80e9 B
      (jax-ml/scaling-book gpus.md @1a55377; nvidia.com/en-us/data-center/h100)
  H800 SXM: same compute and HBM as H100 (philisun.com H800 vs H100 analysis, specs.yaml)
KV bytes per token are derived from each model's published config (see tests/test_kv.py).
"""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import context as cx
from rooflib.kv import attention_designs, redesign

H100_F, H100_W, H100_M = 989.4e12, 3.35e12, 80e9
I_H100 = H100_F / H100_W                                   # 295.3 FLOP/byte

LLAMA70 = rl.model("Llama 3.1 70B")
DSV3 = rl.model("DeepSeek-V3")
GPTOSS = rl.model("gpt-oss-120b")
GEMMA = rl.model("Gemma 3 27B")
FULL_ATTENTION = [m for m in rl.MODELS.values() if not m.n_window_layers]


# ---- Goldilocks context --------------------------------------------------------------------------
def test_goldilocks_llama70b_h100_by_hand():
    # 2 N_a / (I* kv): Llama 3.1 70B caches 2 x 80 x 8 x 128 x 2 = 327,680 B per token (sku_list.py)
    expected = 2 * LLAMA70.active_params / (I_H100 * 327_680)
    assert cx.goldilocks_context(LLAMA70, "H100") == pytest.approx(expected)
    assert 1430 < expected < 1440


def test_goldilocks_deepseek_h800_by_hand():
    # MLA: (512 + 64) x 61 x 2 = 70,272 B per token (config_671B.json)
    expected = 2 * DSV3.active_params / (I_H100 * 70_272)
    assert cx.goldilocks_context(DSV3, "H800") == pytest.approx(expected)
    assert 3500 < expected < 3560


def test_goldilocks_respects_sliding_window():
    # gpt-oss-120b: 18 full layers grow by 2 x 8 x 64 x 2 = 2,048 B per token each; 18 window
    # layers stop at 128 tokens. kv(S) = 18 x 2048 x S + 18 x 2048 x 128 for S > 128.
    target = 2 * GPTOSS.active_params / I_H100
    expected = (target - 18 * 2048 * 128) / (18 * 2048)
    assert expected > 128
    assert cx.goldilocks_context(GPTOSS, "H100") == pytest.approx(expected)
    # ignoring the window would put S* at target / (36 x 2048): about half as far
    assert cx.goldilocks_context(GPTOSS, "H100") > 1.5 * target / (36 * 2048)


def test_goldilocks_inside_the_window():
    # Gemma 3 27B on H100: S* < 1,024, where every one of the 62 layers still stores every token
    expected = 2 * GEMMA.active_params / (I_H100 * 2 * 62 * 16 * 128 * 2)
    assert expected < 1024
    assert cx.goldilocks_context(GEMMA, "H100") == pytest.approx(expected)


def test_goldilocks_is_where_kv_slope_meets_compute_slope():
    for name, chip in [("Llama 3.1 70B", "H100"), ("DeepSeek-V3", "H800"), ("gpt-oss-120b", "B200"),
                       ("Gemma 3 27B", "MI300X")]:
        s = cx.goldilocks_context(name, chip)
        step = rl.decode_step(name, chip, 1e9, s, overlap="full")          # huge batch: weights negligible
        assert step.kv == pytest.approx(step.compute, rel=1e-6)
        assert rl.decode_step(name, chip, 1e9, 0.98 * s, overlap="full").bound == "compute"
        assert rl.decode_step(name, chip, 1e9, 1.02 * s, overlap="full").bound == "memory"


def test_goldilocks_equals_recompute_to_read_ratio_for_full_attention():
    for m in FULL_ATTENTION:
        assert cx.goldilocks_context(m, "B200") == pytest.approx(cx.recompute_to_read_ratio(m, "B200"))


def test_goldilocks_context_for_is_the_one_raw_number_form():
    """S* = 2 N_a / (I* kv) has one home: the ratio, the catalog-free S* and the price inversion agree exactly."""
    for m in FULL_ATTENTION:
        kv = rl.kv_bytes_per_token(m)
        sx = cx.goldilocks_context_for(m.active_params, kv, "H100")
        assert sx == cx.recompute_to_read_ratio(m, "H100")                  # bit for bit
        assert sx == pytest.approx(2 * m.active_params / (I_H100 * kv), rel=1e-12)
        assert rl.prices.implied_kv_bytes_per_token(sx, m.active_params, "H100") == pytest.approx(kv)
    # Llama 3.1 70B on H100 in bf16: 2 x 69.5e9 / (295.3 x 327,680) = 1,436 tokens (goldilocks_context)
    assert cx.goldilocks_context_for(69.5e9, 327_680, "H100") == pytest.approx(1_436, abs=0.5)
    with pytest.raises(ValueError, match="kv_bytes_per_token"):
        cx.goldilocks_context_for(70e9, 0, "H100")


def test_fp8_cache_doubles_goldilocks_for_full_attention():
    for m in FULL_ATTENTION:
        assert cx.goldilocks_context(m, "H100", kv_dtype="fp8") == pytest.approx(
            2 * cx.goldilocks_context(m, "H100"))


def test_goldilocks_with_attention_flops_ideal():
    # DeepSeek-V3 decode attention (absorbed MLA): 2 x 128 x (2 x 512 + 64) FLOPs per cached token per layer
    a = 61 * 2 * 128 * (2 * 512 + 64)
    expected = 2 * DSV3.active_params / (I_H100 * 70_272 - a)
    assert cx.goldilocks_context(DSV3, "H800", attention=True, overlap="full") == pytest.approx(expected)
    assert expected > 5 * cx.goldilocks_context(DSV3, "H800")
    # for GQA models attention FLOPs barely move S* (n_h / n_kv = 8 FLOP/byte << 295)
    g = cx.goldilocks_context(LLAMA70, "H100", attention=True, overlap="full")
    assert g == pytest.approx(2 * LLAMA70.active_params / (I_H100 * 327_680 - 4 * 64 * 128 * 80))
    assert 1.0 < g / cx.goldilocks_context(LLAMA70, "H100") < 1.05
    # a chip whose I* is below MLA's attention intensity (242): attention alone keeps up with
    # the cache reads at any context, so they never catch up with the compute: inf
    fast_memory = dataclasses.replace(rl.hardware("H100"), name="fast", hbm_bandwidth=10e12)
    assert cx.goldilocks_context(DSV3, fast_memory, attention=True, overlap="full") == np.inf
    assert cx.goldilocks_context(DSV3, fast_memory) < np.inf


def test_goldilocks_with_attention_flops_per_phase():
    # Per phase, attention's arithmetic sits in the attention kernel with the cache reads: it moves
    # S* only where it outlasts them. H800 (I* 295 > MLA's 242): hidden, S* unchanged.
    assert cx.goldilocks_context(DSV3, "H800", attention=True) == pytest.approx(cx.goldilocks_context(DSV3, "H800"))
    assert cx.goldilocks_context(LLAMA70, "H100", attention=True) == pytest.approx(
        cx.goldilocks_context(LLAMA70, "H100"))
    # H200 SXM: 989.4e12 FLOP/s bf16, 4.8e12 B/s (I* = 206 < 242): the attention phase is
    # compute-bound and reaches the matmul time 2 N_a / F when A(S) = 2 N_a:
    # S = 2 N_a / (61 x 2 x 128 x 1088) = 4,311 tokens, whatever the chip; by the cache alone 5,057.
    by_attention = 2 * DSV3.active_params / (61 * 2 * 128 * 1088)
    by_cache = 2 * DSV3.active_params / ((989.4e12 / 4.8e12) * 70_272)
    assert by_attention < by_cache
    assert cx.goldilocks_context(DSV3, "H200", attention=True) == pytest.approx(by_attention)
    assert cx.goldilocks_context(DSV3, "H200") == pytest.approx(by_cache)
    assert 4300 < by_attention < 4320


def test_all_windowed_model_has_no_goldilocks_when_its_cache_is_too_small():
    # Every layer windowed: one sequence's cache never exceeds 62 x 1,024 x 8,192 B = 520 MB.
    all_local = redesign(GEMMA, n_window_layers=62)
    cap = 62 * 1024 * 8192
    assert rl.kv_bytes(all_local, 100_000) == cap
    # H100 needs 2 N_a / I* = 184 MB of cache per sequence to balance: reached inside the window
    assert cx.goldilocks_context(all_local, "H100") == pytest.approx(
        2 * GEMMA.active_params / I_H100 / (62 * 8192))
    # a chip with 100 TB/s (I* = 9.9) would need 5.5 GB per sequence: never reached
    fast = dataclasses.replace(rl.hardware("H100"), name="fast", hbm_bandwidth=100e12)
    assert 2 * GEMMA.active_params / rl.critical_intensity(fast) > cap
    assert cx.goldilocks_context(all_local, fast) == np.inf
    assert cx.context_for_kv_bytes(all_local, 2 * cap) == np.inf


# ---- MFU ceiling, memory-bound context, compute-bound batch: both step models -------------------
def test_mfu_ceiling_ideal_is_goldilocks_over_context():
    s_star = cx.goldilocks_context(LLAMA70, "H100")
    s = np.array([s_star / 2, s_star, 2 * s_star, 4 * s_star])
    assert np.allclose(cx.mfu_ceiling(LLAMA70, "H100", s, overlap="full"), [1.0, 1.0, 0.5, 0.25])
    assert cx.mfu_ceiling(LLAMA70, "H100", 0, overlap="full") == 1.0


def test_mfu_ceiling_per_phase_is_one_over_one_plus_s_over_s_star():
    # the phases add: c / (c + k) with k / c = S / S* for full attention (GQA attention arithmetic,
    # 8 FLOP/byte, hides under its own cache reads)
    s_star = cx.goldilocks_context(LLAMA70, "H100")
    s = np.array([s_star / 2, s_star, 2 * s_star, 4 * s_star])
    assert np.allclose(cx.mfu_ceiling(LLAMA70, "H100", s), [2 / 3, 1 / 2, 1 / 3, 1 / 5])
    assert cx.mfu_ceiling(LLAMA70, "H100", 0) == 1.0
    # by hand at 8,192 tokens: S* = 2 x 69.5e9 / (295.3 x 327,680); 1 / (1 + 8192 / S*) = 14.9%
    by_hand = 1 / (1 + 8192 / (2 * LLAMA70.active_params / (I_H100 * 327_680)))
    assert cx.mfu_ceiling(LLAMA70, "H100", 8192) == pytest.approx(by_hand)
    assert 0.149 < by_hand < 0.150
    assert cx.mfu_ceiling(LLAMA70, "H100", 8192, overlap="full") == pytest.approx(1436.31 / 8192, rel=1e-5)
    # leaving attention's FLOPs out changes nothing for GQA; with MLA on H200 it matters
    assert cx.mfu_ceiling(LLAMA70, "H100", 8192, attention=False) == pytest.approx(by_hand)
    assert cx.mfu_ceiling(DSV3, "H200", 8192) < cx.mfu_ceiling(DSV3, "H200", 8192, attention=False)


def test_mfu_ceiling_per_phase_mla_with_compute_bound_attention():
    # DeepSeek-V3 on H200: the attention phase takes A(S) / F (> kv(S) / W), so the ceiling is
    # 2 N_a / (2 N_a + A(S)) = 1 / (1 + S / 4,311)
    s = np.array([1000.0, 8192, 32_768])
    a = 61 * 2 * 128 * 1088 * s
    assert np.allclose(cx.mfu_ceiling(DSV3, "H200", s), 2 * DSV3.active_params / (2 * DSV3.active_params + a))


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(0, 1),
       st.sampled_from(["none", "full"]), st.sampled_from(["bf16", "fp8"]))
def test_mfu_ceiling_is_what_decode_step_reaches_at_a_huge_batch(m, h, f, overlap, kv_dtype):
    # The closed form must agree with the library's own step: on one chip (no collectives), at
    # B = 1e9 the weight reads are shared to nothing and MFU tends to the ceiling.
    s = f * rl.model(m).context_length
    step = rl.decode_step(m, h, 1e9, s, overlap=overlap, kv_dtype=kv_dtype)
    assert step.comm == 0.0
    assert step.mfu == pytest.approx(cx.mfu_ceiling(m, h, s, kv_dtype=kv_dtype, overlap=overlap), rel=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.sampled_from(["none", "full"]))
def test_mfu_ceiling_never_rises_with_context(m, h, overlap):
    s = np.linspace(0, rl.model(m).context_length, 200)
    c = cx.mfu_ceiling(m, h, s, overlap=overlap)
    assert np.all(np.diff(c) <= 1e-12) and np.all((0 < c) & (c <= 1))


def test_mfu_ceiling_on_achievable_rates_is_a_fraction_of_peak():
    real = rl.achievable("H100")
    assert cx.mfu_ceiling(LLAMA70, real, 8192) == pytest.approx(rl.decode_step(LLAMA70, real, 1e9, 8192).mfu,
                                                               rel=1e-5)
    assert cx.mfu_ceiling(LLAMA70, real, 0) == pytest.approx(794.5 / 989.4, rel=1e-3)   # MAMF / peak


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(1, 1e6),
       st.floats(0, 1), st.sampled_from(["none", "full"]))
def test_mfu_never_beats_its_ceiling(m, h, b, f, overlap):
    s = f * rl.model(m).context_length
    assert rl.decode_step(m, h, b, s, overlap=overlap).mfu <= cx.mfu_ceiling(m, h, s, overlap=overlap) * (1 + 1e-9)


def test_per_phase_ceiling_never_above_the_ideal():
    for m in rl.MODELS.values():
        s = np.linspace(0, m.context_length, 50)
        assert np.all(cx.mfu_ceiling(m, "H100", s) <= cx.mfu_ceiling(m, "H100", s, overlap="full") + 1e-12)


def test_doubling_context_past_goldilocks_at_fixed_batch():
    s_star = cx.goldilocks_context(LLAMA70, "H100")
    b = 512
    at, twice = (rl.decode_step(LLAMA70, "H100", b, s, chips=8, overlap="full") for s in (s_star, 2 * s_star))
    c, w = at.compute, at.weights
    assert at.mfu == pytest.approx(c / (w + c))             # kv = compute at S*
    assert twice.mfu == pytest.approx(c / (w + 2 * c))      # kv doubles
    assert 1.5 < at.mfu / twice.mfu < 2.0
    # per phase: attention phase (kv) + matmul phase (compute, as B > B*) + all-reduces
    at, twice = (rl.decode_step(LLAMA70, "H100", b, s, chips=8) for s in (s_star, 2 * s_star))
    assert at.mfu == pytest.approx(c / (c + c + at.comm))
    assert twice.mfu == pytest.approx(c / (2 * c + c + twice.comm))
    assert at.comm == twice.comm > 0


def test_memory_bound_context_ideal():
    b = np.array([100, 400, 1000, 10_000])
    s = cx.memory_bound_context(LLAMA70, "H100", b, overlap="full")
    assert s[0] == 0.0                                      # below the optimal batch (~300)
    assert np.all(np.diff(s) > 0) and np.all(s < cx.goldilocks_context(LLAMA70, "H100"))
    for bi, si in zip(b[1:], s[1:]):
        step = rl.decode_step(LLAMA70, "H100", bi, si, chips=8, overlap="full")
        assert step.compute == pytest.approx(step.memory)
    # by hand: kv(S) = 2 N_a / I* - N_t b_w / B
    by_hand = (2 * LLAMA70.active_params / I_H100 - 2 * LLAMA70.total_params / 1000) / 327_680
    assert s[2] == pytest.approx(by_hand)


def test_memory_bound_context_per_phase_jumps_to_goldilocks():
    b_star = rl.optimal_batch(LLAMA70, "H100")
    s_star = cx.goldilocks_context(LLAMA70, "H100")
    s = cx.memory_bound_context(LLAMA70, "H100", np.array([0.99 * b_star, 1.01 * b_star, 512, 1e6]))
    assert s[0] == 0.0 and np.allclose(s[1:], s_star)
    for b in (1.01 * b_star, 512, 1e6):                     # one chip: no all-reduces
        assert rl.decode_step(LLAMA70, "H100", b, 0.99 * s_star).bound == "compute"
        assert rl.decode_step(LLAMA70, "H100", b, 1.01 * s_star).bound == "memory"
    assert rl.decode_step(LLAMA70, "H100", 0.99 * b_star, 10).bound == "memory"
    # MLA on H200: attention outpaces its reads, so the cache never makes the step memory-bound
    assert cx.memory_bound_context(DSV3, "H200", 1e5) == np.inf
    assert rl.decode_step(DSV3, "H200", 1e5, 100_000).bound == "compute"


def test_compute_bound_batch():
    assert cx.compute_bound_batch(LLAMA70, "H100", 0, overlap="full") == pytest.approx(
        rl.optimal_batch(LLAMA70, "H100"))
    for s in (500, 1000, 1400):
        b = cx.compute_bound_batch(LLAMA70, "H100", s, overlap="full")
        step = rl.decode_step(LLAMA70, "H100", b, s, overlap="full")
        assert step.compute == pytest.approx(step.memory)
        # per phase: the optimal batch, whatever the context below S*
        assert cx.compute_bound_batch(LLAMA70, "H100", s) == pytest.approx(rl.optimal_batch(LLAMA70, "H100"))
    assert cx.compute_bound_batch(LLAMA70, "H100", 1500, overlap="full") == np.inf
    assert cx.compute_bound_batch(LLAMA70, "H100", 1500) == np.inf


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(0, 1),
       st.sampled_from(["none", "full"]))
def test_compute_bound_batch_is_where_decode_step_turns_compute_bound(m, h, f, overlap):
    s = f * rl.model(m).context_length
    b = cx.compute_bound_batch(m, h, s, overlap=overlap)
    if np.isfinite(b):
        assert rl.decode_step(m, h, 1.001 * b, s, overlap=overlap).bound == "compute"
        assert rl.decode_step(m, h, 0.999 * b, s, overlap=overlap).bound == "memory"
    else:
        assert rl.decode_step(m, h, 1e9, s, overlap=overlap).bound == "memory"


# ---- capacity ----------------------------------------------------------------------------------
def test_max_context_by_hand_and_inverse_of_max_batch():
    free = 8 * H100_M - 2 * LLAMA70.total_params
    assert cx.max_context(LLAMA70, "H100", 64, chips=8) == pytest.approx(free / 64 / 327_680)
    for name in ["Llama 3.1 70B", "Gemma 3 27B", "gpt-oss-120b", "DeepSeek-V3"]:
        for b in (1, 16, 256):
            s = cx.max_context(name, "B200", b, chips=8)
            s = min(s, rl.model(name).context_length)
            if s >= 1:
                assert rl.max_batch(name, "B200", s, chips=8) >= b
    assert cx.max_context("DeepSeek-V3", "H100", 1, chips=1) == 0.0    # weights alone do not fit


def test_cache_equals_weights_context():
    s = cx.cache_equals_weights_context(LLAMA70, 64)
    assert s == pytest.approx(2 * LLAMA70.total_params / 64 / 327_680)
    assert 64 * rl.kv_bytes(LLAMA70, s) == pytest.approx(rl.weight_bytes(LLAMA70))
    g = cx.cache_equals_weights_context(GEMMA, 8)
    assert 8 * rl.kv_bytes(GEMMA, g) == pytest.approx(rl.weight_bytes(GEMMA))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.floats(0, 1), st.sampled_from(["bf16", "fp8"]))
def test_context_for_kv_bytes_inverts_kv_bytes(m, f, dtype):
    s = f * rl.model(m).context_length
    assert cx.context_for_kv_bytes(m, rl.kv_bytes(m, s, dtype=dtype), dtype=dtype) == pytest.approx(s, abs=1e-6)


# ---- why the cache exists; prefill vs decode ---------------------------------------------------
def test_recompute_flops():
    assert cx.recompute_flops(LLAMA70, 4096) == 2 * LLAMA70.active_params * 4096
    ratio = cx.recompute_to_read_ratio(LLAMA70, "H100")
    t_recompute = 2 * LLAMA70.active_params / H100_F       # one past token, recomputed
    t_read = 327_680 / H100_W                               # one past token, read from HBM
    assert ratio == pytest.approx(t_recompute / t_read)


def test_prefill_step_by_hand():
    p = cx.prefill_step(LLAMA70, "H100", 4096, batch=2, chips=8, overlap="full")
    assert p.compute == pytest.approx(2 * 2 * 4096 * LLAMA70.active_params / (8 * H100_F))
    assert p.weights == pytest.approx(2 * LLAMA70.total_params / (8 * H100_W))
    assert p.kv == pytest.approx(2 * 4096 * 327_680 / (8 * H100_W))
    assert p.bound == "compute"
    assert p.tokens_per_second == pytest.approx(2 * 4096 / p.time)
    flops = 2 * 2 * 4096 * LLAMA70.active_params
    assert p.intensity == pytest.approx(flops / (2 * LLAMA70.total_params + 2 * 4096 * 327_680))
    assert p.intensity == pytest.approx(cx.prefill_intensity(LLAMA70, 4096, batch=2))


def test_decode_intensity():
    # dense bf16 model at zero context: 2 B N_a / (2 N_t) = B x N_a / N_t
    assert cx.decode_intensity(LLAMA70, 64, 0) == pytest.approx(64 * LLAMA70.active_params / LLAMA70.total_params)
    # at context S and huge batch: 2 N_a / kv(S), below I* beyond the Goldilocks context
    assert cx.decode_intensity(LLAMA70, 1e12, 4096) == pytest.approx(
        2 * LLAMA70.active_params / (4096 * 327_680), rel=1e-6)
    assert cx.decode_intensity(LLAMA70, 1e12, 4096) < I_H100
    # prefill of P tokens uses each weight as often as a decode batch of P
    assert cx.prefill_intensity(LLAMA70, 512) > cx.decode_intensity(LLAMA70, 512, 512)


# ---- attention FLOPs ---------------------------------------------------------------------------
def test_attention_flops_by_hand():
    assert cx.attention_flops(LLAMA70, 1000) == 4 * 64 * 128 * 80 * 1000
    assert cx.attention_flops(DSV3, 1000) == 61 * 2 * 128 * (2 * 512 + 64) * 1000
    # Gemma 3: 10 global layers see everything, 52 local layers at most 1,024 tokens
    assert cx.attention_flops(GEMMA, 5000) == 4 * 32 * 128 * (10 * 5000 + 52 * 1024)
    assert cx.attention_flops_per_position(DSV3, "prefill") == 61 * 2 * 128 * (128 + 64 + 128)
    with pytest.raises(ValueError, match="phase"):
        cx.attention_flops_per_position(DSV3, "training")


def test_prefill_attention_matches_the_weights_where_the_docstring_says():
    """prefill_step's docstring: attention FLOPs per prompt token, a (P + 1) / 2, reach the
    weights' 2 N_a at P = 4 N_a / a - 1: ~1.1e5 tokens for GQA Llama 3.1 70B, ~2.9e4 for MLA
    DeepSeek-V3 (a from the published configurations, pinned in test_attention_flops_by_hand)."""
    crossings = {}
    for m, a in ((LLAMA70, 4 * 64 * 128 * 80), (DSV3, 61 * 2 * 128 * (128 + 64 + 128))):
        p = 4 * m.active_params / a - 1
        step = cx.prefill_step(m, "H100", round(p))        # bf16: attention and matmuls, one rate
        assert step.attention == pytest.approx(step.compute, rel=1e-4)
        crossings[m.name] = p
    assert crossings["Llama 3.1 70B"] == pytest.approx(1.06e5, rel=0.01)
    assert crossings["DeepSeek-V3"] == pytest.approx(2.93e4, rel=0.01)


def test_attention_intensity():
    for m in FULL_ATTENTION:
        if m.attention != "mla":
            assert cx.attention_intensity(m) == pytest.approx(m.n_heads / m.n_kv_heads)
    assert cx.attention_intensity(DSV3) == pytest.approx(2 * 128 * 1088 / (576 * 2))   # 241.8
    assert cx.attention_intensity(DSV3, 4096) == pytest.approx(cx.attention_intensity(DSV3))
    # cross-layer sharing: same FLOPs, half the bytes
    assert cx.attention_intensity(redesign(LLAMA70, kv_share=2)) == pytest.approx(16)


# ---- attention designs -------------------------------------------------------------------------
def test_redesign_llama70b():
    mha = redesign(LLAMA70, n_kv_heads=64)
    mqa = redesign(LLAMA70, n_kv_heads=1)
    shared = redesign(LLAMA70, n_kv_heads=1, kv_share=2)
    assert rl.kv_bytes_per_token(mha) == 2 * 80 * 64 * 128 * 2                 # 2,621,440 B
    assert rl.kv_bytes_per_token(mqa) == 2 * 80 * 1 * 128 * 2                  # 40,960 B
    assert rl.kv_bytes_per_token(shared) == 2 * 40 * 1 * 128 * 2               # 20,480 B
    assert mha.attention == "mha" and mqa.attention == "mqa"
    # more K/V heads means more K/V projection weights: 2 x 8192 x 56 x 128 x 80
    assert mha.total_params - LLAMA70.total_params == 2 * 8192 * 56 * 128 * 80
    assert rl.model("Llama 3.1 70B") is LLAMA70                                  # catalog untouched
    assert "n_kv_heads=64" in mha.name


def test_redesign_errors():
    with pytest.raises(ValueError, match="n_kv_heads"):
        redesign(LLAMA70, n_kv_heads=3)
    with pytest.raises(ValueError, match="d_model"):
        redesign(LLAMA70, d_model=4096)
    with pytest.raises(ValueError, match="kv_share"):
        redesign(LLAMA70, kv_share=0)
    with pytest.raises(ValueError, match="window"):
        redesign(LLAMA70, n_window_layers=10)
    with pytest.raises(ValueError, match="n_window_layers"):
        redesign(LLAMA70, window=512, n_window_layers=81)
    with pytest.raises(ValueError, match="n_kv_heads"):
        redesign(LLAMA70, n_kv_heads=-8)
    with pytest.raises(LookupError):
        redesign("Llama 9", n_kv_heads=8)


def test_attention_designs():
    for m in rl.MODELS.values():
        d = attention_designs(m)
        assert d["as published"] is m
        assert rl.kv_bytes_per_token(d["MLA"]) == (512 + 64) * m.n_layers * 2
        assert rl.kv_bytes_per_token(d["MQA"]) == 2 * m.n_layers * m.head_dim * 2
        assert rl.kv_bytes_per_token(d["MHA"]) == 2 * m.n_layers * m.n_heads * m.head_dim * 2
        assert rl.kv_bytes_per_token(d["cross-layer x2"]) == pytest.approx(rl.kv_bytes_per_token(m) / 2)
        local = d["local 5:1"]
        assert local.n_layers - local.n_window_layers == m.n_layers // 6
    g = attention_designs(GEMMA)["local 5:1"]
    assert (g.window, g.n_window_layers) == (GEMMA.window, GEMMA.n_window_layers)   # Gemma's own pattern


# ---- sparse (top-k) attention ------------------------------------------------------------------
def test_topk_reads():
    idx = 61 * (128 + 4)                     # DeepSeek-V3.2-Exp index key: 128 B fp8 + 4 B scale per layer
    s = np.array([1000, 2048, 128_000])
    reads = cx.topk_read_bytes(DSV3, s, 2048, index_bytes_per_token=idx)
    assert np.allclose(reads, np.minimum(s, 2048) * 70_272 + s * idx)
    assert reads[0] > rl.kv_bytes(DSV3, 1000)                  # short context: the index only adds
    assert reads[2] < rl.kv_bytes(DSV3, s[2]) / 7              # 128k tokens: 7.7x fewer bytes read
    step = cx.topk_decode_step(DSV3, "H800", 64, s, 2048, index_bytes_per_token=idx, chips=16, overlap="full")
    dense = rl.decode_step(DSV3, "H800", 64, s, chips=16, overlap="full")
    assert np.allclose(step.compute, dense.compute) and np.allclose(step.weights, dense.weights)
    assert step.kv[2] < dense.kv[2] / 7
    # per phase, attention's arithmetic covers the k selected tokens plus the indexer over all S:
    # DeepSeek-V3.2-Exp's indexer has 64 heads of 128 per layer (inference/model.py, ModelArgs)
    idx_flops = 61 * 2 * 64 * 128
    phases = cx.topk_decode_step(DSV3, "H800", 64, s, 2048, index_bytes_per_token=idx, chips=16, index_flops_per_token=idx_flops)
    by_hand = 64 * (61 * 2 * 128 * 1088 * np.minimum(s, 2048) + s * idx_flops) / (16 * H100_F)
    assert np.allclose(phases.attention, by_hand)
    dense_phases = rl.decode_step(DSV3, "H800", 64, s, chips=16)
    assert np.allclose(phases.kv, step.kv) and np.allclose(phases.comm, dense_phases.comm)
    assert phases.time[2] < dense_phases.time[2] and phases.attention[2] < dense_phases.attention[2] / 10
    with pytest.raises(ValueError, match="index_flops_per_token"):
        cx.topk_decode_step(DSV3, "H800", 64, 1000, 2048, index_flops_per_token=-1)
    with pytest.raises(ValueError, match="top_k"):
        cx.topk_read_bytes(DSV3, 1000, 0)
    with pytest.raises(ValueError, match="sliding"):
        cx.topk_read_bytes(GEMMA, 1000, 2048)


# ---- errors and broadcasting -------------------------------------------------------------------
def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="context"):
        cx.mfu_ceiling(LLAMA70, "H100", -1)
    with pytest.raises(ValueError, match="context"):
        cx.attention_flops(rl.model("Llama 2 70B"), 10_000)      # beyond its 4,096-token context
    with pytest.raises(ValueError, match="batch"):
        cx.memory_bound_context(LLAMA70, "H100", 0)
    with pytest.raises(ValueError, match="overlap"):
        cx.mfu_ceiling(LLAMA70, "H100", 1000, overlap="partial")
    with pytest.raises(ValueError, match="prompt"):
        cx.prefill_step(LLAMA70, "H100", 0, overlap="full")
    with pytest.raises(ValueError, match="kv_bytes_per_sequence"):
        cx.context_for_kv_bytes(LLAMA70, -5)
    with pytest.raises(ValueError, match="fp4"):
        cx.goldilocks_context(LLAMA70, "H100", dtype="fp4")
    with pytest.raises(LookupError):
        cx.goldilocks_context(LLAMA70, "H1000")


def test_vectorised_equals_scalar():
    b = np.array([1.0, 300, 3000])
    s = np.array([0.0, 1000, 100_000])
    for overlap in ("none", "full"):
        grid = cx.memory_bound_context(GPTOSS, "H100", b, overlap=overlap)
        assert [cx.memory_bound_context(GPTOSS, "H100", x, overlap=overlap) for x in b] == pytest.approx(list(grid))
        m = cx.mfu_ceiling(GEMMA, "B200", s, overlap=overlap)
        assert [cx.mfu_ceiling(GEMMA, "B200", x, overlap=overlap) for x in s] == pytest.approx(list(m))
        c = cx.compute_bound_batch(GEMMA, "B200", s, overlap=overlap)
        assert [cx.compute_bound_batch(GEMMA, "B200", x, overlap=overlap) for x in s] == pytest.approx(list(c))
    assert isinstance(cx.goldilocks_context(LLAMA70, "H100"), float)
    assert isinstance(cx.max_context(LLAMA70, "H100", 8, chips=8), float)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(1, 1e7), st.floats(1, 1e7),
       st.sampled_from(["none", "full"]))
def test_memory_bound_context_grows_with_batch_and_stays_at_or_below_goldilocks(m, h, b1, b2, overlap):
    lo, hi = sorted((b1, b2))
    s = cx.memory_bound_context(m, h, np.array([lo, hi]), overlap=overlap)
    assert s[1] >= s[0] >= 0
    if np.isfinite(s[1]):
        assert s[1] <= cx.goldilocks_context(m, h) * (1 + 1e-9)
    else:                                                  # per phase, MLA whose attention outpaces its reads
        assert overlap == "none" and cx.attention_intensity(m) >= rl.critical_intensity(h)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(1, 1e6))
def test_memory_bound_context_agrees_with_decode_step(m, h, b):
    for overlap in ("none", "full"):
        s = cx.memory_bound_context(m, h, b, overlap=overlap)
        longest = rl.model(m).context_length
        if 0 < s < 0.99 * longest:
            assert rl.decode_step(m, h, b, s * 1.01, overlap=overlap).bound == "memory"
            assert rl.decode_step(m, h, b, s * 0.99, overlap=overlap).bound == "compute"
        elif s == 0:
            assert rl.decode_step(m, h, b, 0.5 * longest, overlap=overlap).bound == "memory"


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)))
def test_attention_flops_push_ideal_goldilocks_out_and_per_phase_in(m, h):
    plain = cx.goldilocks_context(m, h)
    assert cx.goldilocks_context(m, h, attention=True, overlap="full") >= plain
    assert cx.goldilocks_context(m, h, attention=True) <= plain * (1 + 1e-12)


# ---- explorers (tested code: every control combination must draw or say why it cannot) ---------
def test_kv_explorers_update_and_explain():
    from rooflib.explore import kv_cache as k

    lat = k.kv_latency_explorer()
    assert lat.update(batch=1024).startswith(b"\x89PNG")
    assert "1,436 tokens" in lat.message.value            # Llama 3.1 70B on H100, bf16
    # both step models: at S* the best MFU is 50% per phase and 100% in the ideal
    assert "<b>50%</b> per phase, 100% in the ideal" in lat.message.value
    assert "all-reduces" in lat.message.value and "the ideal" in lat.message.value
    lines = {k: line.get_ydata() for k, line in lat.lines.items()}
    assert len(lines["comm"]) > 0 and len(lines["attention"]) > 0      # 8 chips: all-reduces drawn
    assert (lat.t_phases.get_ydata() >= lat.t_ideal.get_ydata() * (1 - 1e-12)).all()
    assert (lat.ceiling.get_ydata() <= lat.ceiling_ideal.get_ydata() + 1e-12).all()
    lat.update(chips=1, batch=1024, model_name="Llama 3.1 8B")
    assert len(lat.lines["comm"].get_ydata()) == 0                     # one chip: no all-reduces
    lat.update(chips=8, batch=1024, model_name="Llama 3.1 70B")
    lat.update(batch=16)
    assert "memory-bound at every context" in lat.message.value
    lat.update(chips=1)
    assert "do not fit" in lat.message.value
    lat.update(chip="TPU v5e", dtype="fp8", chips=8)      # no fp8 rate on TPU v5e
    assert "Not possible" in lat.message.value
    lat.update(chip="H100 SXM", model_name="Llama 2 70B", dtype="bf16", batch=16)   # a 4,096-token model
    assert "Not possible" not in lat.message.value and "4,096 tokens" in lat.message.value

    des = k.kv_designs_explorer()
    des.update(model_name="Gemma 3 27B", context=131072)
    assert "Gemma 3 27B" in des.message.value and "MLA" in des.message.value

    cap = k.kv_capacity_explorer()
    cap.update(model_name="gpt-oss-120b", chips=4)       # 234 GB of bf16 weights: 4 x 80 GB
    assert "Longest context" in cap.message.value
    cap.update(model_name="Llama 3.1 70B", chips=8)
    assert "per phase" in cap.message.value and "in the ideal" in cap.message.value
    # per phase the batch needed is the optimal batch, drawn only up to S*
    assert cap.needed_phases.get_xdata().max() <= 1437 and abs(cap.needed_phases.get_ydata()[0] - 299.8) < 0.1
    cap.update(model_name="DeepSeek-V3", chips=1)
    assert "do not fit" in cap.message.value
    assert set(k.BENCHES) == {"kv_latency", "kv_designs", "kv_capacity"} and k.BENCH is k.BENCHES["kv_latency"]
