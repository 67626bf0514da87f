"""Grading a flashcard answer: what a learner typed, read as a number and judged by the card's tolerance.

    grade(ask(find("01-optimal-batch")), "5.4k")     # Grade(correct=True, outcome='good', ...)

What a learner types is only read as a number, never evaluated, and `grade` never raises: the drill
must survive any answer. An empty box or text that is not a number is not an answer at all: the
grade says so (``answered=False``), keeps the expected value hidden, and the drill records nothing. A concept card has no number to check, so the learner grades themselves
(again, good or easy: the outcomes the Leitner schedule records). Unlike the exercises' checks
(`rooflib.course.checks`), a flashcard shows the expected value.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass

import numpy as np

from .card_text import format_answer
from .cards import CardInstance
from .leitner import SELF_GRADES


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer. `outcome` is what the scheduler records: 'again', 'good' or 'easy';
    `answered` is False when there was nothing to judge (an empty box, a word), so nothing is
    recorded and the learner may try again."""

    correct: bool
    outcome: str
    message: str
    expected: float | None = None
    given: float | None = None
    answered: bool = True


_MULTIPLIERS = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKMGT]?)$")
_SELF_GRADED = {"again": "Again: back to box 1.", "good": "Good: up one box.", "easy": "Easy: up two boxes."}
# Ratios a slip produces: the answer's factor of 2 (FLOP per multiply-add, bytes per bf16) or of
# 1,000 (a unit prefix). Naming the slip teaches more than "wrong".
_SLIPS = ((2, "2x too large"), (0.5, "half the answer"), (1e3, "1,000x too large"),
          (1e-3, "1/1,000 of the answer"))


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
                outcome = SELF_GRADES.get(answer.strip().lower()) if isinstance(answer, str) else None
            if outcome is None:
                return Grade(False, "again", "Rate yourself: again, good or easy.", answered=False)
            return Grade(outcome != "again", outcome, _SELF_GRADED[outcome])
        expected = float(instance.answer)
        shown = format_answer(expected, card.unit)
        if answer is None or (isinstance(answer, str) and not answer.strip()):
            return Grade(False, "again", "Type your answer in the box first.", answered=False)
        given = parse_number(answer, card.unit)
        if given is None:
            return Grade(False, "again",
                         f"Not a number I can read: type digits such as 5411, 5.4k or 2.5e-3 "
                         f"(in {card.unit or 'plain numbers'}), then check again.", answered=False)
        if abs(given - expected) <= card.rel * abs(expected):
            return Grade(True, "good", f"Correct: {shown}.", expected, given)
        ratio = given / expected if expected else math.inf
        hint = ""
        if math.isfinite(ratio) and ratio > 0:
            for factor, text in _SLIPS:
                if abs(ratio / factor - 1) <= card.rel:
                    hint = f" (yours is {text}: a factor of 2 per FLOP or byte, or a unit prefix?)"
                    break
        return Grade(False, "again", f"Not quite: the answer is {shown}{hint}.", expected, given)
    except Exception as e:  # the drill must never crash on an answer
        return Grade(False, "again", f"Could not grade this answer ({type(e).__name__}).",
                     answered=False)
