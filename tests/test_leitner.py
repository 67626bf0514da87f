"""Leitner boxes and the progress file (rooflib/course/leitner.py): the schedule, and a file that a crash,
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

from rooflib.course import cards, leitner
from rooflib.course.leitner import CorruptProgressWarning, Progress, review

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
    """Files beside the progress file other than its lock file, which stays by design."""
    return [p for p in folder.iterdir() if p.name not in (name, name + ".lock")]


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
        from rooflib.course.leitner import Progress
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
                                     b'{"format": "roofline-economics-flashcards", "version": 0, "cards": {}}',
                                     b'{"format": "roofline-economics-flashcards", "version": 1, '
                                     b'"cards": []}',
                                     b"[" * 100_000 + b"]" * 100_000])   # RecursionError in json
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


def _progress_file(path: Path, cards: dict, version=leitner.PROGRESS_VERSION) -> bytes:
    raw = json.dumps({"format": leitner.PROGRESS_FORMAT, "version": version, "cards": cards}).encode()
    path.write_bytes(raw)
    return raw


GOOD = {"box": 3, "due": "2026-03-05", "last": "2026-03-01", "reviews": 4, "lapses": 1}


def test_bad_entries_are_set_aside_one_by_one(tmp_path):
    """One bad entry must not cost the learner the rest of their history."""
    path = tmp_path / "progress.json"
    bad = {"01-box-six": {**GOOD, "box": 6}, "01-bad-date": {**GOOD, "due": "2026-13-40"},
           "01-no-due": {"box": 2}, "01-reviews-text": {**GOOD, "reviews": "x"},
           "01-reviews-null": {**GOOD, "reviews": None}, "01-lapses-negative": {**GOOD, "lapses": -1},
           "01-box-true": {**GOOD, "box": True}, "01-not-a-mapping": [1, 2]}
    raw = _progress_file(path, {"01-good": GOOD, "02-good": {**GOOD, "box": 5}, **bad})
    stamp = dt.datetime(2026, 3, 2, 9, 30, 0)
    with pytest.warns(CorruptProgressWarning, match="8 entries"):
        prog = Progress(path, now=lambda: stamp)
    assert prog.cards == {"01-good": GOOD, "02-good": {**GOOD, "box": 5}}
    assert set(prog.set_aside) == set(bad)
    assert "box 6 is not 1-5" in prog.set_aside["01-box-six"]
    assert "reviews 'x'" in prog.set_aside["01-reviews-text"]
    assert "01-box-six: box 6 is not 1-5" in prog.notice and "The other 2 were kept" in prog.notice
    assert prog.backup.read_bytes() == raw                   # the file as it was, for a human to look at
    assert Progress(path).cards == prog.cards                # set aside once, not at every start
    for cid in bad:                                          # the first answer no longer crashes
        assert prog.record(cid, "good", TODAY)["box"] == 2
    assert prog.record("01-good", "good", TODAY)["reviews"] == 5


def test_a_file_from_a_newer_version_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "progress.json"
    raw = _progress_file(path, {"01-good": {"box": 7, "stability": 2.5}}, version=2)
    with pytest.raises(leitner.ProgressError, match="newer version of rooflib.*left as it is"):
        Progress(path)
    assert path.read_bytes() == raw and _leftovers(tmp_path, path.name) == []


@pytest.mark.parametrize("case", ["folder", "parent is a file", "grandparent is a file", "not a path"])
def test_impossible_progress_paths_are_refused_clearly(tmp_path, case):
    if case == "folder":
        path, match = tmp_path, "is a folder"
    elif case == "not a path":
        path, match = 42, "must be a path"
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "progress.json" if case == "parent is a file" else \
            tmp_path / "file" / "sub" / "progress.json"
        match = "is a file, not a folder"
    with pytest.raises(leitner.ProgressError, match=match):
        Progress(path)


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_a_symlinked_progress_file_is_written_through(tmp_path):
    target = tmp_path / "synced" / "progress.json"
    target.parent.mkdir()
    _progress_file(target, {"01-good": GOOD})
    link = tmp_path / "progress.json"
    link.symlink_to(target)
    prog = Progress(link)
    prog.record("01-slow-mode", "good", TODAY)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert set(json.loads(target.read_text())["cards"]) == {"01-good", "01-slow-mode"}
    dangling = tmp_path / "dangling.json"                    # a link to a file not yet created
    dangling.symlink_to(tmp_path / "synced" / "later.json")
    Progress(dangling).record("01-slow-mode", "good", TODAY)
    assert dangling.is_symlink() and (tmp_path / "synced" / "later.json").exists()


def test_temporary_files_of_interrupted_saves_are_removed(tmp_path):
    path = tmp_path / "progress.json"
    _progress_file(path, {"01-good": GOOD})
    stale = [tmp_path / ".progress.json.abc123.tmp", tmp_path / ".progress.json.x_y.tmp"]
    for p in stale:
        p.write_text("half a save")
    other = tmp_path / ".notes.json.abc.tmp"                 # not ours: left alone
    other.write_text("x")
    Progress(path)
    assert not any(p.exists() for p in stale) and other.exists()
    stale[0].write_text("another half")
    Progress(tmp_path / "new.json").record("01-slow-mode", "good", TODAY)   # its own file only
    assert stale[0].exists()
    Progress(path).record("01-slow-mode", "good", TODAY)
    assert not stale[0].exists()


def test_two_drills_in_one_process_keep_each_others_reviews(tmp_path):
    """Two open notebooks on one file: each save re-reads the file, so neither overwrites the other."""
    path = tmp_path / "progress.json"
    a, b = Progress(path), Progress(path)
    a.record("01-one", "good", TODAY)
    b.record("01-two", "good", TODAY)                        # b never saw 01-one in memory
    a.record("01-two", "good", TODAY)                        # a never saw b's review of 01-two
    saved = json.loads(path.read_text())["cards"]
    assert set(saved) == {"01-one", "01-two"}
    assert saved["01-two"]["reviews"] == 2 and saved["01-two"]["box"] == 3
    assert a.cards == saved


@pytest.mark.skipif(leitner.fcntl is None, reason="file locks are POSIX")
def test_two_processes_lose_no_review(tmp_path):
    """Two processes saving 100 reviews each to one file: all 200 are in it afterwards."""
    path = tmp_path / "progress.json"
    code = textwrap.dedent(f"""
        import sys
        from rooflib.course.leitner import Progress
        p = Progress({str(path)!r})
        who = sys.argv[1]
        for i in range(100):   # every other review is of a card both processes review
            card = f"01-shared-{{i % 5}}" if i % 2 else f"01-own-{{who}}-{{i % 10}}"
            p.record(card, "good", "2026-03-02")
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, who], cwd=ROOT) for who in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    saved = json.loads(path.read_text())["cards"]
    assert sum(e["reviews"] for e in saved.values()) == 200
    assert [saved[f"01-shared-{i}"]["reviews"] for i in range(5)] == [20] * 5


@pytest.mark.skipif(leitner.fcntl is None, reason="file locks are POSIX")
def test_a_save_that_cannot_get_the_lock_fails_cleanly(tmp_path, monkeypatch):
    import fcntl

    path = tmp_path / "progress.json"
    prog = Progress(path)
    prog.record("01-slow-mode", "good", TODAY)
    before = path.read_bytes()
    monkeypatch.setattr(leitner, "LOCK_TIMEOUT", 0.2)
    fd = os.open(str(path) + ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)                           # another drill, stuck mid-save
    try:
        with pytest.raises(OSError, match="held the lock"):
            prog.record("01-slow-mode", "good", TODAY)
    finally:
        os.close(fd)
    assert path.read_bytes() == before and prog.cards["01-slow-mode"]["reviews"] == 1
    prog.record("01-slow-mode", "good", TODAY)
    assert prog.cards["01-slow-mode"]["reviews"] == 2
