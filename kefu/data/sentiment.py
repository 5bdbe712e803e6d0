"""The labels of a bot's sentiment head, and the check that a sentiment file uses only those."""

from kefu.data.examples import Example
from kefu.problems import Problem

# The dialogue policy hands a conversation to a person on a confident `negative`: a file that spells it
# `neg` or `0` would silently switch that off, so bot projects must use exactly these.
SENTIMENT_LABELS = ("negative", "neutral", "positive")


def sentiment_label_issues(examples: list[Example]) -> list[Problem]:
    """An error, at its line, for every example whose label is not one of SENTIMENT_LABELS."""
    allowed = ", ".join(SENTIMENT_LABELS)
    return [
        Problem(e.source, e.line, f"sentiment label {e.label!r} is not one of {allowed}", skipped_index=index)
        for index, e in enumerate(examples)
        if e.label not in SENTIMENT_LABELS
    ]
