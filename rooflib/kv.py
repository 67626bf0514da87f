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

from dataclasses import replace

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


def kv_bytes_per_token(model, context=None, *, dtype: str = "bf16"):
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


def kv_bytes(model, context, *, dtype: str = "bf16"):
    """Total cache bytes for ONE sequence holding `context` tokens (windows respected)."""
    m = lookup_model(model)
    s = non_negative("context", context)
    per_layer = kv_elements_per_layer(m) * bytes_per_element(dtype)
    full, local = kv_layers(m)
    return scalar_or_array((full * s + local * np.minimum(s, m.window if m.window else s)) * per_layer)


# ---- "What if" attention designs --------------------------------------------------------------
# A design is the same model with other attention numbers: dataclasses.replace on a catalog Model.
# Only the fields below change the cache; everything else (layers, widths, experts) stays.
_DESIGN_FIELDS = ("n_kv_heads", "kv_share", "window", "n_window_layers", "kv_lora_rank",
                  "qk_rope_head_dim", "v_head_dim", "q_lora_rank")


def redesign(model, name: str | None = None, **changes) -> Model:
    """The model with some attention numbers changed: `dataclasses.replace` plus checks and a name.

    redesign("Llama 3.1 70B", n_kv_heads=64) is Llama 3.1 70B as if it used full multi-head
    attention (64 KV heads, 8x the cache); kv_share=2 makes pairs of layers share one cache.
    Changing `n_kv_heads` also changes the K and V projection weights, so parameter counts move
    too (an MHA Llama 3.1 70B would have 9.4B more weights). Allowed fields: n_kv_heads,
    kv_share, window, n_window_layers, kv_lora_rank, qk_rope_head_dim, v_head_dim, q_lora_rank.
    """
    m = lookup_model(model)
    unknown = sorted(set(changes) - set(_DESIGN_FIELDS))
    if unknown:
        raise ValueError(f"redesign changes only attention fields ({', '.join(_DESIGN_FIELDS)}); "
                         f"got {', '.join(unknown)}")
    for key, value in changes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{key} must be a whole number >= 0, got {value!r}")
    new = replace(m, name=name or _design_name(m, changes), aliases=(), **changes)
    if not 1 <= new.n_kv_heads <= new.n_heads or new.n_heads % new.n_kv_heads:
        raise ValueError(f"n_kv_heads must divide {m.name}'s {m.n_heads} query heads, got {new.n_kv_heads}")
    if new.kv_share < 1:
        raise ValueError(f"kv_share must be >= 1, got {new.kv_share}")
    if new.n_window_layers > new.n_layers:
        raise ValueError(f"n_window_layers must be <= {m.name}'s {m.n_layers} layers, got {new.n_window_layers}")
    if new.n_window_layers and not new.window:
        raise ValueError("sliding-window layers need a window > 0 tokens")
    return new


def _design_name(m: Model, changes: dict) -> str:
    return f"{m.name} ({', '.join(f'{k}={v}' for k, v in changes.items())})"


def attention_designs(model) -> dict[str, Model]:
    """The model as published and as six other attention designs, for side-by-side KV sizes.

    * MHA: one KV head per query head; * GQA-8: 8 KV heads (Llama 3's choice);
    * MQA: a single KV head (Shazeer 2019, arXiv:1911.02150);
    * MLA: a 512-wide latent plus a 64-wide rotary key per layer (DeepSeek-V2/V3's dimensions);
    * cross-layer x2: the published attention, with pairs of layers sharing one cache
      (Brandon et al. 2024, arXiv:2405.12981);
    * local 5:1: five of every six layers see only the last 1,024 tokens (Gemma 3's pattern).
    Each design changes one thing: the head designs keep the published windows and sharing.
    Designs that equal the published one are still listed, so every model shows the same rows.
    """
    m = lookup_model(model)
    base = dict(kv_lora_rank=0, qk_rope_head_dim=0, v_head_dim=0, q_lora_rank=0)  # not MLA
    gqa8 = 8 if m.n_heads % 8 == 0 else m.n_heads
    hd = m.head_dim
    return {
        "as published": m,
        "MHA": redesign(m, f"{m.name} as MHA", **{**base, "n_kv_heads": m.n_heads}),
        "GQA-8": redesign(m, f"{m.name} as GQA-8", **{**base, "n_kv_heads": gqa8}),
        "MQA": redesign(m, f"{m.name} as MQA", **{**base, "n_kv_heads": 1}),
        "MLA": redesign(m, f"{m.name} as MLA", **{**base, "n_kv_heads": m.n_heads, "kv_lora_rank": 512,
                                                  "qk_rope_head_dim": 64, "v_head_dim": hd}),
        "cross-layer x2": redesign(m, f"{m.name}, 2 layers per cache", kv_share=2 * m.kv_share),
        "local 5:1": redesign(m, f"{m.name} with 5:1 local layers", window=1024,
                              n_window_layers=m.n_layers - m.n_layers // 6),
    }
