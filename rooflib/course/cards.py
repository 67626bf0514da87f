"""Flashcards: one deck per chapter, answers computed by rooflib, re-asked with other chips and models.

    from rooflib.course import cards
    from rooflib.course.card_grading import grade
    deck = cards.load_deck(1)                        # chapter 1's cards, from data/cards/01_*.yaml
    q = cards.ask(cards.find("01-critical-intensity"))   # at the defaults: one H100 SXM
    q.front, q.answer, q.unit                        # '...', 295.34, 'FLOP/byte'
    grade(q, "295")                                  # Grade(correct=True, ...): never eval'd, never raises
    cards.ask(q.card, seed=7)                        # the same question with another chip (TPU v6e)

A card is data (``rooflib/data/cards/NN_topic.yaml``): an ``id`` that never changes, a ``front``,
a ``back``, ``tags``, and for a numeric card the rooflib EXPRESSION that produces its answer, with
its ``unit`` and relative tolerance ``rel``. Answers are expressions rather than numbers so that a
card cannot go stale: rooflib recomputes them (`rooflib.course.safe_eval`, which never calls ``eval``).
A card's ``params`` (``chip: H100 SXM``, ``model: DeepSeek-V3``, ``context: {default: 2048,
choices: [...]}``) fill ``{chip}``-style slots in its text, so the drill can re-ask it with other
values. The book page shows every deck (`show_deck`); when a card is due again is the business
of `rooflib.course.leitner`, and judging an answer that of `rooflib.course.card_grading`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .card_text import format_answer, render, to_markdown
from .safe_eval import ExpressionError, evaluate, parse_expression

DECK_DIR = Path(__file__).resolve().parents[1] / "data" / "cards"

#: Catalog names a card's ``chip`` or ``model`` parameter is re-asked with when the card gives no
#: ``choices`` of its own. A draw that cannot run (a model that does not fit, a dtype the chip
#: lacks) is drawn again.
POOLS = {"chip": ("H100 SXM", "H200 SXM", "B200", "GB200", "MI300X", "MI355X", "TPU v5p", "TPU v6e",
                  "TPU7x Ironwood"),
         "model": ("Llama 3.1 70B", "DeepSeek-V3", "Qwen3-235B-A22B", "Mixtral 8x7B", "gpt-oss-120b",
                   "Llama 3.1 405B", "Kimi K2", "Gemma 3 27B")}
MAX_DRAWS = 40

_CARD_KEYS = {"id", "front", "back", "tags", "chapter", "answer", "unit", "rel", "params",
              "require", "agrees_with", "note"}
_ID = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")


class CardError(ValueError):
    """A deck file that does not describe valid cards (the message names the file and the card)."""


# ================================================================================ the decks
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

    def value(self) -> float:
        """The numeric answer at the default parameters (what the book and Anki show)."""
        return evaluate(self.answer, self.defaults)


def _param(card_id: str, name: str, spec) -> Param:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise CardError(f"{card_id}: parameter names must be identifiers, got {name!r}")
    if isinstance(spec, dict):
        if set(spec) - {"default", "choices"} or "default" not in spec:
            raise CardError(f"{card_id}: parameter {name!r} takes 'default' and optional 'choices', "
                            f"got {sorted(spec)}")
        default, choices = spec["default"], spec.get("choices")
    else:
        default, choices = spec, None
    choices = tuple(POOLS.get(name, (default,)) if choices is None else choices)
    if default not in choices:
        choices = (default,) + choices
    for v in (default, *choices):
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise CardError(f"{card_id}: parameter {name!r} values must be text or numbers, got {v!r}")
    return Param(name, default, choices)


def _card(raw: dict, chapter: int, deck: str, where: str) -> Card:
    """One validated card. Expressions are parsed here, so a bad card fails when its deck loads."""
    if not isinstance(raw, dict):
        raise CardError(f"{where}: every card must be a mapping, got {raw!r}")
    cid = raw.get("id")
    if not isinstance(cid, str) or not _ID.match(cid) or int(cid[:2]) != chapter:
        raise CardError(f"{where}: card id {cid!r} must look like '{chapter:02d}-some-name'")

    def fail(why: str) -> CardError:
        return CardError(f"{where}: card {cid}: {why}")

    if set(raw) - _CARD_KEYS:
        raise fail(f"unknown keys {sorted(set(raw) - _CARD_KEYS)}")
    for key in ("front", "back"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(f"needs a non-empty {key!r}")
    if raw.get("chapter", chapter) != chapter:
        raise fail(f"says chapter {raw['chapter']} in chapter {chapter}'s file")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and re.fullmatch(r"[\w-]+", t) for t in tags):
        raise fail("tags must be a list of words (letters, digits, - or _)")
    answer = raw.get("answer")
    if answer is not None:
        if not isinstance(answer, str):
            raise fail("answer must be a rooflib expression in a string")
        if "unit" not in raw:
            raise fail("a numeric card needs a 'unit' (\"\" for a plain ratio)")
    rel = raw.get("rel", 0.03)
    if not isinstance(rel, (int, float)) or isinstance(rel, bool) or not 0 < rel < 1:
        raise fail(f"rel must be a fraction in (0, 1), got {rel!r}")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise fail("params must be a mapping name -> default")
    require = raw.get("require") or []
    require = [require] if isinstance(require, str) else require
    expressions = ([("answer", answer)] if answer is not None else []) + [("require", r) for r in require]
    for label, expr in expressions:
        try:
            parse_expression(expr)
        except ExpressionError as e:
            raise fail(f"{label}: {e}") from None
    agrees = raw.get("agrees_with") or []
    if not isinstance(agrees, list) or not all(isinstance(a, dict) for a in agrees):
        raise fail("agrees_with must be a list of mappings")
    return Card(id=cid, chapter=chapter, deck=deck, front=raw["front"].strip(), back=raw["back"].strip(),
                tags=tuple(tags), answer=answer, unit=str(raw.get("unit", "")), rel=float(rel),
                params=tuple(_param(cid, k, v) for k, v in params.items()), require=tuple(require),
                agrees_with=tuple(agrees), note=str(raw.get("note", "")))


def _no_duplicate_ids(cards: list[Card], where: str) -> list[Card]:
    """Ids are what the progress file and Anki's GUIDs key on, so two cards may never share one."""
    ids = [c.id for c in cards]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CardError(f"{where}: duplicate card ids {repeated}")
    return cards


def deck_files() -> dict[int, Path]:
    """{chapter: path} of the deck files shipped with rooflib (``data/cards/NN_topic.yaml``)."""
    return {int(path.name[:2]): path for path in sorted(DECK_DIR.glob("[0-9][0-9]_*.yaml"))}


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
    return _no_duplicate_ids([_card(raw, chapter, deck, where) for raw in data["cards"]], where)


@lru_cache(maxsize=None)
def _load_cached(path: str, mtime: float) -> tuple:
    """Parsing YAML and every expression is slow; the mtime in the key picks up an edited deck."""
    return tuple(load_deck_file(path))


def load_deck(chapter: int) -> list[Card]:
    """The cards of chapter `chapter` (1-8)."""
    files = deck_files()
    if chapter not in files:
        raise LookupError(f"no deck for chapter {chapter!r}; decks exist for chapters {sorted(files)}")
    path = files[chapter]
    return list(_load_cached(str(path), path.stat().st_mtime))


def _chapter_numbers(chapters) -> list[int]:
    """`chapters` as a list of chapter numbers: None (all), one number (3) or several ([1, 2])."""
    available = sorted(deck_files())
    if chapters is None:
        return available
    many = chapters if isinstance(chapters, (list, tuple, range, set, frozenset)) else [chapters]
    out = []
    for ch in many:
        if isinstance(ch, (bool, np.bool_)) or not isinstance(ch, (int, np.integer)) or ch not in available:
            raise ValueError(f"chapters must be None (every chapter), a chapter number or a list of "
                             f"them, among {available}; got {chapters!r}")
        if int(ch) not in out:
            out.append(int(ch))
    return out


def load_all(chapters=None) -> list[Card]:
    """Every card of every chapter, or of `chapters`: one number (3) or a list ([1, 2]), in that order."""
    return _no_duplicate_ids([c for ch in _chapter_numbers(chapters) for c in load_deck(ch)], "decks")


def find(card_id: str) -> Card:
    """The card with this id."""
    for c in load_all():
        if c.id == card_id:
            return c
    raise LookupError(f"no card {card_id!r}")


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


def _seed_int(card_id: str, seed) -> int:
    """A stable 64-bit seed from (card id, seed): SHA-256, not Python's salted hash()."""
    digest = hashlib.sha256(f"{card_id}\x00{seed}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little")


def _computable(card: Card, params: dict) -> bool:
    """Whether rooflib gives a positive answer at these parameters and every `require` expression
    of the card is positive (a model that does not fit the chips is not a fair question)."""
    try:
        return (all(evaluate(r, params) > 0 for r in card.require)
                and (not card.numeric or evaluate(card.answer, params) > 0))
    except ExpressionError:
        return False


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
            if _computable(card, drawn):
                params = drawn
                break
    answer = evaluate(card.answer, params) if card.numeric else None
    return CardInstance(card=card, params=dict(params), front=render(card.front, params),
                        back=render(card.back, params), answer=answer, seed=seed)


# ================================================================================ the book page
def reask_note(card: Card) -> str:
    """A line telling the reader that the drill varies this card, and along what ('' if it does not)."""
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
        note = reask_note(card)
        lines += [f"*Card `{card.id}`.{' ' + note if note else ''}*", "", "</details>", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def show_deck(chapter: int):
    """The deck as an IPython Markdown object (the book page's cells call this)."""
    from IPython.display import Markdown

    return Markdown(deck_markdown(chapter))
