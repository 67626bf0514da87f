"""One forward step on C chips, part by part, and how the parts add up.

Every step of a transformer server (a decode step, a prefill, a speculative verification) does
the same five kinds of work; phases differ only in how much of each:

    compute    the weights' arithmetic: 2 N_active FLOPs per position processed / (C F)
    weights    reading every stored weight once: weight bytes / (C W)
    attention  attention's own arithmetic (q.k and the weighted values, `attention`) / (C F)
    kv         reading (decode) or writing (prefill) the KV cache / (C W)
    comm       tensor parallelism: 2 all-reduces per layer of the step's activations (`collectives`)

How they combine is the `overlap` of the step:

* overlap="none" (what engines do by default): attention and the matmuls are separate kernels,
  run one after the other, and the all-reduces sit between them:
      time = max(attention, kv) + max(compute, weights) + comm
  (scaling-book, inference chapter: "attention is always bandwidth-bound"; the general step time
  is t_kv + max(t_compute, t_weights)).
* overlap="full" (the lecture's ideal): every byte read overlaps all the arithmetic, one roofline:
      time = max(compute + attention, weights + kv, comm)
  In the ideal, only the weights' 2 N_active FLOPs per token are counted and no tensor-parallel
  traffic: `attention` and `comm` are 0 unless a chapter's own term adds them (the MoE all-to-all).
  An engine approaches it only by overlapping one micro-batch's attention with another's matmuls.

`build_step` is the one place these sums are formed; public functions (`decode_step`,
`prefill_step`, `speculative_step`) validate their arguments and call it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .achievable import peak_fractions
from .collectives import NETWORK_STEP_LATENCY, SCALEOUT_BANDWIDTH, COLLECTIVE_BASE_LATENCY, all_reduce_kernel
from .errors import scalar_or_array
from .hardware import Hardware
from .models import Model

OVERLAPS = ("none", "full")

#: Activations travel between chips in bf16 (2 bytes per number), whatever the weights' format.
ACTIVATION_BYTES = 2.0

_LABELS = np.array(["memory", "compute", "communication"])


def _max(a, b):
    # Python's max on two floats is ~30x faster than np.maximum; arrays take numpy's.
    return max(a, b) if type(a) is float and type(b) is float else np.maximum(a, b)


@dataclass(frozen=True)
class DecodeStep:
    """The parts of one step, in seconds (floats, or arrays when inputs were arrays).

    `.compute`, `.weights`, `.attention`, `.kv`, `.comm` as in the module docstring; `.draft` is
    sequential extra work (a speculative draft model's steps). `.time`, `.bound`, `.mfu`, `.mbu`
    and `.tokens_per_second` follow from them and `.overlap`. `.tokens` is what each sequence
    gains from the step (1 for decode); `.positions` what each sequence pushes through the weights.
    """

    compute: object
    weights: object
    kv: object
    batch: object
    context: object
    chips: object
    attention: object = 0.0
    comm: object = 0.0
    draft: object = 0.0
    overlap: str = "none"
    tokens: object = 1.0
    positions: object = 1.0
    flops_fraction: float = 1.0      # the rates used, as fractions of peak (1 unless achievable())
    bandwidth_fraction: float = 1.0

    @property
    def memory(self):
        """Weight reads plus KV traffic: both go through the same HBM, so they add."""
        return scalar_or_array(np.asarray(self.weights) + np.asarray(self.kv))

    @property
    def attention_phase(self):
        """The attention kernel: max(attention arithmetic, cache reads)."""
        return scalar_or_array(_max(self.attention, self.kv))

    @property
    def matmul_phase(self):
        """The weight matmuls: max(their arithmetic, weight reads)."""
        return scalar_or_array(_max(self.compute, self.weights))

    @cached_property
    def time(self):
        """Step time: sequential phases (overlap='none') or one roofline (overlap='full')."""
        if self.overlap == "full":
            t = _max(_max(self.compute + self.attention, self.weights + self.kv), self.comm)
        else:
            t = self.attention_phase + self.matmul_phase + self.comm
        return scalar_or_array(t + self.draft)

    @cached_property
    def _split(self):
        """(time spent bound by memory, by arithmetic, by communication) for `.bound`."""
        if self.overlap == "full":
            arith = np.add(self.compute, self.attention)
            mem = np.asarray(self.memory)
            return np.where(arith >= mem, 0.0, mem), np.where(arith >= mem, arith, 0.0), np.asarray(self.comm)
        attn_cb = np.asarray(self.attention) >= np.asarray(self.kv)
        mm_cb = np.asarray(self.compute) >= np.asarray(self.weights)
        arith = np.where(attn_cb, self.attention, 0.0) + np.where(mm_cb, self.compute, 0.0)
        mem = np.where(attn_cb, 0.0, self.kv) + np.where(mm_cb, 0.0, self.weights)
        return mem, arith, np.asarray(self.comm)

    @property
    def compute_bound(self):
        """True where arithmetic takes at least as long as memory traffic."""
        mem, arith, _ = self._split
        cb = arith >= mem
        return cb.item() if cb.ndim == 0 else cb

    @property
    def bound(self):
        """What takes most of the step: 'compute', 'memory' or 'communication'."""
        mem, arith, comm = self._split
        idx = np.where(arith >= mem, 1, 0)
        idx = np.where(comm > np.maximum(arith, mem), 2, idx)
        b = _LABELS[idx]  # indexing: faster than np.where on strings
        return b.item() if b.ndim == 0 else b

    @property
    def tokens_per_second(self):
        """Tokens generated per second by the whole group of chips: batch x tokens / step time."""
        return scalar_or_array(np.asarray(self.batch) * np.asarray(self.tokens) / np.asarray(self.time))

    @property
    def time_per_token(self):
        """Seconds between two tokens of one sequence: step time / tokens per step."""
        return scalar_or_array(np.asarray(self.time) / np.asarray(self.tokens))

    @property
    def mfu(self):
        """Model FLOPs utilisation: useful 2 N_active FLOPs per generated token over PEAK FLOP/s x time.

        Useful means for the tokens kept: a speculative step that verifies k + 1 positions and
        keeps fewer counts only those. Attention FLOPs are not model FLOPs here (PaLM's inference
        convention), so a long-context step can be busy and still show a low MFU.
        """
        useful = np.asarray(self.compute) * np.asarray(self.tokens) / np.asarray(self.positions)
        return scalar_or_array(useful * self.flops_fraction / np.asarray(self.time))

    @property
    def mbu(self):
        """Model bandwidth utilisation: HBM bytes moved over PEAK bandwidth x time (weights + KV)."""
        return scalar_or_array(np.asarray(self.memory) * self.bandwidth_fraction / np.asarray(self.time))


def tensor_parallel_time(m: Model, h: Hardware, c, tokens):
    """Seconds of all-reduces per step when `c` entries of `h` split every layer (checked input).

    2 per layer (after attention's output projection and after the MLP), each of `tokens`
    activations of d_model numbers. Llama 3.1 70B on 8 H100 at batch 1: 160 x 10.2 us = 1.64 ms.
    """
    p = c * h.chips
    n = float(h.chips if h.chips > 1 else h.scaleup_size)
    size = tokens * m.d_model * ACTIVATION_BYTES
    one = all_reduce_kernel(size, p, min(n, p) if type(p) is float else np.minimum(n, p),
                            h.scaleup_bandwidth, h.scaleup_latency, SCALEOUT_BANDWIDTH,
                            COLLECTIVE_BASE_LATENCY, NETWORK_STEP_LATENCY)
    return 2.0 * m.n_layers * one


def build_step(m: Model, h: Hardware, b, s, c, *, positions, attention_flops, kv_bytes, weight_bytes: float,
               math: str, overlap: str, tokens=1.0, draft=0.0, cls=DecodeStep, **extra) -> DecodeStep:
    """Assemble a step from checked inputs: batch `b`, context `s`, chips `c` (floats or arrays),
    per-sequence `positions`, `attention_flops` and `kv_bytes`, and the stored `weight_bytes`.

    Attention runs at the bf16 rate (attention kernels compute in 16 bits even over an fp8 cache).
    Under overlap='full' (the lecture's ideal) attention and comm are not counted.
    """
    # b, s, c are Python floats or numpy arrays; plain operators serve both, so a scalar step
    # stays in Python floats (a few microseconds) and an array sweep stays vectorised.
    flops = c * h.flops_for(math)
    bandwidth = c * h.hbm_bandwidth
    compute = 2.0 * b * positions * m.active_params / flops
    kv = b * kv_bytes / bandwidth
    weights = weight_bytes / bandwidth
    if overlap == "full":
        attention, comm = 0.0, 0.0
    else:
        attention = b * attention_flops / (c * h.flops_for("bf16"))
        comm = tensor_parallel_time(m, h, c, b * positions)
    parts = (compute, kv, weights, attention, comm, draft, tokens)
    if all(type(x) is float for x in parts):
        shape = ()
    else:
        shape = np.broadcast_shapes(*(np.shape(x) for x in parts))

    def full(x):
        return scalar_or_array(np.broadcast_to(x, shape)) if shape else float(x)

    eta_f, eta_w = peak_fractions(h, math)
    return cls(compute=full(compute), weights=full(weights), kv=full(kv), attention=full(attention),
               comm=full(comm), draft=full(draft), batch=scalar_or_array(b), context=scalar_or_array(s),
               chips=scalar_or_array(c), overlap=overlap, tokens=scalar_or_array(tokens),
               positions=scalar_or_array(positions), flops_fraction=eta_f, bandwidth_fraction=eta_w, **extra)
