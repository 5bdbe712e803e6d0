"""Initial schema: users, conversations, turns, handoff tickets, reviews, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written to match `kefu/store/models.py` at this revision; `tests/store/test_migrations.py` checks that
they agree. Types are spelled out here (not imported from the models) so this file keeps creating the
same tables when the models move on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    """A timezone-aware timestamp column (TIMESTAMP WITH TIME ZONE on PostgreSQL, DATETIME on SQLite)."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        timestamp("created_at"),
        sa.CheckConstraint("role IN ('admin', 'agent')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_agent_id", sa.Integer(), nullable=True),
        sa.Column("state", JSON, nullable=False),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.CheckConstraint(
            "status IN ('bot', 'handoff', 'human', 'closed')", name=op.f("ck_conversations_status")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_agent_id"],
            ["users.id"],
            name=op.f("fk_conversations_assigned_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("session_id", name=op.f("uq_conversations_session_id")),
    )
    op.create_index("ix_conversations_updated_at", "conversations", ["updated_at"])
    op.create_index("ix_conversations_status_updated_at", "conversations", ["status", "updated_at"])

    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        timestamp("created_at"),
        timestamp("claimed_at", nullable=True),
        timestamp("closed_at", nullable=True),
        sa.CheckConstraint("status IN ('open', 'claimed', 'closed')", name=op.f("ck_handoff_tickets_status")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_handoff_tickets_agent_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_handoff_tickets_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_tickets")),
    )
    op.create_index(op.f("ix_handoff_tickets_conversation_id"), "handoff_tickets", ["conversation_id"])
    op.create_index("ix_handoff_tickets_status_created_at", "handoff_tickets", ["status", "created_at"])

    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("oos", sa.Boolean(), nullable=True),
        sa.Column("entities", JSON, nullable=True),
        sa.Column("sentiment", sa.String(16), nullable=True),
        sa.Column("sentiment_score", sa.Float(), nullable=True),
        sa.Column("decision", sa.String(32), nullable=True),
        sa.Column("sources", JSON, nullable=True),
        sa.Column("buttons", JSON, nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint("role IN ('customer', 'bot', 'agent')", name=op.f("ck_turns_role")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_turns_agent_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_turns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("conversation_id", "seq", name=op.f("uq_turns_conversation_id_seq")),
    )
    op.create_index("ix_turns_created_at", "turns", ["created_at"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint("rating IN (1, -1)", name=op.f("ck_feedback_rating")),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name=op.f("fk_feedback_turn_id_turns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_turn_id"), "feedback", ["turn_id"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("corrected_intent", sa.String(128), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        timestamp("created_at"),
        timestamp("reviewed_at", nullable=True),
        sa.CheckConstraint("reason IN ('low_confidence', 'fallback', 'oos')", name=op.f("ck_reviews_reason")),
        sa.CheckConstraint("status IN ('pending', 'labelled', 'dismissed')", name=op.f("ck_reviews_status")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_reviews_reviewer_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name=op.f("fk_reviews_turn_id_turns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_turn_id"), "reviews", ["turn_id"])
    op.create_index("ix_reviews_status_created_at", "reviews", ["status", "created_at"])


def downgrade() -> None:
    # Dropping a table drops its indexes; children first so no foreign key is left dangling.
    for table in ("reviews", "feedback", "turns", "handoff_tickets", "conversations", "users"):
        op.drop_table(table)
