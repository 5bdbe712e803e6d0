"""Topics and sentiment of every text in a file, over time and by source (``kefu analyze``).

The file is read a batch at a time (:func:`kefu.data.stream.stream_rows`); each batch is scored by a
:class:`Scorer` (a topic model's intent head, and a sentiment head), written to ``texts.csv`` and folded
into running counts: topics, sentiment per topic, both per time bucket and per source, characteristic
terms (:class:`kefu.analysis.terms.TermCounter`) and the most confidently classified texts of each topic
(bounded heaps). Memory holds one batch and those counts, whatever the file's length.

Rows that cannot be analysed (bad JSON, a CSV record of the wrong width, an empty text, a timestamp that
cannot be read) are skipped and listed with their line numbers; the rest is analysed. The outputs are
written under temporary names and renamed at the end, so a run that fails leaves no complete-looking
report behind.
"""

import csv
import heapq
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from kefu import __version__
from kefu.analysis.terms import TermCounter
from kefu.data.loaders import TEXT_COLUMNS
from kefu.data.stream import STREAMED, Row, RowStream, stream_rows
from kefu.errors import DataError, KefuError
from kefu.nlu.batch import ByteProgress, batches

# Column names looked for, in this order, when no --*-col option names one (matching ignores case).
TEXT_NAMES = ("text", "content", "comment", "review", "headline", "title", "body", "tweet") + tuple(
    name for name in TEXT_COLUMNS if name not in ("text", "content", "review")
)
TIME_NAMES = ("created_at", "timestamp", "time", "date", "datetime", "published_at", "posted_at")
SOURCE_NAMES = ("source", "channel", "platform")
ID_NAMES = ("id", "tweet_id")

# Texts read and scored per round. The model sorts a round by length and runs it in batches of
# ENCODER_BATCH: the bigger the round, the closer in length the texts of each batch, and padding is
# wasted work (on 36,000 headlines, rounds of 256 ran the encoder at 265 texts/s, of 1024 at 339).
BATCH_SIZE = 1024
ENCODER_BATCH = 32
MAX_SKIPPED_LISTED = 1000  # skipped rows listed in summary.json; all are counted
MAX_SOURCES = 200  # distinct sources counted; any further ones count as OTHER_SOURCE
OTHER_SOURCE, NO_SOURCE = "(other)", "(none)"
EXAMPLE_CHARS = 1000  # an example's text is cut to this length
OUTPUTS = ("texts.csv", "summary.json", "report.html")
TEXTS_COLUMNS = [
    "text",
    "topic",
    "topic_confidence",
    "sentiment",
    "sentiment_confidence",
    "timestamp",
    "source",
]


class Scores(NamedTuple):
    """One batch's scores, one entry per text; the sentiment lists hold None without a sentiment model."""

    topics: list[str]
    topic_confidence: list[float]
    sentiments: list[str | None]
    sentiment_confidence: list[float | None]


class Scorer(Protocol):
    """What the analysis needs of its models: every topic and sentiment label, and a batch's scores."""

    topics: list[str]
    sentiments: list[str]  # [] without a sentiment model

    def score(self, texts: list[str]) -> Scores: ...


class TopicSentimentScorer:
    """A topic model's intent head (the topics) and a sentiment head, from :meth:`Model.outputs`: one
    forward pass per batch when both heads are in the same model, no entity decoding or out-of-scope
    decision (what :meth:`Model.predict` adds and a topic count does not need)."""

    def __init__(self, topic_model, sentiment_model=None) -> None:
        self.topic_model = topic_model
        if sentiment_model is None and topic_model.sentiments:
            sentiment_model = topic_model
        self.sentiment_model = sentiment_model
        self.topics = list(topic_model.labels)
        self.sentiments = list(sentiment_model.sentiments) if sentiment_model is not None else []

    @classmethod
    def load(cls, model_dir: str | Path, sentiment_dir: str | Path | None = None) -> "TopicSentimentScorer":
        """The topic model of ``model_dir`` with the sentiment head of ``sentiment_dir`` (loaded once if it
        is the same directory), else its own sentiment head if it has one, else no sentiment."""
        from kefu.nlu.model import Model

        topic = Model.load(model_dir)
        sentiment = None
        if sentiment_dir is not None:
            same = Path(sentiment_dir).resolve() == Path(model_dir).resolve()
            sentiment = topic if same else Model.load(sentiment_dir)
            if not sentiment.sentiments:
                raise KefuError(
                    f"{sentiment_dir}: the model has no sentiment head (train it with --sentiment)"
                )
        return cls(topic, sentiment)

    def score(self, texts: list[str]) -> Scores:
        out = self.topic_model.outputs(texts, batch_size=ENCODER_BATCH)
        confidence, best = out.intent.max(dim=-1)
        topics = [self.topics[i] for i in best.tolist()]
        if self.sentiment_model is None:
            return Scores(topics, confidence.tolist(), [None] * len(texts), [None] * len(texts))
        probs = out.sentiment if self.sentiment_model is self.topic_model else None
        if probs is None:
            probs = self.sentiment_model.outputs(texts, batch_size=ENCODER_BATCH).sentiment
        mood_confidence, mood = probs.max(dim=-1)
        moods = [self.sentiments[i] for i in mood.tolist()]
        return Scores(topics, confidence.tolist(), moods, mood_confidence.tolist())


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str

    def to_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason}


@dataclass
class Summary:
    """What :func:`analyze_file` found; ``data`` is what summary.json holds."""

    out_dir: Path
    rows: int
    skipped: int
    seconds: float
    data: dict

    @property
    def texts_per_second(self) -> float:
        return self.rows / max(self.seconds, 1e-9)


# ---------------------------------------------------------------------------------------------- time

_MONTHS = {
    m: n
    for n, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Twitter's "Tue Oct 31 23:36:20 +0000 2017"
_TWITTER = re.compile(
    r"(?:[a-z]{3},?\s+)?([a-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d\d):(\d\d)\s+([+-]\d{4})\s+(\d{4})",
    re.IGNORECASE,
)
# "2017/10/31 23:36", "2017.10.31", "2017年10月31日 23:36:20"
_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[\sT]*(\d{1,2}):(\d\d)(?::(\d\d))?)?"
)
_EPOCH = re.compile(r"\d{9,13}(?:\.\d+)?")  # seconds (9-11 digits) or milliseconds (12-13) since 1970
_EPOCH_START = datetime(1970, 1, 1)


def parse_time(value: Any) -> datetime | None:
    """``value`` as a naive UTC datetime (a time without an offset is taken as it is written), or None.

    Reads ISO 8601 ("2017-10-31T23:36:20Z", "2017-10-31 23:36:20", "2017-10-31"), Twitter's
    "Tue Oct 31 23:36:20 +0000 2017", RFC 2822 ("Tue, 31 Oct 2017 23:36:20 +0000"), "2017/10/31 23:36",
    "2017年10月31日" and epoch seconds (or milliseconds), as a number or a string."""
    try:
        return _utc(_parsed(value))
    except (ValueError, TypeError, OverflowError, IndexError):
        return None


def _parsed(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip()
    if _EPOCH.fullmatch(text):
        return _from_epoch(float(text))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if m := _TWITTER.fullmatch(text):
        month, day, hour, minute, second, offset, year = m.groups()
        stamp = (
            f"{year}-{_MONTHS[month.lower()]:02d}-{int(day):02d}T{int(hour):02d}:{minute}:{second}{offset}"
        )
        return datetime.fromisoformat(stamp)
    if m := _DATE.fullmatch(text):
        year, month, day, hour, minute, second = (int(g or 0) for g in m.groups())
        return datetime(year, month, day, hour, minute, second)
    return parsedate_to_datetime(text)


def _from_epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds: 1e11 seconds is the year 5138
        seconds /= 1000
    return datetime.fromtimestamp(seconds, UTC)


def _utc(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(UTC).replace(tzinfo=None)


_UNITS = {"hour": 1, "day": 24, "week": 24 * 7}  # hours per bucket


def _bucket(hour: int, unit: str) -> int:
    """The first hour (since 1970-01-01 00:00) of the ``unit`` that ``hour`` falls in; weeks start on Monday."""
    if unit == "hour":
        return hour
    day = hour // 24
    if unit == "day":
        return day * 24
    return (day - (day + 3) % 7) * 24  # 1970-01-01 was a Thursday (weekday 3)


def _label(hour: int, unit: str) -> str:
    when = _EPOCH_START + timedelta(hours=hour)
    return when.strftime("%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d")


class TimeCounts:
    """Texts per topic and per sentiment in each time bucket, in bounded memory: counted per hour until
    there are more than ``max_buckets`` buckets, then per day, then per week. The unit reported is the
    hour for a span under 2 days, the week for one over 120 days, else the day."""

    def __init__(self, max_buckets: int = 5000) -> None:
        self.max_buckets = max_buckets
        self.unit = "hour"
        self.total: Counter[int] = Counter()
        self.topics: Counter[tuple[int, str]] = Counter()
        self.sentiments: Counter[tuple[int, str]] = Counter()
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.missing = 0  # texts without a timestamp

    def add(self, when: datetime | None, topic: str, sentiment: str | None) -> None:
        if when is None:
            self.missing += 1
            return
        self.first = when if self.first is None or when < self.first else self.first
        self.last = when if self.last is None or when > self.last else self.last
        key = _bucket((when - _EPOCH_START) // timedelta(hours=1), self.unit)
        self.total[key] += 1
        self.topics[key, topic] += 1
        if sentiment is not None:
            self.sentiments[key, sentiment] += 1
        if len(self.total) > self.max_buckets and self.unit != "week":
            self._coarsen("day" if self.unit == "hour" else "week")

    def _coarsen(self, unit: str) -> None:
        self.unit = unit
        self.total = _rekeyed(self.total, lambda k: _bucket(k, unit))
        self.topics = _rekeyed(self.topics, lambda k: (_bucket(k[0], unit), k[1]))
        self.sentiments = _rekeyed(self.sentiments, lambda k: (_bucket(k[0], unit), k[1]))

    def to_dict(self, topics: Sequence[str], sentiments: Sequence[str], trim: float = 0.005) -> dict | None:
        """Counts per bucket from the first to the last bucket with texts, empty ones included. A few
        stray timestamps far from the rest (a tweet from four years before the others) would stretch the
        axis over years of empty buckets: texts far (over a quarter of the range, and a day) outside the
        range of the central ``1 - 2 * trim`` of them are left out of the buckets and counted in
        ``outside``; texts without a timestamp are counted in ``missing``. None without any timestamp."""
        if self.first is None:
            return None
        keys = sorted(self.total)
        lo, hi = _central(keys, self.total, trim * sum(self.total.values()))
        margin = max((keys[hi] - keys[lo]) // 4, 24)
        lo = next(i for i, k in enumerate(keys) if k >= keys[lo] - margin)
        hi = max(i for i, k in enumerate(keys) if k <= keys[hi] + margin)
        span = keys[hi] - keys[lo]  # hours
        unit = "hour" if span < 48 else "day" if span <= 120 * 24 else "week"
        if _UNITS[unit] < _UNITS[self.unit]:
            unit = self.unit
        inside = range(keys[lo], keys[hi] + 1)
        total = _rekeyed(self.total, lambda k: _bucket(k, unit) if k in inside else None)
        by_topic = _rekeyed(self.topics, lambda k: (_bucket(k[0], unit), k[1]) if k[0] in inside else None)
        by_mood = _rekeyed(self.sentiments, lambda k: (_bucket(k[0], unit), k[1]) if k[0] in inside else None)
        step = _UNITS[unit]
        shown = sorted(k for k in total if k is not None)
        if (shown[-1] - shown[0]) // step < self.max_buckets:
            shown = list(range(shown[0], shown[-1] + 1, step))
        return {
            "unit": unit,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "buckets": [_label(k, unit) for k in shown],
            "total": [total[k] for k in shown],
            "topics": {t: [by_topic[k, t] for k in shown] for t in topics},
            "sentiments": {s: [by_mood[k, s] for k in shown] for s in sentiments},
            "outside": {
                "before": sum(n for k, n in self.total.items() if k < keys[lo]),
                "after": sum(n for k, n in self.total.items() if k > keys[hi]),
            },
            "missing": self.missing,
        }


def _central(keys: list[int], counts: Counter, limit: float) -> tuple[int, int]:
    """Indices of the first and last of the sorted ``keys`` once at most ``limit`` counts are dropped from
    either end (whole buckets only, never all of them)."""
    lo, hi, dropped = 0, len(keys) - 1, 0
    while lo < hi and dropped + counts[keys[lo]] <= limit:
        dropped += counts[keys[lo]]
        lo += 1
    dropped = 0
    while hi > lo and dropped + counts[keys[hi]] <= limit:
        dropped += counts[keys[hi]]
        hi -= 1
    return lo, hi


def _rekeyed(counts: Counter, key: Callable) -> Counter:
    out: Counter = Counter()
    for k, n in counts.items():
        out[key(k)] += n
    return out


# ------------------------------------------------------------------------------------------ counting

_NOT_WORDS = re.compile(r"https?://\S+|www\.\S+|@\w+|&(?:amp|lt|gt|quot|#\d+);", re.IGNORECASE)


class Analysis:
    """The running counts of an analysis; :meth:`add` one scored text at a time."""

    def __init__(
        self, topics: Sequence[str], sentiments: Sequence[str], examples: int = 5, time: bool = False
    ) -> None:
        self.topic_names, self.sentiment_names = list(topics), list(sentiments)
        self.n_examples = examples
        self.rows = 0
        self.topics: Counter[str] = Counter()
        self.sentiments: Counter[str] = Counter()
        self.sentiment_by_topic: dict[str, Counter[str]] = {}
        self.time = TimeCounts() if time else None
        self.sources: Counter[str] = Counter()  # at most MAX_SOURCES names, then OTHER_SOURCE
        self.source_topics: dict[str, Counter[str]] = {}
        self.source_sentiments: dict[str, Counter[str]] = {}
        self.terms = TermCounter()
        self._examples: dict[str, list[tuple[float, int, dict]]] = {}

    def add(
        self, item: "Item", topic: str, confidence: float, sentiment: str | None, mood_conf: float | None
    ):
        self.rows += 1
        self.topics[topic] += 1
        if sentiment is not None:
            self.sentiments[sentiment] += 1
            self.sentiment_by_topic.setdefault(topic, Counter())[sentiment] += 1
        if self.time is not None:
            self.time.add(item.when, topic, sentiment)
        if item.source is not None:
            self._add_source(item.source, topic, sentiment)
        self.terms.add(topic, _NOT_WORDS.sub(" ", item.text))
        heap = self._examples.setdefault(topic, [])
        if len(heap) < self.n_examples or (confidence, -item.line) > heap[0][:2]:
            example = {
                "line": item.line,
                **({"id": item.row.id} if item.row.has_id else {}),
                "text": item.text[:EXAMPLE_CHARS],
                "confidence": round(confidence, 4),
                "sentiment": sentiment,
                "sentiment_confidence": None if mood_conf is None else round(mood_conf, 4),
                "timestamp": item.timestamp,
                "source": item.source,
            }
            entry = (confidence, -item.line, example)  # ties: the earlier line is kept
            if len(heap) < self.n_examples:
                heapq.heappush(heap, entry)
            else:
                heapq.heapreplace(heap, entry)

    def _add_source(self, source: str, topic: str, sentiment: str | None) -> None:
        if source not in self.sources and len(self.sources) >= MAX_SOURCES:
            source = OTHER_SOURCE
        self.sources[source] += 1
        self.source_topics.setdefault(source, Counter())[topic] += 1
        if sentiment is not None:
            self.source_sentiments.setdefault(source, Counter())[sentiment] += 1

    def to_dict(self, n_terms: int = 10) -> dict:
        """The counts as summary.json reports them: topics by count (the most frequent first, then by
        name, topics no text fell in last), shares of all analysed rows."""
        order = sorted(self.topic_names, key=lambda t: (-self.topics[t], t))
        order += sorted(set(self.topics) - set(order))  # a scorer's topic outside its list, if any
        has_sentiment = bool(self.sentiment_names)
        terms = self.terms.top(n_terms)
        return {
            "topics": {
                t: {"count": self.topics[t], "share": _share(self.topics[t], self.rows)} for t in order
            },
            "sentiments": self.sentiment_names,
            "sentiment_counts": (
                {s: self.sentiments[s] for s in self.sentiment_names} if has_sentiment else None
            ),
            "sentiment_by_topic": (
                {
                    t: {s: self.sentiment_by_topic.get(t, Counter())[s] for s in self.sentiment_names}
                    for t in order
                }
                if has_sentiment
                else None
            ),
            "time": self.time.to_dict([t for t in order if self.topics[t]], self.sentiment_names)
            if self.time is not None
            else None,
            "sources": self._sources_dict(order) if self.sources else None,
            "terms": {t: [term.to_dict() for term in terms.get(t, [])] for t in order if self.topics[t]},
            "examples": {
                t: [e for _, _, e in sorted(self._examples[t], key=lambda e: (-e[0], -e[1]))]
                for t in order
                if t in self._examples
            },
        }

    def _sources_dict(self, order: list[str]) -> dict:
        result = {}
        for name, count in sorted(self.sources.items(), key=lambda item: (-item[1], item[0])):
            topics = self.source_topics[name]
            result[name] = {
                "count": count,
                "share": _share(count, self.rows),
                "topics": {t: topics[t] for t in order if topics[t]},
            }
            if self.sentiment_names:
                moods = self.source_sentiments.get(name, Counter())
                result[name]["sentiments"] = {s: moods[s] for s in self.sentiment_names}
        return result


def _share(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


# ------------------------------------------------------------------------------------------ the file


@dataclass
class Item:
    """A row that can be analysed: its text, and its time and source when the file has those columns."""

    row: Row
    when: datetime | None
    timestamp: str | None  # `when` as ISO 8601
    source: str | None

    @property
    def line(self) -> int:
        return self.row.line

    @property
    def text(self) -> str:
        return self.row.text


class _Skips:
    def __init__(self, on_skip: Callable[[Skipped], None] | None) -> None:
        self.count, self.listed, self.on_skip = 0, [], on_skip

    def __call__(self, line: int, reason: str) -> None:
        skipped = Skipped(line, reason)
        self.count += 1
        if len(self.listed) < MAX_SKIPPED_LISTED:
            self.listed.append(skipped)
        if self.on_skip is not None:
            self.on_skip(skipped)


def _items(rows: Iterator[Row], columns: dict, skip: _Skips) -> Iterator[Item]:
    """The rows that can be analysed; the others go to ``skip`` with the reason."""
    for row in rows:
        if not row.text.strip():
            skip(row.line, "empty text")
            continue
        when = timestamp = source = None
        if columns.get("time") is not None:
            value = row.extra.get("time")
            if value is not None and str(value).strip():  # a row without one is analysed all the same
                when = parse_time(value)
                if when is None:
                    shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "..."
                    skip(row.line, f"cannot read the timestamp {shown!r}")
                    continue
                timestamp = when.isoformat()
        if columns.get("source") is not None:
            value = row.extra.get("source")
            source = str(value).strip() if value is not None and str(value).strip() else NO_SOURCE
        yield Item(row, when, timestamp, source)


def analyze_file(
    source: str | Path,
    scorer: Scorer,
    out_dir: str | Path,
    *,
    text_col: str | None = None,
    time_col: str | None = None,
    source_col: str | None = None,
    id_col: str | None = None,
    batch_size: int = BATCH_SIZE,
    examples: int = 5,
    terms: int = 10,
    progress: bool = False,
    on_skip: Callable[[Skipped], None] | None = None,
    model_name: str | None = None,
    sentiment_model_name: str | None = None,
) -> Summary:
    """Score every text of ``source`` (CSV, TSV, JSONL or TXT) with ``scorer`` and write ``texts.csv``,
    ``summary.json`` and ``report.html`` into ``out_dir`` (created if need be).

    Columns are found by name (``TEXT_NAMES``, ``TIME_NAMES``, ``SOURCE_NAMES``, ``ID_NAMES``) unless an
    option names one; without a time (source) column there is no time (source) breakdown. Rows that
    cannot be analysed are skipped, counted, listed with their line numbers in summary.json and passed
    to ``on_skip`` as they are met. ``examples`` texts per topic (the most confidently classified) and
    ``terms`` characteristic terms per topic are reported."""
    from kefu.analysis.report import render_report

    path, out = Path(source), Path(out_dir)
    if path.suffix.lower() not in STREAMED:
        raise DataError(
            f"{source}: cannot analyse '{path.suffix or path.name}' files; use {', '.join(STREAMED)}"
        )
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    skip = _Skips(on_skip)
    rows = stream_rows(
        path,
        text_col,
        id_col,
        text_names=TEXT_NAMES,
        id_names=ID_NAMES,
        extra={"time": (time_col, TIME_NAMES), "source": (source_col, SOURCE_NAMES)},
        on_error=skip,
    )
    created = not out.exists()
    partials = {name: out / f".{name}.partial" for name in OUTPUTS}
    try:
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        analysis = _run(path, rows, skip, scorer, partials["texts.csv"], batch_size, examples, progress)
        seconds = time.perf_counter() - started
        if analysis.rows == 0:
            why = (
                f" ({skip.count} rows skipped, the first at line {skip.listed[0].line})" if skip.count else ""
            )
            raise DataError(f"{source}: no texts to analyse{why}")
        data = {
            "kefu_version": __version__,
            "input": str(source),
            "model": model_name,
            "sentiment_model": sentiment_model_name if scorer.sentiments else None,
            "columns": {role: rows.columns.get(role) for role in ("text", "id", "time", "source")},
            "rows_analysed": analysis.rows,
            "rows_skipped": skip.count,
            "skipped": [s.to_dict() for s in skip.listed],
            **analysis.to_dict(terms),
            "seconds": round(seconds, 3),
            "texts_per_second": round(analysis.rows / max(seconds, 1e-9), 1),
        }
        partials["summary.json"].write_text(
            json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        partials["report.html"].write_text(render_report(data), encoding="utf-8")
        for name in OUTPUTS:  # the report last: it is there only when the rest is
            partials[name].replace(out / name)
    except OSError as error:
        raise DataError(f"{out}: cannot write ({error.strerror})") from None
    finally:
        for partial in partials.values():
            partial.unlink(missing_ok=True)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
    return Summary(out, analysis.rows, skip.count, seconds, data)


def _run(
    source: Path,
    rows: RowStream,
    skip: _Skips,
    scorer: Scorer,
    texts_csv: Path,
    batch_size: int,
    examples: int,
    progress: bool,
) -> Analysis:
    """Score every row a batch at a time, writing texts.csv and counting as it goes."""
    analysis = None
    with (
        texts_csv.open("w", encoding="utf-8", newline="") as file,
        ByteProgress(source, progress, "analysing") as bar,
    ):
        writer = csv.writer(file)
        for batch in batches(_items(rows, rows.columns, skip), batch_size):
            if analysis is None:  # the header has been read: the columns are known
                has_id = rows.columns.get("id") is not None
                writer.writerow((["id"] if has_id else []) + TEXTS_COLUMNS)
                has_time = rows.columns.get("time") is not None
                analysis = Analysis(scorer.topics, scorer.sentiments, examples, time=has_time)
            scores = scorer.score([item.text for item in batch])
            for item, *scored in zip(batch, *scores, strict=True):
                topic, confidence, sentiment, mood_conf = scored
                analysis.add(item, topic, confidence, sentiment, mood_conf)
                values = [item.text, topic, _rounded(confidence), sentiment, _rounded(mood_conf)]
                values += [item.timestamp, item.source]
                writer.writerow(([item.row.id] if has_id else []) + values)
            bar(batch[-1].row.bytes_read, analysis.rows)
    return analysis or Analysis(scorer.topics, scorer.sentiments, examples)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
