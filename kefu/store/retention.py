"""Deleting conversations: on request (a customer's right to erasure) and by age (retention policy).

Turns, handoff tickets, reviews and feedback go with their conversation through ON DELETE CASCADE
foreign keys (enforced on SQLite because `Store` turns `foreign_keys` on for every connection).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from kefu.store.base import RepositoryBase, check_positive
from kefu.store.models import Conversation


class RetentionMixin(RepositoryBase):
    """Deletion operations."""

    def delete_conversation(self, session_id: str) -> bool:
        """Delete the conversation and everything attached to it; False if there was none."""
        with self.store.write() as session:
            result = session.execute(
                delete(Conversation).where(Conversation.session_id == session_id),
                execution_options={"synchronize_session": False},
            )
            return result.rowcount > 0

    def purge_older_than(self, days: int) -> int:
        """Delete conversations inactive (no update) for more than `days` days; returns how many."""
        check_positive("days", days)
        cutoff = self.clock() - timedelta(days=days)
        with self.store.write() as session:
            result = session.execute(
                delete(Conversation).where(Conversation.updated_at < cutoff),
                execution_options={"synchronize_session": False},
            )
            return result.rowcount
