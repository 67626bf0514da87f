"""Number formats: how many bytes a stored number takes, and which arithmetic it is multiplied in.

A weight is STORED in one format and MULTIPLIED in another. A server may keep Llama's weights in
int8 or fp4 to halve or quarter the bytes it reads each step, then dequantize them to bf16 inside
the matmul kernel (weight-only quantization: AWQ, GPTQ, Marlin kernels); or it may multiply in
fp8 or fp4 directly where the chip has a tensor-core rate for it. The two choices move the
roofline differently: storage sets the bytes (the weight term), arithmetic sets the FLOP/s (the
compute term). rooflib calls them `dtype` (storage) and `math_dtype` (arithmetic).

Block-scaled formats carry their scales in the same bytes we read:

* MXFP4 (OCP Microscaling v1.0): blocks of 32 fp4 (E2M1) numbers share one 8-bit power-of-two
  scale (E8M0): 4 + 8/32 = 4.25 bits per number.
* NVFP4 (NVIDIA Blackwell): blocks of 16 fp4 numbers share one fp8 (E4M3) scale: 4 + 8/16 = 4.5
  bits per number (plus one fp32 scale per tensor, negligible).
* int4 here is the bare 4 bits; group-wise int4 (one 16-bit scale per 128 weights, as AWQ/GPTQ
  store it) adds 16/128 = 0.125 bits: 'int4' 0.5 B vs 0.516 B, within the accuracy of the model.
"""
from __future__ import annotations

from .errors import normalise

#: Bytes per stored number, scale overhead included (see the module docstring for MXFP4/NVFP4).
BYTES_PER_ELEMENT = {
    "fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 0.5, "int4": 0.5,
    "mxfp4": 4.25 / 8, "nvfp4": 4.5 / 8,
}

#: The tensor-core rate a format is multiplied in when nothing else is said: its own where chips
#: have one, fp4 for the block-scaled fp4 formats. int4 has no tensor-core rate on current chips,
#: so int4 weights need an explicit math_dtype (usually 'bf16').
NATIVE_MATH = {"fp32": "bf16", "bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "int8", "fp4": "fp4",
               "int4": None, "mxfp4": "fp4", "nvfp4": "fp4"}


def format_key(dtype: str, name: str = "dtype") -> str:
    """The canonical key of a number format ('BF16' -> 'bf16', 'MX-FP4' -> 'mxfp4'), else ValueError."""
    key = normalise(dtype)
    if key not in BYTES_PER_ELEMENT:
        raise ValueError(f"{name} must be one of {', '.join(BYTES_PER_ELEMENT)}; got {dtype!r}")
    return key


def bytes_per_element(dtype: str) -> float:
    """Bytes one number occupies in `dtype` ('bf16' -> 2, 'fp8' -> 1, 'mxfp4' -> 0.53125)."""
    return BYTES_PER_ELEMENT[format_key(dtype)]


def math_format(dtype: str, math_dtype: str | None = None) -> str:
    """The arithmetic format for weights stored in `dtype`: `math_dtype` if given, else the native one.

    'bf16' -> 'bf16'; 'mxfp4' -> 'fp4'; 'int4' with no math_dtype is an error (no int4 tensor cores).
    """
    if math_dtype is not None:
        return format_key(math_dtype, "math_dtype")
    native = NATIVE_MATH[format_key(dtype)]
    if native is None:
        raise ValueError(f"weights stored in {dtype!r} have no tensor-core rate of their own: pass "
                         f"math_dtype (e.g. 'bf16' for weight-only quantization)")
    return native


def stored_weight_bytes(m, dtype: str = "bf16", expert_dtype: str | None = None) -> float:
    """Bytes of model `m`'s weights stored in `dtype`, its routed experts in `expert_dtype` if given.

    Routed experts are most of an MoE's weights and the part that quantizes best, so releases
    often store them alone in 4 bits (gpt-oss: MXFP4 experts, everything else bf16).
    """
    b_w = bytes_per_element(dtype)
    if expert_dtype is None or not m.is_moe:
        if expert_dtype is not None:
            format_key(expert_dtype, "expert_dtype")
        return m.total_params * b_w
    experts = m.n_moe_layers * m.n_experts * m.expert_params()
    return (m.total_params - experts) * b_w + experts * BYTES_PER_ELEMENT[format_key(expert_dtype, "expert_dtype")]
