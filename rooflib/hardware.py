"""Accelerators: the four numbers that set the roofline, with the source of each.

A chip is described by what it can compute (dense FLOP/s per number format), how fast it can read
its own memory (HBM bandwidth), how much memory it has (HBM capacity), and how fast it can talk to
the other chips of its scale-up domain (NVLink, Infinity Fabric, ICI). Conventions:

* FLOP/s are DENSE. Vendor pages often headline the 2:4-structured-sparsity figure, which is 2x.
* Bandwidths are decimal bytes/s (1 TB/s = 1e12 B/s). Capacities are bytes; where the vendor states
  GiB (TPU v5p, Ironwood) we convert with 2**30 and say so in the note.
* `scaleup_bandwidth` is per chip, ONE direction. Vendors usually quote the bidirectional sum.
* `hbm_capacity` is NOMINAL, in the vendor's decimal gigabytes (80 GB = 80e9 B). What software can
  use differs both ways: an H100 "80 GB" holds 80 GiB of HBM3 and reports 81,559 MiB (85.5e9 B),
  of which the engine reserves some for activations, the CUDA context and fragmentation. The
  nominal figure is what price sheets and papers quote; capacity results are therefore estimates.
* `scaleup_latency` is the fixed cost of one step of a collective over the scale-up links
  (NCCL's cost model; see `collectives`). Peak rates are the default everywhere; `achievable`
  gives a chip derated to measured rates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .errors import UnknownNameError, normalise, unknown_name, whole_number
from .units import GB, GiB, TB

#: ICI: "latency per hop ... typically around 1us" (scaling-book sharding.md); we use it as the
#: per-step latency of a ring collective on every TPU.
_SCALING_BOOK_SHARDING = "https://github.com/jax-ml/scaling-book/blob/0819a7d8c55ddc113f5cba0285a5f97380cac1e3/sharding.md"
_SCALING_BOOK = ("https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md")
_LOCKWOOD_H100 = "https://glennklockwood.com/garden/processors/h100"
_LOCKWOOD_B200 = "https://glennklockwood.com/garden/processors/B200"
_VERDA_GB300 = "https://verda.com/blog/gb300-nvl72-architecture"
_ROCM_MI300 = "https://rocm.docs.amd.com/en/latest/conceptual/gpu-arch/mi300.html"
_ROCM_SPECS = "https://rocm.docs.amd.com/en/7.13.0-preview/reference/gpu-specs.html"
_MLPERF_41 = "https://github.com/mlcommons/inference_results_v4.1"
_MLPERF_51 = "https://github.com/mlcommons/inference_results_v5.1"
_A100_DATASHEET = ("https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/"
                   "nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf")


@dataclass(frozen=True)
class Hardware:
    """One accelerator chip (or, from `rack()`, a whole scale-up domain treated as one chip).

    flops: dense FLOP/s per dtype ('bf16', 'fp8', 'fp4'); a dtype the chip lacks is absent.
    hbm_bandwidth: bytes/s; hbm_capacity: bytes; scaleup_bandwidth: bytes/s per chip, one way;
    scaleup_size: chips in one scale-up domain; tdp: watts per chip (None if unpublished).
    """

    name: str
    flops: dict
    hbm_bandwidth: float
    hbm_capacity: float
    scaleup_bandwidth: float
    scaleup_size: int
    source: str
    tdp: float | None = None
    note: str = ""
    aliases: tuple = field(default=(), repr=False)
    chips: int = 1  # how many physical chips this entry stands for (1 unless built by rack())
    #: seconds per step of a ring collective over the scale-up links: NCCL's hwLat for its
    #: low-latency ring protocol, 0.47 us over NVLink (src/graph/tuning.cc; see `collectives`)
    scaleup_latency: float = 0.47e-6
    #: the peak chip this entry was derated from by `achievable()` (None: these ARE peak rates)
    peak: "Hardware | None" = field(default=None, repr=False)

    def __repr__(self) -> str:
        rates = ", ".join(f"{k} {v / 1e12:,.0f} TFLOP/s" for k, v in self.flops.items())
        return (f"Hardware({self.name!r}: {rates}; HBM {self.hbm_capacity / 1e9:,.0f} GB at "
                f"{self.hbm_bandwidth / 1e12:,.2f} TB/s; scale-up {self.scaleup_size} chips at "
                f"{self.scaleup_bandwidth / 1e9:,.0f} GB/s each way)")

    def dtypes(self) -> list[str]:
        """The number formats this chip has a tensor-core (matrix-unit) rate for."""
        return list(self.flops)

    def flops_for(self, dtype: str = "bf16") -> float:
        """Dense FLOP/s in `dtype`; ValueError naming the chip if it has no such rate.

        'fp16' falls back to the bf16 rate: the two 16-bit tensor-core rates are equal on every
        chip that has both. V100, which predates bf16, lists only fp16; asked for 'bf16' it
        answers with its fp16 rate, the format a V100 server would run a 16-bit model in.
        """
        key = normalise(dtype)
        if key == "fp16" and key not in self.flops and "bf16" in self.flops:
            key = "bf16"
        elif key == "bf16" and key not in self.flops and "fp16" in self.flops:
            key = "fp16"  # a chip older than bf16 (V100) runs 16-bit models in fp16 at this rate
        if key not in self.flops:
            raise ValueError(
                f"dtype {dtype!r} is not available on {self.name}: it has dense rates for "
                f"{', '.join(self.flops)} only")
        return self.flops[key]


def _tf(bf16=None, fp8=None, fp4=None, fp16=None, int8=None) -> dict:
    """Dense TFLOP/s per dtype -> FLOP/s dict, leaving out the formats a chip does not have."""
    rates = {"bf16": bf16, "fp16": fp16, "fp8": fp8, "int8": int8, "fp4": fp4}
    return {k: v * 1e12 for k, v in rates.items() if v is not None}


CHIPS: dict[str, Hardware] = {}


def _add(hw: Hardware) -> Hardware:
    CHIPS[hw.name] = hw
    return hw


_add(Hardware(
    name="H100 SXM", flops=_tf(bf16=989.4, fp8=1978.9), hbm_bandwidth=3.35 * TB,
    hbm_capacity=80 * GB, scaleup_bandwidth=450 * GB, scaleup_size=8, tdp=700,
    source=f"{_SCALING_BOOK} ; {_LOCKWOOD_H100} ; https://www.nvidia.com/en-us/data-center/h100/",
    note="NVIDIA's 1,979 TFLOP/s bf16 headline is with 2:4 sparsity. NVLink 4: 18 links x 25 GB/s "
         "each way = 450 GB/s one direction (900 GB/s bidirectional). HGX/DGX domain of 8.",
    aliases=("h100", "h100sxm5", "h10080gb", "hopper")))
_add(Hardware(
    name="H800 SXM", flops=_tf(bf16=989.4, fp8=1978.9), hbm_bandwidth=3.35 * TB,
    hbm_capacity=80 * GB, scaleup_bandwidth=200 * GB, scaleup_size=8, tdp=700,
    source="https://www.philisun.com/technical-analysis/nvidia-h800-vs-h100-a-technical-deep-dive-into-politically-defined-ai-chips/ ; "
           "https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md",
    note="Same GH100 die as the H100; export rules cut NVLink to 400 GB/s bidirectional (200 one way). "
         "The chip DeepSeek trains and serves on. Secondary source (medium confidence).",
    aliases=("h800",)))
_add(Hardware(
    name="H200 SXM", flops=_tf(bf16=989.4, fp8=1978.9), hbm_bandwidth=4.8 * TB,
    hbm_capacity=141 * GB, scaleup_bandwidth=450 * GB, scaleup_size=8, tdp=700,
    source=f"{_SCALING_BOOK} ; {_MLPERF_41} (systems/H200-SXM-141GBx8_TRT.json)",
    note="H100 compute with HBM3e: more and faster memory.",
    aliases=("h200",)))
_add(Hardware(
    name="A100 SXM 80GB", flops=_tf(bf16=312, int8=624), hbm_bandwidth=2.039 * TB,
    hbm_capacity=80 * GB, scaleup_bandwidth=300 * GB, scaleup_size=8, tdp=400,
    source=f"{_A100_DATASHEET} ; https://glennklockwood.com/garden/processors/A100 ; {_SCALING_BOOK}",
    note="Ampere, HBM2e. 312 TFLOP/s bf16 dense (624 with 2:4 sparsity); no fp8 (int8 624 TOP/s). "
         "NVLink 3: 12 links x 25 GB/s each way = 300 GB/s one direction (600 bidirectional).",
    aliases=("a100", "a10080gb", "a100sxm", "a100sxm480gb", "ampere")))
_add(Hardware(
    name="A100 SXM 40GB", flops=_tf(bf16=312, int8=624), hbm_bandwidth=1.555 * TB,
    hbm_capacity=40 * GB, scaleup_bandwidth=300 * GB, scaleup_size=8, tdp=400,
    source=f"{_A100_DATASHEET} ; https://glennklockwood.com/garden/processors/A100",
    note="The first A100: HBM2, 1.555 TB/s; everything else as the 80 GB part.",
    aliases=("a10040gb", "a100sxm440gb")))
_add(Hardware(
    name="L40S", flops=_tf(bf16=362.05, fp8=733), hbm_bandwidth=0.864 * TB,
    hbm_capacity=48 * GB, scaleup_bandwidth=32 * GB, scaleup_size=8, tdp=350,
    scaleup_latency=1.0e-6,
    source="https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413 (NVIDIA L40S datasheet: "
           "'BFLOAT16 Tensor Core 362.05 | 733*', 'FP8 733 | 1,466*' (* with sparsity), "
           "'48 GB GDDR6', '864GB/s', 'PCIe Gen4 x16: 64GB/s bidirectional', '350W')",
    note="Ada, a PCIe card with GDDR6 (not HBM: `hbm_*` hold its GDDR6 numbers) and no NVLink: chips "
         "talk over PCIe Gen4 x16, 32 GB/s each way, at NCCL's PCI step latency of 1.0 us. 733 TFLOP/s "
         "is both the bf16 sparse and the fp8 dense figure.",
    aliases=("l40s", "l40sgpu")))
_add(Hardware(
    name="V100 SXM2", flops=_tf(fp16=125), hbm_bandwidth=0.9 * TB,
    hbm_capacity=32 * GB, scaleup_bandwidth=150 * GB, scaleup_size=8, tdp=300,
    source="https://images.nvidia.com/content/technologies/volta/pdf/volta-v100-datasheet-update-us-1165301-r5.pdf ; "
           "https://images.nvidia.com/content/volta-architecture/pdf/volta-architecture-whitepaper.pdf (Table 1)",
    note="Volta (2017): 125 TFLOP/s fp16 tensor cores (dense: no sparsity support), NO bf16. 32 GB HBM2 "
         "at 900 GB/s. NVLink 2: 6 links x 25 GB/s each way = 150 GB/s one direction (300 bidirectional). "
         "Kept for the history of critical intensity: 125e12 / 0.9e12 = 139 FLOP/byte.",
    aliases=("v100", "v100sxm2", "v10032gb", "volta")))
_add(Hardware(
    name="B200", flops=_tf(bf16=2250, fp8=4500, fp4=9000), hbm_bandwidth=8.0 * TB,
    hbm_capacity=180 * GB, scaleup_bandwidth=900 * GB, scaleup_size=8, tdp=1000,
    source=f"{_LOCKWOOD_B200} ; {_SCALING_BOOK} ; {_MLPERF_51} ('NVIDIA B200-SXM-180GB')",
    note="HGX B200 at 1000 W. Shipping parts expose 180 GB (192 GB is the physical/early figure). "
         "NVLink 5: 900 GB/s each way.",
    aliases=("b200sxm", "hgxb200", "blackwell", "b200180gb")))
_add(Hardware(
    name="GB200", flops=_tf(bf16=2500, fp8=5000, fp4=10000), hbm_bandwidth=8.0 * TB,
    hbm_capacity=186 * GB, scaleup_bandwidth=900 * GB, scaleup_size=72, tdp=1200,
    source=f"{_LOCKWOOD_B200} ; {_MLPERF_51} (system GB200-NVL72_GB200-186GB_aarch64x72_TRT) ; {_SCALING_BOOK}",
    note="One Blackwell GPU of a GB200 NVL72 rack (1200 W). Sources disagree on bf16: 2.5 PF "
         "(Lockwood, consistent with the rack's 360 PF sparse / 72 / 2) vs 2.25 PF (some tables); we use 2.5.",
    aliases=("gb200gpu", "gb200nvl72gpu")))
_add(Hardware(
    name="GB300", flops=_tf(bf16=2500, fp8=5000, fp4=15000), hbm_bandwidth=8.0 * TB,
    hbm_capacity=288 * GB, scaleup_bandwidth=900 * GB, scaleup_size=72, tdp=1400,
    source=f"{_VERDA_GB300} ; https://glennklockwood.com/garden/processors/B300",
    note="Blackwell Ultra in a GB300 NVL72 rack: 1.5x dense fp4, bf16/fp8 as Blackwell. "
         "About 279 GB usable per Verda; 288 GB nominal.",
    aliases=("gb300gpu", "b300", "blackwellultra")))
_add(Hardware(
    name="MI300X", flops=_tf(bf16=1307.4, fp8=2614.9), hbm_bandwidth=5.3 * TB,
    hbm_capacity=192 * GB, scaleup_bandwidth=448 * GB, scaleup_size=8, tdp=750,
    source=f"{_ROCM_MI300} ; {_ROCM_SPECS} ; https://gpu.blog/gpus/instinct-mi300x-mi300x",
    note="AMD's 2.6 PF fp16 headline is sparse. Scale-up is a full mesh of 7 Infinity Fabric links "
         "(896 GB/s bidirectional in total, low-confidence secondary figure); only 1/7 of it reaches "
         "any one peer.",
    aliases=("mi300", "amdmi300x")))
_add(Hardware(
    name="MI325X", flops=_tf(bf16=1307.4, fp8=2614.9), hbm_bandwidth=6.0 * TB,
    hbm_capacity=256 * GB, scaleup_bandwidth=448 * GB, scaleup_size=8, tdp=1000,
    source=f"{_ROCM_SPECS} ; https://wiaix.com/amd-instincttm-mi325x-accelerators ; {_MLPERF_51}",
    note="MI300X compute with 256 GB HBM3E (AMD's ROCm table writes 256 GiB; MLPerf and AMD marketing "
         "write 256GB — we use 256e9 B). Link bandwidth assumed equal to MI300X.",
    aliases=("mi325", "amdmi325x")))
_add(Hardware(
    name="MI355X", flops=_tf(bf16=2516.6, fp8=5033.2, fp4=10066.4), hbm_bandwidth=8.0 * TB,
    hbm_capacity=288 * GB, scaleup_bandwidth=537.6 * GB, scaleup_size=8, tdp=1400,
    source="https://www.theregister.com/2025/06/12/amd_mi355x/ ; "
           "https://www.tomshardware.com/pc-components/gpus/amds-instinct-mi355x-accelerator-will-consume-1-400-watts ; "
           f"{_ROCM_SPECS}",
    note="CDNA4. Scale-up: 7 links x 153.6 GB/s bidirectional (secondary, low confidence) = 537.6 GB/s one way.",
    aliases=("mi355", "amdmi355x")))
_add(Hardware(
    name="TPU v5e", flops=_tf(bf16=197, int8=394), hbm_bandwidth=0.819 * TB,
    hbm_capacity=16 * GB, scaleup_bandwidth=200 * GB, scaleup_size=256, tdp=None,
    source="https://docs.cloud.google.com/tpu/docs/v5e ; " + _SCALING_BOOK_SHARDING,
    note="No fp8 rate; int8 394 TOP/s (int8 x int8: scaling-book's 'TPUv5e can supply 400 TOPs/s of "
         "int8'). ICI 400 GB/s bidirectional per chip in a "
         "16x16 2D torus: a far chip is several hops away.",
    scaleup_latency=1e-6,
    aliases=("v5e", "tpuv5lite", "tpu5e")))
_add(Hardware(
    name="TPU v5p", flops=_tf(bf16=459, fp8=459), hbm_bandwidth=2.765 * TB,
    hbm_capacity=95 * GiB, scaleup_bandwidth=600 * GB, scaleup_size=8960, tdp=None,
    source="https://docs.cloud.google.com/tpu/docs/v5p ; " + _SCALING_BOOK_SHARDING,
    note="95 GiB user-allocatable (96 GiB physical). fp8 is listed at the bf16 rate. ICI 1200 GB/s "
         "bidirectional, 3D torus.",
    scaleup_latency=1e-6,
    aliases=("v5p", "tpu5p")))
_add(Hardware(
    name="TPU v6e", flops=_tf(bf16=918, fp8=918), hbm_bandwidth=1.638 * TB,
    hbm_capacity=32 * GB, scaleup_bandwidth=400 * GB, scaleup_size=256, tdp=None,
    source="https://docs.cloud.google.com/tpu/docs/v6e ; https://docs.cloud.google.com/tpu/docs/tpu7x ; " + _SCALING_BOOK_SHARDING,
    note="Trillium. fp8 listed at the bf16 rate. ICI 800 GB/s bidirectional, 2D torus.",
    scaleup_latency=1e-6,
    aliases=("v6e", "trillium", "tpu6e")))
_add(Hardware(
    name="TPU7x Ironwood", flops=_tf(bf16=2307, fp8=4614), hbm_bandwidth=7.38 * TB,
    hbm_capacity=192 * GiB, scaleup_bandwidth=600 * GB, scaleup_size=9216, tdp=None,
    source="https://docs.cloud.google.com/tpu/docs/tpu7x ; https://docs.cloud.google.com/tpu/docs/ironwood-performance ; " + _SCALING_BOOK_SHARDING,
    note="192 GiB HBM3e. Bandwidth 7,380 GB/s per chip as Google's TPU7x document (first source) lists it; "
         "the launch blog (April 2025, as quoted in secondary coverage) said 7.37 TB/s, 0.14% less. "
         "ICI 1,200 GB/s bidirectional.",
    scaleup_latency=1e-6,
    aliases=("ironwood", "tpu7x", "tpuv7", "v7")))

_INDEX: dict[str, str] = {}
for _hw in CHIPS.values():
    for _alias in (_hw.name, *_hw.aliases):
        _INDEX[normalise(_alias)] = _hw.name

# Whole racks, built from their chips by rack() below.
RACKS = {"gb200nvl72": ("GB200", 72), "nvl72": ("GB200", 72), "gb300nvl72": ("GB300", 72)}


def rack(hw, chips: int | None = None) -> Hardware:
    """A scale-up domain of `chips` chips (default: the whole domain) treated as ONE big chip.

    FLOP/s, HBM bandwidth and HBM capacity add up; the result's `chips` field remembers how many
    physical chips it stands for, so prices per chip-hour can be multiplied correctly.
    Example: rack(hardware("GB200")) is an NVL72 rack: 72 x 186 GB = 13.4 TB of HBM at 576 TB/s.
    """
    hw = hardware(hw)
    n = hw.scaleup_size if chips is None else int(whole_number("chips", chips))
    if n > hw.scaleup_size:
        raise ValueError(f"chips must be between 1 and {hw.name}'s scale-up domain of "
                         f"{hw.scaleup_size}, got {chips!r}")
    return replace(
        hw, name=f"{hw.name} x{n}", flops={k: v * n for k, v in hw.flops.items()},
        hbm_bandwidth=hw.hbm_bandwidth * n, hbm_capacity=hw.hbm_capacity * n,
        scaleup_size=1, chips=n * hw.chips, aliases=(),
        peak=rack(hw.peak, n) if hw.peak is not None else None)


def hardware(name) -> Hardware:
    """Look up a chip by name, forgiving case, spaces and dashes: 'h100', 'H100-SXM', 'TPU v6e'.

    'GB200 NVL72' (or 'NVL72') returns the whole 72-GPU rack as one `Hardware` (see `rack`).
    Unknown names raise `UnknownNameError` (a LookupError) listing close matches.
    """
    if isinstance(name, Hardware):
        return name
    if not isinstance(name, str):
        raise UnknownNameError(f"a chip is named by a string (e.g. 'H100') or given as a Hardware, "
                               f"got {type(name).__name__} {name!r}"[:200])
    key = normalise(name)
    if key in _INDEX:
        return CHIPS[_INDEX[key]]
    if key in RACKS:
        chip, n = RACKS[key]
        return rack(CHIPS[chip], n)
    known = dict(_INDEX)
    known.update({k: "GB200 NVL72" if v[0] == "GB200" else "GB300 NVL72" for k, v in RACKS.items()})
    raise unknown_name("chip", name, known)
