"""Requests arrive at random: a discrete-event simulation of one continuous-batching server.

Data in, a pure engine, data out. Requests (arrival time, prompt tokens I, output tokens O) are
drawn from a seeded generator. The server (one replica) runs steps back to back; each step's time
is looked up in a `service.StepTable` built once per run (`service.step_time_table`), never
rebuilt per event. The policy, first come first served:

* at each step boundary, arrived requests take free slots, oldest first, while fewer than
  `max_batch` are in service AND the KV cache they reserve fits (a slot holds a request from its
  first prefill chunk to its last token);
* admission by memory: a request reserves the cache of its prompt plus its whole output, I + O
  tokens, when it is admitted, and frees it when it finishes; the reservations of all admitted
  requests must fit in `StepTable.kv_capacity`, the tokens of cache the HBM holds beside the
  weights on the replica's chips (`roofline.max_batch` at one token). The head of the queue waits
  until it fits (no request overtakes it). This is TensorRT-LLM's default capacity policy,
  GUARANTEED_NO_EVICT ("guarantee that a started request is never paused",
  https://nvidia.github.io/TensorRT-LLM/performance/performance-tuning-guide/useful-runtime-flags.html),
  which reserves prompt + maximum output; here the simulator knows each request's true O, so
  it reserves no more than the request will use. vLLM instead allocates cache blocks on demand
  (prompt + tokens generated so far) and, when they run out, preempts a running request and
  recomputes it later (https://docs.vllm.ai/en/v0.9.1/configuration/optimization.html,
  "Preemption"): it admits more requests at once and pays with stalls that this model omits;
* the step carries up to `chunk` prompt tokens of the requests still in prefill, oldest first
  (chunk=None: every waiting prompt whole, the unchunked server), and one decode token for each
  request already generating;
* a request's first token comes out at the end of the step that finishes its prompt (TTFT =
  that time - arrival), then one token per step until O tokens (TPOT = the mean gap after it).

Steps in which nothing changes (no prefill, no arrival that could join, no request finishing) are
advanced together, so the number of events grows with requests, not with tokens. The clock is a
SimPy environment (`simpy.Environment`): the server is one process that yields a timeout per run
of identical steps, or waits for the next arrival when idle.

Closed forms the simulation must reduce to, checked in tests/test_queueing.py:

    Little's law    mean requests in service = throughput x mean time in service
    M/G/1 (Pollaczek-Khinchine)  mean wait Wq = lambda E[S^2] / (2 (1 - rho)),  rho = lambda E[S]
        with max_batch = 1 every request is served alone; fixed lengths give a fixed service time
        S (M/D/1: Wq = rho S / (2 (1 - rho))); exponential service gives M/M/1 (Wq = rho E[S] / (1 - rho)).

Where it stops being true: every sequence's step time uses one mean context (the table's), while
admission counts each request's own I + O; reservation, not on-demand blocks: no preemption, no
KV swapping, no block rounding, activations and fragmentation ignored (HBM counted at its
nominal size), so real servers fit somewhat fewer; one replica (a fleet behind a load balancer
is several).
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
import simpy

from .errors import choice, positive, scalar_or_array, whole_number
from .serving import simulate_arrivals
from .roofline import max_batch as fitting_batch
from .service import StepTable, cost_per_million_tokens, step_time_table

__all__ = ["Requests", "requests", "saturation_rate", "memory_batch", "Plan", "max_load", "capacity_plan", "Simulation",
           "simulate", "simulate_server", "mg1_wait", "md1_wait", "mm1_wait"]

LENGTHS = ("fixed", "exponential")


# ---- closed forms ------------------------------------------------------------------------------

def mg1_wait(rate, mean_service, second_moment):
    """Mean time in queue of an M/G/1 server (Pollaczek-Khinchine): lambda E[S^2] / (2 (1 - rho)),
    rho = lambda E[S] < 1. Rate in requests/s, service moments in s and s^2."""
    lam = positive("rate", rate)
    es = positive("mean_service", mean_service)
    es2 = positive("second_moment", second_moment)
    rho = np.asarray(lam) * es
    if np.any(rho >= 1):
        raise ValueError(f"rate x mean_service must be < 1 (a stable queue), got {np.max(rho):.3g}")
    return scalar_or_array(np.asarray(lam) * es2 / (2.0 * (1.0 - rho)))


def md1_wait(rate, service_time):
    """M/D/1 mean wait: rho S / (2 (1 - rho)). At rho = 0.5 it is half a service time."""
    s = positive("service_time", service_time)
    return mg1_wait(rate, s, np.asarray(s) ** 2)


def mm1_wait(rate, mean_service):
    """M/M/1 mean wait: rho E[S] / (1 - rho) (E[S^2] = 2 E[S]^2). At rho = 0.5: one service time."""
    s = positive("mean_service", mean_service)
    return mg1_wait(rate, s, 2.0 * np.asarray(s) ** 2)


# ---- the requests --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Requests:
    """Arrival times (s, sorted) and whole prompt and output lengths (tokens), one entry each."""

    arrival: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray


def requests(n, rate, *, input_tokens, output_tokens, lengths: str = "fixed", seed: int = 0) -> Requests:
    """`n` requests arriving as a Poisson stream of `rate` requests/s (`serving.simulate_arrivals`
    over n / rate seconds). lengths="fixed": every request has the given lengths; "exponential":
    lengths drawn with those means (whole tokens, at least 1), the same seed."""
    k = int(whole_number("n", n))
    lam = float(positive("rate", rate))
    i = float(positive("input_tokens", input_tokens))
    o = float(positive("output_tokens", output_tokens))
    choice("lengths", lengths, LENGTHS)
    arrival = simulate_arrivals(k, k / lam, seed=seed)
    if lengths == "fixed":
        ii, oo = np.full(k, max(round(i), 1)), np.full(k, max(round(o), 1))
    else:
        rng = np.random.default_rng([seed, 1])
        ii = np.maximum(np.round(rng.exponential(i, k)), 1)
        oo = np.maximum(np.round(rng.exponential(o, k)), 1)
    return Requests(arrival=arrival, input_tokens=ii.astype(float), output_tokens=oo.astype(float))


def saturation_rate(table: StepTable, *, max_batch, input_tokens, output_tokens) -> float:
    """Requests/s one replica serves with every slot full: in steady state a step decodes B tokens and,
    as each request brings I prompt tokens per O output tokens, prefills p = B I / O of them, so
    mu = B / (O T(B, p)) with T looked up in `table`. Offered load rho = rate / mu.

    B = min(max_batch, floor(kv_capacity / (I + O))): the slots, or the requests whose reserved
    caches fit (`simulate`'s admission), whichever is fewer."""
    i = float(positive("input_tokens", input_tokens))
    o = float(positive("output_tokens", output_tokens))
    b = min(int(whole_number("max_batch", max_batch)), memory_batch(table, input_tokens=i, output_tokens=o))
    if b < 1:
        raise ValueError(f"not one request of {i + o:,.0f} tokens fits the {table.kv_capacity:,.0f} tokens of KV cache")
    p = b * i / o
    if p > table.granularity * (table.times.shape[1] - 1):
        raise ValueError(f"the table stops below the {p:,.0f} prefill tokens per step of a full batch")
    return b / (o * table.lookup(b, p))


def memory_batch(table: StepTable, *, input_tokens, output_tokens) -> float:
    """Requests of I prompt and O output tokens whose reserved caches fit at once:
    floor(kv_capacity / (I + O)) (inf when the table sets no limit). Llama 3.1 70B in fp8 on 2 H100,
    16,384 + 512 tokens: 545,944 / 16,896 -> 32."""
    need = float(positive("input_tokens", input_tokens)) + float(positive("output_tokens", output_tokens))
    return math.floor(table.kv_capacity / need) if math.isfinite(table.kv_capacity) else math.inf


# ---- the result ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Simulation:
    """Per request: `arrival`, `start` (first step in service), `first_token`, `finish` (s), lengths.
    Per run: `busy` (s with a step running), `occupancy` (integral of requests in service over time,
    request-seconds, summed from the steps), `steps`, `chips`, `dollars_per_chip_hour`, `kv_capacity`
    (KV tokens that fit) and `kv_peak` (the most tokens ever reserved at once)."""

    arrival: np.ndarray
    start: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    busy: float
    occupancy: float
    steps: int
    chips: float = 1.0
    dollars_per_chip_hour: float = 2.0
    kv_capacity: float = np.inf
    kv_peak: float = 0.0

    @property
    def ttft(self) -> np.ndarray:
        return self.first_token - self.arrival

    @property
    def tpot(self) -> np.ndarray:
        """Mean time between output tokens after the first, per request with O > 1."""
        many = self.output_tokens > 1
        return (self.finish[many] - self.first_token[many]) / (self.output_tokens[many] - 1.0)

    @property
    def wait(self) -> np.ndarray:
        """Time from arrival to the first step in service (the queue)."""
        return self.start - self.arrival

    @property
    def makespan(self) -> float:
        return float(self.finish.max() - self.arrival.min())

    @property
    def busy_fraction(self) -> float:
        """Share of the run during which a step was running (a server decoding 2 sequences is busy)."""
        return self.busy / self.makespan

    @property
    def tokens_per_second(self) -> float:
        """Output tokens per second of the whole run (served load)."""
        return float(self.output_tokens.sum()) / self.makespan

    @property
    def mean_in_service(self) -> float:
        """Time-average number of requests holding a slot, from the step records."""
        return self.occupancy / self.makespan

    @property
    def dollars_per_million_tokens(self) -> float:
        """Chip-hours of the whole run, idle time included, per million output tokens."""
        return float(cost_per_million_tokens(self.tokens_per_second, self.chips, dollars_per_chip_hour=self.dollars_per_chip_hour))

    def percentile(self, metric: str, q) -> float:
        """`q`-th percentile (0-100) of 'ttft', 'tpot' or 'wait', seconds."""
        choice("metric", metric, ("ttft", "tpot", "wait"))
        return scalar_or_array(np.percentile(getattr(self, metric), q))


# ---- the engine (checked inputs only) ----------------------------------------------------------------

def _serve(env, st):
    """The server: one SimPy process stepping until every request has finished."""
    arr, ii, oo, table = st["arrival"], st["input"], st["output"], st["table"]
    n, bmax, chunk = len(arr), st["max_batch"], st["chunk"]
    cap, need = st["kv_capacity"], st["need"]     # KV tokens that fit; tokens each request reserves
    queue, prefill, decoding = deque(), deque(), []   # waiting ids; [id, tokens left]; heap (finish step, id)
    nxt, step, done, used = 0, 0, 0, 0.0
    while done < n:
        now = env.now
        while nxt < n and arr[nxt] <= now:
            queue.append(nxt)
            nxt += 1
        while queue and len(prefill) + len(decoding) < bmax and used + need[queue[0]] <= cap:
            r = queue.popleft()
            used += need[r]
            st["kv_peak"] = max(st["kv_peak"], used)
            st["start"][r] = now
            prefill.append([r, ii[r]])
        if not prefill and not decoding:
            yield env.timeout(arr[nxt] - now)          # idle until the next arrival
            continue
        budget, p, ended = (np.inf if chunk is None else chunk), 0.0, []
        for item in prefill:
            if budget <= 0:
                break
            take = min(item[1], budget)
            item[1] -= take
            budget -= take
            p += take
            if item[1] <= 0:
                ended.append(item[0])
        d = len(decoding)
        dt = table.lookup(d, p)
        k = 1
        if p == 0:   # pure decode: identical steps until a request finishes or an arrival can join
            k = decoding[0][0] - step + 1
            if nxt < n and not queue and len(decoding) < bmax and used + need[nxt] <= cap:
                k = min(k, max(math.ceil((arr[nxt] - now) / dt), 1))
        yield env.timeout(k * dt)
        st["busy"] += k * dt
        st["occupancy"] += k * dt * (d + len(prefill))
        step += k
        end = env.now
        while decoding and decoding[0][0] <= step - 1:
            _, r = heapq.heappop(decoding)
            st["finish"][r] = end
            used -= need[r]
            done += 1
        for r in ended:
            prefill.popleft()
            st["first"][r] = end
            if oo[r] <= 1:
                st["finish"][r] = end
                used -= need[r]
                done += 1
            else:
                heapq.heappush(decoding, (step + int(oo[r]) - 2, r))   # O - 1 more steps
    st["steps"] = step


def simulate(reqs: Requests, table: StepTable, *, max_batch, chunk=None, chips=1,
             dollars_per_chip_hour=2.0) -> Simulation:
    """Run the server on `reqs` with step times from `table` (see the module docstring). `chunk`:
    prompt tokens per step (None: unchunked). `chips` and `dollars_per_chip_hour` price the run.
    Admission reserves I + O tokens of cache per request within `table.kv_capacity`; a request
    that could never fit is a ValueError."""
    b = int(whole_number("max_batch", max_batch))
    if b >= table.times.shape[0]:
        raise ValueError(f"max_batch must be <= the table's {table.times.shape[0] - 1}, got {b}")
    c = None if chunk is None else float(positive("chunk", chunk))
    top = table.granularity * (table.times.shape[1] - 1)
    need = (c if c is not None else b * float(np.max(reqs.input_tokens)))
    if need > top:
        raise ValueError(f"the table stops at {top:,.0f} prefill tokens per step; this run needs {need:,.0f}")
    n = len(reqs.arrival)
    need = reqs.input_tokens + reqs.output_tokens        # the reservation: prompt + output tokens of cache
    cap = float(table.kv_capacity)
    if n and float(need.max()) > cap:
        raise ValueError(f"a request of {need.max():,.0f} tokens (prompt + output) needs more KV cache than the "
                         f"{cap:,.0f} tokens that fit beside the weights: it could never be admitted")
    st = dict(arrival=reqs.arrival.tolist(), input=reqs.input_tokens.tolist(), output=reqs.output_tokens.tolist(),
              table=table, max_batch=b, chunk=c, start=np.zeros(n), first=np.zeros(n), finish=np.zeros(n),
              busy=0.0, occupancy=0.0, steps=0, kv_capacity=cap, need=need.tolist(), kv_peak=0.0)
    env = simpy.Environment(initial_time=0.0)
    env.process(_serve(env, st))
    env.run()
    if np.any(st["finish"] < st["first"]) or np.any(st["first"] <= reqs.arrival):
        raise RuntimeError("simulation invariant broken: a token before its request arrived")
    return Simulation(arrival=reqs.arrival, start=st["start"], first_token=st["first"], finish=st["finish"],
                      input_tokens=reqs.input_tokens, output_tokens=reqs.output_tokens, busy=st["busy"],
                      occupancy=st["occupancy"], steps=st["steps"], chips=float(chips),
                      dollars_per_chip_hour=float(dollars_per_chip_hour), kv_capacity=cap, kv_peak=st["kv_peak"])


def simulate_server(model, hw, rate, *, n=10_000, input_tokens, output_tokens, chips=1, max_batch, chunk=512,
                    lengths: str = "fixed", seed: int = 0, dtype: str = "bf16", kv_dtype: str = "bf16",
                    dollars_per_chip_hour=2.0, table: StepTable | None = None) -> Simulation:
    """`n` requests at `rate` requests/s on one replica of `chips` x `hw` serving `model`: the step
    table (mean context I + O / 2) and the requests built, then `simulate`. Pass `table` to reuse
    one across loads (an explorer does)."""
    reqs = requests(n, rate, input_tokens=input_tokens, output_tokens=output_tokens, lengths=lengths, seed=seed)
    if table is None:
        top = float(chunk) if chunk is not None else float(max_batch) * float(np.max(reqs.input_tokens))
        table = step_time_table(model, hw, input_tokens + output_tokens / 2.0, chips, max_batch=max_batch,
                                max_prefill_tokens=top, prompt=max(input_tokens, 1.0), dtype=dtype,
                                kv_dtype=kv_dtype)
    return simulate(reqs, table, max_batch=max_batch, chunk=chunk, chips=chips,
                    dollars_per_chip_hour=dollars_per_chip_hour)


# ---- capacity planning ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """One way to serve a load: `replicas` of `chips` chips at `max_batch`, each run at `load` (share
    of its saturation rate `saturation`, requests/s); `chips_total`; `dollars_per_million_tokens`."""

    chips: int
    max_batch: int
    saturation: float
    load: float
    replicas: int
    chips_total: int
    dollars_per_million_tokens: float

    def fleet_cost(self, rate, *, output_tokens, dollars_per_chip_hour=2.0):
        """$ per million output tokens of ceil(rate / (load x saturation)) replicas of this shape
        serving `rate` requests/s (vectorised over `rate`): whole replicas, so it saw-tooths."""
        lam = np.asarray(positive("rate", rate), dtype=float)
        k = np.ceil(lam / (self.load * self.saturation))
        return scalar_or_array(cost_per_million_tokens(lam * positive("output_tokens", output_tokens), k * self.chips,
                                                       dollars_per_chip_hour=dollars_per_chip_hour))


def max_load(table: StepTable, *, max_batch, input_tokens, output_tokens, p99_ttft, p50_tpot, chunk=512,
             n=2_000, seed=0, iters=7) -> float:
    """The highest offered load (share of `saturation_rate`) at which a replica keeps p99 TTFT <=
    `p99_ttft` and median TPOT <= `p50_tpot` (s), by bisection over seeded simulations of `n`
    requests with exponential lengths; 0 if even 2 % of saturation misses them."""
    mu = saturation_rate(table, max_batch=max_batch, input_tokens=input_tokens, output_tokens=output_tokens)

    def meets(x):
        sim = simulate(requests(n, x * mu, input_tokens=input_tokens, output_tokens=output_tokens,
                                lengths="exponential", seed=seed), table, max_batch=max_batch, chunk=chunk)
        return sim.percentile("ttft", 99) <= p99_ttft and sim.percentile("tpot", 50) <= p50_tpot

    lo, hi = 0.02, 1.0
    if not meets(lo):
        return 0.0
    for _ in range(int(iters)):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if meets(mid) else (lo, mid)
    return lo


def capacity_plan(model, hw, rate, *, input_tokens, output_tokens, p99_ttft, p50_tpot, chips=(2, 4, 8),
                  max_batch=(32, 64, 128), chunk=512, dtype: str = "fp8", kv_dtype: str = "fp8",
                  dollars_per_chip_hour=2.0, n=2_000, seed=0) -> tuple[Plan, list]:
    """The cheapest way to serve `rate` requests/s of `input_tokens` in and `output_tokens` out (means,
    exponential lengths) with p99 TTFT <= `p99_ttft` and median TPOT <= `p50_tpot`: for each chip
    count and batch limit, `max_load` per replica, replicas = ceil(rate / (load x saturation)),
    cost = `service.cost_per_million_tokens` of the whole fleet at the served token rate.
    Returns (the cheapest plan, every feasible plan)."""
    lam = float(positive("rate", rate))
    plans = []
    for c in chips:
        fits = fitting_batch(model, hw, input_tokens + output_tokens / 2.0, c, dtype=dtype, kv_dtype=kv_dtype)
        for b in max_batch:
            if b > fits:       # the caches of b sequences at the mean context must fit beside the weights
                continue
            tab = step_time_table(model, hw, input_tokens + output_tokens / 2.0, c, max_batch=b,
                                  max_prefill_tokens=max(chunk, b * input_tokens / output_tokens),
                                  prompt=input_tokens, dtype=dtype, kv_dtype=kv_dtype)
            mu = saturation_rate(tab, max_batch=b, input_tokens=input_tokens, output_tokens=output_tokens)
            x = max_load(tab, max_batch=b, input_tokens=input_tokens, output_tokens=output_tokens,
                         p99_ttft=p99_ttft, p50_tpot=p50_tpot, chunk=chunk, n=n, seed=seed)
            if x <= 0:
                continue
            k = math.ceil(lam / (x * mu))
            shape = Plan(chips=int(c), max_batch=int(b), saturation=mu, load=x, replicas=k, chips_total=k * int(c),
                         dollars_per_million_tokens=math.nan)
            cost = float(shape.fleet_cost(lam, output_tokens=output_tokens, dollars_per_chip_hour=dollars_per_chip_hour))
            plans.append(replace(shape, dollars_per_million_tokens=cost))
    if not plans:
        raise ValueError("no configuration meets the targets: relax p99_ttft or p50_tpot, or add chips")
    return min(plans, key=lambda p: (p.dollars_per_million_tokens, p.chips_total)), plans
