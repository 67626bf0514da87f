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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rooflib import cards  # noqa: E402  (after the path set-up above)

BASENAME = "roofline-economics"


def build(out_dir: Path, chapters=None) -> tuple[Path, Path, list]:
    """Write the .apkg and the .tsv into `out_dir`; return their paths and the cards."""
    deck = cards.load_all(chapters)
    for card in deck:  # fail before writing anything if a card cannot be computed
        if card.numeric:
            card.value()
    apkg = cards.anki_package(deck, out_dir / f"{BASENAME}.apkg")
    tsv = cards.anki_tsv(deck, out_dir / f"{BASENAME}.tsv")
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
    except (cards.CardError, cards.ExpressionError, LookupError) as e:
        print(f"make_cards: {e}", file=sys.stderr)
        return 1
    per_chapter: dict[int, int] = {}
    for card in deck:
        per_chapter[card.chapter] = per_chapter.get(card.chapter, 0) + 1
    for chapter, n in sorted(per_chapter.items()):
        name = next(c.deck_name for c in deck if c.chapter == chapter)
        print(f"  {name:<42} {n:>4} cards")
    print(f"wrote {_shown(apkg)} and {_shown(tsv)}: {len(deck)} cards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
