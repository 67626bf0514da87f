"""KV-cache bytes per token, reproduced from each model's published config (arithmetic shown)."""
import numpy as np
import pytest

import rooflib as rl


@pytest.mark.parametrize("name, expected", [
    # DeepSeek-V3 config_671B.json: MLA caches kv_lora_rank 512 + qk_rope_head_dim 64, 61 layers, bf16
    ("DeepSeek-V3", (512 + 64) * 61 * 2),              # 70,272 B (DeepSeek ISCA'25: 70.272 KB)
    ("Kimi K2", (512 + 64) * 61 * 2),                  # same MLA dims: 70,272 B
    # Llama sku_list.py: 2 (K,V) x layers x kv_heads x head_dim x 2 bytes
    ("Llama 3.1 8B", 2 * 32 * 8 * 128 * 2),            # 131,072 B
    ("Llama 3.1 70B", 2 * 80 * 8 * 128 * 2),           # 327,680 B
    ("Llama 3.1 405B", 2 * 126 * 8 * 128 * 2),         # 516,096 B (DeepSeek ISCA'25: 516.096 KB)
    ("Llama 2 70B", 2 * 80 * 8 * 128 * 2),             # 327,680 B
    ("Qwen3-235B-A22B", 2 * 94 * 4 * 128 * 2),         # 192,512 B
    ("Mixtral 8x7B", 2 * 32 * 8 * 128 * 2),            # 131,072 B
    ("gpt-oss-120b", 2 * 36 * 8 * 64 * 2),             # 73,728 B while context <= 128-token window
    ("Gemma 3 27B", 2 * 62 * 16 * 128 * 2),            # 507,904 B while context <= 1024-token window
])
def test_kv_bytes_per_token(name, expected):
    assert rl.kv_bytes_per_token(rl.model(name)) == expected


def test_sliding_window_average():
    g = rl.model("Gemma 3 27B")          # 10 global + 52 local (window 1024) layers, 8,192 B per layer-token
    per_layer = 2 * 16 * 128 * 2
    s = 100_000
    expected = (10 * s + 52 * 1024) * per_layer / s
    assert rl.kv_bytes_per_token(g, s) == pytest.approx(expected)
    assert rl.kv_bytes_per_token(g, 512) == 62 * per_layer   # inside the window every layer stores all tokens
    # long-context limit: only the 10 global layers grow (81,920 B/token)
    assert rl.kv_bytes_per_token(g, 10**9 // 1000 * 1000) == pytest.approx(10 * per_layer, rel=1e-3)
    o = rl.model("gpt-oss-120b")
    assert rl.kv_bytes_per_token(o, 131_072) == pytest.approx((18 * 131_072 + 18 * 128) * 2048 / 131_072)


def test_kv_bytes_total_matches_average():
    g = rl.model("Gemma 3 27B")
    s = np.array([1, 1000, 5000, 128_000])
    assert np.allclose(rl.kv_bytes(g, s), s * rl.kv_bytes_per_token(g, s))


def test_kv_dtype():
    assert rl.kv_bytes_per_token("DeepSeek-V3", dtype="fp8") == 35_136
