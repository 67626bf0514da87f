"""Vectorised bisection, for every "which x gives this y?" question without a closed form.

The step time, the memory a batch needs and the cost of a fast mode all grow with the batch, so
"the largest batch whose step takes at most t" is a search for where an increasing function
crosses a target. Bisection on a log scale finds it for a whole array of targets at once; 60
halvings of a 12-decade interval leave a relative error below 1e-15 (`largest_below`).
Where a derivative must vanish instead (the cheapest model size over a lifetime), `bisect`
finds the zero of an increasing function inside a bracket. Both are pure: they take checked
arrays and call the caller's kernel, never a validating public function in the loop.
"""
from __future__ import annotations

import numpy as np


def _x(v):
    # One target: hand f a Python float, so rooflib's scalar fast paths (a few us per step) apply.
    return float(v) if np.ndim(v) == 0 else v


def largest_below(f, target, lo: float = 1e-6, hi: float = 1e9, iters: int = 60):
    """Largest x in [lo, hi] with f(x) <= target, for f increasing in x (vectorised over target).

    Returns 0 where even f(lo) exceeds the target and `hi` where f(hi) does not reach it. `f`
    takes an array of x shaped like `target` and returns an array of the same shape.
    """
    t = np.asarray(target, dtype=float)
    a, b = np.full(t.shape, np.log(lo)), np.full(t.shape, np.log(hi))
    below_lo = np.asarray(f(_x(np.exp(a)))) > t
    above_hi = np.asarray(f(_x(np.exp(b)))) <= t
    for _ in range(iters):
        mid = (a + b) / 2
        ok = np.asarray(f(_x(np.exp(mid)))) <= t
        a, b = np.where(ok, mid, a), np.where(ok, b, mid)
    out = np.where(below_lo, 0.0, np.where(above_hi, hi, np.exp(a)))
    return out.item() if out.ndim == 0 else out


def bisect(f, lo, hi, iters: int = 64, *, end: str = "middle"):
    """The x in [lo, hi] where an increasing f crosses zero, by `iters` halvings (vectorised).

    `lo` and `hi` are arrays (or numbers) bracketing the root, f(lo) < 0 <= f(hi), elementwise;
    `f` takes an array of x shaped like them. Each halving keeps the half whose ends differ in
    sign. end="middle" returns the midpoint of the last bracket, within (hi - lo) / 2^(iters + 1)
    of the root; end="upper" its upper end, the smallest x found with f(x) >= 0 (for "the first
    batch at which ..."). Pass log-scale bounds for a root that may span decades.
    """
    a, b = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    for _ in range(iters):
        mid = 0.5 * (a + b)
        below = np.asarray(f(_x(mid))) < 0
        a, b = np.where(below, mid, a), np.where(below, b, mid)
    out = b if end == "upper" else 0.5 * (a + b)
    return out.item() if out.ndim == 0 else out
