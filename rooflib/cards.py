"""Flashcards: one deck per chapter, answers computed by rooflib, spaced repetition, Anki export.

    from rooflib import cards
    deck = cards.load_deck(1)                        # chapter 1's cards, from data/cards/01_*.yaml
    q = cards.ask(deck[0], seed=7)                   # the same question with another chip or model
    q.front, q.answer, q.unit
    cards.grade(q, "295")                            # Grade(correct=True, ...): never eval'd, never raises

A card is data (``rooflib/data/cards/NN_topic.yaml``): an ``id`` that never changes, a ``front``,
a ``back``, ``tags``, and for a numeric card the rooflib EXPRESSION that produces its answer, with
its ``unit`` and relative tolerance ``rel``. The expression is evaluated by a small interpreter of
its own (`evaluate`), never by ``eval``: it accepts numbers, strings, arithmetic, calls of
whitelisted rooflib functions and the public data attributes of rooflib's result objects. A card's
``params`` (``chip: H100 SXM``, ``model: DeepSeek-V3``, ``context: {default: 2048, choices: [...]}``)
fill ``{chip}``-style slots in its text, so the drill can re-ask it with other values and rooflib
recomputes the answer: a card cannot go stale.

Progress is scheduled with Leitner boxes (`review`): box 1 to 5, due again after 1, 2, 4, 8, 16
days; a right answer moves a card up one box (Easy: two), a wrong one back to box 1. The progress
file is written atomically (`atomic_write_text`): a crash mid-save leaves the previous file intact.
A corrupt file is kept as ``<name>.corrupt-<timestamp>`` and reported, never silently reset.

Exports: `anki_package` (.apkg via genanki, stable GUIDs so a re-import updates notes) and
`anki_tsv` (Anki's text import with file headers); `deck_markdown` renders a deck for the book.
"""
from __future__ import annotations

import ast
import csv
import datetime as dt
import hashlib
import html
import importlib
import io
import json
import math
import numbers
import operator
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, is_dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DECK_DIR = Path(__file__).resolve().parent / "data" / "cards"
DECK_NAME = "Roofline Economics"

#: Days until a card in box n is due again (Leitner). Box 1 = every day, box 5 = every 16 days.
INTERVALS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
BOXES = len(INTERVALS)

#: Catalog names a card's ``chip`` or ``model`` parameter is re-asked with when the card gives no
#: ``choices`` of its own. A draw that cannot run (a model that does not fit, a dtype the chip
#: lacks) is drawn again.
CHIP_POOL = ("H100 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X", "TPU v5p", "TPU v6e",
             "TPU7x Ironwood")
MODEL_POOL = ("Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B", "Mixtral 8x7B", "gpt-oss-120b",
              "Llama 3.1 405B", "Kimi K2", "Gemma 3 27B")
POOLS = {"chip": CHIP_POOL, "model": MODEL_POOL}
#: Parameters that stand for catalog entries: the expression sees the Hardware / Model object.
LOOKUPS = {"chip": "hardware", "model": "model"}

_CARD_KEYS = {"id", "front", "back", "tags", "chapter", "answer", "unit", "rel", "params",
              "require", "agrees_with", "note"}
_ID = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")


class CardError(ValueError):
    """A deck file that does not describe valid cards (the message names the file and the card)."""


class ExpressionError(ValueError):
    """A card expression that is not allowed, or that rooflib cannot evaluate."""


class CorruptProgressWarning(UserWarning):
    """The progress file could not be read; it was backed up and a fresh one started."""


# ================================================================================ the cards
@dataclass(frozen=True)
class Param:
    """A slot of a parametric card: its default (what the book shows) and what the drill may draw."""

    name: str
    default: object
    choices: tuple = ()

    @property
    def varies(self) -> bool:
        return len(self.choices) > 1


@dataclass(frozen=True)
class Card:
    """One flashcard. `answer` is a rooflib expression (None for a concept card)."""

    id: str
    chapter: int
    deck: str
    front: str
    back: str
    tags: tuple = ()
    answer: str | None = None
    unit: str = ""
    rel: float = 0.03
    params: tuple = ()            # Param objects, in the order the file lists them
    require: tuple = ()           # expressions that must be > 0 for a drawn set of params to count
    agrees_with: tuple = ()       # cross-checks against the chapter (see tests/test_cards.py)
    note: str = ""

    @property
    def numeric(self) -> bool:
        return self.answer is not None

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    @property
    def parametric(self) -> bool:
        return any(p.varies for p in self.params)

    @property
    def deck_name(self) -> str:
        """Anki's name of the chapter's sub-deck: 'Roofline Economics::01 Batching'."""
        return f"{DECK_NAME}::{self.chapter:02d} {self.deck}"

    def value(self) -> float:
        """The numeric answer at the default parameters (what the book and Anki show)."""
        return evaluate(self.answer, self.defaults)


def _param(card_id: str, name: str, spec) -> Param:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise CardError(f"{card_id}: parameter names must be identifiers, got {name!r}")
    if isinstance(spec, dict):
        unknown = set(spec) - {"default", "choices"}
        if unknown or "default" not in spec:
            raise CardError(f"{card_id}: parameter {name!r} takes 'default' and optional 'choices', "
                            f"got {sorted(spec)}")
        default, choices = spec["default"], spec.get("choices")
    else:
        default, choices = spec, None
    if choices is None:
        choices = POOLS.get(name, (default,))
    choices = tuple(choices)
    if default not in choices:
        choices = (default,) + choices
    for v in (default, *choices):
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise CardError(f"{card_id}: parameter {name!r} values must be text or numbers, got {v!r}")
    return Param(name, default, choices)


def _card(raw: dict, chapter: int, deck: str, where: str) -> Card:
    if not isinstance(raw, dict):
        raise CardError(f"{where}: every card must be a mapping, got {raw!r}")
    cid = raw.get("id")
    if not isinstance(cid, str) or not _ID.match(cid) or int(cid[:2]) != chapter:
        raise CardError(f"{where}: card id {cid!r} must look like '{chapter:02d}-some-name'")
    unknown = set(raw) - _CARD_KEYS
    if unknown:
        raise CardError(f"{where}: card {cid} has unknown keys {sorted(unknown)}")
    for key in ("front", "back"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise CardError(f"{where}: card {cid} needs a non-empty {key!r}")
    if raw.get("chapter", chapter) != chapter:
        raise CardError(f"{where}: card {cid} says chapter {raw['chapter']} in chapter {chapter}'s file")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and re.fullmatch(r"[\w-]+", t) for t in tags):
        raise CardError(f"{where}: card {cid}: tags must be a list of words (letters, digits, - or _)")
    answer = raw.get("answer")
    if answer is not None:
        if not isinstance(answer, str):
            raise CardError(f"{where}: card {cid}: answer must be a rooflib expression in a string")
        try:
            parse_expression(answer)
        except ExpressionError as e:
            raise CardError(f"{where}: card {cid}: {e}") from None
        if "unit" not in raw:
            raise CardError(f"{where}: numeric card {cid} needs a 'unit' (\"\" for a plain ratio)")
    rel = raw.get("rel", 0.03)
    if not isinstance(rel, (int, float)) or isinstance(rel, bool) or not 0 < rel < 1:
        raise CardError(f"{where}: card {cid}: rel must be a fraction in (0, 1), got {rel!r}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise CardError(f"{where}: card {cid}: params must be a mapping name -> default")
    require = raw.get("require") or []
    if isinstance(require, str):
        require = [require]
    for r in require:
        try:
            parse_expression(r)
        except ExpressionError as e:
            raise CardError(f"{where}: card {cid}: require: {e}") from None
    agrees = raw.get("agrees_with") or []
    if not isinstance(agrees, list) or not all(isinstance(a, dict) for a in agrees):
        raise CardError(f"{where}: card {cid}: agrees_with must be a list of mappings")
    return Card(id=cid, chapter=chapter, deck=deck, front=raw["front"].strip(), back=raw["back"].strip(),
                tags=tuple(tags), answer=answer, unit=str(raw.get("unit", "")), rel=float(rel),
                params=tuple(_param(cid, k, v) for k, v in params.items()), require=tuple(require),
                agrees_with=tuple(agrees), note=str(raw.get("note", "")))


def deck_files() -> dict[int, Path]:
    """{chapter: path} of the deck files shipped with rooflib (``data/cards/NN_topic.yaml``)."""
    out = {}
    for path in sorted(DECK_DIR.glob("[0-9][0-9]_*.yaml")):
        out[int(path.name[:2])] = path
    return out


def load_deck_file(path) -> list[Card]:
    """The cards of one deck file, validated (a `CardError` names the file and the card)."""
    import yaml  # a dependency of rooflib's card features only

    path = Path(path)
    where = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CardError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cards"), list):
        raise CardError(f"{where}: expected a mapping with 'chapter', 'deck' and a list of 'cards'")
    chapter, deck = data.get("chapter"), data.get("deck")
    if not isinstance(chapter, int) or not isinstance(deck, str):
        raise CardError(f"{where}: needs 'chapter: <number>' and 'deck: <title>'")
    cards = [_card(raw, chapter, deck, where) for raw in data["cards"]]
    seen = set()
    for c in cards:
        if c.id in seen:
            raise CardError(f"{where}: duplicate card id {c.id}")
        seen.add(c.id)
    return cards


@lru_cache(maxsize=None)
def _load_cached(path: str, mtime: float) -> tuple:
    return tuple(load_deck_file(path))


def load_deck(chapter: int) -> list[Card]:
    """The cards of chapter `chapter` (1-8)."""
    files = deck_files()
    if chapter not in files:
        raise LookupError(f"no deck for chapter {chapter!r}; decks exist for chapters {sorted(files)}")
    path = files[chapter]
    return list(_load_cached(str(path), path.stat().st_mtime))


def load_all(chapters=None) -> list[Card]:
    """Every card of every chapter (or of the given chapters), in chapter order."""
    wanted = sorted(deck_files()) if chapters is None else list(chapters)
    out = []
    for ch in wanted:
        out.extend(load_deck(ch))
    ids = [c.id for c in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise CardError(f"card ids must be unique across decks; repeated: {sorted(dup)}")
    return out


def find(card_id: str) -> Card:
    """The card with this id."""
    for c in load_all():
        if c.id == card_id:
            return c
    raise LookupError(f"no card {card_id!r}")


# ================================================================================ safe evaluator
# Functions a card may call. Top-level rooflib names are available directly; each chapter module
# is a namespace (`moe.experts_touched(...)`, `ctx.goldilocks_context(...)`: the context-length
# module is called `ctx` so that `context` stays free for a parameter). Functions that draw,
# time or allocate by their arguments (benchmarks, schedules, simulations) are left out.
_CORE = ("hardware", "model", "rack", "kv_bytes", "kv_bytes_per_token", "cost_per_token",
         "critical_intensity", "decode_step", "max_batch", "memory_turnover", "optimal_batch",
         "weight_bytes", "chinchilla_tokens", "inference_flops_per_token", "training_flops",
         "bytes_per_element")
_NAMESPACES = {"roofline": "roofline", "kv": "kv", "ctx": "context", "moe": "moe", "pipeline": "pipeline",
               "training": "training", "prices": "prices", "memory_trade": "memory_trade",
               "reality": "reality", "serving": "serving", "energy": "energy", "units": "units"}
_DENY = {"simulate_arrivals", "pipeline_schedule", "draw_schedule", "single_thread_blas", "median_time",
         "measure_matmul_flops", "measure_copy_bandwidth", "time_batched_matmul", "fit_roofline",
         "feistel_keys", "feistel_encrypt", "feistel_decrypt", "avalanche", "popcount32",
         "lifetime_optimum", "attention_designs", "redesign", "resize_layers", "read_price_sheet"}
#: Methods of rooflib objects a card may call (everything else on an object must be data).
_METHODS = {"flops_for", "dtypes", "expert_params", "attention_params", "mlp_params",
            "embedding_params", "loss", "compute_optimal", "isoloss_optimum", "tokens_for_loss",
            "params_for_loss", "min_params", "chip_hours"}
_MATH = {"min": min, "max": max, "abs": abs, "round": round, "sqrt": math.sqrt, "log": math.log,
         "log2": math.log2, "log10": math.log10, "exp": math.exp, "ceil": math.ceil,
         "floor": math.floor}
_CONSTANTS = {"HOUR": 3600.0, "DAY": 86_400.0, "GB": 1e9, "TB": 1e12, "MILLION": 1e6, "pi": math.pi}
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call,
          ast.keyword, ast.Attribute, ast.Subscript, *_BINOPS, *_UNARY)
MAX_EXPRESSION = 500


class _Namespace:
    """A rooflib module seen through a whitelist: its public functions and constants, nothing else."""

    def __init__(self, name: str, members: dict):
        self.name = name
        self.members = members

    def __repr__(self) -> str:
        return f"<rooflib.{self.name}: {', '.join(sorted(self.members))}>"


def _is_rooflib_object(obj) -> bool:
    """An instance (not a class, module or function) of a class defined in rooflib."""
    return (not isinstance(obj, type) and is_dataclass(obj)
            and type(obj).__module__.split(".")[0] == "rooflib")


def _exposed(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (numbers.Real, str)):
        return True
    if isinstance(value, (dict, tuple)) or _is_rooflib_object(value):
        return True
    return False


@lru_cache(maxsize=1)
def _environment() -> tuple[dict, dict]:
    """(names a card expression may use, {namespace: import error} for modules that failed)."""
    import rooflib

    env: dict = {name: getattr(rooflib, name) for name in _CORE}
    env.update(_MATH)
    env.update(_CONSTANTS)
    errors = {}
    for alias, module_name in _NAMESPACES.items():
        try:
            module = importlib.import_module(f"rooflib.{module_name}")
        except Exception as e:  # a chapter module being rewritten must not break the other cards
            errors[alias] = f"{type(e).__name__}: {e}"
            continue
        members = {}
        for name, value in vars(module).items():
            if name.startswith("_") or name in _DENY:
                continue
            own = getattr(value, "__module__", "") == module.__name__
            if callable(value) and not isinstance(value, type) and own:
                members[name] = value
            elif name.isupper() and _exposed(value):
                members[name] = value
        env[alias] = _Namespace(module_name, members)
    return env, errors


@lru_cache(maxsize=1)
def _callables() -> frozenset:
    env, _ = _environment()
    allowed = {id(v) for k, v in env.items() if callable(v) and not isinstance(v, _Namespace)}
    for ns in env.values():
        if isinstance(ns, _Namespace):
            allowed |= {id(v) for v in ns.members.values() if callable(v) and not isinstance(v, type)}
    return frozenset(allowed)


def parse_expression(expr: str) -> ast.Expression:
    """Parse a card expression and check that it uses only allowed syntax (no evaluation yet).

    Allowed: numbers, strings, + - * / // % **, calls with positional and keyword arguments,
    names, attribute access to public names, and indexing by a constant. Everything else (lambdas,
    comprehensions, comparisons, f-strings, names or attributes starting with '_', ...) raises
    `ExpressionError`.
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression must be text, got {type(expr).__name__}")
    if len(expr) > MAX_EXPRESSION:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"not a valid expression: {expr!r} ({e.msg})") from None
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


def _number(x, what: str):
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (numbers.Real, np.ndarray)):
        raise ExpressionError(f"{what} must be a number, got {type(x).__name__}")
    return x


class _Interpreter:
    def __init__(self, names: dict):
        self.env, self.errors = _environment()
        self.names = {**self.env, **names}
        self.allowed = _callables()

    def run(self, node):
        method = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _Expression(self, node):
        return self.run(node.body)

    def _Constant(self, node):
        return node.value

    def _Name(self, node):
        if node.id in self.names:
            return self.names[node.id]
        if node.id in self.errors:
            raise ExpressionError(f"rooflib.{_NAMESPACES[node.id]} could not be imported: "
                                  f"{self.errors[node.id]}")
        known = sorted(k for k in self.names if not k.isupper())
        raise ExpressionError(f"unknown name {node.id!r}; known: {', '.join(known)}")

    def _BinOp(self, node):
        left = _number(self.run(node.left), "an operand")
        right = _number(self.run(node.right), "an operand")
        if isinstance(node.op, ast.Pow) and np.any(np.abs(np.asarray(right, dtype=float)) > 64):
            raise ExpressionError("exponents above 64 are not allowed")
        with np.errstate(all="raise"):
            try:
                return _BINOPS[type(node.op)](left, right)
            except (ZeroDivisionError, FloatingPointError, OverflowError) as e:
                raise ExpressionError(f"arithmetic error: {e}") from None

    def _UnaryOp(self, node):
        return _UNARY[type(node.op)](_number(self.run(node.operand), "an operand"))

    def _Attribute(self, node):
        obj = self.run(node.value)
        if isinstance(obj, _Namespace):
            if node.attr not in obj.members:
                raise ExpressionError(f"rooflib.{obj.name}.{node.attr} is not available to cards; "
                                      f"available: {', '.join(sorted(obj.members))}")
            return obj.members[node.attr]
        if not _is_rooflib_object(obj):
            raise ExpressionError(f"attribute .{node.attr} of a {type(obj).__name__} is not allowed "
                                  "(only data of rooflib objects: hw.flops, m.active_params, step.time, ...)")
        try:
            value = getattr(obj, node.attr)
        except AttributeError:
            raise ExpressionError(f"{type(obj).__name__} has no attribute {node.attr!r}") from None
        if callable(value) and node.attr not in _METHODS:
            raise ExpressionError(f"method {type(obj).__name__}.{node.attr} is not allowed; "
                                  f"allowed methods: {', '.join(sorted(_METHODS))}")
        return value

    def _Subscript(self, node):
        obj = self.run(node.value)
        key = node.slice.value
        if not isinstance(obj, (dict, tuple, list, np.ndarray)):
            raise ExpressionError(f"a {type(obj).__name__} cannot be indexed")
        try:
            return obj[key]
        except (KeyError, IndexError, TypeError):
            raise ExpressionError(f"no entry {key!r}") from None

    def _Call(self, node):
        func = self.run(node.func)
        bound_ok = (getattr(func, "__name__", None) in _METHODS
                    and _is_rooflib_object(getattr(func, "__self__", None)))
        if id(func) not in self.allowed and not bound_ok:
            name = getattr(func, "__name__", type(func).__name__)
            raise ExpressionError(f"calling {name!r} is not allowed")
        args = [self.run(a) for a in node.args]
        kwargs = {k.arg: self.run(k.value) for k in node.keywords}
        try:
            return func(*args, **kwargs)
        except ExpressionError:
            raise
        except Exception as e:  # rooflib says why: unknown name, impossible value, ...
            raise ExpressionError(f"{getattr(func, '__name__', 'call')}(...) failed: "
                                  f"{type(e).__name__}: {e}") from None


def _bind(params: dict) -> dict:
    """Parameter values as the expression sees them: catalog names become catalog objects."""
    import rooflib

    out = {}
    for name, value in params.items():
        if name in LOOKUPS and isinstance(value, str):
            try:
                value = getattr(rooflib, LOOKUPS[name])(value)
            except LookupError as e:
                raise ExpressionError(str(e)) from None
        out[name] = value
    return out


def evaluate(expr: str, params: dict | None = None) -> float:
    """Evaluate a card expression with parameter values `params`; return a finite float.

    Raises `ExpressionError` for anything not allowed or not computable (never a bare NaN).
    """
    tree = parse_expression(expr)
    result = evaluate_raw(tree, params)
    if isinstance(result, (bool, np.bool_)):
        raise ExpressionError("the expression gave True/False, not a number")
    try:
        arr = np.asarray(result, dtype=float)
    except (TypeError, ValueError):
        raise ExpressionError(f"the expression gave a {type(result).__name__}, not a number") from None
    if arr.size != 1:
        raise ExpressionError(f"the expression gave {arr.size} numbers, not one")
    value = float(arr.reshape(()))
    if not math.isfinite(value):
        raise ExpressionError(f"the expression gave {value}")
    return value


def evaluate_raw(tree_or_expr, params: dict | None = None):
    """Evaluate without converting the result (tests and debugging)."""
    tree = parse_expression(tree_or_expr) if isinstance(tree_or_expr, str) else tree_or_expr
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return _Interpreter(_bind(params or {})).run(tree)
        except RuntimeWarning as e:
            raise ExpressionError(f"numeric problem: {e}") from None


# ================================================================================ asking a card
@dataclass(frozen=True)
class CardInstance:
    """A card as asked: its text with the slots filled, and (numeric cards) the computed answer."""

    card: Card
    params: dict
    front: str
    back: str
    answer: float | None
    seed: object = None

    @property
    def unit(self) -> str:
        return self.card.unit

    @property
    def numeric(self) -> bool:
        return self.answer is not None

    @property
    def answer_text(self) -> str:
        return format_answer(self.answer, self.card.unit) if self.numeric else ""


_SLOT = re.compile(r"(?<![\\A-Za-z_^])\{([A-Za-z_]\w*)(?::([^{}]*))?\}")


def _show_value(value, spec: str | None) -> str:
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):  # a format that does not fit this value: plain text
            return str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:g}"
    return str(value)


def render(text: str, params: dict) -> str:
    """Fill ``{name}`` and ``{name:format}`` slots with parameter values; other braces are left alone
    (LaTeX such as ``\\text{active}`` or ``\\frac{a}{b}`` is safe)."""
    def sub(m):
        name, spec = m.group(1), m.group(2)
        if name not in params:
            return m.group(0)
        return _show_value(params[name], spec)
    return _SLOT.sub(sub, text)


def _seed_int(card_id: str, seed) -> int:
    """A stable 64-bit seed from (card id, seed): SHA-256, not Python's salted hash()."""
    digest = hashlib.sha256(f"{card_id}\x00{seed}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def _valid(card: Card, params: dict):
    """The answer at these parameters, or None if rooflib cannot compute a positive one (or a
    `require` expression of the card is not positive: a model that does not fit, ...)."""
    try:
        for r in card.require:
            if not evaluate(r, params) > 0:
                return None
        v = evaluate(card.answer, params) if card.numeric else 1.0
    except ExpressionError:
        return None
    return v if v > 0 else None


MAX_DRAWS = 40


def ask(card: Card, seed=None) -> CardInstance:
    """The card to ask: at its default parameters (seed None), or with others drawn from `seed`.

    The draw is a numpy Generator seeded by SHA-256 of (card id, seed), so the same seed always
    asks the same question on every machine. A draw rooflib cannot compute (a model too big for
    the chips, a dtype the chip lacks) is replaced by the next one; after `MAX_DRAWS` failures the
    defaults are used.
    """
    params = card.defaults
    if seed is not None and card.parametric:
        rng = np.random.default_rng(_seed_int(card.id, seed))
        for _ in range(MAX_DRAWS):
            drawn = {p.name: p.choices[int(rng.integers(len(p.choices)))] for p in card.params}
            if _valid(card, drawn) is not None:
                params = drawn
                break
    answer = evaluate(card.answer, params) if card.numeric else None
    return CardInstance(card=card, params=dict(params), front=render(card.front, params),
                        back=render(card.back, params), answer=answer, seed=seed)


# ================================================================================ grading
@dataclass(frozen=True)
class Grade:
    """The verdict on one answer. `outcome` is what the scheduler records: 'again', 'good' or 'easy'."""

    correct: bool
    outcome: str
    message: str
    expected: float | None = None
    given: float | None = None


_MULTIPLIERS = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKMGT]?)$")
SELF_GRADES = {"again": "again", "wrong": "again", "no": "again", "good": "good", "right": "good",
               "yes": "good", "easy": "easy"}


def parse_number(answer, unit: str = ""):
    """A float from what a learner typed, or None. Never evaluates anything.

    Accepts numbers, and text such as '5411', '5,411', '5.4k', '2.5e-3', '23.9 ms' (when the card's
    unit is 'ms'), '1.4 T'. Text that is not a plain number gives None.
    """
    if isinstance(answer, (bool, np.bool_)) or answer is None:
        return None
    if isinstance(answer, (numbers.Real, np.number)):
        value = float(answer)
        return value if math.isfinite(value) else None
    if not isinstance(answer, str) or len(answer) > 100:
        return None
    text = answer.strip().replace(",", "").replace("_", "").replace("\u202f", "").replace("\u2009", "")
    text = text.replace("\u2212", "-")
    if unit.startswith("$"):
        text = text.lstrip("$").strip()
        unit = unit[1:].strip()
    if unit and text.endswith(unit):
        text = text[: -len(unit)].strip()
    elif unit == "×" and text[-1:] in ("x", "X"):  # '124x' for a ratio
        text = text[:-1].strip()
    text = text.replace(" ", "") if re.fullmatch(r"[\d.eE+\- ]+[kKMGT]?", text) else text
    m = _NUMBER.match(text)
    if not m:
        return None
    value = float(m.group(1)) * _MULTIPLIERS[m.group(2)]
    return value if math.isfinite(value) else None


def grade(instance: CardInstance, answer) -> Grade:
    """Grade an answer to a card instance. Never raises, never evaluates the answer.

    Numeric card: correct when |given - expected| <= rel x |expected| (the card's tolerance).
    Concept card: `answer` is the learner's own verdict, 'again', 'good' or 'easy' (or True/False).
    """
    try:
        card = instance.card
        if not instance.numeric:
            if isinstance(answer, (bool, np.bool_)):
                outcome = "good" if answer else "again"
            else:
                outcome = SELF_GRADES.get(str(answer).strip().lower()) if isinstance(answer, str) else None
            if outcome is None:
                return Grade(False, "again", "Rate yourself: again, good or easy.")
            return Grade(outcome != "again", outcome, {"again": "Again: back to box 1.",
                                                       "good": "Good: up one box.",
                                                       "easy": "Easy: up two boxes."}[outcome])
        expected = float(instance.answer)
        shown = format_answer(expected, card.unit)
        given = parse_number(answer, card.unit)
        if given is None:
            return Grade(False, "again",
                         f"Not a number I can read: type digits such as 5411, 5.4k or 2.5e-3 "
                         f"(in {card.unit or 'plain numbers'}). The answer is {shown}.", expected, None)
        if abs(given - expected) <= card.rel * abs(expected):
            return Grade(True, "good", f"Correct: {shown}.", expected, given)
        ratio = given / expected if expected else math.inf
        hint = ""
        if math.isfinite(ratio) and ratio > 0:
            for factor, text in ((2, "2x too large"), (0.5, "half the answer"), (1e3, "1,000x too large"),
                                 (1e-3, "1/1,000 of the answer")):
                if abs(ratio / factor - 1) <= card.rel:
                    hint = f" (yours is {text}: a factor of 2 per FLOP or byte, or a unit prefix?)"
                    break
        return Grade(False, "again", f"Not quite: the answer is {shown}{hint}.", expected, given)
    except Exception as e:  # the drill must never crash on an answer
        return Grade(False, "again", f"Could not grade this answer ({type(e).__name__}).")


# ================================================================================ formatting
def format_number(x: float) -> str:
    """5411.2 -> '5,411'; 23.88 -> '23.9'; 0.3463 -> '0.346'; 3.79e25 -> '3.79e25'."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    a = abs(x)
    if a >= 1e7 or a < 1e-3:
        mantissa, exponent = f"{x:.3g}".split("e") if "e" in f"{x:.3g}" else (f"{x:.3g}", "0")
        return f"{mantissa}e{int(exponent)}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def format_answer(value, unit: str = "") -> str:
    """The answer with its unit: '5,411 sequences', '23.9 ms', '0.346'."""
    if value is None:
        return ""
    text = format_number(value)
    if not unit:
        return text
    if unit.startswith("$"):  # '$ per million tokens' -> '$23.5 per million tokens'
        return f"${text}{unit[1:]}"
    return f"{text}{unit}" if unit in ("%", "×") else f"{text} {unit}"


# ================================================================================ Leitner schedule
def _as_date(day) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if isinstance(day, str):
        return dt.date.fromisoformat(day)
    raise TypeError(f"a date is needed, got {day!r}")


def review(entry: dict | None, outcome: str, today) -> dict:
    """The card's new schedule after one review (pure function; `entry` None = a new card).

    A new card starts in box 1. Right ('good') -> next box; 'easy' -> two boxes up; wrong
    ('again') -> box 1; never above box 5. Due again after INTERVALS[box] days: 1, 2, 4, 8, 16.
    """
    if isinstance(outcome, str):
        outcome = SELF_GRADES.get(outcome.strip().lower(), outcome)
    else:
        outcome = "good" if outcome else "again"
    if outcome not in ("again", "good", "easy"):
        raise ValueError(f"outcome must be 'again', 'good' or 'easy', got {outcome!r}")
    today = _as_date(today)
    old = dict(entry or {})
    box = min(BOXES, max(1, int(old.get("box", 1))))
    if outcome == "again":
        new_box = 1
    else:
        new_box = min(BOXES, box + (2 if outcome == "easy" else 1))
    return {"box": new_box, "due": (today + dt.timedelta(days=INTERVALS[new_box])).isoformat(),
            "last": today.isoformat(), "reviews": int(old.get("reviews", 0)) + 1,
            "lapses": int(old.get("lapses", 0)) + (1 if outcome == "again" and entry else 0)}


def is_due(entry: dict | None, today) -> bool:
    """A card is due when it has never been reviewed or its due date has come."""
    if not entry:
        return True
    return _as_date(entry["due"]) <= _as_date(today)


# ================================================================================ progress file
PROGRESS_FORMAT = "roofline-economics-flashcards"
PROGRESS_VERSION = 1
DEFAULT_PROGRESS = Path("~") / ".roofline_progress.json"


def default_progress_path() -> Path:
    """``$ROOFLINE_PROGRESS`` if set, else ``~/.roofline_progress.json``."""
    return Path(os.environ.get("ROOFLINE_PROGRESS") or DEFAULT_PROGRESS).expanduser()


def _shared_mode() -> int:
    """rw for everyone the umask allows (what a plain open() would give a new file)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path, text: str, mode: int | None = None) -> None:
    """Write `text` to `path` so that the file is either the old one or the new one, never half.

    A temporary file in the same directory is written, flushed and fsync'ed, then moved over the
    target with os.replace (atomic on POSIX and Windows); the directory is fsync'ed where the OS
    allows. If anything fails, the temporary file is removed and the old file is untouched.
    The new file is private to its owner (0600) unless `mode` says otherwise.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible on Windows
        dfd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _check_progress(data) -> dict:
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        raise ValueError("not a flashcard progress file")
    if data.get("version") != PROGRESS_VERSION:
        raise ValueError(f"unknown progress file version {data.get('version')!r}")
    cards = data.get("cards")
    if not isinstance(cards, dict):
        raise ValueError("'cards' must be a mapping")
    for cid, e in cards.items():
        if not isinstance(e, dict) or not isinstance(e.get("box"), int) or not 1 <= e["box"] <= BOXES:
            raise ValueError(f"bad entry for card {cid!r}")
        dt.date.fromisoformat(e["due"])
    return cards


class Progress:
    """A learner's Leitner boxes, kept in a JSON file.

    A missing file starts fresh. A file that cannot be read (bad JSON, wrong format) is renamed to
    ``<name>.corrupt-<timestamp>``, a `CorruptProgressWarning` is issued and `notice` says where the
    old file went; the learner starts fresh but nothing is deleted. Every `record` saves atomically.
    """

    def __init__(self, path=None, *, now=None):
        self.path = Path(path).expanduser() if path is not None else default_progress_path()
        self.cards: dict[str, dict] = {}
        self.notice = ""
        self.backup: Path | None = None
        self._now = now or dt.datetime.now
        self.load()

    def load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self.cards = {}
            return
        try:
            self.cards = _check_progress(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            self.backup = self._back_up()
            self.cards = {}
            self.notice = (f"Your progress file {self.path.name} could not be read ({type(e).__name__}: "
                           f"{str(e)[:80]}). It was kept as {self.backup.name} and a new one started.")
            warnings.warn(self.notice, CorruptProgressWarning, stacklevel=3)

    def _back_up(self) -> Path:
        stamp = self._now().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        os.replace(self.path, target)
        return target

    def to_json(self) -> str:
        data = {"format": PROGRESS_FORMAT, "version": PROGRESS_VERSION,
                "cards": {k: self.cards[k] for k in sorted(self.cards)}}
        return json.dumps(data, indent=1, sort_keys=False) + "\n"

    def save(self) -> None:
        atomic_write_text(self.path, self.to_json())

    def record(self, card_id: str, outcome: str, today) -> dict:
        """Schedule one review and save at once. A failed save leaves memory and file as they were."""
        before = self.cards.get(card_id)
        self.cards[card_id] = review(before, outcome, today)
        try:
            self.save()
        except BaseException:
            if before is None:
                self.cards.pop(card_id, None)
            else:
                self.cards[card_id] = before
            raise
        return self.cards[card_id]

    def entry(self, card_id: str) -> dict | None:
        return self.cards.get(card_id)

    def box(self, card_id: str) -> int:
        """0 for a card never reviewed, else its Leitner box."""
        e = self.cards.get(card_id)
        return e["box"] if e else 0

    def due(self, cards, today, new_per_day: int | None = None) -> list[Card]:
        """Cards due `today`: reviews first (most overdue, then lowest box), then new cards in deck order."""
        today = _as_date(today)
        old = [c for c in cards if c.id in self.cards and is_due(self.cards[c.id], today)]
        old.sort(key=lambda c: (self.cards[c.id]["due"], self.cards[c.id]["box"]))
        new = [c for c in cards if c.id not in self.cards]
        if new_per_day is not None:
            new = new[:max(0, int(new_per_day))]
        return old + new

    def next_due(self, cards) -> dt.date | None:
        dates = [_as_date(self.cards[c.id]["due"]) for c in cards if c.id in self.cards]
        return min(dates) if dates else None

    def boxes(self, cards) -> dict[int, int]:
        """{box: how many of `cards` are in it}, box 0 = never reviewed."""
        out = {b: 0 for b in range(BOXES + 1)}
        for c in cards:
            out[self.box(c.id)] += 1
        return out


# ================================================================================ text for outputs
def to_markdown(text: str) -> str:
    r"""Card text (math in \( \) and \[ \]) as MyST Markdown: $...$ / $$...$$, literal $ escaped."""
    parts, pos = [], 0
    pattern = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
    for m in pattern.finditer(text):
        parts.append(text[pos:m.start()].replace("$", r"\$"))
        parts.append(f"${m.group(1).strip()}$" if m.group(1) is not None else f"$${m.group(2).strip()}$$")
        pos = m.end()
    parts.append(text[pos:].replace("$", r"\$"))
    return "".join(parts)


def to_html(text: str) -> str:
    r"""Card text as HTML for Anki and the drill: <, >, & escaped, paragraphs kept, math left in \( \)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip())]
    return "<br><br>".join(html.escape(" ".join(p.split()), quote=False) for p in paragraphs)


def to_widget_html(text: str) -> str:
    """HTML for an ipywidgets HTMLMath: as `to_html`, with literal $ escaped so MathJax leaves it."""
    return to_html(text).replace("$", r"\$")


def _param_note(card: Card) -> str:
    varying = [p for p in card.params if p.varies]
    if not varying:
        return ""
    names = ", ".join(f"{p.name} ({len(p.choices)} choices)" for p in varying)
    return f"Re-asked in the drill with other values of: {names}."


def deck_markdown(chapter: int) -> str:
    """One chapter's deck as MyST Markdown for the book page: each front, then a collapsed answer.

    Numeric answers are computed by rooflib at the default parameters. The answer sits in a
    `<details>` block, which folds in any browser with no JavaScript and no kernel.
    """
    blocks = []
    for i, card in enumerate(load_deck(chapter), 1):
        q = ask(card)
        lines = [f"**{chapter}.{i}** {to_markdown(' '.join(q.front.split()))}", "",
                 "<details>", "<summary>Answer</summary>", ""]
        if q.numeric:
            lines += [f"**{to_markdown(q.answer_text)}**", ""]
        for para in re.split(r"\n\s*\n", q.back.strip()):
            lines += [to_markdown(" ".join(para.split())), ""]
        note = _param_note(card)
        extra = f"*Card `{card.id}`.{' ' + note if note else ''}*"
        lines += [extra, "", "</details>", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def show_deck(chapter: int):
    """The deck as an IPython Markdown object (the book page's cells call this)."""
    from IPython.display import Markdown

    return Markdown(deck_markdown(chapter))


# ================================================================================ Anki
ANKI_MODEL_ID = 1_607_392_641          # fixed forever: Anki matches note types by this id
ANKI_DECK_IDS = {ch: 2_059_400_100 + ch for ch in range(1, 100)}   # one sub-deck per chapter
ANKI_TIMESTAMP = 1_767_225_600.0       # 2026-01-01T00:00:00Z: fixed, so builds are reproducible
ANKI_CSS = """.card { font-family: system-ui, sans-serif; font-size: 20px; text-align: left;
  color: #222; background: #fff; max-width: 40em; margin: 0 auto; }
.answer { font-weight: bold; }
.back { margin-top: 0.6em; }
.meta { color: #777; font-size: 14px; margin-top: 1em; }"""


def anki_fields(card: Card) -> tuple[str, str]:
    """(Front, Back) HTML of a card at its default parameters, as Anki shows them."""
    q = ask(card)
    front = to_html(q.front)
    back_parts = []
    if q.numeric:
        back_parts.append(f'<div class="answer">{html.escape(q.answer_text, quote=False)}</div>')
    back_parts.append(f'<div class="back">{to_html(q.back)}</div>')
    note = _param_note(card)
    meta = f"{DECK_NAME}, chapter {card.chapter}. {note}".strip()
    back_parts.append(f'<div class="meta">{html.escape(meta, quote=False)}</div>')
    return front, "".join(back_parts)


def anki_tags(card: Card) -> list[str]:
    return ["roofline-economics", f"ch{card.chapter:02d}", *card.tags]


def anki_guid(card: Card) -> str:
    """Stable note GUID: a hash of the card id only, so edits to the text update the same note."""
    import genanki

    return genanki.guid_for(card.id)


def anki_package(cards, path, timestamp: float = ANKI_TIMESTAMP) -> Path:
    """Write an .apkg with one sub-deck per chapter ('Roofline Economics::01 Batching', ...)."""
    import genanki

    model = genanki.Model(
        ANKI_MODEL_ID, f"{DECK_NAME} (basic)",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}",
                    "afmt": '{{FrontSide}}<hr id="answer">{{Back}}'}],
        css=ANKI_CSS)
    decks: dict[int, object] = {}
    for card in cards:
        if card.chapter not in decks:
            decks[card.chapter] = genanki.Deck(ANKI_DECK_IDS[card.chapter], card.deck_name)
        front, back = anki_fields(card)
        decks[card.chapter].add_note(genanki.Note(model=model, fields=[front, back],
                                                  tags=anki_tags(card), guid=anki_guid(card)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        genanki.Package([decks[ch] for ch in sorted(decks)]).write_to_file(tmp, timestamp=timestamp)
        os.chmod(tmp, _shared_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


TSV_COLUMNS = ("GUID", "Front", "Back", "Tags", "Deck")


def _tsv_field(text: str) -> str:
    """One field of Anki's tab-separated import: quoted when it holds a tab, newline or quote, or
    starts with '#' (which Anki would read as a comment line); embedded quotes doubled."""
    text = text.replace("\r\n", "\n")
    if any(ch in text for ch in '\t\n"') or text.startswith("#"):
        return '"' + text.replace('"', '""') + '"'
    return text


def anki_tsv_text(cards) -> str:
    """The TSV text: Anki's file headers, then one note per line."""
    head = ["#separator:tab", "#html:true", "#notetype:Basic", f"#deck:{DECK_NAME}",
            "#columns:" + "\t".join(TSV_COLUMNS), "#guid column:1", "#tags column:4",
            "#deck column:5"]
    rows = []
    for card in cards:
        front, back = anki_fields(card)
        values = [anki_guid(card), front, back, " ".join(anki_tags(card)), card.deck_name]
        rows.append("\t".join(_tsv_field(v) for v in values))
    return "\n".join(head + rows) + "\n"


def anki_tsv(cards, path) -> Path:
    """Write the TSV for Anki's File > Import (Anki 2.1.55 or later reads the headers)."""
    path = Path(path)
    atomic_write_text(path, anki_tsv_text(cards), mode=_shared_mode())
    return path


def read_tsv(path) -> tuple[dict, list[list[str]]]:
    """(headers, rows) of a TSV written by `anki_tsv`; the inverse of its quoting (for tests)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    headers, body = {}, []
    for i, line in enumerate(lines):
        if line.startswith("#") and ":" in line:
            key, _, value = line[1:].rstrip("\n").partition(":")
            headers[key] = value
        else:
            body = lines[i:]
            break
    rows = list(csv.reader(io.StringIO("".join(body)), delimiter="\t", quotechar='"'))
    return headers, rows


__all__ = ["Card", "CardInstance", "Grade", "Param", "Progress", "CardError", "ExpressionError",
           "CorruptProgressWarning", "INTERVALS", "BOXES", "load_deck", "load_all", "deck_files",
           "load_deck_file", "find", "parse_expression", "evaluate", "ask", "grade", "parse_number",
           "render", "review", "is_due", "atomic_write_text", "default_progress_path", "format_answer",
           "format_number", "deck_markdown", "show_deck", "anki_package", "anki_tsv", "anki_tsv_text",
           "anki_fields", "anki_guid", "read_tsv", "to_markdown", "to_html"]
