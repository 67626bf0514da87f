"""Measure your own machine's roofline with numpy: matmul FLOP/s, copy bandwidth, and the knee.

`time_batched_matmul` times W @ X for a d x d weight and a growing batch: flat while reading W
dominates, then linear in the batch. `fit_roofline` reads the two pieces, and the critical
intensity at the knee, off that curve. Chapter 8 runs these on the reader's CPU; results vary
by machine, so the notebook prints them without asserting values.
"""
from __future__ import annotations

import contextlib
import ctypes
import statistics
import time
from dataclasses import dataclass

import numpy as np

@contextlib.contextmanager
def single_thread_blas():
    """Run numpy's BLAS on one thread, where the library allows it (OpenBLAS); otherwise do nothing.

    One thread makes the measurements steadier on a shared machine, and matches numpy's copy,
    which is single-threaded anyway: you measure ONE core's roofline. Yields True if pinned.
    """
    setter = getter = None
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in sorted(paths):
            lib = ctypes.CDLL(path)
            for s, g in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                         ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                         ("openblas_set_num_threads", "openblas_get_num_threads")):
                if hasattr(lib, s) and hasattr(lib, g):
                    setter, getter = getattr(lib, s), getattr(lib, g)
                    break
            if setter:
                break
    except (OSError, AttributeError):
        setter = None
    if setter is None:
        yield False
        return
    before = getter()
    setter(1)
    try:
        yield True
    finally:
        setter(before)


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of fn() over `repeats` runs, after `warmup` unrecorded runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_matmul_flops(n: int = 1024, repeats: int = 5, dtype=np.float32) -> float:
    """Achieved FLOP/s of an n x n by n x n product: 2 n^3 / median time."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    return 2.0 * n**3 / median_time(lambda: np.matmul(a, b, out=out), repeats)


def measure_copy_bandwidth(nbytes: float = 2**27, repeats: int = 5) -> float:
    """Achieved memory bandwidth of a large array copy, counting bytes read + bytes written.

    Arrays of 128 MiB by default, far larger than any CPU cache, so the copy streams from DRAM.
    """
    n = int(nbytes) // 4
    src = np.ones(n, dtype=np.float32)
    dst = np.empty_like(src)
    return 2.0 * src.nbytes / median_time(lambda: np.copyto(dst, src), repeats)


def time_batched_matmul(d: int = 4096, batches=(1, 2, 4, 8, 16, 32, 64, 128), repeats: int = 5,
                        dtype=np.float32) -> np.ndarray:
    """Median seconds of X @ W for a d x d weight W and a batch of n rows X (n x d), per n.

    W (64 MiB in float32 at d = 4096) is read once per product whatever n is; the FLOPs,
    2 d^2 n, grow with n. Small n: the time is the weight read (flat). Large n: the arithmetic
    (linear). The two meet at n* = 2 x (bytes per element / 2) x critical intensity.
    """
    rng = np.random.default_rng(1)
    w = rng.standard_normal((d, d)).astype(dtype)
    out = []
    for n in batches:
        x = rng.standard_normal((int(n), d)).astype(dtype)
        y = np.empty((int(n), d), dtype=dtype)
        out.append(median_time(lambda: np.matmul(x, w, out=y), repeats))
    return np.asarray(out)


@dataclass(frozen=True)
class RooflineFit:
    """t(n) ~ max(flat, slope x n): the two pieces of a measured roofline."""

    flat: float      # seconds: the weight-read floor
    slope: float     # seconds per batch row: the arithmetic
    residual: float  # rms of log(measured / fitted)

    @property
    def knee(self) -> float:
        """The batch where the pieces meet: flat / slope."""
        return self.flat / self.slope

    def predict(self, n):
        return np.maximum(self.flat, self.slope * np.asarray(n, dtype=float))

    def intensity(self, d: int, bytes_per_element: float = 4.0) -> float:
        """Critical intensity (FLOP/byte) implied by the knee of a d x d product:
        2 d^2 n* FLOPs over d^2 x bytes_per_element bytes of weights = 2 n* / bytes_per_element."""
        return 2.0 * self.knee / bytes_per_element


def fit_roofline(batches, times, method: str = "envelope") -> RooflineFit:
    """Fit t = max(a, b n) to measured times of a batched product.

    method "envelope" (default): the roofline as the LOWER envelope of the measurements, the way
    the roofline bounds real kernels: a = the fastest time measured (reading the weights once),
    b = the smallest time per batch row (the best arithmetic rate reached). Every measurement
    lies on or above the fitted line.
    method "least_squares": least squares on log t. For each split j, the first j points set a
    (geometric mean of their times) and the rest set b (geometric mean of t / n); the split with
    the smallest error wins (with j = len all points are 'flat' and b comes from the last point).
    Either way a and b are positive and finite.
    """
    n = np.asarray(batches, dtype=float)
    t = np.asarray(times, dtype=float)
    if n.shape != t.shape or n.ndim != 1 or n.size < 2:
        raise ValueError("batches and times must be 1-d, of the same length, at least 2")
    if np.any(n <= 0) or np.any(t <= 0) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(n)):
        raise ValueError("batches and times must be positive and finite")
    order = np.argsort(n)
    n, t = n[order], t[order]
    lt = np.log(t)

    def residual(a, b):
        return float(np.sqrt(np.mean((lt - np.log(np.maximum(a, b * n))) ** 2)))

    if method == "envelope":
        a, b = float(t.min()), float((t / n).min())
        return RooflineFit(a, b, residual(a, b))
    if method != "least_squares":
        raise ValueError(f"method must be 'envelope' or 'least_squares', got {method!r}")
    best = None
    for j in range(1, n.size + 1):
        a = float(np.exp(lt[:j].mean()))
        b = float(np.exp((lt[j:] - np.log(n[j:])).mean())) if j < n.size else float(t[-1] / n[-1])
        err = residual(a, b)
        if best is None or err < best[2]:
            best = (a, b, err)
    return RooflineFit(*best)
