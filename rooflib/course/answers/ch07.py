"""Answer keys for chapter 7, "Trading compute for memory".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/07_compute_vs_memory.ipynb.
"""
from __future__ import annotations

import math

import numpy as np

from ... import memory_trade as mt
from ...context import attention_intensity
from ...models import model
from ...roofline import decode_step
from ..variants import BATCHES, CHIPS, CONTEXTS, MODELS, first, setups
from . import register, written

# ---- 07.1: a decode step without the cache ---------------------------------------------------
NO_CACHE = setups(model=MODELS, chip=CHIPS, chips=first(8, [4, 2, 8]), batch=first(64, BATCHES),
                  context=first(4096, CONTEXTS))


def _no_cache(v):
    return mt.step_time_without_cache(v["model"], v["chip"], v["batch"], v["context"], v["chips"])


def _no_cache_hints(v):
    with_cache = decode_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"], overlap="full").time
    return [(with_cache / _no_cache(v), "That is the step WITH the cache. Without it, every sequence "
                                        "pushes its whole history (S + 1 tokens) through the weights."),
            (1 / v["batch"], "Every one of the B sequences recomputes its own history: multiply by the batch."),
            (1 / (v["context"] + 1), "Each sequence recomputes S + 1 tokens, not one.")]


register(
    "07.1", _no_cache, rel=0.03, unit="s", variants=NO_CACHE, hints=_no_cache_hints,
    question="Seconds per decode step if the server kept no KV cache: each of `batch` sequences "
             "recomputes its `context` past tokens plus the new one (2 N_active FLOPs per token, "
             "bf16, `chips` chips; weights still read once; ignore attention FLOPs).")

# ---- 07.2: decode-attention intensity, GQA vs MLA ----------------------------------------------
ATT_MODELS = ["DeepSeek-V3", "Llama 3.1 70B", "Kimi K2", "Qwen3-235B-A22B", "Llama 3.1 405B",
              "Mixtral 8x7B", "Llama 3.1 8B"]


def _att_hints(v):
    m = model(v["model"])
    out = [(2.0, "A bf16 number takes 2 bytes: divide the FLOPs by BYTES read, not numbers.")]
    if m.attention == "mla":
        scores = 2 * m.n_heads * (m.kv_lora_rank + m.qk_rope_head_dim)
        total = scores + 2 * m.n_heads * m.kv_lora_rank
        out.append((scores / total, "Count both products for every head: the scores against the "
                                    "latent + rotary key, AND the weighted sum of the latents."))
        out.append((1 / m.n_heads, "Every one of the heads does its own dot products with the "
                                   "shared latent: multiply by n_heads."))
    else:
        out.append((0.5, "Count both products per query head: q.k for the scores AND the weighted "
                          "sum of the values."))
        out.append((m.n_kv_heads / m.n_heads, "Every QUERY head does its own dot products; the cache "
                                              "holds only the KV heads."))
    return out


register(
    "07.2", lambda v: attention_intensity(v["model"]), unit="FLOP/byte",
    variants={"model": ATT_MODELS}, hints=_att_hints,
    question="Arithmetic intensity of decode attention, FLOPs per byte of bf16 KV cache read, for "
             "one query token (long context: every layer attends to every cached token).")

# ---- 07.3: activation bytes of one layer ------------------------------------------------------
ACT = {"model": first("Llama 3.1 70B", ["Llama 3.1 8B", "Llama 3.1 405B", "Mixtral 8x7B",
                                         "Qwen3-235B-A22B", "Gemma 3 27B"]),
       "seq": [4096, 2048, 8192, 16384], "batch": [1, 2, 4, 8]}


def _act(v, scores=True):
    m = model(v["model"])
    return mt.activation_bytes_per_layer(v["seq"], v["batch"], m.d_model, m.n_heads, store_scores=scores)


register(
    "07.3", _act, unit="B", variants=ACT,
    hints=lambda v: [(_act(v, False) / _act(v), "The attention score matrices are stored too: add "
                                                "the 5 a s / h term (a = n_heads, h = d_model)."),
                     (1 / v["batch"], "Every sequence of the micro-batch stores its own activations: "
                                      "multiply by b.")],
    question="Bytes one transformer layer stores for its backward pass, Korthikanti et al.'s "
             "s b h (34 + 5 a s / h) with h = d_model and a = n_heads, attention scores stored.")

# ---- 07.4: the best checkpoint interval ---------------------------------------------------------
CKPT = {"model": first("Llama 3.1 70B", ["Llama 3.1 8B", "Llama 3.1 405B", "DeepSeek-V3",
                                          "Qwen3-235B-A22B", "Kimi K2"]),
        "seq": [8192, 4096, 16384, 32768]}


def _plan(v):
    return mt.activation_plan(v["model"], v["seq"], 1, store_scores=False)


def _sqrt_rule_hint(v):
    p = _plan(v)
    k = max(1, round(math.sqrt(p.n_layers)))
    wrong = mt.checkpointed_activation_bytes(p.n_layers, k, p.layer, p.checkpoint)
    return [(wrong / p.checkpointed, "k = sqrt(L) is optimal only when a checkpoint is as big as a "
                                     "layer's activations. Here c = 2 s b h and A = 34 s b h: use "
                                     "k* = sqrt(L c / A), and try the whole numbers around it."),
            (p.none / p.checkpointed, "That is keeping every activation (L A). With checkpoints every "
                                      "k layers: ceil(L / k) c + k A."),
            (p.every_layer / p.checkpointed, "Checkpointing every layer (k = 1) is close, but not the "
                                             "minimum here: try k = 2 and 3 as well.")]


register(
    "07.4a", lambda v: _plan(v).best_k, rel=0.01, unit="layers", variants=CKPT,
    hints=lambda v: [(max(1, round(math.sqrt(model(v["model"]).n_layers))) / _plan(v).best_k,
                      "sqrt(L) assumes a checkpoint as large as a layer's activations; here it is "
                      "17x smaller: k* = sqrt(L c / A).")],
    question="The whole number of layers k per segment that minimises peak activation memory "
             "ceil(L / k) c + k A, with c = 2 s h and A = 34 s h (micro-batch 1, scores not stored).")

register(
    "07.4b", lambda v: _plan(v).checkpointed, rel=0.02, unit="B", variants=CKPT, hints=_sqrt_rule_hint,
    question="Peak activation bytes at that best k: ceil(L / k) c + k A (micro-batch 1, scores not stored).")

# ---- 07.5: what recomputation costs a training run ----------------------------------------------
RUNS = {"model": ["Llama 3.1 70B", "Llama 3.1 8B", "Llama 3.1 405B", "DeepSeek-V3", "Qwen3-235B-A22B"],
        "tokens": [15e12, 2e12, 10e12, 36e12]}


def _run_flops(v):
    m = model(v["model"])
    return float(mt.training_flops_per_token(m.active_params, m.n_layers, 1)) * v["tokens"]


def _run_hints(v):
    m = model(v["model"])
    base = 6.0 * m.active_params * v["tokens"]
    return [(base / _run_flops(v), "That is 6 N D without recomputation. Recomputing the forward "
                                   "pass of L - 1 layers adds 2 N D (L - 1) / L."),
            (m.total_params / m.active_params, "Training FLOPs use the ACTIVE parameters: a token "
                                               "only multiplies the experts it is routed to.")]


register(
    "07.5", _run_flops, rel=0.02, unit="FLOP", variants=RUNS, hints=_run_hints,
    question="Training FLOPs of the run with activation checkpointing at every layer (k = 1, the "
             "last layer not recomputed): (6 + 2 (L - 1) / L) N_active D.")

# ---- 07.6: invert a reversible block ----------------------------------------------------------
SEEDS = {"seed": list(range(12))}


def reversible_puzzle(seed: int):
    """(F, G, y1, y2) of one reversible block: F and G are callables, y the block's outputs.

    The inputs were x1, x2 ~ N(0, 1), shape (4, 8). Only the block's functions and outputs are
    handed out; rebuilding the inputs is the exercise.
    """
    rng = np.random.default_rng(1000 + int(seed))
    f = mt.TanhMLP.random(8, 16, rng, scale=2.0)
    g = mt.TanhMLP.random(8, 16, rng, scale=2.0)
    x1, x2 = rng.standard_normal((2, 4, 8))
    y1, y2 = mt.ReversibleBlock(f, g).forward(x1, x2)
    return f, g, y1, y2


def _true_inputs(seed: int):
    rng = np.random.default_rng(1000 + int(seed))
    mt.TanhMLP.random(8, 16, rng, scale=2.0)
    mt.TanhMLP.random(8, 16, rng, scale=2.0)
    return rng.standard_normal((2, 4, 8))


register(
    "07.6", lambda v: float((_true_inputs(v["seed"])[0] ** 2).sum()), rel=1e-6, unit="",
    variants=SEEDS,
    question="Rebuild the inputs of a reversible block y1 = x1 + F(x2), y2 = x2 + G(y1) from its "
             "outputs, and give the sum of the squares of the entries of x1. A correct inverse is "
             "exact to round-off, so the tolerance is tight.")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("07.7", 'When is recomputation free? Which resource is idle in training and in MLA '
        'decode, and why does no server recompute its KV cache?')
written("07.8", 'Why must a cipher have the avalanche effect while a trained reversible network '
        'must not?')
