"""Answer keys for chapter 5, "Over-training: Chinchilla, RL and inference".

Each expected value is computed with rooflib for the student's variant (see rooflib.course.variants).
The exercises themselves live in solutions/05_overtraining.ipynb.
"""
from __future__ import annotations

from ... import lifetime as lt
from ... import training as tr
from ...attention import attention_flops
from ...models import model
from ...units import DAY
from . import register, written

SIX = ("Training costs 6 FLOPs per parameter per token (2 forward, 4 backward); inference costs 2. "
       "Did you use the inference figure?")
DAYS = "The answer is wanted in SECONDS (SI); 1 day = 86,400 s."

# ---- 05.1: how long does a training run take? ---------------------------------------------------
TRAIN_MODELS = ["Llama 3.1 70B", "Llama 3.1 8B", "Llama 3.1 405B", "DeepSeek-V3", "Kimi K2",
                "Qwen3-235B-A22B"]
TRAIN_CHIPS = ["H100 SXM", "H200 SXM", "B200", "MI300X"]
RUNS = {"model": TRAIN_MODELS, "tokens": [15e12, 10e12, 20e12, 36e12], "chip": TRAIN_CHIPS,
        "chips": [16384, 2048, 4096, 8192], "mfu": [0.40, 0.30, 0.35, 0.45]}


def _train_time(v):
    return tr.training_time(model(v["model"]).active_params, v["tokens"], v["chip"], v["chips"], v["mfu"])


register(
    "05.1", _train_time, rel=0.03, unit="s", variants=RUNS,
    hints=lambda v: [(1 / 3, SIX), (1 / 86400, DAYS), (1 / 3600, "The answer is wanted in SECONDS, not hours."),
                     (v["mfu"], "Divide by the MFU: the chips deliver only that fraction of their peak."),
                     (1 / v["mfu"] ** 2, "Divide by the MFU once, not multiply by it.")],
    question="Wall-clock seconds to pretrain the model (ACTIVE parameters) on `tokens` tokens on "
             "`chips` chips running at `mfu` of their dense bf16 peak.")

# ---- 05.2: the MFU a published run implies -------------------------------------------------------
#: Published runs. Llama 3.1: H100-80GB hours from the model card
#: (https://github.com/meta-llama/llama-models/blob/a9c89c471f793423afd4cc3ca8671d6e56fe64cb/models/llama3_1/MODEL_CARD.md),
#: "15T+" tokens, 15.6T for 405B (Llama 3 paper, arXiv:2407.21783). DeepSeek-V3: pre-training on
#: 14.8T tokens in 2.664M H800 hours (README of deepseek-ai/DeepSeek-V3 at 9b4e978).
PUBLISHED_RUNS = [
    {"model": "Llama 3.1 405B", "tokens": 15.6e12, "gpu_hours": 30.84e6, "chip": "H100 SXM"},
    {"model": "Llama 3.1 70B", "tokens": 15e12, "gpu_hours": 7.0e6, "chip": "H100 SXM"},
    {"model": "Llama 3.1 8B", "tokens": 15e12, "gpu_hours": 1.46e6, "chip": "H100 SXM"},
    {"model": "DeepSeek-V3", "tokens": 14.8e12, "gpu_hours": 2.664e6, "chip": "H800 SXM"},
]


def _implied(v):
    return tr.implied_mfu(model(v["model"]).active_params, v["tokens"], v["gpu_hours"], v["chip"])


register(
    "05.2", _implied, rel=0.03, unit="", variants=PUBLISHED_RUNS,
    hints=[(1 / 3, SIX), (100.0, "Give MFU as a fraction (0.35), not a percentage (35)."),
           (1 / 3600, "GPU-hours are hours: multiply by 3600 to get GPU-seconds.")],
    question="The MFU (a fraction of the dense bf16 peak) that the published GPU-hours imply: "
             "6 N_active D / (GPU-hours x 3600 x peak FLOP/s).")

# ---- 05.3: compute-optimal size for a budget -----------------------------------------------------
BUDGETS = {"flops": [5.76e23, 1e22, 1e24, 3.8e25, 1e26, 3e26]}

register(
    "05.3", lambda v: tr.chinchilla_optimal(v["flops"])[0], unit="parameters", variants=BUDGETS,
    hints=[(20.0, "That is the number of TOKENS, D = 20 N. The question asks for parameters."),
           (6**0.5, "C = 6 N D: with D = 20 N the budget is 120 N^2, not 20 N^2."),
           (3**0.5, "Training is 6 N D, not 2 N D: with D = 20 N, C = 120 N^2."),
           (1 / 20**0.5, "Solve C = 6 N (20 N) = 120 N^2 for N: N = sqrt(C / 120).")],
    question="Chinchilla-optimal parameter count for a training budget of `flops` FLOPs, with "
             "C = 6 N D and D = 20 N.")

# ---- 05.4: the backward pass of one linear layer -------------------------------------------------
LAYERS = {"tokens": [4096, 1024, 2048, 8192], "d_in": [8192, 4096, 5120, 7168],
          "d_out": [28672, 14336, 4096, 18432]}

register(
    "05.4", lambda v: tr.linear_layer_flops(v["tokens"], v["d_in"], v["d_out"]).backward,
    unit="FLOP", variants=LAYERS,
    hints=[(0.5, "The backward pass needs TWO products: the gradient with respect to the input "
                 "(dX = dY W^T) AND the one with respect to the weights (dW = X^T dY)."),
           (0.25, "Two products of 2 T d_in d_out FLOPs each: count FLOPs (2 per multiply-add), "
                  "and both gradients."),
           (1.5, "That includes the forward pass; the question asks for the backward pass only.")],
    question="FLOPs of the backward pass of one linear layer (d_in x d_out weights) for a batch of "
             "`tokens` tokens: both gradients, 2 FLOPs per multiply-add.")

# ---- 05.5: pretraining tokens from a serving rate -----------------------------------------------
#: The default MFUs are the chapter's measured pair: DeepSeek-V3's training (34.4 %) and its serving
#: fleet's decode (13.8 %, weights only); the others are what-ifs.
SERVING = {"rate": [1e6, 3e5, 3e6, 1e7], "months": [12, 6, 18, 24], "train_mfu": [0.344, 0.40, 0.30],
           "decode_mfu": [0.138, 0.25, 0.10, 0.20], "params": [70e9, 30e9, 8e9, 400e9]}


def _served(v):
    return v["rate"] * v["months"] * tr.MONTH


def _balanced(v):
    return lt.balanced_pretraining_tokens(_served(v), train_mfu=v["train_mfu"], decode_mfu=v["decode_mfu"])


def _balance_hints(v):
    r = v["train_mfu"] / v["decode_mfu"]
    return [(1 / r, "Each served token costs 2 N / MFU_decode of chip time and each training token "
                    "6 N / MFU_train: include both MFUs."),
            (r * r, "The MFUs enter as MFU_train / MFU_decode: a decode-MFU factor is inverted."),
            (3.0, "Pretraining costs 6 N per token and a served token 2 N: D = T x MFU_train / (3 MFU_decode)."),
            (1 / 3, "D = T x MFU_train / (3 MFU_decode): divide by 3, once.")]


register(
    "05.5a", _balanced, rel=0.03, unit="tokens", variants=SERVING, hints=_balance_hints,
    question="Pretraining tokens D that make pretraining cost as much chip time as serving "
             "`rate` tokens/s for `months` months (30.44-day months), at the two MFUs.")

register(
    "05.5b", lambda v: tr.overtraining_factor(v["params"], _balanced(v)), rel=0.03, unit="",
    variants=SERVING,
    hints=[(20.0, "The over-training factor is D / (20 N), not D / N."),
           (1 / 20, "The over-training factor is D / (20 N): divide by 20 N, once.")],
    question="How many times past Chinchilla (D / (20 N)) a model of `params` parameters trained on "
             "the tokens of 05.5a is.")

# ---- 05.6: when does over-training pay? ---------------------------------------------------------
#: A published over-trained model and its compute-optimal twin at the same loss (the Besiroglu
#: et al. 2024 fit): N_small, D_small, N_big, D_big.
FIT = tr.BESIROGLU_2024


def _twin_setup(name, tokens, mt, md):
    n = float(model(name).active_params)
    nb, db = FIT.isoloss_optimum(FIT.loss(n, tokens))
    return {"model": name, "n_small": n, "d_small": tokens, "n_big": float(nb), "d_big": float(db),
            "train_mfu": mt, "decode_mfu": md}


TWINS = [_twin_setup(m, d, mt, md) for m, d in (("Llama 3.1 70B", 15e12), ("Llama 3.1 8B", 15e12),
                                                ("Llama 3.1 405B", 15.6e12))
         for mt, md in ((0.344, 0.138), (0.40, 0.15), (0.30, 0.10))]


def _break_even(v):
    extra = 6 * (v["n_small"] * v["d_small"] - v["n_big"] * v["d_big"]) / v["train_mfu"]
    saved_per_token = 2 * (v["n_big"] - v["n_small"]) / v["decode_mfu"]
    return extra / saved_per_token


register(
    "05.6", _break_even, rel=0.03, unit="tokens", variants=TWINS,
    hints=lambda v: [(v["decode_mfu"] / v["train_mfu"],
                      "Training chip time is FLOPs / MFU_train and serving chip time FLOPs / MFU_decode: "
                      "use each stage's own MFU."),
                     (3.0, "A served token costs 2 N FLOPs, a training token 6 N: do not use 6 for both."),
                     (1 / 3, "A served token costs 2 N FLOPs, a training token 6 N.")],
    question="Tokens the over-trained model must serve before its extra pretraining is paid back by "
             "its cheaper tokens, compared with its compute-optimal twin (chip time, each stage at its MFU).")

# ---- answered in words: nothing to check, but check() and explain() say so ----------------------
written("05.7", "DeepSeek-V3's MFU against the bf16 and the fp8 peak: which says what, and why "
        'does an FP8 mixture of experts land far below the fp8 peak?')
written("05.8", 'Why is the smallest Llama 3.1 the most over-trained, and what limits '
        'over-training the largest models?')

# ---- 05.9: the three-way equal split -------------------------------------------------------------
#: The lecture's example first: 50M tokens/s for 60 days, decode at a third of the training MFU,
#: a 100B-active model. Other rows: other fleets, and measured MFU pairs (DeepSeek's 13.8 % decode
#: against Llama 3.1 405B's 34.4 % training, both weights only, bf16 peak).
SPLITS = {"rate": [50e6, 20e6, 1e8, 5e6], "days": [60, 90, 30, 180],
          "mfus": [(0.30, 0.10), (0.344, 0.138), (0.45, 0.15), (0.40, 0.25)],
          "params": [100e9, 37e9, 400e9, 20e9]}


def _split(v):
    mt, md = v["mfus"]
    return lt.equal_split_tokens(v["rate"] * v["days"] * DAY, train_mfu=mt, decode_mfu=md)


def _split_hints(v):
    mt, md = v["mfus"]
    c = mt / (3 * md)
    hints = [(3.0, "A served token costs 2 N FLOPs, a training token 6 N: divide by 3 once.")]
    if abs(c - 1) > 0.05:
        hints.insert(0, (1 / c, "Count each token in CHIP TIME: 2 N / MFU_decode for a served token, "
                                "6 N / MFU_train for a training token."))
    return hints


register(
    "05.9a", lambda v: _split(v)[0], rel=0.03, unit="tokens", variants=SPLITS, hints=_split_hints,
    question="Pretraining tokens D that make pretraining cost as much chip time as serving `rate` "
             "tokens/s for `days` days (MFUs (train, decode) = `mfus`).")
register(
    "05.9b", lambda v: _split(v)[1], rel=0.03, unit="tokens", variants=SPLITS,
    hints=lambda v: [(2.0, "That is D: an RL rollout token is generated AND trained on, so it costs "
                           "more than a pretraining token; divide D by what one RL token costs."),
                     (4.0, "An RL token costs (2 N / MFU_decode + 6 N / MFU_train) of chip time, "
                           "not 6 N / MFU_train: its generation counts too.")],
    question="RL rollout tokens (each generated, then trained on) whose chip time equals pretraining's.")
register(
    "05.9c", lambda v: tr.overtraining_factor(v["params"], _split(v)[0]), rel=0.03, unit="",
    variants=SPLITS,
    hints=[(20.0, "The over-training factor is D / (20 N), not D / N."),
           (1 / 20, "Divide D by 20 N, once.")],
    question="How many times past Chinchilla (D / (20 N)) a model of `params` active parameters "
             "trained on the tokens of 05.9a is.")

# ---- 05.10: RL accounting: 2 or 1.5? ---------------------------------------------------------------
RL_KEEP = {"kept": [1.0, 0.5, 0.25, 0.75], "mfus": [(0.30, 0.10), (0.344, 0.138), (0.40, 0.20)]}

def _rl_hints(v):
    mt, md = v["mfus"]
    c, k = mt / (3 * md), v["kept"]
    hints = []
    if abs((1 + k) / (c + k) - 1) > 0.05:
        hints.append(((1 + k) / (c + k), "Weight the generation by the MFUs: a generated token costs "
                                         "MFU_train / (3 MFU_decode) training tokens, not one."))
    if abs((c + 1) / (c + k) - 1) > 0.05:
        hints.append(((c + 1) / (c + k), "Only the kept share of the rollout tokens is trained on: multiply "
                                         "the 6 N by that share, but keep the full generation cost."))
    return hints


register(
    "05.10", lambda v: lt.rl_token_cost(train_mfu=v["mfus"][0], decode_mfu=v["mfus"][1],
                                        rl_trained_fraction=v["kept"]),
    rel=0.02, unit="", variants=RL_KEEP, hints=_rl_hints,
    question="Chip time of one generated RL rollout token, in pretraining tokens, when a share `kept` "
             "of the rollouts is trained on (MFUs (train, decode) = `mfus`).")

# ---- 05.11: DeepSeek's decode MFU with and without attention --------------------------------------
#: deepseek-ai/open-infra-index, day 6: ~14.8k output tokens/s per 8 x H800 node, average KV length
#: 4,989 tokens. Other rows are hypothetical fleets of the same model.
DECODE_FLEETS = {"tokens_per_node_s": [14_800, 10_000, 20_000], "context": [4989, 2000, 16_000]}


def _decode_mfu(v, attention):
    m = model("DeepSeek-V3")
    flops = 2 * 37e9 + (attention_flops(m, v["context"]) if attention else 0.0)   # 37B active: DeepSeek README
    return lt.measured_decode_mfu(v["tokens_per_node_s"] / 8, flops, "H800 SXM")


register(
    "05.11a", lambda v: _decode_mfu(v, False), rel=0.03, unit="", variants=DECODE_FLEETS,
    hints=[(8.0, "The rate is per NODE of 8 GPUs: divide by 8 for one chip."),
           (100.0, "Give MFU as a fraction, not a percentage."), (0.5, "Against the bf16 peak, not fp8.")],
    question="Decode MFU of DeepSeek-V3's fleet against the H800's bf16 peak, counting only the weights' "
             "2 N_active FLOPs per token.")
register(
    "05.11b", lambda v: _decode_mfu(v, True), rel=0.03, unit="", variants=DECODE_FLEETS,
    hints=lambda v: [(_decode_mfu(v, False) / _decode_mfu(v, True),
                      "That counts only the weights. PaLM's definition adds attention's FLOPs at "
                      "`context` tokens (rl.attention_flops)."),
                     (8.0, "The rate is per NODE of 8 GPUs.")],
    question="The same MFU by PaLM's definition: weights' 2 N_active plus MLA attention's FLOPs at the "
             "average `context`.")
