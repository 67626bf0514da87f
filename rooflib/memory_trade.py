"""Trading compute for memory: the KV cache, activation checkpointing, reversible layers.

A chip has two budgets, arithmetic (FLOP/s) and memory (bytes of HBM, and bytes/s to read them).
Whatever one of them is short of, the other can often buy:

* The KV cache spends MEMORY to save COMPUTE. Without it, every decode step would rerun the
  forward pass over the whole history: about 2 N_active (S + 1) FLOPs per new token instead of
  2 N_active (`step_time_without_cache`; the per-token ratio is `context.recompute_to_read_ratio`).
* Multi-head latent attention (MLA) spends COMPUTE to save MEMORY inside the cache: one latent per
  token is shared by all heads, so each cached byte feeds far more FLOPs than in GQA
  (`context.attention_intensity`).
* Activation checkpointing and reversible layers spend COMPUTE to save MEMORY in training: keep
  fewer activations for the backward pass and recompute the rest, at about one extra forward pass
  (2 N D FLOPs on top of 6 N D).

Activation memory follows Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
Transformer Models" (arXiv:2205.05198, Section 4.1): one GPT-style transformer layer stores

    s b h (34 + 5 a s / h)  bytes      (16-bit activations, 1-byte dropout masks)

for sequence length s, micro-batch b, hidden size h and a attention heads. The 34 s b h part is
the linear-in-s tensors (11 attention, 19 MLP with a 4h GeLU MLP, 4 layer norms); 5 a s^2 b is the
attention score matrices, which FlashAttention-style kernels never store. Storing only each
layer's input costs 2 s b h bytes. The constants belong to that GPT block (4h MLP, dropout); a
SwiGLU block without dropout differs by tens of percent, which changes no conclusion below.
This module is the formula's one home: `schedules.training_activation_bytes` (chapter 4) calls it.

The chapter's aside, a toy Feistel cipher beside the reversible block, is the module `feistel`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import non_negative, positive, scalar_or_array, whole_number
# The chapter's cipher aside lives in `feistel`; the notebook calls it as memory_trade.X.
from .feistel import avalanche, feistel_decrypt, feistel_encrypt, feistel_keys, popcount32  # noqa: F401
from .models import model as lookup_model
from .roofline import decode_step

#: Korthikanti et al. 2022 (arXiv:2205.05198), Section 4.1: bytes per s*b*h stored by one layer,
#: not counting the attention scores: attention 11, MLP 19, two layer norms 4.
LINEAR_ACTIVATION_BYTES = 34
#: Same source: bytes per a*s^2*b for the attention scores (softmax 2, dropout mask 1, dropout output 2).
SCORE_ACTIVATION_BYTES = 5
#: A checkpoint is one layer's input, s*b*h numbers in 16-bit.
CHECKPOINT_BYTES = 2


# ---------------------------------------------------------------------------------------------
# 1. The KV cache: memory spent to save compute (the per-token ratios live in rooflib.context)
# ---------------------------------------------------------------------------------------------
def step_time_without_cache(model, hw, batch, context, chips=1, *, dtype: str = "bf16", overlap: str = "full"):
    """Seconds per decode step if the cache is dropped and the history is recomputed each step.

    Each of the B sequences runs a forward pass over its S past tokens plus the new one: the
    compute of a batch of B (S + 1) tokens with no KV reads, decode_step(model, hw, B (S + 1), 0).
    (About 2 N_active FLOPs per token; attention FLOPs, which grow as S^2, are left out, so this
    UNDERestimates the cost of dropping the cache.) While the weights are still being read the
    chip has idle FLOPs, so at batch 1 up to about `optimal_batch` tokens of history can be
    recomputed for free; any real batch is far past that. `overlap` picks the step model
    (`roofline.decode_step`): the lecture's ideal by default; "none" adds, per phase, the
    all-reduces of the B (S + 1) tokens' activations on several chips.
    """
    b = positive("batch", batch)
    s = non_negative("context", context)
    return decode_step(model, hw, b * (s + 1.0), 0, chips=chips, dtype=dtype, overlap=overlap).time


# ---------------------------------------------------------------------------------------------
# 3. Activation memory in training, and what checkpointing and reversible layers do to it
# ---------------------------------------------------------------------------------------------
def activation_bytes_per_layer(seq, batch, d_model, n_heads, *, store_scores: bool = True):
    """Bytes one transformer layer stores for its backward pass (Korthikanti et al. 2022, eq. 1).

    s b h (34 + 5 a s / h) with the attention scores stored; 34 s b h without them (FlashAttention
    recomputes them in the backward pass: itself a compute-for-memory trade).
    GPT-3 175B shapes (h = 12,288, a = 96) at s = 2,048, b = 1: 2048 x 12288 x (34 + 80) = 2.87 GB.
    """
    s, b = positive("seq", seq), positive("batch", batch)
    h, a = positive("d_model", d_model), positive("n_heads", n_heads)
    per_token = LINEAR_ACTIVATION_BYTES + (SCORE_ACTIVATION_BYTES * a * s / h if store_scores else 0.0)
    return scalar_or_array(s * b * h * per_token)


def layer_input_bytes(seq, batch, d_model):
    """Bytes of one checkpoint, a layer's input in 16-bit: 2 s b h."""
    return scalar_or_array(CHECKPOINT_BYTES * positive("seq", seq) * positive("batch", batch)
                           * positive("d_model", d_model))


def _interval(n_layers, k):
    """(L, k) checked: k a whole number of layers from 1 to L (`errors.whole_number`)."""
    L = positive("n_layers", n_layers)
    return L, whole_number("k", k, 1, float(np.max(L)))


def checkpointed_activation_bytes(n_layers, k, layer_bytes, input_bytes):
    """Peak activation bytes when only every k-th layer's input is kept (segments of k layers).

    During the forward pass, ceil(L/k) checkpoints are kept; in the backward pass one segment at a
    time is recomputed and its k layers' full activations held:
        M(k) = ceil(L / k) * c + k * A
    with A = layer_bytes, c = input_bytes. k = L keeps everything (no recompute): about L A.
    Vectorised over k. Llama 3.1 70B, one 8,192-token sequence, scores not stored: c = 134 MB,
    A = 2.28 GB, k = 2: 40 x 134 MB + 2 x 2.28 GB = 9.93 GB (keeping everything: 183 GB).
    """
    L, k = _interval(n_layers, k)
    A, c = positive("layer_bytes", layer_bytes), positive("input_bytes", input_bytes)
    return scalar_or_array(np.ceil(L / k) * c + k * A)


def optimal_checkpoint_interval(n_layers, layer_bytes, input_bytes):
    """The k minimising ceil(L/k) c + k A, among whole numbers 1..L.

    Treating L/k as continuous, dM/dk = -L c / k^2 + A = 0 gives k* = sqrt(L c / A): sqrt(L) when a
    checkpoint is as big as a layer's activations (Chen et al. 2016, arXiv:1604.06174). In a
    transformer a checkpoint (2 s b h) is 17x or more smaller than the layer (>= 34 s b h), so k*
    is small: often 1 or 2.
    """
    L = int(positive("n_layers", n_layers))
    ks = np.arange(1, L + 1)
    mem = checkpointed_activation_bytes(L, ks, layer_bytes, input_bytes)
    return int(ks[np.argmin(mem)])


def recomputed_layers(n_layers, k):
    """Layers whose forward pass runs twice with checkpoints every k layers.

    Every segment is recomputed in the backward pass except the last, whose activations are still
    held when the backward pass starts: L - (L - k (ceil(L/k) - 1)). k = 1: L - 1; k = L: 0.
    """
    L, k = _interval(n_layers, k)
    last = L - k * (np.ceil(L / k) - 1)
    return scalar_or_array(L - last)


def training_flops_per_token(params, n_layers=None, k=None):
    """Training FLOPs per token: 6 N without recompute, up to 8 N with every layer recomputed.

    Forward 2 N, backward 4 N; recomputing a fraction f = recomputed_layers / L of the forward
    pass adds 2 N f:  (6 + 2 f) N. `k=None` means no checkpointing (f = 0). A reversible network
    recomputes every block once: about 8 N. Llama 3.1 70B (80 layers), k = 1: (6 + 2 x 79/80) N = 7.98 N.
    """
    n = positive("params", params)
    if k is None:
        return scalar_or_array(6.0 * n)
    f = np.asarray(recomputed_layers(n_layers, k)) / positive("n_layers", n_layers)
    return scalar_or_array((6.0 + 2.0 * f) * n)


def reversible_activation_bytes(layer_bytes, input_bytes):
    """Peak activation bytes of a reversible network: the two output streams plus one layer.

    A transformer keeps both streams at the full width of the residual stream (Reformer, Kitaev et
    al. 2020, starts them as two copies of the input), so each is as large as a checkpoint c;
    RevNet's two channel halves (Gomez et al. 2017) would hold c together, c + A in all.
    Nothing per layer is kept: the backward pass rebuilds each block's input from its output
    (x2 = y2 - G(y1), x1 = y1 - F(x2)) and recomputes the block's insides, one block at a time.
    M = 2 c + A, independent of depth. Llama 3.1 70B at 8,192 tokens: 2 x 134 MB + 2.28 GB = 2.55 GB.
    """
    return scalar_or_array(2.0 * positive("input_bytes", input_bytes) + positive("layer_bytes", layer_bytes))


@dataclass(frozen=True)
class ActivationPlan:
    """Peak activation memory (bytes, per micro-batch) and training FLOPs per token of each strategy."""

    model: str
    seq: float
    batch: float
    store_scores: bool
    layer: float              # A: one layer's activations
    checkpoint: float         # c: one layer's input
    n_layers: int
    none: float               # L A
    best_k: int               # optimal checkpoint interval
    checkpointed: float       # M(best_k)
    every_layer: float        # M(1): Megatron's "full recomputation"
    reversible: float         # 2 c + A
    flops_per_token: dict = field(default_factory=dict)


def activation_plan(model, seq, batch=1, *, store_scores: bool = False) -> ActivationPlan:
    """Activation memory of a catalog model under each strategy, with h = d_model and a = n_heads.

    Uses Korthikanti's GPT-layer estimate for every layer (see the module docstring), so for
    SwiGLU/GQA models it is an estimate, not an exact count. `store_scores=False` assumes a
    FlashAttention-style kernel (the default in current training code).
    """
    m = lookup_model(model)
    A = float(activation_bytes_per_layer(seq, batch, m.d_model, m.n_heads, store_scores=store_scores))
    c = float(layer_input_bytes(seq, batch, m.d_model))
    L = m.n_layers
    k = optimal_checkpoint_interval(L, A, c)
    n = m.active_params
    return ActivationPlan(
        model=m.name, seq=float(seq), batch=float(batch), store_scores=store_scores, layer=A,
        checkpoint=c, n_layers=L, none=L * A, best_k=k,
        checkpointed=float(checkpointed_activation_bytes(L, k, A, c)),
        every_layer=float(checkpointed_activation_bytes(L, 1, A, c)),
        reversible=float(reversible_activation_bytes(A, c)),
        flops_per_token={"none": float(training_flops_per_token(n)),
                         "checkpointed": float(training_flops_per_token(n, L, k)),
                         "every_layer": float(training_flops_per_token(n, L, 1)),
                         "reversible": 8.0 * n})


# ---------------------------------------------------------------------------------------------
# 4. A reversible block in numpy (RevNet: Gomez et al. 2017, arXiv:1707.04585)
# ---------------------------------------------------------------------------------------------
class TanhMLP:
    """f(x) = tanh(x W1 + b1) W2: the residual function F or G inside a reversible block."""

    def __init__(self, w1, b1, w2):
        self.w1, self.b1, self.w2 = np.asarray(w1), np.asarray(b1), np.asarray(w2)

    @classmethod
    def random(cls, width: int, hidden: int, rng: np.random.Generator, scale: float = 0.5, dtype=np.float64):
        w1 = rng.standard_normal((width, hidden)) * scale / np.sqrt(width)
        b1 = rng.standard_normal(hidden) * 0.1
        w2 = rng.standard_normal((hidden, width)) * scale / np.sqrt(hidden)
        return cls(w1.astype(dtype), b1.astype(dtype), w2.astype(dtype))

    def __call__(self, x):
        return np.tanh(x @ self.w1 + self.b1) @ self.w2

    def backward(self, x, dy):
        """Gradients for input x and output gradient dy: (dx, (dW1, db1, dW2)).

        The hidden activation is recomputed from x here, so the caller need only keep x.
        """
        a = np.tanh(x @ self.w1 + self.b1)
        dz = (dy @ self.w2.T) * (1.0 - a * a)
        return dz @ self.w1.T, (x.T @ dz, dz.sum(axis=0), a.T @ dy)


class ReversibleBlock:
    """The additive coupling (a Feistel network over real numbers):

        forward:  y1 = x1 + F(x2),   y2 = x2 + G(y1)
        inverse:  x2 = y2 - G(y1),   x1 = y1 - F(x2)

    The inverse needs no stored activation: only the outputs. F and G can be anything (they are
    never inverted), which is why attention and MLP layers fit in.
    """

    def __init__(self, f: TanhMLP, g: TanhMLP):
        self.f, self.g = f, g

    def forward(self, x1, x2):
        y1 = x1 + self.f(x2)
        return y1, x2 + self.g(y1)

    def inverse(self, y1, y2):
        x2 = y2 - self.g(y1)
        return y1 - self.f(x2), x2

    def backward(self, y1, y2, dy1, dy2):
        """Rebuild the inputs from the outputs and backpropagate through the block.

        Returns ((x1, x2), (dx1, dx2), (f_grads, g_grads)).
        """
        x1, x2 = self.inverse(y1, y2)
        dx1, dx2, grads = self.backward_from_inputs(x1, x2, dy1, dy2)
        return (x1, x2), (dx1, dx2), grads

    def backward_from_inputs(self, x1, x2, dy1, dy2):
        """Backpropagate given the block's (stored) inputs: the ordinary way."""
        y1 = x1 + self.f(x2)
        gx, g_grads = self.g.backward(y1, dy2)   # y2 = x2 + G(y1)
        d_y1 = dy1 + gx
        fx, f_grads = self.f.backward(x2, d_y1)  # y1 = x1 + F(x2)
        return d_y1, dy2 + fx, (f_grads, g_grads)


class ReversibleStack:
    """A stack of reversible blocks with two ways to compute gradients.

    backward_stored: keep every block's input during the forward pass (memory grows with depth).
    backward_reversible: keep only the final output and rebuild each input on the way back
    (memory independent of depth, at the cost of one more forward pass through every block).
    Both recompute each block's hidden activations, so they differ exactly by the stored inputs.
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)

    @classmethod
    def random(cls, depth: int, width: int, hidden: int, seed: int = 0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        return cls(ReversibleBlock(TanhMLP.random(width, hidden, rng, dtype=dtype),
                                   TanhMLP.random(width, hidden, rng, dtype=dtype)) for _ in range(depth))

    def forward(self, x1, x2, keep_inputs: bool = False):
        kept = []
        for blk in self.blocks:
            if keep_inputs:
                kept.append((x1, x2))
            x1, x2 = blk.forward(x1, x2)
        return (x1, x2, kept) if keep_inputs else (x1, x2)

    def inverse(self, y1, y2):
        for blk in reversed(self.blocks):
            y1, y2 = blk.inverse(y1, y2)
        return y1, y2

    def backward_stored(self, x1, x2, dy1, dy2):
        """Gradients the ordinary way. Returns (dx1, dx2, grads per block, arrays kept)."""
        _, _, kept = self.forward(x1, x2, keep_inputs=True)
        grads = []
        for blk, (a1, a2) in zip(reversed(self.blocks), reversed(kept)):
            dy1, dy2, g = blk.backward_from_inputs(a1, a2, dy1, dy2)
            grads.append(g)
        return dy1, dy2, grads[::-1], 2 * len(kept)

    def backward_reversible(self, y1, y2, dy1, dy2):
        """Gradients from the outputs alone. Returns (dx1, dx2, grads per block, arrays kept)."""
        grads = []
        for blk in reversed(self.blocks):
            (y1, y2), (dy1, dy2), g = blk.backward(y1, y2, dy1, dy2)
            grads.append(g)
        return dy1, dy2, grads[::-1], 2
