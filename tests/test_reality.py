"""rooflib.reality: no published serving figure may beat rooflib's throughput bound; numpy roofline fit."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import reality as R

# Every serving throughput in the reference specifications (specs.yaml, section `serving`), written
# out by hand so that dropping one from rooflib.reality fails here:
#   DeepSeek V3/R1 day 6 overview: decode 14.8k tokens/s per node, prefill 73.7k per node
#   https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md
#   MLPerf Inference v4.1 llama2-70b-99, closed division, mlperf_log_summary.txt of each system
#   https://github.com/mlcommons/inference_results_v4.1 @198fc46799b3328b36ee4bcbdebfa2db5a8e6183
EXPECTED = {
    ("deepseek-decode", 14_800.0), ("deepseek-prefill", 73_700.0),
    ("mlperf-nvidia-dgx-h100_h100-sxm-80gbx8_trt-offline", 24524.9),
    ("mlperf-nvidia-dgx-h100_h100-sxm-80gbx8_trt-server", 21605.79),
    ("mlperf-nvidia-h200-sxm-141gbx8_trt-offline", 31302.7),
    ("mlperf-nvidia-h200-sxm-141gbx8_trt-server", 29228.22),
    ("mlperf-nvidia-h200-sxm-141gb-ctsx8_trt-offline", 34864.2),
    ("mlperf-nvidia-h200-sxm-141gb-ctsx8_trt-server", 32789.74),
    ("mlperf-nvidia-b200-sxm-180gbx1_trt-offline", 11264.4),
    ("mlperf-nvidia-b200-sxm-180gbx1_trt-server", 10755.59),
    ("mlperf-amd-8xmi300x_2xepyc-9374f-offline", 23514.8),
    ("mlperf-amd-8xmi300x_2xepyc-9374f-server", 21028.23),
    ("mlperf-amd-1xmi300x_2xepyc-9374f-offline", 3062.72),
    ("mlperf-amd-1xmi300x_2xepyc-9374f-server", 2520.27),
    ("mlperf-google-dgx-h100_h100-sxm-80gbx8_trt-offline", 24133.7),
    ("mlperf-google-dgx-h100_h100-sxm-80gbx8_trt-server", 21588.35),
}


def test_every_serving_figure_is_in_the_data():
    assert {(m.key, m.value) for m in R.MEASUREMENTS} == EXPECTED
    assert len({m.key for m in R.MEASUREMENTS}) == len(R.MEASUREMENTS)
    for m in R.MEASUREMENTS:
        assert m.source.startswith("https://")
        rl.model(m.model), rl.hardware(m.chip)  # names resolve


@pytest.mark.parametrize("meas", R.MEASUREMENTS, ids=lambda m: m.key)
def test_no_measurement_beats_the_bound(meas):
    assert meas.value < R.bound_for(meas)
    # ... nor any of the tighter variants the chapter discusses ...
    assert meas.value < R.bound_for(meas, attention=True)
    # ... nor the compute ceiling that no decoding method (speculative or not) can beat.
    ceiling = R.compute_ceiling(meas.model, meas.chip, meas.chips, dtype=meas.dtype)
    if meas.phase == "prefill":
        ceiling /= 1 - meas.cache_hit_fraction
    assert meas.value < ceiling
    assert 0 < R.efficiency(meas) < 1


@pytest.mark.parametrize("meas", [m for m in R.MEASUREMENTS if m.output_tokens], ids=lambda m: m.key)
def test_mlperf_with_prompts_of_at_most_answer_length_still_under_the_bound(meas):
    # The prompt length is not in our sources; prompts are capped at 1,024 tokens. Charging a
    # prompt as long as the mean answer to the same chips must still leave every result below.
    assert meas.value < R.bound_for(meas, input_tokens=R.MLPERF_OUTPUT_TOKENS)


def test_deepseek_fleet_and_user_speed_consistent_with_the_bound():
    day = R.deepseek_fleet_check()
    assert day["busy_fraction"] < 1
    assert R.deepseek_fleet_check(attention=True)["busy_fraction"] < 1
    for speed in R.DEEPSEEK_DAY["user_tokens_per_second"]:
        assert speed < R.deepseek_user_speed_bound(speed)
        assert speed < R.deepseek_user_speed_bound(speed, attention=True)
    # DeepSeek's own cost arithmetic: 226.75 nodes x 8 GPUs x 24 h x $2 = $87,072.
    d = R.DEEPSEEK_DAY
    assert d["nodes"] * 8 * 24 * d["dollars_per_gpu_hour"] == pytest.approx(d["daily_cost"])
    # Cost per million output tokens with the whole day's cost charged to them ($0.518, specs.yaml
    # 'derived_cost_per_m_output_all_costs') can never be below the floor set by the decode bound:
    # 8 GPUs x $2/h for one node-hour produce at most bound x 3,600 tokens.
    per_m = d["daily_cost"] / d["output_tokens"] * 1e6
    assert per_m == pytest.approx(0.518, rel=1e-3)
    floor = 8 * d["dollars_per_gpu_hour"] / (R.bound_for(R.measurement("deepseek-decode")) * 3600) * 1e6
    assert floor < per_m


def test_deepseek_decode_bound_by_hand():
    # 144 H800 (80 GB, 3.35 TB/s each), weights in fp8 (1 B/param), bf16 MLA cache of
    # (512 + 64) x 61 x 2 = 70,272 B per token, 4,989 tokens per sequence.
    n_total = rl.model("DeepSeek-V3").total_params
    per_seq = 4989 * 70_272
    b_max = math.floor((144 * 80e9 - n_total) / per_seq)
    memory = (n_total + b_max * per_seq) / (144 * 3.35e12)
    compute = 2 * rl.model("DeepSeek-V3").active_params * b_max / (144 * 1978.9e12)
    assert memory > compute
    per_node = b_max / memory * 8 / 144
    assert R.bound_for(R.measurement("deepseek-decode")) == pytest.approx(per_node)
    # The weights-free limit W / (S kv): every chip's HBM full of cache, read once per step.
    assert per_node < 8 * 3.35e12 / per_seq


def test_mlperf_bound_is_the_compute_ceiling_by_hand():
    # H200: 1,978.9 dense fp8 TFLOP/s per GPU; Llama 2 70B's active parameters (rooflib's count).
    meas = R.measurement("mlperf-nvidia-h200-sxm-141gbx8_trt-offline")
    hand = 8 * 1978.9e12 / (2 * rl.model("Llama 2 70B").active_params)
    assert R.bound_for(meas) == pytest.approx(hand)
    assert R.decode_bound("Llama 2 70B", "H200", R.MLPERF_MIN_CONTEXT, 8, dtype="fp8", kv_dtype="fp8").bound == "compute"


def test_prefill_bound_counts_cache_hits_as_free():
    meas = R.measurement("deepseek-prefill")
    computed = 8 * 1978.9e12 / (2 * rl.model("DeepSeek-V3").active_params)
    assert R.bound_for(meas) == pytest.approx(computed / (1 - 342 / 608))
    with pytest.raises(ValueError, match="cache_hit_fraction"):
        R.prefill_bound("DeepSeek-V3", "H800", 8, dtype="fp8", cache_hit_fraction=1.0)


def test_bound_options_move_it_the_right_way():
    meas = R.measurement("deepseek-decode")
    base = R.bound_for(meas)
    assert R.bound_for(meas, attention=True) <= base
    assert base <= R.bound_for(meas, tokens_per_step=2.0) <= 2 * base
    mlp = R.measurement("mlperf-amd-8xmi300x_2xepyc-9374f-offline")
    assert R.bound_for(mlp, input_tokens=500) < R.bound_for(mlp)
    with pytest.raises(ValueError, match="input_tokens"):
        R.bound_for(mlp, input_tokens=-1)
    with pytest.raises(LookupError):
        R.measurement("nope")


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["H100 SXM", "H200 SXM", "B200", "MI300X"]), st.floats(1, 4000), st.integers(1, 8))
def test_decode_bound_rises_with_batch_and_stays_under_compute_ceiling(chip, ctx, chips):
    batches = np.array([1.0, 10.0, 100.0, 1000.0])
    b = R.decode_bound("Llama 2 70B", chip, ctx, chips, dtype="fp8", kv_dtype="fp8", batch=batches)
    tps = b.tokens_per_second
    assert np.all(np.diff(tps) >= -1e-9 * tps[:-1])
    assert np.all(tps <= R.compute_ceiling("Llama 2 70B", chip, chips, dtype="fp8") * (1 + 1e-12))
    best = R.decode_bound("Llama 2 70B", chip, ctx, chips, dtype="fp8", kv_dtype="fp8")
    assert best.tokens_per_second >= b.tokens_per_second[b.batch <= best.batch].max() * (1 - 1e-12)


def test_bound_refuses_a_model_that_does_not_fit():
    with pytest.raises(ValueError, match="does not fit"):
        R.decode_bound("Llama 3.1 405B", "H100", 1000, chips=1)


# ---------------------------------------------------------------------------------------------
# Measuring a machine
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["envelope", "least_squares"])
def test_fit_recovers_a_clean_roofline(method):
    n = np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=float)
    t = np.maximum(3e-3, 2e-4 * n)  # knee at 15
    fit = R.fit_roofline(n, t, method=method)
    assert fit.flat == pytest.approx(3e-3, rel=1e-9)
    assert fit.slope == pytest.approx(2e-4, rel=1e-9)
    assert fit.knee == pytest.approx(15.0)
    assert fit.intensity(4096, 4.0) == pytest.approx(7.5)
    assert fit.residual < 1e-12


@pytest.mark.parametrize("method", ["envelope", "least_squares"])
def test_fit_tolerates_noise(method):
    rng = np.random.default_rng(0)
    n = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256], dtype=float)
    t = np.maximum(5e-3, 1e-4 * n) * np.exp(rng.normal(0, 0.1, n.size))
    fit = R.fit_roofline(n, t, method=method)
    assert 25 < fit.knee < 100


def test_envelope_lies_under_every_measurement():
    rng = np.random.default_rng(1)
    n = 2.0 ** np.arange(9)
    t = (np.maximum(4e-3, 3e-4 * n) + 1e-3) * np.exp(rng.normal(0, 0.2, n.size))
    fit = R.fit_roofline(n, t)
    assert np.all(fit.predict(n) <= t * (1 + 1e-12))
    assert np.any(np.isclose(fit.predict(n), t))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(1e-6, 10.0), min_size=2, max_size=12), st.sampled_from(["envelope", "least_squares"]))
def test_fit_always_positive_and_finite(times, method):
    n = 2.0 ** np.arange(len(times))
    fit = R.fit_roofline(n, times, method=method)
    assert fit.flat > 0 and fit.slope > 0 and math.isfinite(fit.knee) and fit.knee > 0


def test_fit_rejects_bad_input():
    with pytest.raises(ValueError):
        R.fit_roofline([1, 2], [1.0])
    with pytest.raises(ValueError):
        R.fit_roofline([1, 2], [1.0, -1.0])
    with pytest.raises(ValueError, match="method"):
        R.fit_roofline([1, 2], [1.0, 2.0], method="magic")


def test_measurements_run_small_and_positive():
    with R.single_thread_blas() as pinned:
        assert pinned in (True, False)
        flops = R.measure_matmul_flops(n=128, repeats=2)
        bw = R.measure_copy_bandwidth(nbytes=2**22, repeats=2)
        t = R.time_batched_matmul(d=256, batches=(1, 64), repeats=2)
    assert flops > 1e6 and math.isfinite(flops)
    assert bw > 1e6 and math.isfinite(bw)
    assert t.shape == (2,) and np.all(t > 0)
