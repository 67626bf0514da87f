"""Chapter 9 ("From one step to a service"): the notebook, its exercises and explorers hang together."""
import json
import time
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
    assert {"09.1", "09.2", "09.3", "09.5"} <= set(keys("09"))


@pytest.mark.parametrize("name", sorted(explore_service.BENCHES))
def test_explorers_update_for_every_bench_move(name):
    bench = explore_service.BENCHES[name]
    ex = bench["factory"]()
    for values in bench["updates"]:
        png = ex.update(**values)
        assert png and "Not possible" not in ex.message.value, (values, ex.message.value)


def test_load_explorer_with_ten_thousand_requests_is_fast():
    ex = explore_service.load_explorer()
    t0 = time.perf_counter()
    ex.update(n=10_000)
    assert time.perf_counter() - t0 <= 2.0
    assert "10,000 requests" in ex.message.value
    assert np.isfinite(ex.bars[1].get_height())
