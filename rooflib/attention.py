"""Attention's own arithmetic: the FLOPs of q.k scores and the weighted sum of values.

The weights' arithmetic is 2 N_active FLOPs per token whatever the context; attention's grows
with it. For one query token against one cached token, summed over all layers:

* MHA/GQA/MQA: scores q.k (2 n_h d_h) and the weighted sum of values (2 n_h d_h): 4 n_h d_h per
  layer. KV heads do not matter: every query head does its own dot products.
* MLA in decode works in the latent space ("absorbed" form of DeepSeek's inference/model.py):
  scores against the 512 + 64 latent, values from the 512 latent: 2 n_h (2 r + r_rope) per layer.
* MLA in prefill expands keys and values per head: 2 n_h (d_nope + d_rope + d_v) per layer.

Sliding-window layers attend to at most `window` tokens. Cross-layer sharing saves cache, not
FLOPs: every layer still attends.
"""
from __future__ import annotations

import numpy as np

from .errors import choice, context_tokens, scalar_or_array
from .models import Model, model as lookup_model


def window_layers(m: Model) -> tuple[float, float, float]:
    """(global attention layers, sliding-window layers, window) counted for ATTENTION (not cache)."""
    return float(m.n_layers - m.n_window_layers), float(m.n_window_layers), float(m.window)


def attention_flops_per_position(model, phase: str = "decode") -> float:
    """FLOPs of attention for one query token against one cached token, summed over all layers
    ('decode' or 'prefill': they differ only for MLA, see the module docstring)."""
    m = lookup_model(model)
    choice("phase", phase, ("decode", "prefill"))
    if m.attention == "mla":
        if phase == "decode":
            per_layer = 2 * m.n_heads * (2 * m.kv_lora_rank + m.qk_rope_head_dim)
        else:
            per_layer = 2 * m.n_heads * (m.head_dim + m.qk_rope_head_dim + m.v_head_dim)
    else:
        per_layer = 4 * m.n_heads * m.head_dim
    return float(per_layer * m.n_layers)


def decode_attention_flops(m: Model, context):
    """Attention FLOPs of ONE decode token attending to `context` cached tokens (checked input)."""
    full, local, window = window_layers(m)
    per_layer = attention_flops_per_position(m) / m.n_layers
    seen = full * context + local * (np.minimum(context, window) if window else 0.0)
    return per_layer * seen


def prefill_attention_flops(m: Model, prompt):
    """Attention FLOPs of a causal prefill of `prompt` tokens, one sequence (checked input).

    Query i attends to i tokens (itself and those before it): P (P + 1) / 2 pairs per global
    layer; a window layer attends to min(i, w): w (w + 1) / 2 + (P - w) w pairs once P > w.
    """
    full, local, window = window_layers(m)
    per_layer = attention_flops_per_position(m, "prefill") / m.n_layers
    p = np.asarray(prompt, dtype=float)
    pairs_full = p * (p + 1) / 2
    w = np.minimum(p, window)
    pairs_local = w * (w + 1) / 2 + (p - w) * w if window else 0.0
    return scalar_or_array(per_layer * (full * pairs_full + local * pairs_local))


def attention_flops(model, context):
    """Attention FLOPs of ONE decode token that attends to `context` cached tokens (all layers);
    sliding-window layers attend to min(S, window) of them.

    DeepSeek-V3 at 4,096 tokens: 61 x 2 x 128 x (2 x 512 + 64) x 4096 = 7.0e10 FLOPs, about as
    much as its 2 N_a = 7.3e10 for all the weights: MLA buys its small cache with arithmetic.
    """
    m = lookup_model(model)
    return scalar_or_array(decode_attention_flops(m, context_tokens(m, context)))
