"""The SQLAlchemy schema of the chat runtime: users, conversations, turns, handoff tickets, reviews, feedback.

The migrations in `kefu/store/migrations/versions` must create exactly this schema; a test compares them
with Alembic's `compare_metadata` on SQLite and PostgreSQL. Change both together.

Closed vocabularies (roles, statuses) are CHECK constraints as well as Python tuples, so a row written by
hand or by an older version cannot smuggle in a value the code does not know. Open ones (handoff reasons,
decisions, intents) are plain strings.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kefu.conversation import CONVERSATION_STATUSES
from kefu.store.columns import JSONType, UTCDateTime, utcnow

USER_ROLES = ("admin", "agent")
TURN_ROLES = ("customer", "bot", "agent")
TICKET_STATUSES = ("open", "claimed", "closed")
REVIEW_REASONS = ("low_confidence", "fallback", "oos")
REVIEW_STATUSES = ("pending", "labelled", "dismissed")
RATINGS = (1, -1)
CUSTOMER_ID_MAX = 128

# Deterministic constraint names: SQLite's batch migrations recreate tables and can only drop or alter a
# constraint that has a name, and PostgreSQL and SQLite then agree on the names.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: tuple[str, ...] | tuple[int, ...]) -> str:
    """SQL for `column IN (...)`, written out so the same text works on both dialects."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """An admin or support agent who logs into the dashboard."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Raised by signing out and by a password change: tokens carry the version they were issued under.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Conversation(Base):
    """One chat session; `session_id` is the opaque id the public API hands to the client."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_one_of("status", CONVERSATION_STATUSES), name="status"),
        Index("ix_conversations_updated_at", "updated_at"),
        Index("ix_conversations_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(32), unique=True)
    # The site's own id of a signed-in customer (never personal data itself): what erasure requests name.
    customer_id: Mapped[str | None] = mapped_column(String(CUSTOMER_ID_MAX), index=True)
    channel: Mapped[str] = mapped_column(String(32), default="web")
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="bot")
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # SHA-256 (hex) of the secret the client that started the conversation got: reading it back needs it.
    access_key_hash: Mapped[str | None] = mapped_column(String(64))
    # Dialogue state (slots, active form, fallback count, last intents ...), owned by the dialogue engine.
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # passive_deletes: the database's ON DELETE CASCADE removes children, the ORM need not load them.
    turns: Mapped[list["Turn"]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True, order_by="Turn.seq"
    )
    tickets: Mapped[list["HandoffTicket"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Turn(Base):
    """One message in a conversation, with what the NLU and the dialogue made of it."""

    __tablename__ = "turns"
    __table_args__ = (
        # Also the index for reading a conversation's turns in order.
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint(_one_of("role", TURN_ROLES), name="role"),
        Index("ix_turns_created_at", "created_at"),
        # A client's own id for a message: a resend finds the turn it already made (NULLs never clash).
        Index("ix_turns_conversation_id_client_message_id", "conversation_id", "client_message_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)  # already redacted by the caller
    intent: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float | None] = mapped_column(Float)
    oos: Mapped[bool | None]
    entities: Mapped[list[Any] | None] = mapped_column(JSONType)
    sentiment: Mapped[str | None] = mapped_column(String(16))  # label, e.g. 'negative'
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    decision: Mapped[str | None] = mapped_column(String(32))
    sources: Mapped[list[Any] | None] = mapped_column(JSONType)
    buttons: Mapped[list[Any] | None] = mapped_column(JSONType)
    model_version: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")
    reviews: Mapped[list["Review"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    feedback: Mapped[list["Feedback"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class HandoffTicket(Base):
    """A request for a human agent, from open to claimed to closed."""

    __tablename__ = "handoff_tickets"
    __table_args__ = (
        CheckConstraint(_one_of("status", TICKET_STATUSES), name="status"),
        Index("ix_handoff_tickets_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # why it was closed: 'customer_withdrew', 'timeout', 'released' (by an agent) or 'closed' (with the
    # conversation); an open vocabulary like `reason`
    close_reason: Mapped[str | None] = mapped_column(String(32))


class Review(Base):
    """A low-confidence, fallback or out-of-scope turn queued for a human to confirm or correct its intent."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_one_of("reason", REVIEW_REASONS), name="reason"),
        CheckConstraint(_one_of("status", REVIEW_STATUSES), name="status"),
        Index("ix_reviews_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    corrected_intent: Mapped[str | None] = mapped_column(String(128))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Feedback(Base):
    """A customer's thumbs up (+1) or down (-1) on a bot turn."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint(_one_of("rating", RATINGS), name="rating"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
