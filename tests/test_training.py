"""training.py: 6 N D (+ attention), implied MFU, Chinchilla's Table 3 and the loss fits."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import training as tr

H800_BF16, H800_FP8 = 989.4e12, 1978.9e12  # dense; same GH100 tensor cores as the H100 (hardware.py)
H100_BF16 = 989.4e12


# ---- where the 6 comes from ----------------------------------------------------------------------
def test_linear_layer_backward_is_two_forward_sized_products():
    """Count the multiply-adds numpy actually does for one linear layer, and check the gradients."""
    rng = np.random.default_rng(0)
    t, d_in, d_out = 5, 4, 3
    x, w = rng.normal(size=(t, d_in)), rng.normal(size=(d_in, d_out))
    target = rng.normal(size=(t, d_out))
    macs = []

    def mm(a, b):
        macs.append(a.shape[0] * a.shape[1] * b.shape[1])
        return a @ b

    def loss(x_, w_):
        return 0.5 * np.sum((x_ @ w_ - target) ** 2)

    y = mm(x, w)                 # forward
    dy = y - target              # dL/dY for the squared error
    dx = mm(dy, w.T)             # gradient w.r.t. the input, passed to the layer below
    dw = mm(x.T, dy)             # gradient w.r.t. the weights, for the optimiser
    # the two products really are the gradients (central finite differences)
    eps = 1e-6
    for (i, j) in [(0, 0), (2, 1), (3, 2)]:
        e = np.zeros_like(w)
        e[i, j] = eps
        assert dw[i, j] == pytest.approx((loss(x, w + e) - loss(x, w - e)) / (2 * eps), rel=1e-6)
    e = np.zeros_like(x)
    e[4, 3] = eps
    assert dx[4, 3] == pytest.approx((loss(x + e, w) - loss(x - e, w)) / (2 * eps), rel=1e-6)
    # each product is tokens x parameters multiply-adds: 2 + 2 + 2 = 6 FLOPs per parameter per token
    assert macs == [t * d_in * d_out] * 3
    f = tr.linear_layer_flops(t, d_in, d_out)
    assert (f.forward, f.grad_input, f.grad_weight) == (2 * macs[0], 2 * macs[1], 2 * macs[2])
    assert f.backward == 2 * f.forward
    assert f.total == rl.training_flops(d_in * d_out, t)


def test_inference_is_a_third_of_training_per_token():
    assert rl.inference_flops_per_token(70e9) * 3 == rl.training_flops(70e9, 1)


# ---- time and MFU on a cluster -------------------------------------------------------------------
def test_training_time_by_hand():
    # 6 x 405e9 x 15.6e12 / (16384 x 989.4e12 x 0.40) seconds
    t = tr.training_time(405e9, 15.6e12, "H100", 16384, 0.40)
    assert t == pytest.approx(6 * 405e9 * 15.6e12 / (16384 * H100_BF16 * 0.40))
    assert tr.training_time(405e9, 15.6e12, "H100", 16384, 0.40, dtype="fp8") == pytest.approx(t / 2, rel=1e-4)
    hours = tr.training_chip_hours(405e9, 15.6e12, "H100", 0.40)
    assert hours == pytest.approx(t * 16384 / 3600)


def test_deepseek_v3_implied_mfu():
    # DeepSeek-V3 README (github.com/deepseek-ai/DeepSeek-V3, commit 9b4e978...): 37B activated
    # parameters, 14.8T tokens, pre-training 2.664M H800 GPU hours, 2.788M for the full training.
    pre = tr.implied_mfu(37e9, 14.8e12, 2.664e6, "H800")
    assert pre == pytest.approx(6 * 37e9 * 14.8e12 / (2.664e6 * 3600 * H800_BF16))
    assert pre == pytest.approx(0.346, abs=0.001)
    # FP8 mixed precision: against the fp8 peak the same run used half as much of the chip
    assert tr.implied_mfu(37e9, 14.8e12, 2.664e6, "H800", dtype="fp8") == pytest.approx(0.173, abs=0.001)
    assert tr.implied_mfu(37e9, 14.8e12, 2.788e6, "H800") == pytest.approx(0.331, abs=0.001)
    # rooflib's own count of DeepSeek-V3's active parameters is within 2 % of the published 37B
    assert rl.model("DeepSeek-V3").active_params == pytest.approx(37e9, rel=0.02)


def test_llama_405b_implied_mfu_and_flops():
    # Llama 3 paper (arXiv:2407.21783): 405B on 15.6T tokens, 3.8e25 FLOPs; model card
    # (meta-llama/llama-models MODEL_CARD.md): 30.84M H100-80GB hours.
    assert rl.training_flops(405e9, 15.6e12) == pytest.approx(3.8e25, rel=0.01)
    mfu = tr.implied_mfu(405e9, 15.6e12, 30.84e6, "H100")
    assert mfu == pytest.approx(0.345, abs=0.001)
    # below the per-step BF16 MFU of 38-43 % the paper reports (Table 4): restarts and idle time count here
    assert mfu < 0.38


def test_implied_mfu_inverts_training_time():
    hours = tr.training_chip_hours(70e9, 15e12, "B200", 0.31)
    assert tr.implied_mfu(70e9, 15e12, hours, "B200") == pytest.approx(0.31)


# ---- Chinchilla ----------------------------------------------------------------------------------
def _half_unit(x: float, digits: int) -> float:
    """Half a unit in the last printed digit of x shown with `digits` significant digits."""
    return 0.5 * 10 ** (np.floor(np.log10(x)) - digits + 1)


#: significant digits as printed in Table 3 for FLOPs and tokens (parameter counts are the
#: chosen model sizes, taken as exact)
_PRINTED = [(3, 2), (3, 3), (3, 4), (3, 2), (3, 2), (3, 2), (3, 3), (3, 3), (3, 4)]


@pytest.mark.parametrize("row, digits", list(zip(tr.CHINCHILLA_TABLE3, _PRINTED)))
def test_chinchilla_table3_every_row(row, digits):
    """Hoffmann et al. 2022 (arXiv:2203.15556) Table 3: C = 6 N D with D = r N, within the printing."""
    n, c, d = row
    tol = sum(_half_unit(v, k) / v for v, k in zip((c, d), digits))  # relative rounding of the row
    n_fit, d_fit = tr.chinchilla_optimal(c, tokens_per_param=d / n)
    # the compute-optimal size for the row's budget and ratio is the printed size, within 2.5 %
    assert n_fit == pytest.approx(n, rel=0.025)
    assert d_fit == pytest.approx(d, rel=0.025)
    if n == 67e9:
        # The 67B row's budget is Gopher's 5.76e23 FLOPs (1 "Gopher unit"); 6 x 67e9 x 1.5e12 is
        # 6.03e23, 4.7 % more, slightly beyond what rounding 67B and 1.5T explains. Gopher itself
        # (280B on 300B tokens) is 5.04e23 by 6ND, so that budget was not counted as 6ND.
        assert rl.training_flops(n, d) / c - 1 == pytest.approx(0.047, abs=0.001)
        assert rl.training_flops(n, d) / c - 1 > tol
    else:
        assert rl.training_flops(n, d) == pytest.approx(c, rel=tol)


def test_chinchilla_ratio_is_about_20():
    ratios = [d / n for n, _, d in tr.CHINCHILLA_TABLE3]
    assert min(ratios) == pytest.approx(20.0) and max(ratios) < 22.5
    n, d = tr.chinchilla_optimal(5.76e23)
    assert d / n == 20.0 and n == pytest.approx(np.sqrt(5.76e23 / 120))
    # Chinchilla itself: 70B on 1.4T tokens
    assert rl.chinchilla_tokens(70e9) == pytest.approx(1.4e12)
    assert tr.overtraining_factor(70e9, 15e12) == pytest.approx(15e12 / 1.4e12)


def test_loss_fit_constants_as_printed():
    h = tr.HOFFMANN_2022  # arXiv:2203.15556 eq. 10
    assert (h.E, h.A, h.B, h.alpha, h.beta) == (1.69, 406.4, 410.7, 0.34, 0.28)
    b = tr.BESIROGLU_2024  # arXiv:2404.10102
    assert (b.E, b.A, b.B, b.alpha, b.beta) == (1.8172, 482.01, 2085.43, 0.3478, 0.3658)


def test_loss_fit_frontiers():
    h, b = tr.HOFFMANN_2022, tr.BESIROGLU_2024
    # N_opt grows as C^(beta/(alpha+beta)): 0.452 with the printed (rounded) constants; the paper
    # states a = 0.46 from its unrounded fit.
    n1, _ = h.compute_optimal(1e22)
    n2, _ = h.compute_optimal(1e23)
    assert np.log10(n2 / n1) == pytest.approx(0.28 / 0.62)
    assert np.log10(n2 / n1) == pytest.approx(0.46, abs=0.01)
    # The printed fit's frontier is far from 20 tokens per parameter (about 80 at 1e23 FLOPs);
    # the refit agrees with Table 3 (16-22 over 1e21..1e26 FLOPs).
    n, d = h.compute_optimal(1e23)
    assert 70 < d / n < 90
    for c in np.logspace(21, 26, 6):
        n, d = b.compute_optimal(c)
        assert 15 < d / n < 22
        assert 6 * n * d == pytest.approx(c)


@pytest.mark.parametrize("fit", [tr.HOFFMANN_2022, tr.BESIROGLU_2024])
def test_isoloss_inverses_and_optimum(fit):
    loss = fit.loss(70e9, 1.4e12)
    n = np.geomspace(fit.min_params(loss) * 1.01, 1e13, 50)
    d = fit.tokens_for_loss(n, loss)
    assert np.allclose(fit.loss(n, d), loss, rtol=1e-12)
    assert np.allclose(fit.params_for_loss(d, loss), n, rtol=1e-9)
    # below min_params the loss is out of reach: infinite data, not NaN
    assert fit.tokens_for_loss(fit.min_params(loss) * 0.99, loss) == np.inf
    # the iso-loss optimum is where training compute 6ND is least along the curve, and s = 0 there
    nc, dc = fit.isoloss_optimum(loss)
    grid = np.geomspace(fit.min_params(loss) * 1.001, 1e14, 20001)
    best = grid[np.argmin(grid * fit.tokens_for_loss(grid, loss))]
    assert nc == pytest.approx(best, rel=2e-3)
    assert fit.elasticity(nc, dc) == pytest.approx(0.0, abs=1e-9)
    # and it matches the budget frontier at the budget it spends
    assert fit.compute_optimal(6 * nc * dc)[0] == pytest.approx(nc, rel=1e-9)


def test_elasticity_is_the_log_slope_of_training_compute():
    fit = tr.BESIROGLU_2024
    loss = fit.loss(70e9, 1.4e12)
    n, h = 20e9, 1e-5
    c = lambda x: 6 * x * fit.tokens_for_loss(x, loss)  # noqa: E731
    slope = (np.log(c(n * np.exp(h))) - np.log(c(n * np.exp(-h)))) / (2 * h)
    assert fit.elasticity(n, fit.tokens_for_loss(n, loss)) == pytest.approx(-slope, rel=1e-6)


# ---- attention in 6ND: PaLM's 6N + 12 L H Q S -------------------------------------------------------
def test_palm_attention_term_by_hand():
    # Chowdhery et al. 2022 (PaLM), arXiv:2204.02311 appendix B: 6N + 12 L H Q T FLOPs per token,
    # full (not causal) attention. Llama 3.1 405B: 126 layers, 128 heads of 128 (config.json).
    m = rl.model("Llama 3.1 405B")
    a = tr.attention_training_flops_per_token(m, 8192)
    assert a == pytest.approx(12 * 126 * 128 * 128 * 8192)
    assert tr.training_flops_per_token(m, 8192) == pytest.approx(6 * m.active_params + a)
    assert 0.08 < a / (6 * m.active_params) < 0.09                 # +8 % at the 8K pretraining length
    assert tr.attention_training_flops_per_token(m, 8192, causal=True) == pytest.approx(a * 8193 / 2 / 8192)


def test_mla_training_attention_is_large():
    # DeepSeek-V3 (config.json): 61 layers, 128 heads, q/k 128 + 64 dims, v 128; 4K pretraining
    # sequences (arXiv:2412.19437, section 4.2)
    m = rl.model("DeepSeek-V3")
    a = tr.attention_training_flops_per_token(m, 4096)
    assert a == pytest.approx(3 * 4096 * 61 * 2 * 128 * (128 + 64 + 128))
    assert 0.27 < a / (6 * m.active_params) < 0.29


def test_implied_mfu_with_attention():
    a = tr.attention_training_flops_per_token("DeepSeek-V3", 4096)
    base = tr.implied_mfu(37e9, 14.8e12, 2.664e6, "H800")
    assert tr.implied_mfu(37e9, 14.8e12, 2.664e6, "H800", attention_flops=a) == pytest.approx(base * (1 + a / 222e9))
    with pytest.raises(ValueError, match="attention_flops"):
        tr.implied_mfu(37e9, 14.8e12, 2.664e6, "H800", attention_flops=-1)


@settings(max_examples=30, deadline=None)
@given(st.floats(64, 1e6), st.floats(1.01, 10))
def test_attention_grows_linearly_with_sequence(s, k):
    a1, a2 = (tr.attention_training_flops_per_token("Llama 3.1 70B", x) for x in (s, s * k))
    assert a2 == pytest.approx(a1 * k)
    arr = tr.attention_training_flops_per_token("Llama 3.1 70B", np.array([s, s * k]))
    assert arr[1] == pytest.approx(a2)


def test_overtraining_factor_depends_on_the_fitted_ratio():
    # Llama 3 paper (arXiv:2407.21783, section 3.2.1): 402B parameters on 16.55T tokens at 3.8e25 FLOPs
    n, d, c = tr.LLAMA3_OPTIMUM
    assert d / n == pytest.approx(41.2, abs=0.05)
    assert 6 * n * d == pytest.approx(c, rel=0.06)        # their budget is not exactly 6ND either
    k20 = tr.overtraining_factor(100e9, 259.2e12)
    assert k20 == pytest.approx(129.6)                   # the lecture's example: ~130x past Chinchilla
    assert tr.overtraining_factor(100e9, 259.2e12, tokens_per_param=d / n) == pytest.approx(k20 * 20 / (d / n))


# ---- a model of another depth --------------------------------------------------------------------
def test_resize_layers():
    m = rl.model("Llama 3.1 70B")
    twin = tr.resize_layers(m, 185e9)
    assert twin.total_params == pytest.approx(185e9, rel=0.01)
    assert "resized" in twin.name
    per_layer = rl.kv_bytes_per_token(m) / m.n_layers
    assert rl.kv_bytes_per_token(twin) == pytest.approx(per_layer * twin.n_layers)
    # a bigger model costs more per token on the same chips
    cost = [rl.cost_per_token(x, "H100", 64, 4096, 2.0, chips=8, overlap="full") for x in (m, twin)]
    assert cost[1] / cost[0] == pytest.approx(twin.total_params / m.total_params, rel=0.05)
    with pytest.raises(ValueError, match="sliding-window"):
        tr.resize_layers("Gemma 3 27B", 50e9)


# ---- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, needle", [
    (lambda: tr.training_time(1e9, 1e12, "H100", 8, 1.5), "mfu"),
    (lambda: tr.training_time(1e9, 1e12, "H100", 0, 0.4), "chips"),
    (lambda: tr.training_time(1e9, 1e12, "TPU v5e", 8, 0.4, dtype="fp8"), "fp8"),
    (lambda: tr.implied_mfu(1e9, 1e12, -5, "H100"), "gpu_hours"),
    (lambda: tr.chinchilla_optimal(-1), "flops"),
    (lambda: tr.chinchilla_optimal(1e20, tokens_per_param=0), "tokens_per_param"),
    (lambda: tr.HOFFMANN_2022.tokens_for_loss(1e9, 1.5), "irreducible"),
    (lambda: tr.linear_layer_flops(0, 4, 4), "tokens"),
])
def test_bad_values_name_the_argument(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


# ---- explorers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bench_name", ["BENCH", "BENCH_OVERTRAINING"])
def test_explorers_update(bench_name):
    from rooflib.explore import overtraining as ov
    bench = getattr(ov, bench_name)
    ex = bench["factory"]()
    for values in bench["updates"][:3]:
        png = ex.update(**values)
        assert png[:4] == b"\x89PNG"
        assert "Not possible" not in ex.message.value
    assert "past Chinchilla" in ex.message.value


def test_bisect_finds_a_root_like_the_loops_it_replaced():
    from rooflib.solve import bisect, largest_below
    lo, hi = np.array([0.0, 1.0]), np.array([3.0, 5.0])
    root = bisect(lambda x: x**2 - 2.0, lo, hi, iters=60)
    assert root == pytest.approx([np.sqrt(2), np.sqrt(2)], rel=1e-14)
    assert bisect(lambda x: x - 1.0, 0.0, 4.0, iters=60, end="upper") >= 1.0
    assert type(bisect(lambda x: x - 1.0, 0.0, 4.0)) is float
    assert largest_below(lambda x: x, 10.0, lo=1.0, hi=100.0) == pytest.approx(10.0, rel=1e-12)


def test_calendar_units_have_one_value():
    from rooflib import units
    assert tr.MONTH is units.MONTH and tr.YEAR == 365.25 * 86_400 and units.MONTH == units.YEAR / 12
    assert units.BILLING_MONTH == 730 * 3600    # cloud price pages' month, a different unit
