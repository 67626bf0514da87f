"""Pipeline parallelism in training: bubbles, schedules as data, micro-batches.

A training step of M micro-batches on P stages (GPipe: all forwards, then all backwards) takes
(M + P - 1) slots where M would do: the bubble is (P - 1) / (M + P - 1) of the step
(`bubble_fraction`). 1F1B (one-forward-one-backward) has the same bubble and keeps at most P
micro-batches' activations instead of M; interleaving v chunks per device divides the bubble
time by v: (P - 1) / (v M + P - 1). `pipeline_schedule` builds these schedules as data (a
`Schedule`: one row per operation, run by a small simulator, `_simulate`), and the bubble is
counted from them, not assumed. `plotting.draw_schedule` draws one.

Micro-batches are not free: each re-reads its stage's weights in the forward and the backward
pass (`microbatch_weight_traffic`) and reads and writes the fp32 gradient buffer it accumulates
into, so a micro-batch needs enough tokens for its arithmetic to cover that traffic
(`min_microbatch_tokens`), and each leaves activations for its backward pass
(`training_activation_bytes`, Korthikanti's estimate from `memory_trade`).

Notation as in `pipeline`: P stages, M micro-batches, v chunks per device, L layers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import choice, non_negative, positive, scalar_or_array, whole_number
from .memory_trade import activation_bytes_per_layer, layer_input_bytes
from .models import Model, model as lookup_model
from .roofline import optimal_batch, weight_bytes
from .units import bytes_per_element


def stage_count(m: Model, stages):
    """`stages` checked for model `m`: whole numbers from 1 to its layer count (a stage holds at
    least one layer). A float, or a float array."""
    p = whole_number("stages", stages)
    if np.any(np.asarray(p) > m.n_layers):
        raise ValueError(f"stages must be <= {m.name}'s {m.n_layers} layers (a stage holds at "
                         f"least one layer), got {np.max(p):g}")
    return p


# ---- bubbles and schedules -------------------------------------------------------------------------
def bubble_fraction(stages, microbatches, *, interleave=1):
    """Fraction of a training step each device sits idle: (P - 1) / (v M + P - 1).

    GPipe and 1F1B (v = 1) both fill and drain the pipeline once per step: (P - 1) idle slots out
    of (M + P - 1). Interleaving v model chunks per device divides the idle time by v. Limits:
    P = 1 gives 0; M -> infinity gives 0. Example: P = 4, M = 8: 3 / 11 = 27 %.
    Published as "O((K-1)/(M+K-1))" (GPipe, arXiv:1811.06965, section 2.3) and, relative to the
    ideal time instead of the total, as (p-1)/m and (1/v)(p-1)/m (Megatron-LM, arXiv:2104.04473).
    """
    p, mb, v = (_at_least_one(n, x) for n, x in (("stages", stages), ("microbatches", microbatches),
                                                    ("interleave", interleave)))
    return scalar_or_array((p - 1) / (v * mb + p - 1))


def _at_least_one(name, value):
    # Counts that may be read as continuous (a plotted axis of M) but never below one.
    x = positive(name, value)
    if np.any(np.asarray(x) < 1):
        raise ValueError(f"{name} must be >= 1, got {np.min(x):g}")
    return x


SCHEDULE_KINDS = ("gpipe", "1f1b", "interleaved", "decode")

#: Largest schedule `pipeline_schedule` simulates (in slots of work): about 10 s of Python.
MAX_SCHEDULE_OPS = 1_000_000

_OP_DTYPE = np.dtype([("stage", np.int64), ("chunk", np.int64), ("microbatch", np.int64),
                      ("token", np.int64), ("phase", "U1"), ("start", np.int64), ("duration", np.int64)])


@dataclass(frozen=True)
class Schedule:
    """A pipeline schedule as data: one row per (stage, chunk, micro-batch, token, phase) operation.

    `ops` is a numpy structured array with fields stage (the device, 0 = first), chunk (the model
    chunk on that device, 0 unless interleaved), microbatch, token (decode only), phase ('F' forward
    or 'B' backward), start and duration (in time slots: one slot is one forward pass of one
    micro-batch through one chunk). Everything else is counted from `ops`.
    """

    ops: np.ndarray
    stages: int
    microbatches: int
    kind: str
    interleave: int = 1

    @property
    def makespan(self) -> int:
        """Slots from the first operation's start to the last one's end."""
        return int((self.ops["start"] + self.ops["duration"]).max())

    @property
    def busy(self) -> np.ndarray:
        """Busy slots per stage."""
        return np.bincount(self.ops["stage"], weights=self.ops["duration"], minlength=self.stages)

    @property
    def bubble_fraction(self) -> float:
        """Idle share of all devices' time over the makespan: 1 - sum(busy) / (P x makespan)."""
        return float(1.0 - self.busy.sum() / (self.stages * self.makespan))

    def grid(self) -> np.ndarray:
        """(stages x makespan) array: the micro-batch running in each slot, -1 where idle."""
        g = np.full((self.stages, self.makespan), -1, dtype=np.int64)
        for op in self.ops:
            g[op["stage"], op["start"]:op["start"] + op["duration"]] = op["microbatch"]
        return g

    def peak_in_flight(self) -> np.ndarray:
        """Per stage, the most micro-batches whose activations are held at once (forward done,
        backward not yet), in units of one micro-batch's activations for the whole stage."""
        peaks = np.zeros(self.stages)
        for s in range(self.stages):
            mine = self.ops[self.ops["stage"] == s]
            if not np.any(mine["phase"] == "B"):
                continue  # decoding keeps nothing for a backward pass
            # +1 when a forward starts (its activations appear), -1 when a backward ends.
            events = sorted([(int(o["start"]), 1) for o in mine if o["phase"] == "F"]
                            + [(int(o["start"] + o["duration"]), -1) for o in mine if o["phase"] == "B"],
                            key=lambda e: (e[0], e[1]))
            held = np.cumsum([e[1] for e in events])
            peaks[s] = held.max() / self.interleave
        return peaks


def _simulate(device_orders, deps, durations, stages) -> np.ndarray:
    """Run each device's operations in its given order, each as early as its inputs allow."""
    done: dict = {}
    rows = []
    pos = [0] * stages
    free = [0] * stages
    remaining = sum(len(o) for o in device_orders)
    while remaining:
        progressed = False
        for d in range(stages):
            order = device_orders[d]
            while pos[d] < len(order):
                key = order[pos[d]]
                inputs = deps(key)
                if any(x not in done for x in inputs):
                    break
                start = max([free[d]] + [done[x] for x in inputs])
                end = start + durations(key)
                done[key] = end
                free[d] = end
                phase, vstage, mb, tok = key
                rows.append((d, vstage // stages, mb, tok, phase, start, end - start))
                pos[d] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # a bug in an operation order, never a user error
            raise RuntimeError("pipeline schedule deadlocked")
    ops = np.array(rows, dtype=_OP_DTYPE)
    return ops[np.lexsort((ops["stage"], ops["start"]))]


def pipeline_schedule(stages: int, microbatches: int, *, kind: str = "gpipe", interleave: int = 1,
                      backward_cost: int = 2, tokens: int = 3) -> Schedule:
    """Build a pipeline schedule as data (see `Schedule`); draw it with `plotting.draw_schedule`.

    kind 'gpipe': each stage runs all M forwards, then all M backwards (Huang et al. 2019).
    kind '1f1b': stage s runs min(P - s - 1, M) forwards to fill the pipe, then alternates one
        forward and one backward, then drains (PipeDream-Flush, Narayanan et al. 2021).
    kind 'interleaved': each device holds `interleave` (v >= 2) chunks of L / (v P) layers, chunk c
        of device d being virtual stage c P + d; forwards then backwards, in groups of P
        micro-batches (M must be a multiple of P).
    kind 'decode': inference, no backward: M micro-batches circulate for `tokens` tokens each; the
        first stage takes micro-batch m's next token once the last stage has produced it.
    A forward of one micro-batch through one chunk takes 1 slot, a backward `backward_cost` slots
    (about 2: a backward pass does twice the FLOPs of a forward).
    """
    choice("kind", kind, SCHEDULE_KINDS)
    P = int(whole_number("stages", stages))
    M = int(whole_number("microbatches", microbatches))
    bc = int(whole_number("backward_cost", backward_cost))
    v = int(whole_number("interleave", interleave))
    T = int(whole_number("tokens", tokens))
    ops = P * M * v * (1 + bc) * T
    if ops > MAX_SCHEDULE_OPS:  # the simulator is a Python loop: ~10 us per operation
        raise ValueError(f"stages x microbatches x interleave x tokens is {ops:,} slots of work; schedules "
                         f"are simulated one operation at a time, so keep it below {MAX_SCHEDULE_OPS:,} "
                         f"(use bubble_fraction for large pipelines)")
    if kind == "interleaved":
        if v < 2:
            raise ValueError(f"interleave must be >= 2 for an interleaved schedule, got {interleave!r}")
        if M % P:
            raise ValueError(f"microbatches must be a multiple of stages ({P}) for an interleaved "
                             f"schedule, got {M}")
    elif v != 1:
        raise ValueError(f"interleave must be 1 unless kind is 'interleaved', got {interleave!r}")
    V = v * P  # virtual stages

    def durations(key):
        return 1 if key[0] == "F" else bc

    def deps(key):
        phase, k, mb, tok = key
        if phase == "F":
            if k > 0:
                return [("F", k - 1, mb, tok)]
            return [("F", V - 1, mb, tok - 1)] if (kind == "decode" and tok > 0) else []
        return [("B", k + 1, mb, 0)] if k < V - 1 else [("F", V - 1, mb, 0)]

    orders = []
    for d in range(P):
        if kind == "gpipe":
            order = [("F", d, mb, 0) for mb in range(M)] + [("B", d, mb, 0) for mb in range(M)]
        elif kind == "1f1b":
            warm = min(P - d - 1, M)
            order = [("F", d, mb, 0) for mb in range(warm)]
            for i in range(M - warm):
                order += [("F", d, warm + i, 0), ("B", d, i, 0)]
            order += [("B", d, mb, 0) for mb in range(M - warm, M)]
        elif kind == "interleaved":
            groups = [range(g, g + P) for g in range(0, M, P)]
            order = [("F", c * P + d, mb, 0) for g in groups for c in range(v) for mb in g]
            order += [("B", c * P + d, mb, 0) for g in groups for c in reversed(range(v)) for mb in g]
        else:  # decode
            order = [("F", d, mb, t) for t in range(T) for mb in range(M)]
        orders.append(order)
    ops = _simulate(orders, deps, durations, P)
    return Schedule(ops=ops, stages=P, microbatches=M, kind=kind, interleave=v)


# ---- micro-batches: weight reads and activations -------------------------------------------------
def microbatch_weight_traffic(model, stages, microbatches, *, dtype: str = "bf16", reads: int = 2):
    """HBM bytes of weights one stage reads per training step: M x reads x W / P.

    Every micro-batch re-reads the stage's weights in its forward pass and again in its backward
    pass (reads = 2), so the traffic grows with M while the arithmetic per step does not.
    Gradient accumulation adds a read and a write of the fp32 gradient buffer per micro-batch
    (`GRAD_ACCUMULATION_BYTES` per parameter); `min_microbatch_tokens` counts both.
    """
    m = lookup_model(model)
    p = stage_count(m, stages)
    mb = positive("microbatches", microbatches)
    r = positive("reads", reads)
    return scalar_or_array(mb * r * weight_bytes(m, dtype) / p)


#: Bytes per parameter of gradient accumulation per micro-batch: the fp32 gradient buffer is read
#: (4 bytes) and written back (4 bytes) after each micro-batch's backward pass adds its gradient.
GRAD_ACCUMULATION_BYTES = 8.0


def min_microbatch_tokens(model, hw, *, dtype: str = "bf16", reads: int = 2,
                          grad_bytes: float = GRAD_ACCUMULATION_BYTES):
    """Tokens a micro-batch needs for its FLOPs to cover its memory traffic in training.

    A micro-batch of T tokens does 6 T N_active / P FLOPs on a stage (forward 2, backward 4 per
    parameter per token). It reads the stage's weights `reads` times (b bytes each) and reads and
    writes its fp32 gradient buffer (`grad_bytes` = 8 per parameter): (reads b + g) N_total / P
    bytes. Equal when
        T* = I* (reads b + g) / 6 x N_total / N_active = `optimal_batch` x (reads b + g) / (3 b).
    Dense bf16 on H100: 295 x (4 + 8) / 6 = 590 tokens, 2 B*; without the gradient buffer
    (grad_bytes=0) 2/3 B* = 197. DeepSeek-V3 in bf16 on H800: about 10,800.
    """
    r = positive("reads", reads)
    g = non_negative("grad_bytes", grad_bytes)
    b_w = bytes_per_element(dtype)
    return scalar_or_array((r * b_w + g) / (3.0 * b_w) * optimal_batch(model, hw, dtype))


def training_activation_bytes(model, tokens, stages=1, *, recompute: bool = False):
    """Activation bytes ONE micro-batch of `tokens` tokens leaves on one stage for its backward pass.

    (L / P) x one layer's activations: 34 x tokens x d_model bytes when everything is stored
    (16-bit, fused attention: `memory_trade.activation_bytes_per_layer` without the scores,
    Korthikanti et al. 2022), 2 x tokens x d_model with `recompute` (only each layer's input is
    kept: `memory_trade.layer_input_bytes`). GPipe keeps M micro-batches of this per stage, 1F1B
    at most P (`Schedule.peak_in_flight`). Llama 3.1 405B, 8,192 tokens on 16 stages: 8192 x 16384
    x 34 x 126 / 16 = 35.9 GB.
    """
    m = lookup_model(model)
    t = positive("tokens", tokens)
    p = stage_count(m, stages)
    layer = layer_input_bytes(t, 1.0, m.d_model) if recompute else \
        activation_bytes_per_layer(t, 1.0, m.d_model, m.n_heads, store_scores=False)
    return scalar_or_array(np.asarray(layer) * (m.n_layers / p))
