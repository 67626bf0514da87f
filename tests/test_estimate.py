"""serving_estimate: hand-checked limits, the bound, capacity, errors naming arguments, speed."""
import time

import numpy as np
import pytest

import rooflib as rl
from rooflib.estimate import (KV_MEMORY_FRACTION, LEGACY_STEP_OVERHEAD, STEP_OVERHEAD, engine_step_overhead,
                              matmul_fractions, serving_estimate)
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
