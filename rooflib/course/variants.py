"""Per-student variants: each student gets their own chip, model, batch... for an exercise.

    variant("ada", "01.3")  ->  {'model': 'DeepSeek-V3', 'chip': 'TPU v5p', 'chips': 8, 'dtype': 'fp8'}
    variant(None, "01.3")   ->  the book's default (the first choice of every list)

The draw is seeded by a SHA-256 of (student id, exercise), not by Python's `hash()` (which changes
from run to run), and made with numpy's PCG64 Generator, so it is the same on every machine and
every day. Sub-parts of one exercise ("01.6a", "01.6b") share one draw. The choices an exercise
offers are listed in its answer key (`rooflib/course/answers/chNN.py`), built from the lists below.

A student never draws the book's answer: the book prints the worked answer for the default
variant, so a draw whose answer (any part's) is within twice the check's tolerance of the book's
is drawn again from the same generator (`MAX_REDRAWS` times at most).
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import math

import numpy as np

from . import answers
from ..hardware import hardware
from ..models import model
from ..kv import kv_bytes_per_token
from ..roofline import optimal_batch, weight_bytes

# The pools exercises draw from. The first entry of each list is the book's default.
CHIPS = ["H100 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X", "TPU v5p", "TPU v6e",
         "TPU7x Ironwood"]
MODELS = ["Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B", "Mixtral 8x7B", "gpt-oss-120b",
          "Llama 3.1 405B", "Kimi K2", "Gemma 3 27B"]
CHIP_COUNTS = [4, 1, 2, 8]
DTYPES = ["bf16", "fp8"]
BATCHES = [64, 8, 16, 32, 128, 256, 512]
CONTEXTS = [2048, 1024, 4096, 8192]
#: Dollars per chip-hour. $2 is DeepSeek's own rental assumption for an H800 (2025-02,
#: https://github.com/deepseek-ai/open-infra-index/blob/56d86855fcf6e08fdfd45ce6280bd24322c93351/202502OpenSourceWeek/day_6_one_more_thing_deepseekV3R1_inference_system_overview.md);
#: the others are round "what if" prices around it, not quotes.
PRICES = [2.0, 1.5, 2.5, 3.0, 4.0]
#: Cache storage prices, $ per million tokens per hour: the data of exercise 06.6, kept here (with
#: the other pools) so that a student's notebook never needs to import an answer key.
STORAGE_PRICES = {"Gemini 2.5 Pro explicit cache": 4.50, "Claude Sonnet 4.5 1-hour write": 3.00,
                  "Claude Sonnet 4.5 5-minute write": 9.00}
MAX_REDRAWS = 60


def first(default, choices) -> list:
    """`choices` reordered so that `default` comes first (it becomes the book's default)."""
    return [default] + [c for c in choices if c != default]


@functools.lru_cache(maxsize=None)
def _kv_per_token(model_name: str, context: int) -> float:
    return float(kv_bytes_per_token(model_name, context)) if context else 0.0


@functools.lru_cache(maxsize=None)
def _fits(model_name, chip, chips, dtype, context, batch) -> bool:
    """Weights + KV cache of `batch` sequences of `context` tokens fit in the chips' HBM
    (the condition of `roofline.max_batch`, written out here because it runs thousands of times)."""
    m, hw = model(model_name), hardware(chip)
    if dtype not in hw.flops or chips > hw.scaleup_size or context > m.context_length:
        return False
    if batch == "optimal":
        batch = math.ceil(optimal_batch(m, hw, dtype))
    need = weight_bytes(m, dtype) + batch * context * _kv_per_token(model_name, context)
    return need <= chips * hw.hbm_capacity


def setups(*, fit_optimal_batch: bool = False, **pools) -> list[dict]:
    """Every combination of the `pools` (model=[...], chip=[...], chips=[...], ...) that can run.

    A setup can run when the chip has the dtype, the chips fit in one scale-up domain, and the
    weights plus the KV cache of `batch` sequences of `context` tokens fit in HBM (with
    `fit_optimal_batch`, of the optimal batch instead). Order follows the pools, so the first setup
    is the first choice of every pool whenever that one can run.
    """
    names = list(pools)
    out = []
    for values in itertools.product(*pools.values()):
        s = dict(zip(names, values))
        batch = "optimal" if fit_optimal_batch else s.get("batch", 1)
        if _fits(s["model"], s["chip"], s.get("chips", 1), s.get("dtype", "bf16"),
                 s.get("context", 0), batch):
            out.append(s)
    return out


def _rng(student, exercise: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{student}\x00{exercise}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _draw(spec, rng: np.random.Generator) -> dict:
    if isinstance(spec, dict):
        return {name: choices[int(rng.integers(len(choices)))] for name, choices in spec.items()}
    return dict(spec[int(rng.integers(len(spec)))])


def _default(spec) -> dict:
    if isinstance(spec, dict):
        return {name: choices[0] for name, choices in spec.items()}
    return dict(spec[0])


def _answers(entries, v: dict) -> list[float] | None:
    try:
        return list(_answers_of(tuple(e.key for e in entries), tuple(sorted(v.items()))))
    except TypeError:  # a setup that cannot be a cache key
        return _compute(entries, v)


@functools.lru_cache(maxsize=4096)
def _answers_of(keys: tuple, setup: tuple) -> tuple | None:
    # Each distinct setup is computed once: the draws repeat (a few choices per number) and some
    # keys simulate a whole fleet (09.5 takes about a second).
    out = _compute([answers.get(k) for k in keys], dict(setup))
    return None if out is None else tuple(out)


def _compute(entries, v: dict) -> list[float] | None:
    try:
        return [float(e.expected(v)) for e in entries]
    except Exception:  # a key that cannot compute this draw: treated as "not the book's answer"
        return None


def gives_book_answer(entries, v: dict, book: list | None = None) -> bool:
    """Whether variant `v` of an exercise (all its `entries`) has the book's answer in some part,
    within twice that part's tolerance: a student could then copy the printed value."""
    book = book if book is not None else _answers(entries, _default(entries[0].variants))
    mine = _answers(entries, v)
    if book is None or mine is None:
        return False
    return any(abs(m - b) <= 2 * e.rel * max(abs(m), abs(b)) for e, m, b in zip(entries, mine, book))


@functools.lru_cache(maxsize=4096)
def _student_variant(sid: str, exercise: str) -> tuple:
    entries = answers.for_exercise(exercise)
    spec = entries[0].variants
    rng = _rng(sid, exercise)
    book = _answers(entries, _default(spec))
    v = _draw(spec, rng)
    for _ in range(MAX_REDRAWS):
        if not gives_book_answer(entries, v, book):
            break
        v = _draw(spec, rng)
    return tuple(v.items())


def variant(student, key: str) -> dict:
    """The numbers student `student` works with in exercise `key` ('01.3' or a sub-part '01.6b').

    `student` None (or "") gives the default variant shown in the book. Ids are compared as text
    with surrounding spaces removed, so 42 and "42 " are the same student. An exercise without
    variants gives {}. An unknown key raises LookupError.
    """
    entries = answers.for_exercise(key)
    if not entries:
        raise LookupError(f"no exercise {key!r} in the answer keys")
    spec = entries[0].variants
    if not spec:
        return {}
    sid = "" if student is None else str(student).strip()
    if not sid:
        return _default(spec)
    return dict(_student_variant(sid, answers.parse_key(key)[1]))
