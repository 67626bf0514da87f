"""queueing: the continuous-batching simulator against closed forms (Little's law, M/D/1, M/G/1)."""
import time

import numpy as np
import pytest

from rooflib import queueing as qu
from rooflib import service as sv

M, H = "Llama 3.1 70B", "H100 SXM"


@pytest.fixture(scope="module")
def one_slot():
    """A server that takes one request at a time: a 256-token prompt, then 31 decode steps."""
    tab = sv.step_time_table(M, H, 200, 8, max_batch=1, max_prefill_tokens=512, prompt=256, dtype="fp8",
                             kv_dtype="fp8")
    return tab, tab.lookup(0, 256) + 31 * tab.lookup(1, 0)


def test_closed_forms_by_hand():
    # M/D/1 at rho = 0.5: rho S / (2 (1 - rho)) = S / 2; M/M/1: rho S / (1 - rho) = S
    assert qu.md1_wait(0.5, 1.0) == pytest.approx(0.5)
    assert qu.mm1_wait(0.5, 1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="< 1"):
        qu.md1_wait(2.0, 1.0)


def test_fixed_service_time_is_deterministic(one_slot):
    tab, service = one_slot
    sim = qu.simulate(qu.requests(2000, 0.5 / service, input_tokens=256, output_tokens=32), tab, max_batch=1, chunk=512)
    assert np.ptp(sim.finish - sim.start) < 1e-9 and np.allclose(sim.finish - sim.start, service)


@pytest.mark.parametrize("rho", [0.3, 0.5, 0.8])
def test_md1_limit(one_slot, rho):
    """Batch 1, fixed lengths: M/D/1. Mean wait within 5 % of rho S / (2 (1 - rho)) over 50,000
    requests (seen: within 2.5 % for seeds 0-2)."""
    tab, service = one_slot
    sim = qu.simulate(qu.requests(50_000, rho / service, input_tokens=256, output_tokens=32, seed=0), tab,
                      max_batch=1, chunk=512)
    assert sim.wait.mean() == pytest.approx(qu.md1_wait(rho / service, service), rel=0.05)


def test_mg1_limit_with_random_lengths(one_slot):
    """Batch 1, exponential lengths: M/G/1; Pollaczek-Khinchine with the run's own service moments,
    within 5 % over 50,000 requests at rho about 0.5."""
    tab, service = one_slot
    tab = sv.step_time_table(M, H, 200, 8, max_batch=1, max_prefill_tokens=4096, prompt=256, dtype="fp8",
                             kv_dtype="fp8")
    sim = qu.simulate(qu.requests(50_000, 0.5 / service, input_tokens=256, output_tokens=32, lengths="exponential",
                                  seed=1), tab, max_batch=1, chunk=4096)
    s = sim.finish - sim.start
    lam = len(s) / sim.arrival.max()
    assert sim.wait.mean() == pytest.approx(qu.mg1_wait(lam, s.mean(), (s ** 2).mean()), rel=0.05)


@pytest.mark.parametrize("load", [0.3, 0.9])
def test_littles_law(load):
    """Requests in service, integrated from the steps, = throughput x mean time in service (to 1e-9)."""
    tab = sv.step_time_table(M, H, 1152, 8, max_batch=64, max_prefill_tokens=512, prompt=1024, dtype="fp8",
                             kv_dtype="fp8")
    mu = qu.saturation_rate(tab, max_batch=64, input_tokens=1024, output_tokens=256)
    sim = qu.simulate(qu.requests(3000, load * mu, input_tokens=1024, output_tokens=256, lengths="exponential"),
                      tab, max_batch=64, chunk=512)
    throughput = len(sim.arrival) / sim.makespan
    assert sim.mean_in_service == pytest.approx(throughput * (sim.finish - sim.start).mean(), rel=1e-9)


def test_seeded_deterministic_and_fast():
    t0 = time.perf_counter()
    a = qu.simulate_server(M, H, 20.0, n=10_000, input_tokens=1024, output_tokens=256, chips=8, max_batch=128,
                           dtype="fp8", kv_dtype="fp8", lengths="exponential")
    assert time.perf_counter() - t0 <= 2.0          # the budget: 10,000 requests <= 2 s
    b = qu.simulate_server(M, H, 20.0, n=10_000, input_tokens=1024, output_tokens=256, chips=8, max_batch=128,
                           dtype="fp8", kv_dtype="fp8", lengths="exponential")
    assert np.array_equal(a.first_token, b.first_token) and np.array_equal(a.finish, b.finish)


def test_ttft_rises_with_load_and_cost_falls():
    tab = sv.step_time_table(M, H, 1152, 8, max_batch=128, max_prefill_tokens=512, prompt=1024, dtype="fp8",
                             kv_dtype="fp8")
    mu = qu.saturation_rate(tab, max_batch=128, input_tokens=1024, output_tokens=256)
    sims = [qu.simulate(qu.requests(3000, x * mu, input_tokens=1024, output_tokens=256), tab, max_batch=128,
                        chunk=512) for x in (0.2, 0.6, 0.95)]
    p99 = [s.percentile("ttft", 99) for s in sims]
    cost = [s.dollars_per_million_tokens for s in sims]
    assert p99[0] < p99[1] < p99[2] and cost[0] > cost[1] > cost[2]


def test_unchunked_prompt_stalls_decoding():
    """Without chunking a long prompt rides in one step: the decoders' worst gap grows."""
    kw = dict(input_tokens=4096, output_tokens=128, chips=8, max_batch=32, dtype="fp8", kv_dtype="fp8", n=500)
    chunked = qu.simulate_server(M, H, 2.0, chunk=512, **kw)
    whole = qu.simulate_server(M, H, 2.0, chunk=None, **kw)
    assert whole.percentile("tpot", 99) > chunked.percentile("tpot", 99)


def test_errors():
    tab = sv.step_time_table(M, H, 100, 8, max_batch=4, max_prefill_tokens=128, prompt=100)
    reqs = qu.requests(10, 1.0, input_tokens=100, output_tokens=10)
    with pytest.raises(ValueError, match="max_batch"):
        qu.simulate(reqs, tab, max_batch=8)
    with pytest.raises(ValueError, match="table stops"):
        qu.simulate(reqs, tab, max_batch=4, chunk=1024)
    with pytest.raises(ValueError, match="lengths"):
        qu.requests(10, 1.0, input_tokens=1, output_tokens=1, lengths="pareto")
