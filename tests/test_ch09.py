"""Chapter 9 ("From one step to a service"): the notebook, its exercises and explorers hang together."""
import json
from pathlib import Path

import numpy as np
import pytest

import rooflib as rl
from rooflib.course.answers import keys
from rooflib.explore import service as explore_service

ROOT = Path(__file__).resolve().parents[1]


def _glued(path):
    out = {}
    for cell in json.loads((ROOT / path).read_text())["cells"]:
        for o in cell.get("outputs", []):
            book = o.get("metadata", {}).get("scrapbook")
            if book:
                out[book["name"]] = float(o["data"]["application/papermill.record/text/plain"])
    return out


def test_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    assert "notebooks/09_service" in toc and "solutions/09_service" in toc


def test_glued_numbers_recompute():
    g = _glued("notebooks/09_service.ipynb")
    fmt = dict(dtype="fp8", kv_dtype="fp8")
    assert g["tpot_alone_ms"] == pytest.approx(rl.decode_step("Llama 3.1 70B", "H100 SXM", 64, 2048, 8, **fmt).time * 1e3)
    assert g["pd_ratio"] == pytest.approx(rl.prefill_nodes_per_decode_node(608e9, 168e9, 73.7e3, 14.8e3))
    assert g["sg_decode_cost"] == pytest.approx(0.20, abs=0.005)   # https://lmsys.org/blog/2025-05-05-large-scale-ep/
    assert g["v5e_b1_ms"] == pytest.approx(5.5, rel=0.03)          # scaling-book applied-inference: "5.5ms"
    assert g["p99_90_ms"] > 3 * g["p99_50_ms"] and g["cost_10"] > g["cost_90"] > g["cost_full"]


def test_every_numeric_exercise_has_a_key():
    assert {"09.1", "09.2", "09.3", "09.5", "09.6", "09.7a", "09.7b", "09.8a", "09.8b", "09.9"} <= set(keys("09"))


# Spec numbers for the hand derivations: H100 SXM dense fp8 1,978.9 TFLOP/s, 3.35 TB/s, 80 GB
# (https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet); Llama 3.1 70B fp8 cache
# 2 x 8 KV heads x 128 x 80 layers x 1 B = 163,840 B per token, 64 query heads (llama-models sku_list.py).
KV8 = 2 * 8 * 128 * 80


def test_prefix_caching_numbers_by_hand():
    g = _glued("notebooks/09_service.ipynb")
    m = rl.model("Llama 3.1 70B")
    free = 8 * 80e9 - m.total_params * 1.0                      # HBM beside the fp8 weights
    assert g["pc_batch0"] == np.floor(free / (2048 * KV8)) == 1697
    assert g["pc_batch100"] == np.floor((free - 100 * 1500 * KV8) / (2048 * KV8))
    assert g["pc_per_prefix_seq"] == pytest.approx(1500 / 2048)
    assert g["pc_100_gb"] == pytest.approx(100 * 1500 * KV8 / 1e9)
    assert g["pc_shared64_gb"] == pytest.approx(63 * 1500 * KV8 / 1e9)
    # the suffix's attention to the prefix: 4 x 64 heads x 128 x 80 layers FLOPs per pair against 2 N_a
    assert g["pc_missed_pct"] == pytest.approx(100 * 4 * 64 * 128 * 80 * 1500 / (2 * m.active_params))
    fmt = dict(dtype="fp8", kv_dtype="fp8")
    miss = rl.prefill_step(m, "H100 SXM", 2000, 1, 8, **fmt).time
    hit = rl.prefill_step(m, "H100 SXM", 500, 1, 8, **fmt).time
    assert g["pc_left_ms"] == pytest.approx(1e3 * (0.9 * hit + 0.1 * miss))
    assert g["pc_hit_ms"] < g["pc_left_ms"] < g["pc_full_ms"]


def test_capacity_planning_figure_numbers():
    g = _glued("notebooks/09_service.ipynb")
    # fleets are whole replicas: at 2 requests/s the cheapest is one two-chip replica, idle most of the time
    assert g["cap_cost2"] == pytest.approx(1e6 * 2 * 2.0 / 3600 / (2 * 256))
    assert g["cap_cost2"] > 5 * g["cap_floor2"] and g["cap_floor2"] < g["cap_floor8"]
    assert g["plan_cost"] >= g["cap_floor2"]
    # the tighter TPOT target moves the plan to more chips per replica, at a higher cost
    assert g["tight_chips"] > g["plan_chips"] and g["tight_cost"] > g["plan_cost"]
    assert g["tight_cost"] == pytest.approx(1e6 * g["tight_total"] * 2.0 / 3600 / (40 * 256))


def _expected(key, student=None):
    from rooflib.course.answers import get
    from rooflib.course.variants import variant
    return float(get(key).expected(variant(student, key)))


def test_new_keys_by_hand():
    # M/D/1 (Pollaczek-Khinchine, fixed service): 0.8 x 0.15 / (2 x 0.2) = 0.3 s; Little: 0.8 / 0.15 x 0.3 = 1.6
    assert _expected("09.8a") == pytest.approx(0.3)
    assert _expected("09.8b") == pytest.approx(1.6)
    # 09.7a: the largest multiple of 64 within 10 ms; the step with 64 more tokens is over it
    fmt = dict(dtype="fp8", kv_dtype="fp8")

    def step(chunk):
        return rl.mixed_step("Llama 3.1 70B", "H100 SXM", 64, chunk, 2048, 8, prompt=8192, **fmt).time

    chunk = _expected("09.7a")
    assert chunk % 64 == 0 and step(chunk) <= 0.010 < step(chunk + 64)
    assert _expected("09.7b") == pytest.approx(np.ceil(8192 / chunk) * step(chunk))
    # 09.6: 0.9 x (prefill of 2,000 tokens - prefill of 500), at least the shared matmuls 2 x 1,500 x N_a / (8 F)
    n_a = rl.model("Llama 3.1 70B").active_params
    assert 0.9 * 2 * 1500 * n_a / (8 * 1978.9e12) < _expected("09.6") < 0.9 * 0.0402 * 1.01
    # 09.9: the cheapest point at >= 100 tokens/s per user is plain decoding at chapter 1's cost per token
    f = rl.frontier("Llama 3.1 70B", "H100 SXM", 2048, chips=(1, 2, 4, 8), dollars_per_chip_hour=2.0, **fmt)
    i = np.flatnonzero(f.speed >= 100)[np.argmin(f.cost[f.speed >= 100])]
    assert _expected("09.9") == pytest.approx(1e6 * rl.cost_per_token("Llama 3.1 70B", "H100 SXM", f.batch[i], 2048,
                                                                       2.0, f.chips[i], **fmt))


@pytest.mark.parametrize("key, wrong, words", [
    ("09.6", lambda r: r / 0.9, "hit"),
    ("09.7a", lambda r: 384.0, "decoding sequences"),
    ("09.8a", lambda r: 2 * r, "M/M/1"),
    ("09.8a", lambda r: r * 0.2, "1 - rho"),
    ("09.8b", lambda r: r + 0.8, "in service"),
    ("09.9", lambda r: 0.1134, "any speed"),
])
def test_new_keys_name_the_classic_mistakes(key, wrong, words, capsys):
    from rooflib.course.checks import check
    assert not check(key, wrong(_expected(key)))
    assert words.lower() in capsys.readouterr().out.lower()


def test_cards_recompute_chapter_nine_through_service_and_queueing():
    from rooflib.course import cards
    from rooflib.course.safe_eval import ExpressionError, evaluate
    uses = [c.id for c in cards.load_deck(9) if c.numeric and ("service." in c.answer or "queueing." in c.answer)]
    assert len(uses) >= 2, uses
    assert evaluate("queueing.md1_wait(0.5 / 0.2, 0.2)") == pytest.approx(0.1)     # half a service time at 0.5
    for expr in ("queueing.simulate_server('Llama 3.1 70B', 'H100 SXM', 1.0, input_tokens=8, output_tokens=8, "
                 "max_batch=1)", "queueing.requests(10 ** 9, 1.0, input_tokens=1, output_tokens=1)",
                 "service.frontier('Llama 3.1 70B', 'H100 SXM', 2048, dollars_per_chip_hour=2)",
                 "queueing.capacity_plan('Llama 3.1 70B', 'H100 SXM', 1.0, input_tokens=1, output_tokens=1, "
                 "p99_ttft=1, p50_tpot=1)"):
        with pytest.raises(ExpressionError, match="not available to cards"):
            evaluate(expr)


@pytest.mark.parametrize("name", sorted(explore_service.BENCHES))
def test_explorers_update_for_every_bench_move(name):
    bench = explore_service.BENCHES[name]
    ex = bench["factory"]()
    for values in bench["updates"]:
        png = ex.update(**values)
        assert png and "Not possible" not in ex.message.value, (values, ex.message.value)


def test_load_explorer_simulates_ten_thousand_requests():
    # Its speed (the issue's <= 2 s for 10,000 requests) is measured by `make bench`, not asserted here.
    ex = explore_service.load_explorer()
    ex.update(n=10_000)
    assert "10,000 requests" in ex.message.value
    assert np.isfinite(ex.bars[1].get_height())
