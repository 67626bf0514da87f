"""service: the mixed step reduces to decode_step and prefill_step; the knobs around it; load -> cost."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
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
