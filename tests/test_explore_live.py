"""rooflib.explore.live: the grid an explorer's controls describe, drawn by the explorer itself."""
from __future__ import annotations

import json

import numpy as np
import pytest

from rooflib.explore import batching_explorer, live
from rooflib.explore.kv_cache import kv_designs_explorer


@pytest.fixture(scope="module")
def designs():
    ex = kv_designs_explorer(model_name="Llama 3.1 70B", context=32768)
    return ex, live.harvest(ex)


def test_origin_is_the_factory_call():
    ex = kv_designs_explorer(model_name="Llama 3.1 8B", context=8192)
    assert ex.origin == {"factory": "rooflib.explore.kv_cache:kv_designs_explorer",
                         "kwargs": {"model_name": "Llama 3.1 8B", "context": 8192, "kv_dtype": "bf16"}}
    again = live.rebuild(ex.origin)
    assert again.values() == ex.values()


def test_grid_offers_every_option_and_the_current_value(designs):
    ex, data = designs
    controls = {c["name"]: c for c in data["controls"]}
    assert controls["model_name"]["values"] == list(ex.controls["model_name"].options)
    assert controls["context"]["values"][controls["context"]["init"]] == 32768
    assert len(data["points"]) == np.prod([len(c["values"]) for c in data["controls"]])


@pytest.mark.parametrize("values", [dict(model_name="DeepSeek-V3", context=1024, kv_dtype="fp8"),
                                    dict(model_name="Gemma 3 27B", context=131072, kv_dtype="bf16")])
def test_a_point_of_the_grid_is_what_draw_draws(designs, values):
    ex, data = designs
    data = json.loads(live.to_json(data))  # what the page receives
    data["pool"] = [json.dumps(p) for p in data["pool"]]
    shown = live.shown(data, values)
    assert shown["summary"] == ex.draw(**values)
    for (_, kind, artist), got in zip(live._artists(ex.fig), shown["artists"]):
        if kind == "line":
            x, y = artist.get_data()
            for gx, gy in zip(*got):  # every point kept is a point drawn, to 4 significant digits
                i = int(np.argmin(abs(np.asarray(x) - gx)))
                assert gx == pytest.approx(x[i], rel=1e-3) and gy == pytest.approx(y[i], rel=1e-3)
        elif kind == "rect":
            assert got[1] - got[0] == pytest.approx(artist.get_width(), rel=1e-3, abs=1.0)


def test_lines_are_thinned_but_keep_their_ends():
    ex = batching_explorer()
    ex.draw(**ex.values())
    ax = ex.fig.axes[0]
    x, y = ex.lines["weights"].get_data()
    tx, ty = live._thin(ax, x, y)
    assert len(tx) < len(x) / 4  # a flat line needs two points
    assert tx[0] == x[0] and tx[-1] == x[-1]


def test_a_grid_too_large_fails_naming_the_explorer():
    ex = kv_designs_explorer()
    with pytest.raises(live.LiveGridError, match="KVDesignsExplorer.*live_grid"):
        live.harvest(ex, max_draws=10)


def test_numbers_keep_four_significant_digits():
    assert live._num(123456.0) == "1.235e5"
    assert live._num(0.00012344) == "0.0001234"
    assert live._num(float("nan")) == "null"
    assert json.loads("[" + live._num(1e-5) + "]") == [1e-5]


def _tagged_origins():
    """The factory call of every explorer a chapter shows live (cells tagged `live-explorer`)."""
    import nbformat

    from pathlib import Path
    out = []
    for path in sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9]*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if "live-explorer" in cell.get("metadata", {}).get("tags", []):
                origin = next((o["metadata"]["rooflib-live"] for o in cell.get("outputs", [])
                               if o.get("metadata", {}).get("rooflib-live")), None)
                out.append(pytest.param(origin, id=f"{path.stem}-cell{i + 1}"))
    return out


@pytest.mark.parametrize("origin", _tagged_origins())
def test_every_live_explorer_has_a_grid_the_book_can_ship(origin):
    """Each tagged cell carries its explorer's origin, and the grid stays within MAX_DRAWS, so the
    book's build (which draws every point) does not fail or take minutes."""
    assert origin is not None, "tagged cell without an explorer origin: re-execute the notebook"
    axes = live.control_axes(live.rebuild(origin))
    assert 1 <= np.prod([len(a["values"]) for a in axes]) <= live.MAX_DRAWS
    assert any(len(a["values"]) > 1 for a in axes), "the page would offer nothing to move"


def test_markers_texts_and_boxes_reach_the_page():
    from rooflib.explore.moe import sparsity_explorer
    from rooflib.explore.pipeline import schedule_explorer

    sp = sparsity_explorer()
    data = live.harvest(sp)
    kinds = [a["kind"] for a in data["artists"]]
    assert kinds.count("text") == len(sp.names)  # each model's name beside its dot
    dots = next(a for a in data["artists"] if a["label"] == "catalog MoE models")
    assert dots["marker"] == "circle" and dots["filled"] and not dots["line"]
    values = {c["name"]: c["values"][c["init"]] for c in data["controls"]}
    data["pool"] = [json.dumps(json.loads(p)) for p in data["pool"]]
    shown = live.shown(data, values)
    i = data["artists"].index(dots)
    assert len(shown["artists"][i][0]) == len(sp.dots.get_xdata())  # every dot kept: markers are not thinned
    texts = [s for a, s in zip(data["artists"], shown["artists"]) if a["kind"] == "text"]
    assert {t for _, t in texts} == {t.get_text() for t in sp.names}

    sc = schedule_explorer(stages=4, microbatches=8, kind="GPipe")
    data = live.harvest(sc)
    values = {c["name"]: c["values"][c["init"]] for c in data["controls"]}
    shown = live.shown(data, values)
    boxes = [s for a, s in zip(data["artists"], shown["artists"]) if a["kind"] == "boxes"]
    assert sum(len(b) // 4 for b in boxes) == 2 * 4 * 8  # a forward and a backward per stage and micro-batch
