"""The safe evaluator (rooflib/safe_eval.py): card expressions are interpreted from a syntax tree,
never handed to eval or exec, and anything outside the whitelist is refused."""
from __future__ import annotations

import builtins
import re
from pathlib import Path

import pytest

from rooflib import cards, safe_eval
from rooflib.safe_eval import ExpressionError, evaluate, parse_expression

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
    interpreter in rooflib.safe_eval: nothing is ever handed to eval or exec."""
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for card in NUMERIC:
        assert card.value() > 0
    monkeypatch.undo()
    for module in ("safe_eval.py", "cards.py", "card_grading.py"):
        source = (ROOT / "rooflib" / module).read_text()
        assert not re.search(r"(?<![\w.])(eval|exec)\(", source), module


def test_parse_expression_is_static():
    tree = parse_expression("optimal_batch(model, chip) / 2")
    assert tree.body.__class__.__name__ == "BinOp"
    with pytest.raises(ExpressionError):
        parse_expression("x" * (safe_eval.MAX_EXPRESSION + 1))
    with pytest.raises(ExpressionError):
        parse_expression(42)
