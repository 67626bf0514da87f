"""Models: the architecture numbers that decide weight bytes, FLOPs and KV-cache bytes.

Parameter counts are COMPUTED from the published configuration (layers, widths, heads, experts,
vocabulary), not typed in, and tests check them against the publishers' totals. Two conventions:

* `total_params` counts every weight: embeddings, attention, MLP or experts (small norm and bias
  vectors are left out; they are < 0.01 % of any catalog model).
* `active_params` counts the weights that do a multiply-add for each token: everything except the
  routed experts a token does not use, and except the input embedding table, which is a lookup
  (one row per token), not a matrix product. This is the N in "2 N FLOPs per token". Publishers
  round differently (DeepSeek "37B", OpenAI "5.1B"); ours agree with theirs within a few percent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .errors import UnknownNameError, normalise, unknown_name


@dataclass(frozen=True)
class Model:
    """A transformer's shape. All sizes are counts (not bytes).

    Attention: `attention` is 'mha' (n_kv_heads == n_heads), 'gqa' (1 < n_kv_heads < n_heads),
    'mqa' (n_kv_heads == 1) or 'mla' (multi-head latent attention: the cache holds a compressed
    latent of `kv_lora_rank` plus a shared rotary key of `qk_rope_head_dim` per layer).
    Sliding windows: `n_window_layers` layers attend only to the last `window` tokens.
    Cross-layer sharing: `kv_share` consecutive layers share one KV cache (1 = no sharing).
    Mixture of experts: `n_experts` routed experts of inner width `d_expert`, `experts_per_token`
    of them used per token, plus `n_shared_experts` always used; the first `n_dense_layers`
    layers have an ordinary MLP of width `d_ff`. A dense model has n_experts = 0.
    """

    name: str
    n_layers: int
    d_model: int
    vocab: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    source: str
    context_length: int
    d_ff: int = 0
    tied_embeddings: bool = False
    # multi-head latent attention (DeepSeek-style); zero for ordinary attention
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # sliding-window attention
    window: int = 0
    n_window_layers: int = 0
    # cross-layer KV sharing
    kv_share: int = 1
    # mixture of experts
    n_experts: int = 0
    experts_per_token: int = 0
    n_shared_experts: int = 0
    d_expert: int = 0
    n_dense_layers: int = 0
    # the publisher's own rounded figures, for checking ours
    published_total: float = 0.0
    published_active: float = 0.0
    note: str = ""
    aliases: tuple = field(default=(), repr=False)

    def __repr__(self) -> str:
        kind = (f"MoE {self.experts_per_token}+{self.n_shared_experts} of {self.n_experts} experts"
                if self.is_moe else "dense")
        return (f"Model({self.name!r}: {self.total_params / 1e9:,.1f}B total, "
                f"{self.active_params / 1e9:,.1f}B active, {kind}, {self.attention.upper()} attention, "
                f"{self.n_layers} layers)")

    # ---- shape helpers -------------------------------------------------------------------
    @property
    def attention(self) -> str:
        if self.kv_lora_rank:
            return "mla"
        if self.n_kv_heads == 1:
            return "mqa"
        return "mha" if self.n_kv_heads == self.n_heads else "gqa"

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    # ---- parameter counts ----------------------------------------------------------------
    def attention_params(self) -> int:
        """Weights of one attention block (projections only)."""
        d, h = self.d_model, self.n_heads
        if self.attention == "mla":
            qk_head = self.head_dim + self.qk_rope_head_dim  # head_dim holds the no-rope part
            q = d * self.q_lora_rank + self.q_lora_rank * h * qk_head if self.q_lora_rank else d * h * qk_head
            kv_down = d * (self.kv_lora_rank + self.qk_rope_head_dim)
            kv_up = self.kv_lora_rank * h * (self.head_dim + self.v_head_dim)
            out = h * self.v_head_dim * d
            return q + kv_down + kv_up + out
        q = d * h * self.head_dim
        kv = 2 * d * self.n_kv_heads * self.head_dim
        out = h * self.head_dim * d
        return q + kv + out

    def mlp_params(self, width: int) -> int:
        """A gated MLP (SwiGLU/GeGLU: gate, up and down matrices) of inner width `width`."""
        return 3 * self.d_model * width

    def expert_params(self) -> int:
        """Weights of one routed expert."""
        return self.mlp_params(self.d_expert) if self.is_moe else 0

    def embedding_params(self) -> int:
        """Input embedding plus output head (one table if they are tied)."""
        return self.vocab * self.d_model * (1 if self.tied_embeddings else 2)

    @cached_property
    def total_params(self) -> int:
        per_layer_attn = self.attention_params() * self.n_layers
        if self.is_moe:
            dense = self.n_dense_layers * self.mlp_params(self.d_ff)
            router = self.n_experts * self.d_model
            experts = (self.n_experts + self.n_shared_experts) * self.expert_params() + router
            mlp = dense + self.n_moe_layers * experts
        else:
            mlp = self.n_layers * self.mlp_params(self.d_ff)
        return int(per_layer_attn + mlp + self.embedding_params())

    @cached_property
    def active_params(self) -> int:
        idle_experts = self.n_moe_layers * (self.n_experts - self.experts_per_token) * self.expert_params()
        lookup_table = 0 if self.tied_embeddings else self.vocab * self.d_model
        return int(self.total_params - idle_experts - lookup_table)

    @property
    def sparsity(self) -> float:
        """total / active: how many weights sit in memory for each one a token uses."""
        return self.total_params / self.active_params


MODELS: dict[str, Model] = {}


def _add(m: Model) -> Model:
    MODELS[m.name] = m
    return m


_DSV3 = "https://github.com/deepseek-ai/DeepSeek-V3/blob/9b4e9788e4a3a731f7567338ed15d3ec549ce03b"
_LLAMA_SKU = "https://github.com/meta-llama/llama-models/blob/364ed4ec2bdcc13ab3acb08e364e843b6322b9ae/models/sku_list.py"
_LLAMA31_CARD = "https://github.com/meta-llama/llama-models/blob/a9c89c471f793423afd4cc3ca8671d6e56fe64cb/models/llama3_1/MODEL_CARD.md"

_add(Model(
    name="DeepSeek-V3", n_layers=61, d_model=7168, vocab=129280, n_heads=128, n_kv_heads=128,
    head_dim=128, q_lora_rank=1536, kv_lora_rank=512, qk_rope_head_dim=64, v_head_dim=128,
    d_ff=18432, n_dense_layers=3, n_experts=256, experts_per_token=8, n_shared_experts=1,
    d_expert=2048, context_length=128_000, published_total=671e9, published_active=37e9,
    source=f"{_DSV3}/inference/configs/config_671B.json ; {_DSV3}/README.md",
    note="MLA attention; 3 dense layers then 58 MoE layers. The 14B multi-token-prediction module of "
         "the released checkpoint (685B) is not part of the 671B main model.",
    aliases=("deepseekv3", "dsv3", "deepseekr1", "deepseek")))
_add(Model(
    name="Kimi K2", n_layers=61, d_model=7168, vocab=163840, n_heads=64, n_kv_heads=64,
    head_dim=128, q_lora_rank=1536, kv_lora_rank=512, qk_rope_head_dim=64, v_head_dim=128,
    d_ff=18432, n_dense_layers=1, n_experts=384, experts_per_token=8, n_shared_experts=1,
    d_expert=2048, context_length=128_000, published_total=1000e9, published_active=32e9,
    source="https://github.com/MoonshotAI/Kimi-K2/blob/c6157be8531e1c52f5dfd3bb91a1275b089eac50/README.md ; "
           "https://github.com/AI-Hypercomputer/maxtext/blob/48445cf00e73064e87886539714a8ba1794ee019/src/MaxText/configs/models/kimi-k2-1t.yml",
    note="DeepSeek-V3's architecture with 384 experts and half the attention heads. "
         "Published as '1T total, 32B active'; the config gives 1.03T.",
    aliases=("kimik2", "k2", "kimi")))
_add(Model(
    name="Llama 3.1 8B", n_layers=32, d_model=4096, vocab=128256, n_heads=32, n_kv_heads=8,
    head_dim=128, d_ff=14336, context_length=128_000, published_total=8e9,
    source=f"{_LLAMA_SKU} ; {_LLAMA31_CARD}",
    aliases=("llama318b", "llama38b", "llama8b")))
_add(Model(
    name="Llama 3.1 70B", n_layers=80, d_model=8192, vocab=128256, n_heads=64, n_kv_heads=8,
    head_dim=128, d_ff=28672, context_length=128_000, published_total=70e9,
    source=f"{_LLAMA_SKU} ; {_LLAMA31_CARD}",
    aliases=("llama3170b", "llama370b", "llama70b")))
_add(Model(
    name="Llama 3.1 405B", n_layers=126, d_model=16384, vocab=128256, n_heads=128, n_kv_heads=8,
    head_dim=128, d_ff=53248, context_length=128_000, published_total=405e9,
    source=f"{_LLAMA_SKU} ; {_LLAMA31_CARD}",
    note="The 'bf16-mp16' checkpoint lists 16 KV heads because they are replicated for 16-way "
         "tensor parallelism; the model has 8.",
    aliases=("llama31405b", "llama3405b", "llama405b")))
_add(Model(
    name="Llama 2 70B", n_layers=80, d_model=8192, vocab=32000, n_heads=64, n_kv_heads=8,
    head_dim=128, d_ff=28672, context_length=4096, published_total=70e9,
    source="https://huggingface.co/meta-llama/Llama-2-70b-hf/blob/main/config.json ; "
           "https://arxiv.org/abs/2307.09288 (Llama 2 paper, Table 1: 4k context, GQA for 70B)",
    note="The model of the MLPerf Inference llama2-70b benchmark. The config gives 69.0B.",
    aliases=("llama270b", "llama2")))
_LLAMA2 = "https://github.com/meta-llama/llama/blob/689c7f261b9c5514636ecc3c5fefefcbb3e6eed7"
_add(Model(
    name="Llama 2 7B", n_layers=32, d_model=4096, vocab=32000, n_heads=32, n_kv_heads=32,
    head_dim=128, d_ff=11008, context_length=4096, published_total=7e9,
    source=f"{_LLAMA2}/MODEL_CARD.md ; {_LLAMA2}/llama/model.py (ModelArgs; FFN width "
           "256 x ceil((2/3 x 4 x 4096) / 256) = 11,008) ; https://arxiv.org/abs/2307.09288",
    note="Full multi-head attention (GQA only in the 70B). The config gives 6.7B. Not to be taken "
         "from llama-models' sku_list.py, whose Llama 2 entries carry Llama 3 values (8 KV heads, "
         "128k vocabulary).",
    aliases=("llama27b",)))
_add(Model(
    name="Llama 2 13B", n_layers=40, d_model=5120, vocab=32000, n_heads=40, n_kv_heads=40,
    head_dim=128, d_ff=13824, context_length=4096, published_total=13e9,
    source=f"{_LLAMA2}/MODEL_CARD.md ; {_LLAMA2}/llama/model.py ; "
           "https://github.com/jax-ml/scaling-book/blob/0819a7d8c55ddc113f5cba0285a5f97380cac1e3/inference.md",
    note="Full multi-head attention: 40 KV heads of 128, 819 kB of bf16 cache per token. "
         "scaling-book's worked example. The config gives 13.0B.",
    aliases=("llama213b",)))
_add(Model(
    name="Qwen3-235B-A22B", n_layers=94, d_model=4096, vocab=151936, n_heads=64, n_kv_heads=4,
    head_dim=128, n_experts=128, experts_per_token=8, d_expert=1536, context_length=128_000,
    published_total=235e9, published_active=22e9,
    source="https://github.com/AI-Hypercomputer/maxtext/blob/1e3dfac5ed0429cb76e28aa0624c00f063b3708e/src/MaxText/configs/models/qwen3-235b-a22b.yml ; "
           "https://github.com/QwenLM/Qwen3",
    note="Explicit head_dim 128: 64 heads x 128 = 8192, twice d_model.",
    aliases=("qwen3235b", "qwen3235ba22b", "qwen3", "qwen")))
_add(Model(
    name="gpt-oss-120b", n_layers=36, d_model=2880, vocab=201088, n_heads=64, n_kv_heads=8,
    head_dim=64, n_experts=128, experts_per_token=4, d_expert=2880, window=128,
    n_window_layers=18, context_length=131_072, published_total=116.8e9, published_active=5.1e9,
    source="https://github.com/openai/gpt-oss/blob/7b583341fe16729127f6d5b94a7b09ccae97e1a1/gpt_oss/torch/model.py ; "
           "https://github.com/openai/gpt-oss/blob/7b583341fe16729127f6d5b94a7b09ccae97e1a1/README.md",
    note="Every other layer (18 of 36) uses a 128-token sliding window. MoE weights ship in MXFP4.",
    aliases=("gptoss120b", "gptoss")))
_add(Model(
    name="Gemma 3 27B", n_layers=62, d_model=5376, vocab=262144, n_heads=32, n_kv_heads=16,
    head_dim=128, d_ff=21504, tied_embeddings=True, window=1024, n_window_layers=52,
    context_length=128_000, published_total=27e9,
    source="https://github.com/google-deepmind/gemma/blob/7691fd4e7f26c9ec5db38110dddb3addfab4d767/gemma/gm/nn/_gemma.py ; "
           "https://github.com/AI-Hypercomputer/maxtext/blob/14c44744fb7f1189bd8c7b19dca6286a6278ec60/src/MaxText/configs/models/gemma3-27b.yml",
    note="Five local (1024-token window) layers per global layer: 52 local, 10 global. Language model "
         "only (the SigLIP vision encoder is not counted).",
    aliases=("gemma327b", "gemma3", "gemma")))
_add(Model(
    name="Mixtral 8x7B", n_layers=32, d_model=4096, vocab=32000, n_heads=32, n_kv_heads=8,
    head_dim=128, n_experts=8, experts_per_token=2, d_expert=14336, context_length=32_768,
    published_total=46.7e9, published_active=12.9e9,
    source="https://github.com/AI-Hypercomputer/maxtext/blob/48445cf00e73064e87886539714a8ba1794ee019/src/MaxText/configs/models/mixtral-8x7b.yml ; "
           "https://arxiv.org/abs/2401.04088 (Mixtral paper: 47B total, 13B active)",
    note="Full attention over its 32k context (no sliding window in the released config).",
    aliases=("mixtral8x7b", "mixtral")))

_INDEX: dict[str, str] = {}
for _m in MODELS.values():
    for _alias in (_m.name, *_m.aliases):
        _INDEX[normalise(_alias)] = _m.name


def model(name) -> Model:
    """Look up a model, forgiving case, spaces and dashes: 'deepseek-v3', 'Llama 3.1 70B'.

    Unknown names raise `UnknownNameError` (a LookupError) listing close matches.
    """
    if isinstance(name, Model):
        return name
    if not isinstance(name, str):
        raise UnknownNameError(f"a model is named by a string (e.g. 'Llama 3.1 70B') or given as a Model, "
                               f"got {type(name).__name__} {name!r}"[:200])
    key = normalise(name)
    if key in _INDEX:
        return MODELS[_INDEX[key]]
    raise unknown_name("model", name, _INDEX)
