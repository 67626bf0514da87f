"""Leitner boxes: when each flashcard is due again, and the JSON file that remembers it.

    progress = Progress("my_progress.json")      # default: $ROOFLINE_PROGRESS or ~/.roofline_progress.json
    progress.record("01-optimal-batch", "good", "2026-03-02")      # saved at once, atomically
    progress.due(cards, "2026-03-03")

Box 1 to 5, due again after 1, 2, 4, 8, 16 days: a right answer moves a card up one box (Easy:
two), a wrong one back to box 1; simple enough for a learner to predict. The file holds weeks of
work, so a crash mid-save leaves the old file or the new one, never half of one (`atomic_write`),
and a file that cannot be read is backed up and reported, never silently reset. Cards are
anything with an ``id``: this module knows nothing else about them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import warnings
from pathlib import Path

#: Days until a card in box n is due again. Box 1 = every day, box 5 = every 16 days.
INTERVALS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
BOXES = len(INTERVALS)
#: What a learner may answer when grading themselves, and the outcome the schedule records.
SELF_GRADES = {"again": "again", "wrong": "again", "no": "again", "good": "good", "right": "good",
               "yes": "good", "easy": "easy"}
PROGRESS_FORMAT = "roofline-economics-flashcards"
PROGRESS_VERSION = 1


class CorruptProgressWarning(UserWarning):
    """The progress file could not be read; it was backed up and a fresh one started."""


def as_date(day) -> dt.date:
    """A date from a date, a datetime or an ISO string ('2026-03-02')."""
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if isinstance(day, str):
        return dt.date.fromisoformat(day)
    raise TypeError(f"a date is needed, got {day!r}")


def review(entry: dict | None, outcome, today) -> dict:
    """The card's new schedule after one review (pure function; `entry` None = a new card).

    A new card starts in box 1. Right ('good', or True) -> next box; 'easy' -> two boxes up; wrong
    ('again', or False) -> box 1; never above box 5. Due again after INTERVALS[box] days.
    """
    if isinstance(outcome, str):
        outcome = SELF_GRADES.get(outcome.strip().lower(), outcome)
    else:
        outcome = "good" if outcome else "again"
    if outcome not in ("again", "good", "easy"):
        raise ValueError(f"outcome must be 'again', 'good' or 'easy', got {outcome!r}")
    today = as_date(today)
    old = dict(entry or {})
    box = min(BOXES, max(1, int(old.get("box", 1))))
    new_box = 1 if outcome == "again" else min(BOXES, box + (2 if outcome == "easy" else 1))
    return {"box": new_box, "due": (today + dt.timedelta(days=INTERVALS[new_box])).isoformat(),
            "last": today.isoformat(), "reviews": int(old.get("reviews", 0)) + 1,
            "lapses": int(old.get("lapses", 0)) + (1 if outcome == "again" and entry else 0)}


def is_due(entry: dict | None, today) -> bool:
    """A card is due when it has never been reviewed or its due date has come."""
    return not entry or as_date(entry["due"]) <= as_date(today)


def default_progress_path() -> Path:
    """``$ROOFLINE_PROGRESS`` if set (tests and shared machines), else ``~/.roofline_progress.json``."""
    return Path(os.environ.get("ROOFLINE_PROGRESS") or "~/.roofline_progress.json").expanduser()


def atomic_write(path, data: str | bytes, mode: int | None = None) -> None:
    """Write `data` (text is UTF-8) to `path` so that the file is either the old one or the new one.

    A temporary file in the same directory (so the rename cannot cross file systems) is written,
    flushed and fsync'ed, then moved over the target with os.replace, which is atomic on POSIX
    and Windows; the directory is fsync'ed where the OS allows, so the rename survives a power
    cut. If anything fails, the temporary file is removed and the old file is untouched. The
    new file is private to its owner (0600, from mkstemp) unless `mode` says otherwise.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not possible on Windows: a directory cannot be opened there
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _check_progress(data) -> dict:
    """The ``cards`` of a parsed progress file; ValueError for anything the schedule cannot use."""
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
    old file went (the drill shows it); the learner starts fresh but nothing is deleted. Every
    `record` saves atomically. `now` is injectable so tests can pin the backup's timestamp.
    """

    def __init__(self, path=None, *, now=None):
        self.path = Path(path).expanduser() if path is not None else default_progress_path()
        self.cards: dict[str, dict] = {}
        self.notice = ""
        self.backup: Path | None = None
        self._now = now or dt.datetime.now
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            self.cards = _check_progress(json.loads(raw.decode("utf-8")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            self.backup = self._back_up()
            self.notice = (f"Your progress file {self.path.name} could not be read ({type(e).__name__}: "
                           f"{str(e)[:80]}). It was kept as {self.backup.name} and a new one started.")
            warnings.warn(self.notice, CorruptProgressWarning, stacklevel=2)

    def _back_up(self) -> Path:
        """Move the unreadable file aside under a name no earlier backup has taken."""
        stamp = self._now().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        os.replace(self.path, target)
        return target

    def save(self) -> None:
        data = {"format": PROGRESS_FORMAT, "version": PROGRESS_VERSION,
                "cards": {k: self.cards[k] for k in sorted(self.cards)}}
        atomic_write(self.path, json.dumps(data, indent=1) + "\n")

    def record(self, card_id: str, outcome, today) -> dict:
        """Schedule one review and save at once. A failed save leaves memory and file as they were,
        so the learner can simply try again."""
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

    def due(self, cards, today, new_per_day: int | None = None) -> list:
        """Cards due `today`: reviews first (most overdue, then lowest box), then new cards in deck
        order, at most `new_per_day` of them so a first session is not the whole course."""
        today = as_date(today)
        old = [c for c in cards if c.id in self.cards and is_due(self.cards[c.id], today)]
        old.sort(key=lambda c: (self.cards[c.id]["due"], self.cards[c.id]["box"]))
        new = [c for c in cards if c.id not in self.cards]
        if new_per_day is not None:
            new = new[:max(0, int(new_per_day))]
        return old + new

    def next_due(self, cards) -> dt.date | None:
        dates = [as_date(self.cards[c.id]["due"]) for c in cards if c.id in self.cards]
        return min(dates) if dates else None

    def boxes(self, cards) -> dict[int, int]:
        """{box: how many of `cards` are in it}, box 0 = never reviewed."""
        out = {b: 0 for b in range(BOXES + 1)}
        for c in cards:
            out[self.box(c.id)] += 1
        return out
