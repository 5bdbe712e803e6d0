"""Deleting conversations: on request (a customer's right to erasure) and by age (retention policy).

Turns, handoff tickets, reviews and feedback go with their conversation through ON DELETE CASCADE
foreign keys (enforced on SQLite because `Store` turns `foreign_keys` on for every connection). This is
the database only: `kefu.runtime.Erasure` also removes the deleted reviews from a project's
data/reviewed.yml, and is what the server and the CLI use.

On SQLite a deletion leaves no byte of what it deleted in the files: `Store` turns `secure_delete` on (freed
space is zeroed), and after the deletion commits the WAL, which still holds the rows as they were written,
is checkpointed into the database file and truncated.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, text

from kefu.store.base import RepositoryBase, check_customer_id, check_positive
from kefu.store.errors import StoreError
from kefu.store.models import Conversation


class RetentionMixin(RepositoryBase):
    """Deletion operations."""

    def delete_conversation(self, session_id: str) -> bool:
        """Delete the conversation and everything attached to it; False if there was none."""
        return self._delete_conversations(Conversation.session_id == session_id) > 0

    def erase_customer(self, customer_id: str) -> int:
        """Delete every conversation of the customer (`customer_id` as the chat API was given it) and
        everything attached to them; returns how many conversations."""
        check_customer_id(customer_id)
        return self._delete_conversations(Conversation.customer_id == customer_id)

    def purge_older_than(self, days: int) -> int:
        """Delete conversations inactive (no update) for more than `days` days; returns how many.

        Several server workers purging at once is harmless: it is one DELETE statement, and a row one of
        them deleted is skipped by the others (on SQLite they take turns on the write lock).
        """
        check_positive("days", days)
        cutoff = self.clock() - timedelta(days=days)
        return self._delete_conversations(Conversation.updated_at < cutoff)

    def _delete_conversations(self, condition: ColumnElement[bool]) -> int:
        with self.store.write() as session:
            result = session.execute(
                delete(Conversation).where(condition), execution_options={"synchronize_session": False}
            )
            deleted = result.rowcount
        if self.store.is_sqlite:  # also when nothing went now: a retry after a busy checkpoint
            self._truncate_wal()
        return deleted

    def _truncate_wal(self) -> None:
        # Outside any transaction (a checkpoint cannot run inside one). SQLite waits up to the busy timeout
        # for readers still on older WAL frames, but answers busy at once while another connection is
        # checkpointing (several workers purging together): so ask again until the busy timeout is spent.
        deadline = time.monotonic() + self.store.busy_timeout_ms / 1000
        while True:
            with self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                busy, _, _ = connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
            if not busy:
                return
            if time.monotonic() >= deadline:
                raise StoreError("the deletion committed, but readers kept the database's WAL file from "
                                 "being emptied of it; try again")
            time.sleep(0.05)
