"""Published serving results: dated, sourced measurements with everything an estimate needs.

`results()` reads `data/published/results.csv` (its columns, units and sources are documented in
`data/published/README.md`) into frozen `Result`s: MLPerf Inference v4.1 and v5.1 closed
datacenter LLM results, NVIDIA NIM low-concurrency points, DeepSeek's production decode figures
and SGLang's expert-parallel deployment. `Result.estimate()` runs `estimate.serving_estimate` on a
row's setup; `error_report()` compares every row with its bound and its prediction.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .estimate import ServingEstimate, engine_step_overhead, serving_estimate

DATA = Path(__file__).parent / "data" / "published" / "results.csv"

_FLOATS = ("input_tokens", "output_tokens", "measured")
_INTS = ("chips", "nodes", "measured_chips")
_OPTIONAL = {"decode_context": float, "max_tpot": float, "max_ttft": float, "batch": float, "tensor_parallel": int}

#: How far a 99th percentile of TPOT sits above its mean in an MLPerf Server run: NVIDIA's v4.1
#: 8 x H100 Llama 2 70B Server log, mean 154,960,329 ns, p99 175,354,317 ns (ratio 1.132), under a
#: 200 ms limit. One measured run, applied to every Server and Interactive row: an assumption.
MLPERF_TPOT_MEAN_NS = 154_960_329
MLPERF_TPOT_P99_NS = 175_354_317
MLPERF_TAIL_RATIO = MLPERF_TPOT_P99_NS / MLPERF_TPOT_MEAN_NS
#: The same log's throughput (tokens/s of 8 GPUs) and first-token latencies (mean, p99), ns.
MLPERF_LOG_TOKENS_PER_SECOND = 21_605.79
MLPERF_TTFT_MEAN_NS, MLPERF_TTFT_P99_NS = 275_926_440, 461_278_089
MLPERF_LOG_SOURCE = ("https://github.com/mlcommons/inference_results_v4.1/blob/a2f5d66d17e8f75c02fd74dfe810ecca6a046696/"
                     "closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx8_TRT/llama2-70b-99.9/Server/performance/run_1/"
                     "mlperf_log_summary.txt")
#: Scenarios whose limits are 99th percentiles over requests arriving at random (MLPerf Server rules).
LATENCY_SCENARIOS = ("server", "interactive")


@dataclass(frozen=True)
class Result:
    """One published result (see data/published/README.md for every field and its unit).

    measured: output tokens/s of `measured_chips` chips (all of `chips`, or one node of them).
    max_tpot: the latency limit in seconds the result was measured under (None: none); max_ttft:
    the p99 limit on the first token under random arrivals, seconds (MLPerf Server/Interactive);
    batch: fixed concurrency per replica (None: the engine's choice); decode_context: mean context
    per generated token (None: input + (output - 1) / 2).
    """

    key: str
    published: str
    source_kind: str
    submitter: str
    system: str
    result_id: str
    model: str
    model_as_published: str
    chip: str
    chip_as_published: str
    chips: int
    nodes: int
    dtype: str
    kv_dtype: str
    engine: str
    engine_version: str
    software: str
    scenario: str
    input_tokens: float
    output_tokens: float
    decode_context: float | None
    max_tpot: float | None
    max_ttft: float | None
    batch: float | None
    tensor_parallel: int | None
    measured: float
    measured_chips: int
    metric: str
    source: str
    licence: str
    note: str

    def estimate(self, **overrides) -> ServingEstimate:
        """`serving_estimate` for this row's setup (keyword `overrides` replace its arguments)."""
        percentile = self.scenario in LATENCY_SCENARIOS
        args = dict(chips=self.chips, input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                    dtype=self.dtype, kv_dtype=self.kv_dtype, batch=self.batch, decode_context=self.decode_context,
                    tensor_parallel=self.tensor_parallel, max_time_per_output_token=self.max_tpot,
                    max_time_to_first_token=self.max_ttft, tail_ratio=MLPERF_TAIL_RATIO if percentile else 1.0,
                    step_overhead=engine_step_overhead(self.engine, self.engine_version))
        args.update(overrides)
        return serving_estimate(self.model, self.chip, **args)


def _parse(row: dict) -> Result:
    out = dict(row)
    for k in _FLOATS:
        out[k] = float(row[k])
    for k in _INTS:
        out[k] = int(row[k])
    for k, kind in _OPTIONAL.items():
        out[k] = kind(float(row[k])) if row[k] != "" else None
    return Result(**out)


@lru_cache(maxsize=1)
def results() -> tuple[Result, ...]:
    """Every published result in the dataset, in file order (a tuple of frozen `Result`s)."""
    with open(DATA, newline="", encoding="utf-8") as f:
        return tuple(_parse(r) for r in csv.DictReader(f))


def result(key: str) -> Result:
    """The result called `key`; LookupError listing a few keys if there is none."""
    for r in results():
        if r.key == key:
            return r
    raise LookupError(f"unknown result {key!r}; e.g. {', '.join(r.key for r in results()[:3])}")


@dataclass(frozen=True)
class ReportRow:
    """One row of the error report: output tokens/s of the measured chips."""

    key: str
    measured: float
    predicted: float
    bound: float
    batch: float
    tensor_parallel: int

    @property
    def predicted_ratio(self) -> float:
        """predicted / measured (1 is a perfect prediction)."""
        return self.predicted / self.measured

    @property
    def bound_ratio(self) -> float:
        """measured / bound (<= 1 for every physically possible measurement)."""
        return self.measured / self.bound


def error_report(rows=None, *, efficiency: float = 1.0, percentiles: bool = True) -> tuple[ReportRow, ...]:
    """Bound, prediction and measurement for every row (default: the whole dataset).

    efficiency is passed to `serving_estimate` (1: the unfitted prediction). percentiles=False
    drops what random arrivals add (the p99 / mean TPOT ratio and the first-token queue): the
    latency limit is then met by the mean TPOT, as in the first version of the estimate."""
    out = []
    for r in results() if rows is None else rows:
        e = r.estimate(efficiency=efficiency) if percentiles else \
            r.estimate(efficiency=efficiency, tail_ratio=1.0, max_time_to_first_token=None)
        scale = r.measured_chips / r.chips
        out.append(ReportRow(key=r.key, measured=r.measured, predicted=float(e.tokens_per_second) * scale,
                             bound=e.bound_tokens_per_second * scale, batch=float(e.batch),
                             tensor_parallel=e.tensor_parallel))
    return tuple(out)


def error_summary(report=None) -> dict:
    """median and worst |predicted / measured - 1|, the share within 1.25x and 2x, rows above bound."""
    rep = error_report() if report is None else report
    ratio = np.array([r.predicted_ratio for r in rep])
    err = np.abs(ratio - 1.0)
    fold = np.maximum(ratio, 1.0 / ratio)
    return {"rows": len(rep), "median_error": float(np.median(err)), "worst_error": float(err.max()),
            "worst_fold": float(fold.max()), "within_1_25x": float(np.mean(fold <= 1.25)),
            "within_2x": float(np.mean(fold <= 2.0)), "median_ratio": float(np.median(ratio)),
            "above_bound": [r.key for r in rep if r.measured > r.bound]}


def halves() -> tuple[tuple[Result, ...], tuple[Result, ...]]:
    """(fit half, test half): rows at even and at odd positions of the file, fixed before any fit."""
    rows = results()
    return rows[0::2], rows[1::2]


def calibrate(rows) -> float:
    """The one engine efficiency (0.2 to 1) that makes the median predicted / measured of `rows`
    equal 1, by bisection on log ratio (prediction falls as efficiency falls). Fit on one half only."""
    lo, hi = 0.2, 1.0
    for _ in range(14):
        mid = (lo * hi) ** 0.5
        med = np.median([x.predicted_ratio for x in error_report(rows, efficiency=mid)])
        lo, hi = (mid, hi) if med < 1.0 else (lo, mid)
    return float((lo * hi) ** 0.5)
