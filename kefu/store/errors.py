"""Errors of the storage layer, all under `kefu.errors.KefuError` so the CLI prints them as one line.

StoreError
 +-- DatabaseUnavailable  the database is busy (SQLite's write lock held too long) or unreachable (a
 |                        connection refused or dropped): try again shortly
 +-- NotFoundError      an unknown session id, ticket, review, turn or user
 +-- ConflictError      a duplicate username, or a ticket already claimed by another agent / closed
 +-- InvalidValueError  a role, status or rating outside its allowed values, a text with a NUL character
                        (also a ValueError)

``str(error)`` is for the operator (the CLI, the log) and may name the database's URL or file; ``public``
is what an HTTP client may read, and never does.
"""

from kefu.errors import KefuError


class StoreError(KefuError):
    """The database cannot be reached or used; the message names the URL without its password."""

    def __init__(self, message: str, *, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class DatabaseUnavailable(StoreError):
    """The database is busy or unreachable: a passing condition, not a fault of the request.

    ``reason`` is the driver's account in one line, ``OperationalError (database is locked)``, without SQL
    or parameters; ``kind`` one of busy, dropped, unreachable, failed (counted in /metrics);
    ``retry_after`` the seconds a client should wait; ``retryable`` is true when the
    connection dropped while a statement ran, before any COMMIT was sent, so the transaction certainly did
    not happen and running it again is safe (see :meth:`kefu.store.Store.retrying`).
    """

    PUBLIC = "the database is busy or unreachable; try again shortly"

    def __init__(
        self, message: str, *, reason: str, kind: str, retry_after: int = 2, retryable: bool = False
    ) -> None:
        super().__init__(message, public=self.PUBLIC)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        self.retryable = retryable


class NotFoundError(StoreError):
    """The requested row does not exist."""


class ConflictError(StoreError):
    """The operation clashes with the current state of the database."""


class InvalidValueError(StoreError, ValueError):
    """An argument is outside the values the schema allows."""
