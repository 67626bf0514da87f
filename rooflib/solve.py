"""One vectorised bisection, for every "which x gives this y?" question without a closed form.

The step time, the memory a batch needs and the cost of a fast mode all grow with the batch, so
"the largest batch whose step takes at most t" is a search for where an increasing function
crosses a target. Bisection on a log scale finds it for a whole array of targets at once; 60
halvings of a 12-decade interval leave a relative error below 1e-15.
"""
from __future__ import annotations

import numpy as np


def largest_below(f, target, lo: float = 1e-6, hi: float = 1e9, iters: int = 60):
    """Largest x in [lo, hi] with f(x) <= target, for f increasing in x (vectorised over target).

    Returns 0 where even f(lo) exceeds the target and `hi` where f(hi) does not reach it. `f`
    takes an array of x shaped like `target` and returns an array of the same shape.
    """
    t = np.asarray(target, dtype=float)
    a, b = np.full(t.shape, np.log(lo)), np.full(t.shape, np.log(hi))
    below_lo = np.asarray(f(np.exp(a))) > t
    above_hi = np.asarray(f(np.exp(b))) <= t
    for _ in range(iters):
        mid = (a + b) / 2
        ok = np.asarray(f(np.exp(mid))) <= t
        a, b = np.where(ok, mid, a), np.where(ok, b, mid)
    out = np.where(below_lo, 0.0, np.where(above_hi, hi, np.exp(a)))
    return out.item() if out.ndim == 0 else out
