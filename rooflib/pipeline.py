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

Training (bubbles, schedules as data, micro-batches) is the sibling module `schedules`; its
public names are importable from here too (`pipeline.bubble_fraction`, `pipeline.pipeline_schedule`),
as chapter 4 teaches both halves.

Inference latency. A token visits the P stages in turn, so it pays the compute and memory time of
the whole model (as on one stage's chips) plus P - 1 activation hops and one hop back with the
sampled token: each hop costs a fixed link latency plus B x d_model x bytes / link bandwidth.
Throughput per chip is unchanged (every stage is busy with a different micro-batch), as long as
enough micro-batches are in flight to cover the hops.

Stage balance. Stages cut at layer boundaries carry unequal work when layers differ (dense and
MoE layers, the embedding and the output head): `stage_balance` weighs each stage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collectives import HOP_LATENCY as LINK_LATENCY, SCALEOUT_BANDWIDTH as NIC_BANDWIDTH, hop_time  # noqa: F401
from .errors import context_tokens, non_negative, positive, scalar_or_array, whole_number
# Training schedules live in `schedules`; chapter 4's notebooks and cards call them as pipeline.X.
from .schedules import (GRAD_ACCUMULATION_BYTES, SCHEDULE_KINDS, Schedule, bubble_fraction,  # noqa: F401
                        microbatch_weight_traffic,
                        min_microbatch_tokens, pipeline_schedule, stage_count, training_activation_bytes)
from .hardware import Hardware, hardware as lookup_hardware, rack
from .kv import kv_bytes_per_token
from .models import Model, model as lookup_model
from .roofline import DecodeStep, decode_step, max_batch, optimal_batch, weight_bytes
from .units import bytes_per_element

# Scale-out bandwidth (NIC_BANDWIDTH) and hop latency (LINK_LATENCY) are `collectives`' constants.

#: Bytes sent back from the last stage to the first per sequence: one sampled token id (int32).
TOKEN_ID_BYTES = 4


def stage_hardware(hw, chips_per_stage=None) -> Hardware:
    """One pipeline stage: a scale-up domain of `chips_per_stage` chips as one catalog entry (`rack`).

    Its capacity and rates are the chips' sums; a per-phase `decode_step` on it still pays the
    all-reduces among its chips (`step.tensor_parallel_time` counts `rack.chips`).

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
                 *, dtype: str = "bf16", kv_dtype: str = "bf16") -> StageMemory:
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
    p = stage_count(m, stages)
    b = positive("batch", batch)
    s = context_tokens(m, context)
    n = p if in_flight is None else whole_number("in_flight", in_flight)
    c = stage.chips
    weights = weight_bytes(m, dtype) / (p * c)
    kv = n * b * s * kv_bytes_per_token(m, s, dtype=kv_dtype) / p / c
    act = 2.0 * b * m.d_model * bytes_per_element(dtype) / c
    shape = np.broadcast_shapes(np.shape(weights), np.shape(kv), np.shape(act))
    full = lambda x: scalar_or_array(np.broadcast_to(x, shape).astype(float))  # noqa: E731
    return StageMemory(weights=full(weights), kv=full(kv), activations=full(act),
                       capacity=stage.hbm_capacity / c, stages=scalar_or_array(p),
                       batch=scalar_or_array(b), context=scalar_or_array(s), chips_per_stage=c)


def kv_crossover_stages(model, batch, context, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Stages P* at which a stage's weights equal its KV cache: W / P* = B S k, so P* = W / (B S k).

    Beyond P* the cache is most of every chip's memory and more stages mostly add hops. It does
    not depend on the chip: both sides are per stage. Example: Llama 3.1 405B, B = 16, S = 8192
    in bf16: 811.7 GB / 67.6 GB = 12.0 stages.
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    s = positive("context", context_tokens(m, context))
    return scalar_or_array(weight_bytes(m, dtype) / (b * s * kv_bytes_per_token(m, s, dtype=kv_dtype)))


def max_microbatch(model, hw, stages, context, chips_per_stage=None, *, dtype: str = "bf16",
                   kv_dtype: str = "bf16"):
    """Largest micro-batch B whose weights + KV fit when P micro-batches are in flight.

    Per stage: W / P + B S k <= C M, so B_max = floor((P C M - W) / (P S k)): exactly the batch
    of one domain of P C chips (`max_batch`), shared by P micro-batches. 0 if the weights alone
    do not fit. Grows with P toward `kv_batch_ceiling`, never past it.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    p = stage_count(m, stages)
    total = np.asarray(max_batch(m, stage, context, chips=p, dtype=dtype, kv_dtype=kv_dtype))
    out = (total // np.asarray(p).astype(np.int64)).astype(np.int64)
    return out.item() if out.ndim == 0 else out


def kv_batch_ceiling(model, hw, context, chips_per_stage=None, *, kv_dtype: str = "bf16"):
    """The micro-batch that P -> infinity would allow: a whole stage's HBM of KV cache, C M / (S k).

    No number of stages lets a micro-batch hold more than this: the KV cache per stage does not
    shrink with P. Example: Llama 3.1 405B, S = 8192, a stage of 8 H100 (640 GB): 151.4 sequences.
    """
    m = lookup_model(model)
    stage = stage_hardware(hw, chips_per_stage)
    s = positive("context", context_tokens(m, context))
    return scalar_or_array(stage.hbm_capacity / (s * kv_bytes_per_token(m, s, dtype=kv_dtype)))


def min_stages(model, hw, batch=0, context=0, chips_per_stage=None, *, dtype: str = "bf16",
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
    kv = b * s * kv_bytes_per_token(m, s, dtype=kv_dtype)
    free = stage.hbm_capacity - kv
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(free > 0, np.ceil(weight_bytes(m, dtype) / np.where(free > 0, free, 1.0)), np.inf)
    p = np.where(p > m.n_layers, np.inf, np.maximum(p, 1.0))
    return scalar_or_array(p)


# ---- inference: latency and throughput ------------------------------------------------------------
def activation_bytes(model, batch, *, dtype: str = "bf16"):
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
                    *, dtype: str = "bf16", kv_dtype: str = "bf16", bandwidth=NIC_BANDWIDTH,
                    latency=LINK_LATENCY, links=None, overlap: str = "none") -> PipelineDecode:
    """Latency and throughput of decoding with micro-batches of `batch` on `stages` stages.

    Each stage is `chips_per_stage` chips (default: a whole scale-up domain) and does 1/P of the
    work of `decode_step(model, stage, batch, context, overlap=overlap)`: by default the per-phase
    step, whose tensor-parallel all-reduces inside the stage are counted (`collectives`);
    overlap='full' is the lecture's ideal, the stage as one big chip. `hw` may come from
    `achievable()`. `in_flight` micro-batches (default P) circulate. A hop moves B x d_model x
    bytes through `links` NICs (default: one per chip of the stage) at `bandwidth` each, after a
    fixed `latency`.
    """
    m = lookup_model(model)
    st = stage_hardware(hw, chips_per_stage)
    p = stage_count(m, stages)
    n = p if in_flight is None else whole_number("in_flight", in_flight)
    k = st.chips if links is None else links
    step = decode_step(m, st, batch, context, chips=1, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
    hop = hop_time(activation_bytes(m, batch, dtype=dtype), bandwidth=bandwidth, latency=latency, links=k)
    back = hop_time(positive("batch", batch) * TOKEN_ID_BYTES, bandwidth=bandwidth, latency=latency, links=k)
    return PipelineDecode(step=step, stage=scalar_or_array(np.asarray(step.time) / p), hop=hop,
                          hop_back=back, stages=scalar_or_array(p), batch=step.batch,
                          in_flight=scalar_or_array(n))


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
    P = int(stage_count(m, stages))
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
