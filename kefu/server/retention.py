"""The retention job: while the server runs, conversations inactive for ``privacy.retention_days`` are
deleted, once at start and then every :data:`PURGE_INTERVAL_SECONDS`.

Every worker of ``kefu serve --workers N`` runs its own job; that is harmless, because a purge is one
DELETE statement (:meth:`Repository.purge_older_than`). The log says how many conversations went, never
what was in them.
"""

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from kefu.store import Repository, StoreError

log = logging.getLogger("kefu.server")

PURGE_INTERVAL_SECONDS = 3600.0
STOP_TIMEOUT_SECONDS = 10.0  # a purge under way at shutdown gets this long to finish


class RetentionJob:
    """A daemon thread purging ``repo`` of conversations older than ``days``: start(), later stop()."""

    def __init__(self, repo: Repository, days: int, interval: float | None = None) -> None:
        self.repo = repo
        self.days = days
        # read when the job is made, not imported, so tests can shorten the module's interval
        self.interval = PURGE_INTERVAL_SECONDS if interval is None else interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kefu-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait for it (a purge under way finishes first)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT_SECONDS)

    def purge(self) -> int | None:
        """One purge; how many conversations it deleted, or None when the database failed (logged)."""
        try:
            deleted = self.repo.purge_older_than(self.days)
        except (StoreError, SQLAlchemyError) as error:
            # the next run tries again; a database that is down must not end the job
            log.warning("retention: purge failed: %s", str(error).splitlines()[0])
            return None
        log.info("retention: deleted %d conversations inactive for more than %d days", deleted, self.days)
        return deleted

    def _run(self) -> None:
        self.purge()
        while not self._stopping.wait(self.interval):
            self.purge()


def retention_lifespan(
    repo: Repository, days: int | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: a :class:`RetentionJob` from startup to shutdown when ``days`` is set."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if days is None:
            yield
            return
        job = RetentionJob(repo, days)
        job.start()
        try:
            yield
        finally:
            job.stop()

    return lifespan
