"""A model's lifetime compute: pretraining + RL + inference, and the model size that minimises it.

Each stage is counted in CHIP TIME: its useful FLOPs divided by (the chip's peak x the MFU that
stage reaches). Pretraining costs 6 N per token at the training MFU; a served (decoded) token
costs 2 N at the much lower decode MFU; an RL rollout token is generated (2 N, decode MFU) and
then, if kept, trained on (6 N, training MFU).

* `served_token_cost` and `rl_token_cost`: what a served or an RL token costs in training
  tokens' worth of chip time (MFU_train / (3 MFU_decode), and that plus the trained fraction).
* `measured_decode_mfu`: the MFU a serving fleet's tokens per chip-second imply.
* `lifetime_compute`: the three bills for a model of N active parameters.
* `balanced_pretraining_tokens`: the rule of thumb "pretraining = everything after it".
* `equal_split_tokens`: pretraining, RL and inference each one third of the bill.
* `lifetime_optimum`: the size (and tokens) that minimise the sum at a fixed loss, on a fitted
  loss law L(N, D) (`training.LossFit`). The law is a DENSE fit; using it with the active
  parameters of a mixture of experts is an assumption, not a measurement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import as_array, fraction, non_negative, positive, scalar_or_array
from .hardware import hardware as lookup_hardware
from .solve import bisect
from .training import BESIROGLU_2024, LossFit, overtraining_factor
from .units import HOUR


# ---- lifetime compute: pretraining + RL + serving -----------------------------------------------
@dataclass(frozen=True)
class Lifetime:
    """Chip-seconds a model consumes in its life, by stage (floats, or arrays for array input).

    Each stage is its useful FLOPs divided by (chip FLOP/s x the MFU that stage achieves):
    pretraining 6 N D; RL 2 N per rollout token generated plus 6 N per token trained on;
    inference 2 N per token, decode at the decode MFU and prefill at the prefill MFU.
    """

    pretraining: object
    rl: object
    inference: object

    @property
    def total(self):
        return scalar_or_array(np.asarray(self.pretraining) + np.asarray(self.rl) + np.asarray(self.inference))

    @property
    def shares(self) -> dict:
        """Fraction of the total spent in each stage."""
        t = np.asarray(self.total)
        return {k: scalar_or_array(np.asarray(getattr(self, k)) / t) for k in ("pretraining", "rl", "inference")}

    def chip_hours(self):
        """The total in chip-hours (the unit labs publish)."""
        return scalar_or_array(np.asarray(self.total) / HOUR)


def _serving_mfus(train_mfu, decode_mfu, prefill_mfu):
    mt = fraction("train_mfu", train_mfu)
    md = fraction("decode_mfu", decode_mfu)
    mp = mt if prefill_mfu is None else fraction("prefill_mfu", prefill_mfu)
    return mt, md, mp


def _serving_flops_per_param(inference_tokens, rl_tokens, prefill_tokens, mt, md, mp, kept=1.0):
    """(RL, inference) peak-FLOPs consumed per parameter: what multiplies N in each term."""
    t = non_negative("inference_tokens", inference_tokens)
    r = non_negative("rl_tokens", rl_tokens)
    p = non_negative("prefill_tokens", prefill_tokens)
    k = fraction("rl_trained_fraction", kept, allow_zero=True)
    return r * (2.0 / md + 6.0 * k / mt), 2.0 * t / md + 2.0 * p / mp


def lifetime_compute(active_params, pretraining_tokens, inference_tokens, hw, *, train_mfu, decode_mfu,
                     rl_tokens=0.0, prefill_tokens=0.0, prefill_mfu=None, rl_trained_fraction=1.0,
                     dtype: str = "bf16") -> Lifetime:
    """Chip-seconds of a model's whole life on chips `hw`, split into pretraining, RL and inference.

        pretraining = 6 N D / (F MFU_train)
        rl          = R (2 N / MFU_decode + phi 6 N / MFU_train) / F   (R rollout tokens generated,
                                                                   a fraction phi of them trained on)
        inference   = (2 N T / MFU_decode + 2 N P / MFU_prefill) / F

    N active parameters, D pretraining tokens, T generated (decoded) tokens served, P prompt
    tokens prefilled (default MFU: the training MFU, since prefill is compute-bound like training).
    Decode runs at a low MFU (chapter 1: `decode_step(...).mfu`), which is why each served token
    costs more chip time than its 2 N FLOPs suggest.
    """
    n = positive("active_params", active_params)
    d = positive("pretraining_tokens", pretraining_tokens)
    f = lookup_hardware(hw).flops_for(dtype)
    mt, md, mp = _serving_mfus(train_mfu, decode_mfu, prefill_mfu)
    rl_per_n, inf_per_n = _serving_flops_per_param(inference_tokens, rl_tokens, prefill_tokens, mt, md, mp,
                                                    rl_trained_fraction)
    return Lifetime(pretraining=scalar_or_array(6.0 * n * d / (mt * f)),
                    rl=scalar_or_array(n * rl_per_n / f), inference=scalar_or_array(n * inf_per_n / f))


def balanced_pretraining_tokens(inference_tokens, *, train_mfu, decode_mfu, rl_tokens=0.0,
                                prefill_tokens=0.0, prefill_mfu=None, rl_trained_fraction=1.0):
    """Pretraining tokens D that make pretraining cost as much chip time as everything after it.

    6 N D / MFU_train = RL + inference; N cancels: D = MFU_train / 6 x (RL + inference per parameter).
    Decode only: D = T MFU_train / (3 MFU_decode). With MFU_train = 0.35 and MFU_decode = 0.25, a
    model that will generate 100T tokens should be pretrained on about 47T.
    """
    mt, md, mp = _serving_mfus(train_mfu, decode_mfu, prefill_mfu)
    rl_per_n, inf_per_n = _serving_flops_per_param(inference_tokens, rl_tokens, prefill_tokens, mt, md, mp,
                                                    rl_trained_fraction)
    return scalar_or_array(mt / 6.0 * (rl_per_n + inf_per_n))


@dataclass(frozen=True)
class LifetimeOptimum:
    """The model size and pretraining tokens that minimise lifetime chip time at a fixed loss."""

    params: object
    tokens: object
    cost: Lifetime
    elasticity: object  # = (RL + inference) / pretraining at the optimum

    @property
    def overtraining(self):
        """D / (20 N): how far past Chinchilla's 20 tokens per parameter the optimum trains."""
        return overtraining_factor(self.params, self.tokens)


def lifetime_optimum(loss, inference_tokens, hw="H100", *, train_mfu, decode_mfu, rl_tokens=0.0,
                     prefill_tokens=0.0, prefill_mfu=None, rl_trained_fraction=1.0, dtype: str = "bf16",
                     fit: LossFit = BESIROGLU_2024) -> LifetimeOptimum:
    """Model size N (and tokens D = D(N) on the iso-loss curve) minimising lifetime chip time.

    Along the curve L(N, D) = loss, pretraining cost 6 N D(N) rises as N shrinks while RL and
    serving costs fall in proportion to N. Setting d(total)/d(ln N) = 0 gives

        RL + inference = s(N) x pretraining,   s = elasticity of pretraining cost w.r.t. N,

    so the optimum spends on serving s times what it spends on pretraining; s = 1 is the
    "equal split" rule of thumb. Solved by bisection on ln N between the smallest model that can
    reach the loss and the compute-optimal point (where s = 0). Vectorised over every argument.
    """
    lo = as_array("loss", loss)  # fit.min_params below says if it is out of the fit's range
    mt, md, mp = _serving_mfus(train_mfu, decode_mfu, prefill_mfu)
    rl_per_n, inf_per_n = _serving_flops_per_param(inference_tokens, rl_tokens, prefill_tokens, mt, md, mp,
                                                    rl_trained_fraction)
    after = np.asarray(rl_per_n + inf_per_n, dtype=float)   # RL + inference, per parameter
    lo, after = np.broadcast_arrays(lo, after)
    n_hi = np.log(np.asarray(fit.isoloss_optimum(lo)[0], dtype=float))
    n_lo = np.log(np.asarray(fit.min_params(lo), dtype=float)) + 1e-9

    def slope(log_n):
        # d(total)/d(ln N) / N = after - s x 6 D / MFU_train: negative left of the optimum
        n = np.exp(log_n)
        d = fit.tokens_for_loss(n, lo)
        return after - fit.elasticity(n, d) * 6.0 * d / mt

    n = np.exp(bisect(slope, n_lo, n_hi, iters=64))  # the bracket (< 10 wide) shrinks by 2^-64
    d = np.asarray(fit.tokens_for_loss(n, lo), dtype=float)
    cost = lifetime_compute(n, d, inference_tokens, hw, train_mfu=train_mfu, decode_mfu=decode_mfu,
                            rl_tokens=rl_tokens, prefill_tokens=prefill_tokens, prefill_mfu=prefill_mfu,
                            rl_trained_fraction=rl_trained_fraction, dtype=dtype)
    return LifetimeOptimum(params=scalar_or_array(n), tokens=scalar_or_array(d), cost=cost,
                           elasticity=fit.elasticity(n, d))


# ---- what a served or an RL token costs, in training tokens ---------------------------------------
def served_token_cost(*, train_mfu, decode_mfu):
    """Chip time of one served (decoded) token in training tokens: (2 / MFU_decode) / (6 / MFU_train).

    = MFU_train / (3 MFU_decode): 1/3 if decode were as efficient as training, 1 when decode runs
    at a third of the training MFU. Example: 34.4 % training, 13.8 % decode (DeepSeek's measured
    fleet, weights only): 0.344 / (3 x 0.138) = 0.83.
    """
    mt, md, _ = _serving_mfus(train_mfu, decode_mfu, None)
    return scalar_or_array(mt / (3.0 * md))


def rl_token_cost(*, train_mfu, decode_mfu, rl_trained_fraction=1.0):
    """Chip time of one RL rollout token in training tokens: generated, then a fraction phi trained on.

    (2 / MFU_decode + phi 6 / MFU_train) / (6 / MFU_train) = served_token_cost + phi. With decode
    at a third of the training MFU: 1 + phi, i.e. 2 if every rollout token is trained on and 1.5
    if half of them are discarded. Example: MFUs 0.30 and 0.10, phi = 1: 2.0.
    """
    k = fraction("rl_trained_fraction", rl_trained_fraction, allow_zero=True)
    return scalar_or_array(np.asarray(served_token_cost(train_mfu=train_mfu, decode_mfu=decode_mfu)) + k)


def measured_decode_mfu(tokens_per_chip_second, flops_per_token, hw, *, dtype: str = "bf16"):
    """The MFU a serving fleet implies: tokens per chip-second x FLOPs per token / peak FLOP/s.

    `flops_per_token` is 2 N_active for the weights alone; add attention's FLOPs
    (`attention.attention_flops(model, context)`) for PaLM's definition, which counts them.
    Example: DeepSeek's day-6 fleet, 14,800 tokens/s per 8-GPU H800 node, 2 x 37e9 FLOPs:
    1850 x 7.4e10 / 989.4e12 = 0.138 of the bf16 peak.
    """
    rate = positive("tokens_per_chip_second", tokens_per_chip_second)
    flops = positive("flops_per_token", flops_per_token)
    return scalar_or_array(rate * flops / lookup_hardware(hw).flops_for(dtype))


def equal_split_tokens(inference_tokens, *, train_mfu, decode_mfu, rl_trained_fraction=1.0):
    """(pretraining tokens D, RL rollout tokens R) that make pretraining = RL = inference in chip time.

    6 N D / MFU_train = 2 N T / MFU_decode = R (2 N / MFU_decode + phi 6 N / MFU_train); N cancels:
    D = T x served_token_cost, R = D / rl_token_cost. With decode at a third of the training MFU
    and phi = 1: D = T and R = D / 2. Example: 50M tokens/s for 60 days = 2.59e14 tokens -> D =
    2.59e14, R = 1.30e14.
    """
    t = non_negative("inference_tokens", inference_tokens)
    d = t * np.asarray(served_token_cost(train_mfu=train_mfu, decode_mfu=decode_mfu))
    r = d / np.asarray(rl_token_cost(train_mfu=train_mfu, decode_mfu=decode_mfu,
                                     rl_trained_fraction=rl_trained_fraction))
    return scalar_or_array(d), scalar_or_array(r)
