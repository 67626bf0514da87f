"""Leitner boxes and the progress file (rooflib/leitner.py): the schedule, and a file that a crash,
a kill or a corrupt byte never silently loses."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rooflib import cards, leitner
from rooflib.leitner import CorruptProgressWarning, Progress, review

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 3, 2)


def _day(n):
    return (TODAY + dt.timedelta(days=n)).isoformat()


def test_leitner_new_card():
    assert review(None, "good", TODAY) == {"box": 2, "due": _day(2), "last": TODAY.isoformat(),
                                           "reviews": 1, "lapses": 0}
    assert review(None, "again", TODAY)["box"] == 1 and review(None, "again", TODAY)["due"] == _day(1)
    assert review(None, "easy", TODAY)["box"] == 3 and review(None, "easy", TODAY)["due"] == _day(4)


def test_leitner_moves_up_one_box_per_right_answer():
    entry = None
    for expected_box, days in ((2, 2), (3, 4), (4, 8), (5, 16), (5, 16), (5, 16)):
        entry = review(entry, "good", TODAY)
        assert (entry["box"], entry["due"]) == (expected_box, _day(days))
    assert entry["reviews"] == 6 and entry["lapses"] == 0


def test_leitner_wrong_answer_goes_back_to_box_one():
    entry = {"box": 5, "due": _day(0), "last": _day(-16), "reviews": 9, "lapses": 0}
    entry = review(entry, "again", TODAY)
    assert (entry["box"], entry["due"], entry["reviews"], entry["lapses"]) == (1, _day(1), 10, 1)
    assert review(entry, False, TODAY)["box"] == 1 and review(entry, True, TODAY)["box"] == 2


def test_leitner_box_limits():
    assert review({"box": 4, "reviews": 1}, "easy", TODAY)["box"] == 5
    assert review({"box": 5, "reviews": 1}, "easy", TODAY)["box"] == 5
    assert review({"box": 99, "reviews": 1}, "good", TODAY)["box"] == 5      # clamped
    assert review({"box": -3, "reviews": 1}, "good", TODAY)["box"] == 2
    assert leitner.INTERVALS == {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
    with pytest.raises(ValueError):
        review(None, "perfect", TODAY)


def test_due_dates_and_session_order(tmp_path):
    deck = cards.load_deck(1)
    prog = Progress(tmp_path / "p.json")
    assert leitner.is_due(None, TODAY)
    prog.record(deck[0].id, "good", TODAY)                     # box 2: due in 2 days
    prog.record(deck[1].id, "again", TODAY)                    # box 1: due tomorrow
    prog.record(deck[2].id, "good", TODAY - dt.timedelta(days=5))   # overdue since 3 days
    tomorrow = TODAY + dt.timedelta(days=1)
    due = prog.due(deck, tomorrow, new_per_day=2)
    assert [c.id for c in due] == [deck[2].id, deck[1].id, deck[3].id, deck[4].id]
    assert deck[0].id not in [c.id for c in prog.due(deck, tomorrow)]
    assert deck[0].id in [c.id for c in prog.due(deck, TODAY + dt.timedelta(days=2))]
    assert prog.next_due(deck) == dt.date.fromisoformat(_day(-3))
    assert prog.boxes(deck)[0] == len(deck) - 3


# ============================================================================ the progress file
def test_missing_progress_file_starts_fresh_without_writing(tmp_path):
    path = tmp_path / "sub" / "progress.json"
    prog = Progress(path)
    assert prog.cards == {} and prog.notice == "" and not path.exists()
    prog.record("01-slow-mode", "good", TODAY)
    data = json.loads(path.read_text())
    assert data["format"] == leitner.PROGRESS_FORMAT and data["version"] == leitner.PROGRESS_VERSION
    assert Progress(path).cards == prog.cards


def test_default_progress_path_is_in_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("ROOFLINE_PROGRESS", raising=False)
    assert leitner.default_progress_path() == Path.home() / ".roofline_progress.json"
    monkeypatch.setenv("ROOFLINE_PROGRESS", str(tmp_path / "x.json"))
    assert leitner.default_progress_path() == tmp_path / "x.json"


def _leftovers(folder: Path, name: str):
    return [p for p in folder.iterdir() if p.name != name]


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_crash_mid_save_keeps_the_previous_progress(tmp_path, monkeypatch, failing):
    path = tmp_path / "progress.json"
    prog = Progress(path)
    prog.record("01-slow-mode", "good", TODAY)
    before_bytes, before_cards = path.read_bytes(), json.loads(json.dumps(prog.cards))

    def crash(*args, **kwargs):
        raise OSError("simulated crash")
    if failing == "replace":
        monkeypatch.setattr(leitner.os, "replace", crash)
    elif failing == "fsync":
        monkeypatch.setattr(leitner.os, "fsync", crash)
    else:
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def write(self, text):
                self.f.write(text[: len(text) // 2])
                raise OSError("disk full after half the file")

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        monkeypatch.setattr(leitner.os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="simulated crash|disk full"):
        prog.record("01-slow-mode", "again", TODAY)
    with pytest.raises(OSError):
        prog.record("01-memory-adds", "good", TODAY)
    monkeypatch.undo()
    assert path.read_bytes() == before_bytes                 # the old file, byte for byte
    assert prog.cards == before_cards                        # memory rolled back too
    assert _leftovers(tmp_path, path.name) == []             # no temporary file left behind
    assert Progress(path).cards == before_cards


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_kill_during_saves_never_corrupts_the_file(tmp_path):
    """A process saving progress in a loop is killed at a random moment: the file still loads."""
    path = tmp_path / "progress.json"
    code = textwrap.dedent(f"""
        import datetime as dt
        from rooflib.leitner import Progress
        p = Progress({str(path)!r})
        ids = ["01-pad-%04d" % i for i in range(2000)]      # a big file: many chances to be cut
        day = dt.date(2026, 1, 1)
        n = 0
        while True:
            p.record(ids[n % len(ids)], "good" if n % 3 else "again", day)
            n += 1
    """)
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3 + 0.2 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = json.loads(path.read_text())                  # complete JSON, old or new
        assert data["format"] == leitner.PROGRESS_FORMAT and data["cards"]
        prog = Progress(path)                                # loads without a corruption warning
        assert prog.notice == "" and prog.cards == data["cards"]


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe garbage", b"[1, 2, 3]",
                                     b'{"format": "something else", "version": 1, "cards": {}}',
                                     b'{"format": "roofline-economics-flashcards", "version": 1, '
                                     b'"cards": {"01-x": {"box": 9, "due": "2026-01-01"}}}'])
def test_corrupt_progress_file_is_backed_up_and_reported(tmp_path, content):
    path = tmp_path / "progress.json"
    path.write_bytes(content)
    stamp = dt.datetime(2026, 3, 2, 9, 30, 0)
    with pytest.warns(CorruptProgressWarning, match="could not be read"):
        prog = Progress(path, now=lambda: stamp)
    backup = tmp_path / "progress.json.corrupt-20260302T093000"
    assert prog.backup == backup and backup.read_bytes() == content
    assert prog.cards == {} and backup.name in prog.notice
    assert not path.exists()                                 # nothing written until a review
    prog.record("01-slow-mode", "good", TODAY)
    assert Progress(path).cards.keys() == {"01-slow-mode"}
    path.write_bytes(b"{again broken")                       # a second backup in the same second
    with pytest.warns(CorruptProgressWarning):
        second = Progress(path, now=lambda: stamp)
    assert second.backup.name == "progress.json.corrupt-20260302T093000-1"
    assert backup.read_bytes() == content                    # the first backup is untouched
