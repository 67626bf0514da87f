"""lifetime.py: pretraining + RL + inference in chip time, the equal split, and the lifetime optimum."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import lifetime as lt
from rooflib import training as tr

H100_BF16 = 989.4e12   # dense bf16 (hardware.py)

# ---- lifetime ------------------------------------------------------------------------------------
MFU = dict(train_mfu=0.35, decode_mfu=0.25)


def test_lifetime_compute_by_hand():
    n, d, t, r, p = 70e9, 15e12, 1e14, 1e12, 3e14
    life = lt.lifetime_compute(n, d, t, "H100", rl_tokens=r, prefill_tokens=p, prefill_mfu=0.5, **MFU)
    assert life.pretraining == pytest.approx(6 * n * d / (0.35 * H100_BF16))
    assert life.rl == pytest.approx(r * (2 * n / 0.25 + 6 * n / 0.35) / H100_BF16)
    assert life.inference == pytest.approx((2 * n * t / 0.25 + 2 * n * p / 0.5) / H100_BF16)
    assert life.total == pytest.approx(life.pretraining + life.rl + life.inference)
    assert sum(life.shares.values()) == pytest.approx(1.0)
    assert life.chip_hours() == pytest.approx(life.total / 3600)
    # prefill defaults to the training MFU (both compute-bound)
    a = lt.lifetime_compute(n, d, 0, "H100", prefill_tokens=p, **MFU)
    assert a.inference == pytest.approx(2 * n * p / 0.35 / H100_BF16)


def test_balanced_tokens_equalise_pretraining_and_serving():
    t = 1e14
    d = lt.balanced_pretraining_tokens(t, **MFU)
    assert d == pytest.approx(t * 0.35 / (3 * 0.25))
    life = lt.lifetime_compute(123e9, d, t, "H100", rl_tokens=0, **MFU)
    assert life.pretraining == pytest.approx(life.inference)
    d2 = lt.balanced_pretraining_tokens(t, rl_tokens=2e12, prefill_tokens=5e13, **MFU)
    life2 = lt.lifetime_compute(7e9, d2, t, "H100", rl_tokens=2e12, prefill_tokens=5e13, **MFU)
    assert life2.pretraining == pytest.approx(life2.rl + life2.inference)


@pytest.mark.parametrize("served, rl_tokens", [(0.0, 0.0), (1e12, 0.0), (1e14, 1e12), (3e15, 0.0)])
def test_lifetime_optimum_matches_brute_force(served, rl_tokens):
    fit = tr.BESIROGLU_2024
    loss = fit.loss(70e9, 1.4e12)
    opt = lt.lifetime_optimum(loss, served, rl_tokens=rl_tokens, **MFU)
    n = np.geomspace(fit.min_params(loss) * 1.0001, fit.isoloss_optimum(loss)[0] * 1.5, 200_001)
    total = lt.lifetime_compute(n, fit.tokens_for_loss(n, loss), served, "H100", rl_tokens=rl_tokens, **MFU).total
    assert opt.params == pytest.approx(n[np.argmin(total)], rel=1e-3)
    assert opt.cost.total == pytest.approx(total.min(), rel=1e-6)
    assert fit.loss(opt.params, opt.tokens) == pytest.approx(loss)
    # the optimality condition: RL + inference = s x pretraining
    c = opt.cost
    assert c.rl + c.inference == pytest.approx(opt.elasticity * c.pretraining, rel=1e-6, abs=1e-9 * c.total)


def test_lifetime_optimum_without_serving_is_compute_optimal():
    fit = tr.HOFFMANN_2022
    loss = fit.loss(1e10, 3e11)
    opt = lt.lifetime_optimum(loss, 0.0, fit=fit, **MFU)
    assert opt.params == pytest.approx(fit.isoloss_optimum(loss)[0], rel=1e-9)


def test_lifetime_optimum_vectorised():
    loss = tr.BESIROGLU_2024.loss(70e9, 1.4e12)
    served = np.array([1e12, 1e13, 1e14, 1e15])
    opt = lt.lifetime_optimum(loss, served, **MFU)
    assert np.shape(opt.params) == (4,)
    one = lt.lifetime_optimum(loss, 1e14, **MFU)
    assert opt.params[2] == pytest.approx(one.params)
    # more serving: a smaller model trained further past Chinchilla, and serving's share rises
    assert np.all(np.diff(opt.params) < 0) and np.all(np.diff(opt.overtraining) > 0)
    assert np.all(np.diff(opt.cost.shares["inference"]) > 0)


@settings(max_examples=30, deadline=None)
@given(st.floats(1e9, 1e12), st.floats(1e10, 1e16), st.floats(1.5, 10), st.floats(0.05, 0.6), st.floats(0.05, 0.6))
def test_more_serving_never_means_a_bigger_model(quality, served, more, mt, md):
    fit = tr.BESIROGLU_2024
    loss = fit.loss(quality, 20 * quality)
    opt = lt.lifetime_optimum(loss, np.array([served, served * more]), train_mfu=mt, decode_mfu=md)
    assert opt.params[1] <= opt.params[0] * (1 + 1e-9)
    nc = fit.isoloss_optimum(loss)[0]
    assert np.all(opt.params <= nc * (1 + 1e-9)) and np.all(opt.params > fit.min_params(loss))


# ---- what a served or an RL token costs ------------------------------------------------------------
def test_served_and_rl_token_costs():
    # decode at a third of the training MFU: a served token costs one training token
    assert lt.served_token_cost(train_mfu=0.3, decode_mfu=0.1) == pytest.approx(1.0)
    assert lt.rl_token_cost(train_mfu=0.3, decode_mfu=0.1) == pytest.approx(2.0)
    assert lt.rl_token_cost(train_mfu=0.3, decode_mfu=0.1, rl_trained_fraction=0.5) == pytest.approx(1.5)
    # measured figures (chapter 5): Llama 3.1 405B's 34.4 % training, DeepSeek's 13.8 % decode
    assert lt.served_token_cost(train_mfu=0.344, decode_mfu=0.138) == pytest.approx(0.83, abs=0.005)
    # the ideal decode MFU of 24.9 % gave 0.46, the figure the chapter used to quote
    assert lt.served_token_cost(train_mfu=0.344, decode_mfu=0.249) == pytest.approx(0.46, abs=0.005)


def test_deepseek_decode_mfu_with_and_without_attention():
    # deepseek-ai/open-infra-index, day 6 (2025-02-28): ~14.8k output tokens/s per 8 x H800 node,
    # average KV length 4,989; 37B active parameters (DeepSeek-V3 README)
    per_gpu = 14_800 / 8
    weights = lt.measured_decode_mfu(per_gpu, 2 * 37e9, "H800")
    assert weights == pytest.approx(1850 * 74e9 / 989.4e12) and round(weights, 3) == 0.138
    att = rl.attention_flops("DeepSeek-V3", 4989)
    assert att / 1e9 == pytest.approx(84.8, abs=0.05)          # 61 x 2 x 128 x (2 x 512 + 64) x 4989
    palm = lt.measured_decode_mfu(per_gpu, 2 * 37e9 + att, "H800")
    assert palm == pytest.approx(weights * (74e9 + att) / 74e9) and 0.29 < palm < 0.30


def test_equal_split_lecture_example():
    # 50M tokens/s for 60 days, decode at a third of the training MFU: D = T = 259T, R = D / 2
    t = 50e6 * 60 * 86_400
    d, r = lt.equal_split_tokens(t, train_mfu=0.3, decode_mfu=0.1)
    assert t == pytest.approx(2.592e14) and d == pytest.approx(t) and r == pytest.approx(t / 2)
    life = lt.lifetime_compute(100e9, d, t, "H100", rl_tokens=r, train_mfu=0.3, decode_mfu=0.1)
    assert life.pretraining == pytest.approx(life.rl) == pytest.approx(life.inference)
    d2, r2 = lt.equal_split_tokens(t, train_mfu=0.3, decode_mfu=0.1, rl_trained_fraction=0.5)
    assert d2 == pytest.approx(t) and d2 / r2 == pytest.approx(1.5)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e10, 1e17), st.floats(0.05, 0.6), st.floats(0.02, 0.6), st.floats(0.0, 1.0))
def test_equal_split_equalises_the_three_bills(t, mt, md, kept):
    d, r = lt.equal_split_tokens(t, train_mfu=mt, decode_mfu=md, rl_trained_fraction=kept)
    life = lt.lifetime_compute(7e9, d, t, "H100", rl_tokens=r, train_mfu=mt, decode_mfu=md,
                               rl_trained_fraction=kept)
    assert life.pretraining == pytest.approx(life.inference, rel=1e-9)
    assert life.rl == pytest.approx(life.inference, rel=1e-9)
    # a less efficient decode never makes the balanced pretraining shorter
    assert lt.equal_split_tokens(t, train_mfu=mt, decode_mfu=md / 2)[0] >= d


def test_lifetime_optimum_moves_with_the_decode_mfu():
    # a served token that costs more chip time asks for a smaller, longer-trained model
    loss = tr.BESIROGLU_2024.loss(70e9, 1.4e12)
    ideal = lt.lifetime_optimum(loss, 1e14, train_mfu=0.344, decode_mfu=0.249)
    measured = lt.lifetime_optimum(loss, 1e14, train_mfu=0.344, decode_mfu=0.138)
    assert measured.params < ideal.params and measured.overtraining > ideal.overtraining


@pytest.mark.parametrize("call, needle", [
    (lambda: lt.lifetime_compute(1e9, 1e12, -1, "H100", **MFU), "inference_tokens"),
    (lambda: lt.lifetime_compute(1e9, 1e12, 1, "H100", train_mfu=0.3, decode_mfu=0), "decode_mfu"),
    (lambda: lt.balanced_pretraining_tokens(1e12, train_mfu=0.4, decode_mfu=0.2, rl_tokens=-1), "rl_tokens"),
    (lambda: lt.lifetime_optimum(1.0, 1e12, **MFU), "loss"),
    (lambda: lt.rl_token_cost(train_mfu=0.3, decode_mfu=0.1, rl_trained_fraction=1.5), "rl_trained_fraction"),
    (lambda: lt.measured_decode_mfu(-1, 7e10, "H800"), "tokens_per_chip_second"),
    (lambda: lt.equal_split_tokens(-1, train_mfu=0.3, decode_mfu=0.1), "inference_tokens"),
    (lambda: lt.served_token_cost(train_mfu=30, decode_mfu=0.1), "train_mfu"),
])
def test_bad_values_name_the_argument(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()
