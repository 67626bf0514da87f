"""The serving estimate's error report and its speed.

    .venv/bin/python benchmarks/estimate.py

Prints, for every published result (rooflib/data/published), the bound, the unfitted prediction and
the measurement (output tokens/s of the measured chips) with predicted/measured and measured/bound;
then the error summary of the unfitted estimate (the figures chapter 8 prints and
tests/test_published.py pins), the same without the p99 and first-token-queue physics of random
arrivals (the estimate before it), per scenario, of one engine efficiency fitted on the even rows
and tested on the odd rows, and the time of a 1,000-point batch sweep.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rooflib import published  # noqa: E402
from rooflib.estimate import serving_estimate  # noqa: E402


def _summary(name, s):
    print(f"{name:38s} rows {s['rows']:3d}  median |p/m-1| {s['median_error']:6.1%}  worst {s['worst_fold']:.2f}x  "
          f"within 1.25x {s['within_1_25x']:5.1%}  within 2x {s['within_2x']:5.1%}  above bound {len(s['above_bound'])}")


def main(rows: bool = True) -> None:
    """Print the error report (every row unless `rows` is False), its summaries and the sweep time."""
    rep = published.error_report()
    if rows:
        print(f"{'result':52s} {'bound':>11s} {'predicted':>11s} {'measured':>11s} {'p/m':>6s} {'m/b':>6s}")
        for r in rep:
            print(f"{r.key:52s} {r.bound:11,.0f} {r.predicted:11,.0f} {r.measured:11,.0f} "
                  f"{r.predicted_ratio:6.2f} {r.bound_ratio:6.2f}")
    _summary("unfitted, all rows", published.error_summary(rep))
    _summary("unfitted, mean TPOT only (before)", published.error_summary(published.error_report(percentiles=False)))
    for scenario in ("offline", "server", "interactive", "concurrency", "production"):
        keys = {r.key for r in published.results() if r.scenario == scenario}
        _summary(f"unfitted, {scenario} rows", published.error_summary([r for r in rep if r.key in keys]))
    fit, test = published.halves()
    eta = published.calibrate(fit)
    print(f"engine efficiency fitted on the even rows: {eta:.3f}")
    _summary("fitted, held-out odd rows", published.error_summary(published.error_report(test, efficiency=eta)))
    _summary("fitted, fit rows", published.error_summary(published.error_report(fit, efficiency=eta)))
    b = np.linspace(1, 1000, 1000)
    kw = dict(chips=8, input_tokens=222.33, output_tokens=294.45, dtype="fp8", kv_dtype="fp8", tensor_parallel=2)
    serving_estimate("Llama 2 70B", "H100", batch=b, **kw)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        serving_estimate("Llama 2 70B", "H100", batch=b, **kw)
        times.append(time.perf_counter() - t)
    print(f"1,000-point batch sweep: median {np.median(times) * 1e3:.2f} ms (target <= 1,000 ms)")


if __name__ == "__main__":
    main()
