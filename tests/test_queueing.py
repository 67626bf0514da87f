"""queueing: the continuous-batching simulator against closed forms (Little's law, M/D/1, M/G/1)."""
import dataclasses

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


def test_seeded_deterministic():
    # speed (the budget: 10,000 requests <= 2 s) is measured by benchmarks/run.py, not here
    a = qu.simulate_server(M, H, 20.0, n=10_000, input_tokens=1024, output_tokens=256, chips=8, max_batch=128,
                           dtype="fp8", kv_dtype="fp8", lengths="exponential")
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


def _peak_in_service(sim):
    """The most requests holding a slot at once, from the start and finish times."""
    t = np.concatenate([sim.start, sim.finish])
    step = np.concatenate([np.ones(sim.start.size), -np.ones(sim.finish.size)])
    order = np.lexsort((step, t))          # at equal times, a finish frees its slot before a start
    return int(np.cumsum(step[order]).max())


def test_kv_capacity_is_max_batch_at_one_token():
    # Llama 3.1 70B in fp8 on 2 H100: (2 x 80e9 - 70.55e9) B / (2 x 8 x 128 x 80 x 1 B) = 545,944 tokens
    tab = sv.step_time_table(M, H, 16_640, 2, max_batch=64, max_prefill_tokens=2048, prompt=16_384, dtype="fp8",
                             kv_dtype="fp8")
    # (70,552,387,584 B of fp8 weights: 70.55B parameters x 1 B)
    assert tab.kv_capacity == np.floor((2 * 80e9 - 70_552_387_584) / 163_840) == 545_944
    assert qu.memory_batch(tab, input_tokens=16_384, output_tokens=512) == 32     # 545,944 / 16,896


def test_memory_cap_binds_on_long_contexts():
    """16k-token prompts on 2 H100 (fp8): max_batch 64 would take 64 sequences, the HBM left by the
    weights holds the reserved caches of 32. The simulator never admits a 33rd; without the cap it
    reaches 64, serves more tokens/s, and the queue is shorter."""
    tab = sv.step_time_table(M, H, 16_640, 2, max_batch=64, max_prefill_tokens=2048, prompt=16_384, dtype="fp8",
                             kv_dtype="fp8")
    reqs = qu.requests(1000, 2.0, input_tokens=16_384, output_tokens=512)      # more than either can serve
    capped = qu.simulate(reqs, tab, max_batch=64, chunk=2048)
    free = qu.simulate(reqs, dataclasses.replace(tab, kv_capacity=np.inf), max_batch=64, chunk=2048)
    assert _peak_in_service(capped) == 32 and _peak_in_service(free) == 64
    assert capped.kv_peak <= tab.kv_capacity < 33 * 16_896
    assert capped.tokens_per_second < free.tokens_per_second
    assert capped.percentile("wait", 50) > free.percentile("wait", 50)
    # the saturation rate counts the 32 that fit, not the 64 slots
    mu = qu.saturation_rate(tab, max_batch=64, input_tokens=16_384, output_tokens=512)
    assert mu == pytest.approx(32 / (512 * tab.lookup(32, 32 * 16_384 / 512)))


def test_memory_cap_does_not_bind_where_caches_fit():
    # 8 H100 with 1,024 + 256 tokens: 128 slots x 1,280 tokens = 164k of 3.5M tokens that fit, so the
    # run is exactly the slots-only run (the chapter's numbers do not move)
    tab = sv.step_time_table(M, H, 1152, 8, max_batch=128, max_prefill_tokens=512, prompt=1024, dtype="fp8",
                             kv_dtype="fp8")
    reqs = qu.requests(3000, 30.0, input_tokens=1024, output_tokens=256, lengths="exponential")
    a = qu.simulate(reqs, tab, max_batch=128, chunk=512)
    b = qu.simulate(reqs, dataclasses.replace(tab, kv_capacity=np.inf), max_batch=128, chunk=512)
    assert np.array_equal(a.finish, b.finish) and np.array_equal(a.first_token, b.first_token)


def test_a_request_that_can_never_fit_is_an_error():
    tab = sv.step_time_table(M, H, 16_640, 2, max_batch=8, max_prefill_tokens=2048, prompt=16_384, dtype="fp8",
                             kv_dtype="fp8")
    with pytest.raises(ValueError, match="never be admitted"):
        qu.simulate(qu.requests(3, 1.0, input_tokens=600_000, output_tokens=1), tab, max_batch=8, chunk=2048)


def test_a_fleet_is_whole_replicas():
    """Plan.fleet_cost: ceil(rate / (load x saturation)) replicas, priced by service.cost_per_million_tokens;
    capacity_plan prices its plans with it."""
    p = qu.Plan(chips=2, max_batch=128, saturation=16.0, load=0.8, replicas=1, chips_total=2,
                dollars_per_million_tokens=0.0)
    # one replica serves 12.8 requests/s: 12.8 still takes one, 12.9 takes two
    one, two = p.fleet_cost([12.8, 12.9], output_tokens=256, dollars_per_chip_hour=2.0)
    assert one == pytest.approx(1e6 * 2 * 2.0 / 3600 / (12.8 * 256))
    assert two == pytest.approx(1e6 * 4 * 2.0 / 3600 / (12.9 * 256))
    with pytest.raises(ValueError, match="rate"):
        p.fleet_cost(0.0, output_tokens=256)
