"""Pipeline parallelism: bubbles counted from schedules, memory per stage, hops, stage balance."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import rooflib as rl
from rooflib import pipeline as pl

# Llama 3.1 405B, from its published configuration: 126 layers, d_model 16384, 128 heads of 128,
# 8 KV heads, MLP width 53248, vocabulary 128256.
# https://github.com/meta-llama/llama-models/blob/364ed4ec2bdcc13ab3acb08e364e843b6322b9ae/models/sku_list.py
L405_PARAMS = 126 * (16384 * 128 * 128 * 2 + 2 * 16384 * 8 * 128 + 3 * 16384 * 53248) + 2 * 128256 * 16384
L405_KV = 126 * 2 * 8 * 128 * 2   # bytes per token in bf16: K and V, 8 heads of 128, 126 layers
H100_HBM = 80e9                   # https://github.com/jax-ml/scaling-book/blob/1a55377affc9ee8f10b549f689ad57e813623a7e/gpus.md


# ---- bubbles: formula ------------------------------------------------------------------------------
def test_bubble_fraction_by_hand():
    assert pl.bubble_fraction(4, 8) == pytest.approx(3 / 11)
    assert pl.bubble_fraction(4, 8, interleave=2) == pytest.approx(3 / 19)
    assert pl.bubble_fraction(16, 16) == pytest.approx(15 / 31)


def test_bubble_fraction_limits():
    assert pl.bubble_fraction(1, 7) == 0.0                 # one stage: nothing to fill or drain
    assert pl.bubble_fraction(8, 1e12) < 1e-10             # M -> infinity
    assert pl.bubble_fraction(1e9, 1) > 1 - 1e-8           # P -> infinity with one micro-batch
    out = pl.bubble_fraction(np.array([[2], [4]]), np.array([1, 2, 4]))
    assert out.shape == (2, 3)


def test_bubble_fraction_errors_name_the_argument():
    for kwargs, name in ((dict(stages=0, microbatches=4), "stages"),
                         (dict(stages=4, microbatches=0), "microbatches"),
                         (dict(stages=4, microbatches=4, interleave=-1), "interleave")):
        with pytest.raises(ValueError, match=name):
            pl.bubble_fraction(**kwargs)


# ---- bubbles: counted from the schedules -----------------------------------------------------------
def test_gpipe_schedule_drawn_by_hand():
    # P = 2, M = 2, backward as long as forward:
    # stage 1: F1 F2 .  .  B1 B2
    # stage 2: .  F1 F2 B1 B2 .
    s = pl.pipeline_schedule(2, 2, kind="gpipe", backward_cost=1)
    assert s.grid().tolist() == [[0, 1, -1, -1, 0, 1], [-1, 0, 1, 0, 1, -1]]
    assert s.makespan == 6 and s.bubble_fraction == pytest.approx(1 / 3)


@pytest.mark.parametrize("kind", ["gpipe", "1f1b"])
def test_schedules_match_the_formula(kind):
    for P in range(1, 7):
        for M in range(1, 11):
            s = pl.pipeline_schedule(P, M, kind=kind)
            assert s.makespan == (M + P - 1) * 3                     # forward 1 + backward 2 slots
            assert s.bubble_fraction == pytest.approx(pl.bubble_fraction(P, M))
            assert np.all(s.busy == 3 * M)


@pytest.mark.parametrize("v", [2, 3, 4])
def test_interleaved_schedule_divides_the_bubble_by_v(v):
    for P in (2, 3, 4):
        for M in (P, 2 * P, 3 * P):
            s = pl.pipeline_schedule(P, M, kind="interleaved", interleave=v)
            assert s.bubble_fraction == pytest.approx((P - 1) / (v * M + P - 1))
            assert s.bubble_fraction < pl.bubble_fraction(P, M)


@pytest.mark.parametrize("kind", ["gpipe", "1f1b", "interleaved"])
def test_schedules_respect_dependencies_and_never_overlap(kind):
    P, M, v = 4, 8, (2 if kind == "interleaved" else 1)
    s = pl.pipeline_schedule(P, M, kind=kind, interleave=v)
    ops = s.ops
    end = {}
    for o in ops:
        vstage = o["chunk"] * P + o["stage"]
        end[(str(o["phase"]), vstage, o["microbatch"])] = (o["start"], o["start"] + o["duration"])
    assert len(end) == len(ops) == 2 * P * M * v    # each (phase, chunk, micro-batch) exactly once
    for (phase, k, mb), (start, _) in end.items():
        if phase == "F" and k > 0:
            assert start >= end[("F", k - 1, mb)][1]
        if phase == "B":
            prev = ("B", k + 1, mb) if k < P * v - 1 else ("F", k, mb)
            assert start >= end[prev][1]
    for stage in range(P):
        mine = np.sort(ops[ops["stage"] == stage], order="start")
        assert np.all(mine["start"][1:] >= mine["start"][:-1] + mine["duration"][:-1])


def test_1f1b_holds_fewer_activations_than_gpipe():
    P, M = 4, 12
    gpipe, one = pl.pipeline_schedule(P, M, kind="gpipe"), pl.pipeline_schedule(P, M, kind="1f1b")
    assert gpipe.peak_in_flight().tolist() == [M] * P           # every forward waits for its backward
    assert one.peak_in_flight().tolist() == [4, 3, 2, 1]        # stage s holds P - s
    assert gpipe.bubble_fraction == pytest.approx(one.bubble_fraction)


def test_decode_schedule_needs_p_microbatches():
    P = 4
    full = pl.pipeline_schedule(P, P, kind="decode", tokens=5).grid()
    half = pl.pipeline_schedule(P, 2, kind="decode", tokens=5).grid()
    steady = slice(P, 3 * P)   # after the pipe has filled, before it drains
    assert np.all(full[:, steady] >= 0)                            # never idle
    assert np.mean(half[:, steady] < 0) == pytest.approx(0.5)     # idle (P - M) / P of the time
    assert np.all(pl.pipeline_schedule(P, P, kind="decode").peak_in_flight() == 0)


def test_schedule_errors():
    with pytest.raises(ValueError, match="kind"):
        pl.pipeline_schedule(4, 4, kind="zero-bubble")
    with pytest.raises(ValueError, match="multiple of stages"):
        pl.pipeline_schedule(4, 6, kind="interleaved", interleave=2)
    with pytest.raises(ValueError, match="interleave"):
        pl.pipeline_schedule(4, 8, kind="gpipe", interleave=2)
    with pytest.raises(ValueError, match="stages"):
        pl.pipeline_schedule(0, 4)
    with pytest.raises(ValueError, match="microbatches"):
        pl.pipeline_schedule(4, 2.5)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(1, 16), st.sampled_from(["gpipe", "1f1b"]), st.integers(1, 3))
def test_counted_bubble_equals_formula_for_any_size(P, M, kind, bc):
    s = pl.pipeline_schedule(P, M, kind=kind, backward_cost=bc)
    assert s.bubble_fraction == pytest.approx((P - 1) / (M + P - 1))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 64))
def test_bubble_falls_with_microbatches_and_grows_with_stages(P, M, extra):
    assert pl.bubble_fraction(P, M + extra) <= pl.bubble_fraction(P, M)
    assert pl.bubble_fraction(P + extra, M) >= pl.bubble_fraction(P, M)
    assert 0 <= pl.bubble_fraction(P, M) < 1


# ---- memory per stage ------------------------------------------------------------------------------
def test_stage_memory_llama_405b_by_hand():
    mem = pl.stage_memory("Llama 3.1 405B", "H100", stages=2, batch=16, context=8192)
    assert mem.chips_per_stage == 8                         # an HGX H100 domain
    assert mem.weights == pytest.approx(L405_PARAMS * 2 / 16)
    assert mem.kv == pytest.approx(16 * 8192 * L405_KV / 8)
    assert mem.activations == pytest.approx(2 * 16 * 16384 * 2 / 8)
    assert mem.capacity == H100_HBM
    assert mem.fits and not mem.kv_dominates


def test_kv_per_chip_does_not_shrink_with_stages():
    P = np.arange(1, 127)
    mem = pl.stage_memory("Llama 3.1 405B", "H100", P, 16, 8192)
    assert np.allclose(mem.kv, 16 * 8192 * L405_KV / 8)          # the same at every P
    assert np.allclose(mem.weights * P, L405_PARAMS * 2 / 8)      # weights fall as 1 / P
    one = pl.stage_memory("Llama 3.1 405B", "H100", 8, 16, 8192, in_flight=1)
    assert one.kv == pytest.approx(mem.kv[7] / 8)                 # one micro-batch: 1/P of it, but 7 stages idle


def test_kv_crossover_and_ceiling():
    # W / (B S k): 811.7 GB / 67.6 GB
    assert pl.kv_crossover_stages("Llama 3.1 405B", 16, 8192) == pytest.approx(L405_PARAMS * 2 / (16 * 8192 * L405_KV))
    assert pl.kv_crossover_stages("Llama 3.1 405B", 16, 8192) == pytest.approx(12.0, abs=0.05)
    mem = pl.stage_memory("Llama 3.1 405B", "H100", 12, 16, 8192)
    assert mem.kv == pytest.approx(mem.weights, rel=0.01)
    ceiling = pl.kv_batch_ceiling("Llama 3.1 405B", "H100", 8192)
    assert ceiling == pytest.approx(8 * H100_HBM / (8192 * L405_KV))
    assert 151 < ceiling < 152


def test_max_microbatch_creeps_to_the_ceiling():
    P = np.arange(1, 127)
    b = pl.max_microbatch("Llama 3.1 405B", "H100", P, 8192)
    by_hand = np.floor((P * 8 * H100_HBM - L405_PARAMS * 2) / (P * 8192 * L405_KV))
    assert np.array_equal(b, np.maximum(by_hand, 0))
    assert b[0] == 0                                  # 811.7 GB of weights > 640 GB
    assert np.all(np.diff(b) >= 0)
    assert b[-1] <= pl.kv_batch_ceiling("Llama 3.1 405B", "H100", 8192)
    assert b[1] == 55 and b[31] == 145 and b[-1] == 149


def test_min_stages():
    # weights only: 811.7 GB bf16 / 640 GB -> 2; fp8 405.8 GB -> 1
    assert pl.min_stages("Llama 3.1 405B", "H100") == 2
    assert pl.min_stages("Llama 3.1 405B", "H100", dtype="fp8") == 1
    # DeepSeek-V3 in fp8: 671 GB > 640 GB on an 8-H100 node, < 1128 GB on an 8-H200 node
    assert pl.min_stages("DeepSeek-V3", "H100", dtype="fp8") == 2
    assert pl.min_stages("DeepSeek-V3", "H200", dtype="fp8") == 1
    # Kimi K2 (1.03 T parameters) in bf16: 2.05 TB / 640 GB -> 4 nodes; one NVL72 rack holds it
    assert pl.min_stages("Kimi K2", "H100") == 4
    assert pl.min_stages("Kimi K2", "GB200 NVL72") == 1
    # a micro-batch whose cache alone fills a stage: no number of stages helps
    assert math.isinf(pl.min_stages("Llama 3.1 405B", "H100", 152, 8192))
    assert pl.min_stages("Llama 3.1 405B", "H100", 16, 8192) == 2


def test_stage_memory_errors_name_the_argument():
    with pytest.raises(ValueError, match="stages"):
        pl.stage_memory("Llama 3.1 8B", "H100", 33, 1, 1024)      # 32 layers only
    with pytest.raises(ValueError, match="stages"):
        pl.stage_memory("Llama 3.1 8B", "H100", 2.5, 1, 1024)
    with pytest.raises(ValueError, match="batch"):
        pl.stage_memory("Llama 3.1 8B", "H100", 2, 0, 1024)
    with pytest.raises(ValueError, match="context"):
        pl.stage_memory("Llama 2 70B", "H100", 2, 1, 8192)        # 4,096-token model
    with pytest.raises(ValueError, match="chips"):
        pl.stage_memory("Llama 3.1 8B", "H100", 2, 1, 1024, chips_per_stage=16)
    with pytest.raises(ValueError, match="in_flight"):
        pl.stage_memory("Llama 3.1 8B", "H100", 2, 1, 1024, in_flight=0)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(rl.MODELS)), st.sampled_from(["H100 SXM", "H200 SXM", "B200", "GB200"]),
       st.integers(1, 1024), st.floats(0.01, 1))
def test_more_stages_never_shrink_the_micro_batch_or_pass_the_ceiling(m, h, b, f):
    s = max(1, int(f * rl.model(m).context_length))
    P = np.arange(1, rl.model(m).n_layers + 1)
    bmax = pl.max_microbatch(m, h, P, s)
    assert np.all(np.diff(bmax) >= 0)
    assert np.all(bmax <= pl.kv_batch_ceiling(m, h, s))
    mem = pl.stage_memory(m, h, P, b, s)
    assert np.all(np.diff(mem.total) <= 0)


# ---- inference latency -------------------------------------------------------------------------------
def test_hop_time_by_hand():
    # 64 sequences x d_model 16384 x 2 bytes = 2.1 MB over 8 NICs of 50 GB/s, after 5 us
    nbytes = pl.activation_bytes("Llama 3.1 405B", 64)
    assert nbytes == 64 * 16384 * 2
    assert pl.hop_time(nbytes, links=8) == pytest.approx(5e-6 + nbytes / (8 * 50e9))
    assert pl.NIC_BANDWIDTH == 50e9          # 400 Gb/s per GPU
    with pytest.raises(ValueError, match="bandwidth"):
        pl.hop_time(1e6, bandwidth=0)
    with pytest.raises(ValueError, match="links"):
        pl.hop_time(1e6, links=0)


@pytest.mark.parametrize("overlap", ["none", "full"])
def test_one_stage_is_plain_decode(overlap):
    d = pl.pipeline_decode("Llama 3.1 70B", "H100", 64, 4096, stages=1, overlap=overlap)
    step = rl.decode_step("Llama 3.1 70B", "H100", 64, 4096, chips=8, overlap=overlap)
    assert d.hops == 0
    assert d.token_latency == pytest.approx(step.time)
    assert d.tokens_per_second == pytest.approx(step.tokens_per_second)


def test_per_phase_stage_pays_its_all_reduces():
    # Llama 3.1 405B, B = 16, S = 8192 on an 8-H100 stage: 2 x 126 ring all-reduces of 16 x 16384 x 2 B
    # (NCCL LL: 3.6 us + 14 x 0.47 us, nccl src/graph/tuning.cc; 450 GB/s NVLink 4)
    d = pl.pipeline_decode("Llama 3.1 405B", "H100", 16, 8192, stages=2)
    ideal = pl.pipeline_decode("Llama 3.1 405B", "H100", 16, 8192, stages=2, overlap="full")
    ar = 3.6e-6 + 14 * 0.47e-6 + 2 * 7 / 8 * 16 * 16384 * 2 / 450e9
    assert d.step.comm == pytest.approx(2 * 126 * ar) and ideal.step.comm == 0
    assert d.step.time == pytest.approx(ideal.step.time - ideal.step.weights - ideal.step.kv
                                        + max(d.step.attention, d.step.kv) + d.step.weights + d.step.comm)
    ach = pl.pipeline_decode("Llama 3.1 405B", rl.achievable("H100"), 16, 8192, stages=2)
    assert ideal.token_latency < d.token_latency < ach.token_latency


def test_pipelined_decode_by_hand():
    P, B, S = 4, 64, 8192
    d = pl.pipeline_decode("Llama 3.1 405B", "H100", B, S, stages=P)
    step = rl.decode_step("Llama 3.1 405B", "H100", B, S, chips=8)   # the whole model on one stage's chips, per phase
    hop = 5e-6 + B * 16384 * 2 / (8 * 50e9)
    back = 5e-6 + B * 4 / (8 * 50e9)
    assert d.stage == pytest.approx(step.time / P)
    assert d.token_latency == pytest.approx(step.time + (P - 1) * hop + back)
    # exactly P micro-batches: the first stage waits out the hops every cycle
    assert d.tokens_per_second == pytest.approx(P * B / d.token_latency)
    # one more micro-batch hides them: per chip, the throughput of one stage running batch B alone
    d5 = pl.pipeline_decode("Llama 3.1 405B", "H100", B, S, stages=P, in_flight=P + 1)
    assert d5.tokens_per_second / (P * 8) == pytest.approx(step.tokens_per_second / 8)
    assert d.hop_overhead < 0.01   # the hops are small next to a 40 ms step


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 32), st.integers(1, 512))
def test_latency_never_falls_with_stages(P, B):
    d = pl.pipeline_decode("DeepSeek-V3", "H800", B, 4096, stages=np.array([P, P + 1]), dtype="fp8")
    lat = np.asarray(d.token_latency)
    assert lat[1] >= lat[0] * (1 - 1e-12)


# ---- training: micro-batches ------------------------------------------------------------------------
def test_microbatch_costs():
    W = L405_PARAMS * 2
    assert pl.microbatch_weight_traffic("Llama 3.1 405B", 16, 8) == pytest.approx(8 * 2 * W / 16)
    assert pl.microbatch_weight_traffic("Llama 3.1 405B", 16, 16) == pytest.approx(
        2 * pl.microbatch_weight_traffic("Llama 3.1 405B", 16, 8))
    # T* = (2 b + 8) / (3 b) x optimal batch: two weight reads and the fp32 gradient buffer read and
    # written (8 B per parameter). Dense bf16 on H100: 989.4e12 / 3.35e12 x 12 / 6 x total/active ~ 594
    t = pl.min_microbatch_tokens("Llama 3.1 405B", "H100")
    assert t == pytest.approx(2 * rl.optimal_batch("Llama 3.1 405B", "H100"))
    assert t == pytest.approx(989.4e12 / 3.35e12 * 12 / 6 * L405_PARAMS / rl.model("Llama 3.1 405B").active_params)
    assert 590 < t < 600
    # weight reads alone: 2/3 B*
    t0 = pl.min_microbatch_tokens("Llama 3.1 405B", "H100", grad_bytes=0)
    assert t0 == pytest.approx(2 / 3 * rl.optimal_batch("Llama 3.1 405B", "H100")) and 195 < t0 < 200
    # DeepSeek-V3 on H800 (989.4 / 1978.9 TFLOP/s, 3.35 TB/s): bf16 2 B* ~ 10,800; fp8 10/3 B*_fp8 ~ 18,000
    ds = rl.model("DeepSeek-V3")
    assert pl.min_microbatch_tokens(ds, "H800") == pytest.approx(989.4e12 / 3.35e12 * 2 * ds.sparsity)
    assert pl.min_microbatch_tokens(ds, "H800", dtype="fp8") == pytest.approx(1978.9e12 / 3.35e12 * 10 / 6 * ds.sparsity)
    assert 10_000 < pl.min_microbatch_tokens(ds, "H800") < 11_000
    with pytest.raises(ValueError, match="grad_bytes"):
        pl.min_microbatch_tokens(ds, "H800", grad_bytes=-1)
    act = pl.training_activation_bytes("Llama 3.1 405B", 8192, 16)
    assert act == pytest.approx(8192 * 16384 * 126 / 16 * 34)


# ---- stage balance ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(rl.MODELS))
def test_stage_totals_add_up(name):
    m = rl.model(name)
    for P in (1, 2, 7, m.n_layers):
        b = pl.stage_balance(m, P)
        assert b.layers.sum() == m.n_layers and b.layers.max() - b.layers.min() <= 1
        assert b.params.sum() == pytest.approx(m.total_params)
        assert b.active.sum() == pytest.approx(m.active_params)
    assert pl.stage_balance(m, 1).imbalance == 1.0


def test_output_head_unbalances_the_last_stage():
    # Kimi K2: 61 layers; the output head (163840 x 7168 = 1.17 B) multiplies on the last stage
    b = pl.stage_balance("Kimi K2", 16)
    assert b.layers.tolist() == [4] * 13 + [3] * 3
    assert np.argmax(b.active) == 15
    assert b.imbalance > 1.3
    # moving layers off the last stage helps: the re-balancing every architecture change needs
    better = pl.stage_balance("Kimi K2", 16, layers=[4] * 14 + [3, 2])
    assert better.imbalance < b.imbalance
    with pytest.raises(ValueError, match="add up"):
        pl.stage_balance("Kimi K2", 16, layers=[4] * 16)
    with pytest.raises(ValueError, match="layers"):
        pl.stage_balance("Kimi K2", 4, layers=[61])


# ---- explorers ------------------------------------------------------------------------------------
def test_explorers_draw_and_report():
    from rooflib.explore import pipeline as ep

    assert ep.BENCH is ep.BENCHES["stage_memory"]
    built = {}
    for name, bench in ep.BENCHES.items():
        explorer = built[name] = bench["factory"]()
        for values in bench["updates"][:3]:
            png = explorer.update(**values)
            assert png[:8] == b"\x89PNG\r\n\x1a\n", name
            assert "Not possible" not in explorer.message.value, (name, values, explorer.message.value)
    mem = built["stage_memory"]
    mem.update(chips_per_stage=16)                 # an H100 domain has 8 GPUs
    assert "Not possible" in mem.message.value and "chips" in mem.message.value
    sched = built["schedule"]
    sched.update(kind="interleaved, v = 2", stages=4, microbatches=6)
    assert "Not possible" in sched.message.value and "multiple" in sched.message.value
    sched.update(kind="GPipe", stages=4, microbatches=8)
    assert "27.3%" in sched.message.value          # 3 / 11


# ---- answer keys (solutions/04_pipelining.ipynb) -----------------------------------------------------
def test_answer_keys_accept_their_own_answers():
    from rooflib.course import answers
    from rooflib.course.checks import check
    from rooflib.course.variants import variant

    keys = answers.keys("04")
    assert len({answers.parse_key(k)[1] for k in keys}) >= 6
    for key in keys:
        entry = answers.get(key)
        for student in (None, "ada", "s1", "s2", "s3", "s4", "s5"):
            v = variant(student, key)
            value = entry.expected(v) if entry.variants is not None else entry.expected()
            assert np.isfinite(value) and value > 0
            assert check(key, value, student=student, quiet=True)
            assert not check(key, value * 1.1, student=student, quiet=True)


def test_every_pipeline_setup_fits():
    from rooflib.course.answers import ch04

    assert ch04.SETUPS[0] == dict(model="Llama 3.1 405B", chip="H100 SXM", dtype="bf16", stages=4,
                                  batch=16, context=8192)
    for v in ch04.SETUPS[::9]:
        mem = pl.stage_memory(v["model"], v["chip"], v["stages"], v["batch"], v["context"], dtype=v["dtype"])
        assert mem.weights + mem.kv <= mem.capacity


@pytest.mark.parametrize("key, wrong, words", [
    ("04.1b", lambda v: pl.stage_memory(v["model"], v["chip"], v["stages"], v["batch"], v["context"],
                                        dtype=v["dtype"]).kv / v["stages"], "does NOT shrink"),
    ("04.3a", lambda v: (v["stages"] - 1) / v["microbatches"], "IDEAL"),
    ("04.5", lambda v: rl.optimal_batch(v["model"], v["chip"]), "DECODE optimal batch"),
    ("04.5", lambda v: pl.min_microbatch_tokens(v["model"], v["chip"], grad_bytes=0), "accumulation buffer"),
    ("04.4a", lambda v: pl.hop_time(pl.activation_bytes(v["model"], v["batch"]), latency=v["latency_us"] * 1e-6),
     "own NIC"),
])
def test_classic_mistakes_get_their_hint(key, wrong, words, capsys):
    from rooflib.course.checks import check
    from rooflib.course.variants import variant

    for student in ("ada", "bob", "s7"):
        v = variant(student, key)
        if key == "04.1b" and v["stages"] < 2:
            continue
        assert not check(key, wrong(v), student=student)
        assert words in capsys.readouterr().out


def test_training_activations_come_from_korthikanti_in_memory_trade():
    # One home for Korthikanti et al. 2022 eq. 1 (arXiv:2205.05198): memory_trade.activation_bytes_per_layer.
    from rooflib import memory_trade as mt
    m = rl.model("Llama 3.1 405B")
    per_layer = mt.activation_bytes_per_layer(8192, 1, m.d_model, m.n_heads, store_scores=False)
    assert pl.training_activation_bytes(m, 8192, 16) == pytest.approx(per_layer * m.n_layers / 16)
    assert pl.training_activation_bytes(m, 8192, 16) == pytest.approx(8192 * 16384 * 34 * 126 / 16)  # 35.9 GB
    assert pl.training_activation_bytes(m, 8192, 16, recompute=True) == pytest.approx(8192 * 16384 * 2 * 126 / 16)
    with pytest.raises(ValueError, match="stages"):
        pl.training_activation_bytes(m, 8192, 127)


def test_schedules_are_importable_from_pipeline_and_draw_outside_it():
    from rooflib import plotting, schedules
    assert pl.pipeline_schedule is schedules.pipeline_schedule and pl.bubble_fraction is schedules.bubble_fraction
    assert not hasattr(pl, "draw_schedule")    # drawing is presentation: rooflib.plotting
    assert callable(plotting.draw_schedule)
