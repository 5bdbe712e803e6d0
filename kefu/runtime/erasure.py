"""Erasure and retention that reach every copy of a conversation: its rows, and the training examples
``data/reviewed.yml`` made of its reviewed turns.

The repository's own deletions (`Repository.delete_conversation`, ...) clear the database only; the
server, ``kefu erase`` and ``kefu purge`` go through :class:`Erasure`, whose methods take the same
arguments and return the same counts. The reviewed file exists only while a training runs
(:mod:`kefu.runtime.reviewed`), so another instance keeps none to reach; the one here, if a training is
under way, is rewritten at once. A model trained before an erasure keeps what it learned until the next
training, which the erasure does not start (``kefu serve`` retrains at start when the reviews changed).
"""

from kefu.project import Project
from kefu.runtime.reviewed import refresh_reviewed
from kefu.store import Repository


class Erasure:
    """Deletes conversations from ``repo``, then regenerates the project's reviewed examples, if a training
    has them on disk, from the reviews that remain, so no text of a deleted conversation stays in them."""

    def __init__(self, repo: Repository, project: Project) -> None:
        self.repo = repo
        self.project = project

    def delete_conversation(self, session_id: str) -> bool:
        """Delete one conversation and what came of it; False if there was none."""
        deleted = self.repo.delete_conversation(session_id)
        self._rewrite_derived_files()
        return deleted

    def erase_customer(self, customer_id: str) -> int:
        """Delete every conversation of the customer and what came of them; returns how many."""
        deleted = self.repo.erase_customer(customer_id)
        self._rewrite_derived_files()
        return deleted

    def purge_older_than(self, days: int) -> int:
        """Delete conversations inactive for more than ``days`` days and what came of them; how many."""
        deleted = self.repo.purge_older_than(days)
        self._rewrite_derived_files()
        return deleted

    def _rewrite_derived_files(self) -> None:
        # also when nothing was deleted now: it heals a file left behind by a store-level erasure, and
        # writes nothing when the file already matches the database
        refresh_reviewed(self.repo, self.project)
