"""Storage of the chat runtime: conversations, turns, handoffs, reviews, feedback, users, analytics.

    from kefu.store import open_repository
    repo = open_repository()                 # ./kefu.db, or $KEFU_DATABASE_URL (e.g. postgresql://...)
    conv = repo.get_or_create_conversation(None)
    repo.add_turn(conv.session_id, "customer", "where is my order", intent="order_status", confidence=0.93)

SQLite by default, PostgreSQL when the URL says so; one schema, migrated with Alembic (`Store.migrate`).
"""

from kefu.store.db import Store
from kefu.store.errors import (
    ConflictError,
    DatabaseUnavailable,
    InvalidValueError,
    NotFoundError,
    StoreError,
)
from kefu.store.records import (
    ConversationRecord,
    DayCount,
    FeedbackRecord,
    IntentCount,
    ReviewRecord,
    SentimentDay,
    TicketRecord,
    TopicDay,
    TopicSentiment,
    TopicTrend,
    TurnRecord,
    UnansweredTurn,
    UserRecord,
)
from kefu.store.repository import Repository, open_repository

__all__ = [
    "ConflictError",
    "ConversationRecord",
    "DatabaseUnavailable",
    "DayCount",
    "FeedbackRecord",
    "IntentCount",
    "InvalidValueError",
    "NotFoundError",
    "Repository",
    "ReviewRecord",
    "SentimentDay",
    "Store",
    "StoreError",
    "TicketRecord",
    "TopicDay",
    "TopicSentiment",
    "TopicTrend",
    "TurnRecord",
    "UnansweredTurn",
    "UserRecord",
    "open_repository",
]
