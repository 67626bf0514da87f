#!/usr/bin/env python
"""Export the flashcard decks for Anki: an .apkg package and a tab-separated text file.

    python tools/make_cards.py                 # writes _build/cards/roofline-economics.apkg and .tsv
    python tools/make_cards.py --out some/dir --chapters 1 2

Both files hold every card of `rooflib/data/cards/*.yaml` (or of the chapters given), one Anki
sub-deck per chapter ("Roofline Economics::01 Batching", ...). Numeric answers are computed by
rooflib at each card's default parameters and shown with their units. Each note's GUID is a hash
of its card id, so importing a newer export updates the existing notes instead of adding
duplicates; the package's timestamp is fixed, so two builds hold the same collection.
Anki: File > Import, pick the .apkg (or the .tsv, with Anki 2.1.55 or later, which reads its
header lines: note type Basic, HTML fields, GUID, tags and deck columns).
"""
from __future__ import annotations

import argparse
import html
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooflib import cards  # noqa: E402  (after the path set-up above)
from rooflib.card_text import to_html  # noqa: E402
from rooflib.leitner import atomic_write  # noqa: E402
from rooflib.safe_eval import ExpressionError  # noqa: E402

BASENAME = "roofline-economics"
DECK_NAME = "Roofline Economics"
# Anki matches note types and decks by id and notes by GUID: these never change, or a re-import
# would add a second copy of every card instead of updating the first.
ANKI_MODEL_ID = 1_607_392_641
ANKI_DECK_ID = 2_059_400_100           # + the chapter: one sub-deck per chapter
ANKI_TIMESTAMP = 1_767_225_600.0       # 2026-01-01T00:00:00Z: fixed, so builds are reproducible
ANKI_CSS = """.card { font-family: system-ui, sans-serif; font-size: 20px; text-align: left;
  color: #222; background: #fff; max-width: 40em; margin: 0 auto; }
.answer { font-weight: bold; }
.back { margin-top: 0.6em; }
.meta { color: #777; font-size: 14px; margin-top: 1em; }"""
TSV_COLUMNS = ("GUID", "Front", "Back", "Tags", "Deck")


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


def anki_package(deck: list, notes: list) -> bytes:
    """The .apkg: one sub-deck per chapter ('Roofline Economics::01 Batching', ...)."""
    import genanki

    model = genanki.Model(
        ANKI_MODEL_ID, f"{DECK_NAME} (basic)",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}",
                    "afmt": '{{FrontSide}}<hr id="answer">{{Back}}'}],
        css=ANKI_CSS)
    decks: dict[int, genanki.Deck] = {}
    for card, (guid, front, back, tags) in zip(deck, notes):
        if card.chapter not in decks:
            decks[card.chapter] = genanki.Deck(ANKI_DECK_ID + card.chapter, deck_name(card))
        decks[card.chapter].add_note(genanki.Note(model=model, fields=[front, back], tags=tags, guid=guid))
    buffer = io.BytesIO()
    genanki.Package([decks[ch] for ch in sorted(decks)]).write_to_file(buffer, timestamp=ANKI_TIMESTAMP)
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


def build(out_dir: Path, chapters=None) -> tuple[Path, Path, list]:
    """Write the .apkg and the .tsv into `out_dir`; return their paths and the cards."""
    deck = cards.load_all(chapters)
    notes = [anki_note(card) for card in deck]  # every answer computed before anything is written
    apkg, tsv = out_dir / f"{BASENAME}.apkg", out_dir / f"{BASENAME}.tsv"
    atomic_write(apkg, anki_package(deck, notes), mode=_shared_mode())
    atomic_write(tsv, tsv_text(deck, notes), mode=_shared_mode())
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
    except (cards.CardError, ExpressionError, LookupError) as e:
        print(f"make_cards: {e}", file=sys.stderr)
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
