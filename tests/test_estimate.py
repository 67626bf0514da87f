"""serving_estimate: hand-checked limits, the bound, capacity, errors naming arguments, speed."""
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflib as rl
from rooflib.estimate import (KV_MEMORY_FRACTION, LATENCY_PERCENTILE, LEGACY_STEP_OVERHEAD, STEP_OVERHEAD,
                              engine_step_overhead, erlang_c, matmul_fractions, serving_estimate)
from rooflib.kv import kv_bytes_per_token

LLAMA = dict(chips=8, input_tokens=222.33, output_tokens=294.45, dtype="fp8", kv_dtype="fp8")


def test_matmul_fractions_are_the_measured_ones():
    # ml-engineering MAMF table: H100 bf16 794.5 / 989.4, fp8 1402.6 / 1978.9
    f = matmul_fractions("H100")
    assert f["bf16"] == pytest.approx(794.5 / 989.4) and f["fp8"] == pytest.approx(1402.6 / 1978.9)
    assert matmul_fractions("H800")["fp8"] == f["fp8"]          # same silicon as the H100
    assert matmul_fractions("B200")["fp4"] == pytest.approx(3432.5 / 4500)   # fp4 takes B200's fp8


def test_prediction_below_bound_and_fields_consistent():
    e = serving_estimate("Llama 2 70B", "H100", **LLAMA)
    assert 0 < e.tokens_per_second < e.bound_tokens_per_second
    assert e.replicas * e.tensor_parallel == 8
    assert e.tokens_per_second == pytest.approx(e.replicas * e.batch / e.time_per_output_token)
    assert e.per_user_tokens_per_second == pytest.approx(1 / e.time_per_output_token)
    assert e.time_per_output_token == pytest.approx(e.step_time + STEP_OVERHEAD)
    assert e.batch <= e.max_batch


def test_capacity_matches_hand_count():
    # 0.9 of two H100s' 160 GB, less 69 GB of fp8 weights, over the caches at context 222 + 293/2
    m = rl.model("Llama 2 70B")
    s = 222.33 + (294.45 - 1) / 2
    per_seq = s * kv_bytes_per_token(m, None, dtype="fp8")
    expect = np.floor((KV_MEMORY_FRACTION * 2 * 80e9 - rl.weight_bytes(m, "fp8")) / per_seq)
    e = serving_estimate(m, "H100", **LLAMA, tensor_parallel=2)
    assert e.max_batch == expect


def test_batch_one_is_the_weight_read_plus_overhead():
    # one sequence, no prompt, tiny context: the step reads the weights once at 90% of HBM bandwidth
    m, h = rl.model("Llama 3.1 8B"), rl.hardware("H100")
    e = serving_estimate(m, h, chips=1, input_tokens=0, output_tokens=1, decode_context=1, batch=1)
    weights = rl.weight_bytes(m, "bf16") / (0.9 * h.hbm_bandwidth)
    assert e.step_time == pytest.approx(weights, rel=0.02)
    assert e.time_per_output_token == pytest.approx(e.step_time + STEP_OVERHEAD)


def test_fixed_batch_is_capped_by_capacity():
    e = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=np.array([10.0, 1e6]))
    assert e.batch[1] == e.max_batch and e.batch[0] == 10


def test_latency_limit_is_respected_and_costs_throughput():
    free = serving_estimate("Llama 2 70B", "H100", **LLAMA)
    tight = serving_estimate("Llama 2 70B", "H100", **LLAMA, max_time_per_output_token=0.04)
    assert tight.time_per_output_token <= 0.04 < free.time_per_output_token
    assert tight.tokens_per_second < free.tokens_per_second


def test_throughput_grows_with_batch_and_efficiency():
    b = np.arange(1.0, 200.0)
    e = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=b)
    assert np.all(np.diff(e.tokens_per_second) > 0)
    slow = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=b, efficiency=0.5)
    assert np.all(slow.tokens_per_second < e.tokens_per_second)


def test_moe_reads_fewer_weights_at_small_batch():
    one = serving_estimate("Mixtral 8x7B", "H100", chips=1, input_tokens=0, output_tokens=1, decode_context=1,
                           batch=1, dtype="fp8", step_overhead=0.0)
    m, h = rl.model("Mixtral 8x7B"), rl.hardware("H100")
    # batch 1 touches 2 of 8 experts per layer: the bytes of moe_weight_bytes_read(1), not all of them
    read = rl.moe_weight_bytes_read(m, 1, dtype="fp8") / (0.9 * h.hbm_bandwidth)
    assert one.step_time == pytest.approx(read, rel=0.02)
    assert read < rl.weight_bytes(m, "fp8") / (0.9 * h.hbm_bandwidth) * 0.5


def test_engine_overheads_are_the_published_ones():
    assert engine_step_overhead("vLLM", "0.4.3") == LEGACY_STEP_OVERHEAD == 4e-3
    assert engine_step_overhead("vLLM", "0.9.0") == STEP_OVERHEAD == 0.58e-3
    assert engine_step_overhead("TensorRT-LLM", "10.2") == STEP_OVERHEAD


@pytest.mark.parametrize("kw, name", [(dict(chips=0), "chips"), (dict(chips=1.5), "chips"),
                                      (dict(input_tokens=-1), "input_tokens"), (dict(output_tokens=0), "output_tokens"),
                                      (dict(batch=0), "batch"), (dict(efficiency=1.5), "efficiency"),
                                      (dict(max_time_per_output_token=0), "max_time_per_output_token"),
                                      (dict(kv_dtype="fp7"), "kv_dtype"), (dict(decode_context=1e9), "decode_context"),
                                      (dict(tensor_parallel=3), "tensor_parallel")])
def test_errors_name_the_argument(kw, name):
    args = dict(LLAMA)
    args.update(kw)
    with pytest.raises(ValueError, match=name):
        serving_estimate("Llama 2 70B", "H100", **args)


def test_weights_that_do_not_fit_say_so():
    with pytest.raises(ValueError, match="do not fit"):
        serving_estimate("Llama 3.1 405B", "H100", chips=1, input_tokens=100, output_tokens=100)


def test_thousand_point_sweep_is_fast():
    b = np.linspace(1, 1000, 1000)
    serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=b)   # warm
    t = time.perf_counter()
    e = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=b)
    assert time.perf_counter() - t < 1.0 and np.shape(e.tokens_per_second) == (1000,)


def test_docstring_example():
    # the worked number in serving_estimate's docstring
    e = serving_estimate("Llama 2 70B", "H100", **LLAMA)
    assert (e.tensor_parallel, e.batch) == (2, 1240)
    assert e.tokens_per_second == pytest.approx(36.5e3, rel=0.005)
    assert e.bound_tokens_per_second == pytest.approx(65.6e3, rel=0.005)


# ---- random arrivals: the tail of TPOT and Erlang's queue ------------------------------------

def _erlang_c_by_recursion(c, a):
    # Erlang B by its textbook recursion B(k) = a B(k-1) / (k + a B(k-1)), then C = c B / (c - a (1 - B))
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return c * b / (c - a * (1 - b))


@pytest.mark.parametrize("c, a", [(1, 0.5), (2, 1.0), (10, 8.0), (100, 95.0), (5000, 4900.0), (3, 0.01)])
def test_erlang_c_matches_the_recursion(c, a):
    assert erlang_c(c, a) == pytest.approx(_erlang_c_by_recursion(c, a), rel=1e-9, abs=1e-300)


def test_erlang_c_single_server_is_the_utilisation():
    # M/M/1: an arrival waits with probability rho
    assert erlang_c(1, np.array([0.1, 0.5, 0.9])) == pytest.approx([0.1, 0.5, 0.9])


@settings(max_examples=40, deadline=None)
@given(c=st.integers(1, 3000), u=st.floats(0.01, 0.98), du=st.floats(0.001, 0.01))
def test_erlang_c_is_a_probability_that_grows_with_load(c, u, du):
    lo, hi = erlang_c(c, u * c), erlang_c(c, min(u + du, 0.99) * c)
    assert 0.0 <= lo <= hi <= 1.0


def test_erlang_c_refuses_a_load_at_or_above_the_slots():
    with pytest.raises(ValueError, match="load"):
        erlang_c(4, 4.0)


SERVER = dict(LLAMA, max_time_per_output_token=0.2)


def test_tail_ratio_tightens_the_tpot_limit():
    tight = serving_estimate("Llama 2 70B", "H100", **dict(LLAMA, max_time_per_output_token=0.04), tail_ratio=1.5)
    assert tight.time_per_output_token * 1.5 <= 0.04


def test_first_token_limit_keeps_spare_slots_and_meets_the_limit():
    free = serving_estimate("Llama 2 70B", "H100", **SERVER)
    e = serving_estimate("Llama 2 70B", "H100", **SERVER, max_time_to_first_token=2.0)
    assert free.slots is None and e.batch < e.slots
    # the p99 wait: C(c, a) exp(-(c - a) t / T) <= 1%, t = 2 s less the prompt's own first-token time
    c, a = int(e.slots), float(e.batch)
    hold = LLAMA["output_tokens"] * e.time_per_output_token
    late = erlang_c(c, a) * np.exp(-(c - a) * (2.0 - e.time_to_first_token) / hold)
    assert late <= 1 - LATENCY_PERCENTILE
    assert e.tokens_per_second <= free.tokens_per_second
    # a tighter first-token limit keeps more slots spare
    tighter = serving_estimate("Llama 2 70B", "H100", **SERVER, max_time_to_first_token=0.5, tensor_parallel=2)
    loose = serving_estimate("Llama 2 70B", "H100", **SERVER, max_time_to_first_token=2.0, tensor_parallel=2)
    assert tighter.batch / tighter.slots < loose.batch / loose.slots


def test_a_first_token_limit_below_the_prefill_cannot_be_met():
    with pytest.raises(ValueError, match="latency limits"):
        serving_estimate("Llama 3.1 405B", "H100", chips=8, input_tokens=9428.64, output_tokens=684.68,
                         dtype="fp8", kv_dtype="fp8", max_time_to_first_token=0.01)


@pytest.mark.parametrize("kw, name", [(dict(max_time_to_first_token=0), "max_time_to_first_token"),
                                      (dict(tail_ratio=0.9), "tail_ratio")])
def test_new_options_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        serving_estimate("Llama 2 70B", "H100", **LLAMA, **kw)


def test_efficiency_overrides_move_the_prediction_and_default_to_the_measured_rates():
    base = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=1.0)
    same = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=1.0, hbm_fraction=0.9,
                            link_fraction=0.82, matmul_fraction=matmul_fractions("H100"))
    assert same.tokens_per_second == pytest.approx(base.tokens_per_second)
    # batch 1 is weight-bound: HBM at 45% instead of 90% roughly doubles the step
    slow = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=1.0, hbm_fraction=0.45)
    assert 1.6 < slow.step_time / base.step_time < 2.05
    big = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=1000.0, matmul_fraction=0.35)
    ref = serving_estimate("Llama 2 70B", "H100", **LLAMA, tensor_parallel=2, batch=1000.0)
    assert big.tokens_per_second < 0.6 * ref.tokens_per_second      # compute-bound: 0.35 vs 0.709 of fp8 peak
    with pytest.raises(ValueError, match="hbm"):
        serving_estimate("Llama 2 70B", "H100", **LLAMA, hbm_fraction=1.5)
