"""How well a redactor does on a labelled corpus: recall per kind of personal data, false positives on
look-alike messages (order ids, prices, dates, tracking numbers, invalid ID and card numbers).

A corpus is JSON lines ``{"text": ..., "pii": [{"type": "phone", "value": "138 1234 5678"}], "lang": "zh"}``;
a line with ``"pii": []`` is a look-alike. A mention counts as found when a span of its type covers it.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kefu.errors import DataError
from kefu.privacy.redactor import Redactor
from kefu.privacy.spans import Span


@dataclass
class CorpusScore:
    """Counts over a corpus; ``missed`` and ``false_positives`` keep the texts, for reading the misses."""

    total: Counter = field(default_factory=Counter)  # mentions per type
    found: Counter = field(default_factory=Counter)
    lookalikes: int = 0  # messages without personal data
    missed: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    false_positives: list[str] = field(default_factory=list)  # look-alike texts with a span
    extra_spans: int = 0  # spans in messages with personal data that cover no labelled mention

    def recall(self, pii_type: str | None = None) -> float:
        """Found over total mentions, of one type or of all."""
        total = self.total[pii_type] if pii_type else sum(self.total.values())
        found = self.found[pii_type] if pii_type else sum(self.found.values())
        return found / total if total else 1.0

    @property
    def false_positive_rate(self) -> float:
        """The share of look-alike messages in which anything was redacted."""
        return len(self.false_positives) / self.lookalikes if self.lookalikes else 0.0


def read_corpus(path: str | Path) -> list[dict]:
    """The corpus lines; DataError when a labelled value does not occur in its text."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, row in enumerate(rows, 1):
        for mention in row["pii"]:
            if mention["value"] not in row["text"]:
                raise DataError(f"{path}:{number}: {mention['value']!r} is not in the text")
    return rows


def _covers(spans: list[Span], pii_type: str, start: int, end: int) -> Span | None:
    return next((s for s in spans if s.type == pii_type and s.start <= start and s.end >= end), None)


def score_corpus(redactor: Redactor, rows: list[dict]) -> CorpusScore:
    """Run ``redactor`` over every corpus line and count what it found, missed and wrongly masked."""
    score = CorpusScore()
    for row in rows:
        text, spans = row["text"], redactor.find(row["text"])
        if not row["pii"]:
            score.lookalikes += 1
            if spans:
                score.false_positives.append(text)
            continue
        matched = set()
        for mention in row["pii"]:
            start = text.index(mention["value"])
            span = _covers(spans, mention["type"], start, start + len(mention["value"]))
            score.total[mention["type"]] += 1
            if span is None:
                score.missed.append((mention["type"], text))
            else:
                score.found[mention["type"]] += 1
                matched.add(span)
        score.extra_spans += len(set(spans) - matched)
    return score
