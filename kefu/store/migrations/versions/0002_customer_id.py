"""Customer id on conversations: the site's id of a signed-in customer, for erasure requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

No batch mode on SQLite, on purpose: a batch operation that recreates `conversations` drops the old
table, and with foreign keys on (as `Store` keeps them) SQLite deletes its rows first, cascading to every
turn, ticket, review and feedback. Adding a nullable column and dropping a plain one (SQLite 3.35+) are
both done in place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("customer_id", sa.String(128), nullable=True))
    op.create_index(op.f("ix_conversations_customer_id"), "conversations", ["customer_id"])


def downgrade() -> None:
    # SQLite cannot drop an indexed column: the index goes first
    op.drop_index(op.f("ix_conversations_customer_id"), table_name="conversations")
    op.drop_column("conversations", "customer_id")
