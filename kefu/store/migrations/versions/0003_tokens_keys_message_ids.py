"""Token versions, conversation access keys and client message ids.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

- ``users.token_version``: every token carries the version it was issued under; signing out and changing
  the password raise it, so tokens issued before stop working.
- ``conversations.access_key_hash``: the SHA-256 of the secret handed to the client that started the
  conversation; reading the conversation back needs the secret.
- ``turns.client_message_id``: the id a client may send with a message, so that a resend after a failed
  request is answered from what was recorded instead of making a second turn.

Plain ``add_column`` on SQLite, never batch mode (see 0002): recreating ``conversations`` or ``turns`` with
foreign keys on would cascade-delete their children.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("token_version", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )
    op.add_column("conversations", sa.Column("access_key_hash", sa.String(64), nullable=True))
    op.add_column("turns", sa.Column("client_message_id", sa.String(64), nullable=True))
    op.create_index(
        op.f("ix_turns_conversation_id_client_message_id"),
        "turns",
        ["conversation_id", "client_message_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_turns_conversation_id_client_message_id"), table_name="turns")
    op.drop_column("turns", "client_message_id")
    op.drop_column("conversations", "access_key_hash")
    op.drop_column("users", "token_version")
