"""Chapter 1 beyond the library: its answer keys (which step model each uses, hand-worked values of
the new exercises, their classic-mistake hints), its variants, the numbers the chapter states, and
its explorer (rooflib/course/answers/ch01.py, rooflib/explore/batching.py, notebooks/01_batching.ipynb).

Hand-worked values come from primary sources named in the comments, not from rooflib.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import rooflib as rl
from rooflib.course import answers
from rooflib.course.checks import check
from rooflib.course.variants import variant

STUDENTS = [f"student-{i}" for i in range(120)]

# Llama 3.1 70B from its published configuration (meta-llama/llama-models sku_list.py): 80 layers,
# d_model 8192, 64 query heads and 8 KV heads of 128, MLP 28,672, vocabulary 128,256.
TOTAL = 80 * (8192 * 64 * 128 * 2 + 2 * 8192 * 8 * 128 + 3 * 8192 * 28672) + 2 * 128256 * 8192
ACTIVE = TOTAL - 128256 * 8192
# H100 SXM: 989.4 TFLOP/s dense bf16, 3.35 TB/s, NVLink 4 at 450 GB/s each way (scaling-book gpus.md).
F, W, LINK = 989.4e12, 3.35e12, 450e9
# NCCL's ring cost model (src/graph/tuning.cc @01afd20): base 3.6 us + 0.47 us per NVLink hop.
ALPHA, BETA = 3.6e-6, 0.47e-6


def expected(key, student=None):
    e = answers.get(key)
    return float(e.expected(variant(student, key)))


def run(capsys, key, value, student=None):
    ok = check(key, value, student=student)
    return bool(ok), capsys.readouterr().out


# ---- which step model each key uses ----------------------------------------------------------------
def test_cost_keys_use_the_ideal_and_the_train_key_the_per_phase_step():
    v = variant(None, "01.6a")
    ideal = rl.cost_per_token(v["model"], v["chip"], 1, v["context"], v["price"], v["chips"], overlap="full")
    assert expected("01.6a") == pytest.approx(ideal * 1e6)
    v = variant(None, "01.9")
    phased = rl.decode_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"])
    assert phased.overlap == "none"
    assert expected("01.9") == pytest.approx(2 * phased.time)
    # the two models really differ there: the per-phase step includes 160 all-reduces
    full = rl.decode_step(v["model"], v["chip"], v["batch"], v["context"], v["chips"], overlap="full")
    assert phased.time > 1.2 * full.time


def test_every_key_that_states_a_model_names_it():
    for key in ("01.6a", "01.6b", "01.8a", "01.8b"):
        assert "ideal" in answers.get(key).question
    for key in ("01.9", "01.13b"):
        assert "per-phase" in answers.get(key).question


def test_floor_and_cost_exercises_draw_dense_models_only():
    for key in ("01.3", "01.6a", "01.10", "01.12a", "01.13a"):
        for s in [None] + STUDENTS:
            assert not rl.model(variant(s, key)["model"]).is_moe, (key, s)


# ---- 01.10: the all-reduces of tensor parallelism ---------------------------------------------------
def test_allreduce_key_by_hand():
    one = ALPHA + 2 * 7 * BETA + 2 * 7 / 8 * 64 * 8192 * 2 / LINK       # 64 tokens x 8192 bf16 numbers
    assert expected("01.10") == pytest.approx(160 * one, rel=1e-9)
    assert 2.2e-3 < expected("01.10") < 2.4e-3


def test_allreduce_at_batch_one_is_latency_and_one_chip_has_none():
    step = rl.decode_step("Llama 3.1 70B", "H100", 1, 0, 8)
    assert step.comm == pytest.approx(160 * (ALPHA + 14 * BETA + 2 * 7 / 8 * 16384 / LINK))
    assert 1.6e-3 < step.comm < 1.7e-3                                 # 31% on top of a 5.27 ms floor
    assert rl.decode_step("Llama 3.1 70B", "H100", 1, 0, 1).comm == 0


@pytest.mark.parametrize("factor, words", [
    (0.5, "two all-reduces per layer"), (1 / 80, "one layer's"), (1 / 160, "one all-reduce"),
])
def test_allreduce_hints(capsys, factor, words):
    ok, out = run(capsys, "01.10", expected("01.10") * factor)
    assert not ok and words.lower() in out.lower()


def test_allreduce_latency_and_bandwidth_hints(capsys):
    latency = 160 * (ALPHA + 14 * BETA)
    bandwidth = 160 * 2 * 7 / 8 * 64 * 8192 * 2 / LINK
    ok, out = run(capsys, "01.10", bandwidth)
    assert not ok and "latency" in out.lower()
    ok, out = run(capsys, "01.10", latency)
    assert not ok and "bytes each chip sends" in out
    ok, out = run(capsys, "01.10", latency + bandwidth / 2)
    assert not ok and "one-direction" in out


# ---- 01.11: achievable rates move the crossover to SMALLER batches --------------------------------
def test_achievable_key_by_hand_and_direction():
    # 794.5 TFLOP/s measured bf16 matmul (stas00/ml-engineering, MAMF table), 90% of HBM bandwidth
    by_hand = 794.5e12 / (0.9 * W) * TOTAL / ACTIVE
    assert expected("01.11") == pytest.approx(by_hand, rel=1e-6)
    for s in [None] + STUDENTS[:40]:
        v = variant(s, "01.11")
        assert expected("01.11", s) < rl.optimal_batch(v["model"], v["chip"])


def test_achievable_hints(capsys):
    right, peak = expected("01.11"), rl.optimal_batch("Llama 3.1 70B", "H100")
    ok, out = run(capsys, "01.11", peak)
    assert not ok and "peak" in out.lower()
    ok, out = run(capsys, "01.11", right * (peak / right) ** 2)
    assert not ok and "upside down" in out.lower()


# ---- 01.12: weight-only quantization ------------------------------------------------------------
def test_weight_only_key_reproduces_scaling_book():
    # TPU v5e: 1.97e14 bf16 FLOP/s, 8.19e11 B/s; critical batch 240, "drops to 120" with int8 weights
    # and bf16 FLOPs (jax-ml/scaling-book inference.md @0819a7d, L151-L172).
    assert variant(None, "01.12") == {"model": "Llama 3.1 70B", "chip": "TPU v5e", "chips": 16, "storage": "int8"}
    assert expected("01.12b") == pytest.approx(1.97e14 / 8.19e11 * 0.5 * TOTAL / ACTIVE, rel=1e-3)
    assert expected("01.12a") == pytest.approx(TOTAL / (16 * 8.19e11), rel=1e-3)
    assert 118 < expected("01.12b") < 126


def test_mxfp4_counts_its_scales(capsys):
    student = next(s for s in STUDENTS if variant(s, "01.12")["storage"] == "mxfp4")
    right = expected("01.12a", student)
    assert rl.bytes_per_element("mxfp4") == (32 * 4 + 8) / 32 / 8      # OCP MX v1.0: 4.25 bits
    ok, out = run(capsys, "01.12a", right * 4 / 4.25, student=student)
    assert not ok and "4.25 bits" in out
    ok, out = run(capsys, "01.12b", expected("01.12b", student) * 2 / (4.25 / 8), student=student)
    assert not ok and "cancels only" in out


# ---- 01.13: speculative decoding ---------------------------------------------------------------------
def test_speculative_keys_by_hand():
    # Leviathan, Kalman & Matias (ICML 2023), eq. 1: (1 - a^(k+1)) / (1 - a)
    assert expected("01.13a") == pytest.approx((1 - 0.7 ** 5) / 0.3)
    # Llama 3.1 70B, 8 x H100, batch 256, 1,024 tokens, per phase at peak rates
    kv = 256 * 1024 * 327680 / (8 * W)
    attention = 256 * 1024 * 4 * 64 * 128 * 80 / (8 * F)

    def step(positions):
        comm = 160 * (ALPHA + 14 * BETA + 2 * 7 / 8 * 256 * positions * 8192 * 2 / LINK)
        return max(positions * attention, kv) + max(2 * 256 * positions * ACTIVE / (8 * F), TOTAL * 2 / (8 * W)) + comm

    tokens = (1 - 0.7 ** 5) / 0.3
    assert expected("01.13b") == pytest.approx(step(1) / (step(5) / tokens), rel=1e-6)
    assert expected("01.13b") < 1                                       # at batch 256 it costs


def test_speculation_pays_when_memory_bound_and_costs_when_compute_bound():
    b = np.arange(1, 1025, dtype=float)
    plain = rl.decode_step("Llama 3.1 70B", "H100", b, 1024, 8)
    spec = rl.speculative_step("Llama 3.1 70B", "H100", b, 1024, 8, draft_tokens=4, acceptance=0.7)
    gain = plain.time_per_token / spec.time_per_token
    assert gain[0] == pytest.approx(2.76, abs=0.005)
    assert int(b[np.argmax(gain < 1)]) == 199                           # slower from batch 199 on
    assert np.all(np.diff(gain) <= 1e-12)                               # it only gets worse with the batch
    # DeepSeek-V3's MTP: one extra token accepted 85-90% of the time (arXiv 2412.19437, 5.4.3)
    assert rl.expected_tokens_per_step(0.85, 1) == pytest.approx(1.85)


@pytest.mark.parametrize("key, make_wrong, words", [
    ("01.13a", lambda right: right - 1, "own token"),
    ("01.13a", lambda right: 5.0, "every guess is accepted"),
    ("01.13b", lambda right: (1 - 0.7 ** 5) / 0.3, "tokens per step"),
    ("01.13b", lambda right: 1 / right, "upside down"),
])
def test_speculative_hints(capsys, key, make_wrong, words):
    right = expected(key)
    ok, out = run(capsys, key, make_wrong(right))
    assert not ok and words.lower() in out.lower()


# ---- the chapter's other corrected numbers --------------------------------------------------------
def test_chapter_one_errata_numbers():
    # critical intensity: A100 80 GB 312 TFLOP/s / 2.039 TB/s; V100 125 TFLOP/s (fp16) / 0.9 TB/s
    assert rl.critical_intensity("A100 SXM 80GB") == pytest.approx(312e12 / 2.039e12)
    assert rl.critical_intensity("V100") == pytest.approx(125e12 / 0.9e12)
    assert 1.9 < rl.critical_intensity("H100") / rl.critical_intensity("A100 SXM 80GB") < 2.1
    # the crossover moves to SMALLER batches at achievable rates: B* x eta_F / eta_W
    h = rl.hardware("H100")
    assert rl.optimal_batch("Llama 3.1 70B", rl.achievable(h)) == pytest.approx(
        rl.optimal_batch("Llama 3.1 70B", h) * (794.5 / 989.4) / 0.9, rel=1e-3)
    # gpt-oss-120b as released: MXFP4 experts
    assert rl.optimal_batch("gpt-oss-120b", h, expert_dtype="mxfp4") == pytest.approx(1875, rel=0.01)
    assert rl.optimal_batch("gpt-oss-120b", h) == pytest.approx(6722, rel=0.01)
    # NIM: Llama-3.3-70B fp8 TP2 on 2 x H100, 18.58 ms ITL at concurrency 1, against a 10.5 ms floor
    floor = rl.weight_bytes("Llama 3.1 70B", "fp8") / (2 * W)
    model_ms = rl.decode_step("Llama 3.1 70B", rl.achievable(h), 1, 5250, 2, dtype="fp8").time
    assert floor == pytest.approx(10.5e-3, rel=0.01)
    assert 0.2 < (model_ms - floor) / (18.58e-3 - floor) < 0.35


# ---- the explorer -------------------------------------------------------------------------------------
def test_explorer_switches_model_and_rates_and_moves_the_curves():
    from rooflib.explore.batching import BENCH, batching_explorer

    ex = batching_explorer()
    assert "tokens of context" in ex.message.value
    times = {}
    for overlap in ("full", "none"):
        for rates in ("peak", "achievable"):
            png = ex.update(overlap=overlap, rates=rates)
            assert png[:8] == b"\x89PNG\r\n\x1a\n"
            msg = ex.message.value
            assert "Not possible" not in msg and rates in msg
            assert ("ideal single roofline" if overlap == "full" else "per-phase step") in msg
            times[overlap, rates] = ex.lines["time"].get_ydata().copy()
            comm = ex.lines["comm"].get_ydata()
            assert np.all(np.isnan(comm)) == (overlap == "full")         # no all-reduces in the ideal
    assert np.all(times["none", "peak"] > times["full", "peak"])
    assert np.all(times["none", "achievable"] > times["none", "peak"])
    for values in BENCH["updates"]:
        ex.update(**values)
        assert "Not possible" not in ex.message.value, values


def test_explorer_falls_back_to_peak_where_nothing_was_measured():
    from rooflib.explore.batching import batching_explorer

    ex = batching_explorer(chip="TPU v6e", rates="achievable")
    assert "No measured matmul rate" in ex.message.value and "peak rates" in ex.message.value
    assert math.isfinite(float(np.nanmax(ex.lines["time"].get_ydata())))
