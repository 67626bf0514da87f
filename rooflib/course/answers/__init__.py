"""Answer keys for the exercises: a tiny registry, one module per chapter.

An entry says how to COMPUTE the answer with rooflib, never what the answer is, so a corrected
catalog number corrects every key at once. Chapter files register their entries:

    register("01.1", lambda v: critical_intensity(v["chip"]), unit="FLOP/byte",
             variants={"chip": ["H100 SXM", "B200", ...]}, question="...")

Keys are "NN.x" (chapter NN, exercise x, optional sub-part letter: "01.6a"). The chapter module
`ch01.py` is imported the first time a key starting with "01." is asked for, so a new chapter adds
one file here and touches nothing else.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable

_KEY = re.compile(r"^(\d{2})\.(\d+)([a-z]?)$")


@dataclass(frozen=True)
class Entry:
    """One checkable answer.

    expected: function of the variant dict (or of nothing when `variants` is None) -> the answer.
    rel: relative tolerance. unit: SI unit of the answer, for messages ("s", "$", "" for a ratio).
    hints: (factor, message) pairs for mistakes particular to this exercise, where factor =
        wrong answer / right answer; or a function of the variant dict returning such pairs.
    variants: per-student choices, {name: [choices...]} (drawn independently) or
        [{name: value, ...}, ...] (one whole setup drawn); the FIRST choice is the book's default.
    question: one or two sentences saying what is asked (shown by `checks.explain`).
    """

    key: str
    expected: Callable
    rel: float = 0.02
    unit: str = ""
    hints: tuple | Callable = ()
    variants: dict | list | None = None
    question: str = ""


_ENTRIES: dict[str, Entry] = {}
_WRITTEN: dict[str, str] = {}


def parse_key(key) -> tuple[str, str] | None:
    """'01.6a' -> ('01', '01.6'): the chapter and the exercise the sub-part belongs to."""
    m = _KEY.match(key) if isinstance(key, str) else None
    return (m.group(1), f"{m.group(1)}.{m.group(2)}") if m else None


def register(key: str, expected: Callable, *, rel: float = 0.02, unit: str = "", hints=(),
             variants=None, question: str = "") -> Entry:
    """Add an answer-key entry (see `Entry`). Sub-parts of one exercise share its variant."""
    if parse_key(key) is None:
        raise ValueError(f"answer keys look like '01.3' or '01.6a', got {key!r}")
    entry = Entry(key, expected, rel, unit, hints, variants, question)
    _ENTRIES[key] = entry
    return entry


def written(key: str, question: str) -> None:
    """Record that exercise `key` ('01.7') is answered in words: there is nothing to check, and
    `checks.check` / `checks.explain` say so instead of "there is no exercise 7"."""
    if parse_key(key) is None or parse_key(key)[1] != key:
        raise ValueError(f"written exercises are keyed like '01.7', got {key!r}")
    _WRITTEN[key] = question


def written_question(key) -> str | None:
    """The question of a written exercise ('01.7'), or None if `key` is not one."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    _load(parsed[0])
    return _WRITTEN.get(parsed[1])


def _order(key: str):
    """Natural order: 01.2 < 01.10, and 01.6 < 01.6a < 01.6b."""
    m = _KEY.match(key)
    return int(m.group(1)), int(m.group(2)), m.group(3)


def _load(chapter: str) -> None:
    try:
        importlib.import_module(f"{__name__}.ch{chapter}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.ch{chapter}":
            raise


def get(key) -> Entry | None:
    """The entry for `key` ('01.3'), loading its chapter on first use; None if there is none."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    if key not in _ENTRIES:
        _load(parsed[0])
    return _ENTRIES.get(key)


def for_exercise(key) -> list[Entry]:
    """Every entry of one exercise: '01.6' -> the entries '01.6a', '01.6b' (or '01.6' itself)."""
    parsed = parse_key(key)
    if parsed is None:
        return []
    _load(parsed[0])
    return [_ENTRIES[k] for k in sorted(_ENTRIES, key=_order) if parse_key(k)[1] == parsed[1]]


def keys(chapter: str) -> list[str]:
    """All registered keys of a chapter ('01'), sorted."""
    _load(chapter)
    return sorted((k for k in _ENTRIES if k.startswith(f"{chapter}.")), key=_order)
