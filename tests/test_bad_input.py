"""Every public function, fed every kind of bad value in every numeric argument, either raises a
clear error that names the argument, or returns finite numbers: never a silent NaN, inf or a
wrapped-around integer, never a traceback from deep inside numpy."""
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rooflib as rl

# A valid value for each argument name the public API uses; a call built from these must work.
GOOD = {
    "model": "Llama 3.1 8B", "hw": "H100", "batch": 4, "context": 1024, "chips": 2, "prompt": 512,
    "dollars_per_chip_hour": 2.0, "step_time": 0.02, "draft_tokens": 3, "acceptance": 0.7,
    "nbytes": 1e6, "ranks": 8, "bandwidth": 450e9, "step_latency": 0.47e-6, "params": 8e9, "tokens": 1e12,
    "top_k": 2048, "kv_bytes_per_sequence": 1e9, "stages": 4, "microbatches": 8, "inference_tokens": 1e12,
    "train_mfu": 0.4, "decode_mfu": 0.1, "active_params": 8e9, "mfu": 0.4, "seconds": 3600.0,
    "input_tokens": 512, "output_tokens": 256, "tp": 2, "flops": 1e24, "gpu_hours": 1e6,
    "pretraining_tokens": 1e12, "threshold_tokens": 200_000,
}
# Numeric arguments (options such as formats and overlap are checked by their own tests).
NUMERIC = set(GOOD) - {"model", "hw"}
# Every public function whose required arguments all have a good value above (display helpers,
# catalog lookups and price-sheet functions that take a sheet are tested elsewhere).
FUNCTIONS = [getattr(rl, n) for n in rl.__all__
             if inspect.isfunction(getattr(rl, n)) and not n.startswith("fmt_")
             and all(p in GOOD or v.default is not inspect.Parameter.empty
                     for p, v in inspect.signature(getattr(rl, n)).parameters.items()
                     if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL))
             and any(p in NUMERIC for p in inspect.signature(getattr(rl, n)).parameters)]
BAD = [float("nan"), float("inf"), -1.0, "64", True, None, 1e300, 2**63, 10**400, [1, "a"], b"4", {"a": 1}]


# Functions whose good call needs another value than GOOD's (a schedule is simulated slot by slot).
GOOD_FOR = {"pipeline_schedule": {"tokens": 1}}
# Functions whose documented answer may be inf ("never", "no number of stages is enough").
INF_MEANS_NEVER = {"compute_bound_batch", "comm_exposed_batch", "min_stages", "memory_bound_context",
                   "goldilocks_context", "max_context", "context_for_kv_bytes", "cache_equals_weights_context",
                   "speculation_break_even_batch"}


def _call(fn, **override):
    sig = inspect.signature(fn)
    override = {**GOOD_FOR.get(fn.__name__, {}), **override}
    kwargs = {}
    for name, p in sig.parameters.items():
        if name in override:
            kwargs[name] = override[name]
        elif name in GOOD and (p.default is inspect.Parameter.empty or name in NUMERIC):
            kwargs[name] = GOOD[name]
    return fn(**kwargs)


def _finite(result, allow_inf=False) -> bool:
    """No NaN, no negative count from a wrapped int64, and no inf unless inf is the documented answer."""
    if isinstance(result, (int, float, np.ndarray, np.generic)):
        arr = np.asarray(result, dtype=float)
        ok = ~np.isnan(arr) & (np.isfinite(arr) | allow_inf)
        if np.issubdtype(np.asarray(result).dtype, np.integer):
            ok &= arr >= 0
        return bool(np.all(ok))
    parts = [getattr(result, k) for k in ("time", "compute", "weights", "kv", "comm", "mfu",
                                          "tokens_per_second") if hasattr(result, k)]
    return all(_finite(p, allow_inf) for p in parts)


def _numeric_params(fn):
    return [n for n in inspect.signature(fn).parameters if n in NUMERIC]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
def test_good_call_works(fn):
    assert _finite(_call(fn), fn.__name__ in INF_MEANS_NEVER)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_bad_values_raise_errors_that_name_the_argument(fn, bad):
    for name in _numeric_params(fn):
        try:
            result = _call(fn, **{name: bad})
        except (ValueError, LookupError) as e:
            assert name in str(e) or name.replace("_", " ") in str(e), (fn.__name__, name, bad, str(e))
            assert len(str(e)) < 400
        else:
            assert _finite(result, fn.__name__ in INF_MEANS_NEVER), (fn.__name__, name, bad)


@pytest.mark.parametrize("fn", [rl.decode_step, rl.speculative_step, rl.cost_per_token, rl.max_batch],
                         ids=lambda f: f.__name__)
def test_clashing_array_shapes_name_the_arguments(fn):
    params = _numeric_params(fn)
    first, second = params[0], params[1]
    with pytest.raises(ValueError, match=f"{first}.*{second}|{second}.*{first}"):
        _call(fn, **{first: np.full(3, GOOD[first]), second: np.full(4, GOOD[second])})


@pytest.mark.parametrize("name", [["h100"], None, 3, b"h100"], ids=repr)
def test_names_must_be_strings(name):
    with pytest.raises(LookupError, match="string"):
        rl.hardware(name)
    with pytest.raises(LookupError, match="string"):
        rl.model(name)


def test_rack_refuses_fractions_and_nonsense():
    with pytest.raises(ValueError, match="whole number"):
        rl.rack("GB200", 2.7)
    with pytest.raises(ValueError, match="chips"):
        rl.rack("GB200", float("nan"))
    with pytest.raises(LookupError):
        rl.rack(None)


@settings(max_examples=200, deadline=None)
@given(batch=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-2**80, max_value=2**80)),
       context=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10, max_value=10**6)),
       chips=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-3, max_value=2**70)))
def test_decode_step_fuzz_never_returns_nonsense(batch, context, chips):
    try:
        step = rl.decode_step("Llama 3.1 70B", "H100", batch, context, chips=chips)
    except ValueError as e:
        assert any(k in str(e) for k in ("batch", "context", "chips"))
        return
    for part in (step.time, step.mfu, step.mbu, step.tokens_per_second):
        assert math.isfinite(part) and part >= 0
