"""Answer checks for the exercises: feedback that teaches, never the answer, never a crash.

    from rooflib.course.checks import check, explain
    explain("01.3")                       # what is asked, in which unit
    check("01.3", floor, student="ada")   # prints feedback, returns True or False

A wrong answer is compared with the right one by their RATIO. The classic slips each leave a
fingerprint there: 2 (FLOPs per multiply-add, bytes per bf16 weight), 8 (bits vs bytes), 1.074
(GiB vs GB), the model's total/active (total vs active parameters), the number of chips (per chip
vs all chips), powers of 1000 (ms vs s, T vs G). A recognised ratio gets a targeted hint; the
expected value is never printed. An answer that is right for the book's numbers but not for the
student's own says so. Every message but "Correct" starts with the exercise's key, so a cell
with two checks says which one is missing. The student's answer is only ever converted with
float(): never eval'd.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import answers
from ..models import model
from .variants import variant

GIB_PER_GB = 2**30 / 1e9

TWO = ("Check the factors of 2: a multiply-add is 2 FLOPs per parameter, and a bf16 number "
       "takes 2 bytes (fp8: 1).")
GIB = ("GB vs GiB? Spec sheets and rooflib use decimal units (1 GB = 10^9 bytes); "
       "1 GiB = 2^30 bytes is 7.4% more.")
SPARSITY = ("Total vs active parameters? Arithmetic is done only by the ACTIVE parameters (the "
            "experts a token uses); every weight, the TOTAL, must be read from memory.")
CHIPS = ("Per chip vs all chips? Several chips add up their FLOP/s, bandwidth and memory, and "
         "each one is paid for.")
BOOK = ("That is the answer for the book's numbers, not for your own. Set STUDENT_ID at the top "
        "of the notebook, re-run the exercise's cell (it prints your setup: {setup}) and compute "
        "again.")
BITS = ("Bits vs bytes? Links and networks are quoted in bits per second: 400 Gb/s is 50 GB/s "
        "(8 bits to a byte).")
PREFIX = ("A unit prefix? The answer is wanted in {unit}, with no prefix: 1 ms = 0.001 s, "
          "1 TB/s = 10^12 B/s, 1 GB = 10^9 B.")


def _name(x) -> str:
    try:
        return type(x).__name__
    except Exception:
        return "object"


def _show(key) -> str:
    """repr(key), shortened, and never raising (a key can be any object a student typed)."""
    try:
        text = repr(key)
    except Exception:
        return "that key"
    return text if len(text) <= 40 else text[:37] + "..."


def _as_number(x, unit: str):
    """(float, None) for a usable answer, else (None, a message saying what is wrong)."""
    if x is None:
        return None, "No answer yet: your variable is None. Assign your number to it first."
    if x is Ellipsis:
        return None, "No answer yet: replace the `...` with your answer."
    if isinstance(x, (bool, np.bool_)):
        return None, "True/False is not a number: give the value itself."
    if isinstance(x, (str, bytes, bytearray)):
        return None, (f"That is text, not a number. Write the number itself, without quotes "
                      f"and without a unit (in {unit or 'plain numbers'}), e.g. 2.5e-3.")
    if isinstance(x, (list, tuple, set, frozenset, dict)):
        return None, f"Expected ONE number, got a {_name(x)}. Pick the value that answers the question."
    if isinstance(x, np.ndarray):
        if x.size != 1:
            return None, f"Expected ONE number, got an array of shape {x.shape}."
        x = x.reshape(()).item()
    if isinstance(x, (complex, np.complexfloating)):
        return None, "That is a complex number; the answer is a real number."
    if not isinstance(x, numbers.Number) and not hasattr(x, "__float__"):
        return None, f"Expected a number, got a {_name(x)} object. Give one of its numbers instead."
    value = float(x)  # raises for odd objects; check() turns that into a message
    if math.isnan(value):
        return None, "Your answer is NaN (not a number): a 0/0, or a NaN in your inputs?"
    if math.isinf(value):
        return None, "Your answer is infinite: a division by zero?"
    return value, None


def _factor_text(f: float) -> str:
    """2 -> '2x too large'; 0.001 -> '1/1,000 of the right size'."""
    big = f if f >= 1 else 1 / f
    text = f"{big:,.0f}" if big >= 100 else f"{big:.3g}"
    return f"{text}x too large" if f >= 1 else f"1/{text} of the right size"


def _hints(entry, v) -> tuple[list, list]:
    """Entry-specific hints first, then the generic ones that make sense for this variant."""
    specific = list(entry.hints(v) if callable(entry.hints) else entry.hints)
    generic = [(2.0, TWO), (0.5, TWO), (GIB_PER_GB, GIB), (1 / GIB_PER_GB, GIB), (8.0, BITS), (1 / 8, BITS)]
    if "model" in v:
        s = model(v["model"]).sparsity
        generic += [(s, SPARSITY), (1 / s, SPARSITY)]
    chips = v.get("chips", 1)
    if chips > 1:
        generic += [(chips, CHIPS), (1 / chips, CHIPS)]
    prefix = PREFIX.format(unit=entry.unit or "plain numbers")
    for k in (3, 6, 9, 12):
        generic += [(10.0**k, prefix), (10.0**-k, prefix)]
    return specific, generic


def _matching(pairs, ratio, rel):
    """Messages whose factor the ratio matches (all of them: 8 may be bits or 8 chips).

    A factor within the tolerance of 1 cannot be told from a right answer and is skipped; a factor
    just outside it (GiB vs GB, 1.074, under a 4% tolerance) is matched within half its distance
    from 1, so an answer is only blamed on a slip when it is nearer the slip than the right value.
    """
    out = []
    for factor, message in pairs:
        gap = abs(factor - 1)
        if gap > rel and abs(ratio / factor - 1) <= min(rel, gap / (2 * max(factor, 1))):
            if message not in [m for _, m in out]:
                out.append((factor, message))
    return out


def _book_answer_instead(entry, value: float, student, v: dict) -> bool:
    """Whether `value` is right for the book's default numbers although the student has their own."""
    if entry.variants is None or v == variant(None, entry.key):
        return False
    book = float(entry.expected(variant(None, entry.key)))
    return abs(value - book) <= entry.rel * abs(book)


def _judge(entry, value: float, v: dict, student=None) -> tuple[bool, list[str]]:
    expected = float(entry.expected(v) if entry.variants is not None else entry.expected())
    if not math.isfinite(expected):
        raise ValueError("the answer key gave a non-finite value")
    unit = f" {entry.unit}" if entry.unit else ""
    if abs(value - expected) <= entry.rel * abs(expected):
        return True, [f"Correct: {value:.4g}{unit}."]
    book = _book_answer_instead(entry, value, student, v)
    ratio = value / expected if expected else math.inf
    if ratio < 0:
        if abs(-ratio - 1) <= entry.rel:
            return False, ["Right size, wrong sign."]
        lines = ["Not yet: the sign is wrong."]
        ratio = -ratio
    else:
        lines = []
    specific, generic = _hints(entry, v)
    found = _matching(specific, ratio, entry.rel) or _matching(generic, ratio, entry.rel)
    if value == 0:
        lines.append("Not yet: the answer is not zero.")
    elif found:
        lines.append(f"Not yet: your answer is about {_factor_text(found[0][0])}.")
        lines += [f"  Hint: {m}" for _, m in found]
        if book:
            lines.append(f"  Hint: {BOOK.format(setup=v)}")
    elif book:  # the likeliest slip of all: the notebook still holds the book's numbers
        lines.append(f"Not yet: {BOOK.format(setup=v)}")
    elif 0.1 < ratio < 10:
        size = "large" if ratio > 1 else "small"
        lines.append(f"Not yet: your answer is too {size} (by more than the {entry.rel:.0%} "
                     f"tolerance). Re-check each factor in your formula.")
    else:
        size = "large" if ratio > 1 else "small"
        lines.append(f"Not yet: your answer is more than 10x too {size}. Check the units: "
                     f"the answer is wanted in {entry.unit or 'plain numbers (a ratio)'}.")
    return False, lines


def _unknown(key) -> str:
    parts = [e.key for e in answers.for_exercise(key)]
    if parts:
        return f"Exercise {key} has parts {', '.join(parts)}: check each one separately."
    if answers.written_question(key) is not None:
        return (f"Exercise {key} is answered in words, in the cell under its statement: there is "
                "no number to check.")
    return f"There is no exercise {_show(key)}. Keys look like '01.3'."


class Verdict:
    """A check's result: true or false, and invisible in a notebook (the feedback is printed).

    Returning a plain bool would make Jupyter echo `True` under every check cell.
    """

    __slots__ = ("ok",)

    def __init__(self, ok: bool):
        self.ok = bool(ok)

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other) -> bool:
        return self.ok == bool(other)

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        """Show nothing: the feedback has already been printed."""


def check(key, answer, student=None, *, quiet: bool = False) -> Verdict:
    """Check `answer` to exercise `key` for `student`'s variant; print feedback; True if right.

    Never raises: a missing, malformed or absurd answer (None, ..., text, a list, NaN) gets a
    message and False. `quiet=True` prints nothing (for hidden tests). The result is a `Verdict`,
    true or false like a bool, that a notebook does not echo.
    """
    try:
        entry = answers.get(key)
        if entry is None:
            lines, ok = [_unknown(key)], False
        else:
            value, problem = None, None
            try:
                value, problem = _as_number(answer, entry.unit)
            except Exception:
                problem = f"Could not read your answer ({_name(answer)}) as a number."
            if problem:
                lines, ok = [problem], False
            else:
                try:
                    v = variant(student, key)
                except Exception:
                    v, lines, ok = None, ["Could not use that student id: give it as text, e.g. 'ada'."], False
                if v is not None:
                    ok, lines = _judge(entry, value, v, student)
            if not ok:  # two checks in one cell must not print two identical lines
                lines[0] = f"{entry.key}: {lines[0]}"
    except Exception as e:  # a bug in an answer key must not look like the student's fault
        lines, ok = [f"Could not check {_show(key)} ({_name(e)} in the answer key); please report it."], False
    try:
        if not quiet:
            print("\n".join(lines))
    except Exception:
        pass
    return Verdict(ok)


def explain(key, student=None) -> None:
    """Print what exercise `key` asks, in which unit, and (for per-student exercises) your numbers."""
    try:
        entries = [answers.get(key)] if answers.get(key) else answers.for_exercise(key)
        if not entries:
            question = answers.written_question(key)
            if question is None:
                print(_unknown(key))
            else:
                print(f"{key}: {question}")
                print("  Answered in words, in the cell under the statement; there is no number to check.")
            return
        for entry in entries:
            print(f"{entry.key}: {entry.question}")
            print(f"  Answer in: {entry.unit or 'a plain number (a ratio)'}; "
                  f"checked to within {entry.rel:.0%}.")
        if entries[0].variants:
            try:
                print(f"Your numbers: {variant(student, key)}")
            except Exception:
                print("Could not use that student id: give it as text, e.g. 'ada'.")
    except Exception as e:
        print(f"Could not explain {_show(key)} ({_name(e)}); please report it.")
