"""Speculative decoding and multi-token prediction: more than one token per weight read.

A memory-bound decode step reads every weight to produce ONE token per sequence. If something
cheap proposes k tokens ahead (a small draft model, an n-gram lookup, or DeepSeek-V3's multi-
token-prediction head), one step of the big model can check all k at once: it processes k + 1
positions per sequence (the k guesses and the token after them) for the SAME weight and cache
reads, and keeps the guesses up to the first wrong one, plus one token of its own.

If each guess is right with probability a, independently, the tokens a step yields are

    E[tokens] = 1 + a + a^2 + ... + a^k = (1 - a^(k+1)) / (1 - a)        `expected_tokens_per_step`

(Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding", eq. 1).
DeepSeek-V3 predicts one extra token (k = 1) and reports "the acceptance rate of the second token
prediction ranges between 85% and 90%", "1.8 times TPS": 1 + a = 1.85 to 1.90 tokens per step
before the small cost of the MTP module.

The verifying step is a decode step with k + 1 positions per sequence (`speculative_step`): the
matmul arithmetic and attention arithmetic grow k + 1 times, the weight and cache reads do not.
While (k + 1) B stays below the optimal batch B* the extra arithmetic is nearly free and the time
per token falls by up to E[tokens]; past it the step turns compute-bound, every rejected guess is
wasted arithmetic, and at large batches speculation costs more than it saves. Llama 3.1 70B on
8 H100 at 1,024 tokens, 4 guesses at a = 0.7: 2.76x faster per token at batch 1, 1.29x at 128,
slower from batch 199 on.
"""
from __future__ import annotations

import numpy as np

from .attention import decode_attention_flops
from .errors import broadcast, choice, context_tokens, fraction, positive, scalar_or_array, whole_number
from .formats import format_key, math_format, stored_weight_bytes
from .hardware import hardware as lookup_hardware
from .kv import kv_bytes_per_token
from .models import model as lookup_model
from .roofline import decode_step
from .step import OVERLAPS, DecodeStep, build_step

DEEPSEEK_V3_MTP_SOURCE = "https://arxiv.org/abs/2412.19437 (DeepSeek-V3 Technical Report, section 5.4.3)"
LEVIATHAN_SOURCE = "https://arxiv.org/abs/2211.17192 (Leviathan, Kalman, Matias 2023, equation 1)"


def expected_tokens_per_step(acceptance, draft_tokens):
    """Expected tokens one verification step yields: (1 - a^(k+1)) / (1 - a); k + 1 when a = 1.

    a = `acceptance` (probability each guess is right, in [0, 1]), k = `draft_tokens` (>= 0).
    DeepSeek-V3's MTP: a = 0.85..0.90, k = 1 -> 1.85..1.90. Four guesses at a = 0.7: 2.77.
    """
    a = np.asarray(fraction("acceptance", acceptance, allow_zero=True))
    k = np.asarray(whole_number("draft_tokens", draft_tokens, low=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        geometric = (1.0 - a ** (k + 1)) / np.where(a < 1, 1.0 - a, 1.0)
    return scalar_or_array(np.where(a < 1, geometric, k + 1.0))


def speculative_step(model, hw, batch, context, chips=1, *, draft_tokens, acceptance,
                     draft_model=None, dtype: str = "bf16", math_dtype: str | None = None,
                     expert_dtype: str | None = None, kv_dtype: str = "bf16",
                     overlap: str = "none") -> DecodeStep:
    """One speculative step: the target model verifies `draft_tokens` guesses per sequence.

    Verification is a decode step with k + 1 positions per sequence: compute, attention and the
    all-reduced activations x (k + 1), weights and cache read once. `draft_model` (a catalog
    model on the same chips, same formats) adds k of its own decode steps, one after another,
    as `.draft`; None means a drafter of negligible cost (an MTP head or n-gram lookup: an
    optimistic limit). `.tokens` is `expected_tokens_per_step`, so `.time_per_token` and
    `.tokens_per_second` count accepted tokens only.
    Llama 3.1 70B on 8 H100, batch 1, 4,096 tokens, 4 guesses at a = 0.7: 2.77 tokens per step
    for 1.006x the plain step's time.
    """
    m, h = lookup_model(model), lookup_hardware(hw)
    math = math_format(dtype, math_dtype)
    h.flops_for(math)
    kv_key = format_key(kv_dtype, "kv_dtype")
    choice("overlap", overlap, OVERLAPS)
    b = positive("batch", batch)
    s = context_tokens(m, context)
    c = whole_number("chips", chips)
    broadcast(batch=b, context=s, chips=c, draft_tokens=draft_tokens, acceptance=acceptance)
    tokens = expected_tokens_per_step(acceptance, draft_tokens)
    k = np.asarray(draft_tokens, dtype=float)
    positions = k + 1.0
    kv_seq = np.asarray(s) * kv_bytes_per_token(m, s, dtype=kv_key)
    attn = positions * decode_attention_flops(m, s) if overlap == "none" else 0.0
    draft = 0.0
    if draft_model is not None:
        one = decode_step(draft_model, h, batch, context, chips, dtype=dtype, math_dtype=math_dtype,
                          kv_dtype=kv_dtype, overlap=overlap)
        draft = k * np.asarray(one.time)
    return build_step(m, h, b, s, c, positions=positions, tokens=tokens, attention_flops=attn,
                      kv_bytes=kv_seq, weight_bytes=stored_weight_bytes(m, dtype, expert_dtype), math=math,
                      overlap=overlap, draft=draft)
