"""Leitner boxes: when each flashcard is due again, and the JSON file that remembers it.

    progress = Progress("my_progress.json")      # default: $ROOFLINE_PROGRESS or ~/.roofline_progress.json
    progress.record("01-optimal-batch", "good", "2026-03-02")      # saved at once, atomically
    progress.due(cards, "2026-03-03")

Box 1 to 5, due again after 1, 2, 4, 8, 16 days: a right answer moves a card up one box (Easy:
two), a wrong one back to box 1; simple enough for a learner to predict. The file holds weeks of
work, so it is guarded:

* a crash mid-save leaves the old file or the new one, never half of one (`atomic_write`);
* two drills on one file (two notebooks, two processes) never lose a review: each save takes a
  lock, re-reads the file and applies the review to what is there now (`Progress.record`);
* what cannot be read is set aside, never silently dropped: a bad entry alone (the others are
  kept), or the whole file when it is not JSON; a file written by a newer version is refused and
  left untouched (`ProgressError`).

Cards are anything with an ``id``: this module knows nothing else about them.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves are still atomic, only not merged
    fcntl = None

#: Days until a card in box n is due again. Box 1 = every day, box 5 = every 16 days.
INTERVALS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
BOXES = len(INTERVALS)
#: What a learner may answer when grading themselves, and the outcome the schedule records.
SELF_GRADES = {"again": "again", "wrong": "again", "no": "again", "good": "good", "right": "good",
               "yes": "good", "easy": "easy"}
PROGRESS_FORMAT = "roofline-economics-flashcards"
PROGRESS_VERSION = 1


#: How long a save waits for another drill to finish its own save before giving up.
LOCK_TIMEOUT = 10.0


class CorruptProgressWarning(UserWarning):
    """Part or all of the progress file could not be read; it was set aside and the rest kept."""


class ProgressError(ValueError):
    """The progress file cannot be used as it is (a folder, a file from a newer version, ...).
    Nothing was changed; the message says what to do."""


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


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_iso_date(x) -> bool:
    if not isinstance(x, str):
        return False
    try:
        dt.date.fromisoformat(x)
    except ValueError:
        return False
    return True


def entry_problem(entry) -> str | None:
    """Why a saved entry cannot be scheduled (e.g. 'box 6 is not 1-5'), or None if it can."""
    if not isinstance(entry, dict):
        return f"a {type(entry).__name__}, not a mapping"
    box = entry.get("box")
    if not _whole(box) or not 1 <= box <= BOXES:
        return f"box {box!r} is not 1-{BOXES}"
    if not _is_iso_date(entry.get("due")):
        return f"due date {entry.get('due')!r} is not a date like '2026-03-02'"
    if "last" in entry and not _is_iso_date(entry["last"]):
        return f"last review {entry['last']!r} is not a date like '2026-03-02'"
    for key in ("reviews", "lapses"):
        if key in entry and not (_whole(entry[key]) and entry[key] >= 0):
            return f"{key} {entry[key]!r} is not a count"
    return None


def parse_progress(raw: bytes) -> tuple[dict, dict]:
    """(usable entries, {card id: why} for the others) of a progress file's bytes.

    ValueError when the file as a whole is not a progress file (not UTF-8, not JSON, nested too
    deeply, wrong format); `ProgressError` when a newer version of rooflib wrote it, which this
    version must not rewrite.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply to be a progress file") from None
    if not isinstance(data, dict) or data.get("format") != PROGRESS_FORMAT:
        raise ValueError("not a flashcard progress file")
    version = data.get("version")
    if _whole(version) and version > PROGRESS_VERSION:
        raise ProgressError(f"it was written by a newer version of rooflib (progress format "
                            f"{version}; this one reads {PROGRESS_VERSION})")
    if version != PROGRESS_VERSION:
        raise ValueError(f"unknown progress file version {version!r}")
    cards = data.get("cards")
    if not isinstance(cards, dict):
        raise ValueError("'cards' must be a mapping")
    good, bad = {}, {}
    for cid, entry in cards.items():
        problem = entry_problem(entry)
        if problem is None:
            good[cid] = entry
        else:
            bad[cid] = problem
    return good, bad


def _progress_bytes(cards: dict) -> bytes:
    data = {"format": PROGRESS_FORMAT, "version": PROGRESS_VERSION,
            "cards": {k: cards[k] for k in sorted(cards)}}
    return (json.dumps(data, indent=1) + "\n").encode("utf-8")


def _check_path(path: Path) -> None:
    """Refuse a progress path that can never hold a file, before anything is read or written."""
    if path.is_dir():
        raise ProgressError(f"the progress file {path} is a folder; give a file name inside it, "
                            f"e.g. {path / 'progress.json'}")
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                raise ProgressError(f"the progress file {path} cannot be created: {folder} is a "
                                    "file, not a folder")
            return


class Progress:
    """A learner's Leitner boxes, kept in a JSON file.

    A missing file starts fresh. An entry that cannot be scheduled (box 6, a bad date, a count
    that is not a number) is set aside: the file as it was is kept as ``<name>.corrupt-<timestamp>``,
    the other entries are kept, and `notice` names the cards set aside (the drill shows it; a
    `CorruptProgressWarning` is issued too). A file that cannot be read at all (not JSON, another
    format) is moved to that name and the learner starts fresh; nothing is deleted. A file from a
    newer version, a path that is a folder or lies under a file raise `ProgressError` and change
    nothing. A symlinked file is written through, not replaced. `now` is injectable so tests can
    pin the backup's timestamp.
    """

    def __init__(self, path=None, *, now=None):
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ProgressError(f"the progress file must be a path such as 'my_progress.json', got "
                                f"{type(path).__name__} {path!r}")
        self.path = Path(path).expanduser() if path is not None else default_progress_path()
        # Where the bytes are: through a symlink, so the link stays a link.
        self.file = Path(os.path.realpath(self.path))
        self.cards: dict[str, dict] = {}
        self.notice = ""
        self.backup: Path | None = None
        self.set_aside: dict[str, str] = {}
        self._now = now or dt.datetime.now
        _check_path(self.file)
        if not self.file.exists():
            return
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._locked())
            except OSError:  # a folder we cannot write to: read what is there; saving will say why not
                pass
            self.cards = self._read_locked(fallback={})

    # ---- the file ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        """Hold an exclusive lock on ``<name>.lock`` beside the file while reading and writing it.

        The lock is on a separate file because the progress file itself is replaced on every
        save. The lock file stays: deleting it could let two drills lock two different files.
        A lock still held after LOCK_TIMEOUT seconds gives an OSError rather than a frozen drill.
        """
        if fcntl is None:
            yield
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file.with_name(self.file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OSError(f"another drill has held the lock on {self.file.name} for "
                                      f"{LOCK_TIMEOUT:.0f} s") from None
                    time.sleep(0.01)
            self._remove_stale_temporaries()
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _remove_stale_temporaries(self) -> None:
        """Delete the temporary files of saves that were killed mid-way (atomic_write's
        ``.<name>.*.tmp``). Called with the lock held, so no save of ours is writing one now."""
        for tmp in self.file.parent.glob(f".{self.file.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _read_locked(self, fallback: dict) -> dict:
        """The entries in the file now (lock held), after setting aside what cannot be used.
        `fallback` replaces a file that cannot be read at all (and one that has gone: {})."""
        try:
            raw = self.file.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ProgressError(f"the progress file {self.path} cannot be read "
                                f"({type(e).__name__}: {e.strerror or e})") from None
        try:
            cards, bad = parse_progress(raw)
        except ProgressError as e:
            raise ProgressError(f"the progress file {self.path} cannot be used: {e}. It was left "
                                "as it is: update rooflib, or set another progress file.") from None
        except ValueError as e:
            self._set_aside(lambda backup: os.replace(self.file, backup), e)
            self._warn(f"Your progress file {self.path.name} could not be read ({type(e).__name__}: "
                       f"{str(e)[:80]}). It was kept as {self.backup.name} and a new one started.")
            return dict(fallback)
        if bad:
            def keep_good(backup):
                atomic_write(backup, raw)
                atomic_write(self.file, _progress_bytes(cards))
            self._set_aside(keep_good, "; ".join(bad.values()))
            self.set_aside.update(bad)
            listed = "; ".join(f"{cid}: {why}" for cid, why in list(bad.items())[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            self._warn(f"{len(bad)} entr{'y' if len(bad) == 1 else 'ies'} of your progress file "
                       f"could not be read and {'was' if len(bad) == 1 else 'were'} set aside "
                       f"({listed}{more}); those cards start again as new. The other {len(cards)} "
                       f"were kept. The file as it was is kept as {self.backup.name}.")
        return cards

    def _set_aside(self, move, why) -> None:
        """Run move(backup path); if the folder refuses, change nothing and say so."""
        backup = self._backup_name()
        try:
            move(backup)
        except OSError as e:
            raise ProgressError(f"the progress file {self.path} could not be read ({str(why)[:80]}) "
                                f"and could not be set aside ({type(e).__name__}: {e.strerror or e}); "
                                "it was left as it is: set another progress file.") from None
        self.backup = backup

    def _warn(self, message: str) -> None:
        self.notice = message
        warnings.warn(message, CorruptProgressWarning, stacklevel=4)

    def _backup_name(self) -> Path:
        """``<name>.corrupt-<timestamp>``, under a name no earlier backup has taken."""
        stamp = self._now().strftime("%Y%m%dT%H%M%S")
        target = self.file.with_name(f"{self.file.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.file.with_name(f"{self.file.name}.corrupt-{stamp}-{n}")
            n += 1
        return target

    # ---- the schedule -------------------------------------------------------------------------
    def record(self, card_id: str, outcome, today) -> dict:
        """Schedule one review and save at once.

        Under the lock, the file is read again and the review applied to the card's entry as it is
        there now, so reviews saved meanwhile by another drill are kept (and counted). A failed save
        leaves memory and file as they were, so the learner can simply try again.
        """
        with self._locked():
            cards = self._read_locked(fallback=self.cards)
            new = review(cards.get(card_id), outcome, today)
            cards[card_id] = new
            atomic_write(self.file, _progress_bytes(cards))
        self.cards = cards
        return new

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
