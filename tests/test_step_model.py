"""The step model: per-phase time, collectives, achievable rates, number formats, speculative
decoding. Pinned to scaling-book's worked examples, NCCL's cost model and hand derivations."""
import math

import numpy as np
import pytest

import rooflib as rl
from rooflib.collectives import all_to_all_time, hop_time
from rooflib.formats import bytes_per_element, math_format
from rooflib.speculative import expected_tokens_per_step, speculative_step

H100_F, H100_W = 989.4e12, 3.35e12
V5E_F, V5E_W = 197e12, 0.819e12      # TPU v5e bf16 FLOP/s, HBM bytes/s (Google Cloud TPU docs)

# scaling-book's pop quiz model: "a 30B parameter dense model ... in int8 with bf16 FLOPs, 8192 context and
# 100 kB / token KV caches". Any shape with those totals will do: 48 layers of d = 6144, 8 KV heads of 128
# (2 x 8 x 128 x 48 = 98,304 int8 bytes per token), a 28,672-wide MLP: 30.0B parameters.
QUIZ_30B = rl.Model(name="scaling-book 30B", n_layers=48, d_model=6144, vocab=32000, n_heads=48, n_kv_heads=8,
                    head_dim=128, d_ff=28672, context_length=8192, source="tests: scaling-book inference.md pop quiz")
SCALING_BOOK = "https://github.com/jax-ml/scaling-book/blob/0819a7d8c55ddc113f5cba0285a5f97380cac1e3/inference.md"


def test_quiz_model_matches_the_quiz():
    assert QUIZ_30B.total_params == pytest.approx(30e9, rel=0.01)
    assert rl.kv_bytes_per_token(QUIZ_30B, dtype="int8") == pytest.approx(100e3, rel=0.02)


@pytest.mark.parametrize("batch, answer", [(4, 2.5e-3), (256, 21e-3)])
def test_scaling_book_pop_quiz(batch, answer):
    """inference.md L224-L228: "(4 * 819e6 + 30e9) / (16 * 8.1e11) = 2.5 ms"; at 256 "(256 * 819e6) /
    (16 * 8.1e11) + (2 * 256 * 30e9) / (16 * 1.97e14) = 21ms". Its formula is t_kv + max(t_compute,
    t_weights), with no ICI term: our per-phase step without its all-reduces."""
    step = rl.decode_step(QUIZ_30B, "TPU v5e", batch, 8192, chips=16, dtype="int8", math_dtype="bf16",
                          kv_dtype="int8")
    assert step.attention_phase + step.matmul_phase == pytest.approx(answer, rel=0.05)
    assert step.attention < step.kv                      # "attention is always bandwidth-bound"
    assert step.comm > 0                                  # which the quiz leaves out
    # the lecture's single roofline is never above it (reads hide under the arithmetic at batch 256)
    ideal = rl.decode_step(QUIZ_30B, "TPU v5e", batch, 8192, chips=16, dtype="int8", math_dtype="bf16",
                           kv_dtype="int8", overlap="full")
    assert ideal.time <= step.attention_phase + step.matmul_phase
    assert (ideal.time < 0.9 * (step.attention_phase + step.matmul_phase)) == (batch > rl.optimal_batch(QUIZ_30B, "TPU v5e", "int8", math_dtype="bf16"))


def test_scaling_book_llama3_70b_on_v5e():
    """applied-inference.md: batch 32 at 8,192 tokens, int8 weights and cache: "112e9 / (8 * 8.1e11) = 17ms"
    on a 4x2 slice, "17 / 2 = 8.5ms" on a 4x4; critical batch "about 120 since our parameters are in int8 but
    our FLOPs are in bfloat16", 240 in bf16, and 240 again with int8 x int8."""
    llama = "Llama 3.1 70B"
    for chips, answer in [(8, 17e-3), (16, 8.5e-3)]:
        step = rl.decode_step(llama, "TPU v5e", 32, 8192, chips=chips, dtype="int8", math_dtype="bf16",
                              kv_dtype="int8")
        assert step.attention_phase + step.matmul_phase == pytest.approx(answer, rel=0.04)
        assert step.bound != "compute"
    assert rl.optimal_batch(llama, "TPU v5e", "int8", math_dtype="bf16") == pytest.approx(120, rel=0.02)
    assert rl.optimal_batch(llama, "TPU v5e") == pytest.approx(240, rel=0.02)
    assert rl.optimal_batch(llama, "TPU v5e", "int8") == pytest.approx(240, rel=0.02)   # int8 x int8: 394 TOP/s
    # the KV cache: "2 * K * H * L = 2 * 8 * 128 * 80 = 160kB" in int8
    assert rl.kv_bytes_per_token(llama, dtype="int8") == 2 * 8 * 128 * 80


def test_per_phase_llama_70b_by_hand():
    """8 H100, batch 512, 1,024 tokens: 15.4 ms in two phases against 11.7 ms in the ideal."""
    m = rl.model("Llama 3.1 70B")
    b, s, c = 512, 1024, 8
    kv = b * s * 327_680 / (c * H100_W)
    attention = b * 4 * 64 * 128 * 80 * s / (c * H100_F)
    compute = 2 * b * m.active_params / (c * H100_F)
    weights = 2 * m.total_params / (c * H100_W)
    step = rl.decode_step(m, "H100", b, s, chips=c)
    assert step.attention_phase + step.matmul_phase == pytest.approx(max(attention, kv) + max(compute, weights))
    assert step.attention_phase + step.matmul_phase == pytest.approx(15.4e-3, rel=0.01)
    assert rl.decode_step(m, "H100", b, s, chips=c, overlap="full").time == pytest.approx(11.7e-3, rel=0.01)
    # all-reduces: 2 per layer of 512 x 8192 x 2 bytes, ring over 8 chips, NCCL's latencies
    one = 3.6e-6 + 14 * 0.47e-6 + 2 * 7 / 8 * (b * 8192 * 2) / 450e9
    assert step.comm == pytest.approx(160 * one)
    assert step.time == pytest.approx(step.attention_phase + step.matmul_phase + step.comm)


def test_collective_term_at_batch_one_and_none_on_one_chip():
    step = rl.decode_step("Llama 3.1 70B", "H100", 1, 0, chips=8)
    assert step.comm == pytest.approx(160 * (3.6e-6 + 14 * 0.47e-6 + 1.75 * 16384 / 450e9))   # 1.64 ms
    assert step.comm == pytest.approx(1.64e-3, rel=0.01)
    assert step.weights == pytest.approx(5.27e-3, rel=0.01)
    assert rl.decode_step("Llama 3.1 8B", "H100", 1, 1000, chips=1).comm == 0
    assert rl.decode_step("Llama 3.1 8B", "H100", 1, 1000, chips=1, overlap="full").comm == 0


def test_all_reduce_time_by_hand():
    assert rl.all_reduce_time(0, 8, 450e9, 0.47e-6) == pytest.approx(10.18e-6)
    assert rl.all_reduce_time(1e6, 1, 450e9, 0.47e-6) == 0
    # across two 8-GPU servers: 2 of the 30 steps cross the network, and the NIC is the slowest link
    t = rl.all_reduce_time(1e6, 16, 450e9, 0.47e-6, domain=8)
    assert t == pytest.approx(3.6e-6 + 28 * 0.47e-6 + 2 * 2.7e-6 + 30 / 16 * 1e6 / 50e9)
    with pytest.raises(ValueError, match="ranks"):
        rl.all_reduce_time(1e6, 2.5, 450e9, 0.47e-6)


def test_collectives_by_hand():
    assert hop_time(2.1e6, links=8) == pytest.approx(5e-6 + 2.1e6 / (8 * 50e9))
    # one all-to-all phase: 16 chips in two domains of 8; 7/16 of the bytes over NVLink, 8/16 over the NIC
    assert all_to_all_time(1e6, 16, 8, 450e9) == pytest.approx(max(1e6 * 7 / 16 / 450e9, 1e6 * 8 / 16 / 50e9))
    # the MoE module uses this equation: DeepSeek-V3 on 8 H100, batch 8, bf16 (chapter 3's 25.9 us)
    assert rl.all_to_all_time("DeepSeek-V3", "H100", 8, 8) == pytest.approx(25.9e-6, rel=0.01)


def test_achievable_rates_and_the_moved_crossover():
    h = rl.achievable("H100")
    assert h.flops_for("bf16") == pytest.approx(794.5e12)
    assert h.hbm_bandwidth == pytest.approx(0.9 * H100_W)
    assert h.peak is rl.hardware("H100")
    eta_f, eta_w = 794.5e12 / H100_F, 0.9
    # real kernels turn compute-bound at a SMALLER batch: B* x eta_F / eta_W
    assert rl.optimal_batch("Llama 3.1 70B", h) == pytest.approx(
        rl.optimal_batch("Llama 3.1 70B", "H100") * eta_f / eta_w)
    assert rl.optimal_batch("Llama 3.1 70B", h) < rl.optimal_batch("Llama 3.1 70B", "H100")
    # MFU and MBU stay fractions of PEAK
    step = rl.decode_step("Llama 3.1 70B", h, 4096, 0, chips=8, overlap="full")
    assert step.bound == "compute"
    assert step.mfu == pytest.approx(eta_f)
    slow = rl.decode_step("Llama 3.1 70B", h, 1, 0, chips=8, overlap="full")
    assert slow.mbu == pytest.approx(eta_w, rel=1e-3)
    # a rack of achievable chips knows its peak rack; a chip with no measurement says what to pass
    assert rl.achievable("GB200 NVL72").peak.flops_for("bf16") == pytest.approx(72 * 2500e12)
    with pytest.raises(ValueError, match="matmul="):
        rl.achievable("TPU v5e")
    assert rl.achievable("TPU v5e", matmul=0.6).flops_for("bf16") == pytest.approx(0.6 * V5E_F)
    with pytest.raises(ValueError, match="0.8, not 80"):
        rl.achievable("H100", hbm=90)
    with pytest.raises(ValueError, match="already derated"):
        rl.achievable(h)


def test_number_formats():
    assert bytes_per_element("mxfp4") * 8 == 4.25      # 32 fp4 numbers + one 8-bit scale
    assert bytes_per_element("nvfp4") * 8 == 4.5       # 16 fp4 numbers + one fp8 scale
    assert math_format("mxfp4") == "fp4" and math_format("int8", "bf16") == "bf16"
    with pytest.raises(ValueError, match="math_dtype"):
        math_format("int4")
    # gpt-oss-120b as released: MXFP4 experts, everything else bf16
    m = rl.model("gpt-oss-120b")
    experts = m.n_moe_layers * m.n_experts * m.expert_params()
    released = (m.total_params - experts) * 2 + experts * 4.25 / 8
    assert rl.weight_bytes(m, expert_dtype="mxfp4") == pytest.approx(released)
    b_star = rl.optimal_batch(m, "H100", expert_dtype="mxfp4")
    assert b_star == pytest.approx(H100_F / H100_W * released / (2 * m.active_params))
    assert 1850 < b_star < 1900 and rl.optimal_batch(m, "H100") > 6700
    # weight-only int8 with bf16 arithmetic halves the optimal batch; int8 on H100 needs math_dtype
    assert rl.optimal_batch("Llama 3.1 70B", "H100", "int8", math_dtype="bf16") == pytest.approx(
        rl.optimal_batch("Llama 3.1 70B", "H100") / 2)
    with pytest.raises(ValueError, match="int8"):
        rl.decode_step("Llama 3.1 70B", "H100", 1, 0, dtype="int8")
    with pytest.raises(ValueError, match="expert_dtype"):
        rl.weight_bytes("gpt-oss-120b", expert_dtype="fp3")


def test_storage_sets_bytes_arithmetic_sets_flops():
    w8 = rl.decode_step("Llama 3.1 70B", "H100", 64, 1000, chips=8, dtype="int8", math_dtype="bf16")
    bf = rl.decode_step("Llama 3.1 70B", "H100", 64, 1000, chips=8)
    f8 = rl.decode_step("Llama 3.1 70B", "H100", 64, 1000, chips=8, dtype="fp8")
    assert w8.weights == pytest.approx(bf.weights / 2) and w8.compute == pytest.approx(bf.compute)
    assert f8.weights == pytest.approx(bf.weights / 2) and f8.compute == pytest.approx(bf.compute / 2, rel=1e-4)


def test_history_of_critical_intensity():
    assert rl.critical_intensity("V100") == pytest.approx(125e12 / 0.9e12)      # 139 (fp16)
    assert rl.critical_intensity("A100") == pytest.approx(312e12 / 2.039e12)    # 153
    assert rl.critical_intensity("H100") == pytest.approx(295.3, rel=1e-3)
    assert 1.8 < rl.critical_intensity("H100") / rl.critical_intensity("A100") < 2.0


def test_expected_tokens_per_step():
    assert expected_tokens_per_step(0.85, 1) == pytest.approx(1.85)     # DeepSeek-V3 MTP, low end
    assert expected_tokens_per_step(0.9, 1) == pytest.approx(1.9)
    a, k = 0.7, 4
    assert expected_tokens_per_step(a, k) == pytest.approx(sum(a**i for i in range(k + 1)))
    assert expected_tokens_per_step(1.0, 3) == 4 and expected_tokens_per_step(0.0, 3) == 1
    assert np.shape(expected_tokens_per_step(np.array([0.5, 0.9]), 2)) == (2,)
    with pytest.raises(ValueError, match="acceptance"):
        expected_tokens_per_step(85, 1)
    with pytest.raises(ValueError, match="draft_tokens"):
        expected_tokens_per_step(0.8, 1.5)


def test_speculation_pays_when_memory_bound_and_costs_when_compute_bound():
    b = np.array([1, 16, 1024])
    plain = rl.decode_step("Llama 3.1 70B", "H100", b, 1024, chips=8)
    spec = speculative_step("Llama 3.1 70B", "H100", b, 1024, chips=8, draft_tokens=4, acceptance=0.7)
    gain = plain.time_per_token / spec.time_per_token
    assert gain[0] == pytest.approx(expected_tokens_per_step(0.7, 4), rel=0.02)   # reads unchanged, 2.77 tokens
    assert gain[-1] < 1                                                           # wasted arithmetic
    assert spec.weights == pytest.approx(plain.weights) and np.allclose(spec.kv, plain.kv)
    assert np.allclose(spec.compute, 5 * plain.compute)
    # MFU counts accepted tokens only
    assert spec.mfu[-1] < plain.mfu[-1]
    # a draft model's own steps are added
    drafted = speculative_step("Llama 3.1 70B", "H100", 1, 1024, chips=8, draft_tokens=4, acceptance=0.7,
                               draft_model="Llama 3.1 8B")
    assert drafted.draft == pytest.approx(4 * rl.decode_step("Llama 3.1 8B", "H100", 1, 1024, chips=8).time)
    assert drafted.time == pytest.approx(spec.time[0] + drafted.draft)


def test_prefill_counts_causal_attention_per_phase():
    m = rl.model("Llama 3.1 70B")
    p = rl.prefill_step(m, "H100", 4096, 1, 8)
    pairs = 4096 * 4097 / 2
    assert p.attention == pytest.approx(4 * 64 * 128 * 80 * pairs / (8 * H100_F))
    ideal = rl.prefill_step(m, "H100", 4096, 1, 8, overlap="full")
    assert ideal.time == pytest.approx(max(ideal.compute, ideal.weights + ideal.kv))
    assert p.tokens_per_second == pytest.approx(4096 / p.time)


def test_bound_names_communication_when_it_dominates():
    # a small model split over 8 chips at batch 1: the all-reduces outlast the weight reads
    step = rl.decode_step("Llama 3.1 8B", "H100", 1, 0, chips=8)
    assert step.comm > step.weights
    assert step.bound == "communication"


def test_batch_for_step_time_inverts_the_per_phase_step():
    t = rl.decode_step("Llama 3.1 70B", "H100", 100, 2048, chips=8).time
    b = rl.batch_for_step_time("Llama 3.1 70B", "H100", t, 2048, chips=8)
    assert b == pytest.approx(100, rel=1e-6)
    assert rl.batch_for_step_time("Llama 3.1 70B", "H100", 1e-3, 2048, chips=8) == 0   # below the floor


@pytest.mark.parametrize("call, needle", [
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, overlap="partial"), "overlap"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, math_dtype="fp5"), "math_dtype"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, kv_dtype="int3"), "kv_dtype"),
    (lambda: rl.decode_step("Llama 3.1 8B", "H100", 1, 10, dtype="int4"), "math_dtype"),
    (lambda: speculative_step("Llama 3.1 8B", "H100", 1, 10, draft_tokens=-1, acceptance=0.5), "draft_tokens"),
    (lambda: speculative_step("Llama 3.1 8B", "H100", 1, 10, draft_tokens=2, acceptance=1.5), "acceptance"),
])
def test_bad_options_name_the_argument(call, needle):
    with pytest.raises(ValueError, match=needle):
        call()


def test_scalar_step_is_plain_floats():
    step = rl.decode_step("Llama 3.1 70B", "H100", 64, 4096, chips=8)
    for part in (step.compute, step.weights, step.attention, step.kv, step.comm, step.time, step.mfu, step.mbu):
        assert type(part) is float and math.isfinite(part)
    assert isinstance(step.bound, str)
