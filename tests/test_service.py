"""service: the mixed step reduces to decode_step and prefill_step; the knobs around it; load -> cost."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import moe
from rooflib import service as sv
from rooflib.context import prefill_step
from rooflib.measurements import DEEPSEEK_DAY

M, H = "Llama 3.1 70B", "H100 SXM"


@pytest.mark.parametrize("overlap", ["none", "full"])
def test_mixed_step_is_decode_step_without_prefill(overlap):
    a = sv.mixed_step(M, H, 64, 0, 2048, 8, overlap=overlap)
    b = rl.decode_step(M, H, 64, 2048, 8, overlap=overlap)
    assert a.time == pytest.approx(b.time, rel=1e-12)
    assert a.compute == pytest.approx(b.compute) and a.kv == pytest.approx(b.kv)


@pytest.mark.parametrize("overlap", ["none", "full"])
def test_mixed_step_is_prefill_step_without_decode(overlap):
    a = sv.mixed_step(M, H, 0, 4096, 0, 8, overlap=overlap)
    b = prefill_step(M, H, 4096, 1, 8, overlap=overlap)
    assert a.time == pytest.approx(b.time, rel=1e-12)


def test_mixed_step_reads_weights_once():
    # d decodes + p prompt tokens: one weight read, so cheaper than the two steps run separately
    both = sv.mixed_step(M, H, 64, 512, 2048, 8, prompt=4096).time
    apart = rl.decode_step(M, H, 64, 2048, 8).time + sv.mixed_step(M, H, 0, 512, 2048, 8, prompt=4096).time
    assert both < apart


def test_step_time_table_matches_mixed_step_and_overhead():
    t = sv.step_time_table(M, H, 2048, 8, max_batch=64, max_prefill_tokens=1024, prompt=4096, step_overhead=1e-3)
    assert t.times.shape == (65, 17) and t.times[0, 0] == 0.0
    assert t.times[64, 0] == pytest.approx(rl.decode_step(M, H, 64, 2048, 8).time + 1e-3)
    assert t.times[10, 8] == pytest.approx(sv.mixed_step(M, H, 10, 512, 2048, 8, prompt=4096).time + 1e-3)
    assert t.lookup(10, 500) == t.times[10, 8]     # 500 tokens round up to the 512 column


def test_kv_transfer_by_hand():
    # DeepSeek-V3 MLA cache: (512 + 64) x 61 layers x 2 B = 70,272 B per token (kv.py); 400 Gb/s NIC
    nbytes = 5000 * 70_272
    assert sv.kv_transfer_time("DeepSeek-V3", 5000) == pytest.approx(5e-6 + nbytes / 50e9)
    assert sv.kv_transfer_time("DeepSeek-V3", 5000, links=8) == pytest.approx(5e-6 + nbytes / 400e9)


def test_deepseek_pool_ratio():
    # https://github.com/deepseek-ai/open-infra-index/blob/main/202502OpenSourceWeek/
    #   day_6_one_more_thing_deepseekV3R1_inference_system_overview.md: 608B in, 168B out per day,
    #   73.7k input tokens/s per prefill node, 14.8k output tokens/s per decode node
    r = sv.prefill_nodes_per_decode_node(DEEPSEEK_DAY["input_tokens"], DEEPSEEK_DAY["output_tokens"], 73.7e3, 14.8e3)
    assert r == pytest.approx((608 / 73.7) / (168 / 14.8), rel=1e-12)
    assert r == pytest.approx(0.727, abs=0.001)


def test_uncached_prompt_tokens():
    assert sv.uncached_prompt_tokens(2000, 1500, hit_rate=0.9) == pytest.approx(650)
    assert sv.uncached_prompt_tokens(2000, 1500, hit_rate=0.0) == 2000
    with pytest.raises(ValueError, match="shared_prefix"):
        sv.uncached_prompt_tokens(100, 200, hit_rate=0.5)
    with pytest.raises(ValueError, match="hit_rate"):
        sv.uncached_prompt_tokens(100, 50, hit_rate=1.5)


def test_speculation_break_even_agrees_with_speculative_module():
    # speculative.py's docstring: Llama 3.1 70B, 8 H100, 1,024 tokens, 4 guesses at 0.7: slower from batch 199
    b = sv.speculation_break_even_batch(M, H, 1024, 8, draft_tokens=4, acceptance=0.7)
    assert 198 <= b < 199
    plain = rl.decode_step(M, H, 199, 1024, 8).time_per_token
    spec = rl.speculative_step(M, H, 199, 1024, 8, draft_tokens=4, acceptance=0.7).time_per_token
    assert spec > plain


def test_cost_per_million_tokens_sglang():
    # https://lmsys.org/blog/2025-05-05-large-scale-ep/ : 22.3k output tokens/s per 8 x H100 node, "$0.20/1M"
    assert sv.cost_per_million_tokens(22.3e3, 8, dollars_per_chip_hour=2.0) == pytest.approx(0.20, abs=0.005)
    assert sv.cost_per_million_tokens(1000, 1, dollars_per_chip_hour=3.6, utilisation=0.5) == pytest.approx(2.0)


def test_frontier_cost_agrees_with_cost_per_token():
    f = sv.frontier(M, H, 2048, chips=(4, 8), dollars_per_chip_hour=2.0, dtype="fp8", kv_dtype="fp8")
    k = np.argmin(f.cost)
    ref = rl.cost_per_token(M, H, f.batch[k], 2048, 2.0, f.chips[k], dtype="fp8", kv_dtype="fp8")
    assert f.cost[k] == pytest.approx(ref, rel=1e-9)
    assert f.on_frontier.any() and f.speed.shape == f.cost.shape


def test_pareto_by_hand():
    mask = sv.pareto([1, 2, 3, 2.5], [1, 2, 3, 4])
    assert mask.tolist() == [True, True, True, False]


@settings(max_examples=30, deadline=None)
@given(st.floats(1, 256), st.floats(0, 4096), st.floats(1, 8192))
def test_mixed_step_grows_with_work(d, p, s):
    a = sv.mixed_step(M, H, d, p, s, 8, prompt=4096).time
    assert sv.mixed_step(M, H, d + 1, p, s, 8, prompt=4096).time >= a
    assert sv.mixed_step(M, H, d, p + 64, s, 8, prompt=4096).time >= a


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="decode_batch"):
        sv.mixed_step(M, H, -1, 0, 100)
    with pytest.raises(ValueError, match="must be > 0"):
        sv.mixed_step(M, H, 0, 0, 100)
    with pytest.raises(ValueError, match="max_batch"):
        sv.step_time_table(M, H, 100, max_batch=0, max_prefill_tokens=10, prompt=10)
    with pytest.raises(ValueError, match="utilisation"):
        sv.cost_per_million_tokens(1.0, 1, dollars_per_chip_hour=1.0, utilisation=0)


# ---- mixtures of experts: the experts d + p positions touch, and the all-to-all -----------------

DS, H800 = "DeepSeek-V3", "H800 SXM"
PROD = dict(dtype="fp8", kv_dtype="bf16", dispatch_dtype="fp8", combine_dtype="bf16")   # DeepSeek's decode


def test_dense_models_are_untouched():
    # a dense model's step is the plain DecodeStep, TP all-reduces and all weights: the numbers
    # this file and tests/test_ch09.py pin do not move
    st_ = sv.mixed_step(M, H, 64, 512, 2048, 8, prompt=4096, dtype="fp8", kv_dtype="fp8")
    assert type(st_) is rl.DecodeStep and not isinstance(st_, moe.MoEDecodeStep)
    assert st_.weights == rl.weight_bytes(M, "fp8") / (8 * 3.35e12)
    assert st_.comm == pytest.approx(2 * 80 * (3.6e-6 + 14 * 0.47e-6 + 14 / 8 * 576 * 8192 * 2 / 450e9))


@pytest.mark.parametrize("overlap", ["none", "full"])
def test_moe_mixed_step_is_moe_decode_step_without_prefill(overlap):
    b = np.array([1.0, 64.0, 12_109.0])
    a = sv.mixed_step(DS, H800, b, 0, 4989, 144, overlap=overlap, **PROD)
    ref = moe.moe_decode_step(DS, H800, b, 4989, 144, overlap=overlap, **PROD)
    for part in ("time", "compute", "weights", "kv", "attention", "comm"):
        np.testing.assert_allclose(getattr(a, part), getattr(ref, part), rtol=1e-12, err_msg=part)


def test_moe_mixed_step_reads_the_experts_its_positions_touch():
    d, p, c = 32, 480, 16
    st_ = sv.mixed_step(DS, H800, d, p, 4096, c, prompt=8192, **PROD)
    # 512 positions touch E (1 - (1 - 8/256)^512) = 256 x (1 - 8.6e-8): nearly every expert
    assert st_.weights == pytest.approx(moe.moe_weight_bytes_read(DS, d + p, dtype="fp8") / (c * 3.35e12))
    assert st_.comm == pytest.approx(moe.all_to_all_time(DS, H800, d + p, c, dispatch_dtype="fp8",
                                                         combine_dtype="bf16"))
    # decode alone (32 positions) reads far fewer experts than with the prompt chunk
    alone = sv.mixed_step(DS, H800, d, 0, 4096, c, **PROD)
    assert moe.experts_touched(DS, 32) == pytest.approx(256 * (1 - (1 - 8 / 256) ** 32))
    assert alone.weights < 0.7 * st_.weights


def test_moe_step_time_table_matches_mixed_step():
    t = sv.step_time_table(DS, H800, 4096, 16, max_batch=32, max_prefill_tokens=1024, prompt=4096,
                           step_overhead=1e-3, **PROD)
    assert t.times[0, 0] == 0.0
    assert t.times[32, 0] == pytest.approx(moe.moe_decode_step(DS, H800, 32, 4096, 16, **PROD).time + 1e-3)
    assert t.times[10, 8] == pytest.approx(sv.mixed_step(DS, H800, 10, 512, 4096, 16, prompt=4096, **PROD).time
                                           + 1e-3)
    assert t.times[0, 1] == pytest.approx(sv.mixed_step(DS, H800, 0, 64, 4096, 16, prompt=4096, **PROD).time + 1e-3)


def test_deepseek_decode_per_node_against_the_model():
    """DeepSeek's day-6 report: ~14.8k output tokens/s per H800 node during decoding, average KV
    length 4,989, 20-22 tokens/s per user, decode on EP144 (18 nodes), FP8 matmuls and dispatch,
    BF16 combine and MLA cache.
    https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md

    Sequences in flight on 144 GPUs: 14,800 x 18 / 22 = 12,109. The per-phase mixed step (p = 0,
    prefill runs on other nodes) at peak rates: 27.8 ms = attention 8.8 + matmuls 3.1 + all-to-all
    15.8, i.e. 24.2k tokens/s per node: DeepSeek reaches 0.611 of the model (0.660 with H100's
    measured fp8/bf16 matmul rates and 90 % HBM: 22.4k). The step is almost linear in the batch
    here, so 20 tokens/s per user (13,320 sequences) gives the same ratio. As a dense model
    (144-way tensor-parallel all-reduces over the NICs, every expert read) it would be 0.77k per
    node, 19x below what DeepSeek serves: the MoE machinery is what puts the model near reality."""
    pub, nodes = 14_800.0, 18
    for speed in (20.0, 22.0):
        b = pub * nodes / speed
        st_ = sv.mixed_step(DS, H800, b, 0, 4989, 144, **PROD)
        per_node = b / st_.time / nodes
        assert pub / per_node == pytest.approx(0.611, abs=0.002)
        assert st_.comm > st_.attention_phase > st_.matmul_phase          # the all-to-all dominates
    ach = rl.achievable(H800, matmul={"bf16": 794.5 / 989.4, "fp8": 1402.6 / 1978.9})
    st_ = sv.mixed_step(DS, ach, 12_109, 0, 4989, 144, **PROD)
    assert pub / (12_109 / st_.time / nodes) == pytest.approx(0.660, abs=0.002)
    dense = rl.decode_step(DS, H800, 12_109, 4989, 144, dtype="fp8", kv_dtype="bf16")
    assert pub / (12_109 / dense.time / nodes) == pytest.approx(19.3, abs=0.1)


def test_moe_frontier_reads_touched_experts():
    # Qwen3-235B-A22B (128 experts, 8 per token) in fp8 on 8 H100: at batch 1 a step reads the
    # active weights, not all 235B, so the fastest point is far faster than the dense reading
    f = sv.frontier("Qwen3-235B-A22B", H, 2048, chips=(4, 8), dollars_per_chip_hour=2.0, dtype="fp8",
                    kv_dtype="fp8")
    k = np.argmax(f.speed)
    ref = moe.moe_decode_step("Qwen3-235B-A22B", H, f.batch[k], 2048, f.chips[k], dtype="fp8", kv_dtype="fp8")
    assert f.step_time[k] == pytest.approx(ref.time, rel=1e-12)
    dense = rl.decode_step("Qwen3-235B-A22B", H, f.batch[k], 2048, f.chips[k], dtype="fp8", kv_dtype="fp8")
    assert ref.weights < 0.2 * dense.weights


def test_moe_speculation_break_even_uses_moe_steps():
    # MTP on DeepSeek-V3: the second position routes its own tokens through the all-to-all and
    # touches its own experts; the break-even is where moe_speculative_step stops paying
    b = sv.speculation_break_even_batch(DS, H800, 4989, 144, draft_tokens=1, acceptance=0.85, dtype="fp8",
                                        kv_dtype="bf16")
    kw = dict(draft_tokens=1, acceptance=0.85, dtype="fp8", kv_dtype="bf16")
    if np.isfinite(b):
        above = np.ceil(b) + 1
        assert moe.moe_speculative_step(DS, H800, above, 4989, 144, **kw).time_per_token > \
            moe.moe_decode_step(DS, H800, above, 4989, 144, dtype="fp8", kv_dtype="bf16").time
    below = max(np.floor(b) - 1, 1) if np.isfinite(b) else 1000
    assert moe.moe_speculative_step(DS, H800, below, 4989, 144, **kw).time_per_token <= \
        moe.moe_decode_step(DS, H800, below, 4989, 144, dtype="fp8", kv_dtype="bf16").time


@settings(max_examples=30, deadline=None)
@given(st.floats(1, 4096), st.floats(0, 4096), st.sampled_from([1, 8, 16, 144]))
def test_moe_mixed_step_grows_with_work(d, p, c):
    a = sv.mixed_step(DS, H800, d, p, 4989, c, prompt=4096, **PROD).time
    assert sv.mixed_step(DS, H800, d + 1, p, 4989, c, prompt=4096, **PROD).time >= a
    assert sv.mixed_step(DS, H800, d, p + 64, 4989, c, prompt=4096, **PROD).time >= a


# ---- prefix caching: the prefill of a miss, a hit and their mean --------------------------------------
def test_prefix_cached_prefill_is_prefill_step_of_the_prompt_and_of_the_suffix():
    kw = dict(dtype="fp8", kv_dtype="fp8")
    pc = sv.prefix_cached_prefill("Llama 3.1 70B", "H100 SXM", 2000, 1500, 8, hit_rate=0.9, **kw)
    assert pc.miss == rl.prefill_step("Llama 3.1 70B", "H100 SXM", 2000, 1, 8, **kw).time
    assert pc.hit == rl.prefill_step("Llama 3.1 70B", "H100 SXM", 500, 1, 8, **kw).time
    assert pc.mean == pytest.approx(0.9 * pc.hit + 0.1 * pc.miss, rel=1e-12)
    assert pc.saved == pytest.approx(0.9 * (pc.miss - pc.hit), rel=1e-12)
    assert (round(pc.miss * 1e3), round(pc.hit * 1e3), round(pc.mean * 1e3)) == (40, 11, 14)   # chapter 9, section 4
    h = np.array([0.0, 0.5, 1.0])
    means = sv.prefix_cached_prefill("Llama 3.1 70B", "H100 SXM", 2000, 1500, 8, hit_rate=h, **kw).mean
    assert means[0] == pc.miss and means[-1] == pc.hit


@pytest.mark.parametrize("shared, hit, match", [(2000, 0.9, "shared_prefix"), (2500, 0.9, "shared_prefix"),
                                                 (1500, 1.5, "hit_rate")])
def test_prefix_cached_prefill_names_the_bad_argument(shared, hit, match):
    with pytest.raises(ValueError, match=match):
        sv.prefix_cached_prefill("Llama 3.1 70B", "H100 SXM", 2000, shared, 8, hit_rate=hit)
