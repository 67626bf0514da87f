"""Achievable rates: what real kernels get out of a chip, as a fraction of its peak.

Peak FLOP/s and bandwidth are what a chip cannot exceed; no real kernel reaches them. The best
dense matmuls found by a brute-force search over shapes reach 80% of an H100's bf16 peak, 78% of
a B200's and 51% of an MI300X's; streaming copies reach about 90% of HBM bandwidth; NCCL's
all-reduce reaches about 82% of NVLink's. `achievable(hw)` returns the chip with those rates
instead of its peak ones, as a new `Hardware` that every function accepts like any other chip:
bounds use peak rates, predictions use achievable ones. Results keep knowing the peak
(`Hardware.peak`), so MFU and MBU stay fractions of PEAK.

Because compute and memory are derated by different fractions, the crossover batch moves:
B* = (eta_F F) / (eta_W W) x b_w / 2 x sparsity = B*_peak x eta_F / eta_W, SMALLER than the
peak B* on every chip measured here (eta_F < eta_W): real steps turn compute-bound sooner.
"""
from __future__ import annotations

from dataclasses import replace

from .errors import fraction, normalise
from .hardware import Hardware, hardware as lookup_hardware

#: Best measured dense matmul TFLOP/s (torch.matmul, mean of 100 iterations, best shape of a brute-
#: force search): Stas Bekman's "Machine Learning Engineering Open Book", "Maximum Achievable
#: Matmul FLOPS comparison table". H100 bf16 794.5 of 989 (80.3%), B200 1745.0 of 2250 (77.6%),
#: MI300X 668.4 of 1300 (51.4%: ROCm 6.2 with tunable ops; the author notes ROCm 6.1 gave 450).
#: H200: "H200 is the same" as H100 in bf16. The author warns these are "a rough estimation".
MATMUL_SOURCE = ("https://github.com/stas00/ml-engineering/blob/744d01e18b79512572f64a6bbd8b5f4a725203a7/"
                 "compute/accelerator/README.md#maximum-achievable-matmul-flops-comparison-table")
MEASURED_MATMUL_TFLOPS = {
    "H100 SXM": {"bf16": 794.5, "fp8": 1402.6},
    "H200 SXM": {"bf16": 794.5, "fp8": 1453.4},
    "A100 SXM 80GB": {"bf16": 271.2},
    "B200": {"bf16": 1745.0, "fp8": 3432.5},
    "GB200": {"bf16": 1822.0},
    "MI300X": {"bf16": 668.4},
    "MI325X": {"bf16": 784.9},
    "MI355X": {"bf16": 1565.0},
}

#: HBM: one measured point, H100 in scaling-book's gpus.md (Quiz 1, Q7): an fp32 vector add of
#: 2^30 elements has "a roofline of about 3.84ms, and we see 4.1ms": 3.84 / 4.1 = 0.94 of peak.
#: We use 0.90 for every chip, rounded down from that one measurement: an ASSUMPTION, not a
#: measurement of each chip.
HBM_SOURCE = "https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md"
HBM_FRACTION = 0.90

#: Scale-up links: NCCL's all-reduce bus bandwidth against the link's one-way peak (nccl-tests
#: defines bus bandwidth so that it compares directly with the link rate, doc/PERFORMANCE.md).
#: 8 x H100/H200 over NVLink 4 with the ring algorithm: 367.2 GB/s of 450, 0.82 (ml-engineering,
#: network/README.md); A100: 234.89 GB/s of 300, 0.78. NVLink SHARP reaches ~480 GB/s "bus
#: bandwidth" because the switch does the reduction; we keep the ring figure.
LINK_SOURCE = ("https://github.com/stas00/ml-engineering/blob/744d01e18b79512572f64a6bbd8b5f4a725203a7/network/README.md ; "
               "https://github.com/NVIDIA/nccl-tests/blob/03a204a1f38aaea17f1a777885bb2d9600ba7eff/doc/PERFORMANCE.md")
LINK_FRACTION = 0.82


def achievable(hw, *, matmul: dict | float | None = None, hbm: float | None = None,
               link: float | None = None) -> Hardware:
    """`hw` with achievable instead of peak rates: matmul FLOP/s per dtype, HBM and link bandwidth.

    Measured matmul rates come from `MEASURED_MATMUL_TFLOPS`; a dtype with no measurement is left
    out (using it raises an error that says so), unless `matmul` gives a fraction for it (one
    number for every dtype, or a dict {'fp4': 0.7}). `hbm` and `link` are fractions of peak
    (defaults `HBM_FRACTION`, `LINK_FRACTION`). H100: 794.5 TFLOP/s bf16, 3.02 TB/s, 369 GB/s.
    """
    h = lookup_hardware(hw)
    if h.peak is not None:
        raise ValueError(f"{h.name} is already derated; pass the peak chip")
    base = h.name if h.chips == 1 else h.name.rsplit(" x", 1)[0]
    measured = {k: v * 1e12 * h.chips for k, v in MEASURED_MATMUL_TFLOPS.get(base, {}).items()}
    if isinstance(matmul, dict):
        overrides = {normalise(k): fraction(f"matmul[{k!r}]", v) for k, v in matmul.items()}
    elif matmul is not None:
        overrides = {k: fraction("matmul", matmul) for k in h.flops}
    else:
        overrides = {}
    flops = {k: v for k, v in measured.items() if k in h.flops}
    flops.update({k: h.flops[k] * f for k, f in overrides.items() if k in h.flops})
    if not flops:
        raise ValueError(f"no measured matmul rate for {h.name}: pass matmul= (a fraction of peak, "
                         f"e.g. matmul=0.7)")
    eta_w = fraction("hbm", HBM_FRACTION if hbm is None else hbm)
    eta_l = fraction("link", LINK_FRACTION if link is None else link)
    return replace(h, name=f"{h.name} (achievable)", flops=flops, hbm_bandwidth=h.hbm_bandwidth * eta_w,
                   scaleup_bandwidth=h.scaleup_bandwidth * eta_l, aliases=(), peak=h,
                   note=f"{h.name} at achievable rates: matmul {', '.join(f'{k} {v / h.flops[k]:.1%}' for k, v in flops.items())} "
                        f"of peak, HBM {eta_w:.0%}, links {eta_l:.0%}. {h.note}")


def peak_fractions(h: Hardware, math: str) -> tuple[float, float]:
    """(FLOP/s, HBM bandwidth) of `h` as fractions of its peak chip's: (1, 1) for a peak chip."""
    if h.peak is None:
        return 1.0, 1.0
    return h.flops_for(math) / h.peak.flops_for(math), h.hbm_bandwidth / h.peak.hbm_bandwidth
