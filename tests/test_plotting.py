"""rooflib.plotting: the shared axis helpers (`style_axes`, `log_axes`, `decade_limits`)."""
import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, NullLocator  # noqa: E402

from rooflib.plotting import decade_limits, log_axes, style_axes  # noqa: E402


def _axes():
    ax = Figure().subplots()
    ax.plot([1, 10], [1, 10], label="a line")
    return ax


def _grid_on(axis) -> bool:
    return any(line.get_visible() for line in axis.get_gridlines())


def test_style_axes_sets_every_part_of_the_block():
    ax = _axes()
    style_axes(ax, log="xy", xlim=(1, 1e4), ylim=(1e-3, 1), xlabel="batch (sequences)", ylabel="time (s)",
               legend="upper left")
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlim() == pytest.approx((1, 1e4)) and ax.get_ylim() == pytest.approx((1e-3, 1))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("batch (sequences)", "time (s)")
    assert _grid_on(ax.xaxis) and _grid_on(ax.yaxis)
    assert ax.xaxis.get_gridlines()[0].get_alpha() == 0.3
    legend = ax.get_legend()
    assert legend._loc == 2 and legend._fontsize == 8          # "upper left", the explorers' usual size
    assert [t.get_text() for t in legend.get_texts()] == ["a line"]


def test_style_axes_is_the_same_as_the_block_it_replaces():
    """The helper draws exactly what the explorers' hand-written blocks drew."""
    by_hand, helper = _axes(), _axes()
    log_axes(by_hand, y=False)
    by_hand.set_xlim(1, 100)
    by_hand.set_ylim(0, 1)
    by_hand.set_xlabel("stages P")
    by_hand.set_ylabel("bubble (idle fraction)")
    by_hand.grid(True, which="major", alpha=0.3)
    by_hand.legend(loc="lower left", fontsize=7, ncol=2)
    style_axes(helper, log="x", xlim=(1, 100), ylim=(0, 1), xlabel="stages P", ylabel="bubble (idle fraction)",
               legend=dict(loc="lower left", fontsize=7, ncol=2))
    for ax in (by_hand, helper):
        ax.figure.canvas.draw()
    for get in ("get_xscale", "get_yscale", "get_xlim", "get_ylim", "get_xlabel", "get_ylabel"):
        assert getattr(by_hand, get)() == getattr(helper, get)()
    assert [t.get_text() for t in by_hand.get_xticklabels()] == [t.get_text() for t in helper.get_xticklabels()]
    a, b = by_hand.get_legend(), helper.get_legend()
    assert (a._loc, a._ncols, a._fontsize) == (b._loc, b._ncols, b._fontsize)


def test_log_on_one_axis_keeps_the_other_linear():
    ax = _axes()
    style_axes(ax, log="y")
    assert (ax.get_xscale(), ax.get_yscale()) == ("linear", "log")
    # log_axes' fast ticks: powers of ten only, no minor ticks
    assert isinstance(ax.yaxis.get_major_locator(), LogLocator)
    assert isinstance(ax.yaxis.get_minor_locator(), NullLocator)


def test_grid_on_one_axis_or_none():
    ax = _axes()
    style_axes(ax, grid="x")
    assert _grid_on(ax.xaxis) and not _grid_on(ax.yaxis)
    ax = _axes()
    style_axes(ax, grid=None)
    assert not _grid_on(ax.xaxis) and not _grid_on(ax.yaxis)


def test_options_left_out_leave_the_axes_alone():
    ax = _axes()
    ax.set_xlabel("kept")
    before = ax.get_xlim(), ax.get_ylim()
    style_axes(ax, grid=None)
    assert ax.get_xlabel() == "kept" and (ax.get_xlim(), ax.get_ylim()) == before
    assert ax.get_legend() is None and ax.get_xscale() == "linear"


def test_reversed_limits_flip_the_axis():
    ax = _axes()
    style_axes(ax, ylim=(1, 0))
    assert ax.yaxis_inverted()


@pytest.mark.parametrize("kw", [dict(log="log"), dict(log="yx"), dict(grid=True), dict(grid="major")])
def test_bad_options_name_the_argument(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        style_axes(_axes(), **kw)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-6, 1e6), st.floats(1.01, 1e6))
def test_limits_are_kept_exactly_on_log_axes(lo, ratio):
    ax = _axes()
    style_axes(ax, log="xy", xlim=(lo, lo * ratio), ylim=decade_limits(lo, lo * ratio))
    assert ax.get_xlim() == (lo, lo * ratio)
    assert ax.get_ylim() == decade_limits(lo, lo * ratio)


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-12, 1e12), st.floats(1.0, 1e6))
def test_decade_limits_hold_the_data_on_whole_powers_of_ten(lo, ratio):
    bottom, top = decade_limits(lo, lo * ratio)
    assert bottom <= lo * (1 + 1e-9) and top >= lo * ratio * (1 - 1e-9)  # up to float rounding
    assert math.log10(bottom) == round(math.log10(bottom)) and math.log10(top) == round(math.log10(top))
    assert bottom > lo / 10 * (1 - 1e-9) and top < max(lo * ratio, 10 * lo) * 10 * (1 + 1e-9)  # a decade at most


@pytest.mark.parametrize("e", range(-30, 30))
def test_an_exact_power_of_ten_is_its_own_limit(e):
    assert decade_limits(float(f"1e{e}"), float(f"1e{e + 1}")) == (10.0 ** e, 10.0 ** (e + 1))
