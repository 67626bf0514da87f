"""Training compute and compute-optimal scaling.

Where the 6 in "6 N D" comes from. A linear layer with weight matrix W (d_in x d_out) maps a batch
of T token vectors X (T x d_in) to Y = X W: T * d_in * d_out multiply-adds, 2 FLOPs each, so
2 FLOPs per parameter per token. The backward pass needs TWO products of the same size:

* dX = dY W^T, the gradient with respect to the layer's input, passed back to the layer below;
* dW = X^T dY, the gradient with respect to the weights, used by the optimiser.

Forward 2 + backward 4 = 6 FLOPs per parameter per token, so training N parameters on D tokens
costs about 6 N D FLOPs. Left out: the optimiser's update (paid per step, not per token) and
attention's score products, which have no weights. PaLM (Chowdhery et al. 2022, arXiv:2204.02311,
appendix B) adds them back: 6 N + 12 L H Q S per token for L layers of H heads of size Q at
sequence length S (`training_flops_per_token`); at 4K-8K tokens that is 8 % (Llama 3.1 405B) to
28 % (DeepSeek-V3's 128-head MLA) more. Inference needs only the forward pass: 2 N_active FLOPs
per generated token (plus attention, `attention.attention_flops`).

Then two questions, each answered here:

* How long, and at what efficiency? `training_time` and `implied_mfu` turn 6 N D into wall-clock
  time on a cluster, or a published GPU-hour count into the MFU it implies.
* What is compute-optimal? `chinchilla_optimal` (C = 6 N D with D = r N, r ~ 20 tokens per
  parameter) and the parametric loss fits L(N, D) = E + A / N^alpha + B / D^beta (`LossFit`).
  The ratio r is a FITTED, data-dependent number: about 20 for Chinchilla's data, about 41 at
  3.8e25 FLOPs in Llama 3's own fit (402B parameters on 16.55T tokens, arXiv:2407.21783 §3.2.1).

What a model costs over its whole life (pretraining + RL + serving) is `rooflib.lifetime`.

SI units throughout: FLOP, seconds (chip-seconds for cluster time), tokens, parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .attention import attention_flops_per_position
from .errors import as_array, fraction, non_negative, positive, scalar_or_array
from .hardware import hardware as lookup_hardware
from .models import Model, model as lookup_model
from .units import DAY, HOUR, MONTH, YEAR  # noqa: F401  (DAY, MONTH, YEAR: chapter 5 reads them here)

#: Hoffmann et al. 2022 ("Chinchilla", arXiv:2203.15556), Table 3: compute-optimal training uses
#: about 20 tokens per parameter (20.0x at 400M params up to 21.6x at 10T).
CHINCHILLA_TOKENS_PER_PARAM = 20.0

#: Hoffmann et al. 2022, arXiv:2203.15556, Table 3 (Approach 1 projections):
#: (parameters, training FLOPs, training tokens), exactly as printed.
CHINCHILLA_TABLE3 = (
    (400e6, 1.92e19, 8.0e9),
    (1e9, 1.21e20, 20.2e9),
    (10e9, 1.23e22, 205.1e9),
    (67e9, 5.76e23, 1.5e12),
    (175e9, 3.85e24, 3.7e12),
    (280e9, 9.90e24, 5.9e12),
    (520e9, 3.43e25, 11.0e12),
    (1e12, 1.27e26, 21.2e12),
    (10e12, 1.30e28, 216.2e12),
)
CHINCHILLA_TABLE3_SOURCE = ("Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', "
                            "arXiv:2203.15556, Table 3")

#: Llama 3's own scaling-law fit (arXiv:2407.21783, section 3.2.1): extrapolated to 3.8e25 FLOPs it
#: "suggests training a 402B parameter model on 16.55T tokens", about 41 tokens per parameter.
LLAMA3_OPTIMUM = (402e9, 16.55e12, 3.8e25)


# ---- 6 N D ------------------------------------------------------------------------------------
def chinchilla_tokens(params):
    """Compute-optimal training tokens for `params` parameters: about 20 per parameter."""
    return scalar_or_array(CHINCHILLA_TOKENS_PER_PARAM * positive("params", params))


def training_flops(params, tokens):
    """Training FLOPs = 6 N D (2 forward + 4 backward per parameter per token)."""
    return scalar_or_array(6.0 * positive("params", params) * positive("tokens", tokens))


def inference_flops_per_token(active_params):
    """Decode FLOPs per generated token = 2 N_active."""
    return scalar_or_array(2.0 * positive("active_params", active_params))


def attention_training_flops_per_token(model, seq_len, *, causal: bool = False):
    """Attention's FLOPs per TRAINING token at sequence length S: 3 x S x a (forward + 2 x backward).

    a = `attention.attention_flops_per_position(model, "prefill")`: FLOPs of one query against one
    key, all layers (4 H Q per layer for MHA/GQA, so 3 S a = 12 L H Q S: PaLM's term,
    arXiv:2204.02311 appendix B, which counts the full S x S square). `causal=True` counts the
    (S + 1) / 2 keys a causal kernel really visits on average. Example: Llama 3.1 405B at 8,192
    tokens: 12 x 126 x 128 x 128 x 8192 = 2.03e11 FLOPs, 8 % of its 6 N = 2.43e12.
    """
    m = lookup_model(model)
    s = positive("seq_len", seq_len)
    keys = (s + 1.0) / 2.0 if causal else s
    return scalar_or_array(3.0 * keys * attention_flops_per_position(m, "prefill"))


def training_flops_per_token(model, seq_len, *, causal: bool = False):
    """PaLM's model FLOPs per training token: 6 N_active + attention (`attention_training_flops_per_token`).

    Example: DeepSeek-V3 (MLA, 128 heads of 128 + 64 query/key and 128 value dims, 61 layers) at
    its 4,096-token pretraining length: 6 x 36.6e9 + 3 x 4096 x 5.0e6 = 2.2e11 + 6.1e10 FLOPs.
    """
    m = lookup_model(model)
    return scalar_or_array(6.0 * m.active_params
                           + np.asarray(attention_training_flops_per_token(m, seq_len, causal=causal)))


@dataclass(frozen=True)
class LinearLayerFlops:
    """FLOPs of one linear layer (T tokens, d_in x d_out weights) in one training step."""

    forward: object         # Y = X W          : 2 T d_in d_out
    grad_input: object      # dX = dY W^T      : 2 T d_out d_in
    grad_weight: object     # dW = X^T dY      : 2 d_in T d_out

    @property
    def backward(self):
        return scalar_or_array(np.asarray(self.grad_input) + np.asarray(self.grad_weight))

    @property
    def total(self):
        return scalar_or_array(np.asarray(self.forward) + np.asarray(self.backward))


def linear_layer_flops(tokens, d_in, d_out) -> LinearLayerFlops:
    """FLOPs of the three matrix products a linear layer costs per training step.

    Each product multiplies a (m x k) by a (k x n) matrix: m k n multiply-adds = 2 m k n FLOPs.
    forward (T x d_in)(d_in x d_out), grad_input (T x d_out)(d_out x d_in), grad_weight
    (d_in x T)(T x d_out): all three are 2 T d_in d_out, so total = 6 x tokens x parameters.
    Example: 4096 tokens through a 4096 x 4096 layer: 6 x 4096 x 16.8M = 412 GFLOP.
    """
    t, i, o = positive("tokens", tokens), positive("d_in", d_in), positive("d_out", d_out)
    each = scalar_or_array(2.0 * t * i * o)
    return LinearLayerFlops(forward=each, grad_input=each, grad_weight=each)


# ---- time and efficiency on a cluster ---------------------------------------------------------
def training_time(params, tokens, hw, chips, mfu, *, dtype: str = "bf16"):
    """Wall-clock seconds to train: t = 6 N D / (chips x F x MFU).

    N: parameters doing arithmetic per token (ACTIVE parameters for a mixture of experts);
    F: the chip's dense FLOP/s in `dtype`; MFU: the fraction of it the run achieves.
    Example: Llama 3.1 405B, 15.6T tokens on 16,384 H100s at 40 % MFU: 6 x 405e9 x 15.6e12 /
    (16384 x 989.4e12 x 0.40) = 5.85e6 s = 68 days.
    """
    flops = training_flops(params, tokens)
    c = positive("chips", chips)
    f = lookup_hardware(hw).flops_for(dtype)
    return scalar_or_array(np.asarray(flops) / (c * f * fraction("mfu", mfu)))


def training_chip_hours(params, tokens, hw, mfu, *, dtype: str = "bf16"):
    """Chip-hours of training: 6 N D / (F x MFU) / 3600 (independent of how many chips share it)."""
    return scalar_or_array(np.asarray(training_time(params, tokens, hw, 1, mfu, dtype=dtype)) / HOUR)


def implied_mfu(params, tokens, gpu_hours, hw, *, dtype: str = "bf16", attention_flops=0.0):
    """The MFU a published training run implies: (6 N + A) D / (GPU-hours x 3600 x F).

    A: attention FLOPs per training token, 0 for the usual 6 N D convention; PaLM's definition
    counts them (`attention_training_flops_per_token`).

    Everything the GPU-hours paid for (restarts, evaluation, idle time) counts against it, so
    it is an end-to-end efficiency, usually below the per-step MFU a paper reports. A value
    above 1 means the claim beats the chip's peak: a wrong dtype, sparse FLOP/s, or total
    instead of active parameters. Example: DeepSeek-V3, 37B active, 14.8T tokens, 2.664M
    H800-hours: 3.29e24 / (2.664e6 x 3600 x 989.4e12) = 0.346 of the bf16 peak.
    """
    flops = np.asarray(training_flops(params, tokens))
    flops = flops * (1.0 + non_negative("attention_flops", attention_flops) / (6.0 * np.asarray(params)))
    hours = positive("gpu_hours", gpu_hours)
    f = lookup_hardware(hw).flops_for(dtype)
    return scalar_or_array(flops / (hours * HOUR * f))


# ---- compute-optimal size: Chinchilla -----------------------------------------------------------
def chinchilla_optimal(flops, *, tokens_per_param=CHINCHILLA_TOKENS_PER_PARAM):
    """Compute-optimal (params, tokens) for a budget of `flops`: C = 6 N D with D = r N.

    N = sqrt(C / (6 r)), D = r N. With r from Table 3's own row this reproduces the table
    (see tests/test_training.py). Example: Gopher's 5.76e23 FLOPs at r = 20: N = 69B, D = 1.39T.
    """
    c = positive("flops", flops)
    r = positive("tokens_per_param", tokens_per_param)
    n = np.sqrt(c / (6.0 * r))
    return scalar_or_array(n), scalar_or_array(r * n)


def overtraining_factor(params, tokens, *, tokens_per_param=CHINCHILLA_TOKENS_PER_PARAM):
    """How many times past compute-optimal a model is trained: D / (r N), r = 20 (Chinchilla).

    r is a fitted, data-dependent number: with Llama 3's fit (r ~ 41 at 3.8e25 FLOPs,
    `LLAMA3_OPTIMUM`) the same model is about half as far past its optimum.
    """
    r = positive("tokens_per_param", tokens_per_param)
    return scalar_or_array(positive("tokens", tokens) / (r * positive("params", params)))


@dataclass(frozen=True)
class LossFit:
    """A parametric loss fit L(N, D) = E + A / N^alpha + B / D^beta (Chinchilla's Approach 3).

    E is the irreducible loss (nats per token), A / N^alpha the penalty of a finite model,
    B / D^beta the penalty of finite data. The fit's frontier for a budget C = 6 N D is
    N_opt = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)).
    """

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def _loss(self, loss):
        lo = as_array("loss", loss)
        if np.any(lo <= self.E):
            raise ValueError(f"loss must be above the irreducible loss E = {self.E} of the "
                             f"{self.name} fit, got {lo.min():g}")
        return lo

    def loss(self, params, tokens):
        """L(N, D) in nats per token."""
        n, d = positive("params", params), positive("tokens", tokens)
        return scalar_or_array(self.E + self.A / n**self.alpha + self.B / d**self.beta)

    def min_params(self, loss):
        """The smallest model that reaches `loss` at all (with infinite data): (A / (L - E))^(1/alpha)."""
        return scalar_or_array((self.A / (self._loss(loss) - self.E)) ** (1.0 / self.alpha))

    def _tokens(self, n, lo):
        """tokens_for_loss without argument checks (inner loops)."""
        room = lo - self.E - self.A / n**self.alpha
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(room > 0, (self.B / np.where(room > 0, room, 1.0)) ** (1.0 / self.beta), np.inf)

    def _elasticity(self, n, d):
        return self.alpha * self.A * n**-self.alpha / (self.beta * self.B * d**-self.beta) - 1.0

    def tokens_for_loss(self, params, loss):
        """Tokens a model of `params` needs to reach `loss`: (B / (L - E - A / N^alpha))^(1/beta).

        np.inf where the model is too small to reach that loss with any amount of data.
        """
        return scalar_or_array(self._tokens(positive("params", params), self._loss(loss)))

    def params_for_loss(self, tokens, loss):
        """Parameters a model trained on `tokens` needs to reach `loss` (np.inf if unreachable)."""
        d, lo = positive("tokens", tokens), self._loss(loss)
        room = lo - self.E - self.B / d**self.beta
        with np.errstate(divide="ignore", over="ignore"):
            n = np.where(room > 0, (self.A / np.where(room > 0, room, 1.0)) ** (1.0 / self.alpha), np.inf)
        return scalar_or_array(n)

    def compute_optimal(self, flops):
        """(N, D) minimising L at a budget C = 6 N D (Hoffmann et al. eq. 4)."""
        c = positive("flops", flops)
        a = self.beta / (self.alpha + self.beta)
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        n = g * (c / 6.0) ** a
        return scalar_or_array(n), scalar_or_array(c / 6.0 / n)

    def isoloss_optimum(self, loss):
        """(N, D) reaching `loss` with the least training compute.

        There the two penalties' slopes balance, alpha A N^-alpha = beta B D^-beta, so the model
        term is (L - E) beta / (alpha + beta): N_c = (A (alpha + beta) / (beta (L - E)))^(1/alpha).
        """
        lo = self._loss(loss)
        n = (self.A * (self.alpha + self.beta) / (self.beta * (lo - self.E))) ** (1.0 / self.alpha)
        return scalar_or_array(n), self.tokens_for_loss(n, lo)

    def elasticity(self, params, tokens):
        """s = -d ln(6 N D) / d ln N along a curve of constant loss: (alpha A N^-alpha)/(beta B D^-beta) - 1.

        How many percent more training compute a 1 % smaller model needs for the same loss:
        0 at the compute-optimal point, growing without bound as N approaches `min_params`.
        """
        return scalar_or_array(self._elasticity(positive("params", params), positive("tokens", tokens)))


#: Hoffmann et al. 2022, arXiv:2203.15556, eq. 10 (Approach 3), as printed.
HOFFMANN_2022 = LossFit(
    name="Hoffmann et al. 2022", E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28,
    source="Hoffmann et al. 2022, arXiv:2203.15556, Section 3.3 / eq. 10 (Approach 3)")

#: Besiroglu, Erdil, Barnett & You 2024, "Chinchilla Scaling: A replication attempt",
#: arXiv:2404.10102: Approach 3 refitted to the paper's own data; its frontier agrees with
#: Approaches 1 and 2 (about 20 tokens per parameter), which the printed fit does not.
BESIROGLU_2024 = LossFit(
    name="Besiroglu et al. 2024", E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658,
    source="Besiroglu et al. 2024, arXiv:2404.10102 (replication of Hoffmann et al. Approach 3)")


# ---- a model of another size, for "what would it cost to serve?" ---------------------------------
def resize_layers(model, total_params) -> Model:
    """A copy of `model` with as many layers as give about `total_params` parameters.

    Width, attention and vocabulary stay; only depth changes, so weight bytes and KV bytes per
    token scale with the layer count. Used to price the Chinchilla-optimal "twin" of a model
    with `roofline.cost_per_token`. The name says it is hypothetical.
    """
    m = lookup_model(model)
    target = float(positive("total_params", total_params))
    embed = m.embedding_params()
    per_layer = (m.total_params - embed) / m.n_layers
    layers = max(1, int(round((target - embed) / per_layer)))
    if m.n_window_layers:
        raise ValueError(f"resize_layers does not handle sliding-window layers ({m.name})")
    dense_layers = min(m.n_dense_layers, layers)
    return replace(m, name=f"{m.name} resized to {layers} layers", n_layers=layers,
                   n_dense_layers=dense_layers, published_total=0.0, published_active=0.0,
                   note=f"Hypothetical: {m.name} with {layers} instead of {m.n_layers} layers.", aliases=())
