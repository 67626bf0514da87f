"""rooflib.moe: experts touched (against a seeded Monte-Carlo), weights read, the EP all-to-all,
the MoE decode step, where the all-to-all surfaces, chips needed and tensor-parallel overhead."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import moe

# Catalog configs (see rooflib/models.py for the source of each):
# DeepSeek-V3 config_671B.json: 61 layers, 3 dense, 256 routed experts (8 per token) + 1 shared,
# d_model 7168, moe_inter_dim 2048.
DSV3 = rl.model("DeepSeek-V3")
H100_F, H100_W, H100_S = 989.4e12, 3.35e12, 450e9  # dense bf16, HBM, NVLink one way (scaling-book gpus.md)
NIC = 50e9  # 400 Gb/s ConnectX-7 per GPU (NVIDIA DGX BasePOD reference architecture)
MOE_MODELS = [name for name, m in rl.MODELS.items() if m.is_moe]


# ---- experts touched -------------------------------------------------------------------------

def simulate_touched(n_experts, k, batch, trials, rng):
    """Monte-Carlo: each of `batch` tokens picks k distinct experts uniformly; count distinct experts."""
    counts = np.empty(trials)
    for t in range(trials):
        picks = rng.random((batch, n_experts)).argpartition(k, axis=1)[:, :k]  # k distinct per token
        counts[t] = np.unique(picks).size
    return counts


@pytest.mark.parametrize("name", ["DeepSeek-V3", "Mixtral 8x7B", "gpt-oss-120b", "Kimi K2"])
@pytest.mark.parametrize("batch", [1, 3, 20, 100])
def test_experts_touched_matches_monte_carlo(name, batch):
    m = rl.model(name)
    rng = np.random.default_rng(20240503 + batch)
    trials = int(np.clip(400_000 // (batch * m.n_experts), 300, 3000))  # more where it is cheap
    counts = simulate_touched(m.n_experts, m.experts_per_token, batch, trials, rng)
    se = max(counts.std(ddof=1), 0.5) / np.sqrt(counts.size)
    assert moe.experts_touched(m, batch) == pytest.approx(counts.mean(), abs=5 * se)


def test_experts_touched_by_hand_and_limits():
    # DeepSeek-V3 at B = 32: 256 (1 - (248/256)^32)
    assert moe.experts_touched(DSV3, 32) == pytest.approx(256 * (1 - (248 / 256) ** 32))
    assert moe.experts_touched(DSV3, 1) == pytest.approx(8)            # one token: its k experts
    assert moe.experts_touched("Mixtral 8x7B", 1) == pytest.approx(2)
    assert moe.experts_touched(DSV3, 10_000) == pytest.approx(256)     # a big batch: all of them
    assert moe.experts_touched("Llama 3.1 70B", 50) == 0                # dense: no routed experts
    # small batch: almost no collisions, about B k experts
    assert moe.experts_touched("Kimi K2", 2) == pytest.approx(2 * 8 - 8 * 8 / 384)


def test_experts_touched_increasing_and_concave():
    b = np.arange(1, 600)  # beyond ~1000 tokens the result is 256 to float precision
    t = moe.experts_touched(DSV3, b)
    assert np.all(np.diff(t) > 0)
    assert np.all(np.diff(t, 2) < 0)
    big = moe.experts_touched(DSV3, np.arange(1, 20_000))
    assert np.all(np.diff(big) >= 0) and np.all(big <= 256) and np.all(big <= 8 * np.arange(1, 20_000))


# ---- weights read ----------------------------------------------------------------------------

def test_weight_bytes_read_limits():
    lookup = DSV3.vocab * DSV3.d_model  # input embedding, counted as read (as in decode_step)
    assert moe.moe_weight_bytes_read(DSV3, 1) == pytest.approx((DSV3.active_params + lookup) * 2)
    assert moe.moe_weight_bytes_read(DSV3, 1e6, dtype="fp8") == pytest.approx(rl.weight_bytes(DSV3, "fp8"))
    dense = rl.model("Llama 3.1 8B")
    assert moe.moe_weight_bytes_read(dense, 1) == rl.weight_bytes(dense)
    # routed experts by hand: 58 MoE layers x 256 experts x 3 x 7168 x 2048
    assert moe.routed_expert_params(DSV3) == 58 * 256 * 3 * 7168 * 2048
    assert moe.expert_sparsity(DSV3) == 32 and moe.expert_sparsity(dense) == 1


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(MOE_MODELS), st.floats(1, 1e5), st.floats(1, 1e5))
def test_weight_bytes_read_between_active_and_total(name, b1, b2):
    lo, hi = sorted((b1, b2))
    r = moe.moe_weight_bytes_read(name, np.array([lo, hi]))
    assert r[0] <= r[1] <= rl.weight_bytes(name) * (1 + 1e-12)
    assert r[0] >= moe.moe_weight_bytes_read(name, 1) * (1 - 1e-12)


# ---- the all-to-all --------------------------------------------------------------------------

def test_dispatch_bytes_by_hand():
    # 8 copies of a 7168-number bf16 vector, 1/8 of which stay on the sending chip
    assert moe.dispatch_bytes_per_token(DSV3, 8) == 8 * (7 / 8) * 7168 * 2 == 100_352
    assert moe.dispatch_bytes_per_token(DSV3, 1) == 0
    assert moe.dispatch_bytes_per_token(DSV3, 72, dtype="fp8") == pytest.approx(8 * 71 / 72 * 7168)


def test_all_to_all_one_server_by_hand():
    # DeepSeek-V3 on 8 x H100, batch 8 (one token per chip): 58 MoE layers x (dispatch + combine)
    # x 100,352 B at 450 GB/s one way = 25.87 us
    t = moe.all_to_all_time(DSV3, "H100", 8, 8)
    assert t == pytest.approx(58 * 2 * 100_352 / H100_S)
    assert t == pytest.approx(25.8685e-6, rel=1e-4)
    # fp8 dispatch, bf16 combine (DeepSeek's production choice): 3/4 of the bf16 time
    assert moe.all_to_all_time(DSV3, "H100", 8, 8, dispatch_dtype="fp8", combine_dtype="bf16") == pytest.approx(0.75 * t)
    # linear in the batch
    assert moe.all_to_all_time(DSV3, "H100", 800, 8) == pytest.approx(100 * t)


def test_all_to_all_two_servers_by_hand():
    # 16 H100 in two 8-GPU servers, batch 16: each chip sends 1 token's 8 copies; 7/16 land on the
    # other 7 chips of its server (NVLink), 8/16 on the other server (NIC); the NIC part is slower.
    up = 8 * 7 / 16 * 7168 * 2 / H100_S       # 111.5 ns
    out = 8 * 8 / 16 * 7168 * 2 / NIC          # 1.147 us
    assert out > up
    assert moe.all_to_all_time(DSV3, "H100", 16, 16) == pytest.approx(58 * 2 * out)
    # the same 8 chips with NICs only (no NVLink between them): 7/8 of the copies over the NIC
    assert moe.all_to_all_time(DSV3, "H100", 8, 8, domain=1) == pytest.approx(58 * 2 * 8 * 7 / 8 * 7168 * 2 / NIC)


def test_all_to_all_rack_entry_equals_its_chips():
    a = moe.all_to_all_time("Kimi K2", "GB200 NVL72", 1000, 1)
    b = moe.all_to_all_time("Kimi K2", "GB200", 1000, 72)
    assert a == pytest.approx(b)
    # within one NVL72 everything is NVLink: 8 x 71/72 x 7168 x 2 bytes per token per phase
    assert b == pytest.approx(60 * 2 * (1000 / 72) * 8 * 71 / 72 * 7168 * 2 / 900e9)


def test_all_to_all_zero_cases():
    assert moe.all_to_all_time(DSV3, "H100", 100, 1) == 0
    assert moe.all_to_all_time("Llama 3.1 70B", "H100", 100, 8) == 0


# ---- the MoE decode step ---------------------------------------------------------------------

def test_moe_decode_step_matches_decode_step_where_it_should():
    b = np.array([1, 10, 100, 1000, 100_000])
    plain = rl.decode_step(DSV3, "H200", b, 4096, chips=8, dtype="fp8", overlap="full")
    step = moe.moe_decode_step(DSV3, "H200", b, 4096, chips=8, dtype="fp8")
    np.testing.assert_allclose(step.compute, plain.compute)
    np.testing.assert_allclose(step.kv, plain.kv)
    assert np.all(step.weights <= plain.weights * (1 + 1e-12))
    assert step.weights[-1] == pytest.approx(plain.weights[-1])      # every expert read
    # batch 1 reads the active weights (plus the input embedding), 1/18 of the model
    assert step.weights[0] == pytest.approx(plain.weights[0] * moe.moe_weight_bytes_read(DSV3, 1) / rl.weight_bytes(DSV3))
    # the default is the per-phase step: attention phase + matmul phase + all-to-all
    np.testing.assert_allclose(step.time, np.maximum(step.attention, step.kv)
                               + np.maximum(step.compute, step.weights) + step.comm)
    np.testing.assert_allclose(step.time_without_comm, step.attention_phase + step.matmul_phase)
    ideal = moe.moe_decode_step(DSV3, "H200", b, 4096, chips=8, dtype="fp8", overlap="full")
    assert np.all(ideal.attention == 0)
    np.testing.assert_allclose(ideal.time, np.maximum.reduce([ideal.compute, ideal.weights + ideal.kv, ideal.comm]))
    np.testing.assert_allclose(ideal.time_without_comm, np.maximum(ideal.compute, ideal.memory))
    assert np.all(ideal.time <= step.time)


def test_deepseek_attention_at_published_kv_length():
    # DeepSeek's day-6 report: mean KV length 4,989 tokens. MLA decode (config_671B.json): 61 layers x
    # 2 x 128 heads x (2 x 512 + 64) per cached token = 84.8 GFLOP, against 2 N_active = 73.2 GFLOP.
    # https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md
    st_ = moe.moe_decode_step(DSV3, "H800", 12_109, 4989, chips=144, dtype="fp8")
    assert st_.attention == pytest.approx(12_109 * 61 * 2 * 128 * 1088 * 4989 / (144 * 989.4e12))
    assert 84.7e9 < rl.attention_flops(DSV3, 4989) < 84.8e9


def test_moe_speculative_step():
    # DeepSeek-V3 MTP: k = 1, acceptance 85 % -> 1.85 tokens per step (arXiv:2412.19437, section 5.4.3)
    plain = moe.moe_decode_step(DSV3, "H800", 1000, 4096, chips=16, dtype="fp8")
    mtp = moe.moe_speculative_step(DSV3, "H800", 1000, 4096, chips=16, draft_tokens=1, acceptance=0.85, dtype="fp8")
    assert mtp.tokens == pytest.approx(1.85)
    assert mtp.comm == pytest.approx(2 * plain.comm) and mtp.compute == pytest.approx(2 * plain.compute)
    assert mtp.attention == pytest.approx(2 * plain.attention) and mtp.kv == pytest.approx(plain.kv)
    assert mtp.weights == pytest.approx(moe.moe_weight_bytes_read(DSV3, 2000, dtype="fp8") / (16 * 3.35e12))
    # at batch 1 the step is memory-bound: MTP pays, though less than 1.85x, since the second
    # position touches its own experts (2 x 8 of 256 per layer instead of 8)
    one = moe.moe_decode_step(DSV3, "H800", 1, 4096, chips=16, dtype="fp8")
    one_mtp = moe.moe_speculative_step(DSV3, "H800", 1, 4096, chips=16, draft_tokens=1, acceptance=0.85, dtype="fp8")
    assert one_mtp.time_per_token < 0.85 * one.time


def test_expert_tp_ratio_per_phase():
    # DeepSeek-V3 expert (d 7168, f 2048), 8 x H100 bf16, 169 tokens (B* x k / E): memory-bound matmul
    # (3 x 7168 x 2048 x 2 / 8 / 3.35e12 = 3.29 us) against a ring all-reduce of 169 x 7168 x 2 B
    # (NCCL LL 3.6 + 14 x 0.47 us, nccl src/graph/tuning.cc; 450 GB/s)
    mm = 3 * 7168 * 2048 * 2 / 8 / 3.35e12
    ar = 3.6e-6 + 14 * 0.47e-6 + 2 * 7 / 8 * 169 * 7168 * 2 / 450e9
    assert moe.expert_tp_ratio(DSV3, "H100", 8, 169) == pytest.approx(ar / mm)
    assert moe.expert_tp_ratio(DSV3, "H100", 8, 169) == pytest.approx(5.96, abs=0.01)
    # many tokens: compute-bound, and the transfer dominates the latency -> the bandwidth-only ratio
    assert moe.expert_tp_ratio(DSV3, "H100", 8, 1e7) == pytest.approx(moe.tp_comm_ratio(DSV3, "H100", 8), rel=1e-3)
    assert moe.expert_tp_ratio(DSV3, "H100", 1, 169) == 0
    with pytest.raises(ValueError, match="tokens"):
        moe.expert_tp_ratio(DSV3, "H100", 8, 0)


@settings(max_examples=30, deadline=None)
@given(st.floats(1, 1e6), st.sampled_from([2, 4, 8]))
def test_expert_tp_ratio_never_below_bandwidth_share(tokens, tp):
    # the latency only adds; the matmul phase is never shorter than its arithmetic
    r = moe.expert_tp_ratio(DSV3, "H100", tp, tokens)
    mm_compute = 6 * tokens * 7168 * 2048 / (tp * 989.4e12)
    bw = 2 * (tp - 1) / tp * tokens * 7168 * 2 / 450e9
    mm = max(mm_compute, 3 * 7168 * 2048 * 2 / (tp * 3.35e12))
    assert r >= bw / mm * (1 - 1e-9)


def test_bound_labels():
    st_ = moe.moe_decode_step(DSV3, "H100", 8192, 0, chips=8, domain=1)  # NIC only: comm-bound
    assert st_.bound == "communication" and not st_.comm_hidden
    st_ = moe.moe_decode_step(DSV3, "H100", 1, 0, chips=8)
    assert st_.bound == "memory" and st_.comm_hidden
    st_ = moe.moe_decode_step(DSV3, "H100", 1e5, 0, chips=8)
    assert st_.bound == "compute"


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(MOE_MODELS), st.sampled_from(["H100 SXM", "H800 SXM", "B200", "GB200"]),
       st.floats(1, 1e5), st.floats(1, 1e5), st.sampled_from([1, 2, 8, 16, 72]), st.floats(0, 1))
def test_moe_step_time_never_decreases_with_batch(name, chip, b1, b2, chips, f):
    lo, hi = sorted((b1, b2))
    s = f * rl.model(name).context_length
    t = moe.moe_decode_step(name, chip, np.array([lo, hi]), s, chips=chips).time
    assert t[1] >= t[0] * (1 - 1e-12)


# ---- where the all-to-all surfaces ---------------------------------------------------------------

def test_comm_never_exposed_inside_one_nvlink_server():
    # all-to-all / compute = (58 x 2 x 8 x 7/8 x 7168 x 2 / 450e9) / (2 x 36.6e9 / 989.4e12) = 0.35
    one = moe.moe_decode_step(DSV3, "H100", 1, 0, chips=8)
    assert one.comm / one.compute == pytest.approx(
        (58 * 2 * 8 * 7 / 8 * 7168 * 2 / H100_S) / (2 * DSV3.active_params / H100_F))
    assert moe.comm_exposed_batch(DSV3, "H100", 0, 8) == np.inf
    assert moe.comm_exposed_batch(DSV3, "GB200", 4096, 72) == np.inf


@pytest.mark.parametrize("context", [0, 4096])
def test_comm_exposed_batch_across_two_servers(context):
    b = moe.comm_exposed_batch(DSV3, "H800", context, 16)
    assert np.isfinite(b) and b > 1
    at = moe.moe_decode_step(DSV3, "H800", b, context, chips=16, overlap="full")   # a question of the ideal
    assert at.comm == pytest.approx(at.memory, rel=1e-6)
    assert at.comm > at.compute
    assert moe.moe_decode_step(DSV3, "H800", b * 0.99, context, chips=16, overlap="full").comm_hidden
    assert not moe.moe_decode_step(DSV3, "H800", b * 1.01, context, chips=16, overlap="full").comm_hidden


def test_comm_exposed_batch_vectorised():
    s = np.array([0, 1024, 4096])
    out = moe.comm_exposed_batch(DSV3, "H800", s, 16)
    assert out.shape == (3,)
    assert np.all(np.diff(out) > 0)  # more KV to read hides the all-to-all longer
    assert out[2] == pytest.approx(moe.comm_exposed_batch(DSV3, "H800", 4096, 16))


# ---- fitting and tensor parallelism ---------------------------------------------------------------

def test_chips_needed_by_hand():
    assert moe.chips_needed(DSV3, "H100", dtype="fp8") == int(np.ceil(DSV3.total_params / 80e9)) == 9
    assert moe.chips_needed(DSV3, "H200", dtype="fp8") == 5              # 671 GB / 141 GB = 4.76
    assert moe.chips_needed("Kimi K2", "GB200 NVL72", dtype="bf16") == 1  # 2.05 TB of 13.4 TB
    need = moe.chips_needed(DSV3, "H200", batch=512, context=8192, dtype="fp8")
    assert need == int(np.ceil((DSV3.total_params + 512 * 8192 * 70_272) / 141e9))


def test_tp_comm_ratio_by_hand():
    # (t - 1) b F / (3 f S): DeepSeek-V3 expert, f = 2048, 8-way on H100 in bf16
    assert moe.tp_comm_ratio(DSV3, "H100", 8) == pytest.approx(7 * 2 * H100_F / (3 * 2048 * H100_S))
    assert moe.tp_comm_ratio(DSV3, "H100", 1) == 0
    # a dense MLP 14x wider (Llama 3.1 70B, d_ff 28672) pays 14x less
    assert moe.tp_comm_ratio("Llama 3.1 70B", "H100", 8) == pytest.approx(
        moe.tp_comm_ratio(DSV3, "H100", 8) * 2048 / 28672)


# ---- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, word", [
    (lambda: moe.experts_touched(DSV3, 0), "batch"),
    (lambda: moe.experts_touched(DSV3, -3), "batch"),
    (lambda: moe.all_to_all_time(DSV3, "H100", 8, 2.5), "chips"),
    (lambda: moe.all_to_all_time(DSV3, "H100", 8, 8, domain=0), "domain"),
    (lambda: moe.moe_decode_step(DSV3, "H100", 8, -1), "context"),
    (lambda: moe.tp_comm_ratio(DSV3, "H100", 0), "tp"),
    (lambda: moe.chips_needed(DSV3, "H100", context=10**7), "context"),
])
def test_errors_name_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_unknown_names():
    with pytest.raises(LookupError):
        moe.experts_touched("deepseek-v9", 1)
    with pytest.raises(LookupError):
        moe.all_to_all_time(DSV3, "H1000", 1, 8)


def test_attention_flops_by_hand():
    # MLA, absorbed: 61 layers x 128 heads x 2 x (512 + 64 + 512) per context token
    assert rl.attention_flops(DSV3, 1000) == 61 * 128 * 2 * (512 + 64 + 512) * 1000
    # Kimi K2: the same MLA with half the heads
    assert rl.attention_flops("Kimi K2", 1000) == pytest.approx(
        rl.attention_flops(DSV3, 1000) / 2)
    # GQA (Llama 3.1 70B): 80 layers x 64 query heads x 2 x (128 + 128)
    assert rl.attention_flops("Llama 3.1 70B", 10) == 80 * 64 * 2 * 256 * 10
    # gpt-oss-120b: 18 full layers, 18 with a 128-token window; 64 heads of 64
    assert rl.attention_flops("gpt-oss-120b", 1000) == 64 * 2 * 128 * (18 * 1000 + 18 * 128)
    assert rl.attention_flops(DSV3, 0) == 0


def test_expert_read_floor_by_hand():
    # 58 MoE layers x one 44.04M-parameter expert, fp8, read by one GB200 at 8 TB/s
    assert moe.expert_read_floor(DSV3, "GB200", dtype="fp8") == pytest.approx(58 * 3 * 7168 * 2048 / 8e12)
    assert moe.expert_read_floor("Llama 3.1 70B", "H100") == 0
    # on a whole rack, the ideal spread of the batch-1 reads is below this floor
    spread = moe.moe_decode_step(DSV3, "GB200 NVL72", 1, 0, dtype="fp8").weights
    assert spread < moe.expert_read_floor(DSV3, "GB200", dtype="fp8")
    with pytest.raises(ValueError, match="hw"):
        moe.expert_read_floor(DSV3, "GB200 NVL72")


# ---- answer keys of chapter 3 (rooflib/course/answers/ch03.py) -----------------------------------------------
import itertools  # noqa: E402

from rooflib.course import answers  # noqa: E402
from rooflib.course.checks import check  # noqa: E402
from rooflib.course.variants import variant  # noqa: E402

KEYS = answers.keys("03")


def every_variant(entry):
    spec = entry.variants
    if isinstance(spec, dict):
        return [dict(zip(spec, values)) for values in itertools.product(*spec.values())]
    return list(spec)


def test_chapter_3_has_at_least_five_checked_exercises_with_two_varying():
    assert len(KEYS) >= 5
    assert sum(len(every_variant(answers.get(k))) > 1 for k in KEYS) >= 2


@pytest.mark.parametrize("key", KEYS)
def test_every_variant_has_a_finite_positive_answer(key):
    entry = answers.get(key)
    values = [float(entry.expected(v)) for v in every_variant(entry)]
    assert all(np.isfinite(x) and x > 0 for x in values)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("student", [None, "ada", "42"])
def test_expected_answer_passes_and_a_wrong_one_fails(key, student, capsys):
    entry = answers.get(key)
    right = float(entry.expected(variant(student, key)))
    assert check(key, right, student=student)
    assert not check(key, right * 1.3, student=student)
    assert "Correct" in capsys.readouterr().out


def test_book_defaults_by_hand():
    v = variant(None, "03.3")   # DeepSeek-V3, 8 x H200, batch 256: 58 x 2 x 32 x 100,352 B / 450 GB/s
    assert v["model"] == "DeepSeek-V3" and v["chip"] == "H200 SXM" and v["chips"] == 8
    assert answers.get("03.3").expected(v) == pytest.approx(58 * 2 * 32 * 100_352 / 450e9)
    assert answers.get("03.5").expected(variant(None, "03.5")) == pytest.approx(7 * 2 * H100_F / (3 * H100_S))


@pytest.mark.parametrize("key, factor, words", [
    ("03.1", None, "DIFFERENT"),            # drawn with repeats
    ("03.3", 0.5, "combine"),               # dispatch only, or bidirectional bandwidth
    ("03.3", 8 / 7, "own chip"),            # the local copy counted
    ("03.3", 1 / 58, "every MoE layer"),    # one layer only
    ("03.4", 0.5, "fp8"),                   # bf16 FLOP/s used for fp8 arithmetic
    ("03.5", 1 / 3, "three matrices"),
    ("03.6", 8, "same time"),               # k experts read one after another
])
def test_classic_mistakes_get_their_hint(key, factor, words, capsys):
    student = None
    if factor is None:
        # 03.1, the with-replacement formula: its error is large enough to recognise for a
        # model with few experts; take the first student drawn Mixtral with a small batch
        student = next(s for s in map(str, range(1000))
                       if variant(s, key)["model"] == "Mixtral 8x7B" and variant(s, key)["batch"] <= 8)
    v = variant(student, key)
    right = float(answers.get(key).expected(v))
    if factor is None:
        m = rl.model(v["model"])
        wrong = m.n_experts * (1 - (1 - 1 / m.n_experts) ** (v["batch"] * m.experts_per_token))
    else:
        wrong = right * factor
    assert not check(key, wrong, student=student)
    assert words in capsys.readouterr().out


def test_floor_hint_for_reading_every_expert(capsys):
    v = variant(None, "03.2")
    wrong = rl.weight_bytes(v["model"], v["dtype"]) / (v["chips"] * rl.hardware(v["chip"]).hbm_bandwidth)
    assert not check("03.2", wrong)
    assert "every expert" in capsys.readouterr().out


@pytest.mark.parametrize("junk", [None, ..., "0.5 ms", [1, 2], float("nan"), True])
def test_junk_never_raises(junk):
    for key in KEYS:
        assert not check(key, junk, quiet=True)


# ---- the chapter's explorers (rooflib/explore/moe.py) ----------------------------------------------

def test_explorers_update_and_report():
    from rooflib.explore import moe as explore_moe

    assert explore_moe.BENCH is explore_moe.BENCHES["moe_step"]
    built = {name: bench["factory"]() for name, bench in explore_moe.BENCHES.items()}
    # the defaults, as in the chapter: 16 x H800, fp8 with fp8 dispatch, 4,096 tokens of context
    assert "Per phase the all-to-all always adds" in built["moe_step"].message.value
    built["moe_step"].update(overlap="full")                               # the chapter's ideal
    assert "14,454" in built["moe_step"].message.value
    built["moe_step"].update(rates="achievable")                           # no H800 measurement
    assert "peak rates shown" in built["moe_step"].message.value
    built["moe_step"].update(overlap="none", rates="peak")
    assert "Chips needed: <b>9</b>" in built["moe_fit"].message.value   # Kimi K2 fp8 on 8 x H200
    assert "does not fit" in built["moe_fit"].message.value
    assert "5,411" in built["moe_sparsity"].message.value                # DeepSeek-V3 on H100
    for name, ex in built.items():
        png = ex.update(**explore_moe.BENCHES[name]["updates"][0])
        assert png[:8] == b"\x89PNG\r\n\x1a\n", name
        assert "Not possible" not in ex.message.value, name
    step = built["moe_step"]
    step.update(chips=8, chip="H100 SXM", dtype="bf16", dispatch_dtype="bf16", overlap="full")
    assert "stays hidden" in step.message.value
    step.update(chip="TPU v5e", dtype="fp8")          # no fp8 on v5e: a message, not a crash
    assert "Not possible" in step.message.value
    built["moe_fit"].update(chip="GB200", chips=72)
    assert "<b>fits</b>" in built["moe_fit"].message.value
