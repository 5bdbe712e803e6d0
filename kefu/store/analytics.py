"""Dashboard numbers, computed in SQL with GROUP BY so they scale with the database, not with Python.

A topic is the predicted intent of a customer turn (``out_of_scope`` included): what customers write about.

A window of `days` means the last `days` UTC calendar days, today included. Days are cut with SQL
`date(created_at)`: SQLite stores UTC and returns 'YYYY-MM-DD'; PostgreSQL returns a date in the session
time zone, which `Store` pins to UTC on every connection. Both are normalised to `datetime.date`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import case, exists, func, select

from kefu.store.base import RepositoryBase, check_positive
from kefu.store.models import TURN_ROLES, Conversation, HandoffTicket, Turn
from kefu.store.records import DayCount, IntentCount, SentimentDay, TopicDay, TopicSentiment, TopicTrend


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _day(column: Any) -> Any:
    """SQL for the UTC calendar day of a timestamp column, portable between SQLite and PostgreSQL."""
    return func.date(column)


class AnalyticsMixin(RepositoryBase):
    """Aggregate queries for the dashboard."""

    def turns_per_day(self, days: int = 30) -> list[DayCount]:
        """Turns per UTC day and role; one entry per day of the window, zeros included, oldest first."""
        start, window = self._window(days)
        day = _day(Turn.created_at)
        stmt = select(day, Turn.role, func.count()).where(Turn.created_at >= start).group_by(day, Turn.role)
        counts: dict[date, dict[str, int]] = {d: dict.fromkeys(TURN_ROLES, 0) for d in window}
        with self.store.read() as session:
            for value, role, count in session.execute(stmt):
                counts.setdefault(_as_date(value), dict.fromkeys(TURN_ROLES, 0))[role] = count
        return [DayCount(d, sum(counts[d].values()), **counts[d]) for d in window]

    def intent_distribution(self, days: int = 30, limit: int | None = None) -> list[IntentCount]:
        """Predicted intents of customer turns in the window, most frequent first (ties by name)."""
        start, _ = self._window(days)
        count = func.count().label("n")
        stmt = (
            select(Turn.intent, count)
            .where(Turn.role == "customer", Turn.intent.is_not(None), Turn.created_at >= start)
            .group_by(Turn.intent)
            .order_by(count.desc(), Turn.intent)
        )
        with self.store.read() as session:
            rows = session.execute(stmt).all()
        total = sum(n for _, n in rows)
        rows = rows[:limit] if limit is not None else rows
        return [IntentCount(intent, n, n / total) for intent, n in rows]

    def fallback_rate(self, days: int = 30) -> float:
        """Share of turns carrying a decision whose decision was 'fallback' (0.0 when there are none)."""
        start, _ = self._window(days)
        stmt = select(
            func.count(),
            func.coalesce(func.sum(case((Turn.decision == "fallback", 1), else_=0)), 0),
        ).where(Turn.decision.is_not(None), Turn.created_at >= start)
        with self.store.read() as session:
            total, fallbacks = session.execute(stmt).one()
        return fallbacks / total if total else 0.0

    def handoff_rate(self, days: int = 30) -> float:
        """Share of conversations started in the window that asked for a human (had any handoff ticket).

        Only conversations with at least one customer turn count: a chat widget opened and left empty is
        not a conversation the bot could have handled.
        """
        start, _ = self._window(days)
        spoke = exists().where(Turn.conversation_id == Conversation.id, Turn.role == "customer")
        handed = exists().where(HandoffTicket.conversation_id == Conversation.id)
        stmt = select(
            func.count(),
            func.coalesce(func.sum(case((handed, 1), else_=0)), 0),
        ).where(Conversation.created_at >= start, spoke)
        with self.store.read() as session:
            total, handoffs = session.execute(stmt).one()
        return handoffs / total if total else 0.0

    def sentiment_trend(self, days: int = 30) -> list[SentimentDay]:
        """Per UTC day of the window (oldest first, empty days included): customer turns per sentiment label
        and their mean `sentiment_score`."""
        start, window = self._window(days)
        day = _day(Turn.created_at)
        stmt = (
            select(
                day,
                Turn.sentiment,
                func.count(),
                func.count(Turn.sentiment_score),
                func.sum(Turn.sentiment_score),
            )
            .where(Turn.role == "customer", Turn.sentiment.is_not(None), Turn.created_at >= start)
            .group_by(day, Turn.sentiment)
        )
        counts: dict[date, dict[str, int]] = {d: {} for d in window}
        scores: dict[date, list[float]] = {d: [0.0, 0.0] for d in window}  # [sum, how many]
        with self.store.read() as session:
            for value, label, n, scored, total in session.execute(stmt):
                d = _as_date(value)
                counts.setdefault(d, {})[label] = n
                acc = scores.setdefault(d, [0.0, 0.0])
                acc[0] += float(total or 0.0)
                acc[1] += scored
        return [
            SentimentDay(d, counts[d], scores[d][0] / scores[d][1] if scores[d][1] else None) for d in window
        ]

    def topic_trend(self, days: int = 30, top: int = 5) -> TopicTrend:
        """The ``top`` topics of the window (most customer turns first, ties by name) and, per UTC day of
        the window (oldest first, empty days included), their customer turns and those of all other topics."""
        check_positive("top", top)
        start, window = self._window(days)
        day = _day(Turn.created_at)
        spoken = (Turn.role == "customer", Turn.intent.is_not(None), Turn.created_at >= start)
        count = func.count().label("n")
        ranked = (
            select(Turn.intent, count)
            .where(*spoken)
            .group_by(Turn.intent)
            .order_by(count.desc(), Turn.intent)
        )
        per_topic = select(day, Turn.intent, func.count()).where(*spoken).group_by(day, Turn.intent)
        per_day = select(day, func.count()).where(*spoken).group_by(day)
        counts: dict[date, dict[str, int]] = {d: {} for d in window}
        totals: dict[date, int] = dict.fromkeys(window, 0)
        with self.store.read() as session:
            topics = [intent for intent, _ in session.execute(ranked.limit(top))]
            if topics:
                for value, intent, n in session.execute(per_topic.where(Turn.intent.in_(topics))):
                    counts.setdefault(_as_date(value), {})[intent] = n
                for value, n in session.execute(per_day):
                    totals[_as_date(value)] = n
        trend = []
        for d in window:
            shown = {topic: counts[d].get(topic, 0) for topic in topics}
            # from two statements: a turn committed between them must not make "other" negative
            trend.append(TopicDay(d, shown, max(0, totals[d] - sum(shown.values()))))
        return TopicTrend(topics, trend)

    def sentiment_by_topic(self, days: int = 30, limit: int | None = None) -> list[TopicSentiment]:
        """Per topic of the window's customer turns that carry a sentiment: turns per sentiment label and
        their mean ``sentiment_score``; topics with the most such turns first (ties by name)."""
        start, _ = self._window(days)
        stmt = (
            select(
                Turn.intent,
                Turn.sentiment,
                func.count(),
                func.count(Turn.sentiment_score),
                func.sum(Turn.sentiment_score),
            )
            .where(
                Turn.role == "customer",
                Turn.intent.is_not(None),
                Turn.sentiment.is_not(None),
                Turn.created_at >= start,
            )
            .group_by(Turn.intent, Turn.sentiment)
        )
        counts: dict[str, dict[str, int]] = {}
        scores: dict[str, list[float]] = {}  # [sum, how many]
        with self.store.read() as session:
            for intent, label, n, scored, total in session.execute(stmt):
                counts.setdefault(intent, {})[label] = n
                acc = scores.setdefault(intent, [0.0, 0.0])
                acc[0] += float(total or 0.0)
                acc[1] += scored
        found = [
            TopicSentiment(
                intent,
                sum(labels.values()),
                labels,
                scores[intent][0] / scores[intent][1] if scores[intent][1] else None,
            )
            for intent, labels in counts.items()
        ]
        found.sort(key=lambda t: (-t.total, t.intent))
        return found[:limit] if limit is not None else found
