"""Why a handoff ticket was closed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

- ``handoff_tickets.close_reason``: 'customer_withdrew' (the customer no longer needed a person),
  'timeout' (nobody claimed it in time: the bot answered again), 'released' (an agent handed the
  conversation back) or 'closed' (the conversation was closed); NULL while the ticket is open or claimed,
  and for tickets closed before this revision.

Plain ``add_column`` on SQLite, never batch mode (see 0002).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("handoff_tickets", sa.Column("close_reason", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("handoff_tickets", "close_reason")
