"""Speed measurements (not tests): `make bench`.

Targets: a 1000 x 1000 batch x context sweep of decode_step in <= 100 ms, one scalar decode_step
call (validation included) <= 30 us median, 10,000 simulated requests (rooflib.queueing) <= 2 s,
an explorer update (recompute + redraw to PNG) <= 50 ms median, on 2 cores; then the serving
estimate's error against published results and the time of a 1,000-point batch sweep of it
(<= 1 s). Prints medians and says which targets are met; exits 0 either way (speed is reported,
never asserted in `make test`).
"""
from __future__ import annotations

import importlib
import pkgutil
import statistics
import sys
import time

import numpy as np

import rooflib as rl
import rooflib.explore as explore_pkg
from rooflib.reality import median_time


def bench_sweep() -> float:
    m, h = rl.model("Llama 3.1 70B"), rl.hardware("H100")
    batch = np.arange(1, 1001, dtype=float)[:, None]
    context = np.linspace(0, 100_000, 1000)[None, :]

    def sweep():
        step = rl.decode_step(m, h, batch, context, chips=8)
        return step.time, step.bound

    return median_time(sweep, repeats=7, warmup=2)


def bench_scalar() -> float:
    """Median seconds of ONE scalar decode_step call by name (lookups and validation included)."""
    def thousand():
        for _ in range(1000):
            rl.decode_step("Llama 3.1 70B", "H100", 64, 4096, chips=8).time
    return median_time(thousand, repeats=7, warmup=1) / 1000


def bench_explorers() -> dict[str, float]:
    results = {}
    for info in pkgutil.iter_modules(explore_pkg.__path__):
        module = importlib.import_module(f"rooflib.explore.{info.name}")
        # A module times one explorer (BENCH) or several (BENCHES: name -> bench).
        benches = getattr(module, "BENCHES", None) or (
            {info.name: module.BENCH} if getattr(module, "BENCH", None) else {})
        for name, bench in benches.items():
            explorer = bench["factory"]()
            updates = bench["updates"]
            explorer.update(**updates[0])  # warm caches (fonts, first render)
            times = []
            for _ in range(3):
                for values in updates:
                    t0 = time.perf_counter()
                    explorer.update(**values)
                    times.append(time.perf_counter() - t0)
            results[name] = statistics.median(times)
    return results


def bench_simulator() -> float:
    """Median seconds to simulate 10,000 requests on one replica (step table and requests built
    inside): Llama 3.1 70B fp8 on 8 H100, 1,024 + 256 tokens (exponential), 128 slots, memory admission."""
    from rooflib import queueing

    def run():
        queueing.simulate_server("Llama 3.1 70B", "H100 SXM", 20.0, n=10_000, input_tokens=1024, output_tokens=256,
                                 chips=8, max_batch=128, dtype="fp8", kv_dtype="fp8", lengths="exponential")
    return median_time(run, repeats=5, warmup=1)


def main() -> int:
    sweep = bench_sweep()
    print(f"{'decode_step 1000 x 1000 sweep (time + bound)':60s} {sweep * 1e3:7.1f} ms   target <= 100 ms  "
          f"{'OK' if sweep <= 0.1 else 'SLOWER THAN TARGET'}")
    for overlap in ("none", "full"):
        t = median_time(lambda: rl.decode_step("Llama 3.1 70B", "H100", np.arange(1, 1001.0)[:, None],
                                               np.linspace(0, 100_000, 1000)[None, :], chips=8,
                                               overlap=overlap).time, repeats=5, warmup=1)
        print(f"{f'decode_step 1000 x 1000 sweep, overlap={overlap!r} (time only)':60s} {t * 1e3:7.1f} ms")
    scalar = bench_scalar()
    print(f"{'decode_step, one scalar call by name (median)':60s} {scalar * 1e6:7.1f} us   target <=  30 us  "
          f"{'OK' if scalar <= 30e-6 else 'SLOWER THAN TARGET'}")
    sim = bench_simulator()
    print(f"{'queueing: 10,000 requests simulated (median)':60s} {sim * 1e3:7.1f} ms   target <= 2000 ms "
          f"{'OK' if sim <= 2.0 else 'SLOWER THAN TARGET'}")
    for name, t in bench_explorers().items():
        label = f"explorer {name!r}, update (recompute + redraw), median"
        print(f"{label:60s} {t * 1e3:7.1f} ms   target <=  50 ms  {'OK' if t <= 0.05 else 'SLOWER THAN TARGET'}")
    print("\nserving estimate against published results (benchmarks/estimate.py prints every row):")
    import estimate  # benchmarks/estimate.py, beside this script
    estimate.main(rows=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
