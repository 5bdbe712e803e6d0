"""What the repository returns: frozen dataclasses, snapshots of rows taken inside the transaction.

Why not the ORM objects: a detached ORM object raises on any relationship it did not load, and mutating
one silently does nothing. A frozen dataclass is plain data, safe to share between threads, and
Pydantic serialises it directly (`TypeAdapter(TurnRecord)` or a model with `from_attributes=True`).
`UserRecord` deliberately has no password hash, so it can be returned by an API as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kefu.store.models import Conversation, Feedback, HandoffTicket, Review, Turn, User


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    role: str
    created_at: datetime
    token_version: int = 0  # the version tokens issued now carry (see kefu.server.security)

    @classmethod
    def of(cls, row: User) -> UserRecord:
        return cls(row.id, row.username, row.role, row.created_at, row.token_version)


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    session_id: str
    customer_id: str | None
    channel: str
    language: str | None
    status: str
    assigned_agent_id: int | None
    state: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    access_key_hash: str | None = None  # SHA-256 of the key its client holds; None before keys existed

    @classmethod
    def of(cls, row: Conversation) -> ConversationRecord:
        return cls(
            row.id,
            row.session_id,
            row.customer_id,
            row.channel,
            row.language,
            row.status,
            row.assigned_agent_id,
            dict(row.state or {}),
            row.created_at,
            row.updated_at,
            row.access_key_hash,
        )


@dataclass(frozen=True, slots=True)
class TurnRecord:
    id: int
    session_id: str
    seq: int
    role: str
    text: str
    created_at: datetime
    intent: str | None = None
    confidence: float | None = None
    oos: bool | None = None
    entities: list[Any] | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    decision: str | None = None
    sources: list[Any] | None = None
    buttons: list[Any] | None = None
    model_version: str | None = None
    agent_id: int | None = None
    client_message_id: str | None = None  # the id the client sent with its message, to resend it safely

    @classmethod
    def of(cls, row: Turn, session_id: str) -> TurnRecord:
        return cls(
            id=row.id,
            session_id=session_id,
            seq=row.seq,
            role=row.role,
            text=row.text,
            created_at=row.created_at,
            intent=row.intent,
            confidence=row.confidence,
            oos=row.oos,
            entities=row.entities,
            sentiment=row.sentiment,
            sentiment_score=row.sentiment_score,
            decision=row.decision,
            sources=row.sources,
            buttons=row.buttons,
            model_version=row.model_version,
            agent_id=row.agent_id,
            client_message_id=row.client_message_id,
        )


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    session_id: str
    reason: str
    status: str
    agent_id: int | None
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None = None

    @classmethod
    def of(cls, row: HandoffTicket, session_id: str) -> TicketRecord:
        return cls(
            row.id,
            session_id,
            row.reason,
            row.status,
            row.agent_id,
            row.created_at,
            row.claimed_at,
            row.closed_at,
            row.close_reason,
        )


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A review with the turn it is about, so a reviewer sees the text and the model's guess."""

    id: int
    turn_id: int
    session_id: str
    text: str
    predicted_intent: str | None
    confidence: float | None
    reason: str
    status: str
    corrected_intent: str | None
    reviewer_id: int | None
    created_at: datetime
    reviewed_at: datetime | None

    @classmethod
    def of(cls, row: Review, turn: Turn, session_id: str) -> ReviewRecord:
        return cls(
            row.id,
            row.turn_id,
            session_id,
            turn.text,
            turn.intent,
            turn.confidence,
            row.reason,
            row.status,
            row.corrected_intent,
            row.reviewer_id,
            row.created_at,
            row.reviewed_at,
        )


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: int
    turn_id: int
    rating: int
    comment: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Feedback) -> FeedbackRecord:
        return cls(row.id, row.turn_id, row.rating, row.comment, row.created_at)


# ------------------------------------------------------------------------------------------- analytics


@dataclass(frozen=True, slots=True)
class DayCount:
    """Turns on one UTC day, in all and by role."""

    day: date
    total: int = 0
    customer: int = 0
    bot: int = 0
    agent: int = 0


@dataclass(frozen=True, slots=True)
class IntentCount:
    intent: str
    count: int
    share: float  # of all customer turns with an intent in the window


@dataclass(frozen=True, slots=True)
class SentimentDay:
    """Customer-turn sentiment on one UTC day: count per label and the mean score (None without scores)."""

    day: date
    counts: dict[str, int] = field(default_factory=dict)
    mean_score: float | None = None


@dataclass(frozen=True, slots=True)
class TopicDay:
    """Customer turns on one UTC day per topic (predicted intent) of the window's top topics, and the rest:
    ``other`` counts the day's turns with any other intent."""

    day: date
    counts: dict[str, int] = field(default_factory=dict)
    other: int = 0


@dataclass(frozen=True, slots=True)
class TopicTrend:
    """The window's most frequent topics (most frequent first) and their counts per day, oldest first."""

    topics: list[str]
    days: list[TopicDay]


@dataclass(frozen=True, slots=True)
class TopicSentiment:
    """Sentiment of one topic's customer turns in the window: turns per sentiment label (``negative``,
    ``neutral``, ``positive`` as the model names them), and the mean score (None without scores)."""

    intent: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    mean_score: float | None = None


@dataclass(frozen=True, slots=True)
class UnansweredTurn:
    """A customer turn the bot could not answer (fallback or out of scope) still waiting in the review
    queue."""

    turn_id: int
    session_id: str
    text: str
    intent: str | None
    created_at: datetime
