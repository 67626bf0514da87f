"""Continuous batching as a train schedule: how long a request waits for its first token.

A server running steps of length T back to back is like a train leaving every T seconds: a new
request boards the next step that starts after it arrives (waiting up to T), and its first token
comes out when that step ends (T later). So the first token arrives between T and 2T after the
request, 1.5 T on average for arrivals spread evenly in time. (Prefill of a long prompt adds its
own time; this module models the decode schedule only.)
"""
from __future__ import annotations

import numpy as np

from .errors import non_negative, positive, scalar_or_array


def boarding_wait(arrival_times, step_time):
    """Seconds from arrival to the start of the next step (steps start at 0, T, 2T, ...)."""
    t = non_negative("arrival_times", arrival_times)
    T = positive("step_time", step_time)
    return scalar_or_array(np.ceil(t / T) * T - t)


def first_token_latency(arrival_times, step_time):
    """Seconds from arrival to the first generated token: boarding wait + one step. At most 2T."""
    T = positive("step_time", step_time)
    return scalar_or_array(np.asarray(boarding_wait(arrival_times, step_time)) + T)


def simulate_arrivals(n: int, horizon: float, *, seed: int = 0) -> np.ndarray:
    """`n` request arrival times spread uniformly over [0, horizon) seconds (a seeded Poisson stream)."""
    if int(n) < 1:
        raise ValueError(f"n must be >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0.0, float(positive("horizon", horizon)), int(n)))
