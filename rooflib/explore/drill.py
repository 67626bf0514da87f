"""The flashcard drill: spaced repetition (Leitner boxes) over the course's decks, in a notebook.

    from rooflib.explore.drill import flashcard_drill
    flashcard_drill()                                   # every chapter, progress in ~/.roofline_progress.json
    flashcard_drill(chapters=[1, 2], progress_path="my_progress.json", today="2026-03-01")

A numeric card asks for a number and checks it with the card's tolerance (the answer is never
evaluated, only read as a number; an empty box or a word is not an answer and costs nothing). A concept card shows its answer on request and asks you to
grade yourself: Again (back to box 1), Good (one box up) or Easy (two boxes up). A card seen
before is re-asked with other chips, models or contexts drawn from today's date, and rooflib
recomputes the answer. Every review is saved at once, atomically, and merged with what another
drill on the same file saved meanwhile (`rooflib.course.leitner.Progress`). A progress file the drill
cannot use (a folder, a file from a newer version) is named in the drill and left untouched.

The same operations work without widgets (`submit`, `reveal`, `rate`), which is how the tests
drive it.
"""
from __future__ import annotations

import datetime as dt
import html
import numbers
from pathlib import Path

import ipywidgets as widgets

from ..course.card_grading import Grade, grade
from ..course.card_text import to_html
from ..course.cards import Card, CardInstance, ask, load_all
from ..course.leitner import BOXES, SELF_GRADES, Progress, ProgressError, as_date
from ..course.safe_eval import ExpressionError


def _widget_html(text: str) -> str:
    """Card text for an ipywidgets HTMLMath: literal $ escaped, or MathJax would read '$2' as math."""
    return to_html(text).replace("$", r"\$")


def _show(widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def _display_path(path: Path) -> str:
    """The progress file as a person would write it: '~/...' under the home folder, else its name."""
    try:
        return "~/" + path.resolve().relative_to(Path.home().resolve()).as_posix()
    except (ValueError, RuntimeError, OSError):
        return path.name


def _today(today) -> dt.date:
    if today is None:
        return dt.date.today()
    try:
        return as_date(today)
    except (TypeError, ValueError):
        raise ValueError(f"today must be a date or text such as '2026-03-02', got {today!r}") from None


def _new_per_day(n) -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"new_per_day must be a whole number >= 0 (or None: no limit), got {n!r}")
    return int(n)


class Drill:
    """One drilling session: the cards due `today`, asked one after another."""

    def __init__(self, chapters=None, progress_path=None, today=None, new_per_day: int | None = 20,
                 cards=None):
        self.cards = list(cards) if cards is not None else load_all(chapters)
        self.today = _today(today)
        new_per_day = _new_per_day(new_per_day)
        self.reviewed = 0
        self.current: CardInstance | None = None
        self.phase = "finished"
        self.last_grade: Grade | None = None
        self.error = ""
        self.prompt = ""   # what to do when an answer could not be read
        # A file the drill cannot use stops the session before it starts, with the reason on screen
        # (a notebook user should not have to read a traceback); the file is left as it is.
        self.progress: Progress | None = None
        self.refused = ""
        try:
            self.progress = Progress(progress_path)
        except ProgressError as e:
            self.refused = f"No session: {e}"
        self.queue = self.progress.due(self.cards, self.today, new_per_day) if self.progress else []
        self._build()
        self.next()

    # ---- the session, without widgets --------------------------------------------------------
    def _seed(self, card: Card):
        """None (the book's defaults) the first time a card is seen; later a draw from the date."""
        entry = self.progress.entry(card.id) if self.progress else None
        if entry is None:
            return None
        return f"{self.today.isoformat()}/{entry.get('reviews', 0)}"

    def next(self) -> CardInstance | None:
        """Move to the next due card (None when the session is over)."""
        self.last_grade = None
        self.error = self.prompt = ""
        self.current, self.phase = None, "finished"
        while self.queue:
            card = self.queue.pop(0)
            try:
                self.current = ask(card, self._seed(card))
            except ExpressionError as e:  # a card rooflib cannot compute today: skip it, say so
                self.error = f"Skipped card {card.id}: {e}"
                continue
            self.phase = "question"
            break
        self._refresh()
        return self.current

    def _record(self, outcome: str) -> bool:
        """Save one review; on failure keep the old file, say so, and return False."""
        try:
            self.progress.record(self.current.card.id, outcome, self.today)
        except (OSError, ProgressError) as e:
            self.error = (f"Could not save your progress ({type(e).__name__}: {e}); "
                          "the previous file is unchanged. Try again, or set another progress file.")
            return False
        self.error = ""
        self.reviewed += 1
        return True

    def submit(self, answer) -> Grade:
        """Check an answer to the current numeric card, record it, and show the back."""
        if self.current is None or self.phase != "question":
            return Grade(False, "again", "No question is waiting for an answer.")
        if not self.current.numeric:
            return Grade(False, "again", "This card has no numeric answer: reveal it and rate yourself.")
        g = grade(self.current, answer)
        if not g.answered:  # an empty box or a word: say so, record nothing, ask again
            self.prompt = g.message
            self._refresh(keep_answer=True)
            return g
        self.prompt = ""
        self.last_grade = g
        self._record(g.outcome)
        self.phase = "answered"
        self._refresh()
        return g

    def reveal(self) -> None:
        """Show the back of the current concept card."""
        if self.current is not None and self.phase == "question" and not self.current.numeric:
            self.phase = "revealed"
            self._refresh()

    def rate(self, outcome: str) -> Grade:
        """Self-grade the current concept card ('again', 'good', 'easy'), record it, move on."""
        if self.current is None or self.phase not in ("question", "revealed") or self.current.numeric:
            return Grade(False, "again", "Nothing to rate now.")
        g = grade(self.current, outcome)
        if isinstance(outcome, str) and outcome.strip().lower() in SELF_GRADES:
            if self._record(g.outcome):
                self.next()
            else:  # stay on the card so the learner can retry
                self.phase = "revealed"
                self._refresh()
        return g

    @property
    def remaining(self) -> int:
        return len(self.queue) + (1 if self.phase in ("question", "revealed") else 0)

    # ---- widgets -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.header = widgets.HTML()
        self.front = widgets.HTMLMath()
        self.answer_box = widgets.Text(placeholder="your answer, e.g. 5411, 5.4k or 2.5e-3",
                                       layout=widgets.Layout(width="260px"))
        self.unit_label = widgets.HTML()
        self.check_button = widgets.Button(description="Check", button_style="primary")
        self.show_button = widgets.Button(description="Show answer", button_style="primary")
        self.feedback = widgets.HTMLMath()
        self.back = widgets.HTMLMath()
        self.rate_buttons = {o: widgets.Button(description=o.capitalize(), button_style=style)
                             for o, style in (("again", "danger"), ("good", "success"), ("easy", "info"))}
        self.next_button = widgets.Button(description="Next card")
        self.check_button.on_click(lambda _: self.submit(self.answer_box.value))
        self.show_button.on_click(lambda _: self.reveal())
        for outcome, button in self.rate_buttons.items():
            button.on_click(lambda _, o=outcome: self.rate(o))
        self.next_button.on_click(lambda _: self.next())
        self.answer_row = widgets.HBox([self.answer_box, self.unit_label, self.check_button])
        self.rate_row = widgets.HBox(list(self.rate_buttons.values()))
        self.widget = widgets.VBox([self.header, self.front, self.answer_row, self.show_button,
                                    self.feedback, self.back, self.rate_row, self.next_button],
                                   layout=widgets.Layout(max_width="760px"))

    def _status(self) -> str:
        if self.progress is None:
            return f"<b>Flashcards</b>: {html.escape(self.refused)}"
        boxes = self.progress.boxes(self.cards)
        counts = " · ".join(f"box {b}: {boxes[b]}" for b in range(1, BOXES + 1))
        text = (f"<b>Flashcards</b>: {self.remaining} due today ({self.today.isoformat()}), "
                f"{self.reviewed} reviewed this session. New: {boxes[0]} · {counts}. "
                f"<small>Progress file: <code>{_display_path(self.progress.path)}</code></small>")
        if self.progress.notice:
            text += f"<br><b>Note:</b> {html.escape(self.progress.notice)}"
        if self.error:
            text += f"<br><b>Note:</b> {html.escape(self.error)}"
        return text

    def _refresh(self, keep_answer: bool = False) -> None:
        self.header.value = self._status()
        q = self.current
        if q is None:
            if self.progress is None:
                self.front.value = "<p>Set another progress file and run the cell again.</p>"
            else:
                nxt = self.progress.next_due(self.cards)
                when = f" Next review: {nxt.isoformat()}." if nxt else ""
                self.front.value = f"<p>Nothing more is due today.{when}</p>"
            for w in (self.answer_row, self.show_button, self.feedback, self.back, self.rate_row,
                      self.next_button):
                _show(w, False)
            return
        box = self.progress.box(q.card.id) if self.progress else 0
        where = f"chapter {q.card.chapter}, {'new card' if box == 0 else f'box {box}'}"
        self.front.value = (f"<p><small>{where}</small></p>"
                            f"<p style='font-size:1.1em'>{_widget_html(q.front)}</p>")
        answered = self.phase == "answered"
        revealed = self.phase == "revealed"
        _show(self.answer_row, q.numeric and not answered)
        self.unit_label.value = f"&nbsp;{q.unit}&nbsp;" if q.unit else ""
        _show(self.show_button, not q.numeric and self.phase == "question")
        _show(self.rate_row, not q.numeric and revealed)
        _show(self.next_button, answered)
        if q.numeric and answered and self.last_grade is not None:
            colour = "#1a7f37" if self.last_grade.correct else "#b42318"
            message = _widget_html(self.last_grade.message)
            self.feedback.value = f"<p style='color:{colour}'><b>{message}</b></p>"
        elif self.phase == "question" and self.prompt:
            self.feedback.value = f"<p>{_widget_html(self.prompt)}</p>"
        else:
            self.feedback.value = ""
        if answered or revealed:
            answer = f"<p><b>{_widget_html(q.answer_text)}</b></p>" if q.numeric else ""
            self.back.value = f"{answer}<p>{_widget_html(q.back)}</p>"
        else:
            self.back.value = ""
        if self.phase == "question" and not keep_answer:
            self.answer_box.value = ""

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def flashcard_drill(chapters=None, progress_path=None, today=None, new_per_day: int | None = 20) -> Drill:
    """A drill over `chapters` (default: all), saving to `progress_path` (default:
    ``$ROOFLINE_PROGRESS`` or ``~/.roofline_progress.json``), as of `today` (default: today).
    At most `new_per_day` cards never seen before are added to a session."""
    return Drill(chapters=chapters, progress_path=progress_path, today=today, new_per_day=new_per_day)
