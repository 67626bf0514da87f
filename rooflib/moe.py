"""Mixture of experts: which weights a decode step reads, and what expert parallelism costs.

A mixture-of-experts (MoE) layer replaces one big MLP by E small ones, the experts. A router sends
each token to k of them (plus any shared experts every token uses), so a token does the arithmetic
of only k experts while all E sit in memory. Three consequences, one function each:

* Small batches read fewer weights. With B tokens each choosing k of E experts, an expert is
  untouched by one token with probability 1 - k/E, by all B with probability (1 - k/E)^B, so
      E[experts touched per MoE layer] = E * (1 - (1 - k/E)^B)           `experts_touched`
  and the step reads the always-used weights plus only those experts    `moe_weight_bytes_read`.
* Expert parallelism (EP) puts different experts on different chips. Each token's hidden vector
  (d_model numbers) travels to the chips of its k experts (dispatch) and the k results travel
  back (combine): an all-to-all per MoE layer whose time, per chip, is
      t_a2a = L_moe * sum over {dispatch, combine} of
              max(bytes over scale-up / S_up, bytes over scale-out / S_out)  `all_to_all_time`
* A step adds the all-to-all to the attention and matmul phases (overlap='none', the default,
  as engines run one micro-batch): max(t_attention, t_kv) + max(t_compute, t_weights) + t_a2a.
  In the lecture's ideal (overlap='full', an engine that exchanges one half of the batch while
  the other computes) it takes max(t_compute, t_weights + t_kv, t_a2a)     `moe_decode_step`
  and the all-to-all is hidden until the batch where it becomes the largest   `comm_exposed_batch`.
* Tensor parallelism inside one small expert: its all-reduce against the expert's matmul phase,
  which at the optimal batch is memory-bound (few tokens per expert)      `expert_tp_ratio`.

Assumptions, stated once: routing is uniform and independent between tokens (real routers are
not: popular experts exist, and DeepSeek-V3 limits each token to 4 of 8 expert groups); weights
and work are spread evenly over the chips; scale-up is a full-bandwidth switch (NVSwitch), so
every chip can send at its full one-direction link rate to any other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collectives import SCALEOUT_BANDWIDTH, SCALEOUT_SOURCE, all_reduce_time, layout
from .collectives import all_to_all_time as _a2a_phase
from .errors import context_tokens, count_result, non_negative, positive, scalar_or_array, whole_number
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .roofline import DecodeStep, decode_step, weight_bytes
from .speculative import speculative_step
from .solve import bisect
from .units import bytes_per_element


# ---- which weights a step reads -------------------------------------------------------------

def routed_expert_params(model) -> int:
    """Parameters in all routed experts of all MoE layers: L_moe * E * (3 d_model d_expert)."""
    m = lookup_model(model)
    return m.n_moe_layers * m.n_experts * m.expert_params()


def expert_sparsity(model) -> float:
    """E / k: how many routed experts sit in memory per expert a token uses (1 for a dense model).

    This is the sparsity of the routed experts alone. The whole model is less sparse
    (`Model.sparsity` = total / active) because attention, shared experts, dense layers and the
    output head are used by every token. DeepSeek-V3: 256 / 8 = 32 for the experts, 18.3 overall.
    """
    m = lookup_model(model)
    return m.n_experts / m.experts_per_token if m.is_moe else 1.0


def experts_touched(model, batch):
    """Expected number of distinct routed experts one MoE layer uses in a step of `batch` tokens.

    E * (1 - (1 - k/E)^B): each token picks k of the E experts uniformly at random (no repeats),
    independently of the other tokens; an expert is missed by one token with probability 1 - k/E.
    Batch 1 gives k; a large batch gives E. DeepSeek-V3 (E = 256, k = 8) at B = 32: 163.3.
    A dense model has no routed experts: 0. `batch` may be an array (tokens per step, > 0).
    """
    m = lookup_model(model)
    b = positive("batch", batch)
    if not m.is_moe:
        return scalar_or_array(np.zeros_like(b))
    e, k = m.n_experts, m.experts_per_token
    return scalar_or_array(e * -np.expm1(b * np.log1p(-k / e)))  # e (1 - (1 - k/e)^b), accurate


def moe_weight_bytes_read(model, batch, *, dtype: str = "bf16"):
    """Bytes of weights one decode step of `batch` tokens reads: all but the untouched experts.

    (N_total - L_moe E P_e) b_w + L_moe * experts_touched(B) * P_e * b_w, with P_e the parameters
    of one routed expert and b_w the bytes per weight. Attention, shared experts, dense layers,
    routers and the output head are read every step; of the routed experts, only those some token
    chose. The input embedding table is counted in full, as in `decode_step` (a lookup really
    reads B rows; for DeepSeek-V3 the table is 2.5 % of what batch 1 reads), so a large batch
    gives exactly `weight_bytes(model, dtype)`. A dense model always reads everything.
    """
    m = lookup_model(model)
    return scalar_or_array(_weight_bytes_read(m, positive("batch", batch), bytes_per_element(dtype)))


def _weight_bytes_read(m, b, b_w):
    # Checked model, batch and bytes per weight: the formula of `moe_weight_bytes_read`, which
    # `comm_exposed_batch`'s bisection calls directly. Dense models touch no routed experts.
    touched = m.n_experts * -np.expm1(b * np.log1p(-m.experts_per_token / m.n_experts)) if m.is_moe else 0.0 * b
    always = m.total_params - routed_expert_params(m)
    return (always + m.n_moe_layers * touched * m.expert_params()) * b_w



def expert_read_floor(model, hw, *, dtype: str = "bf16") -> float:
    """Seconds a batch-1 step needs for its routed experts when each chip reads only its own.

    With expert parallelism a layer's k touched experts sit on (at most) k different chips; each of
    them reads one expert, P_e b_w bytes, at its own bandwidth W, while the other chips hold
    nothing of that layer's choice to read. Layers run one after another, so
        t >= L_moe * P_e * b_w / W,
    however many chips share the model. Dividing the active bytes by the whole domain's bandwidth
    (as `moe_decode_step` does) is below this when the domain has many more chips than k.
    DeepSeek-V3 in fp8 on GB200 (8 TB/s): 58 x 44.04e6 / 8e12 = 319 us.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    if h.chips > 1:
        raise ValueError(f"hw must be one chip, got the {h.chips}-chip entry {h.name!r}: pass the chip "
                         f"(e.g. 'GB200'), whose bandwidth is what one expert's owner reads at")
    return m.n_moe_layers * m.expert_params() * bytes_per_element(dtype) / h.hbm_bandwidth

# ---- expert parallelism: the all-to-all ------------------------------------------------------

def dispatch_bytes_per_token(model, chips, *, dtype: str = "bf16"):
    """Bytes one token sends off its chip in ONE MoE layer's dispatch: k (1 - 1/C) d_model b.

    The token's hidden vector (d_model numbers of `dtype`) goes to each of its k experts; with
    experts spread evenly over C chips, a given expert is on the token's own chip with probability
    1/C and that copy stays local. The combine sends as many bytes back. DeepSeek-V3 over 8 chips
    in bf16: 8 x 7/8 x 7168 x 2 = 100,352 B.
    """
    m = lookup_model(model)
    c = np.asarray(whole_number("chips", chips))
    if not m.is_moe:
        return scalar_or_array(np.zeros_like(c))
    return scalar_or_array(m.experts_per_token * (1 - 1 / c) * m.d_model * bytes_per_element(dtype))


def all_to_all_time(model, hw, batch, chips, *, dispatch_dtype: str = "bf16", combine_dtype: str | None = None,
                    domain=None, scaleout_bandwidth: float = SCALEOUT_BANDWIDTH):
    """Seconds per decode step spent in the MoE all-to-alls (dispatch + combine, every MoE layer).

    P chips share the batch (B/P tokens each) and the experts (E/P each); they form domains of n
    chips joined by scale-up links (`hw.scaleup_bandwidth` S_up per chip, one direction), and the
    domains talk over scale-out NICs (`scaleout_bandwidth` S_out per chip). One of a token's k
    copies lands on a chip of its own domain (other than its own) with probability (n-1)/P and in
    another domain with probability (P-n)/P. Per chip and per phase:
        up  = (B/P) k (n-1)/P d_model b,   out = (B/P) k (P-n)/P d_model b
    The two link types work at the same time, so a phase takes max(up/S_up, out/S_out); sending
    and receiving use opposite directions of each link. Total: L_moe x (dispatch + combine).
    `domain` defaults to the chip's scale-up size (a rack() entry: its chips); pass domain=1 to
    send everything over the NICs. DeepSeek-V3, 8 x H100, B = 8, bf16: 58 x 2 x 100,352 B /
    450 GB/s = 25.9 us. A dense model, or one chip, has no all-to-all: 0.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    b = positive("batch", batch)
    sout = float(positive("scaleout_bandwidth", scaleout_bandwidth))
    p, n = layout(h, chips, domain)
    if not m.is_moe:
        return scalar_or_array(np.zeros(np.broadcast_shapes(np.shape(b), np.shape(p))))
    copies = (b / p) * m.experts_per_token * m.d_model  # numbers sent per chip per phase, before locality
    total = 0.0
    for dtype in (dispatch_dtype, combine_dtype or dispatch_dtype):
        total = total + np.asarray(_a2a_phase(copies * bytes_per_element(dtype), p, n, h.scaleup_bandwidth,
                                                 scaleout_bandwidth=sout))
    return scalar_or_array(m.n_moe_layers * total)


# ---- one decode step of an MoE model ---------------------------------------------------------

@dataclass(frozen=True)
class MoEDecodeStep(DecodeStep):
    """A `DecodeStep` whose `.weights` reads only the touched experts and whose `.comm` is the
    all-to-all of expert parallelism.

    With overlap='full' (the lecture's ideal) the three overlap and the largest sets the pace:
    `.time` = max(compute, weights + kv, comm); with overlap='none' (the default) the all-to-all
    adds to the attention and matmul phases. `.time_without_comm` is the step if the all-to-all
    were free.
    """

    @property
    def time_without_comm(self):
        """The step without its all-to-all: max(compute, weights + kv) in the lecture's ideal."""
        if self.overlap == "full":
            return scalar_or_array(np.maximum(np.add(self.compute, self.attention), self.memory))
        return scalar_or_array(np.add(self.attention_phase, self.matmul_phase))

    @property
    def comm_hidden(self):
        """True where the all-to-all fits under the longer of compute and memory."""
        hid = np.asarray(self.comm) <= np.asarray(self.time_without_comm)
        return hid.item() if hid.ndim == 0 else hid


def _with_experts(m, h, base, routed, *, dtype, dispatch_dtype, combine_dtype, domain, scaleout_bandwidth):
    """`base` (a dense step) with the MoE's weight reads and all-to-all for `routed` tokens per step."""
    weights = np.asarray(moe_weight_bytes_read(m, routed, dtype=dtype)) / (np.asarray(base.chips) * h.hbm_bandwidth)
    comm = all_to_all_time(m, h, routed, base.chips, dispatch_dtype=dispatch_dtype,
                           combine_dtype=combine_dtype, domain=domain, scaleout_bandwidth=scaleout_bandwidth)
    shape = np.shape(base.compute)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    fields.update(weights=scalar_or_array(np.broadcast_to(weights, shape)),
                  comm=scalar_or_array(np.broadcast_to(comm, shape) * np.ones(shape)))
    return MoEDecodeStep(**fields)


def moe_decode_step(model, hw, batch, context, chips=1, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                    dispatch_dtype: str = "bf16", combine_dtype: str | None = None, domain=None,
                    scaleout_bandwidth: float = SCALEOUT_BANDWIDTH, overlap: str = "none") -> MoEDecodeStep:
    """`decode_step` for a mixture of experts, with expert parallelism over `chips` chips.

    compute, attention and kv as in `decode_step`; weights = moe_weight_bytes_read(B) / (C W), so
    the latency floor at batch 1 is the read of the active weights, not of all of them; comm =
    `all_to_all_time` (0 on one chip), in place of tensor parallelism's all-reduces (attention is
    data-parallel: each chip attends for its own B/C sequences). overlap='none' (default): the
    per-phase step, max(attention, kv) + max(compute, weights) + comm; overlap='full': the
    lecture's ideal, max(compute, weights + kv, comm), no attention FLOPs. A `hw` from
    `achievable()` gives achievable rates. Arguments broadcast like `decode_step`'s.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    base = decode_step(m, h, batch, context, chips, dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
    return _with_experts(m, h, base, base.batch, dtype=dtype, dispatch_dtype=dispatch_dtype,
                         combine_dtype=combine_dtype, domain=domain, scaleout_bandwidth=scaleout_bandwidth)


def moe_speculative_step(model, hw, batch, context, chips=1, *, draft_tokens, acceptance, dtype: str = "bf16",
                         kv_dtype: str = "bf16", dispatch_dtype: str = "bf16", combine_dtype: str | None = None,
                         domain=None, scaleout_bandwidth: float = SCALEOUT_BANDWIDTH,
                         overlap: str = "none") -> MoEDecodeStep:
    """`moe_decode_step` verifying `draft_tokens` guesses per sequence (DeepSeek-V3's MTP: k = 1).

    As `speculative.speculative_step`: k + 1 positions per sequence multiply the matmul and
    attention arithmetic, the weights and cache are read once, `.tokens` = (1 - a^(k+1)) / (1 - a).
    Here the (k + 1) B positions also choose the experts read and travel in the all-to-all.
    DeepSeek-V3, a = 0.85, k = 1: 1.85 tokens per step.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    base = speculative_step(m, h, batch, context, chips, draft_tokens=draft_tokens, acceptance=acceptance,
                            dtype=dtype, kv_dtype=kv_dtype, overlap=overlap)
    return _with_experts(m, h, base, np.asarray(base.positions) * np.asarray(base.batch),
                         dtype=dtype, dispatch_dtype=dispatch_dtype, combine_dtype=combine_dtype, domain=domain,
                         scaleout_bandwidth=scaleout_bandwidth)


def comm_exposed_batch(model, hw, context, chips, *, dtype: str = "bf16", kv_dtype: str = "bf16",
                       dispatch_dtype: str = "bf16", combine_dtype: str | None = None, domain=None,
                       scaleout_bandwidth: float = SCALEOUT_BANDWIDTH):
    """Smallest batch at which the all-to-all takes longer than both compute and memory; inf if never.

    A question of the lecture's ideal (overlap='full'): an engine that overlaps the exchange with
    the rest of the step hides it until then. In the per-phase step it always adds.

    All-to-all and compute both grow in proportion to B, so their ratio r = t_a2a / t_compute does
    not depend on the batch: if r <= 1 the all-to-all hides under compute (or under memory, which
    is larger at small B) at every batch, and the answer is inf. If r > 1 it surfaces where it
    overtakes the memory time, weights(B) + kv(B): solved here by bisection (memory is concave in
    B, the all-to-all linear, so they cross once). Returns 1.0 if it is already exposed at B = 1.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    s = non_negative("context", context)
    one = moe_decode_step(m, h, np.ones_like(s), s, chips, dtype=dtype, kv_dtype=kv_dtype,
                          dispatch_dtype=dispatch_dtype, combine_dtype=combine_dtype, domain=domain,
                          scaleout_bandwidth=scaleout_bandwidth, overlap="full")
    comm1, compute1, kv1 = (np.asarray(x, dtype=float) for x in (one.comm, one.compute, one.kv))
    if not m.is_moe:
        return scalar_or_array(np.full(np.shape(comm1), np.inf))
    # memory(B) = w_always + w_experts (1 - q^B) + kv1 B: `moe_weight_bytes_read`'s equation (its
    # kernel, `_weight_bytes_read`) with the per-byte time folded into its two constants, so the
    # 60 halvings below cost a few array operations each. (Calling the kernel instead moves the
    # answer in its 16th digit, which chapter 3's committed outputs would register.)
    per_byte = bytes_per_element(dtype) / (np.asarray(one.chips) * h.hbm_bandwidth)
    w_always = (m.total_params - routed_expert_params(m)) * per_byte
    w_experts = routed_expert_params(m) * per_byte
    log_q = np.log1p(-m.experts_per_token / m.n_experts)

    def over(log10_b):  # +1 where the all-to-all outlasts memory at B = 10^log10_b, else -1
        b = 10.0 ** np.asarray(log10_b)
        return np.where(comm1 * b > w_always - w_experts * np.expm1(b * log_q) + kv1 * b, 1.0, -1.0)

    shape = np.shape(comm1)
    never = (comm1 <= compute1) | (over(np.full(shape, 12.0)) < 0)  # hidden under compute, or never outgrows memory
    exposed_at_one = ~np.asarray(one.comm_hidden)
    crossing = 10.0 ** np.asarray(bisect(over, np.zeros(shape), 12.0, iters=60, end="upper"))  # B from 1 to 10^12
    out = np.where(never, np.inf, np.where(exposed_at_one, 1.0, crossing))
    return scalar_or_array(out)


# ---- fitting a model in a domain ---------------------------------------------------------------

def chips_needed(model, hw, batch=0, context=0, *, dtype: str = "bf16", kv_dtype: str = "bf16"):
    """Fewest chips whose HBM holds the weights plus `batch` caches of `context` tokens.

    ceil((N_total b_w + B S kv_bytes_per_token) / M). A rack() entry counts racks. Activations and
    fragmentation are ignored, so real deployments need a little more. DeepSeek-V3 in fp8 on
    H100 (80 GB): ceil(671.0 GB / 80 GB) = 9 chips, one more than an 8-GPU server has.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    b = non_negative("batch", batch)
    s = context_tokens(m, context)
    kv = b * s * kv_bytes_per_token(m, np.maximum(s, 1), dtype=kv_dtype)
    return count_result(np.ceil((weight_bytes(m, dtype) + kv) / h.hbm_capacity), "chips needed (batch x context)")


# ---- tensor parallelism inside one expert ------------------------------------------------------

def tp_comm_ratio(model, hw, tp, *, dtype: str = "bf16", width=None):
    """All-reduce time / matmul time for one gated MLP (an expert) split `tp` ways by tensor parallelism.

    Each of t chips holds d x f/t slices of the gate and up matrices and an f/t x d slice of the down
    matrix. For m tokens it computes 6 m d f / t FLOPs, then all-reduces its partial m x d output:
    2 (t-1)/t m d b bytes each way per chip (ring). Time ratio:
        [2 (t-1)/t m d b / S] / [6 m d f / (t F)] = (t-1) b F / (3 f S)
    m and d cancel: only the MLP width f (`width`, default the model's d_expert, or d_ff when dense)
    and the chip's F/S decide. Below 1 the all-reduce can hide under the matmuls.
    DeepSeek-V3 expert (f = 2048) on 8 x H100, bf16: 7 x 2 x 989.4e12 / (3 x 2048 x 450e9) = 5.0.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    t = np.asarray(whole_number("tp", tp))
    f = positive("width", width if width is not None else (m.d_expert if m.is_moe else m.d_ff))
    return scalar_or_array((t - 1) * bytes_per_element(dtype) * h.flops_for(dtype)
                           / (3 * f * h.scaleup_bandwidth))


def expert_tp_ratio(model, hw, tp, tokens, *, dtype: str = "bf16"):
    """All-reduce time / matmul-phase time of one expert split `tp` ways, at `tokens` tokens per expert.

    The per-phase version of `tp_comm_ratio`. Each of t chips multiplies its slice of the expert's
    three matrices; the phase takes max(6 m d f / (t F), 3 d f b / (t W)), the longer of its
    arithmetic and its weight reads. The all-reduce of the m x d output is `collectives`' ring,
    with its latencies: base + 2 (t-1) x step latency + 2 (t-1)/t x m d b / S. At the few tokens
    an expert sees near the optimal batch the matmul is memory-bound, so the bandwidth-only
    `tp_comm_ratio` (arithmetic alone) overstates the transfer's share, and the latency, which
    does not shrink with m, comes back on top. DeepSeek-V3 expert on 8 x H100, bf16, 169 tokens:
    (10.2 + 9.4) us / 3.29 us = 6.0 (against 5.0 from arithmetic alone).
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    t = np.asarray(whole_number("tp", tp))
    tok = np.asarray(positive("tokens", tokens))
    f = m.d_expert if m.is_moe else m.d_ff
    b = bytes_per_element(dtype)
    matmul = np.maximum(6 * tok * m.d_model * f / (t * h.flops_for(dtype)),
                        3 * m.d_model * f * b / (t * h.hbm_bandwidth))
    reduce = all_reduce_time(tok * m.d_model * b, t, h.scaleup_bandwidth, h.scaleup_latency)
    return scalar_or_array(np.asarray(reduce) / matmul)


# ---- any step, with the experts a batch of positions touches ------------------------------------

def with_experts(model, hw, step: DecodeStep, tokens, *, dtype: str = "bf16", dispatch_dtype: str = "bf16",
                 combine_dtype: str | None = None, domain=None,
                 scaleout_bandwidth: float = SCALEOUT_BANDWIDTH) -> MoEDecodeStep:
    """`step` (a dense-model step of `model` on `hw`: decode, mixed, speculative) made expert-parallel:
    its weights become `moe_weight_bytes_read(tokens)` / (C W) and its comm the `all_to_all_time`
    of `tokens`, the positions routed through the MoE layers in one step (batch x positions).

    The rest of `step` (compute, attention, kv, overlap) is kept, as `moe_decode_step` does:
    moe_decode_step(B) == with_experts(decode_step(B), B). A continuous-batching step of d decoding
    sequences and p prompt tokens routes d + p tokens (`service.mixed_step`).
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    if not isinstance(step, DecodeStep):
        raise TypeError(f"step must be a DecodeStep, got {type(step).__name__}")
    return _with_experts(m, h, step, positive("tokens", tokens), dtype=dtype, dispatch_dtype=dispatch_dtype,
                         combine_dtype=combine_dtype, domain=domain, scaleout_bandwidth=scaleout_bandwidth)
