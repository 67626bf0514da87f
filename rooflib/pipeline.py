"""Pipeline parallelism: the layers split into P stages, one scale-up domain (a "rack") per stage.

A model too big for one scale-up domain can be cut by layers: stage 1 holds the first L/P layers,
stage 2 the next L/P, and so on; activations hop from stage to stage over the slower scale-out
network (a 400 Gb/s NIC per GPU on Hopper systems). Notation: P stages of C chips each (one
domain: `rack(hw, C)`), L layers, W bytes of weights, B sequences per micro-batch, S tokens of
context, k KV-cache bytes per token (all layers), M micro-batches.

Memory per chip (inference). A stage stores W / P of the weights. To keep all P stages busy, P
micro-batches must be in flight (while stage 1 works on micro-batch 1, stage 2 works on
micro-batch 2, ...), and every one of them keeps its KV cache for the stage's L / P layers:

    weights/chip = W / (P C)          kv/chip = P x B S k x (1/P) / C = B S k / C

so the KV cache per chip does NOT shrink with P; only the weights do. Past P* = W / (B S k) the
cache dominates and more stages buy little: the batch that fits per micro-batch,
B_max(P) = (C M_hbm - W / P) / (S k), creeps up to the ceiling C M_hbm / (S k).

Training. A step of M micro-batches on P stages (GPipe: all forwards, then all backwards) takes
(M + P - 1) slots where M would do: the bubble is (P - 1) / (M + P - 1) of the step. 1F1B
(one-forward-one-backward) has the same bubble and keeps at most P micro-batches' activations
instead of M; interleaving v chunks per device divides the bubble time by v:
(P - 1) / (v M + P - 1). `pipeline_schedule` builds these schedules as data, and the bubble is
counted from them, not assumed.

Inference latency. A token visits the P stages in turn, so it pays the compute and memory time of
the whole model (as on one stage's chips) plus P - 1 activation hops and one hop back with the
sampled token: each hop costs a fixed link latency plus B x d_model x bytes / link bandwidth.
Throughput per chip is unchanged (every stage is busy with a different micro-batch), as long as
enough micro-batches are in flight to cover the hops.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collectives import HOP_LATENCY as LINK_LATENCY, SCALEOUT_BANDWIDTH as NIC_BANDWIDTH, hop_time  # noqa: F401
from .errors import context_tokens, non_negative, positive, scalar_or_array, whole_number
from .hardware import Hardware, hardware as lookup_hardware, rack
from .kv import kv_bytes_per_token
from .models import Model, model as lookup_model
from .roofline import DecodeStep, decode_step, max_batch, optimal_batch, weight_bytes
from .units import bytes_per_element

# Scale-out bandwidth (NIC_BANDWIDTH) and hop latency (LINK_LATENCY) are `collectives`' constants.

#: Bytes sent back from the last stage to the first per sequence: one sampled token id (int32).
TOKEN_ID_BYTES = 4

#: Stored activation bytes per token, per layer, per unit of d_model, for a 16-bit transformer layer
#: without recomputation: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
#: Transformer Models", arXiv:2205.05198, eq. 1, s b h (34 + 5 a s / h); the 5 a s / h term (the
#: attention-score matrix) is not stored by fused (flash) attention. With full recomputation only
#: each layer's 2-byte input is kept.
ACTIVATION_BYTES_PER_D = 34.0


# ---- validation ------------------------------------------------------------------------------------
def _whole(name: str, value, low: int = 1, high: int | None = None) -> np.ndarray:
    """`value` as a float array of whole numbers in [low, high] (`errors.whole_number`)."""
    return np.asarray(whole_number(name, value, low, high), dtype=float)


def _stages(m: Model, stages) -> np.ndarray:
    """Stages: whole numbers from 1 to the model's layer count (a stage holds at least one layer)."""
    p = _whole("stages", stages)
    if np.any(p > m.n_layers):
        raise ValueError(f"stages must be <= {m.name}'s {m.n_layers} layers (a stage holds at "
                         f"least one layer), got {p.max():g}")
    return p


def stage_hardware(hw, chips_per_stage=None) -> Hardware:
    """One pipeline stage: a scale-up domain of `chips_per_stage` chips treated as one (`rack`).

    Default: the whole scale-up domain of `hw` (8 for an HGX H100, 72 for a GB200 NVL72). A `hw`
    that already is a rack (`hardware("GB200 NVL72")`) is one stage as it is.
    """
    h = lookup_hardware(hw)
    return rack(h, h.scaleup_size if chips_per_stage is None else chips_per_stage)


# ---- inference: memory per chip ---------------------------------------------------------------------
@dataclass(frozen=True)
class StageMemory:
    """HBM bytes per chip of one pipeline stage, by what they hold (floats, or arrays)."""

    weights: object
    kv: object
    activations: object
    capacity: float
    stages: object
    batch: object
    context: object
    chips_per_stage: int

    @property
    def total(self):
        """Weights + KV cache + activations, bytes per chip."""
        return scalar_or_array(np.asarray(self.weights) + np.asarray(self.kv) + np.asarray(self.activations))

    @property
    def fits(self):
        """True where the total fits in one chip's HBM."""
        f = np.asarray(self.total) <= self.capacity
        return f.item() if f.ndim == 0 else f

    @property
    def kv_dominates(self):
        """True where the KV cache takes more HBM than the weights."""
        d = np.asarray(self.kv) > np.asarray(self.weights)
        return d.item() if d.ndim == 0 else d


def stage_memory(model, hw, stages, batch, context, chips_per_stage=None, in_flight=None,
                 dtype: str = "bf16", kv_dtype: str = "bf16") -> StageMemory:
    """HBM per chip when `model` is split into `stages` stages for decoding.

    `batch` is B, the sequences of ONE micro-batch; `in_flight` micro-batches share the pipeline
    (default P, the fewest that keep every stage busy). Per chip of a C-chip stage:

        weights     = W / (P C)
        kv          = in_flight x B x S x k / P / C          (= B S k / C when in_flight = P)
        activations = 2 x B x d_model x bytes / C            (the micro-batch being worked on and
                                                              the next one arriving: tiny)

    Example: Llama 3.1 405B in bf16 on 2 stages of 8 H100, B = 16, S = 8192:
    weights 50.7 GB + KV 8.5 GB per chip.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    stage.flops_for(dtype)  # the chip must support the weight format
    p = _stages(m, stages)
    b = positive("batch", batch)
    s = context_tokens(m, context)
    n = p if in_flight is None else _whole("in_flight", in_flight)
    c = stage.chips
    weights = weight_bytes(m, dtype) / (p * c)
    kv = n * b * s * kv_bytes_per_token(m, s, kv_dtype) / p / c
    act = 2.0 * b * m.d_model * bytes_per_element(dtype) / c
    shape = np.broadcast_shapes(np.shape(weights), np.shape(kv), np.shape(act))
    full = lambda x: scalar_or_array(np.broadcast_to(x, shape).astype(float))  # noqa: E731
    return StageMemory(weights=full(weights), kv=full(kv), activations=full(act),
                       capacity=stage.hbm_capacity / c, stages=scalar_or_array(p),
                       batch=scalar_or_array(b), context=scalar_or_array(s), chips_per_stage=c)


def kv_crossover_stages(model, batch, context, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Stages P* at which a stage's weights equal its KV cache: W / P* = B S k, so P* = W / (B S k).

    Beyond P* the cache is most of every chip's memory and more stages mostly add hops. It does
    not depend on the chip: both sides are per stage. Example: Llama 3.1 405B, B = 16, S = 8192
    in bf16: 811.7 GB / 67.6 GB = 12.0 stages.
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    s = positive("context", context_tokens(m, context))
    return scalar_or_array(weight_bytes(m, dtype) / (b * s * kv_bytes_per_token(m, s, kv_dtype)))


def max_microbatch(model, hw, stages, context, chips_per_stage=None, dtype: str = "bf16",
                   kv_dtype: str = "bf16"):
    """Largest micro-batch B whose weights + KV fit when P micro-batches are in flight.

    Per stage: W / P + B S k <= C M, so B_max = floor((P C M - W) / (P S k)): exactly the batch
    of one domain of P C chips (`max_batch`), shared by P micro-batches. 0 if the weights alone
    do not fit. Grows with P toward `kv_batch_ceiling`, never past it.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    p = _stages(m, stages)
    total = np.asarray(max_batch(m, stage, context, chips=p, dtype=dtype, kv_dtype=kv_dtype))
    out = (total // p.astype(np.int64)).astype(np.int64)
    return out.item() if out.ndim == 0 else out


def kv_batch_ceiling(model, hw, context, chips_per_stage=None, kv_dtype: str = "bf16"):
    """The micro-batch that P -> infinity would allow: a whole stage's HBM of KV cache, C M / (S k).

    No number of stages lets a micro-batch hold more than this: the KV cache per stage does not
    shrink with P. Example: Llama 3.1 405B, S = 8192, a stage of 8 H100 (640 GB): 151.4 sequences.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    s = positive("context", context_tokens(m, context))
    return scalar_or_array(stage.hbm_capacity / (s * kv_bytes_per_token(m, s, kv_dtype)))


def min_stages(model, hw, batch=0, context=0, chips_per_stage=None, dtype: str = "bf16",
               kv_dtype: str = "bf16"):
    """Fewest stages that hold the weights plus the KV cache of micro-batches of `batch` sequences.

    W / P + B S k <= C M  =>  P >= W / (C M - B S k), rounded up. `inf` where no number of stages
    is enough: the KV cache alone fills a stage, or more stages than layers would be needed.
    Example: Llama 3.1 405B in bf16 on 8-H100 stages needs 811.7 GB / 640 GB -> 2 stages.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    stage.flops_for(dtype)
    b = non_negative("batch", batch)
    s = context_tokens(m, context)
    kv = b * s * kv_bytes_per_token(m, s, kv_dtype)
    free = stage.hbm_capacity - kv
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(free > 0, np.ceil(weight_bytes(m, dtype) / np.where(free > 0, free, 1.0)), np.inf)
    p = np.where(p > m.n_layers, np.inf, np.maximum(p, 1.0))
    return scalar_or_array(p)


# ---- inference: latency and throughput ------------------------------------------------------------
def activation_bytes(model, batch, dtype: str = "bf16"):
    """Bytes handed from one stage to the next per decode step: B x d_model x bytes (the residual)."""
    m = lookup_model(model)
    return scalar_or_array(positive("batch", batch) * m.d_model * bytes_per_element(dtype))


@dataclass(frozen=True)
class PipelineDecode:
    """One decode token through a P-stage pipeline (seconds; floats or arrays)."""

    step: DecodeStep        # the whole model on ONE stage's chips at batch B (what P = 1 would take)
    stage: object           # one micro-batch on one stage: step.time / P
    hop: object             # one activation hop between stages
    hop_back: object        # the sampled tokens back from the last stage to the first
    stages: object
    batch: object
    in_flight: object

    @property
    def hops(self):
        """Network time on a token's path: (P - 1) activation hops + one hop back (none if P = 1)."""
        p = np.asarray(self.stages)
        return scalar_or_array((p - 1) * np.asarray(self.hop) + (p > 1) * np.asarray(self.hop_back))

    @property
    def token_latency(self):
        """Seconds between two tokens of one sequence: P stage times + the hops."""
        return scalar_or_array(np.asarray(self.stages) * np.asarray(self.stage) + np.asarray(self.hops))

    @property
    def cycle(self):
        """Seconds for every micro-batch in flight to advance one token.

        max(in_flight x stage time, token latency): with exactly P micro-batches the first stage
        waits out the hops each cycle; one or two more in flight hide them.
        """
        busy = np.asarray(self.in_flight) * np.asarray(self.stage)
        return scalar_or_array(np.maximum(busy, np.asarray(self.token_latency)))

    @property
    def tokens_per_second(self):
        """Tokens per second from the whole pipeline: in_flight x B / cycle."""
        return scalar_or_array(np.asarray(self.in_flight) * np.asarray(self.batch) / np.asarray(self.cycle))

    @property
    def hop_overhead(self):
        """Latency added by the hops, as a fraction of the unpipelined step time."""
        return scalar_or_array(np.asarray(self.hops) / np.asarray(self.step.time))


def pipeline_decode(model, hw, batch, context, stages, chips_per_stage=None, in_flight=None,
                    dtype: str = "bf16", kv_dtype: str = "bf16", bandwidth=NIC_BANDWIDTH,
                    latency=LINK_LATENCY, links=None) -> PipelineDecode:
    """Latency and throughput of decoding with micro-batches of `batch` on `stages` stages.

    Each stage is `chips_per_stage` chips (default: a whole scale-up domain) and does 1/P of the
    work of `decode_step(model, stage, batch, context)`; `in_flight` micro-batches (default P)
    circulate. A hop moves B x d_model x bytes through `links` NICs (default: one per chip of
    the stage) at `bandwidth` each, after a fixed `latency`.
    """
    m = lookup_model(model)
    st = stage_hardware(hw, chips_per_stage)
    p = _stages(m, stages)
    n = p if in_flight is None else _whole("in_flight", in_flight)
    k = st.chips if links is None else links
    step = decode_step(m, st, batch, context, chips=1, dtype=dtype, kv_dtype=kv_dtype, overlap="full")
    hop = hop_time(activation_bytes(m, batch, dtype), bandwidth, latency, k)
    back = hop_time(positive("batch", batch) * TOKEN_ID_BYTES, bandwidth, latency, k)
    return PipelineDecode(step=step, stage=scalar_or_array(np.asarray(step.time) / p), hop=hop,
                          hop_back=back, stages=scalar_or_array(p), batch=step.batch,
                          in_flight=scalar_or_array(n))


# ---- training: bubbles, schedules, micro-batches ---------------------------------------------------
def bubble_fraction(stages, microbatches, interleave=1):
    """Fraction of a training step each device sits idle: (P - 1) / (v M + P - 1).

    GPipe and 1F1B (v = 1) both fill and drain the pipeline once per step: (P - 1) idle slots out
    of (M + P - 1). Interleaving v model chunks per device divides the idle time by v. Limits:
    P = 1 gives 0; M -> infinity gives 0. Example: P = 4, M = 8: 3 / 11 = 27 %.
    Published as "O((K-1)/(M+K-1))" (GPipe, arXiv:1811.06965, section 2.3) and, relative to the
    ideal time instead of the total, as (p-1)/m and (1/v)(p-1)/m (Megatron-LM, arXiv:2104.04473).
    """
    p = positive("stages", stages)
    mb = positive("microbatches", microbatches)
    v = positive("interleave", interleave)
    return scalar_or_array((p - 1) / (v * mb + p - 1))


SCHEDULE_KINDS = ("gpipe", "1f1b", "interleaved", "decode")

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


def pipeline_schedule(stages: int, microbatches: int, kind: str = "gpipe", interleave: int = 1,
                      backward_cost: int = 2, tokens: int = 3) -> Schedule:
    """Build a pipeline schedule as data (see `Schedule`); draw it with `draw_schedule`.

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
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SCHEDULE_KINDS)}; got {kind!r}")
    P = int(_whole("stages", stages))
    M = int(_whole("microbatches", microbatches))
    bc = int(_whole("backward_cost", backward_cost))
    v = int(_whole("interleave", interleave))
    T = int(_whole("tokens", tokens))
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


def draw_schedule(ax, schedule: Schedule, labels: bool = True, normalise: bool = False):
    """Draw `schedule` on matplotlib axes `ax`: one row per stage, forwards blue, backwards orange.

    Idle slots stay blank: the bubble is the white area. With `normalise`, time is shown as a
    fraction of the makespan. Returns the two PolyCollections (forward, backward).
    """
    from matplotlib.collections import PolyCollection

    from .plotting import OKABE_ITO

    scale = 1.0 / schedule.makespan if normalise else 1.0
    verts = {"F": [], "B": []}
    for op in schedule.ops:
        x0, x1 = op["start"] * scale, (op["start"] + op["duration"]) * scale
        y0, y1 = op["stage"] + 0.1, op["stage"] + 0.9
        verts[str(op["phase"])].append([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    colours = {"F": OKABE_ITO["sky"], "B": OKABE_ITO["orange"]}
    names = {"F": "forward", "B": "backward"}
    out = []
    for ph in ("F", "B"):
        pc = PolyCollection(verts[ph], facecolors=colours[ph], edgecolors="white", linewidths=0.8,
                            label=names[ph])
        ax.add_collection(pc)
        out.append(pc)
    if labels:
        for op in schedule.ops:
            x = (op["start"] + op["duration"] / 2) * scale
            ax.text(x, op["stage"] + 0.5, str(op["microbatch"] + 1), ha="center", va="center",
                    fontsize=7, color="black")
    ax.set_xlim(0, schedule.makespan * scale)
    ax.set_ylim(schedule.stages, 0)
    ax.set_yticks(np.arange(schedule.stages) + 0.5)
    ax.set_yticklabels([f"stage {s + 1}" for s in range(schedule.stages)])
    return out


def microbatch_weight_traffic(model, stages, microbatches, dtype: str = "bf16", reads: int = 2):
    """HBM bytes of weights one stage reads per training step: M x reads x W / P.

    Every micro-batch re-reads the stage's weights in its forward pass and again in its backward
    pass (reads = 2), so the traffic grows with M while the arithmetic per step does not.
    (Gradient accumulation adds a read and a write of the gradient buffer per micro-batch.)
    """
    m = lookup_model(model)
    p = _stages(m, stages)
    mb = positive("microbatches", microbatches)
    r = positive("reads", reads)
    return scalar_or_array(mb * r * weight_bytes(m, dtype) / p)


def min_microbatch_tokens(model, hw, dtype: str = "bf16", reads: int = 2):
    """Tokens a micro-batch needs for its FLOPs to cover its weight reads in training.

    A micro-batch of T tokens does 6 T N_active / P FLOPs on a stage (forward 2, backward 4 per
    parameter per token) and reads reads x b x N_total / P bytes of weights. Equal when
    T* = (reads / 3) x I* x (b / 2) x N_total / N_active = (reads / 3) x `optimal_batch`.
    Example: a dense model on H100 in bf16: 2/3 x 295 = 197 tokens.
    """
    r = positive("reads", reads)
    return scalar_or_array(r / 3.0 * optimal_batch(model, hw, dtype))


def training_activation_bytes(model, tokens, stages=1, bytes_per_d=ACTIVATION_BYTES_PER_D):
    """Activation bytes ONE micro-batch of `tokens` tokens leaves on one stage for its backward pass.

    tokens x d_model x (L / P) x bytes_per_d; bytes_per_d = 34 stores everything (16-bit, fused
    attention; Korthikanti et al. 2022), 2 keeps only each layer's input (full recomputation).
    GPipe keeps M micro-batches of this per stage, 1F1B at most P (`Schedule.peak_in_flight`).
    """
    m = lookup_model(model)
    t = positive("tokens", tokens)
    p = _stages(m, stages)
    per = positive("bytes_per_d", bytes_per_d)
    return scalar_or_array(t * m.d_model * (m.n_layers / p) * per)


# ---- balancing stages ------------------------------------------------------------------------------
def layer_params(model) -> tuple[np.ndarray, np.ndarray]:
    """(stored, active) parameters of each transformer layer, in order (embeddings excluded).

    Dense layers: attention + MLP. MoE layers: attention + all routed and shared experts + router
    stored; attention + the experts a token uses + shared experts + router active.
    """
    m = lookup_model(model)
    attn = m.attention_params()
    total = np.empty(m.n_layers)
    active = np.empty(m.n_layers)
    for i in range(m.n_layers):
        if m.is_moe and i >= m.n_dense_layers:
            router = m.n_experts * m.d_model
            total[i] = attn + (m.n_experts + m.n_shared_experts) * m.expert_params() + router
            active[i] = attn + (m.experts_per_token + m.n_shared_experts) * m.expert_params() + router
        else:
            total[i] = active[i] = attn + m.mlp_params(m.d_ff)
    return total, active


@dataclass(frozen=True)
class StageBalance:
    """How evenly a model's parameters and arithmetic fall on its pipeline stages."""

    layers: np.ndarray   # layers per stage
    params: np.ndarray   # stored parameters per stage (memory)
    active: np.ndarray   # active parameters per stage (FLOPs per token / 2)

    @property
    def imbalance(self) -> float:
        """Slowest stage's arithmetic / the average stage's: the pipeline runs at the slowest pace."""
        return float(self.active.max() / self.active.mean())

    @property
    def efficiency(self) -> float:
        """Share of the pipeline's compute doing useful work when stages wait for the slowest."""
        return 1.0 / self.imbalance

    @property
    def memory_imbalance(self) -> float:
        """Fullest stage's stored parameters / the average stage's."""
        return float(self.params.max() / self.params.mean())


def stage_balance(model, stages, layers=None) -> StageBalance:
    """Split `model` into stages by contiguous layers and weigh each stage.

    `layers`: layers per stage (must sum to the model's layer count); default as even as possible,
    the first L mod P stages taking one extra. The input embedding (a table lookup: stored, not
    active) sits on the first stage, the output head (stored and active) on the last; tied
    embeddings are stored once, on the first stage. Stage totals add up to `total_params` and
    `active_params`.
    """
    m = lookup_model(model)
    P = int(_stages(m, stages))
    if layers is None:
        counts = np.full(P, m.n_layers // P)
        counts[: m.n_layers % P] += 1
    else:
        counts = np.asarray(layers)
        if counts.shape != (P,) or np.any(counts < 1) or np.any(counts != np.round(counts)):
            raise ValueError(f"layers must be {P} whole numbers >= 1, got {layers!r}")
        if counts.sum() != m.n_layers:
            raise ValueError(f"layers must add up to {m.name}'s {m.n_layers} layers, got {int(counts.sum())}")
        counts = counts.astype(int)
    total, active = layer_params(m)
    edges = np.concatenate([[0], np.cumsum(counts)])
    params = np.array([total[a:b].sum() for a, b in zip(edges[:-1], edges[1:])])
    act = np.array([active[a:b].sum() for a, b in zip(edges[:-1], edges[1:])])
    table = m.vocab * m.d_model
    params[0] += table                      # input embedding (or the tied table)
    if not m.tied_embeddings:
        params[-1] += table                 # a separate output head
    act[-1] += table                        # the output head multiplies on the last stage
    return StageBalance(layers=counts, params=params, active=act)
