"""decode_step, optimal_batch, max_batch and cost_per_token: hand-computed cases and errors."""
import numpy as np
import pytest

import rooflib as rl

H100_F, H100_W, H100_M = 989.4e12, 3.35e12, 80e9  # scaling-book gpus.md; nvidia.com/en-us/data-center/h100


def test_decode_step_by_hand():
    m = rl.model("Llama 3.1 70B")
    b, s, c = 64, 4096, 4
    step = rl.decode_step(m, "H100", b, s, chips=c, overlap="full")   # the lecture's ideal
    assert step.compute == pytest.approx(2 * b * m.active_params / (c * H100_F))
    assert step.weights == pytest.approx(m.total_params * 2 / (c * H100_W))
    assert step.kv == pytest.approx(b * s * 327_680 / (c * H100_W))
    assert step.time == pytest.approx(max(step.compute, step.weights + step.kv))
    assert step.attention == 0 and step.comm == 0      # the ideal counts neither
    assert step.bound == "memory"
    assert step.tokens_per_second == pytest.approx(b / step.time)
    # per phase (the default): the same four terms, attention's FLOPs and the all-reduces added
    phased = rl.decode_step(m, "H100", b, s, chips=c)
    attention = b * 4 * 64 * 128 * 80 * s / (c * H100_F)     # 4 n_h d_h FLOPs per cached token per layer
    assert phased.attention == pytest.approx(attention)
    assert phased.time == pytest.approx(max(attention, step.kv) + max(step.compute, step.weights) + phased.comm)


def test_memory_terms_add_not_max():
    step = rl.decode_step("Llama 3.1 70B", "H100", 100, 8000, chips=8)
    assert step.memory == pytest.approx(step.weights + step.kv)
    assert step.time > max(step.weights, step.kv)


def test_compute_bound_at_large_batch_short_context():
    step = rl.decode_step("Llama 3.1 8B", "H100", 4096, 0)
    assert step.bound == "compute"
    assert step.time == step.compute


def test_fp8_halves_weight_bytes_and_doubles_flops():
    bf = rl.decode_step("Llama 3.1 70B", "H100", 32, 1000, chips=2)
    f8 = rl.decode_step("Llama 3.1 70B", "H100", 32, 1000, chips=2, dtype="fp8", kv_dtype="fp8")
    assert f8.weights == pytest.approx(bf.weights / 2)
    assert f8.compute == pytest.approx(bf.compute / 2, rel=1e-4)  # 1978.9 vs 2 x 989.4 TFLOP/s
    assert f8.kv == pytest.approx(bf.kv / 2)


def test_memory_turnover():
    # H100: 80 GB / 3.35 TB/s = 23.9 ms
    assert rl.memory_turnover("H100") == pytest.approx(80e9 / 3.35e12)
    assert rl.fmt_time(rl.memory_turnover("H100")) == "23.9 ms"


def test_optimal_batch_equalises_compute_and_weights():
    for name in ["Llama 3.1 70B", "DeepSeek-V3", "Mixtral 8x7B"]:
        b = rl.optimal_batch(name, "H100")
        step = rl.decode_step(name, "H100", b, 0)
        assert step.compute == pytest.approx(step.weights)
    # fp8: 1 byte per weight but 2x the FLOP/s: the two effects cancel
    assert rl.optimal_batch("Llama 3.1 70B", "H100", "fp8") == pytest.approx(
        rl.optimal_batch("Llama 3.1 70B", "H100"), rel=1e-4)  # 1978.9 vs 2 x 989.4 TFLOP/s


def test_max_batch_by_hand():
    m = rl.model("Llama 3.1 70B")
    free = 8 * H100_M - m.total_params * 2
    assert rl.max_batch(m, "H100", 4096, chips=8) == int(free // (4096 * 327_680))
    assert rl.max_batch(m, "H100", 4096, chips=1) == 0  # 141 GB of weights do not fit in 80 GB
    # the largest batch fits, one more does not
    b = rl.max_batch(m, "H100", 8192, chips=8)
    assert m.total_params * 2 + b * 8192 * 327_680 <= 8 * H100_M < m.total_params * 2 + (b + 1) * 8192 * 327_680


def test_max_batch_leaves_reserved_bytes_alone():
    m = rl.model("Llama 3.1 70B")
    b = rl.max_batch(m, "H100", 4096, chips=8)
    seq = 4096 * 327_680                                                  # one sequence's bf16 cache
    assert rl.max_batch(m, "H100", 4096, chips=8, reserved=10 * seq) == b - 10
    assert list(rl.max_batch(m, "H100", 4096, chips=8, reserved=np.array([0.0, seq, 1e15]))) == [b, b - 1, 0]
    with pytest.raises(ValueError, match="reserved"):
        rl.max_batch(m, "H100", 4096, chips=8, reserved=-1.0)


def test_cost_per_token_by_hand():
    step = rl.decode_step("Llama 3.1 70B", "H100", 128, 2048, chips=8)
    cost = rl.cost_per_token("Llama 3.1 70B", "H100", 128, 2048, 2.0, chips=8)
    assert cost == pytest.approx(step.time * 8 * 2.0 / 3600 / 128)
    # a rack priced per chip: 72 chips' worth of dollars
    rack = rl.cost_per_token("Llama 3.1 70B", "GB200 NVL72", 128, 2048, 3.0)
    per_chip = rl.cost_per_token("Llama 3.1 70B", "GB200", 128, 2048, 3.0, chips=72)
    assert rack == pytest.approx(per_chip)


def test_broadcasting_shapes():
    b = np.arange(1, 11)[:, None]
    s = np.array([0, 100, 1000])[None, :]
    step = rl.decode_step("Llama 3.1 8B", "H100", b, s)
    for part in (step.compute, step.weights, step.kv, step.time, step.bound):
        assert np.shape(part) == (10, 3)
    assert rl.max_batch("Llama 3.1 8B", "H100", np.array([1000, 2000])).shape == (2,)


def test_chinchilla_and_training_flops():
    # Hoffmann et al. 2022: Chinchilla 70B params on 1.4T tokens (20 per parameter)
    assert rl.chinchilla_tokens(70e9) == pytest.approx(1.4e12)
    assert rl.training_flops(70e9, 1.4e12) == pytest.approx(5.88e23)


@pytest.mark.parametrize("call, needle", [
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 0, 10), "batch"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", -3, 10), "batch"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, -1), "context"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, chips=0), "chips"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, chips=1.5), "chips"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, dtype="fp4"), "fp4"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, kv_dtype="int3"), "dtype"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 200_000), "context length"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", float("nan"), 10), "batch"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", "many", 10), "batch"),
    (lambda: rl.cost_per_token("Llama 3.1 8B", "H100", 1, 10, -2), "dollars_per_chip_hour"),
    (lambda: rl.max_batch("Llama 3.1 8B", "H100", 0), "context"),
    (lambda: rl.chinchilla_tokens(0), "params"),
    (lambda: rl.rack("H100", 9), "chips"),
])
def test_bad_values_name_the_argument(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


@pytest.mark.parametrize("kind, name, suggestion", [
    ("hardware", "H1OO", "H100 SXM"), ("hardware", "b20", "B200"), ("model", "deepseek v4", "DeepSeek-V3"),
    ("model", "lama-3.1-70", "Llama 3.1 70B"),
])
def test_unknown_names_suggest_close_matches(kind, name, suggestion):
    with pytest.raises(LookupError, match=suggestion):
        getattr(rl, kind)(name)
    with pytest.raises(rl.UnknownNameError):
        getattr(rl, kind)(name)
