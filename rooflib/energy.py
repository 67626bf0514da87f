"""Energy per operation: why moving a number costs more than multiplying it.

The classic table (45 nm CMOS, 0.9 V) from M. Horowitz, "Computing's energy problem (and what we
can do about it)", ISSCC 2014, as reproduced in Han et al., "Learning both Weights and Connections
for Efficient Neural Networks", NeurIPS 2015, Figure 1 (https://arxiv.org/abs/1506.02626).
Absolute values have fallen with every process node since; the RATIOS are the lesson: fetching an
operand from off-chip DRAM costs two orders of magnitude more than the arithmetic done on it.
"""
from __future__ import annotations

from .errors import positive, scalar_or_array

SOURCE = "https://arxiv.org/abs/1506.02626 (Han et al. 2015, Fig. 1, after Horowitz ISSCC 2014)"

#: Picojoules per operation on 32-bit operands (45 nm).
PICOJOULES = {
    "int32 add": 0.1,
    "fp32 add": 0.9,
    "register file read": 1.0,
    "int32 multiply": 3.1,
    "fp32 multiply": 3.7,
    "SRAM read (on-chip cache)": 5.0,
    "DRAM read (off-chip memory)": 640.0,
}


def energy_per_multiply(batch, fetch: str = "DRAM read (off-chip memory)", op: str = "fp32 multiply"):
    """Picojoules per multiply when one weight fetched from `fetch` is reused by `batch` multiplies.

    E = E_op + E_fetch / B: batching amortises the fetch. At B = E_fetch / E_op the two are equal.
    """
    b = positive("batch", batch)
    if fetch not in PICOJOULES or op not in PICOJOULES:
        raise ValueError(f"fetch and op must be among {', '.join(PICOJOULES)}; got {fetch!r}, {op!r}")
    return scalar_or_array(PICOJOULES[op] + PICOJOULES[fetch] / b)
