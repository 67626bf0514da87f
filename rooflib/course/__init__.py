"""The course machinery, kept apart from the model code so that `ls rooflib` shows the model.

    from rooflib.course.checks import check, explain     # an exercise's answer check
    from rooflib.course.variants import variant          # a student's own numbers
    from rooflib.course import cards                     # the flashcard decks

    answers/        answer keys, one module per chapter (chNN.py), loaded on first use
    checks          check(), explain(): compare an answer with its key, hint at the classic mistakes
    variants        per-student variants of an exercise's numbers (seeded, the same on every machine)
    cards           flashcard decks (rooflib/data/cards/NN_topic.yaml), their numbers computed by rooflib
    card_text       card text for people: slots filled in, numbers with units, Markdown and HTML
    card_grading    judge a typed answer to a card
    leitner         Leitner boxes and the progress file
    safe_eval       the evaluator of card expressions (a syntax tree, never `eval`)

Imports point down: this package uses the model code; nothing in the model code imports it
(tests/test_architecture.py). The flashcard drill widget is `rooflib.explore.drill`.
"""
