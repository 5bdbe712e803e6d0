"""The retention job: while the server runs, conversations inactive for ``privacy.retention_days`` are
deleted with what came of them (:class:`kefu.runtime.Erasure`), once at start and then every
:data:`PURGE_INTERVAL_SECONDS`.

Every worker of ``kefu serve --workers N`` runs its own job; that is harmless, because a purge is one
DELETE statement (:meth:`Repository.purge_older_than`) and a rewrite of ``data/reviewed.yml`` under a
lock. The log says how many conversations went, never what was in them.
"""

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from kefu.runtime import Erasure
from kefu.store import StoreError

log = logging.getLogger("kefu.server")

PURGE_INTERVAL_SECONDS = 3600.0
STOP_TIMEOUT_SECONDS = 10.0  # a purge under way at shutdown gets this long to finish


class RetentionJob:
    """A daemon thread purging conversations older than ``days``: start(), later stop()."""

    def __init__(self, erasure: Erasure, days: int, interval: float | None = None) -> None:
        self.erasure = erasure
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
        """One purge; how many conversations it deleted, or None when the database or the project's files
        failed (logged)."""
        try:
            deleted = self.erasure.purge_older_than(self.days)
        except (StoreError, SQLAlchemyError, OSError) as error:
            # the next run tries again; a database that is down or a full disk must not end the job
            log.warning("retention: purge failed: %s", str(error).splitlines()[0])
            return None
        log.info("retention: deleted %d conversations inactive for more than %d days", deleted, self.days)
        return deleted

    def _run(self) -> None:
        self.purge()
        while not self._stopping.wait(self.interval):
            self.purge()


def retention_lifespan(
    erasure: Erasure, days: int | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: a :class:`RetentionJob` from startup to shutdown when ``days`` is set."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if days is None:
            yield
            return
        job = RetentionJob(erasure, days)
        job.start()
        try:
            yield
        finally:
            job.stop()

    return lifespan
