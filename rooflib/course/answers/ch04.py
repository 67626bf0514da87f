"""Answer keys for chapter 4, "Pipelining".

Each expected value is computed with rooflib (mostly `rooflib.pipeline`) for the student's variant
(see rooflib.course.variants). The exercises themselves live in solutions/04_pipelining.ipynb.
"""
from __future__ import annotations

import itertools

import numpy as np

from ... import pipeline as pl
from ... import roofline as rf
from ...hardware import hardware
from ...models import model
from . import register, written

# ---- the pools ---------------------------------------------------------------------------------
PIPE_MODELS = ["Llama 3.1 405B", "DeepSeek-V3", "Kimi K2", "Qwen3-235B-A22B", "Llama 3.1 70B"]
PIPE_CHIPS = ["H100 SXM", "H200 SXM", "B200", "MI300X"]   # 8-GPU scale-up domains
PIPE_DTYPES = ["bf16", "fp8"]
PIPE_STAGES = [4, 2, 8, 16]
PIPE_BATCHES = [16, 8, 32, 64]
PIPE_CONTEXTS = [8192, 4096, 16384, 32768]


def _pipeline_setups() -> list[dict]:
    """Every (model, chip, dtype, stages, batch, context) whose micro-batches fit in the stages.

    A setup is kept when its stage count is at least `pl.min_stages` for that micro-batch (the
    weights / P plus the micro-batch's KV cache fit in one 8-GPU domain) and at most the layers.
    The first setup is the book's default: Llama 3.1 405B, 8 x H100, bf16, 4 stages, 16 x 8,192.
    """
    out = []
    batch, context = np.meshgrid(PIPE_BATCHES, PIPE_CONTEXTS, indexing="ij")
    for m, h, dt in itertools.product(PIPE_MODELS, PIPE_CHIPS, PIPE_DTYPES):
        if dt not in hardware(h).flops:
            continue
        need = pl.min_stages(m, h, batch, context, dtype=dt)   # one vectorised call per (m, h, dt)
        for p in PIPE_STAGES:
            if p > model(m).n_layers:
                continue
            for i, b in enumerate(PIPE_BATCHES):
                for j, s in enumerate(PIPE_CONTEXTS):
                    if need[i, j] <= p:
                        out.append(dict(model=m, chip=h, dtype=dt, stages=p, batch=b, context=s))
    return out


SETUPS = _pipeline_setups()


def _mem(v):
    return pl.stage_memory(v["model"], v["chip"], v["stages"], v["batch"], v["context"], dtype=v["dtype"])


def _chips(v):
    return pl.stage_hardware(v["chip"]).chips


# ---- 04.1: memory per chip ---------------------------------------------------------------------
def _weights_hints(v):
    p, c = v["stages"], _chips(v)
    return [(c, f"That is per stage: a stage's {c} chips share its weights, so divide by them too."),
            (p, "Each stage holds only its own 1/P of the layers, so 1/P of the weights.")]


register(
    "04.1a", lambda v: _mem(v).weights, unit="B", variants=SETUPS, hints=_weights_hints,
    question="Bytes of weights on each chip when the model is split into `stages` pipeline stages, "
             "each stage one 8-chip scale-up domain (weights in the variant's dtype).")


def _kv_hints(v):
    p, c = v["stages"], _chips(v)
    return [(1 / p, "The KV cache does NOT shrink with the stages: P micro-batches are in flight, "
                    "each keeping its cache for this stage's 1/P of the layers. P x 1/P = 1."),
            (p, "Each micro-batch keeps only this stage's 1/P of the layers' cache here: P "
                "micro-batches x 1/P of the layers."),
            (c, f"That is per stage: divide by the stage's {c} chips.")]


register(
    "04.1b", lambda v: _mem(v).kv, unit="B", variants=SETUPS, hints=_kv_hints,
    question="Bytes of KV cache on each chip when `stages` micro-batches of `batch` sequences of "
             "`context` tokens are in flight (bf16 cache).")

# ---- 04.2: where the cache takes over ----------------------------------------------------------
register(
    "04.2a", lambda v: pl.kv_crossover_stages(v["model"], v["batch"], v["context"], dtype=v["dtype"]),
    unit="stages", variants=SETUPS,
    hints=lambda v: [(_chips(v), "Both sides are per stage (or both per chip): the chips cancel.")],
    question="The number of stages P* at which a stage's weights equal its KV cache, W / (B S k).")


def _ceiling_hints(v):
    w_share = rf.weight_bytes(v["model"], v["dtype"]) / v["stages"]
    cap = pl.stage_hardware(v["chip"]).hbm_capacity
    return [((cap - w_share) / cap, "That is the largest micro-batch at THIS number of stages. The "
                                    "ceiling is the limit P -> infinity, where the weights per "
                                    "stage vanish."),
            (1 / _chips(v), "Use the HBM of the whole stage (all its chips), not of one chip.")]


register(
    "04.2b", lambda v: pl.kv_batch_ceiling(v["model"], v["chip"], v["context"]),
    unit="sequences", variants=SETUPS, hints=_ceiling_hints,
    question="The largest micro-batch any number of stages could hold: one stage's whole HBM "
             "filled with KV cache, C M / (S k).")

# ---- 04.3: the bubble --------------------------------------------------------------------------
BUBBLES = {"stages": [4, 2, 8, 16, 6], "microbatches": [8, 4, 12, 16, 24, 32], "interleave": [2, 3, 4]}


def _bubble_hints(v):
    p, m = v["stages"], v["microbatches"]
    return [((m + p - 1) / m, "(P - 1) / M is the idle time relative to the IDEAL (bubble-free) "
                              "step, Megatron's form. The question asks for the share of the "
                              "whole step: divide by M + P - 1."),
            ((m + p - 1) / (m + p), "Off by one: the pipe fills in P - 1 slots, not P.")]


register(
    "04.3a", lambda v: pl.bubble_fraction(v["stages"], v["microbatches"]), unit="", variants=BUBBLES,
    hints=_bubble_hints,
    question="Idle fraction of a GPipe training step with `stages` stages and `microbatches` "
             "micro-batches (every device, forward and backward, fill and drain).")


def _interleave_hints(v):
    p, m, k = v["stages"], v["microbatches"], v["interleave"]
    return [((k * m + p - 1) / (k * (m + p - 1)), "Interleaving divides the idle TIME by v, not the "
                                                  "fraction: (P-1)/v idle out of M + (P-1)/v.")]


register(
    "04.3b", lambda v: pl.bubble_fraction(v["stages"], v["microbatches"], interleave=v["interleave"]), unit="",
    variants=BUBBLES, hints=_interleave_hints,
    question="Idle fraction of the same step when each device holds `interleave` chunks of layers.")

# ---- 04.4: the hops of a decode token ----------------------------------------------------------
HOPS = {"model": ["Llama 3.1 405B", "DeepSeek-V3", "Kimi K2", "Llama 3.1 70B"],
        "batch": [16, 64, 256, 1024], "stages": [4, 2, 8, 16], "latency_us": [5, 10, 30]}


def _hop(v, nbytes):
    return pl.hop_time(nbytes, latency=v["latency_us"] * 1e-6, links=8)


def _hop_hints(v):
    act = pl.activation_bytes(v["model"], v["batch"])
    h = _hop(v, act)
    one_nic = pl.hop_time(act, latency=v["latency_us"] * 1e-6, links=1)
    bits = pl.hop_time(act, bandwidth=400e9, latency=v["latency_us"] * 1e-6, links=8)
    return [(one_nic / h, "Each of the stage's 8 GPUs sends its share through its own NIC: 8 x 50 GB/s."),
            (bits / h, "400 Gb/s is in BITS per second: 50e9 bytes per second."),
            ((h - v["latency_us"] * 1e-6) / h, "Add the fixed latency of the hop.")]


register(
    "04.4a", lambda v: _hop(v, pl.activation_bytes(v["model"], v["batch"])), unit="s", variants=HOPS,
    hints=_hop_hints,
    question="Seconds for one activation hop between stages: latency + B x d_model x 2 bytes over 8 "
             "NICs of 400 Gb/s (one per GPU of the stage).")


def _hops_total(v):
    p = v["stages"]
    return (p - 1) * _hop(v, pl.activation_bytes(v["model"], v["batch"])) + _hop(v, v["batch"] * pl.TOKEN_ID_BYTES)


def _hops_hints(v):
    p = v["stages"]
    h = _hop(v, pl.activation_bytes(v["model"], v["batch"]))
    back = _hop(v, v["batch"] * pl.TOKEN_ID_BYTES)
    total = _hops_total(v)
    hints = [(p * h / total, "The hop back to the first stage carries only the sampled token ids "
                             "(4 bytes per sequence), not activations."),
             ((p - 1) * h / total, "Do not forget the hop that brings the sampled tokens back to "
                                   "the first stage.")]
    if p > 2:
        hints.append(((p - 2) * h / total + back / total, "P stages have P - 1 boundaries between them."))
    return hints


register(
    "04.4b", _hops_total, unit="s", variants=HOPS, hints=_hops_hints,
    question="Network seconds on one token's path through `stages` stages: P - 1 activation hops "
             "and one hop carrying the sampled token ids (4 bytes per sequence) back.")

# ---- 04.5: how big must a training micro-batch be? ---------------------------------------------
THRESHOLD = {"model": ["Llama 3.1 405B", "DeepSeek-V3", "Kimi K2", "Mixtral 8x7B", "Llama 3.1 70B",
                       "Qwen3-235B-A22B"],
             "chip": ["H100 SXM", "B200", "MI300X", "TPU v5p", "GB200"]}


def _threshold_hints(v):
    return [(0.5, "That is the DECODE optimal batch B*. Training does 6 FLOPs per parameter per "
                  "token (2 forward + 4 backward) and, per micro-batch, reads the weights twice and "
                  "reads and writes the fp32 gradient buffer: 12 bytes per parameter in bf16."),
            (1 / 3, "You counted the weight reads only. Each micro-batch also adds its gradient into "
                    "the fp32 accumulation buffer: 4 bytes read and 4 written per parameter."),
            (2 / 3, "The gradient buffer is fp32: 4 bytes read plus 4 written per parameter, 8 in all."),
            (10 / 12, "The backward pass reads the weights again: two reads per micro-batch."),
            (1 / model(v["model"]).sparsity,
             "Total vs active: the arithmetic uses the ACTIVE parameters, the traffic covers ALL of them.")]


register(
    "04.5", lambda v: pl.min_microbatch_tokens(v["model"], v["chip"]), rel=0.03, unit="tokens",
    variants=THRESHOLD, hints=_threshold_hints,
    question="Tokens a training micro-batch needs (bf16) for a stage's arithmetic (6 FLOPs per "
             "active parameter per token) to take as long as its memory traffic: reading its "
             "weights twice and reading and writing the fp32 gradient buffer (8 bytes per parameter).")

# ---- 04.6: Llama 3's pipeline -------------------------------------------------------------------
# The first setup is Llama 3 405B's published pre-training step (arXiv:2407.21783, Table 4): 16M
# (16 x 2^20) tokens of 8,192-token sequences, 16 pipeline stages, 128-way data parallelism. The
# others are what-ifs of the same run (another batch, sequence length, depth or data parallelism),
# kept when every pipeline gets a whole number of sequences.
LLAMA3_STEP = {"tokens": 16 * 2**20, "seq_len": 8192, "stages": 16, "dp": 128}
STEP_TOKENS = [16 * 2**20, 4 * 2**20, 8 * 2**20, 32 * 2**20]
STEP_SEQ_LENS = [8192, 2048, 4096, 16384]
STEP_STAGES = [16, 4, 8, 12, 24]
STEP_DP = [128, 16, 32, 64, 256]


def _llama3_setups() -> list[dict]:
    out = []
    for t, s, p, d in itertools.product(STEP_TOKENS, STEP_SEQ_LENS, STEP_STAGES, STEP_DP):
        if (t // s) % d == 0 and t // s // d >= 1:
            out.append(dict(tokens=t, seq_len=s, stages=p, dp=d))
    assert out[0] == LLAMA3_STEP
    return out


LLAMA3 = _llama3_setups()


def _microbatches(v) -> int:
    return v["tokens"] // v["seq_len"] // v["dp"]


register(
    "04.6a", _microbatches, unit="micro-batches", variants=LLAMA3,
    hints=lambda v: [(v["dp"], f"The batch is shared by {v['dp']} data-parallel pipelines."),
                     (8, "Count sequences, not GPUs of a tensor-parallel group: sequences per step / "
                         "pipelines."),
                     (1e6 / 2**20, "16M tokens here means 16 x 2^20, as in the Llama 3 paper.")],
    question="Micro-batches of one sequence per pipeline per step: `tokens` per step in sequences of "
             "`seq_len` tokens, shared by `dp` data-parallel pipelines.")


def _llama3_bubble_hints(v):
    p, m = v["stages"], _microbatches(v)
    return [((m + p - 1) / m, "(P - 1) / M is relative to the ideal step; the idle share of the "
                              "whole step is (P - 1) / (M + P - 1).")]


register(
    "04.6b", lambda v: pl.bubble_fraction(v["stages"], _microbatches(v)), unit="",
    variants=LLAMA3, hints=_llama3_bubble_hints,
    question="The GPipe/1F1B bubble of that step with `stages` pipeline stages.")

# ---- 04.8: balancing stages ---------------------------------------------------------------------
BALANCE = {"model": ["Kimi K2", "DeepSeek-V3", "Llama 3.1 405B", "Qwen3-235B-A22B", "gpt-oss-120b"],
           "stages": [16, 8, 4, 12]}


def _no_head(v):
    b = pl.stage_balance(v["model"], v["stages"])
    m = model(v["model"])
    active = b.active.copy()
    active[-1] -= m.vocab * m.d_model
    return float(active.max() / active.mean())


register(
    "04.8", lambda v: pl.stage_balance(v["model"], v["stages"]).imbalance, rel=0.01, unit="",
    variants=BALANCE,
    hints=lambda v: [(_no_head(v) / pl.stage_balance(v["model"], v["stages"]).imbalance,
                      "The last stage also multiplies the output head, vocabulary x d_model "
                      "weights per token.")],
    question="Slowest stage / average stage, in active parameters, for an even contiguous split "
             "of the layers (first stages take the extra layers; the head sits on the last stage).")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("04.7", "Why can the next training step's forward passes not run in the pipeline's idle "
        'slots, and why does decoding have no such bubble?')
