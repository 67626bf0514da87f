"""The KV cache: bytes stored per token of context, for every attention design in the catalog.

Decoding one token attends to every earlier token. Rather than recompute the keys and values of
the whole history each step, the server stores them: the KV cache. Its size per token is

* MHA/GQA/MQA: 2 (K and V) x n_kv_heads x head_dim x bytes, per layer;
* MLA: (kv_lora_rank + qk_rope_head_dim) x bytes, per layer (one compressed latent, shared by heads);

summed over the layers that keep their own cache (cross-layer sharing divides the count). A
sliding-window layer keeps only the last `window` tokens, so over a sequence of S tokens it
stores min(S, window) entries, not S.
"""
from __future__ import annotations

import numpy as np

from .errors import non_negative, scalar_or_array
from .models import Model, model as lookup_model
from .units import bytes_per_element


def kv_elements_per_layer(m: Model) -> int:
    """Numbers stored per token per cache-keeping layer."""
    if m.attention == "mla":
        return m.kv_lora_rank + m.qk_rope_head_dim
    return 2 * m.n_kv_heads * m.head_dim


def kv_layers(m: Model) -> tuple[float, float]:
    """(global layers, sliding-window layers) that keep a cache, after cross-layer sharing."""
    local = m.n_window_layers / m.kv_share
    full = (m.n_layers - m.n_window_layers) / m.kv_share
    return full, local


def kv_bytes_per_token(model, context=None, dtype: str = "bf16"):
    """KV-cache bytes per token of context, summed over all layers.

    With `context` None: every layer stores every token (exact while context <= window).
    With `context` S and sliding-window layers: the average per token over a sequence of S
    tokens, (full_layers * S + window_layers * min(S, window)) * per_layer_bytes / S.
    Accepts arrays for `context`. Example: DeepSeek-V3 in bf16 -> (512 + 64) * 61 * 2 = 70,272 B.
    """
    m = lookup_model(model)
    per_layer = kv_elements_per_layer(m) * bytes_per_element(dtype)
    full, local = kv_layers(m)
    if context is None or m.n_window_layers == 0:
        if context is not None:
            non_negative("context", context)
            return scalar_or_array(np.full(np.shape(context), (full + local) * per_layer))
        return float((full + local) * per_layer)
    s = non_negative("context", context)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac_local = np.where(s > 0, np.minimum(s, m.window) / np.where(s > 0, s, 1), 1.0)
    return scalar_or_array((full + local * frac_local) * per_layer)


def kv_bytes(model, context, dtype: str = "bf16"):
    """Total cache bytes for ONE sequence holding `context` tokens (windows respected)."""
    m = lookup_model(model)
    s = non_negative("context", context)
    per_layer = kv_elements_per_layer(m) * bytes_per_element(dtype)
    full, local = kv_layers(m)
    return scalar_or_array((full * s + local * np.minimum(s, m.window if m.window else s)) * per_layer)
