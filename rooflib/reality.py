"""Reality check: rooflib's throughput bound against published measurements, and your own machine.

Part 1. An UPPER BOUND on serving throughput. Every assumption is chosen to be optimistic, so a
real system can approach the bound but never beat it; measured / bound is then a lower estimate of
how well the system uses its chips.

* Decode: one step serves B sequences; it takes at least max(compute, weights + KV reads)
  (`roofline.decode_step`), with
    - compute = 2 N_active FLOPs per token at the chip's peak DENSE FLOP/s for the stated
      precision (attention FLOPs left out unless asked for);
    - weights read once per step for the whole group of chips (one copy, spread over all of
      them: the fewest bytes), KV cache read once per sequence per step;
    - B as large as the HBM allows (`roofline.max_batch`): throughput B / max(a B, w + k B) never
      falls as B grows, so the bound is at the largest batch that fits;
    - context: the smallest mean context the workload allows.
  Speculative decoding (several tokens per sequence per step) would raise the memory side, so
  `tokens_per_step` > 1 is available; the compute ceiling C F / (2 N_active) holds for every
  decoding method.
* Prefill: compute only, C F / (2 N_active) tokens/s; prompt tokens served from a prefix cache
  need no compute, so a cached fraction h raises the bound on counted tokens by 1 / (1 - h).

The published figures it is compared with are data, in `measurements` (each with its source);
measuring your own machine's roofline with numpy is `microbench`. Both are importable from here
(`reality.MEASUREMENTS`, `reality.fit_roofline`), as chapter 8 uses all three.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import attention_flops
from .errors import fraction, non_negative, positive, scalar_or_array
from .hardware import hardware as lookup_hardware
# The data and the micro-benchmarks, importable as reality.X (chapter 8 and its cards use them so).
from .measurements import (DEEPSEEK_CACHE_HIT_FRACTION, DEEPSEEK_CONTEXT, DEEPSEEK_DAY,  # noqa: F401
                           DEEPSEEK_DECODE_GPUS, DEEPSEEK_NODE_GPUS, MEASUREMENTS, MLPERF_MIN_CONTEXT,
                           MLPERF_OUTPUT_TOKENS, Measurement, measurement)
from .microbench import (RooflineFit, fit_roofline, measure_copy_bandwidth,  # noqa: F401
                         measure_matmul_flops, median_time, single_thread_blas, time_batched_matmul)
from .models import model as lookup_model
from .roofline import DecodeStep, decode_step, max_batch

# ---------------------------------------------------------------------------------------------
# The bound
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeBound(DecodeStep):
    """The decode roofline at the throughput-maximising batch (a `DecodeStep` whose batch is the
    largest that fits, unless given). Times in seconds per step; `tokens_per_step` > 1 models
    speculative decoding (see `decode_bound`)."""

    tokens_per_step: float = 1.0

    @property
    def tokens_per_second(self):
        """Upper bound on output tokens/s of the `chips` chips."""
        return scalar_or_array(np.asarray(self.batch) * self.tokens_per_step / np.asarray(self.time))


def decode_bound(model, hw, context, chips=1, batch=None, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                 attention: bool = False, input_tokens=0.0, output_tokens=None,
                 tokens_per_step: float = 1.0) -> DecodeBound:
    """Upper bound on decode throughput of `chips` chips holding one copy of the weights.

    batch None: the largest batch whose weights + KV fit in HBM (`max_batch`); throughput
    B t / max(a B, w + k B) rises with B, so that is where the bound is. Options, all off by
    default (each one can only LOWER the bound, i.e. make it tighter):
      attention=True: add decode-attention FLOPs (at the kv_dtype rate, or the dtype rate if the
        chip lacks it);
      input_tokens, output_tokens: charge the prefill of `input_tokens` prompt tokens per
        `output_tokens` generated ones to the same chips: compute x (1 + input/output).
    tokens_per_step > 1 models speculative decoding that accepts every draft (optimistic):
    t tokens per sequence per step, t times the compute, the same memory traffic.
    Vectorised over context and batch. DeepSeek-V3 on 144 H800 (fp8 weights, bf16 cache), 4,989
    tokens: 30,945 sequences fit, a step reads the full HBM in 23.9 ms (memory-bound), so
    1.30M tokens/s for the unit, 72,000 per 8-GPU node.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    t = float(positive("tokens_per_step", tokens_per_step))
    if batch is None:
        b = np.asarray(max_batch(m, h, context, chips=chips, dtype=dtype, kv_dtype=kv_dtype), dtype=float)
        if np.any(b < 1):
            raise ValueError(f"{m.name} does not fit in {chips} x {h.name} at {dtype} with this context: "
                             "no batch of even one sequence fits in HBM")
    else:
        b = positive("batch", batch)
    step = decode_step(m, h, b, context, chips=chips, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
    compute = np.asarray(step.compute) * t
    if attention:
        rate = h.flops.get(kv_dtype, h.flops_for(dtype))
        compute = compute + t * b * np.asarray(attention_flops(m, context)) / (chips * rate)
    if output_tokens is not None:
        i = non_negative("input_tokens", input_tokens)
        compute = compute * (1.0 + i / float(positive("output_tokens", output_tokens)))
    return DecodeBound(batch=scalar_or_array(b), compute=scalar_or_array(compute), weights=step.weights,
                       kv=step.kv, context=step.context, chips=chips, tokens_per_step=t,
                       overlap="full")


def compute_ceiling(model, hw, chips=1, *, dtype: str = "bf16"):
    """Tokens/s no decoding or prefill method can beat: C F / (2 N_active).

    8 H200 in fp8, Llama 2 70B: 8 x 1,978.9e12 / (2 x 68.7e9) = 115,200 tokens/s.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    return scalar_or_array(positive("chips", chips) * h.flops_for(dtype) / (2.0 * m.active_params))


def prefill_bound(model, hw, chips=1, *, dtype: str = "bf16", cache_hit_fraction=0.0):
    """Upper bound on prompt tokens/s, counting cache hits as free: C F / (2 N_active) / (1 - h)."""
    h_ = fraction("cache_hit_fraction", cache_hit_fraction, allow_zero=True, allow_one=False)
    return scalar_or_array(np.asarray(compute_ceiling(model, hw, chips, dtype=dtype)) / (1.0 - h_))


def bound_for(meas: Measurement, *, attention: bool = False, input_tokens=0.0,
              tokens_per_step: float = 1.0) -> float:
    """The throughput bound (tokens/s, for meas.chips chips) that `meas` is compared with.

    Computed for the deployment unit (one copy of the weights over unit_chips chips) and scaled
    to the chips the figure covers. The defaults give the most optimistic bound; `attention`,
    `input_tokens` (mean prompt tokens per request, charged to the same chips: only for
    measurements whose prefill shares the chips, i.e. output_tokens > 0) and `tokens_per_step`
    are passed to `decode_bound`.
    """
    unit = meas.deployment_chips
    scale = meas.chips / unit
    if meas.phase == "prefill":
        return float(prefill_bound(meas.model, meas.chip, unit, dtype=meas.dtype, cache_hit_fraction=meas.cache_hit_fraction)) * scale
    shared = meas.output_tokens > 0
    extra = float(non_negative("input_tokens", input_tokens)) if shared else 0.0
    # A prompt of I tokens also lengthens every decode step's context by I.
    b = decode_bound(meas.model, meas.chip, meas.context + extra, chips=unit, dtype=meas.dtype,
                     kv_dtype=meas.kv_dtype, attention=attention,
                     input_tokens=input_tokens if shared else 0.0,
                     output_tokens=meas.output_tokens if shared else None,
                     tokens_per_step=tokens_per_step)
    return float(b.tokens_per_second) * scale


def efficiency(meas: Measurement, **kwargs) -> float:
    """measured / bound: the fraction of the optimistic roofline the system reached."""
    return meas.value / bound_for(meas, **kwargs)


def deepseek_fleet_check(*, attention: bool = False) -> dict:
    """Could DeepSeek's whole day of traffic fit in its fleet, at the bounds? How much of it did it need?

    Node-seconds needed at the bounds = input tokens / prefill bound per node + output tokens /
    decode bound per node; available = average nodes x 86,400 s. The ratio must be below 1.
    """
    pre = bound_for(measurement("deepseek-prefill"))
    dec = bound_for(measurement("deepseek-decode"), attention=attention)
    need = DEEPSEEK_DAY["input_tokens"] / pre + DEEPSEEK_DAY["output_tokens"] / dec
    have = DEEPSEEK_DAY["nodes"] * 86_400.0
    return {"prefill_per_node": pre, "decode_per_node": dec, "needed_node_seconds": need,
            "available_node_seconds": have, "busy_fraction": need / have}


def deepseek_user_speed_bound(user_tokens_per_second: float, *, attention: bool = False) -> float:
    """Fastest per-user speed the roofline allows at the concurrency DeepSeek's figures imply.

    Little's law: sequences in flight per decode unit B = unit throughput / per-user speed
    (14.8k tokens/s per node x 18 nodes / ~21 tokens/s). One step of that batch takes at least
    the roofline time t(B), so each user gets at most 1 / t(B) tokens/s.
    """
    meas = measurement("deepseek-decode")
    unit_throughput = meas.value * meas.deployment_chips / meas.chips
    batch = unit_throughput / float(positive("user_tokens_per_second", user_tokens_per_second))
    b = decode_bound(meas.model, meas.chip, meas.context, chips=meas.deployment_chips, dtype=meas.dtype,
                     kv_dtype=meas.kv_dtype, batch=batch, attention=attention)
    return 1.0 / float(b.time)
