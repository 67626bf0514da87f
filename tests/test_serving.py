"""Train-schedule waits, the fast-mode inverse of decode_step, and the energy table."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import energy, serving
from rooflib.roofline import batch_for_step_time


def test_boarding_wait_by_hand():
    # steps start at 0, 10, 20 ms: arriving at 3 ms waits 7 ms; arriving exactly at 10 ms boards at once
    assert serving.boarding_wait(0.003, 0.010) == pytest.approx(0.007)
    assert serving.boarding_wait(0.010, 0.010) == pytest.approx(0.0)
    assert serving.first_token_latency(0.003, 0.010) == pytest.approx(0.017)


def test_first_token_within_one_to_two_steps():
    arrivals = serving.simulate_arrivals(5000, 100.0, seed=3)
    lat = serving.first_token_latency(arrivals, 0.02)
    assert lat.min() >= 0.02 and lat.max() <= 0.04
    assert lat.mean() == pytest.approx(0.03, rel=0.02)


def test_serving_errors_name_the_argument():
    with pytest.raises(ValueError, match="step_time"):
        serving.boarding_wait(1.0, 0)
    with pytest.raises(ValueError, match="arrival_times"):
        serving.boarding_wait(-1.0, 0.02)
    with pytest.raises(ValueError, match="n must"):
        serving.simulate_arrivals(0, 1.0)


def test_energy_table_published_ratios():
    # Han et al. 2015, Fig. 1 (Horowitz 2014): DRAM 640 pJ, fp32 multiply 3.7 pJ, SRAM 5 pJ
    pj = energy.PICOJOULES
    assert pj["DRAM read (off-chip memory)"] / pj["fp32 multiply"] == pytest.approx(173, abs=0.5)
    assert energy.energy_per_multiply(1) == pytest.approx(643.7)
    assert energy.energy_per_multiply(np.array([1, 10, 100])).shape == (3,)
    with pytest.raises(ValueError, match="batch"):
        energy.energy_per_multiply(0)
    with pytest.raises(ValueError, match="fetch"):
        energy.energy_per_multiply(2, fetch="tape")


def test_batch_for_step_time_inverts_decode_step():
    m, h = "Llama 3.1 70B", "H100"
    for ctx in (0, 4096):
        for b in (300, 1000, 3000):
            t = rl.decode_step(m, h, b, ctx, chips=8, overlap="full").time
            assert batch_for_step_time(m, h, t, ctx, chips=8, overlap="full") == pytest.approx(b, rel=1e-9)
    # faster than the weights can be read: no batch at all
    floor = rl.decode_step(m, h, 1, 0, chips=8, overlap="full").weights
    assert batch_for_step_time(m, h, floor / 2, 0, chips=8, overlap="full") == 0.0
    with pytest.raises(ValueError, match="step_time"):
        batch_for_step_time(m, h, 0, 0, overlap="full")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(sorted(rl.CHIPS)), st.floats(1e-4, 10), st.floats(0, 1))
def test_batch_for_step_time_respects_the_limit(m, h, t, f):
    ctx = f * rl.model(m).context_length
    b = batch_for_step_time(m, h, t, ctx, chips=8, overlap="full")
    if b > 0 and np.isfinite(b):
        assert rl.decode_step(m, h, b, ctx, chips=8, overlap="full").time <= t * (1 + 1e-9)
