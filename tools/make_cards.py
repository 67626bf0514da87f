#!/usr/bin/env python
"""Export the flashcard decks for Anki: an .apkg package and a tab-separated text file.

    python tools/make_cards.py                 # writes _build/cards/roofline-economics.apkg and .tsv
    python tools/make_cards.py --out some/dir --chapters 1 2

Both files hold every card of `rooflib/data/cards/*.yaml` (or of the chapters given), one Anki
sub-deck per chapter ("Roofline Economics::01 Batching", ...). Numeric answers are computed by
rooflib at each card's default parameters and shown with their units.

Re-importing updates instead of duplicating. Anki finds a note by its GUID (here a hash of the card
id) and, by default, replaces it only when the imported note's modification time is NEWER; with an
equal time it keeps its copy under every import option. So each note carries the time its content
last changed: `roofline-economics.mod.json`, written beside the exports, remembers a hash of each
note's content and that time. An unchanged note keeps its time (two builds hold the same
collection, and a learner's own edits in Anki are kept); a changed one gets the build time. Without
that file (a fresh clone) every note gets the build time, so the next import updates them all.
Anki: File > Import, pick the .apkg (or the .tsv, with Anki 2.1.55 or later, which reads its
header lines: note type Basic, HTML fields, GUID, tags and deck columns).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import html
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooflib.course import cards  # noqa: E402  (after the path set-up above)
from rooflib.course.card_text import to_html  # noqa: E402
from rooflib.course.leitner import atomic_write  # noqa: E402

BASENAME = "roofline-economics"
DECK_NAME = "Roofline Economics"
# Anki matches note types and decks by id and notes by GUID: these never change, or a re-import
# would add a second copy of every card instead of updating the first.
ANKI_MODEL_ID = 1_607_392_641
ANKI_DECK_ID = 2_059_400_100           # + the chapter: one sub-deck per chapter
ANKI_TIMESTAMP = 1_767_225_600         # 2026-01-01T00:00:00Z: no note is older than this
ANKI_CSS = """.card { font-family: system-ui, sans-serif; font-size: 20px; text-align: left;
  color: #222; background: #fff; max-width: 40em; margin: 0 auto; }
.answer { font-weight: bold; }
.back { margin-top: 0.6em; }
.meta { color: #777; font-size: 14px; margin-top: 1em; }"""
TSV_COLUMNS = ("GUID", "Front", "Back", "Tags", "Deck")
ANKI_TEMPLATES = [{"name": "Card 1", "qfmt": "{{Front}}", "afmt": '{{FrontSide}}<hr id="answer">{{Back}}'}]
MOD_FORMAT = "roofline-economics-anki-mod"


def deck_name(card: cards.Card) -> str:
    """Anki's name of the chapter's sub-deck: 'Roofline Economics::01 Batching'."""
    return f"{DECK_NAME}::{card.chapter:02d} {card.deck}"


def anki_note(card: cards.Card) -> tuple[str, str, str, list[str]]:
    """(GUID, Front HTML, Back HTML, tags) of a card at its default parameters: what the .apkg and
    the .tsv both hold. The GUID hashes the card id only, so an edit to the text updates the note."""
    import genanki

    q = cards.ask(card)
    back = [f'<div class="answer">{html.escape(q.answer_text, quote=False)}</div>'] if q.numeric else []
    back.append(f'<div class="back">{to_html(q.back)}</div>')
    meta = f"{DECK_NAME}, chapter {card.chapter}. {cards.reask_note(card)}".strip()
    back.append(f'<div class="meta">{html.escape(meta, quote=False)}</div>')
    tags = ["roofline-economics", f"ch{card.chapter:02d}", *card.tags]
    return genanki.guid_for(card.id), to_html(q.front), "".join(back), tags


def _shared_mode() -> int:
    """rw for everyone the umask allows (what a plain open() would give): the exports are meant to
    be shared, unlike a progress file, which atomic_write keeps private by default."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def content_hash(card: cards.Card, note: tuple) -> str:
    """SHA-256 of everything Anki shows of a note: its fields, tags, deck and the note type's look
    (a new template or style changes every note's rendering, so it counts as a change of each)."""
    guid, front, back, tags = note
    text = json.dumps([front, back, tags, deck_name(card), ANKI_CSS, ANKI_TEMPLATES], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_mod_times(path: Path) -> dict:
    """{GUID: {"sha256": ..., "mod": seconds}} of the previous build; {} when there is none or it
    cannot be read (every note then counts as changed, which only costs a full update)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    notes = data.get("notes") if isinstance(data, dict) and data.get("format") == MOD_FORMAT else None
    if not isinstance(notes, dict):
        return {}
    return {g: e for g, e in notes.items() if isinstance(e, dict) and isinstance(e.get("sha256"), str)
            and isinstance(e.get("mod"), int) and not isinstance(e.get("mod"), bool)}


def mod_times(hashes: dict, previous: dict, now: int) -> dict:
    """{GUID: modification time}: the previous time for an unchanged note; for a new or changed one
    the build time, and always later than the time Anki may already hold for it."""
    out = {}
    for guid, digest in hashes.items():
        old = previous.get(guid)
        if old is not None and old["sha256"] == digest:
            out[guid] = old["mod"]
        else:
            out[guid] = max(int(now), ANKI_TIMESTAMP, old["mod"] + 1 if old is not None else 0)
    return out


def anki_package(deck: list, notes: list, mods: dict | None = None) -> bytes:
    """The .apkg: one sub-deck per chapter ('Roofline Economics::01 Batching', ...); each note
    modified at mods[GUID] (default: ANKI_TIMESTAMP)."""
    import genanki

    class Note(genanki.Note):
        """genanki gives every note the package's time; Anki compares each note's own."""

        def __init__(self, *args, mod: int, **kwargs):
            super().__init__(*args, **kwargs)
            self.mod = mod

        def write_to_db(self, cursor, timestamp, deck_id, id_gen):
            super().write_to_db(cursor, self.mod, deck_id, id_gen)

    mods = mods or {}
    model = genanki.Model(ANKI_MODEL_ID, f"{DECK_NAME} (basic)", fields=[{"name": "Front"}, {"name": "Back"}],
                          templates=copy.deepcopy(ANKI_TEMPLATES), css=ANKI_CSS)  # genanki edits them
    decks: dict[int, genanki.Deck] = {}
    for card, (guid, front, back, tags) in zip(deck, notes):
        if card.chapter not in decks:
            decks[card.chapter] = genanki.Deck(ANKI_DECK_ID + card.chapter, deck_name(card))
        decks[card.chapter].add_note(Note(model=model, fields=[front, back], tags=tags, guid=guid,
                                          mod=mods.get(guid, ANKI_TIMESTAMP)))
    buffer = io.BytesIO()
    # The package's own time (note type, decks) is that of the newest note: the same content gives
    # the same collection.
    stamp = max(mods.values(), default=ANKI_TIMESTAMP)
    genanki.Package([decks[ch] for ch in sorted(decks)]).write_to_file(buffer, timestamp=stamp)
    return buffer.getvalue()


def tsv_field(text: str) -> str:
    """One field of Anki's tab-separated import: quoted when it holds a tab, newline or quote, or
    starts with '#' (which Anki would read as a comment line); embedded quotes doubled."""
    text = text.replace("\r\n", "\n")
    if any(ch in text for ch in '\t\n"') or text.startswith("#"):
        return '"' + text.replace('"', '""') + '"'
    return text


def tsv_text(deck: list, notes: list) -> str:
    """Anki's file headers (read by Anki 2.1.55 or later), then one note per line."""
    head = ["#separator:tab", "#html:true", "#notetype:Basic", f"#deck:{DECK_NAME}",
            "#columns:" + "\t".join(TSV_COLUMNS), "#guid column:1", "#tags column:4",
            "#deck column:5"]
    rows = []
    for card, (guid, front, back, tags) in zip(deck, notes):
        rows.append("\t".join(tsv_field(v) for v in (guid, front, back, " ".join(tags), deck_name(card))))
    return "\n".join(head + rows) + "\n"


def build(out_dir: Path, chapters=None, now: float | None = None) -> tuple[Path, Path, list]:
    """Write the .apkg, the .tsv and the notes' modification times into `out_dir`; return the
    paths of the first two and the cards. `now` (seconds since 1970) is the build time."""
    deck = cards.load_all(chapters)
    notes = [anki_note(card) for card in deck]  # every answer computed before anything is written
    apkg, tsv = out_dir / f"{BASENAME}.apkg", out_dir / f"{BASENAME}.tsv"
    mod_file = out_dir / f"{BASENAME}.mod.json"
    previous = read_mod_times(mod_file)
    hashes = {note[0]: content_hash(card, note) for card, note in zip(deck, notes)}
    mods = mod_times(hashes, previous, time.time() if now is None else now)
    atomic_write(apkg, anki_package(deck, notes, mods), mode=_shared_mode())
    atomic_write(tsv, tsv_text(deck, notes), mode=_shared_mode())
    # Notes of other chapters, left out of this build, keep their record for the next full one.
    record = {**previous, **{g: {"sha256": hashes[g], "mod": mods[g]} for g in hashes}}
    atomic_write(mod_file, json.dumps({"format": MOD_FORMAT, "notes": dict(sorted(record.items()))},
                                      indent=1) + "\n", mode=_shared_mode())
    return apkg, tsv, deck


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "cards",
                    help="output folder (default: _build/cards in the repository)")
    ap.add_argument("--chapters", type=int, nargs="*", help="only these chapters (default: all)")
    args = ap.parse_args(argv)
    try:
        apkg, tsv, deck = build(args.out, args.chapters or None)
    except (ValueError, LookupError) as e:  # a bad card (CardError, ExpressionError), chapter
        print(f"make_cards: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"make_cards: cannot write to {args.out}: {e}", file=sys.stderr)
        return 1
    per_chapter: dict[int, int] = {}
    for card in deck:
        per_chapter[card.chapter] = per_chapter.get(card.chapter, 0) + 1
    for chapter, n in sorted(per_chapter.items()):
        name = next(deck_name(c) for c in deck if c.chapter == chapter)
        print(f"  {name:<42} {n:>4} cards")
    print(f"wrote {_shown(apkg)} and {_shown(tsv)}: {len(deck)} cards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
