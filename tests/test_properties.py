"""Property tests: monotonicity, limits and broadcasting hold for every chip, model and input."""
import numpy as np
from hypothesis import given, settings, strategies as st

import rooflib as rl

chips_ = st.sampled_from(sorted(rl.CHIPS))
models_ = st.sampled_from(sorted(rl.MODELS))
batch_ = st.floats(1, 1e5)
fraction = st.floats(0, 1)  # of the model's context length (Llama 2 stops at 4,096 tokens)


def ctx(m, f):
    return f * rl.model(m).context_length
n_chips = st.integers(1, 72)


@settings(max_examples=200, deadline=None)
@given(models_, chips_, batch_, batch_, fraction, n_chips)
def test_time_never_decreases_with_batch(m, h, b1, b2, f, c):
    s = ctx(m, f)
    lo, hi = sorted((b1, b2))
    t = rl.decode_step(m, h, np.array([lo, hi]), s, chips=c, overlap="full").time
    assert t[1] >= t[0]


@settings(max_examples=200, deadline=None)
@given(models_, chips_, batch_, fraction, fraction, n_chips)
def test_time_never_decreases_with_context(m, h, b, f1, f2, c):
    lo, hi = sorted((ctx(m, f1), ctx(m, f2)))
    t = rl.decode_step(m, h, b, np.array([lo, hi]), chips=c, overlap="full").time
    assert t[1] >= t[0]


@settings(max_examples=200, deadline=None)
@given(models_, chips_, batch_, batch_, fraction, n_chips)
def test_cost_never_increases_with_batch_while_memory_bound(m, h, b1, b2, f, c):
    s = ctx(m, f)
    lo, hi = sorted((b1, b2))
    step = rl.decode_step(m, h, hi, s, chips=c, overlap="full")
    if step.bound == "memory":
        cost = rl.cost_per_token(m, h, np.array([lo, hi]), s, 2.0, chips=c, overlap="full")
        assert cost[1] <= cost[0] * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(models_, chips_, fraction, n_chips)
def test_batch_one_latency_floor_is_weight_read(m, h, f, c):
    s = ctx(m, f)
    step = rl.decode_step(m, h, 1, s, chips=c, overlap="full")
    assert step.time >= step.weights
    assert step.weights == rl.weight_bytes(m) / (c * rl.hardware(h).hbm_bandwidth)


@settings(max_examples=100, deadline=None)
@given(models_, chips_, n_chips)
def test_compute_dominates_far_beyond_optimal_batch_at_zero_context(m, h, c):
    b = rl.optimal_batch(m, h) * 4
    assert rl.decode_step(m, h, b, 0, chips=c, overlap="full").bound == "compute"
    assert rl.decode_step(m, h, b / 16, 0, chips=c, overlap="full").bound == "memory"


@settings(max_examples=100, deadline=None)
@given(models_, st.floats(1, 10**5))
def test_sliding_window_average_never_exceeds_full_cache(m, s):
    assert rl.kv_bytes_per_token(m, s) <= rl.kv_bytes_per_token(m) * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(models_, chips_, st.integers(1, 64), st.floats(1e-4, 1))
def test_max_batch_fits_and_one_more_does_not(m, h, c, f):
    s = max(1.0, ctx(m, f))
    mm, hh = rl.model(m), rl.hardware(h)
    b = rl.max_batch(mm, hh, s, chips=c)
    cap = c * hh.hbm_capacity
    used = lambda n: rl.weight_bytes(mm) + n * s * rl.kv_bytes_per_token(mm, s)
    if b > 0:
        assert used(b) <= cap * (1 + 1e-12)
    assert used(b + 1) > cap * (1 - 1e-12)


@settings(max_examples=50, deadline=None)
@given(models_, chips_, st.lists(batch_, min_size=1, max_size=5), st.lists(fraction, min_size=1, max_size=4))
def test_vectorised_equals_scalar(m, h, bs, fs):
    ss = [ctx(m, f) for f in fs]
    grid = rl.decode_step(m, h, np.array(bs)[:, None], np.array(ss)[None, :], chips=8, overlap="full")
    for i, b in enumerate(bs):
        for j, s in enumerate(ss):
            one = rl.decode_step(m, h, b, s, chips=8, overlap="full")
            assert np.isclose(grid.time[i, j], one.time)
            assert grid.bound[i, j] == one.bound
