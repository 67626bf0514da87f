"""A small interpreter for rooflib expressions: how a flashcard computes its answer without ``eval``.

    evaluate("optimal_batch(model, chip)", {"model": "DeepSeek-V3", "chip": "H100 SXM"})   # 5411.2

Card files are text anyone may edit, so they must never reach ``eval`` or ``exec``. `ast` parses an
expression into a tree (nothing runs), a whitelist of node types is checked, and the tree is walked
here: numbers, strings, arithmetic, whitelisted rooflib functions, a few methods and the public data
of rooflib's objects, indexing by a constant. Anything else, and every failure inside rooflib,
raises `ExpressionError`, so a caller handles one exception.

The work is bounded too, because a card must not be able to freeze the drill: whole numbers stay
below 2^1000 (``(10 ** 64) ** 64`` is refused before it is computed), `round` takes at most
`MAX_ROUND_DIGITS` digits, and the rooflib functions whose work or memory grows with an argument
are not callable.
"""
from __future__ import annotations

import ast
import importlib
import math
import numbers
import operator
import warnings
from dataclasses import is_dataclass
from functools import lru_cache

import numpy as np

# Top-level rooflib functions a card may call by name. Each chapter module is a namespace
# (`moe.experts_touched(...)`); the context-length module is called `ctx` so that `context` stays
# free for a parameter. Functions that draw, time or allocate by their arguments (benchmarks,
# schedules, simulations, a search over 1..n, text formatting to n digits) are denied: a card must
# be cheap and deterministic to evaluate.
_CORE = ("hardware", "model", "rack", "kv_bytes", "kv_bytes_per_token", "cost_per_token",
         "critical_intensity", "decode_step", "max_batch", "memory_turnover", "optimal_batch",
         "weight_bytes", "chinchilla_tokens", "inference_flops_per_token", "training_flops",
         "bytes_per_element", "achievable", "expected_tokens_per_step", "speculative_step",
         "all_reduce_time")
_NAMESPACES = {"roofline": "roofline", "kv": "kv", "ctx": "context", "moe": "moe", "pipeline": "pipeline",
               "training": "training", "lifetime": "lifetime", "prices": "prices", "memory_trade": "memory_trade",
               "reality": "reality", "serving": "serving", "energy": "energy", "units": "units",
               "service": "service", "queueing": "queueing"}
_DENY = {"simulate_arrivals", "pipeline_schedule", "draw_schedule", "single_thread_blas", "median_time",
         "measure_matmul_flops", "measure_copy_bandwidth", "time_batched_matmul", "fit_roofline",
         "feistel_keys", "feistel_encrypt", "feistel_decrypt", "avalanche", "popcount32",
         "lifetime_optimum", "attention_designs", "redesign", "resize_layers", "read_price_sheet",
         "optimal_checkpoint_interval",
         # chapter 9: grids, request streams and simulations sized by their arguments
         "step_time_table", "frontier", "requests", "simulate", "simulate_server", "max_load", "capacity_plan"}
_DENY_PREFIXES = ("fmt_",)  # units.fmt_*: text, never a card's number, and sized by `digits`
# Methods of rooflib objects a card may call; everything else reached on an object must be data.
_METHODS = {"flops_for", "dtypes", "expert_params", "attention_params", "mlp_params",
            "embedding_params", "loss", "compute_optimal", "isoloss_optimum", "tokens_for_loss",
            "params_for_loss", "min_params", "chip_hours"}
MAX_EXPRESSION = 500
#: Whole numbers above 2^MAX_INT_BITS are refused: a float cannot hold them anyway, and building
#: one (10 ** 64 nested four times) takes minutes.
MAX_INT_BITS = 1000
MAX_ROUND_DIGITS = 20


class ExpressionError(ValueError):
    """A card expression that is not allowed, or that rooflib cannot evaluate."""


def _sized(x):
    """`x`, unless it is a whole number too large for a card (or a numpy integer, which would wrap
    around silently: it continues as a Python int)."""
    if isinstance(x, np.integer):
        x = int(x)
    elif isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        x = x.astype(float)
    if isinstance(x, int) and not isinstance(x, bool) and x.bit_length() > MAX_INT_BITS:
        raise ExpressionError(f"a whole number above 2^{MAX_INT_BITS} is not allowed in a card")
    return x


def _round(number, ndigits=None):
    """round(), with `ndigits` bounded: round(10 ** 64, -10 ** 18) would run for hours."""
    if ndigits is not None and (isinstance(ndigits, bool) or not isinstance(ndigits, int)
                                or abs(ndigits) > MAX_ROUND_DIGITS):
        raise ExpressionError(f"round() takes a whole number of digits between -{MAX_ROUND_DIGITS} "
                              f"and {MAX_ROUND_DIGITS}, got {ndigits!r}")
    return round(_number(number), ndigits)


_MATH = {"min": min, "max": max, "abs": abs, "round": _round, "sqrt": math.sqrt, "log": math.log,
         "log2": math.log2, "log10": math.log10, "exp": math.exp, "ceil": math.ceil,
         "floor": math.floor}
_CONSTANTS = {"HOUR": 3600.0, "DAY": 86_400.0, "GB": 1e9, "TB": 1e12, "MILLION": 1e6, "pi": math.pi}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
          ast.keyword, ast.Attribute, ast.Subscript, *_BINOPS, *_UNARY)
# Parameters that name catalog entries: the expression sees the Hardware / Model object instead.
_LOOKUPS = {"chip": "hardware", "model": "model"}


class _Namespace:
    """A rooflib module seen through the whitelist: its public functions and constants, nothing
    else. A plain class (not a dataclass), so it never passes for a rooflib data object."""

    def __init__(self, name: str, members: dict):
        self.name, self.members = name, members


def _is_rooflib_object(obj) -> bool:
    """An instance (not a class, module or function) of a dataclass defined in rooflib."""
    return (not isinstance(obj, type) and is_dataclass(obj)
            and type(obj).__module__.split(".")[0] == "rooflib")


def _is_data(value) -> bool:
    """A module constant a card may read: numbers, text, tables and rooflib objects."""
    return not isinstance(value, bool) and (isinstance(value, (numbers.Real, str, dict, tuple))
                                            or _is_rooflib_object(value))


@lru_cache(maxsize=1)
def _environment() -> tuple[dict, dict, frozenset]:
    """(names an expression may use, {namespace: import error}, ids of the callables it may call).

    Built once. A chapter module that fails to import is recorded, not raised: one module being
    rewritten must not break the cards of every other chapter.
    """
    import rooflib

    env: dict = {name: getattr(rooflib, name) for name in _CORE}
    env.update(_MATH)
    env.update(_CONSTANTS)
    errors = {}
    for alias, module_name in _NAMESPACES.items():
        try:
            module = importlib.import_module(f"rooflib.{module_name}")
        except Exception as e:
            errors[alias] = f"{type(e).__name__}: {e}"
            continue
        members = {}
        for name, value in vars(module).items():
            if name.startswith(("_", *_DENY_PREFIXES)) or name in _DENY:
                continue
            # rooflib's own functions, also those a chapter module re-exports from a helper
            # module (pipeline.hop_time); never numpy's or the standard library's
            function = (callable(value) and not isinstance(value, type)
                        and str(getattr(value, "__module__", "")).split(".")[0] == "rooflib")
            if function or (name.isupper() and _is_data(value)):
                members[name] = value
        env[alias] = _Namespace(module_name, members)
    functions = [v for v in env.values() if callable(v)]
    for ns in env.values():
        if isinstance(ns, _Namespace):
            functions += [v for v in ns.members.values() if callable(v) and not isinstance(v, type)]
    return env, errors, frozenset(map(id, functions))


def parse_expression(expr: str) -> ast.Expression:
    """Parse a card expression and check that it uses only allowed syntax (no evaluation yet).

    Allowed: numbers, strings, + - * / // % **, calls with positional and keyword arguments,
    names, attribute access to public names, and indexing by a constant. Everything else (lambdas,
    comprehensions, comparisons, f-strings, names or attributes starting with '_', ...) raises
    `ExpressionError`, so a bad card fails when its deck is loaded, not when a learner meets it.
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression must be text, got {type(expr).__name__}")
    if len(expr) > MAX_EXPRESSION:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"not a valid expression: {expr!r} ({e.msg})") from None
    except (ValueError, MemoryError, RecursionError) as e:  # a NUL byte, nesting too deep
        raise ExpressionError(f"not a valid expression ({type(e).__name__})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise ExpressionError(f"{type(node).__name__} is not allowed in a card expression: {expr!r}")
        if isinstance(node, ast.Constant) and (isinstance(node.value, (bytes, complex))
                                               or node.value is Ellipsis):
            raise ExpressionError(f"constant {node.value!r} is not allowed")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(f"name {node.id!r} is not allowed (no names starting with '_')")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"attribute {node.attr!r} is not allowed (no names starting with '_')")
        if isinstance(node, ast.keyword) and node.arg is None:
            raise ExpressionError("**keyword unpacking is not allowed")
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
            raise ExpressionError("only indexing by a constant is allowed, e.g. hw.flops['bf16']")
        if isinstance(node, ast.Call) and not isinstance(node.func, (ast.Name, ast.Attribute)):
            raise ExpressionError("only named functions may be called")
    return tree


def _number(x):
    """An arithmetic operand: a number or a numpy array, never text (so 'a' * 10 is refused)."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.ndarray)):
        raise ExpressionError(f"an operand must be a number, got {type(x).__name__}")
    return _sized(x)


def _arithmetic(op: ast.operator, left, right):
    if isinstance(op, ast.Pow):
        if np.any(np.abs(np.asarray(right, dtype=float)) > 64):
            raise ExpressionError("exponents above 64 are not allowed")  # 10 ** 10 ** 10 would hang
        if isinstance(left, int) and isinstance(right, int) and right > 0 \
                and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:  # before computing it
            raise ExpressionError(f"a whole number above 2^{MAX_INT_BITS} is not allowed in a card")
    with np.errstate(all="raise"):
        try:
            return _sized(_BINOPS[type(op)](left, right))
        except (ZeroDivisionError, FloatingPointError, OverflowError) as e:
            raise ExpressionError(f"arithmetic error: {e}") from None


def _attribute(obj, attr: str):
    if isinstance(obj, _Namespace):
        if attr not in obj.members:
            raise ExpressionError(f"rooflib.{obj.name}.{attr} is not available to cards; "
                                  f"available: {', '.join(sorted(obj.members))}")
        return obj.members[attr]
    if not _is_rooflib_object(obj):
        raise ExpressionError(f"attribute .{attr} of a {type(obj).__name__} is not allowed "
                              "(only data of rooflib objects: hw.flops, m.active_params, step.time, ...)")
    try:
        value = getattr(obj, attr)
    except AttributeError:
        raise ExpressionError(f"{type(obj).__name__} has no attribute {attr!r}") from None
    if callable(value) and attr not in _METHODS:
        raise ExpressionError(f"method {type(obj).__name__}.{attr} is not allowed; "
                              f"allowed methods: {', '.join(sorted(_METHODS))}")
    return value


def _check_callable(func, allowed: frozenset) -> None:
    """Only what the whitelist holds, or an allowed method bound to a rooflib object, is called."""
    bound_ok = (getattr(func, "__name__", None) in _METHODS
                and _is_rooflib_object(getattr(func, "__self__", None)))
    if id(func) not in allowed and not bound_ok:
        raise ExpressionError(f"calling {getattr(func, '__name__', type(func).__name__)!r} is not allowed")


def _bind(params: dict) -> dict:
    """Parameter values as the expression sees them: catalog names become catalog objects."""
    import rooflib

    out = dict(params)
    for name, lookup in _LOOKUPS.items():
        if isinstance(out.get(name), str):
            try:
                out[name] = getattr(rooflib, lookup)(out[name])
            except LookupError as e:
                raise ExpressionError(str(e)) from None
    return out


def _interpret(tree: ast.Expression, params: dict):
    """Walk a tree that `parse_expression` accepted: only the node types it allows reach `run`."""
    env, errors, allowed = _environment()
    names = {**env, **_bind(params)}

    def run(node):
        if isinstance(node, ast.Constant):
            return _sized(node.value)
        if isinstance(node, ast.Name):
            if node.id in names:
                return names[node.id]
            if node.id in errors:
                raise ExpressionError(f"rooflib.{_NAMESPACES[node.id]} could not be imported: "
                                      f"{errors[node.id]}")
            known = ", ".join(sorted(k for k in names if not k.isupper()))
            raise ExpressionError(f"unknown name {node.id!r}; known: {known}")
        if isinstance(node, ast.BinOp):
            return _arithmetic(node.op, _number(run(node.left)), _number(run(node.right)))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](_number(run(node.operand)))
        if isinstance(node, ast.Attribute):
            return _attribute(run(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            obj, key = run(node.value), node.slice.value
            if not isinstance(obj, (dict, tuple, list, np.ndarray)):
                raise ExpressionError(f"a {type(obj).__name__} cannot be indexed")
            try:
                return obj[key]
            except (KeyError, IndexError, TypeError):
                raise ExpressionError(f"no entry {key!r}") from None
        func = run(node.func)  # an ast.Call: the last node type parse_expression lets through
        _check_callable(func, allowed)
        args, kwargs = [run(a) for a in node.args], {k.arg: run(k.value) for k in node.keywords}
        try:
            return _sized(func(*args, **kwargs))
        except ExpressionError:
            raise
        except Exception as e:  # rooflib says why: unknown name, impossible value, ...
            raise ExpressionError(f"{getattr(func, '__name__', 'call')}(...) failed: "
                                  f"{type(e).__name__}: {e}") from None

    return run(tree.body)


def evaluate(expr: str, params: dict | None = None) -> float:
    """Evaluate a card expression with parameter values `params`; return a finite float.

    Raises `ExpressionError` for anything not allowed or not computable (never a bare NaN, and a
    numpy RuntimeWarning becomes an error, so a card never shows a silently wrong number). It is
    the only exception: whatever else goes wrong on the way is turned into one.
    """
    tree = parse_expression(expr)
    if params is not None and not isinstance(params, dict):
        raise ExpressionError(f"params must be a mapping name -> value, got {type(params).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            result = _interpret(tree, params or {})
        except ExpressionError:
            raise
        except RuntimeWarning as e:
            raise ExpressionError(f"numeric problem: {e}") from None
        except Exception as e:  # RecursionError, MemoryError, a bug: still the documented exception
            raise ExpressionError(f"could not evaluate {expr!r}: {type(e).__name__}: {e}") from None
    if isinstance(result, (bool, np.bool_)):
        raise ExpressionError("the expression gave True/False, not a number")
    try:
        arr = np.asarray(result, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise ExpressionError(f"the expression gave a {type(result).__name__}, not a number") from None
    if arr.size != 1:
        raise ExpressionError(f"the expression gave {arr.size} numbers, not one")
    value = float(arr.reshape(()))
    if not math.isfinite(value):
        raise ExpressionError(f"the expression gave {value}")
    return value
