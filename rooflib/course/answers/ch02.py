"""Answer keys for chapter 2, "The KV cache and context length".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/02_kv_cache.ipynb.
"""
from __future__ import annotations

import functools

from ... import context as cx
from ... import roofline as rf
from ...hardware import hardware
from ...kv import kv_bytes_per_token, redesign
from ...models import model
from ..variants import BATCHES, CHIPS, MODELS, first, setups
from . import register, written


def _full(name):
    """The model as if no layer had a sliding window (the classic slip for Gemma 3, gpt-oss)."""
    m = model(name)
    return redesign(m, f"{m.name} without windows", n_window_layers=0, window=0) if m.n_window_layers else m


# ---- 02.1: bytes per token from the configuration ------------------------------------------------
def _kv_hints(v):
    m = model(v["model"])
    if m.attention == "mla":
        wrong_mha = 2 * m.n_heads * (m.head_dim + m.qk_rope_head_dim) * m.n_layers * 2
        return [(wrong_mha / kv_bytes_per_token(m),
                 "That is a cache of full keys and values for every head. MLA stores one compressed "
                 "latent (kv_lora_rank numbers) plus one shared rotary key (qk_rope_head_dim) per "
                 "layer, whatever the number of heads."),
                (2.0, "MLA stores ONE latent per layer, not a separate key and value: no factor 2 for K and V.")]
    hints = [(m.n_heads / m.n_kv_heads,
              "Keys and values are stored per KV head (n_kv_heads), not per query head (n_heads): "
              "in grouped-query attention several query heads share one key and one value.")]
    if m.n_kv_heads == 1:
        hints = []
    return hints


register(
    "02.1", lambda v: kv_bytes_per_token(v["model"]), unit="B", rel=0.01,
    variants={"model": first("Llama 3.1 70B", MODELS)}, hints=_kv_hints,
    question="KV-cache bytes per token of context for the model, bf16 cache, at a short context "
             "(every layer, windowed or not, stores every token).")


# ---- 02.2: the Goldilocks context ------------------------------------------------------------------
def _gold_hints(v):
    m = model(v["model"])
    s = cx.goldilocks_context(m, v["chip"])
    hints = [(cx.goldilocks_context(_full(m), v["chip"]) / s,
              "Sliding windows: the local layers stop storing (and reading) tokens past their "
              "window, so kv(S) is NOT S x (bytes per token with every layer). Solve "
              "kv(S*) = 2 N_active / I* with the windows respected.")] if m.n_window_layers else []
    hints.append((2.0, "A decode token costs 2 FLOPs (a multiply and an add) per active parameter; "
                       "and the bf16 cache takes 2 bytes per number. Check both."))
    return hints


register(
    "02.2", lambda v: cx.goldilocks_context(v["model"], v["chip"]), unit="tokens",
    variants={"model": first("Llama 3.1 70B", MODELS), "chip": CHIPS}, hints=_gold_hints,
    question="Goldilocks context S*: the context at which, per sequence, reading the KV cache "
             "(bf16) takes as long as the arithmetic (bf16): 2 N_active / F = kv(S*) / W.")


# ---- 02.3: doubling the context past S* at a fixed batch -----------------------------------------
@functools.lru_cache(maxsize=None)
def _doubling_setups() -> tuple:
    """(model, chip, chips, batch) whose batch still fits in HBM at 2 S* (bf16 weights and cache)."""
    out = []
    for name in first("Llama 3.1 70B", MODELS):
        m = model(name)
        for chip in CHIPS:
            h = hardware(chip)
            s2 = 2 * cx.goldilocks_context(m, h)
            if s2 > m.context_length:
                continue
            for chips in (8, 4):
                if chips > h.scaleup_size:
                    continue
                for batch in (512, 256, 1024):
                    if rf.max_batch(m, h, s2, chips) >= batch:
                        out.append({"model": name, "chip": chip, "chips": chips, "batch": batch})
    return tuple(out)


def _mfu(v, factor):
    """MFU in the lecture's ideal (overlap="full"), as the exercise states it."""
    s = factor * cx.goldilocks_context(v["model"], v["chip"])
    return rf.decode_step(v["model"], v["chip"], v["batch"], s, v["chips"], overlap="full").mfu


def _ceiling_hint(v):
    return [(0.5 / _mfu(v, 2), "One half is the CEILING, reached only as the batch grows without "
                               "bound. At a fixed batch the weight reads still add to the memory time.")]


register(
    "02.3a", lambda v: _mfu(v, 1), rel=0.01, unit="", variants=list(_doubling_setups()),
    hints=lambda v: [(1.0 / _mfu(v, 1), "At S* the cache reads take as long as the compute, but the "
                                        "weights must be read too: memory time = weights + KV, not the "
                                        "larger of the two.")],
    question="MFU (compute time / step time, as a fraction) of a decode step at the Goldilocks "
             "context S*, at the variant's batch and chips (bf16), in the lecture's ideal: "
             "step time = max(compute, weight reads + KV reads) (overlap='full').")

register(
    "02.3b", lambda v: _mfu(v, 2), rel=0.01, unit="", variants=list(_doubling_setups()), hints=_ceiling_hint,
    question="MFU of the same decode step at twice the Goldilocks context, 2 S*, in the lecture's "
             "ideal (overlap='full').")


# ---- 02.4: where the cache outweighs the weights -------------------------------------------------
def _eq_hints(v):
    m = model(v["model"])
    hints = [(2.0, "bf16 weights take 2 bytes per parameter, and so does each cached number.")]
    if m.n_window_layers:
        s = cx.cache_equals_weights_context(m, v["batch"])
        hints.append((cx.cache_equals_weights_context(_full(m), v["batch"]) / s,
                      "Respect the sliding windows: past its window a local layer stores no more tokens."))
    return hints


register(
    "02.4", lambda v: cx.cache_equals_weights_context(v["model"], v["batch"]), unit="tokens",
    variants={"model": first("Llama 3.1 70B", MODELS), "batch": first(64, BATCHES)}, hints=_eq_hints,
    question="Context at which the KV caches of `batch` sequences (bf16) take as many bytes as the "
             "model's bf16 weights.")


# ---- 02.5: a prefill step ---------------------------------------------------------------------------
PREFILLS = setups(model=MODELS, chip=CHIPS, chips=first(8, [8, 4, 2, 1]), context=[4096, 1024, 16384, 32768])


def _prefill(v, overlap="full"):
    return cx.prefill_step(v["model"], v["chip"], v["context"], 1, v["chips"], overlap=overlap)


def _prefill_hints(v):
    p = _prefill(v)
    return [(p.weights / p.time, "That is the weight-read time: the step time of a DECODE step. "
                                 "Prefill pushes all P prompt tokens through the weights at once."),
            (_prefill(v, "none").time / p.time,
             "That looks like the per-phase time, with causal attention and the all-reduces. This "
             "exercise asks for the lecture's single roofline: max(compute, weight reads + cache "
             "writes), nothing else.")]


register(
    "02.5", lambda v: _prefill(v).time,
    rel=0.02, unit="s", variants=PREFILLS, hints=_prefill_hints,
    question="Time of one prefill step for a single prompt of `context` tokens on `chips` chips "
             "(bf16), in the lecture's ideal: max(compute, weight reads + cache writes), without "
             "attention's own FLOPs or all-reduces (overlap='full').")


# ---- 02.6: the largest batch at a context --------------------------------------------------------
def _capacity_setups():
    out = []
    for s in setups(model=first("Llama 3.1 70B", MODELS), chip=CHIPS, chips=first(8, [8, 4, 2]),
                    context=[32768, 8192, 131072]):
        m = model(s["model"])
        if s["context"] > m.context_length:
            continue
        if rf.max_batch(m, s["chip"], s["context"], s["chips"]) >= 4:
            out.append(s)
    return out


def _capacity_hints(v):
    m, h, c, s = model(v["model"]), hardware(v["chip"]), v["chips"], v["context"]
    b = rf.max_batch(m, h, s, c)
    hints = [((c * h.hbm_capacity) / (s * kv_bytes_per_token(m, s)) / b,
              "The weights sit in the same HBM: subtract their bytes before dividing by one "
              "sequence's cache.")]
    if m.n_window_layers:
        hints.append((rf.max_batch(_full(m), h, s, c) / b,
                      "Sliding windows: the local layers hold at most `window` tokens each, so one "
                      "sequence's cache is (global layers x S + local layers x window) x bytes per layer."))
    return hints


register(
    "02.6", lambda v: rf.max_batch(v["model"], v["chip"], v["context"], v["chips"]), rel=0.005,
    unit="sequences", variants=_capacity_setups(), hints=_capacity_hints,
    question="Largest whole number of sequences of `context` tokens whose bf16 KV caches fit in the "
             "chips' HBM beside the bf16 weights.")

# ---- 02.8: the MFU ceiling, ideal and per phase --------------------------------------------------
@functools.lru_cache(maxsize=None)
def _ceiling_setups() -> tuple:
    """(model, chip, context) where attention's own arithmetic hides under its cache reads (its
    intensity is below the chip's bf16 F / W), so the per-phase ceiling is c / (c + k) exactly."""
    out = []
    for name in first("Llama 3.1 70B", MODELS):
        m = model(name)
        for chip in CHIPS:
            h = hardware(chip)
            if cx.attention_intensity(m) >= h.flops_for("bf16") / h.hbm_bandwidth:
                continue
            for context in (8192, 4096, 32768, 16384):
                if context <= m.context_length:
                    out.append({"model": name, "chip": chip, "context": context})
    return tuple(out)


def _ceiling(v, overlap):
    return cx.mfu_ceiling(v["model"], v["chip"], v["context"], overlap=overlap)


def _ceiling_hints(v, overlap):
    other = "none" if overlap == "full" else "full"
    m = model(v["model"])
    mine = _ceiling(v, overlap)
    swap = ("That is the per-phase ceiling. In the ideal the cache reads overlap the matmuls, so the "
            "slower of the two sets the pace: c / max(c, k)." if overlap == "full" else
            "That is the ideal's ceiling. Per phase the attention kernel reads the cache and THEN the "
            "matmuls run: per sequence they add, c / (c + k).")
    hints = [(_ceiling(v, other) / mine, swap),
             (100.0, "Give the ceiling as a fraction between 0 and 1, not as a percentage.")]
    if m.n_window_layers:
        full = _full(v["model"])
        hints.append((cx.mfu_ceiling(full, v["chip"], v["context"], overlap=overlap) / mine,
                      "Sliding windows: a local layer stores (and reads) at most `window` tokens, so "
                      "kv(S) is not S x the bytes per token of a short prompt."))
    if overlap == "none":
        forgot_two = cx.mfu_ceiling(v["model"], v["chip"], v["context"] * 2, overlap="none")
        hints.append((forgot_two / mine, "A decode token costs 2 FLOPs (a multiply and an add) per active "
                                     "parameter: c = 2 N_active / F."))
    return hints


register(
    "02.8a", lambda v: _ceiling(v, "full"), rel=0.01, unit="", variants=list(_ceiling_setups()),
    hints=lambda v: _ceiling_hints(v, "full"),
    question="Best MFU any batch can reach at `context` tokens in the lecture's ideal (cache reads "
             "overlap the matmuls), as a fraction: c / max(c, k) with c = 2 N_active / F and "
             "k = kv(S) / W (bf16 weights and cache, one chip's F and W).")

register(
    "02.8b", lambda v: _ceiling(v, "none"), rel=0.01, unit="", variants=list(_ceiling_setups()),
    hints=lambda v: _ceiling_hints(v, "none"),
    question="Best MFU any batch can reach at `context` tokens per phase (the attention kernel, then "
             "the matmuls), as a fraction: c / (c + k); no all-reduces (one chip).")


# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("02.7", 'Sliding windows and sparse attention: which lets a server hold more long '
        'conversations, and which only makes each step faster?')
