"""rooflib.memory_trade: dropping the KV cache, activation memory, checkpointing, reversible blocks, the toy cipher."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import memory_trade as mt

# ---------------------------------------------------------------------------------------------
# The KV cache trade
# ---------------------------------------------------------------------------------------------


def test_step_without_cache_is_a_big_batch_of_compute():
    t = mt.step_time_without_cache("Llama 3.1 70B", "H100", 64, 4096, chips=8)
    hand = 2 * rl.model("Llama 3.1 70B").active_params * 64 * 4097 / (8 * 989.4e12)
    assert t == pytest.approx(hand)
    assert t > 100 * rl.decode_step("Llama 3.1 70B", "H100", 64, 4096, chips=8, overlap="full").time


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)),
       st.floats(1, 4096), st.floats(0, 1))
def test_dropping_the_cache_only_helps_while_flops_are_idle(m, h, b, f):
    s = f * min(rl.model(m).context_length, 32_768)
    t_free = mt.step_time_without_cache(m, h, b, s)
    step = rl.decode_step(m, h, b, s, overlap="full")
    # Never faster than the step's own compute or weight reads...
    assert t_free >= max(step.compute, step.weights) * (1 - 1e-12)
    # ... and slower than the cached step whenever the recompute outgrows the memory time.
    if step.compute * (s + 1) >= step.memory:
        assert t_free >= step.time * (1 - 1e-12)


def test_recompute_hides_under_weight_reads_up_to_about_the_optimal_batch():
    # Batch 1: recomputing S + 1 tokens costs the compute of a batch of S + 1, which the chip does
    # for free while it reads the weights, up to S + 1 = optimal batch.
    m, h = "DeepSeek-V3", "B200"
    b_star = rl.optimal_batch(m, h)
    short, long_ = mt.step_time_without_cache(m, h, 1, np.array([0.5 * b_star, 2 * b_star]))
    weights = rl.decode_step(m, h, 1, 0, overlap="full").weights
    assert short == pytest.approx(weights)
    assert long_ > 1.9 * weights


# ---------------------------------------------------------------------------------------------
# Activation memory (Korthikanti et al. 2022, arXiv:2205.05198)
# ---------------------------------------------------------------------------------------------


def test_korthikanti_formula_gpt3():
    # GPT-3 175B: h = 12,288, a = 96; s = 2,048, b = 1: s b h (34 + 5 a s / h) bytes.
    assert mt.activation_bytes_per_layer(2048, 1, 12288, 96) == 2048 * 12288 * (34 + 5 * 96 * 2048 / 12288)
    assert mt.activation_bytes_per_layer(2048, 1, 12288, 96, store_scores=False) == 34 * 2048 * 12288
    assert mt.layer_input_bytes(2048, 1, 12288) == 2 * 2048 * 12288


def test_activation_memory_scales_linearly_in_batch_quadratically_in_seq_with_scores():
    a1 = mt.activation_bytes_per_layer(1024, 1, 4096, 32)
    assert mt.activation_bytes_per_layer(1024, 4, 4096, 32) == pytest.approx(4 * a1)
    lin = mt.activation_bytes_per_layer(np.array([1e3, 2e3]), 1, 4096, 32, store_scores=False)
    assert lin[1] == pytest.approx(2 * lin[0])


def test_checkpoint_memory_hand_cases():
    L, A, c = 80, 34.0, 2.0
    assert mt.checkpointed_activation_bytes(L, 1, A, c) == 80 * 2 + 34
    assert mt.checkpointed_activation_bytes(L, 2, A, c) == 40 * 2 + 2 * 34
    assert mt.checkpointed_activation_bytes(L, 3, A, c) == 27 * 2 + 3 * 34  # ceil(80/3) = 27
    # k = L keeps everything: one checkpoint plus every layer.
    assert mt.checkpointed_activation_bytes(L, L, A, c) == c + L * A


def test_optimal_interval_is_sqrt_L_when_checkpoint_equals_layer():
    # Chen et al. 2016 (arXiv:1604.06174): k* = sqrt(L) when c = A; M(k*) ~ 2 sqrt(L) A.
    for L in (16, 64, 100, 121):
        k = mt.optimal_checkpoint_interval(L, 1.0, 1.0)
        assert abs(k - math.sqrt(L)) <= 1
        assert mt.checkpointed_activation_bytes(L, k, 1.0, 1.0) <= 2 * math.sqrt(L) + 2


def test_optimal_interval_brute_force():
    for L, A, c in [(80, 34.0, 2.0), (61, 10.0, 3.0), (126, 1.0, 7.0)]:
        mem = [mt.checkpointed_activation_bytes(L, k, A, c) for k in range(1, L + 1)]
        assert mt.optimal_checkpoint_interval(L, A, c) == 1 + int(np.argmin(mem))


def test_transformer_checkpoints_small_so_optimum_k_is_small():
    plan = mt.activation_plan("Llama 3.1 70B", 8192)
    # k* = sqrt(L c / A) = sqrt(80 x 2 / 34) = 2.17
    assert plan.best_k == 2
    assert plan.layer == 34 * 8192 * 8192
    assert plan.none == 80 * plan.layer
    assert plan.reversible < plan.checkpointed < plan.every_layer < plan.none


def test_recomputed_layers_and_flops():
    assert mt.recomputed_layers(80, 1) == 79
    assert mt.recomputed_layers(80, 80) == 0
    assert mt.recomputed_layers(80, 2) == 78
    assert mt.recomputed_layers(80, 3) == 78  # segments 27 x 3 = 81 > 80: the last has 2 layers
    n = 1e9
    assert mt.training_flops_per_token(n) == 6e9
    assert mt.training_flops_per_token(n, 80, 1) == pytest.approx((6 + 2 * 79 / 80) * n)
    assert mt.training_flops_per_token(n, 80, 80) == pytest.approx(6 * n)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 128), st.floats(1.0, 1e3), st.floats(1.0, 1e3))
def test_checkpointing_trades_monotonically(L, A, c):
    ks = np.arange(1, L + 1)
    flops = mt.training_flops_per_token(1.0, L, ks)
    assert np.all((flops >= 6.0) & (flops <= 8.0))
    assert flops[0] == flops.max() and flops[-1] == 6.0   # k = 1 recomputes most, k = L nothing
    best = mt.optimal_checkpoint_interval(L, A, c)
    assert mt.checkpointed_activation_bytes(L, best, A, c) <= L * A + c   # never worse than keeping all
    assert mt.reversible_activation_bytes(A, c) <= mt.checkpointed_activation_bytes(L, 1, A, c)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="k"):
        mt.checkpointed_activation_bytes(10, 11, 1.0, 1.0)
    with pytest.raises(ValueError, match="k"):
        mt.checkpointed_activation_bytes(10, 2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="seq"):
        mt.activation_bytes_per_layer(0, 1, 10, 1)
    with pytest.raises(ValueError, match="context"):
        mt.step_time_without_cache("Llama 3.1 8B", "H100", 1, -1)
    with pytest.raises(ValueError, match="batch"):
        mt.step_time_without_cache("Llama 3.1 8B", "H100", 0, 10)
    with pytest.raises(LookupError):
        mt.activation_plan("no such model", 1024)


# ---------------------------------------------------------------------------------------------
# The reversible block
# ---------------------------------------------------------------------------------------------


def _stack(depth=6, width=8, hidden=16, dtype=np.float64):
    return mt.ReversibleStack.random(depth, width, hidden, seed=7, dtype=dtype)


def test_reversible_block_inverts_to_round_off():
    rng = np.random.default_rng(11)
    stack = _stack()
    x1, x2 = rng.standard_normal((2, 5, 8))
    y1, y2 = stack.forward(x1, x2)
    r1, r2 = stack.inverse(y1, y2)
    assert np.max(np.abs(r1 - x1)) < 1e-13
    assert np.max(np.abs(r2 - x2)) < 1e-13
    assert np.max(np.abs(y1 - x1)) > 1e-2  # the block did something


def test_reversible_gradients_match_stored_and_finite_differences():
    rng = np.random.default_rng(12)
    stack = _stack(depth=4)
    x1, x2 = rng.standard_normal((2, 3, 8))
    d1, d2 = rng.standard_normal((2, 3, 8))   # loss = sum(d1 * y1) + sum(d2 * y2)
    y1, y2 = stack.forward(x1, x2)
    a1, a2, ga, kept_a = stack.backward_stored(x1, x2, d1, d2)
    b1, b2, gb, kept_b = stack.backward_reversible(y1, y2, d1, d2)
    assert np.allclose(a1, b1, atol=1e-12) and np.allclose(a2, b2, atol=1e-12)
    for blk_a, blk_b in zip(ga, gb):
        for fa, fb in zip(blk_a, blk_b):
            for wa, wb in zip(fa, fb):
                assert np.allclose(wa, wb, atol=1e-12)
    assert kept_a == 2 * 4 and kept_b == 2

    def loss(z1):
        o1, o2 = stack.forward(z1, x2)
        return np.sum(d1 * o1) + np.sum(d2 * o2)

    eps = 1e-6
    for idx in [(0, 0), (1, 3), (2, 7)]:
        zp, zm = x1.copy(), x1.copy()
        zp[idx] += eps
        zm[idx] -= eps
        assert (loss(zp) - loss(zm)) / (2 * eps) == pytest.approx(a1[idx], rel=1e-6, abs=1e-8)
    # One weight of the first block's F.
    w = stack.blocks[0].f.w1
    base = w[2, 5]
    w[2, 5] = base + eps
    lp = loss(x1)
    w[2, 5] = base - eps
    lm = loss(x1)
    w[2, 5] = base
    assert (lp - lm) / (2 * eps) == pytest.approx(ga[0][0][0][2, 5], rel=1e-6, abs=1e-8)


def test_float32_inverse_drifts_but_stays_small():
    rng = np.random.default_rng(13)
    stack = _stack(depth=32, dtype=np.float32)
    x1, x2 = rng.standard_normal((2, 4, 8)).astype(np.float32)
    r1, r2 = stack.inverse(*stack.forward(x1, x2))
    err = max(np.max(np.abs(r1 - x1)), np.max(np.abs(r2 - x2)))
    assert 0 < err < 1e-3


# ---------------------------------------------------------------------------------------------
# The toy Feistel cipher
# ---------------------------------------------------------------------------------------------


def test_feistel_decrypt_inverts_encrypt():
    keys = mt.feistel_keys(seed=3)
    x = np.random.default_rng(5).integers(0, 1 << 32, size=1000, dtype=np.uint64).astype(np.uint32)
    y = mt.feistel_encrypt(x, keys)
    assert np.array_equal(mt.feistel_decrypt(y, keys), x)
    assert np.mean(y == x) < 0.01


def test_popcount():
    assert list(mt.popcount32(np.array([0, 1, 3, 0xFFFFFFFF], dtype=np.uint32))) == [0, 1, 2, 32]


def test_avalanche_flips_about_half_the_bits():
    av = mt.avalanche(mt.feistel_keys(seed=0), n_samples=2048)
    assert 15.5 < av.mean() < 16.5
    assert np.all((av > 14.5) & (av < 17.5))


def test_too_few_rounds_do_not_avalanche():
    # Two rounds leave part of the block barely mixed: the per-bit average is far from 16 somewhere.
    av = mt.avalanche(mt.feistel_keys(seed=0, rounds=2), n_samples=1024)
    assert av.min() < 12


def test_step_without_cache_per_phase_adds_the_all_reduces():
    # Llama 3.1 70B on 8 H100, 64 sequences of 4,096 tokens: the per-phase step adds the all-reduces of
    # the 64 x 4,097 recomputed tokens' activations, so dropping the cache costs more than in the ideal.
    ideal = mt.step_time_without_cache("Llama 3.1 70B", "H100 SXM", 64, 4096, chips=8)
    phase = mt.step_time_without_cache("Llama 3.1 70B", "H100 SXM", 64, 4096, chips=8, overlap="none")
    assert phase > ideal
    assert phase == pytest.approx(rl.decode_step("Llama 3.1 70B", "H100 SXM", 64 * 4097, 0, chips=8).time)
    # one chip has no all-reduce: the two models agree on a compute-bound recompute
    one = mt.step_time_without_cache("Llama 3.1 70B", "H100 SXM", 64, 4096)
    assert mt.step_time_without_cache("Llama 3.1 70B", "H100 SXM", 64, 4096, overlap="none") == pytest.approx(one)


def test_reversible_peak_is_two_full_width_streams_plus_one_layer():
    # Reformer (Kitaev et al. 2020, arXiv:2001.04451) keeps two full-width streams: 2 c + A, with
    # c = 2 s b h and A = 34 s b h (Korthikanti et al. 2022): Llama 3.1 70B at 8,192 tokens, 2.55 GB.
    plan = mt.activation_plan("Llama 3.1 70B", 8192)
    c, A = 2 * 8192 * 8192, 34 * 8192 * 8192
    assert plan.reversible == 2 * c + A
    assert round(plan.reversible / 1e9, 2) == 2.55
