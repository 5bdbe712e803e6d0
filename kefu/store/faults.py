"""Which database errors mean "busy or unreachable", and what the store saw of them lately.

`classify` is the one place that decides: SQLite's "database is locked" (another process held the write
lock past busy_timeout), a disk that fails or fills, a PostgreSQL connection refused, dropped or cancelled
(psycopg's OperationalError and InterfaceError, or SQLAlchemy's disconnect detection). Every such error
becomes a `DatabaseUnavailable` whose reason is the driver's first line: SQLAlchemy's own text appends
the SQL and its parameters, and neither may reach a log or an answer.

`FaultLog` remembers the last fault until a write transaction succeeds (or `WINDOW_S` pass), so /healthz
can say that writes are failing while reads, which WAL lets through a held write lock, still work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kefu.store.errors import DatabaseUnavailable

WINDOW_S = 10.0  # how long a fault keeps the database "failing" in /healthz when nothing succeeds since
# SQLite reports its environment's failures as OperationalError, like its SQL errors: tell them by message
SQLITE_FAULTS = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
    "attempt to write a readonly database",
)
# the kinds counted in /metrics
BUSY, DROPPED, UNREACHABLE, FAILED = "busy", "dropped", "unreachable", "failed"


def first_line(error: BaseException) -> str:
    """The exception's message up to its first line break (the type's name when it has none)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def classify(
    original: BaseException,
    dbapi: Any,
    *,
    sqlite: bool,
    connecting: bool,
    disconnect: bool,
    in_statement: bool,
    where: str,
) -> DatabaseUnavailable | None:
    """``original`` (a DBAPI error of module ``dbapi``) as a `DatabaseUnavailable`, or None when it is not a
    fault of the database's availability (an SQL error, a constraint: those stay what they are).

    ``sqlite``: the database is SQLite; ``connecting``: raised while opening a connection; ``disconnect``:
    SQLAlchemy found the connection dead; ``in_statement``: raised by a statement, not by COMMIT or
    ROLLBACK, so a transaction that lost its connection then certainly did not commit and may run again
    (a failed COMMIT may have committed). ``where`` names the database (its URL without password) in the
    operator's message.
    """
    detail = first_line(original)
    reason = f"{type(original).__name__} ({detail})"
    if connecting:
        return DatabaseUnavailable(
            f"cannot connect to database {where}: {detail}", reason=reason, retry_after=5, kind=UNREACHABLE
        )
    if not isinstance(original, dbapi.Error):
        return None
    if disconnect:
        return DatabaseUnavailable(
            f"lost the connection to database {where}: {detail}",
            reason=reason,
            retryable=in_statement,
            kind=DROPPED,
        )
    if sqlite and not detail.lower().startswith(SQLITE_FAULTS):
        return None
    if isinstance(original, dbapi.OperationalError | dbapi.InterfaceError):
        kind = BUSY if "locked" in detail else FAILED
        return DatabaseUnavailable(
            f"database {where} unavailable: {detail}",
            reason=reason,
            retry_after=1 if kind == BUSY else 2,
            kind=kind,
        )
    return None


class FaultLog:
    """The last database fault a store saw (until a write succeeds), and listeners that count them."""

    def __init__(self) -> None:
        # a bare float: a race between a fault and a success can only shift the answer by one request
        self._failed_at: float | None = None
        self._on_fault: list[Callable[[str], None]] = []
        self._on_retry: list[Callable[[], None]] = []

    def listen(self, on_fault: Callable[[str], None], on_retry: Callable[[], None]) -> None:
        """Call ``on_fault(kind)`` for every fault (kinds: busy, dropped, unreachable, failed) and
        ``on_retry()`` for every transaction run again (the server counts them in /metrics)."""
        self._on_fault.append(on_fault)
        self._on_retry.append(on_retry)

    def failed(self, error: DatabaseUnavailable) -> None:
        self._failed_at = time.monotonic()
        for listener in self._on_fault:
            listener(error.kind)

    def retried(self) -> None:
        for listener in self._on_retry:
            listener()

    def succeeded(self) -> None:
        """A write transaction committed: whatever failed before works now."""
        self._failed_at = None

    def recent(self) -> bool:
        """Whether a fault happened within the last `WINDOW_S` seconds, with no write succeeding since."""
        failed_at = self._failed_at
        return failed_at is not None and time.monotonic() - failed_at < WINDOW_S
