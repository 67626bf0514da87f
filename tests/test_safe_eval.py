"""The safe evaluator (rooflib/course/safe_eval.py): card expressions are interpreted from a syntax tree,
never handed to eval or exec, and anything outside the whitelist is refused."""
from __future__ import annotations

import builtins
import math
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from rooflib.course import cards, safe_eval
from rooflib.course.safe_eval import ExpressionError, evaluate, parse_expression

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = [c for c in cards.load_all() if c.numeric]


@pytest.mark.parametrize("expr", [
    "__import__('os').system('true')",
    "hardware('H100').__class__",
    "().__class__.__bases__",
    "model('DeepSeek-V3').__dict__",
    "critical_intensity.__globals__",
    "critical_intensity.__name__",
    "lambda: 1",
    "(lambda x: x)(1)",
    "[x for x in (1, 2)]",
    "{x for x in (1, 2)}",
    "sum(x for x in (1, 2))",
    "{'a': 1}",
    "[1, 2]",
    "open('/etc/passwd')",
    "eval('1 + 1')",
    "exec('x = 1')",
    "getattr(hardware('H100'), 'flops')",
    "hardware('H100').flops.keys()",
    "model('DeepSeek-V3').source.upper()",
    "hardware('H100').flops[dtype]",
    "1 if True else 2",
    "1 < 2",
    "f'{1}'",
    "x := 1",
    "critical_intensity(*['H100'])",
    "critical_intensity(**{'hw': 'H100'})",
    "2 ** 1000",
    "'a' * 10",
    "serving.simulate_arrivals(10, 1.0)",
    "reality.measure_matmul_flops()",
    "moe.np",
    "cards.evaluate('1')",
    "import os",
    "1; 2",
])
def test_safe_evaluator_rejects(expr):
    with pytest.raises(ExpressionError):
        evaluate(expr, {"dtype": "bf16"})


def test_safe_evaluator_accepts_rooflib_arithmetic():
    h100 = 989.4e12 / 3.35e12
    assert evaluate("critical_intensity('H100')") == pytest.approx(h100)
    assert evaluate("hardware('H100').flops['bf16'] / hardware('H100').hbm_bandwidth") == pytest.approx(h100)
    assert evaluate("critical_intensity(hw='H100', dtype='fp8')") == pytest.approx(2 * h100, rel=1e-4)
    assert evaluate("-(2 ** 3) + 10 // 3 % 2") == -7
    assert evaluate("model.expert_params()", {"model": "DeepSeek-V3"}) == 3 * 7168 * 2048
    assert evaluate("decode_step(model, chip, 1, 0, 8).weights * 1e3",
                    {"model": "Llama 3.1 70B", "chip": "H100"}) == pytest.approx(5.2651, rel=1e-4)
    assert evaluate("sqrt(max(4, 9))") == 3


def test_safe_evaluator_turns_failures_into_expression_errors():
    for expr in ("critical_intensity('no such chip')", "1 / 0", "optimal_batch('DeepSeek-V3')",
                 "max_batch('Llama 3.1 70B', 'H100', -5)", "hardware('H100').flops['fp64']",
                 "hardware('H100').nonexistent", "unknown_function(1)", "'text'",
                 "hardware('H100')", "kv_bytes_per_token('Llama 3.1 70B', context) * 0 + 1e400"):
        with pytest.raises(ExpressionError):
            evaluate(expr, {"context": 10})


def test_safe_evaluator_never_uses_eval_or_exec(monkeypatch):
    """Expressions are parsed by `ast` (which compiles to a syntax tree only) and walked by the
    interpreter in rooflib.course.safe_eval: nothing is ever handed to eval or exec."""
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for card in NUMERIC:
        assert card.value() > 0
    monkeypatch.undo()
    for module in ("safe_eval.py", "cards.py", "card_grading.py"):
        source = (ROOT / "rooflib" / "course" / module).read_text()
        assert not re.search(r"(?<![\w.])(eval|exec)\(", source), module


def test_parse_expression_is_static():
    tree = parse_expression("optimal_batch(model, chip) / 2")
    assert tree.body.__class__.__name__ == "BinOp"
    with pytest.raises(ExpressionError):
        parse_expression("x" * (safe_eval.MAX_EXPRESSION + 1))
    with pytest.raises(ExpressionError):
        parse_expression(42)


# ============================================================================ bounded work
# Each of these once ran for seconds to minutes (or allocated gigabytes) inside the 500-character
# limit, then escaped as an OverflowError that crashed the drill.
HOSTILE = [
    "(((10 ** 64) ** 64) ** 64) ** 64",
    "((10 ** 64) ** 64) ** 64",
    "round(10 ** 64, -10 ** 18)",
    "round(1.5, 10 ** 18)",
    "round(1.5, 2.5)",
    "memory_trade.optimal_checkpoint_interval(10 ** 8, 1, 1)",
    "units.fmt_count(1, 10 ** 8)",
    "9" * 400,
    "10 ** 64 * 10 ** 64 * 10 ** 64 * 10 ** 64 * 10 ** 64",
    "2 ** 64 ** 64",
    "(2 ** 63) ** 64 // 3",
    "exp(10 ** 6)",
    "ceil(1e308 * 10)",
    "sqrt(-1)",
    "log(0)",
    "max()",
    "(" * 150 + "1" + ")" * 150,
    "-" * 499 + "1",
    "critical_intensity('H100') ** 64 ** 64",
    "1e308 * 1e308",
    "floor(1e300) ** 2",
]


def _bounded(expr):
    """evaluate(expr) within 0.5 s of CPU; None when it fails with the one documented exception."""
    start = time.process_time()
    try:
        value = evaluate(expr)
    except ExpressionError:
        value = None
    assert time.process_time() - start < 0.5, expr
    return value


@pytest.mark.parametrize("expr", HOSTILE)
def test_hostile_expressions_fail_fast_with_the_documented_exception(expr):
    evaluate("1")                                            # build the environment outside the clock
    value = _bounded(expr)
    assert value is None or math.isfinite(value), expr       # a few are legal: then a plain number


def test_whole_numbers_stay_bounded_but_card_sized_ones_work():
    assert evaluate("2 ** 64 * 2 ** 64") == 2.0 ** 128
    assert evaluate("(2 ** 64) ** 15") == 2.0 ** 960
    assert evaluate("round(1234.5, -2)") == 1200 and evaluate("round(2.5)") == 2
    assert evaluate("16 * 2 ** 20 // 8192 // 128") == 16
    with pytest.raises(ExpressionError, match="2\\^1000"):
        evaluate("(2 ** 64) ** 16")


ATOMS = st.sampled_from(["1", "0", "-1", "2", "10", "64", "0.5", "1e308", "1e-308", "10 ** 64", "9" * 60,
                         "critical_intensity('H100')", "hardware('H100').hbm_bandwidth", "pi", "HOUR"])
FUNCTIONS = st.sampled_from(["round", "max", "min", "abs", "sqrt", "log", "log2", "exp", "ceil", "floor"])
OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**"])


def _expressions():
    return st.recursive(
        ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, OPERATORS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(FUNCTIONS, st.lists(inner, min_size=1, max_size=2)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            inner.map(lambda e: f"-{e}")),
        max_leaves=12).filter(lambda e: len(e) <= 500)


@settings(max_examples=300, deadline=None)
@given(_expressions())
def test_any_arithmetic_is_bounded_and_fails_only_with_the_documented_exception(expr):
    value = _bounded(expr)
    assert value is None or (isinstance(value, float) and math.isfinite(value))


_SCAN = textwrap.dedent("""
    import inspect, sys, time, tracemalloc
    import rooflib as rl
    from rooflib.course import safe_eval
    env = safe_eval._environment()[0]
    functions = {k: v for k, v in env.items() if callable(v) and k not in safe_eval._MATH}
    for alias, ns in env.items():
        if isinstance(ns, safe_eval._Namespace):
            functions.update({f"{alias}.{n}": f for n, f in ns.members.items()
                              if callable(f) and not isinstance(f, type)})
    objects = {"model": rl.model("DeepSeek-V3"), "m": rl.model("DeepSeek-V3"), "hw": rl.hardware("H100"),
               "chip": rl.hardware("H100"), "h": rl.hardware("H100")}
    for name, f in sorted(functions.items()):
        try:
            params = [p for p in inspect.signature(f).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            continue
        base = [objects.get(p.name, p.default if p.default is not p.empty else 4) for p in params]
        for i, p in enumerate(params):
            if not isinstance(base[i], (int, float)) or isinstance(base[i], bool):
                continue
            args = base[:i] + [10 ** 8] + base[i + 1:]
            tracemalloc.start()
            start = time.perf_counter()
            try:
                f(*args)
            except Exception:
                pass
            seconds, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            if seconds > 1 or peak > 100e6:
                print(f"{name}({p.name}=10**8): {seconds:.1f} s, {peak / 1e6:.0f} MB")
""")


def test_no_card_function_grows_with_a_huge_argument():
    """Every function a card may call, fed 10^8 in each numeric argument in turn, answers (or
    refuses) within a second and 100 MB. Run apart, so that a regression cannot hang the suite."""
    run = subprocess.run([sys.executable, "-c", _SCAN], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "", run.stdout


def test_every_failure_is_an_expression_error(monkeypatch):
    """Whatever goes wrong inside (here: a RecursionError, an OverflowError from a rooflib call)
    reaches the caller as the one documented exception."""
    def deep(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")
    env, errors, allowed = safe_eval._environment()
    monkeypatch.setitem(env, "critical_intensity", deep)
    monkeypatch.setattr(safe_eval, "_environment", lambda: (env, errors, allowed | {id(deep)}))
    with pytest.raises(ExpressionError, match="RecursionError"):
        evaluate("critical_intensity('H100')")
    with pytest.raises(ExpressionError):
        evaluate("1", params=[("chip", "H100")])
    with pytest.raises(ExpressionError):
        parse_expression("1\x00")
